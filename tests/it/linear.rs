//! Linear end to end against a fake Linear GraphQL API on 127.0.0.1 (axum): it refuses
//! queries with inline values (everything must be a variable), records every request and
//! its Authorization header, keeps the issues it created by id, and can be told to fail
//! (429 with Retry-After, 5xx, a hang, a refused connection).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use cortex::actions::linear::{IssueDraft, LinearDeliverer, KIND};
use cortex::config::{LinearConfig, Secret};
use cortex::outbox::{Deliverers, Outbox, OutboxSettings, WriteState};
use serde_json::{json, Value};

use crate::websec::{demo_config, start, Browser, Site};

/// The personal API key the tests configure; it must never show in an error.
pub(crate) const KEY: &str = "lin_api_TESTSECRET0123456789";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub auth: String,
    pub query: String,
    pub variables: Value,
}

/// What the fake does with the next requests.
#[derive(Debug, Clone)]
pub(crate) enum Fail {
    /// Answer with this status (and `Retry-After` when given).
    Status(u16, Option<u64>),
    /// Never answer.
    Hang,
}

#[derive(Default)]
pub(crate) struct FakeState {
    pub seen: Mutex<Vec<Seen>>,
    /// Issues by id, in creation order of their numbers.
    pub issues: Mutex<BTreeMap<String, Value>>,
    pub fail: Mutex<VecDeque<Fail>>,
    /// Create the issue, then never answer (a process killed mid-send sees no reply).
    pub hang_after_create: AtomicBool,
    /// Queries that carried inline values instead of variables.
    pub inline_values: Mutex<Vec<String>>,
    pub created: tokio::sync::Notify,
}

pub(crate) struct FakeLinear {
    pub state: Arc<FakeState>,
    pub url: String,
}

impl FakeLinear {
    pub(crate) fn issues(&self) -> Vec<Value> {
        self.state
            .issues
            .lock()
            .expect("lock")
            .values()
            .cloned()
            .collect()
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("lock").clone()
    }

    pub(crate) fn creates(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.query.contains("issueCreate"))
            .count()
    }

    pub(crate) fn fail_next(&self, f: Fail) {
        self.state.fail.lock().expect("lock").push_back(f);
    }

    /// No request ever carried an inline value.
    pub(crate) fn assert_variables_only(&self) {
        let bad = self.state.inline_values.lock().expect("lock").clone();
        assert!(bad.is_empty(), "queries with inline values: {bad:?}");
        assert!(!self.seen().is_empty());
    }
}

fn gql_error(message: &str, kind: &str) -> Value {
    json!({"errors": [{"message": message, "extensions": {"type": kind, "code": "INVALID_INPUT", "userPresentableMessage": message}}]})
}

async fn graphql(
    State(s): State<Arc<FakeState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let query = req["query"].as_str().unwrap_or_default().to_string();
    let variables = req["variables"].clone();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    s.seen.lock().expect("lock").push(Seen {
        auth: auth.clone(),
        query: query.clone(),
        variables: variables.clone(),
    });
    // Values belong in variables: a quote or a number inside the query text is an inline one.
    let inline_number = query
        .split(':')
        .skip(1)
        .any(|p| p.trim_start().starts_with(|c: char| c.is_ascii_digit()));
    if query.contains('"') || inline_number {
        s.inline_values.lock().expect("lock").push(query.clone());
        return (
            StatusCode::BAD_REQUEST,
            Json(gql_error("inline values are not allowed", "invalid input")),
        )
            .into_response();
    }
    let fail = s.fail.lock().expect("lock").pop_front();
    match fail {
        Some(Fail::Status(code, retry)) => {
            let mut h = HeaderMap::new();
            if let Some(r) = retry {
                h.insert("retry-after", r.to_string().parse().expect("header"));
            }
            let status = StatusCode::from_u16(code).expect("status");
            return (
                status,
                h,
                Json(json!({"errors": [{"message": "failing on purpose"}]})),
            )
                .into_response();
        }
        Some(Fail::Hang) => {
            std::future::pending::<()>().await;
        }
        None => {}
    }
    if auth != KEY && auth != "Bearer oauth-token-1" {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"errors": [{"message": "Authentication required"}]})),
        )
            .into_response();
    }
    let data = if query.contains("teams(") {
        let key = variables["key"].as_str().unwrap_or_default();
        let nodes: Vec<Value> = ["ENG", "REV", "CS"]
            .iter()
            .filter(|k| **k == key)
            .map(|k| json!({"id": format!("team-{}", k.to_lowercase()), "key": k, "name": k}))
            .collect();
        json!({"teams": {"nodes": nodes}})
    } else if query.contains("users(") {
        let email = variables["email"].as_str().unwrap_or_default();
        let nodes: Vec<Value> = if email == "dana.whitfield@example.com" {
            vec![json!({"id": "user-dana", "email": email, "name": "Dana Whitfield"})]
        } else {
            vec![]
        };
        json!({"users": {"nodes": nodes}})
    } else if query.contains("issueCreate") {
        let input = &variables["input"];
        let title = input["title"].as_str().unwrap_or_default();
        if title.trim().is_empty() || title.contains("INVALID") {
            // Echoes the credential, as a careless service might: Cortex must redact it.
            return Json(gql_error(
                &format!("Argument Validation Error: title is not acceptable (auth {auth})"),
                "invalid input",
            ))
            .into_response();
        }
        let id = input["id"].as_str().unwrap_or_default().to_string();
        let issue = {
            let mut issues = s.issues.lock().expect("lock");
            if issues.contains_key(&id) {
                return Json(gql_error(
                    "Entity with this id already exists",
                    "invalid input",
                ))
                .into_response();
            }
            let n = issues.len() + 1;
            let team = input["teamId"].as_str().unwrap_or("team-eng");
            let prefix = team.trim_start_matches("team-").to_uppercase();
            let issue = json!({
                "id": id, "identifier": format!("{prefix}-{n}"),
                "url": format!("https://linear.app/acme/issue/{prefix}-{n}"),
                "title": title, "state": {"name": "Todo"}, "input": input,
            });
            issues.insert(id.clone(), issue.clone());
            issue
        };
        s.created.notify_waiters();
        if s.hang_after_create.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        json!({"issueCreate": {"success": true, "issue": issue}})
    } else if query.contains("issue(") {
        let id = variables["id"].as_str().unwrap_or_default();
        match s.issues.lock().expect("lock").get(id) {
            Some(i) => json!({"issue": i}),
            None => return Json(gql_error("Entity not found", "invalid input")).into_response(),
        }
    } else {
        return (
            StatusCode::BAD_REQUEST,
            Json(gql_error("unknown query", "invalid input")),
        )
            .into_response();
    };
    Json(json!({"data": data})).into_response()
}

/// Starts the fake on `addr` (port 0: any).
pub(crate) async fn start_fake_on(addr: &str, state: Arc<FakeState>) -> FakeLinear {
    let app = Router::new()
        .route("/graphql", post(graphql))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake linear") });
    FakeLinear {
        state,
        url: format!("http://{addr}/graphql"),
    }
}

pub(crate) async fn start_fake() -> FakeLinear {
    start_fake_on("127.0.0.1:0", Arc::default()).await
}

pub(crate) fn linear_config(url: &str, key: &str, timeout: Duration) -> LinearConfig {
    LinearConfig {
        api_key: Secret::new(key),
        base_url: url.to_string(),
        default_team: "ENG".into(),
        teams: [("Revenue".to_string(), "REV".to_string())]
            .into_iter()
            .collect(),
        timeout,
    }
}

/// An outbox on its own state database with the Linear deliverer, retrying quickly.
struct Rig {
    _dir: tempfile::TempDir,
    outbox: Outbox,
    deliverers: Deliverers,
}

fn rig(url: &str, key: &str, timeout: Duration) -> Rig {
    let dir = tempfile::tempdir().expect("tmp");
    let log = cortex::warehouse::AuditLog::open(&dir.path().join("state.sqlite")).expect("log");
    let outbox = Outbox::open(log)
        .expect("outbox")
        .with_settings(OutboxSettings {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            lease: Duration::from_secs(10),
            poll: Duration::from_millis(50),
        })
        .with_secrets(vec![key.to_string()]);
    let cfg = linear_config(url, key, timeout);
    let deliverers = Deliverers::new().with(Arc::new(
        LinearDeliverer::new(&cfg, None).expect("deliverer"),
    ));
    Rig {
        _dir: dir,
        outbox,
        deliverers,
    }
}

fn draft(title: &str) -> Value {
    serde_json::to_value(IssueDraft {
        team_key: "ENG".into(),
        title: title.into(),
        description: "**Headline**".into(),
        priority: 2,
        assignee_email: Some("dana.whitfield@example.com".into()),
        notify: None,
    })
    .expect("json")
}

#[tokio::test]
async fn an_issue_is_created_once_with_variables_and_a_personal_key_as_is() {
    let fake = start_fake().await;
    let r = rig(&fake.url, KEY, Duration::from_secs(5));
    let key = "linear:a1:0";
    r.outbox
        .enqueue(KIND, key, &draft("Close the gap"))
        .expect("enqueue");
    assert!(
        r.outbox
            .enqueue(KIND, key, &draft("Close the gap"))
            .expect("again")
            .existing
    );
    assert_eq!(
        r.outbox
            .deliver_due(&r.deliverers, Utc::now())
            .await
            .expect("pass"),
        1
    );
    let rec = r.outbox.get(key).expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Done, "{rec:?}");
    let result = rec.result.expect("result");
    assert_eq!(result["identifier"], "ENG-1");
    assert_eq!(result["url"], "https://linear.app/acme/issue/ENG-1");
    assert_eq!(result["id"], cortex::outbox::uuid_from_key(key));
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    let input = &issues[0]["input"];
    assert_eq!(input["teamId"], "team-eng");
    assert_eq!(input["assigneeId"], "user-dana");
    assert_eq!(input["priority"], 2);
    assert_eq!(input["description"], "**Headline**");
    // Values travel as variables: the team key, the email, the client-chosen id.
    let seen = fake.seen();
    assert!(seen.iter().any(|s| s.variables["key"] == "ENG"));
    assert!(seen
        .iter()
        .any(|s| s.variables["email"] == "dana.whitfield@example.com"));
    assert!(seen
        .iter()
        .any(|s| s.variables["input"]["id"] == cortex::outbox::uuid_from_key(key)));
    // A personal key goes as is, never as Bearer.
    assert!(fake.seen().iter().all(|s| s.auth == KEY));
    fake.assert_variables_only();
    // Nothing more to do: a second pass sends nothing.
    assert_eq!(
        r.outbox
            .deliver_due(&r.deliverers, Utc::now())
            .await
            .expect("pass"),
        0
    );
    assert_eq!(fake.creates(), 1);
}

#[tokio::test]
async fn an_oauth_token_goes_as_bearer() {
    let fake = start_fake().await;
    let r = rig(&fake.url, "oauth:oauth-token-1", Duration::from_secs(5));
    r.outbox
        .enqueue(KIND, "linear:o:0", &draft("OAuth"))
        .expect("enqueue");
    r.outbox
        .deliver_due(&r.deliverers, Utc::now())
        .await
        .expect("pass");
    assert_eq!(
        r.outbox.get("linear:o:0").expect("get").expect("row").state,
        WriteState::Done
    );
    assert!(
        fake.seen().iter().all(|s| s.auth == "Bearer oauth-token-1"),
        "{:?}",
        fake.seen()
    );
}

#[tokio::test]
async fn a_validation_error_is_a_dead_letter_with_linears_message_and_no_secret() {
    let fake = start_fake().await;
    let r = rig(&fake.url, KEY, Duration::from_secs(5));
    r.outbox
        .enqueue(KIND, "linear:v:0", &draft("INVALID title"))
        .expect("enqueue");
    r.outbox
        .deliver_due(&r.deliverers, Utc::now())
        .await
        .expect("pass");
    let rec = r.outbox.get("linear:v:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Dead, "dead at once: {rec:?}");
    assert_eq!(rec.attempts, 1);
    let err = rec.last_error.expect("error");
    assert!(
        err.contains("Argument Validation Error: title is not acceptable"),
        "{err}"
    );
    assert!(!err.contains(KEY) && err.contains("[redacted]"), "{err}");
    assert!(fake.issues().is_empty());
}

#[tokio::test]
async fn rate_limits_wait_as_long_as_linear_says_and_5xx_is_retried() {
    let fake = start_fake().await;
    let r = rig(&fake.url, KEY, Duration::from_secs(5));
    fake.fail_next(Fail::Status(429, Some(30)));
    r.outbox
        .enqueue(KIND, "linear:r:0", &draft("Rate limited"))
        .expect("enqueue");
    let t0 = Utc::now();
    r.outbox.deliver_due(&r.deliverers, t0).await.expect("pass");
    let rec = r.outbox.get("linear:r:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Pending);
    assert!(
        rec.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("429"),
        "{rec:?}"
    );
    // Backoff alone would be under a second: the 30 s Retry-After wins.
    let next = chrono::NaiveDateTime::parse_from_str(&rec.next_at, "%Y-%m-%d %H:%M:%S%.f")
        .expect("time")
        .and_utc();
    assert!(next >= t0 + chrono::Duration::seconds(30), "{next} vs {t0}");
    assert_eq!(
        r.outbox
            .deliver_due(&r.deliverers, t0 + chrono::Duration::seconds(29))
            .await
            .expect("pass"),
        0,
        "not before Retry-After"
    );
    // Then a 503, then success.
    fake.fail_next(Fail::Status(503, None));
    let t1 = t0 + chrono::Duration::seconds(31);
    assert_eq!(
        r.outbox.deliver_due(&r.deliverers, t1).await.expect("pass"),
        1
    );
    let rec = r.outbox.get("linear:r:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Pending);
    assert!(
        rec.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("503"),
        "{rec:?}"
    );
    r.outbox
        .deliver_due(&r.deliverers, t1 + chrono::Duration::seconds(5))
        .await
        .expect("pass");
    let rec = r.outbox.get("linear:r:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Done, "{rec:?}");
    assert_eq!(rec.attempts, 3);
    assert_eq!(fake.issues().len(), 1);
}

#[tokio::test]
async fn a_timeout_is_retried_and_the_issue_is_filed_once() {
    let fake = start_fake().await;
    let r = rig(&fake.url, KEY, Duration::from_millis(300));
    fake.fail_next(Fail::Hang);
    r.outbox
        .enqueue(KIND, "linear:t:0", &draft("Slow Linear"))
        .expect("enqueue");
    let t0 = Utc::now();
    r.outbox.deliver_due(&r.deliverers, t0).await.expect("pass");
    let rec = r.outbox.get("linear:t:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Pending);
    assert!(
        rec.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("did not answer"),
        "{rec:?}"
    );
    r.outbox
        .deliver_due(&r.deliverers, t0 + chrono::Duration::seconds(5))
        .await
        .expect("pass");
    assert_eq!(
        r.outbox.get("linear:t:0").expect("get").expect("row").state,
        WriteState::Done
    );
    assert_eq!(fake.issues().len(), 1);
}

#[tokio::test]
async fn a_server_down_for_a_while_gets_the_issue_once_it_is_back() {
    // A port nothing listens on yet.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = probe.local_addr().expect("addr");
    drop(probe);
    let url = format!("http://{addr}/graphql");
    let r = rig(&url, KEY, Duration::from_secs(2));
    r.outbox
        .enqueue(KIND, "linear:d:0", &draft("Linear was down"))
        .expect("enqueue");
    let mut t = Utc::now();
    for _ in 0..2 {
        r.outbox.deliver_due(&r.deliverers, t).await.expect("pass");
        let rec = r.outbox.get("linear:d:0").expect("get").expect("row");
        assert_eq!(rec.state, WriteState::Pending, "{rec:?}");
        assert!(
            rec.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("could not connect"),
            "{rec:?}"
        );
        t += chrono::Duration::seconds(5);
    }
    let fake = start_fake_on(&addr.to_string(), Arc::default()).await;
    r.outbox.deliver_due(&r.deliverers, t).await.expect("pass");
    let rec = r.outbox.get("linear:d:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Done, "{rec:?}");
    assert_eq!(rec.attempts, 3);
    // Later passes send nothing again.
    r.outbox
        .deliver_due(&r.deliverers, t + chrono::Duration::seconds(60))
        .await
        .expect("pass");
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(fake.creates(), 1);
}

#[tokio::test]
async fn a_retry_after_a_lost_reply_reads_the_issue_back_instead_of_creating_another() {
    let fake = start_fake().await;
    let r = rig(&fake.url, KEY, Duration::from_millis(500));
    // Linear creates the issue but the reply never comes (as if the process died).
    fake.state.hang_after_create.store(true, Ordering::SeqCst);
    r.outbox
        .enqueue(KIND, "linear:k:0", &draft("Lost reply"))
        .expect("enqueue");
    let t0 = Utc::now();
    r.outbox.deliver_due(&r.deliverers, t0).await.expect("pass");
    assert_eq!(
        r.outbox.get("linear:k:0").expect("get").expect("row").state,
        WriteState::Pending
    );
    assert_eq!(fake.issues().len(), 1);
    fake.state.hang_after_create.store(false, Ordering::SeqCst);
    r.outbox
        .deliver_due(&r.deliverers, t0 + chrono::Duration::seconds(5))
        .await
        .expect("pass");
    let rec = r.outbox.get("linear:k:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Done, "{rec:?}");
    assert_eq!(rec.result.expect("result")["identifier"], "ENG-1");
    assert_eq!(fake.issues().len(), 1, "the same id: no second issue");
    assert_eq!(fake.creates(), 2);
}

// ---- The web site's "File Linear task" ----

/// The demo site with Linear pointed at the fake, its outbox running.
pub(crate) async fn linear_site(fake: &FakeLinear) -> Site {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = demo_config(&state);
    config.linear = Some(linear_config(&fake.url, KEY, Duration::from_secs(5)));
    config.outbox.base_delay = Duration::from_millis(100);
    config.outbox.max_delay = Duration::from_millis(500);
    config.server.trusted_proxies = vec!["127.0.0.0/8".into()];
    let site = start(config, Some(state)).await;
    tokio::spawn(
        site.server
            .svc
            .outbox
            .clone()
            .run(site.server.deliverers.clone(), std::future::pending()),
    );
    site
}

/// POSTs a form to `path` as the browser.
pub(crate) async fn post_form(
    site: &Site,
    b: &Browser,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let r = site
        .http
        .post(format!("{}{path}", site.url))
        .header("cookie", &b.cookie)
        .header("origin", &site.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).expect("form"))
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_answer_page_files_a_proposed_task_once_with_its_provenance() {
    let fake = start_fake().await;
    let site = linear_site(&fake).await;
    let b = site.browser(vec![]).await;
    let page = site
        .ask(
            &b,
            "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        )
        .await;
    let id = cortex::bench::load::answer_id(&page).expect("an answer");
    let answer = site
        .server
        .svc
        .state
        .load_answer(&id)
        .expect("read")
        .expect("stored");
    assert_eq!(answer.skill, "okr_progress");
    assert!(
        !answer.tasks.is_empty(),
        "the OKR answer proposes tasks: {:?}",
        answer.recommendations
    );
    let (status, _, permalink) = site.get(&format!("/a/{id}"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        permalink.matches("File Linear task</button>").count(),
        answer.tasks.len(),
        "{permalink}"
    );
    // The asker (Dana, Revenue) is preselected as the REV team.
    assert!(
        permalink.contains("<option value=\"REV\" selected>"),
        "{permalink}"
    );

    // Without a CSRF token, or from another site: refused, nothing queued.
    let (status, _) = post_form(&site, &b, &format!("/a/{id}/tasks/0"), &[("title", "x")]).await;
    assert_eq!(status, 403);
    assert!(site.server.svc.outbox.list(10).expect("list").is_empty());

    let form = [("csrf", b.token.as_str())];
    let (status, filed) = post_form(&site, &b, &format!("/a/{id}/tasks/0"), &form).await;
    assert_eq!(status, 200, "{filed}");
    assert!(
        filed.contains("Filed <a href=\"https://linear.app/acme/issue/REV-1\">REV-1</a>"),
        "{filed}"
    );
    // A double click: the same issue, nothing new at Linear.
    let (_, again) = post_form(&site, &b, &format!("/a/{id}/tasks/0"), &form).await;
    assert!(again.contains("REV-1"), "{again}");
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(fake.creates(), 1);
    fake.assert_variables_only();

    let issue = &fake.issues()[0];
    let input = &issue["input"];
    assert_eq!(input["title"], answer.tasks[0].title);
    assert_eq!(input["teamId"], "team-rev");
    assert_eq!(input["assigneeId"], "user-dana");
    let desc = input["description"].as_str().expect("description");
    assert!(
        desc.contains(answer.headline.trim()),
        "the headline: {desc}"
    );
    assert!(desc.contains(&answer.tasks[0].note), "the sentence: {desc}");
    assert!(
        desc.contains("**Key numbers**") && desc.contains("- Target: "),
        "{desc}"
    );
    assert!(
        desc.contains("- Metrics: ") && desc.contains("(`arr`)"),
        "{desc}"
    );
    let hash = cortex::actions::task::sql_hash(&answer).expect("SQL behind the answer");
    assert!(desc.contains(&format!("- SQL hash: `{hash}`")), "{desc}");
    let public = site.server.svc.rt.engine.config.server.base_url();
    assert!(
        desc.contains(&format!("{public}/a/{id}")),
        "the permalink: {desc}"
    );
    assert!(desc.contains("Asked by Dana Whitfield"), "{desc}");

    // The page now shows the issue instead of the form for that task.
    let (_, _, permalink) = site.get(&format!("/a/{id}"), &[]).await;
    assert!(
        permalink.contains("Filed <a href=\"https://linear.app/acme/issue/REV-1\">REV-1</a>"),
        "{permalink}"
    );
    assert_eq!(
        permalink.matches("File Linear task</button>").count(),
        answer.tasks.len() - 1
    );
    let rec = site
        .server
        .svc
        .outbox
        .get(&format!("linear:{id}:0"))
        .expect("get")
        .expect("row");
    assert_eq!(rec.state, WriteState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_shows_linears_message_on_the_audit_page_without_the_key() {
    let fake = start_fake().await;
    let site = linear_site(&fake).await;
    let b = site.browser(vec![]).await;
    let page = site
        .ask(
            &b,
            "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        )
        .await;
    let id = cortex::bench::load::answer_id(&page).expect("an answer");
    let form = [("csrf", b.token.as_str()), ("title", "INVALID on purpose")];
    let (status, filed) = post_form(&site, &b, &format!("/a/{id}/tasks/0"), &form).await;
    assert_eq!(status, 200, "{filed}");
    assert!(
        filed.contains("Filing failed: Linear refused the issue: Argument Validation Error"),
        "{filed}"
    );
    assert!(!filed.contains(KEY), "{filed}");
    // The audit page is for admins (the Data team), through the trusted proxy's header.
    let admin = [(
        "x-forwarded-user".to_string(),
        "noor.haddad@example.com".to_string(),
    )];
    let (status, _, audit) = site.get("/audit", &admin).await;
    assert_eq!(status, 200);
    assert!(audit.contains("Argument Validation Error"), "{audit}");
    assert!(
        audit.contains("outbox-failed") && audit.contains("[redacted]"),
        "{audit}"
    );
    assert!(!audit.contains(KEY), "the key never reaches a page");
    assert!(fake.issues().is_empty());
}

// ---- Slack: the button, the modal, the submission, the link in the thread ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_modal_files_one_issue_and_links_it_in_the_thread() {
    use crate::slack_bot::{
        button_value, click_payload, json_payload, mention, now, start_bot_with,
        start_fake as start_slack, urlencode, SECRET,
    };
    let slack = start_slack().await;
    let fake = start_fake().await;
    let url = fake.url.clone();
    let bot = start_bot_with(&slack, None, None, move |c| {
        c.linear = Some(linear_config(&url, KEY, Duration::from_secs(5)));
    })
    .await;
    tokio::spawn(
        bot.server
            .svc
            .outbox
            .clone()
            .run(bot.server.deliverers.clone(), std::future::pending()),
    );
    let thread = "1600000042.000100";
    bot.event(&mention(
        "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        "EvL1",
        thread,
        None,
    ))
    .await;
    bot.idle().await;
    let answer_msg = slack
        .calls("chat.update")
        .into_iter()
        .last()
        .expect("the answer");
    let value = button_value(&answer_msg, "cortex_file_linear_task_0");
    let (answer_id, index) = value.split_once('|').expect("answer|task");
    assert_eq!(index, "0");
    let answer = bot
        .server
        .svc
        .state
        .load_answer(answer_id)
        .expect("read")
        .expect("stored");
    assert!(!answer.tasks.is_empty());

    // The click opens the modal, prefilled.
    let mut click = click_payload("cortex_file_linear_task_0", &value);
    click["message"] =
        json!({"ts": answer_msg.body["ts"], "thread_ts": thread, "text": "x", "type": "message"});
    assert_eq!(bot.click_with(&click).await, 200);
    bot.idle().await;
    let opened = slack.calls("views.open");
    assert_eq!(opened.len(), 1, "one modal");
    assert_eq!(opened[0].body["trigger_id"], click["trigger_id"]);
    let view = opened[0].body["view"].clone();
    assert_eq!(view["callback_id"], "cortex_linear_task");
    assert_eq!(
        view["blocks"][0]["element"]["initial_value"],
        answer.tasks[0].title
    );
    let desc = view["blocks"][1]["element"]["initial_value"]
        .as_str()
        .expect("description");
    assert!(
        desc.contains(&format!("/a/{answer_id}")) && desc.contains("SQL hash"),
        "{desc}"
    );
    assert_eq!(
        view["blocks"][2]["element"]["initial_option"]["value"], "REV",
        "the asker's team"
    );
    assert_eq!(
        view["blocks"][3]["element"]["initial_option"]["value"],
        answer.tasks[0].priority.to_string()
    );

    // The person edits the title and submits: Slack's view_submission sample with this view.
    let mut sub = json_payload("bolt-python/interactive.view_submission.json");
    let mut v = view.clone();
    for (k, x) in [
        ("id", "V111"),
        ("team_id", "T111"),
        ("hash", "1596530361.3wRYuk3R"),
        ("app_id", "A111"),
        ("bot_id", "B111"),
        ("root_view_id", "V111"),
    ] {
        v[k] = json!(x);
    }
    v["state"] = json!({"values": {
        "task_title": {"title": {"type": "plain_text_input", "value": "Close the Mid-Market gap"}},
        "task_description": {"description": {"type": "plain_text_input", "value": desc}},
        "task_team": {"team": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "REV"}, "value": "REV"}}},
        "task_priority": {"priority": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "High"}, "value": "2"}}},
    }});
    sub["view"] = v;
    let form = format!("payload={}", urlencode(&sub.to_string()));
    let submit = || {
        bot.send(
            "/slack/interactive",
            "application/x-www-form-urlencoded",
            &form,
            now(),
            SECRET,
        )
    };
    assert_eq!(submit().await.0, 200);
    bot.idle().await;

    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["input"]["title"], "Close the Mid-Market gap");
    assert_eq!(issues[0]["input"]["priority"], 2);
    assert_eq!(issues[0]["input"]["teamId"], "team-rev");
    let filed: Vec<_> = slack
        .calls("chat.postMessage")
        .into_iter()
        .filter(|c| c.body["text"].as_str().unwrap_or("").starts_with("Filed "))
        .collect();
    assert_eq!(filed.len(), 1);
    assert_eq!(
        filed[0].body["text"],
        "Filed REV-1 <https://linear.app/acme/issue/REV-1|Close the Mid-Market gap>"
    );
    assert_eq!(filed[0].body["thread_ts"], thread);

    // Slack retries the request (or the person double-submits): the same issue, no new post.
    assert_eq!(submit().await.0, 200);
    bot.idle().await;
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(fake.creates(), 1);
    let filed_again = slack
        .calls("chat.postMessage")
        .into_iter()
        .filter(|c| c.body["text"].as_str().unwrap_or("").starts_with("Filed "))
        .count();
    assert_eq!(filed_again, 1);
    fake.assert_variables_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_linear_the_button_says_it_is_not_connected() {
    use crate::slack_bot::{button_value, mention, start_bot_with, start_fake as start_slack};
    let slack = start_slack().await;
    let bot = start_bot_with(&slack, None, None, |c| c.linear = None).await;
    bot.event(&mention(
        "What's our ARR by segment?",
        "EvL2",
        "1600000043.000100",
        None,
    ))
    .await;
    bot.idle().await;
    let msg = slack
        .calls("chat.update")
        .into_iter()
        .last()
        .expect("the answer");
    let id = button_value(&msg, "cortex_file_linear_task");
    assert_eq!(
        bot.click_on(&msg, "cortex_file_linear_task", Some("1600000043.000100"))
            .await,
        200
    );
    bot.idle().await;
    assert!(slack.calls("views.open").is_empty());
    let eph = slack.calls("chat.postEphemeral");
    assert!(
        eph.last().expect("a note").body["text"]
            .as_str()
            .unwrap_or("")
            .contains("isn't set up"),
        "{id}"
    );
}

// ---- Skills propose tasks; `cortex check` checks them ----

#[test]
fn okr_progress_and_merchant_brief_propose_tasks_from_their_rules() {
    let (_s, rt) = crate::helpers::demo_runtime(&crate::helpers::project_dir());
    let dana = rt.context.person("U01REV0001").expect("Dana");
    let ask = |q: &str| {
        cortex::skills::answer_question(
            &rt,
            q,
            Some(dana),
            crate::helpers::demo_today(),
            "slack:U01REV0001",
        )
    };
    let a =
        ask("How are we performing against OKR #1, and what can my team do to help accelerate it?");
    assert_eq!(a.skill, "okr_progress");
    let okr = a
        .sections
        .iter()
        .find_map(|s| match s {
            cortex::answer::Section::Okr(o) => Some(o),
            _ => None,
        })
        .expect("an OKR block");
    // One task per lagging segment, titled with its shortfall (from the OKR block's numbers).
    let behind: Vec<String> = okr
        .segments
        .iter()
        .filter(|s| s.on_track == Some(false) && s.target.is_some())
        .map(|s| {
            let short = s.target.expect("target") - s.projected.expect("projected");
            format!(
                "{} is {} short of its OKR #1 target",
                s.name,
                cortex::format::figure(short, okr.unit)
            )
        })
        .collect();
    assert!(
        !behind.is_empty(),
        "the demo has a lagging segment: {:?}",
        okr.segments
    );
    let titles: Vec<&str> = a.tasks.iter().map(|t| t.title.as_str()).collect();
    for b in &behind {
        assert!(titles.contains(&b.as_str()), "{b:?} not in {titles:?}");
    }
    // Recommendations propose tasks too, and every task carries its sentence.
    assert!(a
        .tasks
        .iter()
        .any(|t| t.kind == cortex::answer::model::NoteKind::Recommendation));
    for t in &a.tasks {
        assert!(
            a.findings.contains(&t.note) || a.recommendations.contains(&t.note),
            "{t:?}"
        );
        assert!((1..=4).contains(&t.priority));
    }
    let m = ask("Give me the full picture of Blue Fox Goods");
    assert_eq!(m.skill, "merchant_brief");
    assert!(!m.tasks.is_empty(), "{:?}", m.recommendations);
    assert!(
        m.tasks.iter().all(|t| t.title.contains("Blue Fox Goods")),
        "{:?}",
        m.tasks
    );
    // The JSON contract is unchanged for answers without tasks.
    let plain = ask("What's our ARR by segment?");
    assert!(plain.tasks.is_empty());
    assert!(serde_json::to_value(&plain)
        .expect("json")
        .get("tasks")
        .is_none());
}

#[test]
fn check_reports_a_broken_task_template_and_priority() {
    let project = tempfile::tempdir().expect("tmp");
    let p = project.path();
    for dir in ["skills", "context"] {
        crate::slack_bot::copy_dir(&crate::helpers::project_dir().join(dir), &p.join(dir));
    }
    std::fs::copy(
        crate::helpers::project_dir().join("metrics.yaml"),
        p.join("metrics.yaml"),
    )
    .expect("copy");
    let skill = p.join("skills/merchant_brief/skill.yaml");
    let text = std::fs::read_to_string(&skill).expect("read").replace(
        "task: \"Offer the AI Agent to {{merchant.name}}\"",
        "task: \"Offer the AI Agent to {{steps.nowhere.name}}\"\n        priority: 9",
    );
    std::fs::write(&skill, text).expect("write");
    let out = std::process::Command::new(crate::helpers::cortex_bin())
        .args(["check", "--project"])
        .arg(p)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("refers to step \"nowhere\""), "{text}");
    assert!(
        text.contains("a task's priority must be 1 (urgent) to 4 (low)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_without_proposals_files_its_headline_and_shows_nothing_without_linear() {
    let fake = start_fake().await;
    let site = linear_site(&fake).await;
    let b = site.browser(vec![]).await;
    let page = site.ask(&b, "What's our ARR by segment?").await;
    let id = cortex::bench::load::answer_id(&page).expect("an answer");
    let answer = site
        .server
        .svc
        .state
        .load_answer(&id)
        .expect("read")
        .expect("stored");
    assert!(answer.tasks.is_empty());
    let (_, _, permalink) = site.get(&format!("/a/{id}"), &[]).await;
    assert_eq!(permalink.matches("File Linear task</button>").count(), 1);
    let form = [("csrf", b.token.as_str())];
    let (status, filed) = post_form(&site, &b, &format!("/a/{id}/tasks/0"), &form).await;
    assert_eq!(status, 200, "{filed}");
    assert!(filed.contains(">REV-1</a>"), "{filed}");
    let issue = &fake.issues()[0];
    let title = issue["input"]["title"].as_str().expect("title");
    assert!(
        answer.headline.starts_with(title.trim_end_matches('…')),
        "{title} / {}",
        answer.headline
    );
    // There is no second task to file.
    let (status, _) = post_form(&site, &b, &format!("/a/{id}/tasks/1"), &form).await;
    assert_eq!(status, 404);

    // Without Linear: no task card on a plain answer, no filing.
    let state = tempfile::tempdir().expect("tmp");
    let plain = start(demo_config(&state), Some(state)).await;
    let b = plain.browser(vec![]).await;
    let page = plain.ask(&b, "What's our ARR by segment?").await;
    let id = cortex::bench::load::answer_id(&page).expect("an answer");
    let (_, _, permalink) = plain.get(&format!("/a/{id}"), &[]).await;
    assert!(!permalink.contains("id=\"tasks\""), "{permalink}");
    let (status, body) = post_form(
        &plain,
        &b,
        &format!("/a/{id}/tasks/0"),
        &[("csrf", b.token.as_str())],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("isn&#x27;t set up") || body.contains("isn't set up"),
        "{body}"
    );
}
