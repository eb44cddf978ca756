//! Trust, tried as an attacker and as a crowd would: the web site (POST + Origin + CSRF,
//! security headers, identity only from trusted proxies or signed, no paths in errors,
//! a health check that reads the warehouse), length limits, the LLM circuit breaker and
//! the per-answer deadline, and the shared state database (CLI asks while `serve` is
//! loaded, PDFs after a restart).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use cortex::answer::Status;
use cortex::config::{Config, LlmConfig, Secret};
use cortex::service::Request;
use cortex::web::security;
use reqwest::header::HeaderMap;

use crate::helpers::{cortex_bin, demo_today, demo_warehouse, fixture, project_dir};

pub(crate) struct Site {
    pub url: String,
    pub server: cortex::server::Server,
    _state: Option<tempfile::TempDir>,
    pub(crate) http: reqwest::Client,
}

pub(crate) fn demo_config(state: &tempfile::TempDir) -> Config {
    let mut config = Config::load(&project_dir(), Some(demo_warehouse())).expect("config");
    config.state_db = state.path().join("state.sqlite");
    config.slack = Default::default();
    config.llm = None;
    // The visitor without a trusted identity is a demo person (context/people.yaml), as in
    // a local demo; with the default `local` they would be refused (tests/it/security.rs).
    config.server.default_user = "dana.whitfield@example.com".into();
    config
}

pub(crate) async fn start(config: Config, state: Option<tempfile::TempDir>) -> Site {
    let server = cortex::server::build(config, Some(demo_today()))
        .await
        .expect("builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = server.router.clone();
    tokio::spawn(cortex::server::serve_on(
        listener,
        router,
        std::future::pending(),
    ));
    let _ = rustls::crypto::ring::default_provider().install_default();
    Site {
        url,
        server,
        _state: state,
        http: reqwest::Client::new(),
    }
}

/// A browser: its session cookie and the CSRF token of its ask page.
pub(crate) struct Browser {
    pub(crate) cookie: String,
    pub(crate) token: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Site {
    pub(crate) async fn get(
        &self,
        path: &str,
        extra: &[(String, String)],
    ) -> (u16, HeaderMap, String) {
        let mut r = self.http.get(format!("{}{path}", self.url));
        for (k, v) in extra {
            r = r.header(k, v);
        }
        let r = r.send().await.expect("get");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.expect("body"))
    }

    pub(crate) async fn browser(&self, headers: Vec<(String, String)>) -> Browser {
        let (status, h, page) = self.get("/", &headers).await;
        assert_eq!(status, 200);
        let cookie = h
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("cortex_session="))
            .expect("a session cookie")
            .to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let cookie = cookie.split(';').next().expect("pair").to_string();
        let token = cortex::bench::load::hidden_value(&page, "csrf").expect("csrf field");
        assert_eq!(token.len(), 64, "an HMAC, not the placeholder: {token}");
        Browser {
            cookie,
            token,
            headers,
        }
    }

    /// POSTs the ask form.
    pub(crate) async fn post(
        &self,
        b: &Browser,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, HeaderMap, String) {
        let mut r = self
            .http
            .post(format!("{}/", self.url))
            .header("cookie", &b.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("form"));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        for (k, v) in &b.headers {
            r = r.header(k, v);
        }
        let r = r.send().await.expect("post");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.expect("body"))
    }

    pub(crate) async fn ask(&self, b: &Browser, q: &str) -> String {
        let (status, _, page) = self
            .post(b, &[("q", q), ("csrf", &b.token)], Some(&self.url))
            .await;
        assert_eq!(status, 200, "{page}");
        page
    }

    fn answers(&self) -> usize {
        self.server
            .svc
            .state
            .recent_answers(None, 10_000)
            .expect("answers")
            .len()
    }
}

/// The nonce in a response's CSP, checked against every script of its page.
fn assert_secure_headers(h: &HeaderMap, page: &str) {
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("a CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("http"), "no external source: {csp}");
    assert_eq!(h.get("x-frame-options").expect("XFO"), "DENY");
    assert_eq!(h.get("x-content-type-options").expect("nosniff"), "nosniff");
    assert!(h.get("referrer-policy").is_some());
    let scripts =
        page.matches("<script").count() - page.matches("type=\"application/json\"").count();
    if scripts > 0 {
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or_else(|| panic!("scripts on the page but no nonce in {csp}"));
        assert_eq!(
            page.matches(&format!("<script nonce=\"{nonce}\">")).count(),
            scripts,
            "every script carries the response's nonce"
        );
    } else {
        assert!(csp.contains("script-src 'none'"), "{csp}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_is_a_same_site_post_with_a_csrf_token_and_pages_carry_security_headers() {
    let state = tempfile::tempdir().expect("tmp");
    let site = start(demo_config(&state), Some(state)).await;

    // GET /?q= fills the box but asks nothing.
    let (status, h, page) = site.get("/?q=What%27s+our+ARR%3F", &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("value=\"What&#x27;s our ARR?\""), "{page}");
    assert_secure_headers(&h, &page);
    assert_eq!(site.answers(), 0, "a GET never asks");

    let b = site.browser(vec![]).await;
    let other = site.browser(vec![]).await;
    let q = "What's our ARR by segment?";
    let refused = [
        (
            "no Origin",
            site.post(&b, &[("q", q), ("csrf", &b.token)], None).await,
        ),
        (
            "another site",
            site.post(
                &b,
                &[("q", q), ("csrf", &b.token)],
                Some("https://evil.example"),
            )
            .await,
        ),
        (
            "no token",
            site.post(&b, &[("q", q)], Some(&site.url)).await,
        ),
        (
            "another session's token",
            site.post(&b, &[("q", q), ("csrf", &other.token)], Some(&site.url))
                .await,
        ),
    ];
    for (why, (status, h, page)) in refused {
        assert_eq!(status, 403, "{why}: {page}");
        assert_secure_headers(&h, &page);
    }
    assert_eq!(
        site.answers(),
        0,
        "no refused form was answered or recorded"
    );
    let audit = site
        .server
        .svc
        .rt
        .engine
        .warehouse
        .audit_log()
        .expect("log");
    assert_eq!(audit.count(Some("anonymous:")).expect("count"), 0);

    let (status, h, page) = site
        .post(&b, &[("q", q), ("csrf", &b.token)], Some(&site.url))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_secure_headers(&h, &page);
    assert!(page.contains("Enterprise"), "{page}");
    let id = cortex::bench::load::answer_id(&page).expect("answer id");
    assert_eq!(site.answers(), 1);
    assert!(
        audit
            .count(Some("anonymous:dana.whitfield@example.com"))
            .expect("count")
            >= 1
    );

    // The permalink: the stored page, its scripts allowed by its own nonce only.
    let (status, h, page) = site.get(&format!("/a/{id}"), &[]).await;
    assert_eq!(status, 200);
    assert_secure_headers(&h, &page);

    // A clarifying question's choices are same-site POST forms with the viewer's token
    // (a new browser: a new conversation, so it is not read as a follow-up).
    let b = site.browser(vec![]).await;
    let clarify = site.ask(&b, "How is revenue doing?").await;
    assert!(
        clarify.contains("<form class=\"choice\" method=\"post\""),
        "{clarify}"
    );
    assert!(!clarify.contains(security::CSRF_PLACEHOLDER));
    assert!(clarify.contains(&format!("value=\"{}\"", b.token)));
    let (status, _, chosen) = site
        .post(
            &b,
            &[
                ("q", "How is revenue doing?"),
                ("choice", "arr"),
                ("csrf", &b.token),
            ],
            Some(&site.url),
        )
        .await;
    assert_eq!(status, 200);
    assert!(chosen.contains("<div class=\"headline\">ARR $"), "{chosen}");

    // Length limits hold for the question and the choice, before any planning.
    let before = site.answers();
    let long = "ARR ".repeat(7_500);
    let page = site.ask(&b, &long).await;
    assert!(page.contains("too long"), "{page}");
    let (_, _, page) = site
        .post(
            &b,
            &[
                ("q", "How is revenue doing?"),
                ("choice", &long),
                ("csrf", &b.token),
            ],
            Some(&site.url),
        )
        .await;
    assert!(page.contains("too long"), "{page}");
    assert_eq!(site.answers(), before, "refusals are not answered");

    // Unknown pages: a 404 with the headers and no server details.
    let (status, h, page) = site.get("/nowhere", &[]).await;
    assert_eq!(status, 404);
    assert_secure_headers(&h, &page);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_header_counts_only_from_trusted_proxies_or_when_signed() {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = demo_config(&state);
    config.server.trusted_proxies = vec![];
    config.server.identity_secret = Some(Secret::new("proxy-secret"));
    let site = start(config, Some(state)).await;
    let h = |v: &str| vec![("x-forwarded-user".to_string(), v.to_string())];
    let signed = |v: &str| {
        let mut x = h(v);
        x.push((
            "x-forwarded-user-signature".into(),
            security::sign_identity("proxy-secret", v, chrono::Utc::now().timestamp()),
        ));
        x
    };
    // Unsigned, from a peer that is not a trusted proxy: the anonymous default.
    let (_, _, page) = site.get("/", &h("ava.thompson@example.com")).await;
    assert!(
        page.contains("<span class=\"who\">dana.whitfield@example.com</span>"),
        "{page}"
    );
    let (_, _, page) = site.get("/", &signed("ava.thompson@example.com")).await;
    assert!(
        page.contains("<span class=\"who\">ava.thompson@example.com</span>"),
        "{page}"
    );
    // The signed email maps to Ava in people.yaml, so "my team" works.
    let ava = site.browser(signed("ava.thompson@example.com")).await;
    let page = site
        .ask(
            &ava,
            "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        )
        .await;
    assert!(page.contains("Asked by Ava Thompson"), "{page}");
    let audit = site
        .server
        .svc
        .rt
        .engine
        .warehouse
        .audit_log()
        .expect("log");
    assert!(
        audit
            .count(Some("web:ava.thompson@example.com"))
            .expect("n")
            >= 1
    );
    // A header saying `local` is a person called local, never the default identity.
    let anon = site.browser(vec![]).await;
    site.ask(&anon, "What's our ARR?").await;
    let local = site.browser(signed("local")).await;
    let page = site.ask(&local, "What's our ARR by plan?").await;
    assert!(
        !page.contains("Your earlier questions"),
        "the anonymous user's history is not `local`'s: {page}"
    );
    let state = &site.server.svc.state;
    assert_eq!(
        state
            .recent_answers(Some("web:local"), 10)
            .expect("a")
            .len(),
        1
    );
    assert_eq!(
        state
            .recent_answers(Some("anonymous:dana.whitfield@example.com"), 10)
            .expect("a")
            .len(),
        1
    );

    // With the loopback as a trusted proxy the plain header is taken as is.
    let state2 = tempfile::tempdir().expect("tmp");
    let mut config = demo_config(&state2);
    config.server.trusted_proxies = vec!["127.0.0.0/8".into()];
    let site2 = start(config, Some(state2)).await;
    let (_, _, page) = site2.get("/", &h("U01CSM0001")).await;
    assert!(
        page.contains("<span class=\"who\">U01CSM0001</span>"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reads_the_warehouse_and_error_pages_show_no_paths() {
    let f = fixture();
    let config = f.config(Duration::from_secs(10));
    let site = start(config, None).await;
    let (status, h, body) = site.get("/healthz", &[]).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(h.get("x-content-type-options").expect("nosniff"), "nosniff");
    // Break the warehouse under the running server.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f.warehouse)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    let (status, _, body) = site.get("/healthz", &[]).await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains('/'), "{body}");
    let b = site.browser(vec![]).await;
    let page = site.ask(&b, "How many tickets by channel?").await;
    let dir = f.dir.path().to_str().expect("utf8");
    assert!(!page.contains(dir), "a server path leaked: {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdfs_of_older_answers_load_from_the_state_database_after_a_restart() {
    let state = tempfile::tempdir().expect("tmp");
    let first = cortex::server::build(demo_config(&state), Some(demo_today()))
        .await
        .expect("builds");
    let asked = first
        .svc
        .ask(Request {
            question: "What's our ARR by segment?".into(),
            requester: "cli:test-pdf".into(),
            ..Request::default()
        })
        .await;
    assert_eq!(asked.answer.status, Status::Answered);
    drop(first);
    let second = cortex::server::build(demo_config(&state), Some(demo_today()))
        .await
        .expect("builds again");
    assert!(
        second.svc.recent(&asked.id).is_none(),
        "not in the new process's memory"
    );
    let (name, pdf) = second.svc.pdf(&asked.id).await.expect("the PDF renders");
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(name, "whats-our-arr-by-segment-2026-11-20.pdf");
    assert!(second.svc.pdf("nope").await.is_err());
    // A skill's answer comes back whole too: the same sections, the same Slack message.
    let brief = second
        .svc
        .ask(Request {
            question: "Give me the full picture of Blue Fox Goods".into(),
            requester: "cli:test-pdf".into(),
            ..Request::default()
        })
        .await;
    assert_eq!(brief.answer.skill, "merchant_brief");
    drop(second);
    let third = cortex::server::build(demo_config(&state), Some(demo_today()))
        .await
        .expect("builds a third time");
    let stored = third
        .svc
        .state
        .load_answer(&brief.id)
        .expect("reads")
        .expect("stored");
    assert_eq!(stored.sections, brief.answer.sections, "stored whole");
    assert_eq!(
        cortex::render::slack::blocks(&stored, &brief.id),
        cortex::render::slack::blocks(&brief.answer, &brief.id),
        "the same Slack message after a restart"
    );
    let (name, pdf) = third
        .svc
        .pdf(&brief.id)
        .await
        .expect("the brief's PDF renders");
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(name, "merchant-brief-blue-fox-goods-2026-11-20.pdf");
}

/// A fake OpenAI-compatible endpoint that counts requests and never answers.
async fn hanging_llm() -> (Arc<AtomicUsize>, String) {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = Arc::clone(&seen);
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let s = Arc::clone(&s);
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (seen, url)
}

fn llm_config(base_url: String, timeout: Duration, cooldown: Duration) -> LlmConfig {
    LlmConfig {
        base_url,
        model: "test-model".into(),
        api_key: Secret::new("sk-test"),
        timeout,
        retries: 1,
        cooldown,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_llm_costs_one_timeout_then_answers_come_offline() {
    let (seen, url) = hanging_llm().await;
    let state = tempfile::tempdir().expect("tmp");
    let mut config = demo_config(&state);
    config.llm = Some(llm_config(
        url,
        Duration::from_millis(300),
        Duration::from_secs(3600),
    ));
    let server = cortex::server::build(config, Some(demo_today()))
        .await
        .expect("builds");
    for q in [
        "What's our ARR by segment?",
        "How many tickets last month by channel?",
        "What's our ARR?",
    ] {
        let asked = server
            .svc
            .ask(Request {
                question: q.into(),
                requester: "cli:test-llm".into(),
                ..Request::default()
            })
            .await;
        assert_eq!(
            asked.answer.status,
            Status::Answered,
            "{q}: {}",
            asked.answer.text
        );
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "one request timed out, then the breaker skipped the LLM (no retry, no narrative)"
    );
    let llm = server.svc.llm.as_ref().expect("llm");
    assert!(llm.skipped_for().is_some(), "the breaker is open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_past_its_deadline_says_it_took_too_long() {
    let (_seen, url) = hanging_llm().await;
    let state = tempfile::tempdir().expect("tmp");
    let mut config = demo_config(&state);
    // The LLM would wait far longer than the answer's deadline.
    config.llm = Some(llm_config(url, Duration::from_secs(2), Duration::ZERO));
    config.ask.deadline = Duration::from_millis(100);
    let server = cortex::server::build(config, Some(demo_today()))
        .await
        .expect("builds");
    let asked = server
        .svc
        .ask(Request {
            question: "What's our ARR by segment?".into(),
            requester: "cli:test-deadline".into(),
            ..Request::default()
        })
        .await;
    assert_eq!(asked.answer.status, Status::Error);
    assert!(
        asked.answer.headline.contains("took too long"),
        "{}",
        asked.answer.headline
    );
    let stored = server
        .svc
        .state
        .answer(&asked.id)
        .expect("read")
        .expect("the too-long answer is recorded");
    assert_eq!(stored.status, "error");
}

/// Reads `cortex serve`'s stderr until it says where it listens.
fn serve_url(child: &mut std::process::Child) -> (String, std::thread::JoinHandle<String>) {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("serving on ").nth(1) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(rest.split(' ').next().unwrap_or("").to_string());
                }
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("cortex serve starts");
    (url, reader)
}

/// 20 `cortex ask` processes while a `cortex serve` on the same state database is asked
/// questions through its web site: every one answers, and every one is in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_asks_and_a_loaded_server_share_the_state_database() {
    let state = tempfile::tempdir().expect("tmp");
    let state_db = state.path().join("state.sqlite");
    let project = project_dir();
    let base = |c: &mut Command| {
        c.arg("--project")
            .arg(&project)
            .arg("--warehouse")
            .arg(demo_warehouse())
            .args(["--today", "2026-11-20"])
            .env("CORTEX_STATE_DB", &state_db)
            .env_remove("CORTEX_LLM_BASE_URL")
            .env_remove("CORTEX_SLACK_BOT_TOKEN")
            .env_remove("SLACK_BOT_TOKEN");
    };
    let mut serve = Command::new(cortex_bin());
    base(&mut serve);
    let mut serve = serve
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let (url, log) = serve_url(&mut serve);
    let opts = cortex::bench::load::LoadOptions {
        url,
        questions: 40,
        concurrency: 4,
        pool: cortex::bench::load::default_questions(),
        heavy: 0,
        heavy_question: String::new(),
        state_db: Some(state_db.clone()),
    };
    let load = tokio::spawn(async move { cortex::bench::load::run(&opts).await });
    let clis: Vec<_> = (0..20)
        .map(|i| {
            let mut c = Command::new(cortex_bin());
            base(&mut c);
            c.args(["ask", "What's our ARR by segment?"])
                .env("USER", format!("par{i}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cli starts")
        })
        .collect();
    let outs: Vec<_> = tokio::task::spawn_blocking(move || {
        clis.into_iter()
            .map(|c| c.wait_with_output().expect("cli runs"))
            .collect()
    })
    .await
    .expect("join");
    let report = load.await.expect("join").expect("load runs");
    let _ = serve.kill();
    let _ = serve.wait();
    let serve_log = log.join().unwrap_or_default();
    for (i, o) in outs.iter().enumerate() {
        assert!(
            o.status.success(),
            "cli {i}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("Enterprise"));
    }
    assert_eq!(report.asked, 40);
    assert_eq!(report.errors, 0, "{serve_log}");
    assert_eq!(report.lost, Some(0));
    // The server reports its result cache: each question is asked 5 times, so the queries
    // its answers run repeat.
    let cache = report.cache.expect("the server reports its cache");
    assert!(cache.hits > 0, "{cache:?}");
    let log = cortex::warehouse::AuditLog::open(&state_db).expect("open");
    for i in 0..20 {
        assert!(
            log.count(Some(&format!("cli:par{i}"))).expect("count") >= 1,
            "cli {i} is audited"
        );
    }
    let answers = cortex::state::State::open(log)
        .expect("state")
        .recent_answers(Some("anonymous:local"), 1000)
        .expect("answers");
    assert_eq!(answers.len(), 40, "every web answer is recorded");
}

/// `[server] slack_listen` moves the Slack endpoints off the web site's listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_endpoints_can_have_their_own_listener() {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = demo_config(&state);
    config.slack.bot_token = Some(Secret::new("xoxb-test"));
    config.slack.signing_secret = Some(Secret::new("signing"));
    // No Slack here: auth.test fails fast and is only logged.
    config.slack.api_url = "http://127.0.0.1:9/api".into();
    config.server.slack_listen = Some("127.0.0.1:0".into());
    let site = start(config, Some(state)).await;
    assert!(site.server.transports.http_events);
    let slack = site
        .server
        .slack_router
        .clone()
        .expect("a separate Slack router");
    let (status, _, _) = site.get("/slack/events", &[]).await;
    assert_eq!(status, 404, "not on the web site's listener");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(cortex::server::serve_on(
        listener,
        slack,
        std::future::pending(),
    ));
    let r = site
        .http
        .post(format!("{url}/slack/events"))
        .header("x-slack-request-timestamp", i64::MIN.to_string())
        .header("x-slack-signature", "v0=00")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 401, "signed requests only");
    assert_eq!(
        r.headers()
            .get("x-frame-options")
            .expect("headers here too"),
        "DENY"
    );
    let r = site.http.get(format!("{url}/")).send().await.expect("get");
    assert_eq!(
        r.status().as_u16(),
        404,
        "no web site on the Slack listener"
    );
}

/// `cortex ask` refuses an over-long question before opening anything.
#[test]
fn the_cli_refuses_a_question_over_the_length_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let state_db = dir.path().join("state.sqlite");
    let out = Command::new(cortex_bin())
        .arg("--project")
        .arg(project_dir())
        .arg("--warehouse")
        .arg(demo_warehouse())
        .args(["ask", &"ARR ".repeat(7_500)])
        .env("CORTEX_STATE_DB", &state_db)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("too long"), "{err}");
    assert!(!state_db.exists(), "nothing was opened or recorded");
}
