//! Exactly once across a real crash: a `cortex serve` child process, its clock moved to a
//! Monday 08:00 by `CORTEX_NOW`, is killed with SIGKILL while the fake Slack holds its
//! chat.postMessage response (the message is posted, the process never learns it), then
//! restarted on the same state database: the briefing is in Slack exactly once, with its
//! PDF. Every wait is on the fake's request log.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::helpers::{cortex_bin, demo_warehouse, project_dir};
use crate::slack_bot::{copy_dir, start_fake, Call};

const BRIEFING: &str = r#"
title: Monday ARR
audience: {people: [U01EXE0001]}
schedule: {cron: "0 8 * * MON", tz: audience}
contents: [{question: "What's our ARR by segment?"}]
"#;

/// The binary under test: `cortex` of this build (`CORTEX_TEST_BIN` overrides it when a
/// target directory shared between checkouts holds another checkout's `cortex`).
fn bin() -> std::path::PathBuf {
    std::env::var_os("CORTEX_TEST_BIN")
        .map(Into::into)
        .unwrap_or_else(|| cortex_bin().to_path_buf())
}

fn serve(project: &std::path::Path, state: &std::path::Path, api_url: &str) -> Child {
    Command::new(bin())
        .arg("--project")
        .arg(project)
        .arg("--warehouse")
        .arg(demo_warehouse())
        .args(["--today", "2026-11-20", "serve", "--listen", "127.0.0.1:0"])
        // Monday 2026-11-30, 08:00:20 in New York.
        .env("CORTEX_NOW", "2026-11-30T13:00:20Z")
        .env("CORTEX_STATE_DB", state)
        .env("CORTEX_SLACK_BOT_TOKEN", "xoxb-test")
        .env("CORTEX_SLACK_API_URL", api_url)
        .env("CORTEX_SCHEDULE_TICK_SECS", "0.2")
        .env_remove("CORTEX_SLACK_APP_TOKEN")
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("CORTEX_SLACK_SIGNING_SECRET")
        .env_remove("SLACK_SIGNING_SECRET")
        .env_remove("CORTEX_LLM_BASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cortex serve starts")
}

fn count(calls: &[Call], method: &str) -> usize {
    calls.iter().filter(|c| c.method == method).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_mid_post_and_restarted_delivers_the_briefing_exactly_once() {
    // A target directory shared between checkouts may hold another checkout's binary.
    let help = Command::new(bin())
        .args(["brief", "--help"])
        .output()
        .unwrap();
    assert!(
        help.status.success(),
        "{} has no `brief` command: another checkout's build (set CORTEX_TEST_BIN)",
        bin().display()
    );
    let fake = start_fake().await;
    fake.state.hold_posts.store(true, Ordering::SeqCst);
    let project = tempfile::tempdir().unwrap();
    for dir in ["skills", "context"] {
        copy_dir(&project_dir().join(dir), &project.path().join(dir));
    }
    std::fs::copy(
        project_dir().join("metrics.yaml"),
        project.path().join("metrics.yaml"),
    )
    .unwrap();
    std::fs::create_dir_all(project.path().join("briefings")).unwrap();
    std::fs::write(project.path().join("briefings/monday.yaml"), BRIEFING).unwrap();
    // A write left in flight by a dead process may be taken over after 2 s.
    std::fs::write(
        project.path().join("cortex.toml"),
        "[outbox]\nlease_secs = 2\nbase_delay_secs = 0.2\n",
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("state.db");

    let mut first = serve(project.path(), &db, &fake.api_url);
    let limit = Duration::from_secs(180);
    fake.wait_for(limit, |c| count(c, "chat.postMessage") == 1)
        .await;
    // Posted in Slack; the response is held: kill the process now.
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    fake.state.hold_posts.store(false, Ordering::SeqCst);
    fake.state.release.notify_waiters();
    assert_eq!(count(&fake.all(), "files.completeUploadExternal"), 0);

    let mut second = serve(project.path(), &db, &fake.api_url);
    let calls = fake
        .wait_for(limit, |c| count(c, "files.completeUploadExternal") == 1)
        .await;
    second.kill().expect("SIGKILL");
    second.wait().expect("reaped");

    // One message, found by its key after the restart instead of posted again, and the PDF
    // in its thread.
    assert_eq!(count(&calls, "chat.postMessage"), 1, "{calls:#?}");
    assert!(count(&calls, "conversations.history") >= 2);
    let posted = fake.state.posted.lock().unwrap().clone();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0]["metadata"]["event_payload"]["key"],
        "briefing:monday:U01EXE0001:2026-11-30T13:00Z"
    );
    let upload = calls
        .iter()
        .find(|c| c.method == "files.completeUploadExternal")
        .unwrap();
    assert_eq!(upload.body["thread_ts"], posted[0]["ts"]);
    let pdf = calls
        .iter()
        .find(|c| c.method.starts_with("upload:"))
        .unwrap();
    assert!(pdf.raw.starts_with(b"%PDF"));
}
