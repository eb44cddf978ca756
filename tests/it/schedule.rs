//! Briefings and signals end to end: the scheduler on an injected clock, the real ask
//! pipeline over the demo warehouse, the ledger and outbox in a real state database, and
//! the Slack-post deliverer talking to the fake Slack Web API of the Slack tests.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use cortex::answer::{Answer, Status};
use cortex::render::slack::actions;
use cortex::schedule::ledger::Claim;
use cortex::schedule::{Clock, ManualClock, Outcome, Scheduler, Settings};
use cortex::signals::{Audience, Direction, Firing, Kind, QuietHours, Severity, Signal, SignalSet};
use serde_json::json;

use crate::helpers::{demo_today, project_dir};
use crate::slack_bot::{copy_dir, start_bot_with, start_fake, Bot, Call, FakeSlack};

const OKR_QUESTION: &str =
    "How are we performing against OKR #1, and what can my team do to help accelerate it?";

/// A leaders' briefing: Morgan (CEO, Revenue, New York) and Riya (Support, Kolkata).
const LEADERS: &str = r#"
title: Leaders
audience:
  people: [U01EXE0001, U01SUP0001]
schedule:
  cron: "0 8 * * MON"
  tz: audience
contents:
  - question: "How are we performing against OKR #1, and what can my team do to help accelerate it?"
"#;

struct Env {
    fake: FakeSlack,
    bot: Bot,
    project: tempfile::TempDir,
    clock: Arc<ManualClock>,
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The fake Slack, a bot over a project holding `briefings` (name, yaml), and a clock.
async fn env(briefings: &[(&str, &str)], start: DateTime<Utc>) -> Env {
    let fake = start_fake().await;
    let project = tempfile::tempdir().unwrap();
    for dir in ["skills", "context"] {
        copy_dir(&project_dir().join(dir), &project.path().join(dir));
    }
    std::fs::copy(
        project_dir().join("metrics.yaml"),
        project.path().join("metrics.yaml"),
    )
    .unwrap();
    let dir = project.path().join("briefings");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, yaml) in briefings {
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
    let bot = start_bot_with(&fake, Some(project.path().to_path_buf()), None, |_| {}).await;
    Env {
        fake,
        bot,
        project,
        clock: ManualClock::new(start),
    }
}

impl Env {
    /// A scheduler over the bot's service (each one its own lease holder, like a process).
    fn scheduler(&self, signals: Vec<Signal>) -> Scheduler {
        let svc = Arc::clone(&self.bot.server.svc);
        let briefings = cortex::schedule::briefing::load_dir(
            self.project.path(),
            &svc.rt.context,
            &svc.rt.skills,
        )
        .expect("briefings load");
        Scheduler::new(
            svc,
            briefings,
            Arc::new(SignalSet { signals }),
            self.clock.clone(),
            Settings::default(),
        )
        .unwrap()
    }

    /// One outbox pass with the server's deliverers (Slack posts).
    async fn deliver(&self) -> usize {
        self.bot
            .server
            .svc
            .outbox
            .deliver_due(&self.bot.server.deliverers, Utc::now())
            .await
            .unwrap()
    }

    fn posts(&self) -> Vec<Call> {
        self.fake.calls("chat.postMessage")
    }
}

fn sent(out: &[Outcome]) -> Vec<(String, String, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Outcome::Sent {
                key,
                recipient,
                late,
                ..
            } => Some((key.clone(), recipient.clone(), *late)),
            _ => None,
        })
        .collect()
}

fn blocks_text(c: &Call) -> String {
    c.body["blocks"].to_string()
}

/// The recommendations a person gets for the OKR question when asking it themselves.
fn recommendations_for(env: &Env, slack_id: &str) -> Vec<String> {
    let rt = &env.bot.server.svc.rt;
    let person = rt.context.person(slack_id).unwrap();
    let a = cortex::skills::answer_question(
        rt,
        OKR_QUESTION,
        Some(person),
        demo_today(),
        &format!("slack:{slack_id}"),
    );
    assert_eq!(a.status, Status::Answered, "{}", a.headline);
    a.recommendations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_briefing_arrives_once_at_each_leaders_local_eight_with_its_pdf_and_their_own_team() {
    // Monday 2026-11-30 07:59 in New York.
    let env = env(&[("leaders", LEADERS)], utc("2026-11-30T12:59:00Z")).await;
    let s = env.scheduler(Vec::new());
    assert!(s.tick().await.unwrap().is_empty(), "not 08:00 anywhere yet");

    env.clock.set(utc("2026-11-30T13:00:05Z"));
    let out = sent(&s.tick().await.unwrap());
    assert_eq!(out.len(), 1, "{out:?}");
    let (key, who, late) = &out[0];
    assert_eq!(
        (key.as_str(), who.as_str(), *late),
        (
            "briefing:leaders:U01EXE0001:2026-11-30T13:00Z",
            "U01EXE0001",
            false
        )
    );
    assert_eq!(env.deliver().await, 1);

    // A DM: conversations.open, then the post with the key in its metadata, then the PDF
    // uploaded into the message's thread.
    let open = env.fake.calls("conversations.open");
    assert_eq!(open.len(), 1);
    assert!(open[0].body["users"].to_string().contains("U01EXE0001"));
    let posts = env.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.body["channel"], "DU01EXE0001");
    assert_eq!(post.body["metadata"]["event_type"], "cortex_delivery");
    assert_eq!(post.body["metadata"]["event_payload"]["key"], json!(key));
    let complete = env.fake.calls("files.completeUploadExternal");
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0].body["channel_id"], "DU01EXE0001");
    let posted_ts = env.fake.state.posted.lock().unwrap()[0]["ts"].clone();
    assert_eq!(complete[0].body["thread_ts"], posted_ts);
    let uploads: Vec<Call> = env
        .fake
        .all()
        .into_iter()
        .filter(|c| c.method.starts_with("upload:"))
        .collect();
    assert_eq!(uploads.len(), 1);
    assert!(uploads[0].raw.starts_with(b"%PDF"), "a PDF is attached");
    let outbox = env.bot.server.svc.outbox.get(key).unwrap().unwrap();
    assert_eq!(outbox.state, cortex::outbox::WriteState::Done);

    // Later the same day: nothing new, nothing twice.
    env.clock.set(utc("2026-11-30T18:00:00Z"));
    assert!(s.tick().await.unwrap().is_empty());
    assert_eq!(env.deliver().await, 0);
    assert_eq!(env.posts().len(), 1);

    // Next Monday 08:01 in Kolkata (02:31 UTC): Riya's, and Morgan's is not due yet.
    env.clock.set(utc("2026-12-07T02:31:00Z"));
    let out = sent(&s.tick().await.unwrap());
    assert_eq!(
        out.iter().map(|o| o.1.as_str()).collect::<Vec<_>>(),
        ["U01SUP0001"]
    );
    assert_eq!(out[0].0, "briefing:leaders:U01SUP0001:2026-12-07T02:30Z");
    env.deliver().await;
    let posts = env.posts();
    assert_eq!(posts.len(), 2);

    // "My team" is each leader's own: the team part equals what they get when asking.
    let (morgan, riya) = (
        recommendations_for(&env, "U01EXE0001"),
        recommendations_for(&env, "U01SUP0001"),
    );
    // Revenue has a lever on ARR, Support Operations none.
    assert!(!morgan.is_empty());
    assert_ne!(morgan, riya, "Revenue and Support get different levers");
    let esc = |s: &str| cortex::render::slack::escape(s);
    let (m_text, r_text) = (blocks_text(&posts[0]), blocks_text(&posts[1]));
    for r in &morgan {
        assert!(m_text.contains(&esc(r)), "Morgan's briefing lacks {r:?}");
        assert_eq!(r_text.contains(&esc(r)), riya.contains(r), "{r:?}");
    }
    for r in &riya {
        assert!(r_text.contains(&esc(r)), "Riya's briefing lacks {r:?}");
    }
    assert!(m_text.contains("Morgan Hale") && r_text.contains("Riya Kapoor"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_deliver_a_slot_once_and_a_restart_mid_slot_finishes_it_once() {
    let morgan_only = LEADERS.replace("[U01EXE0001, U01SUP0001]", "[U01EXE0001]");
    let env = env(&[("leaders", &morgan_only)], utc("2026-11-30T12:59:00Z")).await;
    let (a, b) = (env.scheduler(Vec::new()), env.scheduler(Vec::new()));
    let (x, y) = tokio::join!(a.tick(), b.tick());
    assert!(x.unwrap().is_empty() && y.unwrap().is_empty());

    // Both processes tick at 08:00 New York: one holds the lease, one slot is claimed.
    env.clock.set(utc("2026-11-30T13:00:10Z"));
    let (x, y) = tokio::join!(a.tick(), b.tick());
    let (x, y) = (sent(&x.unwrap()), sent(&y.unwrap()));
    assert_eq!(x.len() + y.len(), 1, "{x:?} {y:?}");
    let holder_is_a = !x.is_empty();
    let (holder, other) = if holder_is_a { (&a, &b) } else { (&b, &a) };
    // The other one stays out while the lease runs, even with a fresh due slot in sight.
    assert!(other.tick().await.unwrap().is_empty());
    // The holder stops (its lease lapses unrenewed): the other takes over, and finds the
    // slot claimed already.
    env.clock.set(utc("2026-11-30T13:03:00Z"));
    assert!(other.tick().await.unwrap().is_empty());
    assert!(!other
        .ledger
        .lease("probe", env.clock.now(), chrono::Duration::minutes(1))
        .unwrap());
    env.deliver().await;
    assert_eq!(env.posts().len(), 1);
    let _ = holder;

    // A process claimed the next slot (message and all) and died before queueing it.
    let key = "briefing:leaders:U01EXE0001:2026-12-07T13:00Z";
    let payload = json!({"channel": null, "user": "U01EXE0001", "text": "Leaders (claimed before a crash)",
                         "blocks": [], "file": null});
    let claimed = a
        .ledger
        .claim(
            &Claim {
                key: key.into(),
                job: "briefing:leaders".into(),
                scope: String::new(),
                slot: "2026-12-07T13:00:00+00:00".into(),
                recipient: "U01EXE0001".into(),
                late: false,
                payload: payload.clone(),
                due_at: utc("2026-12-07T13:00:00Z"),
            },
            "dead-process",
            utc("2026-12-07T13:00:00Z"),
        )
        .unwrap();
    assert!(claimed);
    // The restarted process queues the stored message; it does not build another.
    env.clock.set(utc("2026-12-07T13:04:00Z"));
    let restarted = env.scheduler(Vec::new());
    let out = restarted.tick().await.unwrap();
    assert!(sent(&out).is_empty(), "{out:?}");
    assert_eq!(env.deliver().await, 1);
    let posts = env.posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].body["text"], "Leaders (claimed before a crash)");

    // A crash after posting but before the outbox's bookkeeping: delivering the same key
    // again finds the message by its metadata and posts nothing.
    let d = env.bot.server.deliverers.get("slack.post").unwrap();
    let first = env.bot.server.svc.outbox.get(key).unwrap().unwrap();
    let again = d.deliver(key, &payload).await.unwrap();
    assert_eq!(again["ts"], first.result.unwrap()["ts"]);
    assert_eq!(env.posts().len(), 2);
    assert!(env.fake.calls("conversations.history").len() >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_downtime_only_the_latest_missed_slot_is_sent_once_and_marked_late() {
    let daily = r##"
title: Daily ARR
audience: {channels: ["#leaders"]}
schedule: {cron: "0 8 * * *", tz: UTC}
contents: [{question: "What's our ARR by segment?"}]
format: {pdf: false}
"##;
    let env = env(&[("daily", daily)], utc("2026-11-20T07:00:00Z")).await;
    let s = env.scheduler(Vec::new());
    assert!(s.tick().await.unwrap().is_empty());
    // Down from the 20th 07:00 to the 24th 10:00: five slots missed, one sent.
    env.clock.set(utc("2026-11-24T10:00:00Z"));
    let out = sent(&s.tick().await.unwrap());
    assert_eq!(
        out,
        [(
            "briefing:daily:#leaders:2026-11-24T08:00Z".to_string(),
            "#leaders".to_string(),
            true
        )]
    );
    env.clock.set(utc("2026-11-24T10:01:00Z"));
    assert!(s.tick().await.unwrap().is_empty());
    env.deliver().await;
    let posts = env.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["channel"], "#leaders");
    assert!(blocks_text(&posts[0]).contains("Late: this briefing was due"));
    assert!(
        env.fake.calls("files.completeUploadExternal").is_empty(),
        "pdf: false"
    );
}

/// Ticks every `step` from `from` to `to`; the local times of the slots sent for `job`.
async fn walk(env: &Env, s: &Scheduler, from: &str, to: &str, step: i64, job: &str) -> Vec<String> {
    let (mut t, to) = (utc(from), utc(to));
    let mut out = Vec::new();
    while t < to {
        env.clock.set(t);
        for (key, _, late) in sent(&s.tick().await.unwrap()) {
            // The first tick after a jump catches up the one slot missed meanwhile (late);
            // every slot inside the walk is on time.
            if late && t == utc(from) {
                continue;
            }
            assert!(!late, "{key}");
            if key.starts_with(job) {
                let slot = chrono::NaiveDateTime::parse_from_str(
                    &key[key.len() - 17..],
                    "%Y-%m-%dT%H:%MZ",
                )
                .unwrap()
                .and_utc();
                out.push(
                    slot.with_timezone(&chrono_tz::America::New_York)
                        .format("%m-%d %H:%M %Z")
                        .to_string(),
                );
            }
        }
        t += chrono::Duration::minutes(step);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daylight_saving_2026_each_slot_fires_once_at_the_right_local_time() {
    let b = |name: &str, cron: &str| {
        format!(
            "name: {name}\ntitle: {name}\naudience: {{channels: [\"#ny\"]}}\nschedule: {{cron: \"{cron}\", tz: America/New_York}}\ncontents: [{{question: \"What's our ARR?\"}}]\nformat: {{pdf: false}}\n"
        )
    };
    let (eight, half_two, half_one) = (
        b("eight", "0 8 * * *"),
        b("half_two", "30 2 * * *"),
        b("half_one", "30 1 * * *"),
    );
    let env = env(
        &[
            ("eight", &eight),
            ("half_two", &half_two),
            ("half_one", &half_one),
        ],
        utc("2026-03-06T00:00:00Z"),
    )
    .await;
    let s = env.scheduler(Vec::new());
    // Spring forward, Sunday 2026-03-08: 08:00 stays 08:00; 02:30 does not exist and
    // fires once, at 03:00 EDT.
    let spring = walk(
        &env,
        &s,
        "2026-03-06T00:00:00Z",
        "2026-03-10T13:00:01Z",
        15,
        "briefing:eight:",
    )
    .await;
    assert_eq!(
        spring,
        [
            "03-06 08:00 EST",
            "03-07 08:00 EST",
            "03-08 08:00 EDT",
            "03-09 08:00 EDT",
            "03-10 08:00 EDT"
        ]
    );
    let s2 = env.scheduler(Vec::new());
    let ledger_slots = |job: &str| -> Vec<String> {
        s2.ledger
            .of_job(job)
            .unwrap()
            .iter()
            .map(|r| {
                DateTime::parse_from_rfc3339(&r.slot)
                    .unwrap()
                    .with_timezone(&chrono_tz::America::New_York)
                    .format("%m-%d %H:%M %Z")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        ledger_slots("briefing:half_two"),
        [
            "03-06 02:30 EST",
            "03-07 02:30 EST",
            "03-08 03:00 EDT",
            "03-09 02:30 EDT",
            "03-10 02:30 EDT"
        ]
    );
    // Fall back, Sunday 2026-11-01: 01:30 happens twice and fires once.
    let fall = walk(
        &env,
        &s,
        "2026-10-30T00:00:00Z",
        "2026-11-03T14:00:01Z",
        15,
        "briefing:eight:",
    )
    .await;
    assert_eq!(
        fall,
        [
            "10-30 08:00 EDT",
            "10-31 08:00 EDT",
            "11-01 08:00 EST",
            "11-02 08:00 EST",
            "11-03 08:00 EST"
        ]
    );
    let half_one = ledger_slots("briefing:half_one");
    let autumn: Vec<&String> = half_one.iter().filter(|s| s.as_str() >= "10-30").collect();
    assert_eq!(
        autumn,
        [
            "10-30 01:30 EDT",
            "10-31 01:30 EDT",
            "11-01 01:30 EDT",
            "11-02 01:30 EST",
            "11-03 01:30 EST"
        ]
    );
}

fn signal(name: &str, quiet: Option<QuietHours>) -> Signal {
    Signal {
        name: name.into(),
        title: "Chat first response by vertical".into(),
        file: PathBuf::from("signals/support.yaml"),
        metric: "tickets".into(),
        scope: Some("vertical".into()),
        filters: Vec::new(),
        grain: cortex::semantic::Grain::Day,
        kind: Kind::Threshold {
            above: Some(1.0),
            below: None,
        },
        direction: Direction::DownIsGood,
        severity: Severity::Warning,
        audience: Audience {
            channels: vec!["#support".into()],
            ..Audience::default()
        },
        cooldown: chrono::Duration::days(3),
        quiet_hours: quiet,
    }
}

fn firing(s: &Signal, scope: &str, window: &str) -> Firing {
    let mut a = Answer::new(
        s.title.as_str(),
        Status::Answered,
        format!("Chat first response doubled for {scope} on {window}."),
    );
    a.title = s.title.clone();
    Firing {
        signal: s.name.clone(),
        scope: Some(scope.into()),
        window: window.into(),
        severity: s.severity,
        audience: s.audience.clone(),
        answer: a,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_honour_cooldown_mute_not_useful_and_quiet_hours() {
    // Mutes are recorded with the real time when clicked: start from it.
    let start = Utc::now();
    let env = env(&[], start).await;
    let frt = signal("chat_frt", None);
    let quiet = signal(
        "quiet_one",
        Some(QuietHours {
            from: chrono::NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            to: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            tz: Some("UTC".into()),
        }),
    );
    let s = env.scheduler(vec![frt.clone(), quiet.clone()]);
    let e = "vertical=Electronics";

    let out = s
        .deliver_firings(&[firing(&frt, e, "2026-11-19")], false)
        .await
        .unwrap();
    assert_eq!(sent(&out).len(), 1, "{out:?}");
    env.deliver().await;
    let post = env.posts().pop().unwrap();
    assert_eq!(post.body["channel"], "#support");
    let text = blocks_text(&post);
    let value = "chat_frt|vertical=Electronics|2026-11-19";
    for id in [
        actions::SIGNAL_MUTE,
        actions::SIGNAL_NOT_USEFUL,
        actions::FILE_LINEAR,
    ] {
        assert!(text.contains(id), "button {id} missing: {text}");
    }
    assert!(text.contains(value));

    // The same firing again: already delivered. The next day, same scope: cooldown; another
    // scope fires.
    let out = s
        .deliver_firings(&[firing(&frt, e, "2026-11-19")], false)
        .await
        .unwrap();
    assert!(matches!(out[..], [Outcome::Already { .. }]), "{out:?}");
    env.clock.set(start + chrono::Duration::days(1));
    let out = s
        .deliver_firings(
            &[
                firing(&frt, e, "2026-11-20"),
                firing(&frt, "vertical=Fashion", "2026-11-20"),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(matches!(out[0], Outcome::Cooldown { .. }), "{out:?}");
    assert!(matches!(out[1], Outcome::Sent { .. }), "{out:?}");
    // Past the cooldown it fires again.
    env.clock.set(start + chrono::Duration::days(4));
    let out = s
        .deliver_firings(&[firing(&frt, e, "2026-11-23")], false)
        .await
        .unwrap();
    assert_eq!(sent(&out).len(), 1, "{out:?}");

    // "Mute for 7 days" from Slack: the scope stays quiet, past its cooldown too.
    assert_eq!(
        env.bot
            .click(actions::SIGNAL_MUTE, value, "1700000000.000001")
            .await,
        200
    );
    env.bot.idle().await;
    let until = s
        .ledger
        .muted("chat_frt", e, Utc::now())
        .unwrap()
        .expect("muted");
    assert!(until > Utc::now() + chrono::Duration::days(6));
    env.clock.set(start + chrono::Duration::days(5));
    let out = s
        .deliver_firings(&[firing(&frt, e, "2026-11-25")], false)
        .await
        .unwrap();
    assert!(matches!(out[..], [Outcome::Muted { .. }]), "{out:?}");
    let told = env.fake.calls("chat.postEphemeral");
    assert!(
        told.iter()
            .any(|c| c.body["text"].as_str().unwrap_or("").starts_with("Muted")),
        "{told:?}"
    );

    // "Not useful" is stored.
    assert_eq!(
        env.bot
            .click(actions::SIGNAL_NOT_USEFUL, value, "1700000000.000001")
            .await,
        200
    );
    env.bot.idle().await;
    let fb = s.ledger.feedback_of("chat_frt").unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(
        (fb[0].0.as_str(), fb[0].1.as_str(), fb[0].3.as_str()),
        (e, "2026-11-19", "not_useful")
    );
    assert!(fb[0].2.starts_with("slack:U"));

    // Quiet hours (22:00-07:00 UTC): claimed at 23:00, held until 07:00, then queued.
    let night = Utc.with_ymd_and_hms(2026, 12, 1, 23, 0, 0).unwrap();
    env.clock.set(night);
    let out = s
        .deliver_firings(&[firing(&quiet, e, "2026-12-01")], false)
        .await
        .unwrap();
    let Outcome::Sent { key, due_at, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(*due_at, Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap());
    assert!(
        env.bot.server.svc.outbox.get(key).unwrap().is_none(),
        "held"
    );
    assert_eq!(
        s.flush(night + chrono::Duration::hours(8) - chrono::Duration::seconds(1))
            .unwrap(),
        0
    );
    assert_eq!(s.flush(night + chrono::Duration::hours(8)).unwrap(), 1);
    assert!(
        env.bot.server.svc.outbox.get(key).unwrap().is_some(),
        "queued after quiet hours"
    );
}

#[test]
fn our_okrs_answers_every_okr_as_asking_for_each_one_does() {
    let (_state, rt) = crate::helpers::demo_runtime(&project_dir());
    let dana = rt.context.person("U01REV0001");
    let ask =
        |q: &str| cortex::skills::answer_question(&rt, q, dana, demo_today(), "slack:U01REV0001");
    let okr_blocks = |a: &Answer| -> Vec<serde_json::Value> {
        a.sections
            .iter()
            .filter_map(|s| match s {
                cortex::answer::Section::Okr(o) => Some(serde_json::to_value(o).unwrap()),
                _ => None,
            })
            .collect()
    };
    let all = ask("Are we on track for our OKRs?");
    assert_eq!(all.status, Status::Answered, "{}", all.headline);
    assert!(all.choices.is_empty(), "no 'which OKR?'");
    let blocks = okr_blocks(&all);
    assert_eq!(blocks.len(), rt.context.okrs.len());
    let mut on_pace = 0;
    for (block, okr) in blocks.iter().zip(&rt.context.okrs) {
        let one = ask(&format!("Are we on track for OKR #{}?", okr.id));
        assert_eq!(one.status, Status::Answered);
        assert_eq!(
            okr_blocks(&one),
            std::slice::from_ref(block),
            "OKR #{}",
            okr.id
        );
        on_pace += one.findings.iter().any(|f| f.starts_with("On pace")) as usize;
    }
    assert_eq!(
        all.headline,
        format!(
            "{on_pace} of {} OKRs {} on pace to reach their targets.",
            blocks.len(),
            if on_pace == 1 { "is" } else { "are" }
        )
    );
    // Naming one OKR still answers that one alone.
    assert_eq!(okr_blocks(&ask("Are we on track for OKR #2?")).len(), 1);
}

#[test]
fn check_reports_every_briefing_problem_with_file_and_line() {
    let (_state, rt) = crate::helpers::demo_runtime(&project_dir());
    let dir = tempfile::tempdir().unwrap();
    let bad = r#"title: Broken
audience:
  people: [U_NOBODY]
  team: Revnue
schedule:
  cron: "0 25 * * MON"
  tz: Mars/Olympus
contents:
  - skill: okr_progres
"#;
    std::fs::write(dir.path().join("broken.yaml"), bad).unwrap();
    let err =
        cortex::schedule::briefing::load(dir.path(), &rt.context, &rt.skills).expect_err("invalid");
    let text = err.to_string();
    for want in [
        "unknown person \"U_NOBODY\"",
        "unknown team \"Revnue\"",
        "did you mean Revenue",
        "bad cron expression",
        "unknown time zone \"Mars/Olympus\"",
        "unknown skill \"okr_progres\"",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(err.0.iter().all(|d| d.file.ends_with("broken.yaml")));
    assert!(err.0.iter().all(|d| d.line.is_some()), "{text}");
    // The shipped set is valid.
    let shipped = cortex::schedule::briefing::load_dir(&project_dir(), &rt.context, &rt.skills)
        .expect("shipped briefings are valid");
    assert_eq!(shipped.len(), 1);
    assert_eq!(shipped[0].recipients.len(), 3);
}

/// A firing is computed with the operator's access, so a person hears it only when their
/// own policy lets them see everything in it: a row-scoped CSM and someone denied the
/// metric are skipped; channels and people with the access get it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_only_people_allowed_to_see_them() {
    let env = env(&[], Utc::now()).await;
    let mut sig = signal("pipeline_drop", None);
    sig.metric = "pipeline_arr".into();
    sig.audience = Audience {
        channels: vec!["#revenue".into()],
        people: vec![
            "U01CSM0001".into(), // Ava: a CSM, sees only her own book
            "U01SUP0001".into(), // Riya: Support, pipeline_arr is restricted
            "U01REV0001".into(), // Dana: Revenue
            "U01DAT0001".into(), // Noor: Data, an admin
        ],
        ..Audience::default()
    };
    let s = env.scheduler(vec![sig.clone()]);
    let mut f = firing(&sig, "all", "2026-11-19");
    f.answer.provenance.metrics = cortex::answer::MetricInfo::of(
        &env.bot.server.svc.rt.engine.layer,
        &["pipeline_arr".to_string()],
    );
    assert_eq!(f.answer.provenance.metrics.len(), 1);
    let out = s.deliver_firings(&[f], false).await.unwrap();
    let mut to: Vec<String> = sent(&out).into_iter().map(|(_, r, _)| r).collect();
    to.sort();
    assert_eq!(to, vec!["#revenue", "U01DAT0001", "U01REV0001"], "{out:?}");
}
