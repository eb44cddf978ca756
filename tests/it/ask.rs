//! `cortex ask`: the planner and the JSON answer contract, end to end.

use std::process::Command;

use cortex::answer::Status;
use cortex::engine::Engine;
use cortex::planner::Vocabulary;
use serde_json::Value as Json;

use crate::helpers::{cortex_bin, fixture, fixture_today, project_dir};

/// The planner's answer with its text, as the pipeline finishes it.
fn ask(
    e: &Engine,
    v: &Vocabulary,
    q: &str,
    today: chrono::NaiveDate,
    who: &str,
) -> cortex::answer::Answer {
    let mut a = cortex::answer::ask(e, v, q, today, who);
    a.provenance.today.get_or_insert(today);
    a.text = cortex::render::text::answer(&a);
    a
}

/// The question set passes at 100% on a small demo warehouse, through the skill router;
/// expected rows come from hand-written SQL in the file, so any scale works.
#[test]
fn the_question_set_passes_on_the_demo() {
    let (_state, rt) = crate::helpers::demo_runtime(&project_dir());
    let cases =
        cortex::eval::load(&project_dir().join("tests/eval/questions.yaml")).expect("cases");
    assert!(cases.len() >= 40);
    let report = cortex::eval::run(&rt, &cases, &mut |_| {});
    crate::helpers::assert_no_misses(&report);
    assert_eq!(report.accuracy(), 1.0);
}

#[test]
fn json_answer_follows_the_contract() {
    let f = fixture();
    let out = Command::new(cortex_bin())
        .args([
            "ask",
            "--today",
            "2025-10-15",
            "--format",
            "json",
            "How many tickets by channel in October?",
        ])
        .env("CORTEX_WAREHOUSE", &f.warehouse)
        .env("CORTEX_STATE_DB", &f.state_db)
        .current_dir(project_dir())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Json = serde_json::from_slice(&out.stdout).expect("json");
    for key in [
        "question",
        "status",
        "skill",
        "query",
        "sql",
        "columns",
        "rows",
        "text",
        "provenance",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["status"], "answered");
    assert_eq!(v["skill"], "metric_question");
    assert_eq!(v["columns"], serde_json::json!(["channel", "tickets"]));
    // October 2025 in the fixture: T1, T3 email; T2, T4 chat. October is still running on
    // the 15th, so it is counted to date.
    assert_eq!(v["rows"], serde_json::json!([["chat", 2], ["email", 2]]));
    assert_eq!(
        v["query"]["time_range"],
        serde_json::json!({"from": "2025-10-01", "to": "2025-10-15"})
    );
    assert_eq!(v["provenance"]["metrics"][0]["name"], "tickets");
    assert_eq!(v["provenance"]["data_freshness"], "2025-10-06");
    let text = v["text"].as_str().expect("text");
    assert!(
        text.starts_with("Tickets by channel, October 2025 to date: chat 2, email 2."),
        "{text}"
    );
    assert!(text.contains("Data through Oct 6, 2025"), "{text}");
}

#[test]
fn ratios_are_fractions_and_dates_iso_in_json() {
    let f = fixture();
    let e = f.engine();
    let v = Vocabulary::new(&e.layer);
    let a = ask(
        &e,
        &v,
        "automation rate by segment",
        fixture_today(),
        "cli:test",
    );
    let json = serde_json::to_value(&a).expect("json");
    assert_eq!(json["rows"][0], serde_json::json!(["SMB", 0.5]));
    let a = ask(&e, &v, "ARR by month in 2025", fixture_today(), "cli:test");
    let json = serde_json::to_value(&a).expect("json");
    assert_eq!(json["rows"][0], serde_json::json!(["2025-01-01", 50720.0]));
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(10));
}

#[test]
fn unanswerable_and_clarify_carry_no_numbers() {
    let f = fixture();
    let e = f.engine();
    let v = Vocabulary::new(&e.layer);
    for (q, status) in [
        ("What's our headcount?", Status::Unanswerable),
        ("DROP TABLE tickets; --", Status::Unanswerable),
        ("Show me revenue", Status::Clarify),
        ("ARR for Blue Fox Goods", Status::Unanswerable),
        (
            "How many merchants did we have at the end of 2024?",
            Status::Unanswerable,
        ),
    ] {
        let a = ask(&e, &v, q, fixture_today(), "cli:test");
        assert_eq!(a.status, status, "{q}: {}", a.text);
        assert!(a.rows.is_empty() && a.sql.is_none(), "{q}");
        assert!(
            !a.text.chars().any(|c| c.is_ascii_digit())
                || status == Status::Unanswerable && a.text.contains("2024"),
            "{q}: {}",
            a.text
        );
    }
    let a = ask(&e, &v, "Show me revenue", fixture_today(), "cli:test");
    assert!(
        a.choices.contains(&"arr".to_string()) && a.choices.len() >= 2,
        "{:?}",
        a.choices
    );
    assert!(
        a.text.starts_with("Which metric did you mean:"),
        "{}",
        a.text
    );
}

#[test]
fn a_warehouse_timeout_is_a_friendly_error() {
    let f = fixture();
    // A governed metric whose measure takes minutes: the 200 ms timeout always stops it.
    let project = tempfile::tempdir().expect("tmp");
    let yaml = crate::helpers::metrics_with_slow_metric();
    std::fs::write(project.path().join("metrics.yaml"), yaml).expect("write");
    let mut cfg = f.config(std::time::Duration::from_millis(200));
    cfg.project = project.path().to_path_buf();
    let e = Engine::open(cfg).expect("engine");
    let v = Vocabulary::new(&e.layer);
    let started = std::time::Instant::now();
    let a = ask(
        &e,
        &v,
        "What is the slow metric?",
        fixture_today(),
        "cli:test",
    );
    assert_eq!(a.status, Status::Error, "{}", a.text);
    assert!(a.text.contains("was stopped"), "{}", a.text);
    assert!(!a.text.contains('\n'), "one sentence: {}", a.text);
    assert!(a.rows.is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// A metric added to metrics.yaml, with synonyms, is askable with no Rust change.
#[test]
fn a_new_metric_becomes_askable() {
    let f = fixture();
    let project = tempfile::tempdir().expect("tmp");
    let mut yaml = std::fs::read_to_string(project_dir().join("metrics.yaml")).expect("yaml");
    yaml.push_str(
        "  - name: refund_requests
    type: simple
    label: Refund requests
    description: Tickets asking for a refund.
    owner: support-ops@cortex.example
    unit: count
    synonyms: [money back requests, refund asks]
    measure: ticket_count
    filter: [\"intent = refund\"]
",
    );
    std::fs::write(project.path().join("metrics.yaml"), yaml).expect("write");
    let mut config = f.config(std::time::Duration::from_secs(10));
    config.project = project.path().to_path_buf();
    let e = Engine::open(config).expect("engine");
    let v = Vocabulary::new(&e.layer);
    let a = ask(
        &e,
        &v,
        "How many money back requests did we get by segment?",
        fixture_today(),
        "cli:test",
    );
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    assert_eq!(
        a.query.as_ref().map(|q| q.metrics.clone()),
        Some(vec!["refund_requests".to_string()])
    );
    // T4 is the only refund ticket (M2, Enterprise).
    assert_eq!(
        serde_json::to_value(&a.rows).expect("json"),
        serde_json::json!([["Enterprise", 1]])
    );
}

/// "Why did X drop": the total change between the two months matches hand-written SQL, and
/// each contributor row is that value's change, ranked in the direction of the total change.
#[test]
fn why_reports_the_change_and_its_contributors() {
    let (_state, rt) = crate::helpers::demo_runtime(&project_dir());
    let a = cortex::skills::answer_question(
        &rt,
        "Why did tickets drop last month?",
        None,
        crate::helpers::demo_today(),
        "cli:test",
    );
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    assert_eq!(a.columns[0], "dimension");
    let total = crate::helpers::demo_sql(
        "SELECT count(*) FILTER (WHERE created_at >= DATE '2026-09-01' AND created_at < DATE '2026-10-01'),
                count(*) FILTER (WHERE created_at >= DATE '2026-10-01' AND created_at < DATE '2026-11-01')
         FROM tickets",
    );
    let (sep, oct) = (
        total[0][0].as_f64().expect("sep"),
        total[0][1].as_f64().expect("oct"),
    );
    let row = &a.rows[0];
    assert_eq!(row[2].as_f64(), Some(sep));
    assert_eq!(row[3].as_f64(), Some(oct));
    assert_eq!(row[4].as_f64(), Some(oct - sep));
    let by_channel = crate::helpers::demo_sql(
        "SELECT channel, count(*) FILTER (WHERE created_at >= DATE '2026-10-01' AND created_at < DATE '2026-11-01')
              - count(*) FILTER (WHERE created_at >= DATE '2026-09-01' AND created_at < DATE '2026-10-01') d
         FROM tickets GROUP BY 1",
    );
    let sign = if oct < sep { -1.0 } else { 1.0 };
    let mut expected: Vec<(String, f64)> = by_channel
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap_or("").to_string(),
                r[1].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    expected.sort_by(|p, q| (q.1 * sign).total_cmp(&(p.1 * sign)));
    let channel_rows: Vec<(String, f64)> = a
        .rows
        .iter()
        .filter(|r| r[0].as_str() == Some("channel"))
        .map(|r| {
            (
                r[1].as_str().unwrap_or("").to_string(),
                r[4].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    assert!(!channel_rows.is_empty(), "{}", a.text);
    assert_eq!(
        channel_rows[0].1, expected[0].1,
        "{channel_rows:?} vs {expected:?}"
    );
    for (value, change) in &channel_rows {
        let want = expected.iter().find(|(v, _)| v == value).expect("value");
        assert_eq!(*change, want.1, "{value}");
    }
    assert!(
        a.headline.contains("Largest contributors"),
        "{}",
        a.headline
    );
}

/// Every phrase is in `understood`, and a phrase nothing explains is asked about by name.
#[test]
fn understood_lists_every_phrase_and_unknown_phrases_are_asked_about() {
    let f = fixture();
    let e = f.engine();
    let v = Vocabulary::new(&e.layer);
    let a = ask(
        &e,
        &v,
        "How many tickets by channel in October?",
        fixture_today(),
        "cli:test",
    );
    let json = serde_json::to_value(&a).expect("json");
    let items = json["understood"].as_array().expect("understood");
    let has = |role: &str, as_: &str| {
        items
            .iter()
            .any(|u| u["role"] == role && u["as"].as_str().is_some_and(|s| s.contains(as_)))
    };
    assert!(has("metric", "tickets"), "{items:?}");
    assert!(has("dimension", "channel"), "{items:?}");
    assert!(has("time", "2025-10-01"), "{items:?}");
    assert!(a.text.contains("Read as:"), "{}", a.text);
    let words: usize = items
        .iter()
        .map(|u| {
            u["phrase"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .sum();
    assert_eq!(words, 7, "{items:?}");

    for (q, phrase) in [
        ("tickets by warehouse location", "warehouse location"),
        ("churned ARR by channel", "channel"),
    ] {
        let a = ask(&e, &v, q, fixture_today(), "cli:test");
        assert_eq!(a.status, Status::Clarify, "{q}: {}", a.text);
        assert!(a.text.contains(phrase), "{q}: {}", a.text);
        assert!(a.rows.is_empty());
    }
    // "looking" is English, not a typo of "bookings".
    let a = ask(
        &e,
        &v,
        "How is ARR looking by segment?",
        fixture_today(),
        "cli:test",
    );
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    assert_eq!(a.query.expect("query").metrics, ["arr"]);
}

/// A weekly question about a month counts whole weeks (as MetricFlow: no bucket is a partial
/// week), and the answer says so: the range actually read, in provenance and a note, equal
/// to what hand SQL over those whole weeks gives.
#[test]
fn a_weekly_answer_about_a_month_says_it_counts_whole_weeks() {
    let (_state, rt) = crate::helpers::demo_runtime(&project_dir());
    let a = ask(
        &rt.engine,
        &rt.vocab,
        "weekly ticket volume in September",
        crate::helpers::demo_today(),
        "cli:test",
    );
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
    let read = a.provenance.time_range.expect("range");
    assert_eq!((read.from, read.to), (d("2026-08-31"), d("2026-10-04")));
    assert!(
        a.provenance
            .notes
            .iter()
            .any(|n| n.contains("Whole weeks are counted") && n.contains("Aug 31, 2026")),
        "{:?}",
        a.provenance.notes
    );
    assert!(a.text.contains("Whole weeks are counted"), "{}", a.text);
    let total: f64 = a.rows.iter().map(|r| r[1].as_f64().expect("count")).sum();
    let c = duckdb::Connection::open_with_flags(
        crate::helpers::demo_warehouse(),
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .expect("config"),
    )
    .expect("open");
    let oracle: i64 = c
        .query_row(
            "SELECT count(*) FROM tickets WHERE created_at >= DATE '2026-08-31' AND created_at < DATE '2026-10-05'",
            [],
            |r| r.get(0),
        )
        .expect("oracle");
    assert_eq!(total as i64, oracle);
}
