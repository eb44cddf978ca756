//! The outbox survives a kill: a real `cortex serve` child process files a Linear task
//! (asked in Slack, filed from the web page as a person would), Linear creates the issue but
//! its reply never arrives, the process is killed (SIGKILL) mid-send, and a restarted
//! process delivers the write once: the retry uses the same client-chosen issue id, Linear
//! says it exists, the issue is read back, the outbox row is done, and the thread gets one
//! link. Every wait is on the fakes' request logs or the outbox row, never a sleep.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cortex::outbox::{Outbox, WriteState};
use serde_json::json;

use crate::helpers::{cortex_bin, demo_warehouse, project_dir};
use crate::linear::{start_fake, FakeLinear, KEY};
use crate::slack_bot::{copy_dir, mention, start_fake as start_slack, FakeSlack};

const SIGNING: &str = "kill-test-signing-secret";

/// A running `cortex serve`: its URL and the log lines it wrote.
struct Serve {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(project: &Path, state_db: &Path, slack: &FakeSlack) -> Serve {
        let mut cmd = Command::new(cortex_bin());
        cmd.args(["serve", "--today", "2026-11-20", "--project"])
            .arg(project)
            .env("CORTEX_WAREHOUSE", demo_warehouse())
            .env("CORTEX_STATE_DB", state_db)
            .env("CORTEX_LISTEN", "127.0.0.1:0")
            .env("CORTEX_SLACK_BOT_TOKEN", "xoxb-kill-test")
            .env("CORTEX_SLACK_SIGNING_SECRET", SIGNING)
            .env("CORTEX_SLACK_API_URL", &slack.api_url)
            .env("CORTEX_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for k in [
            "CORTEX_SLACK_APP_TOKEN",
            "SLACK_APP_TOKEN",
            "CORTEX_LINEAR_API_KEY",
            "CORTEX_LINEAR_BASE_URL",
            "CORTEX_PUBLIC_URL",
            "CORTEX_LLM_BASE_URL",
        ] {
            cmd.env_remove(k);
        }
        let mut child = cmd.spawn().expect("cortex serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = Arc::clone(&log);
        // Drains the log for the process's whole life (a full pipe would block it).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("Cortex is serving on ") {
                    let _ = tx.send(url.split_whitespace().next().unwrap_or("").to_string());
                }
                lines.lock().expect("lock").push(line);
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("serve did not start: {:?}", log.lock().expect("lock")));
        Serve { child, url, log }
    }

    fn kill(&mut self) {
        // SIGKILL: no shutdown, no bookkeeping.
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (on the fake's notifications) until `done` holds.
async fn until_linear(fake: &FakeLinear, what: &str, done: impl Fn(&FakeLinear) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let woken = fake.state.created.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if done(fake) {
            return;
        }
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            panic!("timed out waiting for {what}: {:?}", fake.seen());
        }
    }
}

async fn until_slack(slack: &FakeSlack, what: &str, done: impl Fn(&FakeSlack) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let woken = slack.state.called.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if done(slack) {
            return;
        }
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            panic!("timed out waiting for {what}");
        }
    }
}

fn filed_posts(slack: &FakeSlack) -> Vec<serde_json::Value> {
    slack
        .calls("chat.postMessage")
        .into_iter()
        .filter(|c| c.body["text"].as_str().unwrap_or("").starts_with("Filed "))
        .map(|c| c.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_flight_when_serve_is_killed_is_delivered_once_after_restart() {
    let fake = start_fake().await;
    let slack = start_slack().await;
    let project = tempfile::tempdir().expect("tmp");
    for dir in ["skills", "context"] {
        copy_dir(&project_dir().join(dir), &project.path().join(dir));
    }
    std::fs::copy(
        project_dir().join("metrics.yaml"),
        project.path().join("metrics.yaml"),
    )
    .expect("metrics");
    std::fs::write(
        project.path().join("cortex.toml"),
        format!(
            r#"
[server]
default_user = "dana.whitfield@example.com"

[outbox]
lease_secs = 3
base_delay_secs = 0.2
max_delay_secs = 1

[linear]
api_key = "{KEY}"
base_url = "{url}"
default_team = "ENG"
teams = {{ "Revenue" = "REV" }}
timeout_secs = 60
"#,
            url = fake.url
        ),
    )
    .expect("cortex.toml");
    let state_db = project.path().join("state.sqlite");
    // Linear creates the issue and then never answers: the write is in flight.
    fake.state.hang_after_create.store(true, Ordering::SeqCst);
    let mut first = Serve::start(project.path(), &state_db, &slack);

    // Dana asks in Slack; the answer lands in the thread.
    let thread = "1600000077.000100";
    let event = mention(
        "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        "EvKill1",
        thread,
        None,
    )
    .to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let ts = chrono::Utc::now().timestamp().to_string();
    let r = http
        .post(format!("{}/slack/events", first.url))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &ts)
        .header(
            "x-slack-signature",
            cortex::slack::signature::sign(SIGNING, &ts, event.as_bytes()),
        )
        .body(event)
        .send()
        .await
        .expect("event");
    assert_eq!(r.status().as_u16(), 200);
    until_slack(&slack, "the answer", |s| !s.calls("chat.update").is_empty()).await;
    let answer_msg = slack.calls("chat.update").remove(0);
    let value = crate::slack_bot::button_value(&answer_msg, "cortex_file_linear_task_0");
    let answer_id = value.split('|').next().expect("id").to_string();

    // Dana files the first proposed task from the answer's web page.
    let r = http
        .get(format!("{}/a/{answer_id}", first.url))
        .send()
        .await
        .expect("page");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("cortex_session="))
        .expect("session")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let page = r.text().await.expect("html");
    assert!(page.contains("File Linear task</button>"), "{page}");
    let csrf = cortex::bench::load::hidden_value(&page, "csrf").expect("csrf");
    let post = http
        .post(format!("{}/a/{answer_id}/tasks/0", first.url))
        .header("cookie", &cookie)
        .header("origin", &first.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("csrf", csrf.as_str())]).expect("form"));
    // The page waits for Linear; the process dies first, so its reply never comes.
    let filing = tokio::spawn(async move { post.send().await.map(|r| r.status().as_u16()) });

    until_linear(&fake, "the issue to be created", |f| f.issues().len() == 1).await;
    first.kill();
    let _ = filing.await;
    let log_first = first.log.lock().expect("lock").join("\n");
    assert!(!log_first.contains(KEY), "the key never reaches the log");

    let key = format!("linear:{answer_id}:0");
    let audit = cortex::warehouse::AuditLog::open(&state_db).expect("state db");
    let outbox = Outbox::open(audit).expect("outbox");
    let rec = outbox
        .get(&key)
        .expect("read")
        .expect("queued before the kill");
    assert_eq!(rec.state, WriteState::InFlight, "{rec:?}");
    assert_eq!(rec.attempts, 1);
    assert!(
        filed_posts(&slack).is_empty(),
        "no link before the issue is confirmed"
    );

    // Linear answers normally again; a new process picks the write up once its lease lapses.
    fake.state.hang_after_create.store(false, Ordering::SeqCst);
    let mut second = Serve::start(project.path(), &state_db, &slack);
    until_slack(&slack, "the link in the thread", |s| {
        !filed_posts(s).is_empty()
    })
    .await;
    let rec = outbox
        .wait_done(&key, Duration::from_secs(60))
        .await
        .expect("read")
        .expect("row");
    assert_eq!(rec.state, WriteState::Done, "{rec:?}");
    assert_eq!(rec.attempts, 2);
    assert_eq!(rec.result.as_ref().expect("result")["identifier"], "REV-1");

    assert_eq!(fake.issues().len(), 1, "exactly one issue");
    assert_eq!(
        fake.creates(),
        2,
        "the retry reused the id and read the issue back"
    );
    assert!(fake.seen().iter().any(|s| s.query.contains("issue(id")));
    let posts = filed_posts(&slack);
    assert_eq!(posts.len(), 1, "one link in the thread: {posts:?}");
    assert_eq!(posts[0]["thread_ts"], json!(thread));
    assert!(posts[0]["text"]
        .as_str()
        .unwrap_or("")
        .contains("<https://linear.app/acme/issue/REV-1|"));

    // The answer's page shows the issue.
    let page = http
        .get(format!("{}/a/{answer_id}", second.url))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert_eq!(page.matches(">REV-1</a>").count(), 1, "{page}");
    let log_second = second.log.lock().expect("lock").join("\n");
    assert!(!log_second.contains(KEY), "the key never reaches the log");
    second.kill();
}
