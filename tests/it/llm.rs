//! The LLM path against an OpenAI-compatible server started here on 127.0.0.1, with
//! scripted answers: tool calls, malformed JSON, a hallucinated metric, a slow answer and a
//! 500. The real async-openai client and HTTP are exercised; every failure falls back to
//! the offline router and still answers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use cortex::answer::Status;
use cortex::config::{LlmConfig, Secret};
use cortex::llm::Llm;
use serde_json::{json, Value};

use crate::helpers::{assert_json_close, demo_runtime, demo_sql, demo_today, project_dir};

#[derive(Clone)]
enum Reply {
    Tool(&'static str, String),
    Text(&'static str),
    Status(u16),
    Slow(Duration),
}

#[derive(Clone, Default)]
struct Fake {
    script: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Value>>>,
}

async fn completions(State(f): State<Fake>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    f.requests.lock().expect("lock").push(body);
    let reply = f
        .script
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(Reply::Status(500));
    let message = match reply {
        Reply::Status(code) => {
            return (
                StatusCode::from_u16(code).expect("status"),
                Json(
                    json!({"error": {"message": "scripted failure", "type": "server_error", "param": null, "code": null}}),
                ),
            )
        }
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            json!({"role": "assistant", "content": "too late"})
        }
        Reply::Text(t) => json!({"role": "assistant", "content": t}),
        Reply::Tool(name, args) => json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}]}),
    };
    (
        StatusCode::OK,
        Json(
            json!({"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "test-model",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": null}]}),
        ),
    )
}

async fn spawn(script: Vec<Reply>) -> (Fake, SocketAddr) {
    let fake = Fake {
        script: Arc::new(Mutex::new(script.into())),
        ..Fake::default()
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (fake, addr)
}

fn llm(addr: SocketAddr, timeout: Duration, retries: u32) -> Llm {
    Llm::new(&LlmConfig {
        base_url: format!("http://{addr}/v1"),
        model: "test-model".into(),
        api_key: Secret::new("sk-test"),
        timeout,
        retries,
        cooldown: Duration::ZERO,
    })
    .expect("client")
}

const TICKETS_LAST_MONTH: &str = "SELECT channel, count(*) FROM tickets
    WHERE created_at >= DATE '2026-10-01' AND created_at < DATE '2026-11-01' GROUP BY 1";

fn sorted(v: Value) -> Value {
    let mut a = v.as_array().cloned().unwrap_or_default();
    a.sort_by_key(|r| r.to_string());
    Value::Array(a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_picks_the_skill_and_a_grounded_narrative_is_kept() {
    let (_s, rt) = demo_runtime(&project_dir());
    let (fake, addr) = spawn(vec![
        Reply::Tool("okr_progress", r#"{"okr": "1"}"#.into()),
        Reply::Text("ARR is 93.9% of the OKR #1 target due 2026-12-31."),
    ])
    .await;
    let llm = llm(addr, Duration::from_secs(5), 0);
    let person = rt.context.person("U01REV0002");
    let a = cortex::skills::llm_route::answer(
        &rt,
        &llm,
        "how's the revenue goal going?",
        person,
        demo_today(),
        "cli:test",
    )
    .await;
    assert_eq!(a.skill, "okr_progress", "{}", a.text);
    assert_eq!(a.params.get("okr").map(String::as_str), Some("1"));
    assert_eq!(a.params.get("team").map(String::as_str), Some("Revenue"));
    assert_eq!(
        a.narrative.as_deref(),
        Some("ARR is 93.9% of the OKR #1 target due 2026-12-31.")
    );
    let requests = fake.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 2);
    let tools = requests[0]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    for s in [
        "metric_question",
        "okr_progress",
        "merchant_brief",
        "support_benchmark",
        "pipeline_overview",
    ] {
        assert!(names.contains(&s), "{names:?}");
    }
    let mq = tools
        .iter()
        .find(|t| t["function"]["name"] == "metric_question")
        .expect("mq");
    let metric_enum = &mq["function"]["parameters"]["properties"]["metrics"]["items"]["enum"];
    assert!(metric_enum
        .as_array()
        .expect("enum")
        .contains(&json!("arr")));
    assert_eq!(requests[0]["model"], "test-model");
    // The prompt carries the asker and the relevant context, never SQL.
    let prompt = requests[0]["messages"].to_string();
    assert!(prompt.contains("Hannah Lee"), "{prompt}");
    assert!(prompt.contains("revenue goal going?"), "{prompt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_structured_query_from_the_model_is_compiled_by_the_semantic_layer() {
    let (_s, rt) = demo_runtime(&project_dir());
    let (_fake, addr) = spawn(vec![
        Reply::Tool(
            "metric_question",
            json!({"metrics": ["tickets"], "group_by": ["channel"], "time_range": {"from": "2026-10-01", "to": "2026-10-31"},
                "understood": [{"phrase": "support load", "role": "metric", "as": "tickets"},
                               {"phrase": "by channel", "role": "dimension", "as": "channel"},
                               {"phrase": "last month", "role": "time", "as": "2026-10-01 to 2026-10-31"}]}).to_string(),
        ),
        Reply::Text("Email led with the most tickets."),
    ])
    .await;
    let llm = llm(addr, Duration::from_secs(5), 0);
    let a = cortex::skills::llm_route::answer(
        &rt,
        &llm,
        "support load by channel last month?",
        None,
        demo_today(),
        "cli:test",
    )
    .await;
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    assert!(a.sql.as_deref().is_some_and(|s| s.starts_with("WITH ")));
    assert_json_close(
        &sorted(serde_json::to_value(&a.rows).expect("rows")),
        &sorted(demo_sql(TICKETS_LAST_MONTH)),
    );
    assert_eq!(
        a.narrative.as_deref(),
        Some("Email led with the most tickets.")
    );
}

/// Warnings logged while a future runs, captured per future (the dispatcher is set only
/// while it is polled, so tests running in parallel do not mix their logs).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    async fn capture<F: std::future::Future>(&self, f: F) -> F::Output {
        use tracing::instrument::WithSubscriber;
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        f.with_subscriber(subscriber).await
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

/// The requests that offered tools (routing), and the ones that did not (narration).
fn routing_and_narration(fake: &Fake) -> (Vec<Value>, Vec<Value>) {
    fake.requests
        .lock()
        .expect("lock")
        .iter()
        .cloned()
        .partition(|r| r.get("tools").is_some())
}

const LLM_NOTE: &str = "Interpreted with the LLM";

/// A failure case: name, the fake's script, the client's timeout and retries, and two
/// pieces of text the log must show.
type FallbackCase = (&'static str, Vec<Reply>, Duration, u32, [&'static str; 2]);

/// Malformed arguments, a hallucinated metric, an unknown tool, a slow server and a 500:
/// each time the model was really asked (the fake saw the routing request with the
/// question), its answer was rejected or never came (the log says why), and the offline
/// router answered: the same query, SQL and rows as the offline router on its own, with no
/// note that the LLM read the question.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_llm_failure_falls_back_to_the_offline_router() {
    let (_s, rt) = demo_runtime(&project_dir());
    let question = "How many tickets did we get last month by channel?";
    let expected = sorted(demo_sql(TICKETS_LAST_MONTH));
    let offline = cortex::skills::answer_question(&rt, question, None, demo_today(), "cli:test");
    assert_eq!(offline.status, Status::Answered, "{}", offline.text);
    assert!(offline.sql.is_some());
    const REJECTED: &str = "LLM tool call rejected; using the offline router";
    const UNAVAILABLE: &str = "LLM unavailable; using the offline router";
    let cases: Vec<FallbackCase> = vec![
        (
            "malformed JSON",
            vec![
                Reply::Tool("metric_question", "{\"metrics\": [\"tickets\"".into()),
                Reply::Status(500),
            ],
            Duration::from_secs(5),
            0,
            [REJECTED, "arguments are not JSON"],
        ),
        (
            "hallucinated metric",
            vec![
                Reply::Tool(
                    "metric_question",
                    r#"{"metrics": ["revenue_churn"]}"#.into(),
                ),
                Reply::Status(500),
            ],
            Duration::from_secs(5),
            0,
            [REJECTED, "revenue_churn"],
        ),
        (
            "unknown tool",
            vec![
                Reply::Tool("sql_runner", r#"{"sql": "DROP TABLE tickets"}"#.into()),
                Reply::Status(500),
            ],
            Duration::from_secs(5),
            0,
            [REJECTED, "unknown tool \"sql_runner\""],
        ),
        (
            "slow",
            vec![
                Reply::Slow(Duration::from_secs(3)),
                Reply::Slow(Duration::from_secs(3)),
                Reply::Status(400),
            ],
            Duration::from_secs(1),
            1,
            [UNAVAILABLE, "timed out"],
        ),
        (
            "500",
            vec![],
            Duration::from_secs(10),
            0,
            [UNAVAILABLE, "scripted failure"],
        ),
    ];
    for (name, script, timeout, retries, logged) in cases {
        let (fake, addr) = spawn(script).await;
        let llm = llm(addr, timeout, retries);
        let logs = Logs::default();
        let a = logs
            .capture(cortex::skills::llm_route::answer(
                &rt,
                &llm,
                question,
                None,
                demo_today(),
                "cli:test",
            ))
            .await;
        // The primary path was tried: the model was offered the tools with the question.
        let (routed, narrated) = routing_and_narration(&fake);
        assert!(!routed.is_empty(), "{name}: the LLM was never asked");
        assert!(
            routed[0]["messages"].to_string().contains(question),
            "{name}: {}",
            routed[0]["messages"]
        );
        // ... and its answer was rejected (or never came), which the log says.
        let log = logs.text();
        for l in logged {
            assert!(log.contains(l), "{name}: {l:?} not in the log:\n{log}");
        }
        // The offline router's answer, not the model's.
        assert_eq!(a.status, Status::Answered, "{name}: {}", a.text);
        assert_eq!(a.skill, "metric_question", "{name}");
        assert_eq!(a.query, offline.query, "{name}");
        assert_eq!(a.sql, offline.sql, "{name}");
        assert!(
            !a.provenance.notes.iter().any(|n| n.contains(LLM_NOTE)),
            "{name}: {:?}",
            a.provenance.notes
        );
        assert_json_close(
            &sorted(serde_json::to_value(&a.rows).expect("rows")),
            &expected,
        );
        assert!(a.narrative.is_none(), "{name}");
        match name {
            "500" => {
                // The client retried the failing call before giving up.
                assert!(routed.len() >= 2, "{name}: {}", routed.len());
            }
            "slow" => {
                // The routing call: one attempt plus one retry after the timeout.
                assert_eq!(routed.len(), 2, "{name}");
            }
            _ => {
                // One routing call, then the offline answer went on to narration.
                assert_eq!(routed.len(), 1, "{name}");
                assert!(!narrated.is_empty(), "{name}: no narration request");
            }
        }
    }
}

/// Narration was asked for (the fake got a request without tools, carrying the computed
/// results), the model's sentence had a number the results do not have, and it was dropped
/// with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrative_with_an_invented_number_is_rejected() {
    let (_s, rt) = demo_runtime(&project_dir());
    let (fake, addr) = spawn(vec![
        Reply::Tool(
            "metric_question",
            json!({"metrics": ["tickets"], "group_by": ["channel"], "time_range": {"from": "2026-10-01", "to": "2026-10-31"},
                "understood": [{"phrase": "tickets", "role": "metric", "as": "tickets"},
                               {"phrase": "by channel", "role": "dimension", "as": "channel"},
                               {"phrase": "last month", "role": "time"}]}).to_string(),
        ),
        Reply::Text("Tickets grew 37% to 123,456,789 last month."),
    ])
    .await;
    let llm = llm(addr, Duration::from_secs(5), 0);
    let logs = Logs::default();
    let a = logs
        .capture(cortex::skills::llm_route::answer(
            &rt,
            &llm,
            "tickets by channel last month",
            None,
            demo_today(),
            "cli:test",
        ))
        .await;
    assert_eq!(a.status, Status::Answered);
    // The model's query was used (so the rejection below is about the narrative alone).
    assert!(
        a.provenance.notes.iter().any(|n| n.contains(LLM_NOTE)),
        "{:?}",
        a.provenance.notes
    );
    // Narration was attempted: one request without tools, after routing, with the results.
    let (routed, narrated) = routing_and_narration(&fake);
    assert_eq!((routed.len(), narrated.len()), (1, 1));
    let sent = narrated[0]["messages"].to_string();
    assert!(sent.contains("Summarise these computed results"), "{sent}");
    assert!(sent.contains("tickets by channel last month"), "{sent}");
    // The computed results went to the model: the answer's headline is in the request.
    let user = narrated[0]["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    let headline = a.text.lines().next().expect("answer text");
    assert!(headline.contains("Tickets"), "{headline}");
    assert!(user.contains(headline), "{headline:?} not in {user:?}");
    // ... and the invented number got it dropped.
    let log = logs.text();
    assert!(
        log.contains("narrative rejected: a number is not in the results"),
        "{log}"
    );
    assert!(a.narrative.is_none());
    assert!(!a.text.contains("123,456,789"), "{}", a.text);
    assert!(!a.text.contains("37%"), "{}", a.text);
}

/// The model's reading of each phrase comes with its query; a phrase the query does not
/// use (a dropped group-by), or a word no reading covers, gets a clarifying question and
/// no numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_drops_a_phrase_gets_a_clarifying_question() {
    let (_s, rt) = demo_runtime(&project_dir());
    let question = "tickets by channel last month";
    let dropped_group_by = json!({"metrics": ["tickets"], "time_range": {"from": "2026-10-01", "to": "2026-10-31"},
        "understood": [{"phrase": "tickets", "role": "metric", "as": "tickets"},
                       {"phrase": "by channel", "role": "dimension", "as": "channel"},
                       {"phrase": "last month", "role": "time"}]});
    let unread_word = json!({"metrics": ["tickets"], "time_range": {"from": "2026-10-01", "to": "2026-10-31"},
        "understood": [{"phrase": "tickets", "role": "metric", "as": "tickets"},
                       {"phrase": "last month", "role": "time"}]});
    for (name, args) in [
        ("dropped group-by", dropped_group_by),
        ("unread word", unread_word),
    ] {
        let (fake, addr) = spawn(vec![Reply::Tool("metric_question", args.to_string())]).await;
        let llm = llm(addr, Duration::from_secs(5), 0);
        let a =
            cortex::skills::llm_route::answer(&rt, &llm, question, None, demo_today(), "cli:test")
                .await;
        assert_eq!(a.status, Status::Clarify, "{name}: {}", a.text);
        assert!(a.rows.is_empty(), "{name}");
        assert!(a.text.contains("channel"), "{name}: {}", a.text);
        // The schema asked the model for its reading.
        let requests = fake.requests.lock().expect("lock").clone();
        let mq = requests[0]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .find(|t| t["function"]["name"] == "metric_question")
            .cloned()
            .expect("mq");
        assert!(
            mq["function"]["parameters"]["properties"]["understood"].is_object(),
            "{name}"
        );
    }
    // The same query with the group-by kept is answered, with the model's reading.
    let kept = json!({"metrics": ["tickets"], "group_by": ["channel"], "time_range": {"from": "2026-10-01", "to": "2026-10-31"},
        "understood": [{"phrase": "tickets", "role": "metric", "as": "tickets"},
                       {"phrase": "by channel", "role": "dimension", "as": "channel"},
                       {"phrase": "last month", "role": "time"}]});
    let (_fake, addr) = spawn(vec![
        Reply::Tool("metric_question", kept.to_string()),
        Reply::Status(500),
    ])
    .await;
    let llm = llm(addr, Duration::from_secs(5), 0);
    let a = cortex::skills::llm_route::answer(&rt, &llm, question, None, demo_today(), "cli:test")
        .await;
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    assert_json_close(
        &sorted(serde_json::to_value(&a.rows).expect("rows")),
        &sorted(demo_sql(TICKETS_LAST_MONTH)),
    );
    assert!(a.understood.iter().any(|u| u.as_ == "channel"));
    assert!(a.text.contains("Read as:"), "{}", a.text);
}
