//! Rich answers: HTML pages (structure snapshot, self-contained), the pipeline dashboard's
//! embedded data, PDF reports (pages and text, extracted with pdftotext), and the web site
//! end to end in headless Chromium (WebDriver).

use std::process::Command;
use std::time::Duration;

use cortex::answer::Status;
use cortex::render::html::{page, PageOptions};
use serde_json::{json, Value};

use crate::helpers::{demo_runtime, demo_today, demo_warehouse, project_dir};

/// Tag names and classes in document order, text and SVG internals dropped: the page's
/// structure, stable across data changes.
fn skeleton(html: &str) -> String {
    let mut out = Vec::new();
    let mut rest = html;
    let mut in_svg = 0;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        rest = &rest[end.min(rest.len())..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        if name == "svg" {
            if tag.starts_with('/') {
                in_svg -= 1;
            } else {
                in_svg += 1;
                out.push("svg".to_string());
            }
            continue;
        }
        if in_svg > 0 || tag.starts_with('/') || name.is_empty() || name == "!" {
            continue;
        }
        let class = tag
            .split("class=\"")
            .nth(1)
            .and_then(|c| c.split('"').next())
            .map(|c| format!(".{}", c.replace(' ', ".")))
            .unwrap_or_default();
        if !matches!(
            name.as_str(),
            "tr" | "td" | "li" | "dt" | "dd" | "p" | "pre" | "br"
        ) {
            out.push(format!("{name}{class}"));
        }
    }
    out.dedup();
    out.join("\n")
}

#[test]
fn an_answer_page_is_self_contained_with_chart_table_and_provenance() {
    let (_s, rt) = demo_runtime(&project_dir());
    let a = cortex::skills::answer_question(
        &rt,
        "What's our ARR by segment?",
        None,
        demo_today(),
        "cli:test",
    );
    assert_eq!(a.status, Status::Answered);
    let html = page(&a, &PageOptions::default(), None).expect("renders");
    insta::assert_snapshot!("arr_by_segment_page_structure", skeleton(&html));
    // Self-contained: no external fetches of any kind.
    for bad in ["src=\"http", "href=\"http", "<link", "@import", "url(http"] {
        assert!(!html.contains(bad), "{bad}");
    }
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains("@media print"));
    assert!(html.contains("<svg"));
    // Three data rows, sortable numbers carry raw values.
    assert_eq!(html.matches("<tr><td").count(), 3);
    let raw = a.rows[0][1].as_f64().expect("number");
    assert!(
        html.contains(&format!("data-sort=\"{raw}\"")),
        "raw sort keys"
    );
    assert!(html.contains("<details><summary>The SQL behind these numbers (1 query)"));
    assert!(html.contains("Annual recurring revenue"));
    // Escaping: a question with markup stays text.
    let mut hostile = a.clone();
    hostile.question = "<script>alert(1)</script>".into();
    let h = page(&hostile, &PageOptions::default(), None).expect("renders");
    assert!(!h.contains("<script>alert(1)"), "escaped");
}

/// A flagship question answered on the demo, checked to reach `skill`.
fn skill_answer(
    rt: &cortex::skills::run::Runtime,
    question: &str,
    skill: &str,
) -> cortex::answer::Answer {
    let a = cortex::skills::answer_question(rt, question, None, demo_today(), "cli:test");
    assert_eq!(a.skill, skill);
    a
}

#[test]
fn the_pipeline_dashboard_embeds_governed_deals_and_filters() {
    let (_s, rt) = demo_runtime(&project_dir());
    let a = skill_answer(
        &rt,
        "Build me a dashboard for this quarter's pipeline",
        "pipeline_overview",
    );
    let skill = rt.skills.get("pipeline_overview").expect("skill");
    let html = page(&a, &PageOptions::default(), skill.html_template.as_deref()).expect("renders");
    for id in [
        "f-owner",
        "f-product",
        "f-stage",
        "p-stage",
        "p-owner",
        "p-product",
        "p-week",
        "k-open",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let tag = "<script id=\"cortex-data\" type=\"application/json\">";
    let start = html.find(tag).expect("data") + tag.len();
    let end = start + html[start..].find("</script>").expect("end");
    let deals: Vec<Value> = serde_json::from_str(&html[start..end]).expect("deals json");
    let sum: f64 = deals
        .iter()
        .map(|d| d["amount_usd"].as_f64().expect("amount"))
        .sum();
    let governed = kpi(&a, "open");
    assert!(!deals.is_empty());
    assert!(
        (sum - governed).abs() < 0.01,
        "embedded deals {sum} = governed pipeline {governed}"
    );
}

fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("r.pdf");
    std::fs::write(&p, pdf).expect("write");
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(&p)
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils; .ci/run installs it)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn merchant_and_okr_reports_render_as_pdfs_with_the_expected_pages_and_text() {
    let (_s, rt) = demo_runtime(&project_dir());
    let a = skill_answer(
        &rt,
        "Give me the full picture of Blue Fox Goods",
        "merchant_brief",
    );
    let skill = rt.skills.get("merchant_brief").expect("skill");
    let pdf =
        cortex::render::pdf::render(&a, skill.pdf_template.as_deref(), "2026-11-20 09:00 UTC")
            .expect("renders");
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdftotext(&pdf);
    let pages = text.matches('\u{c}').count();
    assert!((1..=3).contains(&pages), "{pages} pages");
    for want in [
        "Blue Fox Goods",
        "CORTEX REPORT",
        "ARR by product",
        "Page 1 of",
        "data through Nov 20, 2026",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    for f in &a.findings {
        let start: String = f.chars().take(20).collect();
        assert!(text.contains(&start), "finding {f:?} in\n{text}");
    }
    let arr: f64 = a.rows.iter().filter_map(|r| r.last()?.as_f64()).sum();
    let shown = cortex::format::figure(arr, cortex::semantic::Unit::Usd);
    assert!(text.contains(&shown), "ARR {shown} in the report");

    let person = rt.context.person("U01REV0001").cloned();
    let o = cortex::skills::answer_question(
        &rt,
        "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        person.as_ref(),
        demo_today(),
        "cli:test",
    );
    let skill = rt.skills.get("okr_progress").expect("skill");
    let pdf =
        cortex::render::pdf::render(&o, skill.pdf_template.as_deref(), "now").expect("renders");
    let text = pdftotext(&pdf);
    for want in [
        "OKR #1",
        "Segment",
        "Enterprise",
        "What Revenue can do",
        "Attainment",
        "Target",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    // Any answer gets the default report.
    let m = cortex::skills::answer_question(
        &rt,
        "What's our ARR by segment?",
        None,
        demo_today(),
        "cli:test",
    );
    let text = pdftotext(&cortex::render::pdf::render(&m, None, "now").expect("renders"));
    assert!(
        text.contains("Mid-Market") && text.contains("$28,"),
        "{text}"
    );
}

#[test]
fn the_cli_writes_html_and_pdf_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("brief.pdf");
    let st = Command::new(crate::helpers::cortex_bin())
        .args([
            "--project",
            project_dir().to_str().expect("utf8"),
            "--today",
            "2026-11-20",
        ])
        .arg("--warehouse")
        .arg(demo_warehouse())
        .args(["ask", "--format", "pdf", "--out"])
        .arg(&out)
        .arg("Give me the full picture of Blue Fox Goods")
        .env("CORTEX_STATE_DB", dir.path().join("s.duckdb"))
        .output()
        .expect("runs");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(std::fs::read(&out).expect("pdf").starts_with(b"%PDF-"));
    let no_out = Command::new(crate::helpers::cortex_bin())
        .args(["--project", project_dir().to_str().expect("utf8")])
        .arg("--warehouse")
        .arg(demo_warehouse())
        .args(["ask", "--format", "pdf", "What's our ARR?"])
        .env("CORTEX_STATE_DB", dir.path().join("s.duckdb"))
        .output()
        .expect("runs");
    assert!(!no_out.status.success());
    assert!(String::from_utf8_lossy(&no_out.stderr).contains("--out"));
    let page = Command::new(crate::helpers::cortex_bin())
        .args([
            "--project",
            project_dir().to_str().expect("utf8"),
            "--today",
            "2026-11-20",
        ])
        .arg("--warehouse")
        .arg(demo_warehouse())
        .args(["ask", "--format", "html", "What's our ARR by segment?"])
        .env("CORTEX_STATE_DB", dir.path().join("s.duckdb"))
        .output()
        .expect("runs");
    assert!(page.status.success());
    let html = String::from_utf8_lossy(&page.stdout);
    assert!(html.starts_with("<!doctype html>") && html.contains("<table class=\"data\">"));
}

/// The site's identity comes from the auth proxy's header (trusted from the loopback here):
/// "my team" answers for that person, and the audit log names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_site_takes_the_asker_from_the_proxy_header() {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = crate::websec::demo_config(&state);
    config.server.trusted_proxies = vec!["127.0.0.1".into()];
    let site = crate::websec::start(config, Some(state)).await;
    let ava = site
        .browser(vec![("x-forwarded-user".into(), "U01CSM0001".into())])
        .await;
    let page = site
        .ask(
            &ava,
            "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        )
        .await;
    assert!(page.contains("Asked by Ava Thompson"), "{page}");
    assert!(page.contains("<span class=\"who\">U01CSM0001</span>"));
    // The audit log is for admins (the Data team): Ava, a CSM, is refused.
    let (status, _, _) = site
        .get(
            "/audit",
            &[("x-forwarded-user".into(), "U01CSM0001".into())],
        )
        .await;
    assert_eq!(status, 403);
    let (_, _, audit) = site
        .get(
            "/audit",
            &[("x-forwarded-user".into(), "U01DAT0001".into())],
        )
        .await;
    assert!(audit.contains(">web:U01CSM0001</td>"), "{audit}");
    // Without the header: the configured default identity.
    let (_, _, page) = site.get("/", &[]).await;
    assert!(page.contains("<span class=\"who\">dana.whitfield@example.com</span>"));
}

/// A minimal WebDriver client over HTTP (chromedriver).
pub(crate) struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    child: std::process::Child,
}

impl Driver {
    pub(crate) async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method.clone(), url);
        if method == reqwest::Method::POST {
            req = req
                .body(body.to_string())
                .header("content-type", "application/json");
        }
        let r = req.send().await.expect("webdriver");
        let v: Value = r.json().await.expect("json");
        v["value"].clone()
    }
    pub(crate) async fn go(&self, url: &str) {
        let v = self
            .cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
        assert!(v.get("error").is_none(), "navigating to {url}: {v}");
    }
    pub(crate) async fn find(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.get("element-6066-11e4-a52e-4f735466cecf")?
            .as_str()
            .map(str::to_string)
    }
    pub(crate) async fn source(&self) -> String {
        let v = self.cmd(reqwest::Method::GET, "/source", Value::Null).await;
        v.as_str()
            .unwrap_or_else(|| panic!("page source: {v}"))
            .to_string()
    }
    pub(crate) async fn screenshot(&self, name: &str) {
        let v = self
            .cmd(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        if let Some(b64) = v.as_str() {
            let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("{name}.png.b64")), b64);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn start_driver() -> Option<Driver> {
    start_driver_with(&[]).await
}

/// [`start_driver`] with more Chromium arguments (e.g. `--load-extension`).
pub(crate) async fn start_driver_with(extra: &[String]) -> Option<Driver> {
    let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        assert!(
            std::env::var("CORTEX_REQUIRE_BROWSER").is_err(),
            "chromedriver is required (Debian packages chromium and chromium-driver)"
        );
        eprintln!("skipping the browser test: chromedriver not installed (apt-get install chromium chromium-driver)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1200,1600"]}}}});
    let mut caps = caps;
    if !extra.is_empty() {
        let opts = &mut caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"];
        if let Some(args) = opts["args"].as_array_mut() {
            args.extend(extra.iter().map(|a| json!(a)));
        }
        opts["excludeSwitches"] = json!(["disable-extensions"]);
    }
    // chromedriver needs a moment to listen: retry the connection until it answers.
    let mut session = None;
    for _ in 0..100 {
        match http
            .post(format!("{base}/session"))
            .body(caps.to_string())
            .header("content-type", "application/json")
            .send()
            .await
        {
            Ok(r) => {
                let v: Value = r.json().await.expect("json");
                session = Some(
                    v["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("session: {v}"))
                        .to_string(),
                );
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let d = Driver {
        http,
        base,
        session: session.expect("chromedriver answered"),
        child,
    };
    d.cmd(
        reqwest::Method::POST,
        "/timeouts",
        json!({"implicit": 15000, "pageLoad": 60000}),
    )
    .await;
    Some(d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_site_works_in_headless_chromium() {
    let Some(d) = start_driver().await else {
        return;
    };
    let state = tempfile::tempdir().expect("tmp");
    let mut config =
        cortex::config::Config::load(&project_dir(), Some(demo_warehouse())).expect("config");
    config.state_db = state.path().join("state.duckdb");
    config.slack = Default::default();
    config.llm = None;
    config.server.default_user = "noor.haddad@example.com".into();
    let server = cortex::server::build(config, Some(demo_today()))
        .await
        .expect("builds");
    assert!(server.bot.is_none());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = server.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });

    // Ask on the ask page.
    d.go(&format!("{url}/")).await;
    let input = d.find("#q").await.expect("question box");
    d.cmd(
        reqwest::Method::POST,
        &format!("/element/{input}/value"),
        json!({"text": "What's our ARR by segment?"}),
    )
    .await;
    let button = d.find("#ask").await.expect("ask button");
    d.cmd(
        reqwest::Method::POST,
        &format!("/element/{button}/click"),
        json!({}),
    )
    .await;
    assert!(
        d.find("table.data").await.is_some(),
        "the answer's table appears"
    );
    assert!(d.find(".chart svg").await.is_some(), "and its chart");
    let src = d.source().await;
    assert!(
        src.contains("Enterprise") && src.contains("Mid-Market"),
        "{src}"
    );
    d.screenshot("ask").await;

    // Sorting by a header click reorders the rows (ascending ARR puts SMB first).
    let th = d.find("table.data th.num").await.expect("ARR header");
    d.cmd(
        reqwest::Method::POST,
        &format!("/element/{th}/click"),
        json!({}),
    )
    .await;
    let first = d.find("table.data tbody tr td").await.expect("cell");
    let text = d
        .cmd(
            reqwest::Method::GET,
            &format!("/element/{first}/text"),
            Value::Null,
        )
        .await;
    assert_eq!(text, "SMB");

    // The permalink opens the same answer.
    let link = d.find("a.btn[href^='/a/']").await.expect("permalink");
    let href = d
        .cmd(
            reqwest::Method::GET,
            &format!("/element/{link}/attribute/href"),
            Value::Null,
        )
        .await;
    let href = href.as_str().expect("href").to_string();
    d.go(&if href.starts_with("http") {
        href.clone()
    } else {
        format!("{url}{href}")
    })
    .await;
    let src = d.source().await;
    assert!(
        src.contains("ARR by segment") && src.contains("$105,729,461"),
        "permalink page {href}: {src}"
    );

    // The metric catalog comes from metrics.yaml.
    d.go(&format!("{url}/metrics")).await;
    assert!(d.find("section#arr").await.is_some());
    let src = d.source().await;
    assert!(src.contains("Annual recurring revenue") && src.contains("Dimensions:"));
    d.screenshot("metrics").await;

    // The audit log shows the question and who asked it.
    d.go(&format!("{url}/audit")).await;
    let src = d.source().await;
    assert!(
        src.contains("What's our ARR by segment?")
            || src.contains("What&#x27;s our ARR by segment?")
            || src.contains("What&#39;s our ARR by segment?")
    );
    assert!(
        src.contains("<td data-sort=\"anonymous:noor.haddad@example.com\">anonymous:noor.haddad@example.com</td>"),
        "requester shown"
    );
    let _ = d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}

/// A KPI tile's value by its id.
fn kpi(a: &cortex::answer::Answer, id: &str) -> f64 {
    a.sections
        .iter()
        .find_map(|s| match s {
            cortex::answer::Section::Kpis { tiles } => tiles
                .iter()
                .find(|t| t.id.as_deref() == Some(id))
                .and_then(|t| t.value),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no KPI {id}"))
}

/// Every check of Slack's documented Block Kit limits on one message.
fn assert_within_slack_limits(blocks: &[Value], what: &str) {
    use cortex::render::slack::limits;
    assert!(
        blocks.len() <= limits::BLOCKS,
        "{what}: {} blocks",
        blocks.len()
    );
    for b in blocks {
        let text_len = b["text"]["text"].as_str().map_or(0, |t| t.chars().count());
        match b["type"].as_str() {
            Some("header") => assert!(text_len <= limits::HEADER_TEXT, "{what}: header {b}"),
            Some("section") => {
                assert!(
                    text_len <= limits::SECTION_TEXT,
                    "{what}: section {text_len}"
                );
                if let Some(f) = b["fields"].as_array() {
                    assert!(f.len() <= limits::FIELDS, "{what}: {} fields", f.len());
                    for x in f {
                        let n = x["text"].as_str().map_or(0, |t| t.chars().count());
                        assert!(n <= limits::FIELD_TEXT, "{what}: field {n}");
                    }
                }
                assert!(
                    b["text"].is_object() || b["fields"].is_array(),
                    "{what}: a section needs text or fields: {b}"
                );
            }
            Some("context") => {
                let e = b["elements"].as_array().expect("elements");
                assert!(e.len() <= limits::CONTEXT_ELEMENTS, "{what}: context {b}");
                for x in e {
                    let n = x["text"].as_str().map_or(0, |t| t.chars().count());
                    assert!(n <= limits::SECTION_TEXT, "{what}: context text {n}");
                }
            }
            Some("actions") => {
                let e = b["elements"].as_array().expect("elements");
                assert!(e.len() <= limits::ACTIONS, "{what}: {} buttons", e.len());
                for x in e {
                    let label = x["text"]["text"].as_str().unwrap_or("");
                    assert!(label.chars().count() <= limits::BUTTON_TEXT, "{what}: {x}");
                    let value = x["value"].as_str().unwrap_or("");
                    assert!(value.chars().count() <= limits::BUTTON_VALUE, "{what}: {x}");
                    assert!(
                        x["value"].is_string() || x["url"].is_string(),
                        "{what}: a button needs a value or a url: {x}"
                    );
                }
            }
            other => panic!("{what}: unexpected block type {other:?}"),
        }
    }
}

/// The words a section must show on every surface: its title, and its tiles' labels.
fn section_words(s: &cortex::answer::Section) -> Vec<String> {
    use cortex::answer::Section;
    match s {
        Section::Kpis { tiles } => tiles.iter().map(|t| t.label.clone()).collect(),
        Section::Chart(_) => Vec::new(),
        Section::Notes { items, empty, .. } if items.is_empty() && empty.is_none() => Vec::new(),
        other => other.title().map(str::to_string).into_iter().collect(),
    }
}

#[test]
fn flagship_answers_show_the_same_sections_in_slack_on_the_web_and_in_the_pdf() {
    let (_s, rt) = demo_runtime(&project_dir());
    let rev = rt.context.person("U01REV0001").cloned();
    let cases = [
        (
            "Give me the full picture of Blue Fox Goods",
            "merchant_brief",
        ),
        (
            "How are we performing against OKR #1, and what can my team do to help accelerate it?",
            "okr_progress",
        ),
        (
            "Build me a dashboard for this quarter's pipeline",
            "pipeline_overview",
        ),
        ("Benchmark CSAT for Jewelry merchants", "support_benchmark"),
        ("What's our ARR by segment?", "metric_question"),
        ("Tickets by month and channel this year", "metric_question"),
    ];
    for (q, skill) in cases {
        let mut a = cortex::skills::answer_question(&rt, q, rev.as_ref(), demo_today(), "cli:test");
        cortex::answer::metric_sections(&mut a);
        assert_eq!(a.status, Status::Answered, "{q}: {}", a.headline);
        assert_eq!(a.skill, skill, "{q}");
        assert!(!a.sections.is_empty(), "{q}: no sections");
        let blocks = cortex::render::slack::blocks(&a, "id1");
        assert_within_slack_limits(&blocks, q);
        let slack = serde_json::to_string(&blocks).expect("json");
        let s = rt.skills.get(&a.skill);
        let html = page(
            &a,
            &PageOptions::default(),
            s.and_then(|s| s.html_template.as_deref()),
        )
        .expect("page");
        let pdf = cortex::render::pdf::render(
            &a,
            s.and_then(|s| s.pdf_template.as_deref()),
            "2026-11-20 09:00 UTC",
        )
        .expect("pdf");
        // pdftotext lays text out in columns: compare words, whitespace folded.
        let pdf_text = pdftotext(&pdf)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for sec in &a.sections {
            for w in section_words(sec) {
                let slack_w = cortex::render::slack::escape(&w).replace('*', "∗");
                assert!(
                    serde_json::to_string(&slack_w)
                        .map(|j| slack.contains(j.trim_matches('"')))
                        .unwrap_or(false),
                    "{q}: {w:?} not in the Slack message"
                );
                assert!(
                    html.contains(&cortex::render::html::escape(&w)),
                    "{q}: {w:?} not on the web page"
                );
                // A tile's label may wrap in the PDF: its first three words.
                let head: String = w.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
                assert!(
                    pdf_text.contains(&head),
                    "{q}: {head:?} not in the PDF:\n{pdf_text}"
                );
            }
        }
    }
}

#[test]
fn a_competitor_mention_is_a_risk_on_every_surface_not_buried_in_a_table() {
    let (_s, rt) = demo_runtime(&project_dir());
    // The merchants with a competitor mention, from the raw table (the oracle).
    // Merchants whose five latest signals (what the brief reads) include a competitor mention.
    let named: Vec<String> = crate::helpers::demo_sql(
        "SELECT name FROM (SELECT m.name, s.signal_type, row_number() OVER (PARTITION BY s.merchant_id \
           ORDER BY s.signal_date DESC, s.strength DESC) AS k \
           FROM intent_signals s JOIN merchants m USING (merchant_id)) \
         WHERE k <= 5 AND signal_type = 'competitor_mentioned' GROUP BY name ORDER BY name LIMIT 3",
    )
    .as_array()
    .expect("rows")
    .iter()
    .filter_map(|r| r[0].as_str().map(str::to_string))
    .collect();
    assert!(!named.is_empty(), "the demo has competitor mentions");
    for m in named {
        let a = cortex::skills::answer_question(
            &rt,
            &format!("Give me the full picture of {m}"),
            None,
            demo_today(),
            "cli:test",
        );
        assert_eq!(a.skill, "merchant_brief", "{m}");
        assert!(
            a.risks.iter().any(|r| r.contains("Competitor mentioned")),
            "{m}: risks {:?}",
            a.risks
        );
        let slack = serde_json::to_string(&cortex::render::slack::blocks(&a, "x")).expect("json");
        assert!(
            slack.contains(":warning: Competitor mentioned"),
            "{m}: {slack}"
        );
        let text = cortex::render::text::answer(&a);
        assert!(!text.contains("Nothing stands out"), "{m}: {text}");
    }
}

/// Every suggested next question under an answer is answered when asked: none ends in a
/// clarifying question or a refusal.
#[test]
fn suggested_next_questions_are_answerable() {
    let (_s, rt) = demo_runtime(&project_dir());
    let rev = rt.context.person("U01REV0001").cloned();
    let mut seen = 0;
    for q in [
        "What's our ARR by segment?",
        "Give me the full picture of Blue Fox Goods",
        "How are we performing against OKR #1?",
        "Build me a dashboard for this quarter's pipeline",
        "Benchmark CSAT for Jewelry merchants",
    ] {
        let a = cortex::skills::answer_question(&rt, q, rev.as_ref(), demo_today(), "cli:test");
        assert!(
            (2..=3).contains(&a.suggestions.len()),
            "{q}: {:?}",
            a.suggestions
        );
        for s in &a.suggestions {
            assert_ne!(s.to_lowercase(), q.to_lowercase(), "{q}: suggests itself");
            let b = cortex::skills::answer_question(&rt, s, rev.as_ref(), demo_today(), "cli:test");
            assert_eq!(b.status, Status::Answered, "{q} -> {s}: {}", b.headline);
            seen += 1;
        }
    }
    assert!(seen >= 10);
    // Someone outside Revenue and Marketing may not see the pipeline or rep performance:
    // nothing suggested to them leads to a refusal.
    let support = rt.context.person("U01SUP0001").cloned();
    let who = "slack:U01SUP0001";
    let mut offered = Vec::new();
    for q in [
        "What's our ARR by segment?",
        "How many tickets by channel last month?",
    ] {
        let a = cortex::skills::answer_question(&rt, q, support.as_ref(), demo_today(), who);
        assert_eq!(a.status, Status::Answered, "{q}: {}", a.headline);
        for s in &a.suggestions {
            let b = cortex::skills::answer_question(&rt, s, support.as_ref(), demo_today(), who);
            assert_eq!(b.status, Status::Answered, "{q} -> {s}: {}", b.headline);
            offered.push(s.clone());
        }
    }
    assert!(
        !offered
            .iter()
            .any(|s| s.contains("pipeline") || s.contains(" owner")),
        "restricted suggestions offered: {offered:?}"
    );
    // The check itself: the pipeline dashboard and a breakdown by rep are answerable for
    // Revenue, not for Support.
    let gov = &rt.engine.governance;
    let rev_access = gov.access("slack:U01REV0001");
    let support_access = gov.access(who);
    for q in [
        "Build me a dashboard for this quarter's pipeline",
        "Open pipeline by owner this quarter",
    ] {
        assert!(
            cortex::skills::suggest::answerable(&rt, q, rev.as_ref(), demo_today(), &rev_access),
            "{q} for Revenue"
        );
        assert!(
            !cortex::skills::suggest::answerable(
                &rt,
                q,
                support.as_ref(),
                demo_today(),
                &support_access
            ),
            "{q} for Support"
        );
    }
}
