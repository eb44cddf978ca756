//! Signals: the shipped set finds every injected anomaly and stays quiet on a clean BFCM;
//! threshold, change and drivers numbers equal hand-written SQL on the raw tables; a bad
//! signal file is refused by `cortex check` with its file and field.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use cortex::config::Config;
use cortex::demo::anomalies::Injected;
use cortex::semantic::{Grain, TimeRange};
use cortex::signals::detect::{self, Hit};
use cortex::signals::drivers::{drivers, DriverOptions};
use cortex::signals::{Audience, Direction, Kind, Severity, Signal, SignalSet};
use cortex::skills::run::Runtime;
use serde_json::Value as Json;
use tempfile::TempDir;

use crate::helpers::{cortex_bin, project_dir};

const SCALE: f64 = 0.25;

fn end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Clean and anomalous demo warehouses (scale 0.25, data through Mon 30 Nov 2026, so BFCM
/// 2026 is in), built once per test binary.
fn warehouses() -> &'static (TempDir, PathBuf, PathBuf) {
    static W: std::sync::OnceLock<(TempDir, PathBuf, PathBuf)> = std::sync::OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let clean = dir.path().join("clean.duckdb");
        let anom = dir.path().join("anomalies.duckdb");
        let opts = |out: &Path| cortex::demo::DemoOptions {
            out: out.to_path_buf(),
            scale: SCALE,
            end_date: end(),
            seed: 42,
        };
        cortex::demo::build(&opts(&clean), &mut |_| {}).unwrap();
        cortex::demo::build_with_anomalies(&opts(&anom), &mut |_| {}).unwrap();
        (dir, clean, anom)
    })
}

fn runtime(warehouse: &Path) -> (TempDir, Runtime) {
    let state = tempfile::tempdir().unwrap();
    let mut config = Config::load(&project_dir(), Some(warehouse)).unwrap();
    config.state_db = state.path().join("state.duckdb");
    (state, Runtime::open(config).unwrap())
}

fn shipped(rt: &Runtime) -> SignalSet {
    cortex::signals::load_dir(&project_dir(), &rt.engine.layer, &rt.context).unwrap()
}

fn sql(warehouse: &Path, q: &str) -> Vec<Vec<Json>> {
    let conn = duckdb::Connection::open_with_flags(
        warehouse,
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .unwrap(),
    )
    .unwrap();
    let mut stmt = conn.prepare(q).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        let n = r.as_ref().column_count();
        let mut row = Vec::new();
        for i in 0..n {
            let v: duckdb::types::Value = r.get(i).unwrap();
            row.push(match v {
                duckdb::types::Value::BigInt(x) => Json::from(x),
                duckdb::types::Value::Int(x) => Json::from(x),
                duckdb::types::Value::HugeInt(x) => Json::from(x as f64),
                duckdb::types::Value::Double(x) => Json::from(x),
                duckdb::types::Value::Text(x) => Json::from(x),
                duckdb::types::Value::Null => Json::Null,
                other => Json::from(format!("{other:?}")),
            });
        }
        out.push(row);
    }
    out
}

fn num(v: &Json) -> f64 {
    v.as_f64().unwrap()
}

fn signal(name: &str, metric: &str, grain: Grain, kind: Kind) -> Signal {
    Signal {
        name: name.into(),
        title: name.into(),
        file: PathBuf::from("test.yaml"),
        metric: metric.into(),
        scope: None,
        filters: Vec::new(),
        grain,
        kind,
        direction: Direction::Any,
        severity: Severity::Warning,
        audience: Audience {
            channels: vec!["#test".into()],
            ..Audience::default()
        },
        cooldown: Duration::days(1),
        quiet_hours: None,
    }
}

/// Every injected anomaly is found by its expected signal, for its scope, in a period that
/// overlaps it, and no later than one period after it began.
#[test]
fn every_injected_anomaly_is_found_by_the_shipped_signals() {
    let (_, _, anom) = warehouses();
    let list: Vec<Injected> =
        serde_json::from_str(&std::fs::read_to_string(cortex::demo::anomalies_path(anom)).unwrap())
            .unwrap();
    assert!(list.len() >= 6, "{list:?}");
    let kinds: std::collections::BTreeSet<&str> = list.iter().map(|x| x.kind.as_str()).collect();
    assert!(kinds.len() >= 3, "{kinds:?}");
    let (_s, rt) = runtime(anom);
    let set = shipped(&rt);
    for x in &list {
        let s = set
            .signals
            .iter()
            .find(|s| s.name == x.expected_signal)
            .unwrap_or_else(|| panic!("no signal {}", x.expected_signal));
        let period_days = match s.grain {
            Grain::Day => 1,
            Grain::Week => 7,
            _ => 31,
        };
        // Evaluation days from the start to one period after the anomaly began.
        let first = x.start;
        let last = x.start + Duration::days(period_days + 7);
        let hits = detect::detect(&rt, s, first, last).unwrap();
        let scope_of = |h: &Hit| {
            h.member
                .as_ref()
                .zip(s.scope.as_ref())
                .map(|(m, d)| format!("{d}={m}"))
        };
        let found: Vec<&Hit> = hits
            .iter()
            .filter(|h| scope_of(h) == x.scope && h.period.from <= x.end && h.period.to >= x.start)
            .collect();
        let first_found = found.iter().map(|h| h.period.to).min();
        assert!(
            first_found.is_some_and(|d| d < x.start + Duration::days(period_days)),
            "{} not found within one period: {hits:?}",
            x.id
        );
    }
}

/// The clean warehouse's BFCM 2026 (Thanksgiving to the Saturday) is a normal peak: no
/// detector of the shipped set fires about those days.
#[test]
fn a_normal_bfcm_fires_nothing() {
    let (_, clean, _) = warehouses();
    let (_s, rt) = runtime(clean);
    let set = shipped(&rt);
    let mut detectors = 0;
    for s in set.signals.iter().filter(|s| {
        matches!(
            s.kind,
            Kind::Anomaly { .. } | Kind::Threshold { .. } | Kind::Concentration { .. }
        )
    }) {
        detectors += 1;
        // Evaluated on Fri 27 to Sun 29 Nov: about Thanksgiving, Black Friday, Saturday
        // (and, for weekly signals, the week before).
        let hits = detect::detect(&rt, s, d("2026-11-27"), d("2026-11-29")).unwrap();
        assert!(hits.is_empty(), "{} fired on BFCM: {hits:?}", s.name);
    }
    assert!(detectors >= 5);
    // The peak is real: Black Friday has far more tickets than a Friday two weeks before,
    // and the anomaly signals evaluated it (enough volume, a full baseline).
    let rows = sql(
        clean,
        "SELECT count(*) FILTER (WHERE CAST(created_at AS DATE) = DATE '2026-11-27'),
                count(*) FILTER (WHERE CAST(created_at AS DATE) = DATE '2026-11-13')
         FROM tickets",
    );
    assert!(num(&rows[0][0]) > 2.0 * num(&rows[0][1]), "{rows:?}");
}

/// A threshold signal's value for each scope member is the raw SQL's; it fires for exactly
/// the members above the threshold.
#[test]
fn a_threshold_signal_fires_with_the_raw_sql_value() {
    let (_, clean, _) = warehouses();
    let (_s, rt) = runtime(clean);
    let raw = sql(
        clean,
        "SELECT m.vertical, count(*) FROM tickets t JOIN merchants m USING (merchant_id)
         WHERE t.channel = 'chat' AND CAST(t.created_at AS DATE) = DATE '2026-10-14'
         GROUP BY 1 ORDER BY 2 DESC",
    );
    assert!(raw.len() >= 3);
    // Between the second and the first: only the top vertical is above.
    let cut = (num(&raw[0][1]) + num(&raw[1][1])) / 2.0;
    let mut s = signal(
        "chat_tickets_threshold",
        "tickets",
        Grain::Day,
        Kind::Threshold {
            above: Some(cut),
            below: None,
        },
    );
    s.scope = Some("vertical".into());
    s.filters = vec![cortex::semantic::Condition::eq("channel", "chat")];
    let hits = detect::detect(&rt, &s, d("2026-10-15"), d("2026-10-15")).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].member.as_deref(), raw[0][0].as_str());
    assert_eq!(hits[0].value, Some(num(&raw[0][1])));
    assert_eq!(hits[0].period.from, d("2026-10-14"));
    // The firing's message says it, with the raw number, and names the window.
    let f = cortex::signals::message::firing(&rt, &s, &hits[0], d("2026-10-15")).unwrap();
    assert_eq!(f.window, "2026-10-14");
    assert_eq!(
        f.scope.as_deref(),
        Some(format!("vertical={}", raw[0][0].as_str().unwrap()).as_str())
    );
    let n = cortex::format::figure(num(&raw[0][1]), cortex::semantic::Unit::Count);
    assert!(f.answer.headline.contains(&n), "{}", f.answer.headline);
}

/// A change signal (this week against the week before, in percent) compares the raw
/// weekly counts and fires only when the change is at least the percent.
#[test]
fn a_change_signal_compares_the_raw_sql_periods() {
    let (_, clean, _) = warehouses();
    let (_s, rt) = runtime(clean);
    // Week of 16 Nov against the week of 9 Nov 2026 (Mondays).
    let raw = sql(
        clean,
        "SELECT count(*) FILTER (WHERE created_at >= DATE '2026-11-16' AND created_at < DATE '2026-11-23'),
                count(*) FILTER (WHERE created_at >= DATE '2026-11-09' AND created_at < DATE '2026-11-16')
         FROM tickets WHERE intent = 'refund'",
    );
    let (now, before) = (num(&raw[0][0]), num(&raw[0][1]));
    let change = (now - before) / before;
    let kind = |pct: f64| Kind::Change {
        against: cortex::signals::Baseline::PreviousPeriod,
        percent: Some(pct),
        absolute: None,
    };
    let mut s = signal(
        "refund_change",
        "tickets",
        Grain::Week,
        kind(change.abs() * 0.9),
    );
    s.filters = vec![cortex::semantic::Condition::eq("intent", "refund")];
    let hits = detect::detect(&rt, &s, d("2026-11-23"), d("2026-11-23")).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].value, Some(now));
    assert_eq!(hits[0].baseline, Some(before));
    assert!((hits[0].score.unwrap() - change).abs() < 1e-9);
    assert_eq!(
        detect::window_label(Grain::Week, hits[0].period),
        "2026-W47"
    );
    // Just above the actual change: quiet.
    s.kind = kind(change.abs() * 1.1);
    assert!(detect::detect(&rt, &s, d("2026-11-23"), d("2026-11-23"))
        .unwrap()
        .is_empty());
}

/// Drivers of an additive metric: each member's change and share equal hand-written SQL.
#[test]
fn drivers_of_an_additive_change_equal_raw_sql() {
    let (_, _, anom) = warehouses();
    let (_s, rt) = runtime(anom);
    let list: Vec<Injected> =
        serde_json::from_str(&std::fs::read_to_string(cortex::demo::anomalies_path(anom)).unwrap())
            .unwrap();
    let spike = list
        .iter()
        .find(|x| x.id == "refund_spike_magento")
        .unwrap();
    let day = spike.start;
    let period = TimeRange { from: day, to: day };
    let baseline = TimeRange {
        from: day - Duration::days(7),
        to: day - Duration::days(1),
    };
    let filters = vec![cortex::semantic::Condition::eq("intent", "refund")];
    let dr = drivers(
        &rt.engine,
        "tickets",
        period,
        baseline,
        &filters,
        &DriverOptions {
            dimensions: vec!["platform".into(), "segment".into()],
            top: 10,
            today: Some(end()),
        },
    )
    .unwrap();
    let raw = sql(
        anom,
        &format!(
            "SELECT m.platform,
                    count(*) FILTER (WHERE CAST(t.created_at AS DATE) = DATE '{day}'),
                    count(*) FILTER (WHERE CAST(t.created_at AS DATE) BETWEEN DATE '{}' AND DATE '{}') / 7.0
             FROM tickets t JOIN merchants m USING (merchant_id)
             WHERE t.intent = 'refund' GROUP BY 1",
            baseline.from, baseline.to
        ),
    );
    let total_delta: f64 = raw.iter().map(|r| num(&r[1]) - num(&r[2])).sum();
    assert!((dr.delta().unwrap() - total_delta).abs() < 1e-6);
    let platform = dr
        .dimensions
        .iter()
        .find(|x| x.dimension == "platform")
        .unwrap();
    // The injected cohort leads, with the raw contribution and share.
    let top = &platform.members[0];
    assert_eq!(top.member, "Magento");
    let m = raw.iter().find(|r| r[0] == "Magento").unwrap();
    let contribution = num(&m[1]) - num(&m[2]);
    assert!(
        (top.contribution - contribution).abs() < 1e-6,
        "{top:?} {m:?}"
    );
    assert!((top.share.unwrap() - contribution / total_delta).abs() < 1e-9);
    let base_total: f64 = raw.iter().map(|r| num(&r[2])).sum();
    assert!((top.volume_share.unwrap() - num(&m[2]) / base_total).abs() < 1e-9);
    assert!(top.excess() > 0.25, "{top:?}");
    // Platform explains the change better than segment, so it comes first.
    assert_eq!(dr.dimensions[0].dimension, "platform");
}

/// The scheduler's entry point: the shipped set evaluated the day after the chat anomaly
/// began returns a firing for Electronics with a headline, a drivers table, a chart and
/// provenance, which every renderer accepts.
#[tokio::test(flavor = "multi_thread")]
async fn evaluate_returns_a_complete_message() {
    let (_, _, anom) = warehouses();
    let (_s, rt) = runtime(anom);
    let list: Vec<Injected> =
        serde_json::from_str(&std::fs::read_to_string(cortex::demo::anomalies_path(anom)).unwrap())
            .unwrap();
    let chat = list
        .iter()
        .find(|x| x.id == "chat_frt_electronics")
        .unwrap();
    let set = Arc::new(shipped(&rt));
    let today = chat.start + Duration::days(1);
    let firings = cortex::signals::evaluate(Arc::new(rt), set, today)
        .await
        .unwrap();
    let f = firings
        .iter()
        .find(|f| f.signal == "chat_first_response_by_vertical")
        .unwrap_or_else(|| panic!("{firings:?}"));
    assert_eq!(f.scope.as_deref(), Some("vertical=Electronics"));
    assert_eq!(f.window, chat.start.to_string());
    assert_eq!(f.audience.team.as_deref(), Some("Support Operations"));
    let a = &f.answer;
    assert!(
        a.headline.contains("Electronics") && a.headline.contains('×'),
        "{}",
        a.headline
    );
    use cortex::answer::Section;
    let drivers = a.sections.iter().find_map(|s| match s {
        Section::Table(t) if t.id.as_deref() == Some("drivers") => Some(t),
        _ => None,
    });
    assert!(
        drivers.is_some_and(|t| t.rows.len() >= 3),
        "{:?}",
        a.sections
    );
    assert!(!a.charts().is_empty());
    assert!(!a.provenance.statements.is_empty());
    assert_eq!(a.provenance.time_range.map(|r| r.from), Some(chat.start));
    // The chart's value on the anomaly day is the raw median of chat first response.
    let raw = sql(
        anom,
        &format!(
            "SELECT median(first_response_seconds) / 60.0 FROM tickets t JOIN merchants m USING (merchant_id)
             WHERE t.channel = 'chat' AND m.vertical = 'Electronics' AND CAST(t.created_at AS DATE) = DATE '{}'",
            chat.start
        ),
    );
    let last = a.rows.last().unwrap();
    assert!((last[1].as_f64().unwrap() - num(&raw[0][0])).abs() < 1e-9);
    // The competitor mention injected for the largest Enterprise account is listed, and its
    // CSM (the owner column) hears about it.
    let (_, _, anom2) = warehouses();
    let (_s2, rt2) = runtime(anom2);
    let set2 = shipped(&rt2);
    let mention = list
        .iter()
        .find(|x| x.id == "competitor_mention_enterprise")
        .unwrap();
    let firings = cortex::signals::evaluate(
        Arc::new(rt2),
        Arc::new(set2),
        mention.start + Duration::days(1),
    )
    .await
    .unwrap();
    let m = firings
        .iter()
        .find(|f| f.signal == "enterprise_competitor_mention" && f.scope == mention.scope)
        .unwrap_or_else(|| panic!("{firings:?}"));
    let id = mention
        .scope
        .as_deref()
        .unwrap()
        .trim_start_matches("merchant_id=");
    let csm = sql(
        anom2,
        &format!("SELECT csm_owner FROM merchants WHERE merchant_id = '{id}'"),
    );
    assert_eq!(m.owners(), vec![csm[0][0].as_str().unwrap().to_string()]);
    // Renderers are pure functions of the answer.
    let text = cortex::render::text::answer(a);
    assert!(text.contains("Top contributors"), "{text}");
}

/// `cortex check` refuses a signal with an unknown metric, a dimension the metric cannot
/// reach and an unknown kind, naming the file and field of each.
#[test]
fn check_rejects_a_bad_signal_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        project_dir().join("metrics.yaml"),
        dir.path().join("metrics.yaml"),
    )
    .unwrap();
    for sub in ["context", "skills", "signals"] {
        copy_dir(&project_dir().join(sub), &dir.path().join(sub));
    }
    std::fs::write(
        dir.path().join("signals/bad.yaml"),
        "signals:\n  - name: bad_one\n    metric: first_respons_time\n    kind: anomaly\n    audience: {channels: [\"#x\"]}\n  - name: bad_two\n    metric: tickets\n    scope: stage\n    kind: spike\n    audience: {channels: [\"#x\"]}\n",
    )
    .unwrap();
    let out = Command::new(cortex_bin())
        .args(["--project", dir.path().to_str().unwrap(), "check"])
        .env("CORTEX_WAREHOUSE", dir.path().join("none.duckdb"))
        .env("CORTEX_STATE_DB", dir.path().join("state.duckdb"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .contains("bad.yaml:3: signals.bad_one.metric: unknown metric \"first_respons_time\"")
            && stdout.contains("first_response_time"),
        "{stdout}"
    );
    assert!(
        stdout.contains("signals.bad_two.scope: metric \"tickets\" has no dimension \"stage\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("signals.bad_two.kind: unknown kind \"spike\""),
        "{stdout}"
    );
    // The shipped files themselves are valid.
    std::fs::remove_file(dir.path().join("signals/bad.yaml")).unwrap();
    let out = Command::new(cortex_bin())
        .args(["--project", dir.path().to_str().unwrap(), "check"])
        .env("CORTEX_WAREHOUSE", dir.path().join("none.duckdb"))
        .env("CORTEX_STATE_DB", dir.path().join("state.duckdb"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("signals: ok (9 signals)"), "{stdout}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
