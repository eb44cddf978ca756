//! The Slack bot end to end on 127.0.0.1: Slack's real payload samples are signed and
//! posted to the bot's HTTP Events API endpoints, and the real slack-morphism client talks
//! to a fake Slack Web API (axum) that records every call.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use cortex::config::Secret;
use cortex::slack::signature::sign;
use serde_json::{json, Value};

use crate::helpers::{demo_today, demo_warehouse, project_dir};

pub(crate) const SECRET: &str = "test-signing-secret";

/// One Web API call as the fake received it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: String,
    pub(crate) body: Value,
    pub(crate) raw: Vec<u8>,
    pub(crate) status: u16,
}

#[derive(Default)]
pub(crate) struct FakeState {
    calls: Mutex<Vec<Call>>,
    /// Messages posted, as conversations.history returns them (with metadata and
    /// reply_count: files completed into a message's thread count as replies).
    pub(crate) posted: Mutex<Vec<Value>>,
    /// While set, chat.postMessage is recorded (and posted) but its response is held until
    /// `release` is notified: a client killed meanwhile never learns that it was posted.
    pub(crate) hold_posts: std::sync::atomic::AtomicBool,
    pub(crate) release: tokio::sync::Notify,
    /// Notified on every recorded call (tests wait on the log, never on time).
    changed: tokio::sync::Notify,
    next_ts: AtomicUsize,
    /// Answer this many chat.postMessage calls with 429 first.
    rate_limit_posts: AtomicUsize,
    addr: Mutex<Option<SocketAddr>>,
    /// What apps.connections.open answers (the Socket Mode WebSocket).
    ws_url: Mutex<Option<String>>,
    /// Channels the bot is not in: posting there answers `not_in_channel`.
    not_in: Mutex<Vec<String>>,
    /// Woken on every recorded call (tests wait on it, never on sleeps).
    pub(crate) called: tokio::sync::Notify,
}

pub(crate) struct FakeSlack {
    pub(crate) state: Arc<FakeState>,
    pub(crate) api_url: String,
}

impl FakeSlack {
    /// Waits until `done` holds for the call log (up to `limit`); returns the log.
    pub(crate) async fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&[Call]) -> bool,
    ) -> Vec<Call> {
        let wait = async {
            loop {
                let changed = self.state.changed.notified();
                let calls = self.all();
                if done(&calls) {
                    return calls;
                }
                changed.await;
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(c) => c,
            Err(_) => panic!(
                "timed out waiting on the fake Slack; calls: {:#?}",
                self.all().iter().map(|c| &c.method).collect::<Vec<_>>()
            ),
        }
    }

    pub(crate) fn calls(&self, method: &str) -> Vec<Call> {
        self.state
            .calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|c| c.method == method && c.status == 200)
            .cloned()
            .collect()
    }

    pub(crate) fn all(&self) -> Vec<Call> {
        self.state.calls.lock().expect("lock").clone()
    }

    /// A response_url on the fake.
    fn response_url(&self, id: &str) -> String {
        format!("{}/respond/{id}", self.api_url.trim_end_matches("/api"))
    }

    /// Every call except auth.test (what the bot did).
    fn activity(&self) -> Vec<Call> {
        self.all()
            .into_iter()
            .filter(|c| c.method != "auth.test")
            .collect()
    }
}

fn record(s: &FakeState, method: &str, raw: &[u8], status: u16) {
    let body = serde_json::from_slice(raw).unwrap_or_else(|_| {
        Value::Object(
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    });
    s.calls.lock().expect("lock").push(Call {
        method: method.to_string(),
        body,
        raw: raw.to_vec(),
        status,
    });
    s.changed.notify_waiters();
    s.called.notify_waiters();
}

async fn api(
    State(s): State<Arc<FakeState>>,
    Path(method): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    // GET methods carry their arguments in the query string.
    let raw: Vec<u8> = if body.is_empty() {
        serde_json::to_vec(&Value::Object(
            q.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
        ))
        .expect("json")
    } else {
        body.to_vec()
    };
    if method == "chat.postMessage"
        && s.rate_limit_posts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        record(&s, &method, &raw, 429);
        let mut h = HeaderMap::new();
        h.insert("retry-after", "1".parse().expect("header"));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            h,
            Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response();
    }
    record(&s, &method, &raw, 200);
    let req: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let ts = || {
        format!(
            "1700000000.{:06}",
            s.next_ts.fetch_add(1, Ordering::SeqCst) + 1
        )
    };
    let channel = req["channel"].as_str().unwrap_or("C0").to_string();
    let addr = s.addr.lock().expect("lock").expect("addr set");
    if method.starts_with("chat.") && s.not_in.lock().expect("lock").contains(&channel) {
        return Json(json!({"ok": false, "error": "not_in_channel"})).into_response();
    }
    let out = match method.as_str() {
        "apps.connections.open" => {
            json!({"ok": true, "url": s.ws_url.lock().expect("lock").clone()})
        }
        "auth.test" => {
            json!({"ok": true, "user_id": "UBOT", "team_id": "T111", "team": "Acme", "url": "https://acme.slack.com/", "bot_id": "B111"})
        }
        "chat.postMessage" => {
            let ts = ts();
            s.posted.lock().expect("lock").push(json!({
                "type": "message", "channel": channel, "ts": ts, "text": req["text"],
                "metadata": req["metadata"], "reply_count": 0,
            }));
            loop {
                let released = s.release.notified();
                tokio::pin!(released);
                released.as_mut().enable();
                if !s.hold_posts.load(Ordering::SeqCst) {
                    break;
                }
                released.await;
            }
            json!({"ok": true, "channel": channel, "ts": ts, "message": {"ts": ts, "text": req["text"]}})
        }
        "conversations.open" => {
            let user = match &req["users"] {
                Value::Array(a) => a
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("U0")
                    .to_string(),
                v => v
                    .as_str()
                    .unwrap_or("U0")
                    .split(',')
                    .next()
                    .unwrap_or("U0")
                    .to_string(),
            };
            json!({"ok": true, "channel": {"id": format!("D{user}")}})
        }
        "conversations.history" => {
            let mut msgs: Vec<Value> = s
                .posted
                .lock()
                .expect("lock")
                .iter()
                .filter(|m| m["channel"] == json!(channel))
                .cloned()
                .collect();
            msgs.reverse();
            json!({"ok": true, "messages": msgs, "has_more": false})
        }
        "chat.update" => {
            json!({"ok": true, "channel": channel, "ts": req["ts"], "message": {"text": req["text"]}})
        }
        "chat.postEphemeral" => json!({"ok": true, "message_ts": ts()}),
        "files.getUploadURLExternal" => {
            let id = format!("F{}", s.calls.lock().expect("lock").len());
            json!({"ok": true, "upload_url": format!("http://{addr}/upload/{id}"), "file_id": id})
        }
        "files.completeUploadExternal" => {
            if let Some(t) = req["thread_ts"].as_str() {
                for m in s.posted.lock().expect("lock").iter_mut() {
                    if m["ts"] == json!(t) && m["channel"] == req["channel_id"] {
                        m["reply_count"] = json!(m["reply_count"].as_u64().unwrap_or(0) + 1);
                    }
                }
            }
            json!({"ok": true, "files": req["files"]})
        }
        "views.open" => {
            // The view as opened: Slack adds its id, hash and (empty) state.
            let mut view = req["view"].clone();
            view["id"] = json!("V111");
            view["team_id"] = json!("T111");
            view["hash"] = json!("1596530361.3wRYuk3R");
            view["state"] = json!({"values": {}});
            json!({"ok": true, "view": view})
        }
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    Json(out).into_response()
}

async fn upload(State(s): State<Arc<FakeState>>, Path(id): Path<String>, body: Bytes) -> Response {
    s.calls.lock().expect("lock").push(Call {
        method: format!("upload:{id}"),
        body: Value::Null,
        raw: body.to_vec(),
        status: 200,
    });
    (StatusCode::OK, format!("OK - {}", body.len())).into_response()
}

/// A `response_url`: records what is posted to it; answers as Slack does (`ok`, text).
async fn respond(State(s): State<Arc<FakeState>>, Path(id): Path<String>, body: Bytes) -> Response {
    record(&s, &format!("respond:{id}"), &body, 200);
    (StatusCode::OK, "ok").into_response()
}

pub(crate) async fn start_fake() -> FakeSlack {
    let state = Arc::new(FakeState::default());
    let app = Router::new()
        .route("/api/{method}", post(api).get(api))
        .route("/upload/{id}", post(upload))
        .route("/respond/{id}", post(respond))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    *state.addr.lock().expect("lock") = Some(addr);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake slack") });
    FakeSlack {
        state,
        api_url: format!("http://{addr}/api"),
    }
}

/// Cortex serving on 127.0.0.1 against the fake Slack.
pub(crate) struct Bot {
    url: String,
    pub(crate) server: cortex::server::Server,
    _state: tempfile::TempDir,
    http: reqwest::Client,
}

async fn start_bot(fake: &FakeSlack, project: Option<PathBuf>, timeout: Option<Duration>) -> Bot {
    start_bot_with(fake, project, timeout, |_| {}).await
}

/// [`start_bot`], with a last change to the configuration.
pub(crate) async fn start_bot_with(
    fake: &FakeSlack,
    project: Option<PathBuf>,
    timeout: Option<Duration>,
    edit: impl FnOnce(&mut cortex::config::Config),
) -> Bot {
    let state = tempfile::tempdir().expect("tmp");
    let project = project.unwrap_or_else(project_dir);
    let mut config =
        cortex::config::Config::load(&project, Some(demo_warehouse())).expect("config");
    config.state_db = state.path().join("state.duckdb");
    config.slack.bot_token = Some(Secret::new("xoxb-test"));
    config.slack.signing_secret = Some(Secret::new(SECRET));
    config.slack.app_token = None;
    config.slack.api_url = fake.api_url.clone();
    config.llm = None;
    // Permalinks opened from Slack are viewed on the web as the same person who asked.
    config.server.default_user = "dana.whitfield@example.com".into();
    if let Some(t) = timeout {
        config.limits.timeout = t;
    }
    edit(&mut config);
    let server = cortex::server::build(config, Some(demo_today()))
        .await
        .expect("server builds");
    assert!(server.transports.http_events && !server.transports.socket_mode);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = server.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.expect("cortex serve") });
    let _ = rustls::crypto::ring::default_provider().install_default();
    Bot {
        url,
        server,
        _state: state,
        http: reqwest::Client::new(),
    }
}

impl Bot {
    pub(crate) async fn send(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        ts: i64,
        secret: &str,
    ) -> (u16, String) {
        let t = ts.to_string();
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", &t)
            .header("x-slack-signature", sign(secret, &t, body.as_bytes()))
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }

    pub(crate) async fn event(&self, body: &Value) -> (u16, String) {
        self.send(
            "/slack/events",
            "application/json",
            &body.to_string(),
            now(),
            SECRET,
        )
        .await
    }

    /// Clicks a button: the real block_actions sample (as Slack sends it, form-encoded),
    /// on the bot's message in `thread`.
    pub(crate) async fn click(&self, action_id: &str, value: &str, thread: &str) -> u16 {
        let mut v = click_payload(action_id, value);
        v["message"] =
            json!({"ts": "1700000000.000001", "thread_ts": thread, "text": "x", "type": "message"});
        self.click_with(&v).await
    }

    /// Clicks a button on `message` (a chat.update the fake received), with the blocks the
    /// message carries, as Slack sends them.
    pub(crate) async fn click_on(
        &self,
        message: &Call,
        action_id: &str,
        thread: Option<&str>,
    ) -> u16 {
        let value = button_value(message, action_id);
        let mut v = click_payload(action_id, &value);
        let label = buttons(message)
            .into_iter()
            .find(|e| e["action_id"] == action_id)
            .map(|e| e["text"].clone());
        v["actions"][0]["text"] = label.expect("the button's label");
        let ts = message.body["ts"].clone();
        v["container"]["message_ts"] = ts.clone();
        v["container"]["channel_id"] = message.body["channel"].clone();
        v["channel"]["id"] = message.body["channel"].clone();
        v["message"] = json!({"ts": ts, "text": message.body["text"], "type": "message",
                              "blocks": message.body["blocks"]});
        if let Some(t) = thread {
            v["message"]["thread_ts"] = json!(t);
        }
        self.click_with(&v).await
    }

    /// Posts a block_actions payload to the interactivity endpoint.
    pub(crate) async fn click_with(&self, v: &Value) -> u16 {
        let parsed: Result<slack_morphism::prelude::SlackInteractionEvent, _> =
            serde_json::from_value(v.clone());
        assert!(parsed.is_ok(), "{parsed:?}");
        let form = format!("payload={}", urlencode(&v.to_string()));
        self.send(
            "/slack/interactive",
            "application/x-www-form-urlencoded",
            &form,
            now(),
            SECRET,
        )
        .await
        .0
    }

    /// `/cortex <text>` from the slash-command sample, with this response_url.
    async fn command(&self, text: &str, response_url: &str) -> (u16, String) {
        let form = payload("bolt-python/slash_command.form-urlencoded.txt")
            .replace("command=%2Fhello-world", "command=%2Fcortex")
            .replace("text=Hi", &format!("text={}", urlencode(text)))
            .replace(
                "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT111%2F111%2Fxxxxx",
                &format!("response_url={}", urlencode(response_url)),
            );
        assert!(form.contains("127.0.0.1"), "{form}");
        self.send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &form,
            now(),
            SECRET,
        )
        .await
    }

    /// Waits until every answer in progress is in Slack.
    pub(crate) async fn idle(&self) {
        let bot = self.server.bot.as_ref().expect("bot");
        tokio::time::timeout(Duration::from_secs(120), bot.idle())
            .await
            .expect("answers finish");
    }
}

/// The block_actions sample clicking `action_id` with `value`, on a message in C111.
pub(crate) fn click_payload(action_id: &str, value: &str) -> Value {
    let mut v = json_payload("bolt-python/interactive.block_actions.json");
    v["actions"][0]["action_id"] = json!(action_id);
    v["actions"][0]["value"] = json!(value);
    v["container"]["message_ts"] = json!("1700000000.000001");
    v["container"]["is_ephemeral"] = json!(false);
    v
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn payload(name: &str) -> String {
    let p = project_dir()
        .join("../shared/datasets/slack-payloads")
        .join(name);
    // Slack's samples come from users who are not in context/people.yaml, and the access
    // policy refuses unknown people: the samples' askers become two demo people.
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .replace("W222", "U01REV0001")
        .replace("W111", "U01REV0002")
}

pub(crate) fn json_payload(name: &str) -> Value {
    serde_json::from_str(&payload(name)).expect("json")
}

/// The app_mention sample with our question, event id and ts.
pub(crate) fn mention(text: &str, event_id: &str, ts: &str, thread_ts: Option<&str>) -> Value {
    let mut v = json_payload("bolt-python/event_callback.app_mention.json");
    v["event"]["text"] = json!(format!("<@W111> {text}"));
    v["event"]["ts"] = json!(ts);
    v["event_id"] = json!(event_id);
    if let Some(t) = thread_ts {
        v["event"]["thread_ts"] = json!(t);
    }
    v
}

/// The buttons under a posted or updated message.
fn buttons(call: &Call) -> Vec<Value> {
    call.body["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The value of the button with this action id.
pub(crate) fn button_value(call: &Call, action_id: &str) -> String {
    buttons(call)
        .iter()
        .find(|e| e["action_id"] == action_id)
        .and_then(|e| e["value"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {action_id} button in {:?}", call.body))
}

pub(crate) fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).expect("encode")[2..].to_string()
}

fn blocks_text(call: &Call) -> String {
    call.body["blocks"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_gets_a_placeholder_then_the_answer_and_a_chart_in_the_thread() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let (status, _) = bot
        .event(&mention(
            "What's our ARR by segment?",
            "EvA1",
            "1595926230.009600",
            None,
        ))
        .await;
    assert_eq!(status, 200);
    bot.idle().await;

    let posts = fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].body["channel"], "C111");
    assert_eq!(posts[0].body["thread_ts"], "1595926230.009600");
    assert!(posts[0].body["text"]
        .as_str()
        .unwrap_or("")
        .contains("Looking into it"));

    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 1);
    let u = &updates[0];
    assert_eq!(u.body["ts"], "1700000000.000001", "updates the placeholder");
    let b = blocks_text(u);
    assert!(b.contains("Enterprise") && b.contains("Mid-Market"), "{b}");
    assert!(
        b.contains("Annual recurring revenue"),
        "definition in the footer: {b}"
    );
    for id in [
        "cortex_open_html",
        "cortex_open_pdf",
        "cortex_file_linear_task",
        "cortex_feedback_helpful",
    ] {
        assert!(b.contains(id), "button {id}");
    }
    assert!(u.body["text"]
        .as_str()
        .unwrap_or("")
        .starts_with("ARR by segment"));

    // The chart: upload URL, PNG bytes, completed into the same thread.
    let get = fake.calls("files.getUploadURLExternal");
    assert_eq!(get.len(), 1);
    assert_eq!(get[0].body["filename"], "arr-by-segment-2026-11-20.png");
    let png = fake
        .all()
        .into_iter()
        .find(|c| c.method.starts_with("upload:"))
        .expect("uploaded");
    assert_eq!(&png.raw[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(get[0].body["length"], png.raw.len().to_string());
    let done = fake.calls("files.completeUploadExternal");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].body["channel_id"], "C111");
    assert_eq!(done[0].body["thread_ts"], "1595926230.009600");
    assert_eq!(done[0].body["files"][0]["title"], "ARR by segment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_is_answered_and_the_asker_is_known() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let mut v = json_payload("bolt-python/event_callback.message.im.json");
    v["event"]["text"] = json!(
        "How are we performing against OKR #1, and what can my team do to help accelerate it?"
    );
    v["event"]["user"] = json!("U01REV0001");
    v["event_id"] = json!("EvDM1");
    // A message in the DM itself, not in a thread there.
    v["event"]
        .as_object_mut()
        .expect("event")
        .remove("thread_ts");
    let (status, _) = bot.event(&v).await;
    assert_eq!(status, 200);
    bot.idle().await;
    // The placeholder (then the answer) is in the conversation, not in a thread.
    let posts = fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].body["channel"], "D111");
    assert!(
        posts[0].body.get("thread_ts").is_none(),
        "{:?}",
        posts[0].body
    );
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 1, "{:?}", fake.all());
    let b = blocks_text(&updates[0]);
    assert!(
        b.contains("OKR") && b.contains("What Revenue can do"),
        "{b}"
    );
    // Dana is on the Revenue team: the recommendations are Revenue's levers.
    assert!(
        b.contains("Enterprise deals") || b.contains("upsell") || b.contains("self-serve"),
        "{b}"
    );
    assert_eq!(updates[0].body["channel"], v["event"]["channel"]);
    // The answer's (first) chart goes with it: the OKR's ARR trend.
    let files = fake.calls("files.completeUploadExternal");
    assert_eq!(files.len(), 1, "{files:?}");
    let title = files[0].body["files"][0]["title"].as_str().unwrap_or("");
    assert!(title.starts_with("ARR"), "{title}");
    // The chart goes with the answer in the conversation, not into a thread under it.
    assert_eq!(files[0].body["channel_id"], "D111");
    assert!(
        files[0].body.get("thread_ts").is_none(),
        "{:?}",
        files[0].body
    );
    // The audit log knows who asked.
    let log = bot
        .server
        .svc
        .rt
        .engine
        .warehouse
        .audit_log()
        .expect("audit");
    assert!(log
        .recent(50)
        .expect("audit rows")
        .iter()
        .any(|e| e.requester == "slack:U01REV0001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_answer_in_the_channel_and_help_is_immediate() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let form = payload("bolt-python/slash_command.form-urlencoded.txt")
        .replace("command=%2Fhello-world", "command=%2Fcortex");
    let help = form.replace("text=Hi", "text=help");
    let (status, body) = bot
        .send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &help,
            now(),
            SECRET,
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("Ask me about the business"), "{body}");
    let (_, metrics) = bot
        .send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &form.replace("text=Hi", "text=metrics"),
            now(),
            SECRET,
        )
        .await;
    assert!(
        metrics.contains("`arr`") && metrics.contains("`csat`"),
        "{metrics}"
    );
    bot.idle().await;
    assert!(
        fake.all().iter().all(|c| c.method == "auth.test"),
        "help posts nothing"
    );

    let q = form.replace("text=Hi", "text=How+many+tickets+last+month%3F");
    let (status, body) = bot
        .send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &q,
            now(),
            SECRET,
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("ephemeral"), "{body}");
    bot.idle().await;
    let posts = fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 2, "intro, then placeholder in its thread");
    assert!(posts[0].body["text"]
        .as_str()
        .unwrap_or("")
        .contains("How many tickets last month?"));
    assert_eq!(posts[1].body["thread_ts"], "1700000000.000001");
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 1);
    assert!(
        updates[0].body["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("Tickets"),
        "{:?}",
        updates[0].body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_follow_up_continues_the_conversation() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    bot.event(&mention(
        "What's our ARR by segment?",
        "EvT1",
        "1600000000.000100",
        None,
    ))
    .await;
    bot.idle().await;
    bot.event(&mention(
        "and by plan?",
        "EvT2",
        "1600000000.000200",
        Some("1600000000.000100"),
    ))
    .await;
    bot.idle().await;
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 2);
    let second = &updates[1];
    let text = second.body["text"].as_str().unwrap_or("");
    assert!(text.starts_with("ARR by plan"), "{text}");
    assert!(blocks_text(second).contains("Read as a follow-up"));
    // And the thread keeps going: a new period on the plan breakdown.
    bot.event(&mention(
        "same for last quarter",
        "EvT3",
        "1600000000.000300",
        Some("1600000000.000100"),
    ))
    .await;
    bot.idle().await;
    let third = &fake.calls("chat.update")[2];
    let text = third.body["text"].as_str().unwrap_or("");
    assert!(
        text.starts_with("ARR by plan") && text.contains("2026-09-30"),
        "{text}"
    );
    // Every reply stayed in the thread.
    for p in fake.calls("chat.postMessage") {
        assert_eq!(p.body["thread_ts"], "1600000000.000100");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_is_answered_once() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let ev = mention(
        "How many tickets last month?",
        "EvR1",
        "1600000001.000100",
        None,
    );
    assert_eq!(bot.event(&ev).await.0, 200);
    // Slack's retry carries the same event_id (and X-Slack-Retry-Num).
    let body = ev.to_string();
    let t = now().to_string();
    let r = bot
        .http
        .post(format!("{}/slack/events", bot.url))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &t)
        .header("x-slack-signature", sign(SECRET, &t, body.as_bytes()))
        .header("x-slack-retry-num", "1")
        .header("x-slack-retry-reason", "http_timeout")
        .body(body)
        .send()
        .await
        .expect("retry");
    assert_eq!(r.status().as_u16(), 200);
    bot.idle().await;
    assert_eq!(fake.calls("chat.postMessage").len(), 1);
    assert_eq!(fake.calls("chat.update").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_and_stale_timestamps_are_rejected_and_ignored_events_post_nothing() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let ev = mention("What's our ARR?", "EvS1", "1600000002.000100", None).to_string();
    let (s1, _) = bot
        .send(
            "/slack/events",
            "application/json",
            &ev,
            now(),
            "wrong-secret",
        )
        .await;
    assert_eq!(s1, 401);
    let (s2, _) = bot
        .send(
            "/slack/events",
            "application/json",
            &ev,
            now() - 600,
            SECRET,
        )
        .await;
    assert_eq!(s2, 401);
    let unsigned = bot
        .http
        .post(format!("{}/slack/events", bot.url))
        .body(ev.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(unsigned.status().as_u16(), 401);
    let form = payload("bolt-python/interactive.block_actions.form-urlencoded.txt");
    let (s3, _) = bot
        .send(
            "/slack/interactive",
            "application/x-www-form-urlencoded",
            &form,
            now() - 301,
            SECRET,
        )
        .await;
    assert_eq!(s3, 401);

    // Bots, edits and the bot's own messages are ignored.
    for name in [
        "bolt-python/event_callback.message.bot_message.json",
        "bolt-python/event_callback.message_changed.im.json",
        "bolt-python/event_callback.message.channel.json",
    ] {
        let (s, _) = bot.event(&json_payload(name)).await;
        assert_eq!(s, 200, "{name}");
    }
    let mut own = json_payload("bolt-python/event_callback.message.im.json");
    own["event"]["user"] = json!("UBOT");
    own["event_id"] = json!("EvOwn");
    bot.event(&own).await;
    bot.idle().await;
    let posted: Vec<_> = fake
        .all()
        .into_iter()
        .filter(|c| c.method != "auth.test")
        .collect();
    assert!(posted.is_empty(), "{posted:?}");
    // The url_verification challenge is echoed.
    let (s, body) = bot
        .event(&json_payload("bolt-python/url_verification.json"))
        .await;
    assert_eq!(s, 200);
    let challenge = json_payload("bolt-python/url_verification.json")["challenge"].clone();
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["challenge"],
        challenge
    );
    // Slack's SSL check is acknowledged without an answer; a garbled command is refused.
    let ssl = payload("bolt-python/ssl_check.form-urlencoded.txt");
    let (s, _) = bot
        .send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &ssl,
            now(),
            SECRET,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = bot
        .send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            "text=hi",
            now(),
            SECRET,
        )
        .await;
    assert_eq!(s, 400);
    bot.idle().await;
    assert!(fake.all().iter().all(|c| c.method == "auth.test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slacks_documented_signature_example_passes_the_endpoint() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let v: Value = serde_json::from_str(&payload("signature/slack_docs_signature_example.json"))
        .expect("json");
    let ts = v["headers"]["X-Slack-Request-Timestamp"]
        .as_str()
        .expect("ts");
    let endpoints = cortex::slack::http::Endpoints {
        bot: Arc::clone(bot.server.bot.as_ref().expect("bot")),
        signing_secret: Secret::new(v["signing_secret"].as_str().expect("secret")),
        clock: || 1531420618,
    };
    assert_eq!(ts, "1531420618");
    let app = cortex::slack::http::routes(Arc::new(endpoints));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let send = |sig: String| {
        bot.http
            .post(format!("{url}/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(v["raw_body"].as_str().expect("body").to_string())
            .send()
    };
    let ok = send(
        v["headers"]["X-Slack-Signature"]
            .as_str()
            .expect("sig")
            .to_string(),
    )
    .await
    .expect("send");
    assert_eq!(ok.status().as_u16(), 200);
    let bad = send(format!("v0={}", "0".repeat(64))).await.expect("send");
    assert_eq!(bad.status().as_u16(), 401);
    bot.idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clarifying_buttons_lead_to_an_answer_once_and_used_buttons_are_replaced() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let thread = "1600000003.000100";
    bot.event(&mention("How is revenue doing?", "EvC1", thread, None))
        .await;
    bot.idle().await;
    let question = fake.calls("chat.update")[0].clone();
    let choices = buttons(&question);
    let arr = choices
        .iter()
        .find(|b| b["value"].as_str().is_some_and(|v| v.ends_with("|arr")))
        .unwrap_or_else(|| panic!("an ARR choice: {choices:?}"));
    let action = arr["action_id"].as_str().expect("action id").to_string();
    assert!(action.starts_with("cortex_choose_"));
    let clarify_id = arr["value"]
        .as_str()
        .and_then(|v| v.split_once('|'))
        .expect("id|choice")
        .0
        .to_string();
    assert_eq!(bot.click_on(&question, &action, Some(thread)).await, 200);
    bot.idle().await;
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 3, "{updates:?}");
    // The question's buttons are replaced by what was chosen.
    let edited = &updates[1];
    assert_eq!(edited.body["ts"], question.body["ts"]);
    assert!(buttons(edited).is_empty(), "{:?}", edited.body);
    let b = blocks_text(edited);
    assert!(b.contains("You chose *ARR*"), "{b}");
    // And the answer follows in the thread.
    let answer = &updates[2];
    let text = answer.body["text"].as_str().unwrap_or("");
    assert!(text.starts_with("ARR $"), "{text}");
    let posts = fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].body["thread_ts"], thread);

    // A second click on the old button (a stale client, someone else) asks nothing again.
    assert_eq!(bot.click_on(&question, &action, Some(thread)).await, 200);
    bot.idle().await;
    assert_eq!(fake.calls("chat.update").len(), 3);
    assert_eq!(fake.calls("chat.postMessage").len(), 2);

    // Feedback on the answer: stored with it, and its buttons give way to a thank-you.
    let id = button_value(answer, "cortex_feedback_helpful");
    bot.click_on(answer, "cortex_feedback_helpful", Some(thread))
        .await;
    bot.idle().await;
    let stored = bot.server.svc.state.feedback(&id).expect("feedback");
    assert_eq!(stored, vec![("slack:U01REV0002".to_string(), true)]);
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 4);
    let thanked = &updates[3];
    assert_eq!(thanked.body["ts"], answer.body["ts"]);
    let ids: Vec<String> = buttons(thanked)
        .iter()
        .filter_map(|e| e["action_id"].as_str().map(str::to_string))
        .collect();
    assert!(
        !ids.iter().any(|i| i.starts_with("cortex_feedback")),
        "{ids:?}"
    );
    assert!(ids.contains(&"cortex_open_pdf".to_string()), "{ids:?}");
    assert!(blocks_text(thanked).contains("Thanks, feedback recorded."));
    assert!(fake.calls("chat.postEphemeral").is_empty());
    // The same person clicking again is not counted twice.
    bot.click_on(answer, "cortex_feedback_not_helpful", Some(thread))
        .await;
    bot.idle().await;
    assert_eq!(
        bot.server.svc.state.feedback(&id).expect("feedback").len(),
        1
    );

    // Feedback works on any answer: here, on the clarifying question itself.
    bot.click("cortex_feedback_not_helpful", &clarify_id, thread)
        .await;
    bot.idle().await;
    assert_eq!(
        bot.server
            .svc
            .state
            .feedback(&clarify_id)
            .expect("feedback"),
        vec![("slack:U01REV0002".to_string(), false)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_tables_are_cut_and_attached_as_csv_and_429_is_waited_out() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    fake.state.rate_limit_posts.store(1, Ordering::SeqCst);
    bot.event(&mention(
        "daily tickets last month",
        "EvL1",
        "1600000004.000100",
        None,
    ))
    .await;
    bot.idle().await;
    let attempts: Vec<_> = fake
        .all()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage")
        .collect();
    assert_eq!(attempts.len(), 2, "one 429, then the retry");
    assert_eq!(attempts[0].status, 429);
    assert_eq!(attempts[1].status, 200);
    let b = blocks_text(&fake.calls("chat.update")[0]);
    assert!(b.contains("Showing 15 of 31 rows"), "{b}");
    let names: Vec<String> = fake
        .calls("files.getUploadURLExternal")
        .iter()
        .map(|c| c.body["filename"].as_str().unwrap_or("").to_string())
        .collect();
    // Named from the answer and its date, not chart.png / result.csv: the chart by its
    // title, the CSV like the answer's PDF (by the question).
    assert_eq!(
        names,
        vec![
            "tickets-over-time-2026-11-20.png",
            "daily-tickets-last-month-2026-11-20.csv"
        ]
    );
    let csv = fake
        .all()
        .into_iter()
        .filter(|c| c.method.starts_with("upload:"))
        .nth(1)
        .expect("csv uploaded");
    let text = String::from_utf8(csv.raw).expect("utf8");
    assert_eq!(text.lines().count(), 32, "header + 31 days");
    assert!(text.starts_with("day,tickets\n2026-10-01,"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warehouse_timeout_reaches_the_thread_as_a_friendly_message() {
    let fake = start_fake().await;
    let project = tempfile::tempdir().expect("tmp");
    for dir in ["skills", "context"] {
        copy_dir(&project_dir().join(dir), &project.path().join(dir));
    }
    let yaml = crate::helpers::metrics_with_slow_metric();
    std::fs::write(project.path().join("metrics.yaml"), yaml).expect("write");
    let bot = start_bot(
        &fake,
        Some(project.path().to_path_buf()),
        Some(Duration::from_millis(300)),
    )
    .await;
    bot.event(&mention(
        "What is the slow metric?",
        "EvW1",
        "1600000005.000100",
        None,
    ))
    .await;
    bot.idle().await;
    let u = &fake.calls("chat.update")[0];
    let text = u.body["text"].as_str().unwrap_or("");
    assert!(text.contains("was stopped"), "{text}");
    assert!(blocks_text(u).contains(":warning:"));
    assert!(fake.calls("files.getUploadURLExternal").is_empty());
}

pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

/// Every payload sample deserialises with slack-morphism's models without panicking, and
/// the crate's own message_changed fixtures parse as push callbacks.
#[test]
fn slack_payload_samples_deserialise() {
    use slack_morphism::prelude::*;
    for name in [
        "slack-morphism-rust/message_changed.json",
        "slack-morphism-rust/message_changed_by_bot.json",
    ] {
        let r: Result<SlackPushEventCallback, _> = serde_json::from_str(&payload(name));
        assert!(r.is_ok(), "{name}: {r:?}");
    }
    for name in [
        "bolt-python/event_callback.app_mention.json",
        "bolt-python/event_callback.message.im.json",
        "bolt-python/event_callback.message.bot_message.json",
        "bolt-python/event_callback.message_changed.im.json",
        "bolt-python/url_verification.json",
    ] {
        let r: Result<SlackPushEvent, _> = serde_json::from_str(&payload(name));
        assert!(r.is_ok(), "{name}: {r:?}");
    }
    let r: Result<SlackInteractionEvent, _> =
        serde_json::from_str(&payload("bolt-python/interactive.block_actions.json"));
    assert!(r.is_ok(), "{r:?}");
    // The union-of-fields samples (blank values) must not panic, parsed or not.
    for name in [
        "java-slack-sdk-schema-samples/AppMentionPayload.json",
        "java-slack-sdk-schema-samples/MessagePayload.json",
        "java-slack-sdk-schema-samples/MessageBotPayload.json",
        "java-slack-sdk-schema-samples/MessageChangedPayload.json",
        "java-slack-sdk-schema-samples/BlockActionPayload.json",
    ] {
        let text = payload(name);
        // Whatever parses is routed without a panic, blank fields and all.
        if let Ok(SlackPushEvent::EventCallback(cb)) = serde_json::from_str::<SlackPushEvent>(&text)
        {
            let _ = cortex::slack::incoming::incoming_from_event(&cb.event, Some("UBOT"));
            let _ = cortex::slack::incoming::incoming_from_event(&cb.event, None);
        }
        if let Ok(SlackInteractionEvent::BlockActions(a)) =
            serde_json::from_str::<SlackInteractionEvent>(&text)
        {
            let _ = cortex::slack::incoming::incoming_from_actions(&a);
        }
    }
    let cmd: Result<SlackCommandEvent, _> =
        serde_urlencoded::from_str(&payload("bolt-python/slash_command.form-urlencoded.txt"));
    assert!(cmd.is_ok(), "{cmd:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_and_pdf_buttons_link_the_page_and_upload_the_report() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    bot.event(&mention(
        "Give me the full picture of Blue Fox Goods",
        "EvP1",
        "1600000006.000100",
        None,
    ))
    .await;
    bot.idle().await;
    let id = button_value(&fake.calls("chat.update")[0], "cortex_open_pdf");
    assert_eq!(
        bot.click("cortex_open_pdf", &id, "1600000006.000100").await,
        200
    );
    bot.idle().await;
    let names: Vec<String> = fake
        .calls("files.getUploadURLExternal")
        .iter()
        .map(|c| c.body["filename"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        names.contains(&"merchant-brief-blue-fox-goods-2026-11-20.pdf".to_string()),
        "{names:?}"
    );
    let pdf = fake
        .all()
        .into_iter()
        .filter(|c| c.method.starts_with("upload:"))
        .find(|c| c.raw.starts_with(b"%PDF-"))
        .expect("a PDF was uploaded");
    assert!(pdf.raw.len() > 10_000);
    let done = fake.calls("files.completeUploadExternal");
    assert_eq!(
        done.last().expect("done").body["thread_ts"],
        "1600000006.000100"
    );

    bot.click("cortex_open_html", &id, "1600000006.000100")
        .await;
    bot.idle().await;
    let eph = fake.calls("chat.postEphemeral");
    let text = eph.last().expect("link").body["text"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let link = format!("/a/{id}");
    assert!(text.contains(&link), "{text}");
    // The link serves the answer's page.
    let page = bot
        .http
        .get(format!("{}{link}", bot.url))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("Blue Fox Goods") && html.contains("<table class=\"data\""),
        "{html}"
    );
}

/// A fake Socket Mode WebSocket: says hello on every connection, sends the given envelopes
/// on the first one, and forwards every acknowledgement the bot sends back.
async fn start_fake_socket(
    envelopes: Vec<Value>,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("ws://{}/link", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut first = Some(envelopes);
        while let Ok((tcp, _)) = listener.accept().await {
            let mut ws = tokio_tungstenite::accept_async(tcp)
                .await
                .expect("handshake");
            let hello = json!({"type": "hello", "num_connections": 1,
                "debug_info": {"host": "fake"}, "connection_info": {"app_id": "A111"}});
            ws.send(Message::text(hello.to_string()))
                .await
                .expect("hello");
            for e in first.take().unwrap_or_default() {
                ws.send(Message::text(e.to_string()))
                    .await
                    .expect("envelope");
            }
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(m)) = ws.next().await {
                    if let Message::Text(t) = m {
                        if let Ok(v) = serde_json::from_str::<Value>(&t) {
                            let _ = tx.send(v);
                        }
                    }
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_events_and_commands_are_handled_like_http_ones() {
    let fake = start_fake().await;
    let command: Value = serde_json::to_value(
        serde_urlencoded::from_str::<Vec<(String, String)>>(
            &payload("bolt-python/slash_command.form-urlencoded.txt")
                .replace("text=Hi", "text=help"),
        )
        .expect("form")
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .expect("json");
    let (url, mut acks) = start_fake_socket(vec![
        json!({"type": "events_api", "envelope_id": "env-1", "accepts_response_payload": false,
               "payload": mention("What's our ARR by segment?", "EvSock1", "1600000007.000100", None)}),
        json!({"type": "slash_commands", "envelope_id": "env-2", "accepts_response_payload": true,
               "payload": command}),
    ])
    .await;
    *fake.state.ws_url.lock().expect("lock") = Some(url);
    let bot = start_bot(&fake, None, None).await;
    let listener = cortex::slack::socket::connect(
        Arc::clone(bot.server.bot.as_ref().expect("bot")),
        "xapp-test",
    )
    .await
    .expect("connects");
    // Both envelopes are acknowledged; the command's acknowledgement carries its reply.
    let mut got = Vec::new();
    while got.len() < 2 {
        let ack = tokio::time::timeout(Duration::from_secs(60), acks.recv())
            .await
            .expect("acknowledged in time")
            .expect("socket open");
        got.push(ack);
    }
    let env1 = got
        .iter()
        .find(|a| a["envelope_id"] == "env-1")
        .expect("event acked");
    assert!(env1.get("payload").is_none_or(Value::is_null));
    let env2 = got
        .iter()
        .find(|a| a["envelope_id"] == "env-2")
        .expect("command acked");
    assert!(
        env2["payload"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("Ask me about the business"),
        "{env2}"
    );
    bot.idle().await;
    let posts = fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["thread_ts"], "1600000007.000100");
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 1);
    assert!(updates[0].body["text"]
        .as_str()
        .unwrap_or("")
        .starts_with("ARR by segment"));
    listener.shutdown().await;
}

/// Issue #10 items 5-7 on the real endpoints: timestamps at the ends of i64 are refused
/// without a panic, `/cortex` echoes `<!channel>` and links as plain text, and a
/// 30,000-character mention or command is refused before anything is planned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_timestamps_injections_and_long_questions_are_handled_safely() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let ev = mention("What's our ARR?", "EvX1", "1600000002.000100", None).to_string();
    for ts in [i64::MIN, i64::MAX, i64::MIN + 1] {
        let (s, body) = bot
            .send("/slack/events", "application/json", &ev, ts, SECRET)
            .await;
        assert_eq!(s, 401, "{ts}: {body}");
    }
    // The server is still up after them.
    let (s, _) = bot.event(&ev.parse::<Value>().expect("json")).await;
    assert_eq!(s, 200);
    bot.idle().await;

    let form = payload("bolt-python/slash_command.form-urlencoded.txt")
        .replace("command=%2Fhello-world", "command=%2Fcortex");
    let injection = "<!channel> What's our ARR? <https://evil.example|Re-authenticate> <@U0ADMIN>";
    let q = form.replace("text=Hi", &format!("text={}", urlencode(injection)));
    let (s, _) = bot
        .send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &q,
            now(),
            SECRET,
        )
        .await;
    assert_eq!(s, 200);
    bot.idle().await;
    let intro = fake
        .calls("chat.postMessage")
        .into_iter()
        .map(|c| c.body["text"].as_str().unwrap_or("").to_string())
        .find(|t| t.contains("asked:"))
        .expect("the /cortex intro");
    assert!(intro.contains("&lt;!channel&gt;"), "{intro}");
    for call in fake.all() {
        if !call.method.starts_with("chat.") {
            continue;
        }
        let sent = format!("{} {}", call.body["text"], call.body["blocks"]);
        for bad in ["<!channel>", "<https://evil", "<@U0ADMIN>"] {
            assert!(!sent.contains(bad), "{} sent {bad}: {sent}", call.method);
        }
    }

    // Too long: refused in the thread (mention) or at once (command); nothing planned.
    let audit = bot
        .server
        .svc
        .rt
        .engine
        .warehouse
        .audit_log()
        .expect("audit")
        .clone();
    let queries = audit.count(None).expect("count");
    let updates = fake.calls("chat.update").len();
    let posts = fake.calls("chat.postMessage").len();
    let long = "ARR ".repeat(7_500);
    let (s, _) = bot
        .event(&mention(&long, "EvLong", "1600000003.000100", None))
        .await;
    assert_eq!(s, 200);
    bot.idle().await;
    let now_posts = fake.calls("chat.postMessage");
    assert_eq!(now_posts.len(), posts + 1, "one refusal, no placeholder");
    assert!(now_posts[posts].body["text"]
        .as_str()
        .unwrap_or("")
        .contains("too long"));
    let (s, body) = bot
        .send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &form.replace("text=Hi", &format!("text={}", urlencode(&long))),
            now(),
            SECRET,
        )
        .await;
    assert_eq!(s, 200);
    assert!(body.contains("too long"), "{body}");
    let code = bot
        .click(
            "cortex_choose_0",
            &format!("abc|{long}"),
            "1600000003.000100",
        )
        .await;
    assert_eq!(code, 200);
    bot.idle().await;
    assert_eq!(fake.calls("chat.postMessage").len(), posts + 1);
    assert_eq!(fake.calls("chat.update").len(), updates);
    assert_eq!(
        audit.count(None).expect("count"),
        queries,
        "nothing was planned"
    );
}

/// `/cortex` in a channel the bot is not in: Slack refuses the post (`not_in_channel`), so
/// the answer reaches the asker alone through the command's response_url, with the hint
/// to invite the bot; a clarifying choice there is answered the same way, in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_command_in_a_channel_without_the_bot_answers_through_response_url() {
    let fake = start_fake().await;
    fake.state.not_in.lock().expect("lock").push("C111".into());
    let bot = start_bot(&fake, None, None).await;
    let (s, ack) = bot
        .command("What's our ARR by segment?", &fake.response_url("cmd1"))
        .await;
    assert_eq!(s, 200);
    assert!(!ack.contains("will appear in this channel"), "{ack}");
    bot.idle().await;
    // The intro was tried and refused; nothing else went to the channel.
    let posts = fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(fake.calls("chat.update").is_empty());
    assert!(fake.calls("files.getUploadURLExternal").is_empty());
    let replies = fake.calls("respond:cmd1");
    assert_eq!(replies.len(), 1, "{:?}", fake.activity());
    let r = &replies[0].body;
    assert_eq!(r["response_type"], "ephemeral");
    assert!(
        r["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("ARR by segment"),
        "{r}"
    );
    let b = r["blocks"].to_string();
    assert!(b.contains("Enterprise") && b.contains("Mid-Market"), "{b}");
    assert!(
        b.contains("Invite me with `/invite @Cortex` to get answers in the channel and follow-ups in threads"),
        "{b}"
    );

    // A clarifying question answered privately: its choice replaces it, privately.
    bot.command("How is revenue doing?", &fake.response_url("cmd2"))
        .await;
    bot.idle().await;
    let question = fake.calls("respond:cmd2")[0].clone();
    assert_eq!(question.body["response_type"], "ephemeral");
    let choice = buttons(&question)
        .into_iter()
        .find(|b| b["value"].as_str().is_some_and(|v| v.ends_with("|arr")))
        .expect("an ARR choice");
    let mut v = click_payload(
        choice["action_id"].as_str().expect("id"),
        choice["value"].as_str().expect("value"),
    );
    v["container"]["is_ephemeral"] = json!(true);
    v["response_url"] = json!(fake.response_url("act1"));
    v.as_object_mut().expect("payload").remove("message");
    assert_eq!(bot.click_with(&v).await, 200);
    bot.idle().await;
    let answered = fake.calls("respond:act1");
    assert_eq!(answered.len(), 1, "{:?}", fake.activity());
    assert_eq!(answered[0].body["replace_original"], true);
    assert_eq!(answered[0].body["response_type"], "ephemeral");
    assert!(
        answered[0].body["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("ARR $"),
        "{:?}",
        answered[0].body
    );

    // Buttons under the private answer: feedback replaces them in place, the PDF (which
    // can't be attached in the channel) is a private note with the link and the hint.
    let id = button_value(&answered[0], "cortex_feedback_helpful");
    let private_click = |action: &str, url: &str| {
        let mut v = click_payload(action, &id);
        v["container"]["is_ephemeral"] = json!(true);
        v["response_url"] = json!(url);
        v.as_object_mut().expect("payload").remove("message");
        v
    };
    bot.click_with(&private_click(
        "cortex_feedback_helpful",
        &fake.response_url("act2"),
    ))
    .await;
    bot.click_with(&private_click(
        "cortex_open_pdf",
        &fake.response_url("act3"),
    ))
    .await;
    bot.idle().await;
    assert_eq!(
        bot.server.svc.state.feedback(&id).expect("feedback"),
        vec![("slack:U01REV0002".to_string(), true)]
    );
    let thanked = fake.calls("respond:act2");
    assert_eq!(thanked.len(), 1, "{:?}", fake.activity());
    assert_eq!(thanked[0].body["replace_original"], true);
    let b = blocks_text(&thanked[0]);
    assert!(
        b.contains("Thanks, feedback recorded.") && b.contains("/invite @Cortex"),
        "{b}"
    );
    assert!(!b.contains("cortex_feedback"), "{b}");
    assert!(
        b.contains("Enterprise") || b.contains("ARR"),
        "the answer stays: {b}"
    );
    let note = fake.calls("respond:act3");
    assert_eq!(note.len(), 1);
    assert_eq!(note[0].body["replace_original"], false);
    let text = note[0].body["text"].as_str().unwrap_or("");
    assert!(
        text.contains(&format!("/a/{id}")) && text.contains("/invite @Cortex"),
        "{text}"
    );

    // Still nothing in the channel but the two refused intros.
    assert_eq!(fake.calls("chat.postMessage").len(), 2);
    assert!(fake.calls("chat.update").is_empty());
    assert!(fake.calls("chat.postEphemeral").is_empty());
    assert!(fake.calls("files.getUploadURLExternal").is_empty());
}

/// A `message` event in the channel sample's shape (what message.channels delivers).
fn channel_message(text: &str, event_id: &str, ts: &str, thread_ts: Option<&str>) -> Value {
    let mut v = json_payload("bolt-python/event_callback.message.channel.json");
    v["event"]["text"] = json!(text);
    v["event"]["ts"] = json!(ts);
    v["event"]["event_ts"] = json!(ts);
    v["event"].as_object_mut().expect("event").remove("blocks");
    if let Some(t) = thread_ts {
        v["event"]["thread_ts"] = json!(t);
    }
    v["event_id"] = json!(event_id);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_replies_without_a_mention_are_follow_ups_and_a_mention_is_answered_once() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let root = "1600000010.000100";
    bot.event(&mention("What's our ARR by segment?", "EvF1", root, None))
        .await;
    bot.idle().await;
    assert_eq!(fake.calls("chat.update").len(), 1);

    // A plain reply in the bot's thread is a follow-up.
    bot.event(&channel_message(
        "and by plan?",
        "EvF2",
        "1600000010.000200",
        Some(root),
    ))
    .await;
    bot.idle().await;
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 2, "{:?}", fake.activity());
    let text = updates[1].body["text"].as_str().unwrap_or("");
    assert!(text.starts_with("ARR by plan"), "{text}");
    assert!(blocks_text(&updates[1]).contains("Read as a follow-up"));
    let posts = fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].body["thread_ts"], root);

    // A mention in the thread comes twice (app_mention and message): one answer.
    let ts = "1600000010.000300";
    bot.event(&mention("same for last quarter", "EvF3", ts, Some(root)))
        .await;
    bot.event(&channel_message(
        "<@UBOT> same for last quarter",
        "EvF4",
        ts,
        Some(root),
    ))
    .await;
    bot.idle().await;
    assert_eq!(fake.calls("chat.postMessage").len(), 3);
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 3);
    let text = updates[2].body["text"].as_str().unwrap_or("");
    assert!(
        text.starts_with("ARR by plan") && text.contains("2026-09-30"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_messages_outside_the_bots_threads_and_bot_messages_are_ignored() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let root = "1600000011.000100";
    bot.event(&mention("How many tickets last month?", "EvI1", root, None))
        .await;
    bot.idle().await;
    let before = fake.activity().len();
    assert!(before > 0);

    // A reply in a thread the bot never answered in, even a long one: nothing.
    bot.event(&channel_message(
        "and by channel?",
        "EvI2",
        "1600000011.000300",
        Some("1600000099.000100"),
    ))
    .await;
    bot.event(&channel_message(
        &"tickets ".repeat(5_000),
        "EvI3",
        "1600000011.000301",
        Some("1600000099.000100"),
    ))
    .await;
    // A top-level channel message: nothing.
    bot.event(&channel_message(
        "and by channel?",
        "EvI4",
        "1600000011.000400",
        None,
    ))
    .await;
    // In the bot's own thread: another bot's reply, the bot's own, and an edit: nothing.
    let mut other_bot = channel_message("and by channel?", "EvI5", "1600000011.000500", Some(root));
    other_bot["event"]["bot_id"] = json!("B999");
    other_bot["event"]["subtype"] = json!("bot_message");
    bot.event(&other_bot).await;
    let mut own = channel_message("and by channel?", "EvI6", "1600000011.000600", Some(root));
    own["event"]["user"] = json!("UBOT");
    bot.event(&own).await;
    let mut edited = json_payload("bolt-python/event_callback.message_changed.im.json");
    edited["event"]["channel"] = json!("C111");
    edited["event"]["channel_type"] = json!("channel");
    edited["event_id"] = json!("EvI7");
    bot.event(&edited).await;
    // The same reply delivered twice (a retry): one answer, proving replies do get through.
    let reply = channel_message("and by channel?", "EvI8", "1600000011.000800", Some(root));
    bot.event(&reply).await;
    bot.event(&reply).await;
    bot.idle().await;
    let after = fake.activity();
    let new: Vec<&Call> = after[before..].iter().collect();
    let posts: Vec<&&Call> = new
        .iter()
        .filter(|c| c.method == "chat.postMessage")
        .collect();
    assert_eq!(posts.len(), 1, "{new:?}");
    assert_eq!(posts[0].body["thread_ts"], root);
    let updates: Vec<&&Call> = new.iter().filter(|c| c.method == "chat.update").collect();
    assert_eq!(updates.len(), 1);
    assert!(
        updates[0].body["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("Tickets by channel"),
        "{:?}",
        updates[0].body
    );
}

/// Link buttons ("Open as HTML", "PDF" with a `url`): Slack still sends block_actions; the
/// bot acknowledges and does nothing else, whether the payload's action carries the url
/// (HTTP) or only the message's button does (what Socket Mode's model keeps).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_button_clicks_are_acknowledged_and_nothing_else() {
    let fake = start_fake().await;
    let site = "https://cortex.example.com";
    let bot = start_bot_with(&fake, None, None, |c| {
        c.server.public_url = Some(site.into());
    })
    .await;

    // With a public URL the answer's HTML and PDF buttons are links; clicking them (the
    // payload carrying the message's blocks, as Slack sends it) does nothing more.
    let thread = "1600000012.000050";
    bot.event(&mention("What's our ARR by segment?", "EvK1", thread, None))
        .await;
    bot.idle().await;
    let answer = fake.calls("chat.update")[0].clone();
    let links: Vec<Value> = buttons(&answer)
        .into_iter()
        .filter(|b| b["url"].is_string())
        .collect();
    assert_eq!(links.len(), 2, "{:?}", answer.body);
    assert!(links
        .iter()
        .all(|b| b["url"].as_str().is_some_and(|u| u.starts_with(site))));
    let before = fake.activity().len();
    for id in ["cortex_open_html", "cortex_open_pdf"] {
        let mut v = click_payload(id, "");
        v["container"]["message_ts"] = answer.body["ts"].clone();
        v["message"] = json!({"ts": answer.body["ts"], "text": answer.body["text"],
            "type": "message", "thread_ts": thread, "blocks": answer.body["blocks"]});
        v["actions"][0]
            .as_object_mut()
            .expect("action")
            .remove("value");
        assert_eq!(bot.click_with(&v).await, 200);
    }
    bot.idle().await;
    assert_eq!(
        fake.activity().len(),
        before,
        "{:?}",
        &fake.activity()[before..]
    );

    let link = "https://cortex.example.com/a/abc123";
    let mut v = click_payload("cortex_open_html", "abc123");
    v["actions"][0]["url"] = json!(link);
    assert_eq!(bot.click_with(&v).await, 200);
    let mut w = click_payload("cortex_open_pdf", "abc123");
    w["message"] = json!({"ts": "1700000000.000001", "type": "message", "text": "x",
        "blocks": [{"type": "actions", "block_id": "b", "elements": [
            {"type": "button", "action_id": "cortex_open_html", "url": link,
             "text": {"type": "plain_text", "text": "Open as HTML"}},
            {"type": "button", "action_id": "cortex_open_pdf", "url": format!("{link}.pdf"),
             "text": {"type": "plain_text", "text": "PDF"}}]}]});
    assert_eq!(bot.click_with(&w).await, 200);
    bot.idle().await;
    assert_eq!(
        fake.activity().len(),
        before,
        "{:?}",
        &fake.activity()[before..]
    );
    // The old buttons (no url) still work: the HTML link comes as an ephemeral message.
    assert_eq!(
        bot.click("cortex_open_html", "abc123", "1600000012.000100")
            .await,
        200
    );
    bot.idle().await;
    let eph = fake.calls("chat.postEphemeral");
    assert_eq!(eph.len(), 1);
    assert!(eph[0].body["text"]
        .as_str()
        .unwrap_or("")
        .contains("/a/abc123"));
}

/// In a DM the conversation is the thread: a clarifying choice is answered in the DM (not
/// in a thread under the question), and the PDF lands there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_dm_choices_and_files_stay_in_the_conversation() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let mut v = json_payload("bolt-python/event_callback.message.im.json");
    v["event"]["text"] = json!("How is revenue doing?");
    v["event_id"] = json!("EvDM2");
    v["event"]
        .as_object_mut()
        .expect("event")
        .remove("thread_ts");
    bot.event(&v).await;
    bot.idle().await;
    let question = fake.calls("chat.update")[0].clone();
    assert_eq!(question.body["channel"], "D111");
    let action = buttons(&question)
        .into_iter()
        .find(|b| b["value"].as_str().is_some_and(|v| v.ends_with("|arr")))
        .and_then(|b| b["action_id"].as_str().map(str::to_string))
        .expect("an ARR choice");
    bot.click_on(&question, &action, None).await;
    bot.idle().await;
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 3, "{updates:?}");
    assert!(blocks_text(&updates[1]).contains("You chose *ARR*"));
    let answer = updates[2].clone();
    assert!(answer.body["text"]
        .as_str()
        .unwrap_or("")
        .starts_with("ARR $"));
    for p in fake.calls("chat.postMessage") {
        assert_eq!(p.body["channel"], "D111");
        assert!(p.body.get("thread_ts").is_none(), "{:?}", p.body);
    }
    bot.click_on(&answer, "cortex_open_pdf", None).await;
    bot.idle().await;
    let done = fake.calls("files.completeUploadExternal");
    let pdf = done.last().expect("the PDF");
    assert_eq!(pdf.body["channel_id"], "D111");
    assert!(pdf.body.get("thread_ts").is_none(), "{:?}", pdf.body);
    assert!(fake
        .calls("files.getUploadURLExternal")
        .iter()
        .any(|c| c.body["filename"]
            .as_str()
            .is_some_and(|n| n.ends_with("-2026-11-20.pdf"))));
}

/// A suggested next question is a button; clicking it asks that question in the thread and
/// the answer is that question's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suggested_question_button_asks_it_in_the_thread() {
    let fake = start_fake().await;
    let bot = start_bot(&fake, None, None).await;
    let thread = "1595926230.007700";
    bot.event(&mention(
        "What's our ARR by segment?",
        "EvSug1",
        thread,
        None,
    ))
    .await;
    bot.idle().await;
    let updates = fake.calls("chat.update");
    assert_eq!(updates.len(), 1, "{:?}", fake.all());
    let suggestion = button_value(&updates[0], "cortex_suggest_0");
    assert!(!suggestion.is_empty());
    assert_eq!(
        bot.click_on(&updates[0], "cortex_suggest_0", Some(thread))
            .await,
        200
    );
    bot.idle().await;
    let updates = fake.calls("chat.update");
    let last = updates.last().expect("an answer to the suggestion");
    assert_eq!(updates.len(), 2, "{:?}", fake.all());
    let posts = fake.calls("chat.postMessage");
    assert_eq!(
        posts.last().expect("placeholder").body["thread_ts"],
        thread,
        "answered in the thread"
    );
    // The answer is the suggestion's own (a governed answer, not a clarifying question).
    let b = blocks_text(last);
    assert!(
        b.contains("cortex_open_html"),
        "answered, with its buttons: {b}"
    );
    assert!(
        !b.contains(":thinking_face:"),
        "not a clarifying question: {b}"
    );
}
