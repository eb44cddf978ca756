//! The JSON API on a real `cortex serve` router (127.0.0.1, port 0) over the demo: every
//! endpoint as people with different access, tokens (missing, bad, revoked), the
//! trusted-proxy identity, the rate limit, CORS for the extension's origin only, and every
//! response validated against the served OpenAPI document.

use std::process::{Command, Stdio};

use serde_json::{json, Value as Json};

use crate::helpers::{cortex_bin, demo_sql, project_dir};
use crate::websec::{demo_config, start, Site};

pub(crate) const EXTENSION: &str = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";
pub(crate) const DANA: &str = "dana.whitfield@example.com";
pub(crate) const AVA: &str = "ava.thompson@example.com";

/// One response, kept for validation against the OpenAPI document.
struct Sample {
    path: &'static str,
    method: &'static str,
    status: u16,
    body: Json,
}

struct Client<'a> {
    site: &'a Site,
    samples: Vec<Sample>,
}

impl Client<'_> {
    async fn call(
        &mut self,
        method: &'static str,
        template: &'static str,
        path: &str,
        token: Option<&str>,
        body: Option<Json>,
    ) -> (u16, reqwest::header::HeaderMap, Json) {
        let url = format!("{}/api/v1{path}", self.site.url);
        let mut r = match method {
            "get" => self.site.http.get(url),
            _ => self.site.http.post(url),
        };
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body: Json = res.json().await.expect("a JSON body");
        self.samples.push(Sample {
            path: template,
            method,
            status,
            body: body.clone(),
        });
        (status, headers, body)
    }
}

/// Creates a token for `user` in the site's state database.
pub(crate) fn token(site: &Site, user: &str) -> (i64, String) {
    let log = site
        .server
        .svc
        .rt
        .engine
        .warehouse
        .audit_log()
        .cloned()
        .expect("state database");
    cortex::api::tokens::Tokens::open(log)
        .expect("tokens")
        .create(user, "test")
        .expect("create")
}

pub(crate) async fn api_site(rate: u32) -> Site {
    api_site_for(rate, EXTENSION).await
}

/// A demo site whose extension origin is `extension`.
pub(crate) async fn api_site_for(rate: u32, extension: &str) -> Site {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = demo_config(&state);
    config.server.api.rate_per_minute = rate;
    config.server.api.extension_origin = Some(extension.into());
    start(config, Some(state)).await
}

fn code(body: &Json) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_v1_serves_each_endpoint_under_the_policy_and_matches_its_openapi() {
    let site = api_site(1000).await;
    let (_, dana) = token(&site, DANA);
    let (_, ava) = token(&site, AVA);
    let mut c = Client {
        site: &site,
        samples: Vec::new(),
    };

    // Catalogs: Ava (a CSM) is not allowed pipeline metrics; Dana (VP Sales) is.
    let (s, _, m) = c
        .call("get", "/metrics", "/metrics", Some(&dana), None)
        .await;
    assert_eq!(s, 200, "{m}");
    let names = |m: &Json| -> Vec<String> {
        m["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .map(|x| x["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert!(names(&m).contains(&"pipeline_arr".to_string()));
    let (_, _, m_ava) = c
        .call("get", "/metrics", "/metrics", Some(&ava), None)
        .await;
    assert!(!names(&m_ava).contains(&"pipeline_arr".to_string()));
    assert!(names(&m_ava).contains(&"arr".to_string()));
    let (s, _, d) = c
        .call("get", "/metrics/{name}", "/metrics/arr", Some(&ava), None)
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["name"], "arr");
    assert!(d["dimensions"]
        .as_array()
        .expect("dims")
        .iter()
        .any(|x| x["name"] == "segment"));
    let (s, _, e) = c
        .call(
            "get",
            "/metrics/{name}",
            "/metrics/pipeline_arr",
            Some(&ava),
            None,
        )
        .await;
    assert_eq!((s, code(&e)), (403, "metric_forbidden"), "{e}");
    let (s, _, e) = c
        .call("get", "/metrics/{name}", "/metrics/arrr", Some(&ava), None)
        .await;
    assert_eq!((s, code(&e)), (404, "unknown_metric"), "{e}");
    assert!(e["error"]["message"].as_str().expect("msg").contains("arr"));

    // Structured queries: the policy scopes Ava's rows to her own merchants (checked
    // against hand-written SQL) and refuses her pipeline metrics.
    let q =
        json!({"metrics": ["merchants"], "group_by": ["segment"], "order": [{"field": "segment"}]});
    let (s, _, all) = c
        .call("post", "/query", "/query", Some(&dana), Some(q.clone()))
        .await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(
        all["rows"],
        demo_sql("SELECT segment, COUNT(merchant_id) FROM merchants WHERE churned_date IS NULL GROUP BY 1 ORDER BY 1")
    );
    assert!(all["sql"].as_str().expect("sql").contains("merchants"));
    assert_eq!(all["provenance"]["metrics"][0]["name"], "merchants");
    let (s, _, mine) = c
        .call("post", "/query", "/query", Some(&ava), Some(q.clone()))
        .await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(
        mine["rows"],
        demo_sql("SELECT segment, COUNT(merchant_id) FROM merchants WHERE churned_date IS NULL AND csm_owner = 'Ava Thompson' GROUP BY 1 ORDER BY 1")
    );
    assert!(
        mine["query"]["filters"]
            .to_string()
            .contains("Ava Thompson"),
        "the query as run shows the row filter: {}",
        mine["query"]
    );
    let (s, _, e) = c
        .call(
            "post",
            "/query",
            "/query",
            Some(&ava),
            Some(json!({"metrics": ["pipeline_arr"]})),
        )
        .await;
    assert_eq!((s, code(&e)), (403, "metric_forbidden"), "{e}");
    let (s, _, e) = c
        .call(
            "post",
            "/query",
            "/query",
            Some(&dana),
            Some(json!({"metrics": ["arr"], "group_by": ["no_such_dimension"]})),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "invalid_query"), "{e}");
    let (s, _, e) = c
        .call(
            "post",
            "/query",
            "/query",
            Some(&dana),
            Some(json!({"metrics": ["arr"], "sql": "DROP TABLE merchants"})),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "invalid_request"), "{e}");
    // The warehouse audit log names the person behind the token.
    let log = site
        .server
        .svc
        .rt
        .engine
        .warehouse
        .audit_log()
        .expect("log");
    assert!(log
        .recent(50)
        .expect("audit")
        .iter()
        .any(|r| r.requester == format!("web:{AVA}")));

    // Ask: the same answer contract as the web and Slack, a follow-up in a conversation.
    let (s, _, a) = c
        .call(
            "post",
            "/ask",
            "/ask",
            Some(&dana),
            Some(json!({"question": "What's our ARR by segment?"})),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["answer"]["status"], "answered", "{a}");
    let id = a["id"].as_str().expect("id").to_string();
    assert!(a["permalink"]
        .as_str()
        .expect("permalink")
        .ends_with(&format!("/a/{id}")));
    // The answer's own query, run as a structured query, gives the same rows.
    let (_, _, same) = c
        .call(
            "post",
            "/query",
            "/query",
            Some(&dana),
            Some(a["answer"]["query"].clone()),
        )
        .await;
    assert_eq!(same["rows"], a["answer"]["rows"]);
    let conv = a["conversation"]
        .as_str()
        .expect("conversation")
        .to_string();
    let (s, _, f) = c
        .call(
            "post",
            "/ask",
            "/ask",
            Some(&dana),
            Some(json!({"question": "and for Enterprise?", "conversation": conv})),
        )
        .await;
    assert_eq!(s, 200, "{f}");
    assert!(
        f["answer"]["provenance"]["notes"]
            .to_string()
            .contains("follow-up"),
        "{f}"
    );
    let (s, _, e) = c
        .call(
            "post",
            "/ask",
            "/ask",
            Some(&dana),
            Some(json!({"question": "  "})),
        )
        .await;
    assert_eq!((s, code(&e)), (400, "invalid_request"));

    // Recorded answers: JSON, PDF and HTML for the asker; not found for someone the policy
    // does not let see it.
    let (s, _, got) = c
        .call(
            "get",
            "/answers/{id}",
            &format!("/answers/{id}"),
            Some(&dana),
            None,
        )
        .await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["answer"]["rows"], a["answer"]["rows"]);
    assert!(got["created_at"].is_string());
    let pdf = site
        .http
        .get(format!("{}/api/v1/answers/{id}.pdf", site.url))
        .bearer_auth(&dana)
        .send()
        .await
        .expect("pdf");
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.expect("bytes").starts_with(b"%PDF"));
    let page = site
        .http
        .get(format!("{}/api/v1/answers/{id}.html", site.url))
        .bearer_auth(&dana)
        .send()
        .await
        .expect("html");
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("text");
    assert!(
        page.contains("<html") && page.contains("Enterprise"),
        "{}",
        &page[..200.min(page.len())]
    );
    let (_, _, p) = c
        .call(
            "post",
            "/ask",
            "/ask",
            Some(&dana),
            Some(json!({"question": "pipeline ARR by stage"})),
        )
        .await;
    assert_eq!(p["answer"]["status"], "answered", "{p}");
    let pid = p["id"].as_str().expect("id");
    let (s, _, e) = c
        .call(
            "get",
            "/answers/{id}",
            &format!("/answers/{pid}"),
            Some(&ava),
            None,
        )
        .await;
    assert_eq!((s, code(&e)), (404, "not_found"));

    // Skills: listed with typed parameters, run with them, wrong ones refused.
    let (s, _, sk) = c.call("get", "/skills", "/skills", Some(&ava), None).await;
    assert_eq!(s, 200);
    let okr = sk["skills"]
        .as_array()
        .expect("skills")
        .iter()
        .find(|x| x["name"] == "okr_progress")
        .expect("okr_progress");
    assert!(
        okr["params"].to_string().contains("\"type\":\"okr\""),
        "{okr}"
    );
    let (s, _, r) = c
        .call(
            "post",
            "/skills/{name}/run",
            "/skills/okr_progress/run",
            Some(&dana),
            Some(json!({"params": {"okr": "1"}})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["answer"]["skill"], "okr_progress");
    assert_eq!(r["answer"]["status"], "answered", "{r}");
    let (s, _, again) = c
        .call(
            "get",
            "/answers/{id}",
            &format!("/answers/{}", r["id"].as_str().expect("id")),
            Some(&dana),
            None,
        )
        .await;
    assert_eq!(s, 200, "a skill run is recorded like any answer: {again}");
    for (params, status, want) in [
        (json!({"okr": "99"}), 400, "invalid_param"),
        (json!({"okr": "1", "colour": "red"}), 400, "unknown_param"),
    ] {
        let (s, _, e) = c
            .call(
                "post",
                "/skills/{name}/run",
                "/skills/okr_progress/run",
                Some(&dana),
                Some(json!({ "params": params })),
            )
            .await;
        assert_eq!((s, code(&e)), (status, want), "{e}");
    }
    let (s, _, e) = c
        .call(
            "post",
            "/skills/{name}/run",
            "/skills/nope/run",
            Some(&dana),
            Some(json!({})),
        )
        .await;
    assert_eq!((s, code(&e)), (404, "unknown_skill"));

    // Authentication: missing, malformed, unknown and revoked tokens.
    let (s, _, e) = c.call("get", "/metrics", "/metrics", None, None).await;
    assert_eq!((s, code(&e)), (401, "unauthenticated"));
    let (s, _, e) = c
        .call("get", "/metrics", "/metrics", Some("ctx_not-a-token"), None)
        .await;
    assert_eq!((s, code(&e)), (401, "invalid_token"));
    let (gone_id, gone) = token(&site, DANA);
    let (s, _, _) = c
        .call("get", "/metrics", "/metrics", Some(&gone), None)
        .await;
    assert_eq!(s, 200);
    let out = Command::new(cortex_bin())
        .args(["token", "revoke", &gone_id.to_string()])
        .arg("--project")
        .arg(project_dir())
        .env(
            "CORTEX_STATE_DB",
            site.server.svc.rt.engine.config.state_db.clone(),
        )
        .output()
        .expect("cortex token revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, _, e) = c
        .call("get", "/metrics", "/metrics", Some(&gone), None)
        .await;
    assert_eq!((s, code(&e)), (401, "token_revoked"));

    // The OpenAPI document is public and describes every response above.
    let doc: Json = site
        .http
        .get(format!("{}/api/v1/openapi.json", site.url))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    validate(&doc, &c.samples);
}

/// Runs the Python `jsonschema` validator over the samples.
fn validate(doc: &Json, samples: &[Sample]) {
    let input = json!({
        "doc": doc,
        "samples": samples.iter().map(|s| json!({"path": s.path, "method": s.method, "status": s.status, "body": s.body})).collect::<Vec<_>>(),
    });
    let script = project_dir().join("tests/it/openapi_validate.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with the jsonschema package; .ci/run installs it)");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.to_string().as_bytes())
            .expect("write");
    }
    let out = child.wait_with_output().expect("validator");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "responses that do not match the OpenAPI document:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("validated {} responses", samples.len())),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rate_limits_per_token_and_allows_cors_only_for_the_extension() {
    let site = api_site(3).await;
    let (_, t1) = token(&site, DANA);
    let (_, t2) = token(&site, DANA);
    let get = |t: &str, origin: Option<&str>| {
        let mut r = site
            .http
            .get(format!("{}/api/v1/skills", site.url))
            .bearer_auth(t);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    for _ in 0..3 {
        assert_eq!(get(&t1, None).await.expect("get").status(), 200);
    }
    let limited = get(&t1, None).await.expect("get");
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&wait), "{wait}");
    let body: Json = limited.json().await.expect("json");
    assert_eq!(code(&body), "rate_limited");
    // Another token (even the same person's) has its own bucket.
    assert_eq!(get(&t2, None).await.expect("get").status(), 200);

    // CORS: the extension's origin may call and read; any other origin gets no CORS
    // headers, and its requests are refused.
    let allowed = get(&t2, Some(EXTENSION)).await.expect("get");
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], EXTENSION);
    let evil = get(&t2, Some("https://evil.example")).await.expect("get");
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let preflight = |origin: &str| {
        site.http
            .request(reqwest::Method::OPTIONS, format!("{}/api/v1/ask", site.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight(EXTENSION).await.expect("preflight");
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], EXTENSION);
    assert!(ok.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .contains("authorization"));
    let no = preflight("https://evil.example").await.expect("preflight");
    assert_eq!(no.status(), 403);
    assert!(no.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_trusts_the_proxy_identity_like_the_web_site() {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = demo_config(&state);
    config.server.trusted_proxies = vec!["127.0.0.1".into()];
    let site = start(config, Some(state)).await;
    let metrics = |user: Option<&str>| {
        let mut r = site.http.get(format!("{}/api/v1/metrics", site.url));
        if let Some(u) = user {
            r = r.header("x-forwarded-user", u);
        }
        r.send()
    };
    let r = metrics(Some(AVA)).await.expect("get");
    assert_eq!(r.status(), 200);
    let body: Json = r.json().await.expect("json");
    assert!(!body.to_string().contains("pipeline_arr"), "Ava's catalog");
    // Without the header there is nobody to answer as (the site's default user is not
    // used by the API).
    let r = metrics(None).await.expect("get");
    assert_eq!(r.status(), 401);
    // Someone the policy does not know is refused with a code.
    let r = metrics(Some("stranger@example.com")).await.expect("get");
    assert_eq!(r.status(), 403);
    let body: Json = r.json().await.expect("json");
    assert_eq!(code(&body), "unknown_identity");
}

#[test]
fn token_cli_creates_lists_and_never_prints_the_secret_again() {
    let state = tempfile::tempdir().expect("tmp");
    let db = state.path().join("state.sqlite");
    let run = |args: &[&str]| {
        let out = Command::new(cortex_bin())
            .args(args)
            .arg("--project")
            .arg(project_dir())
            .env("CORTEX_STATE_DB", &db)
            .output()
            .expect("cortex");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, secret, err) = run(&["token", "create", "--user", AVA, "--name", "laptop"]);
    assert!(ok, "{err}");
    let secret = secret.trim();
    assert!(secret.starts_with("ctx_") && secret.len() == 68, "{secret}");
    let (ok, list, _) = run(&["token", "list"]);
    assert!(ok);
    assert!(list.contains(AVA) && list.contains("laptop"), "{list}");
    assert!(
        !list.contains(&secret[4..]),
        "the list never shows the secret"
    );
    let (ok, _, err) = run(&["token", "create", "--user", "nobody@example.com"]);
    assert!(!ok && err.contains("people.yaml"), "{err}");
    let (ok, _, err) = run(&["token", "revoke", "999"]);
    assert!(!ok && err.contains("999"), "{err}");
}
