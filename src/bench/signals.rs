//! `cortex bench signals`: replays the project's signal set day by day over the demo
//! history, on a clean warehouse and on one with the injected anomalies
//! (`cortex demo --anomalies`), and reports
//!
//! - **recall**: each injected anomaly found by its expected signal (same scope) in a
//!   period overlapping it, and how many days after it started;
//! - **precision**: alerts (firings after each signal's cooldown) on the anomalies
//!   warehouse that match an injected anomaly, over all alerts of the detecting signals;
//! - **false alarms** per signal per month on the clean warehouse (BFCM included, and the
//!   alerts on BFCM days listed);
//! - **speed**: evaluating the whole set for one day (detection, then the message with
//!   drivers for what fired), median of runs, with the result cache off.
//!
//! Record-level signals (`new_events`) list real rows: they are reported as events, not
//! alarms, and an OKR pace alert states a fact about the plan; neither counts as a false
//! alarm. A benchmark, not a test. Prints its report: part of the command line.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{Datelike, Months, NaiveDate};

use crate::config::Config;
use crate::demo::{self, anomalies::Injected, DemoOptions};
use crate::signals::detect::{self, Hit};
use crate::signals::{Kind, Signal, SignalSet};
use crate::skills::run::Runtime;

/// What to measure.
pub struct SignalBenchOptions {
    pub project: PathBuf,
    pub dir: PathBuf,
    pub scale: f64,
    pub end_date: NaiveDate,
    /// Timing runs (the median is reported).
    pub runs: usize,
    /// Print every alert.
    pub verbose: bool,
}

/// One alert of the replay: a hit kept after the signal's cooldown.
#[derive(Debug, Clone)]
pub struct Alert {
    pub signal: String,
    pub hit: Hit,
}

/// The alerts of a whole set over `first..=last` (evaluation days), cooldown applied per
/// signal and scope member.
pub fn replay(
    rt: &Runtime,
    set: &SignalSet,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<(Vec<Alert>, Vec<Alert>)> {
    let mut hits = Vec::new();
    let mut alerts = Vec::new();
    for s in &set.signals {
        let mut found =
            detect::detect(rt, s, first, last).with_context(|| format!("replaying {}", s.name))?;
        found.sort_by_key(|h| h.period.from);
        let mut last_alert: BTreeMap<Option<String>, NaiveDate> = BTreeMap::new();
        for h in found {
            // A hit is known the day after its period ends.
            let day = h.period.to + chrono::Duration::days(1);
            let quiet = last_alert
                .get(&h.member)
                .is_some_and(|d| day < *d + s.cooldown);
            if !quiet {
                last_alert.insert(h.member.clone(), day);
                alerts.push(Alert {
                    signal: s.name.clone(),
                    hit: h.clone(),
                });
            }
            hits.push(Alert {
                signal: s.name.clone(),
                hit: h,
            });
        }
    }
    Ok((hits, alerts))
}

fn scope_of(s: &Signal, h: &Hit) -> Option<String> {
    h.member
        .as_ref()
        .zip(s.scope.as_ref())
        .map(|(m, d)| format!("{d}={m}"))
}

fn matches(set: &SignalSet, a: &Alert, x: &Injected) -> bool {
    let Some(s) = set.signals.iter().find(|s| s.name == a.signal) else {
        return false;
    };
    a.signal == x.expected_signal
        && scope_of(s, &a.hit) == x.scope
        && a.hit.period.from <= x.end
        && a.hit.period.to >= x.start
}

/// Not a detector of noise: record listings and OKR pace.
fn is_event(s: &Signal) -> bool {
    matches!(s.kind, Kind::NewEvents { .. } | Kind::OkrPace { .. })
}

fn runtime(project: &Path, warehouse: &Path, dir: &Path, tag: &str) -> Result<Runtime> {
    let mut config = Config::load(project, Some(warehouse))?;
    config.state_db = dir.join(format!("signals-bench-state-{tag}.duckdb"));
    config.limits.cache_entries = 0;
    Runtime::open(config)
}

fn build(path: &Path, opts: &SignalBenchOptions, anomalies: bool) -> Result<()> {
    let exists = path.exists() && (!anomalies || demo::anomalies_path(path).exists());
    if exists {
        return Ok(());
    }
    eprintln!("building {}", path.display());
    let o = DemoOptions {
        out: path.to_path_buf(),
        scale: opts.scale,
        end_date: opts.end_date,
        seed: 42,
    };
    if anomalies {
        demo::build_with_anomalies(&o, &mut |l| eprintln!("{l}"))?;
    } else {
        demo::build(&o, &mut |l| eprintln!("{l}"))?;
    }
    Ok(())
}

/// Runs the benchmark and prints its report.
pub fn run(opts: &SignalBenchOptions, out: &mut dyn std::io::Write) -> Result<()> {
    std::fs::create_dir_all(&opts.dir)?;
    let clean = opts.dir.join(format!(
        "signals-clean-{}-{}.duckdb",
        opts.scale, opts.end_date
    ));
    let anom = opts.dir.join(format!(
        "signals-anomalies-{}-{}.duckdb",
        opts.scale, opts.end_date
    ));
    build(&clean, opts, false)?;
    build(&anom, opts, true)?;
    let injected: Vec<Injected> = serde_json::from_str(
        &std::fs::read_to_string(demo::anomalies_path(&anom))
            .context("reading the anomaly list")?,
    )?;
    // The whole history: the first day of data is 23 months before the end's month.
    let start = NaiveDate::from_ymd_opt(opts.end_date.year(), opts.end_date.month(), 1)
        .and_then(|d| d.checked_sub_months(Months::new(23)))
        .unwrap_or(opts.end_date);
    let first = start + chrono::Duration::days(1);
    let last = opts.end_date;
    let months = (last - first).num_days() as f64 / 30.44;

    let rt = runtime(&opts.project, &anom, &opts.dir, "anomalies")?;
    let set = crate::signals::load_dir(&opts.project, &rt.engine.layer, &rt.context)
        .map_err(|d| anyhow::anyhow!("signals/ has problems:\n{d}"))?;
    writeln!(
        out,
        "signals: {} in {}; replay {first} to {last} ({months:.1} months), scale {}",
        set.signals.len(),
        opts.project.join("signals").display(),
        opts.scale
    )?;
    let t = Instant::now();
    let (hits, alerts) = replay(&rt, &set, first, last)?;
    writeln!(
        out,
        "replay with anomalies: {} hits, {} alerts in {:.1} s",
        hits.len(),
        alerts.len(),
        t.elapsed().as_secs_f64()
    )?;
    writeln!(out, "\nRecall (injected anomalies):")?;
    let mut found = 0;
    for x in &injected {
        let first_hit = hits
            .iter()
            .filter(|a| matches(&set, a, x))
            .map(|a| a.hit.period.to + chrono::Duration::days(1))
            .min();
        if first_hit.is_some() {
            found += 1;
        }
        writeln!(
            out,
            "  {:<30} {:<34} {} .. {}  {}",
            x.id,
            x.expected_signal,
            x.start,
            x.end,
            match first_hit {
                Some(d) => format!(
                    "found on {d} ({} days after it began)",
                    (d - x.start).num_days()
                ),
                None => "MISSED".into(),
            }
        )?;
    }
    let recall = found as f64 / injected.len().max(1) as f64;
    writeln!(
        out,
        "  recall: {found}/{} = {:.0}%",
        injected.len(),
        recall * 100.0
    )?;
    let detectors: Vec<&Alert> = alerts
        .iter()
        .filter(|a| {
            set.signals
                .iter()
                .find(|s| s.name == a.signal)
                .is_some_and(|s| !is_event(s))
        })
        .collect();
    let true_alerts = detectors
        .iter()
        .filter(|a| injected.iter().any(|x| matches(&set, a, x)))
        .count();
    writeln!(
        out,
        "  precision (detector alerts matching an injected anomaly): {true_alerts}/{} = {:.0}%",
        detectors.len(),
        100.0 * true_alerts as f64 / detectors.len().max(1) as f64
    )?;
    if opts.verbose {
        for a in &alerts {
            writeln!(
                out,
                "    alert {:<34} {:<28} {} value {:?} baseline {:?} score {:?}",
                a.signal,
                a.hit.member.as_deref().unwrap_or("-"),
                a.hit.period.from,
                a.hit.value,
                a.hit.baseline,
                a.hit.score
            )?;
        }
    }
    drop(rt);

    let rt = runtime(&opts.project, &clean, &opts.dir, "clean")?;
    let t = Instant::now();
    let (_, clean_alerts) = replay(&rt, &set, first, last)?;
    writeln!(
        out,
        "\nClean warehouse ({} alerts, replayed in {:.1} s): alerts per month",
        clean_alerts.len(),
        t.elapsed().as_secs_f64()
    )?;
    for s in &set.signals {
        let n = clean_alerts.iter().filter(|a| a.signal == s.name).count();
        writeln!(
            out,
            "  {:<34} {:>5} alerts  {:>6.2} / month  {}",
            s.name,
            n,
            n as f64 / months,
            if is_event(s) {
                "(events, not false alarms)"
            } else if n as f64 / months <= 1.0 {
                "ok (target <= 1)"
            } else {
                "OVER TARGET"
            }
        )?;
    }
    let bfcm: Vec<&Alert> = clean_alerts
        .iter()
        .filter(|a| {
            let d = a.hit.period.from;
            detect::thanksgiving(d.year())
                .is_some_and(|t| d >= t && d <= t + chrono::Duration::days(4))
        })
        .filter(|a| {
            set.signals
                .iter()
                .find(|s| s.name == a.signal)
                .is_some_and(|s| !is_event(s))
        })
        .collect();
    writeln!(
        out,
        "  detector alerts on clean BFCM days: {}{}",
        bfcm.len(),
        bfcm.iter()
            .map(|a| format!(
                " {}:{}@{}",
                a.signal,
                a.hit.member.as_deref().unwrap_or("-"),
                a.hit.period.from
            ))
            .collect::<String>()
    )?;
    if opts.verbose {
        for a in &clean_alerts {
            writeln!(
                out,
                "    clean {:<34} {:<28} {} value {:?} baseline {:?} score {:?}",
                a.signal,
                a.hit.member.as_deref().unwrap_or("-"),
                a.hit.period.from,
                a.hit.value,
                a.hit.baseline,
                a.hit.score
            )?;
        }
    }

    // Speed: the whole set for one day, as the scheduler runs it: a quiet day on the clean
    // warehouse, and a day with firings (drivers and all) on the anomalies warehouse.
    let (d, f, n) = time_day(&rt, &set, last, opts.runs)?;
    writeln!(
        out,
        "\nOne day, whole set, scale {}: {last} (clean): detection {d:.0} ms, total {f:.0} ms with {n} firing(s)",
        opts.scale
    )?;
    drop(rt);
    if let Some(x) = injected.iter().find(|x| x.id == "chat_frt_electronics") {
        let rt = runtime(&opts.project, &anom, &opts.dir, "anomalies")?;
        let day = x.start + chrono::Duration::days(1);
        let (d, f, n) = time_day(&rt, &set, day, opts.runs)?;
        writeln!(
            out,
            "One day, whole set, scale {}: {day} (anomalies): detection {d:.0} ms, total {f:.0} ms with {n} firing(s), messages and drivers included (target < 2000 ms)",
            opts.scale
        )?;
    }
    Ok(())
}

/// Median detection and total (with messages) time in ms for one day, and the firings.
fn time_day(
    rt: &Runtime,
    set: &SignalSet,
    day: NaiveDate,
    runs: usize,
) -> Result<(f64, f64, usize)> {
    let mut detect_times = Vec::new();
    let mut full_times = Vec::new();
    let mut fired = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let mut hits = Vec::new();
        for s in &set.signals {
            let ts = Instant::now();
            for h in detect::detect(rt, s, day, day)? {
                hits.push((s, h));
            }
            if std::env::var_os("CORTEX_BENCH_TRACE").is_some() {
                eprintln!(
                    "  detect {}: {:.0} ms",
                    s.name,
                    ts.elapsed().as_secs_f64() * 1000.0
                );
            }
        }
        detect_times.push(t.elapsed());
        for (s, h) in &hits {
            let t = Instant::now();
            let f = crate::signals::message::firing(rt, s, h, day)?;
            if std::env::var_os("CORTEX_BENCH_TRACE").is_some() {
                eprintln!(
                    "  message {} {:?} in {:.0} ms:\n{}",
                    s.name,
                    h.member,
                    t.elapsed().as_secs_f64() * 1000.0,
                    f.answer.text
                );
            }
        }
        fired = hits.len();
        full_times.push(t.elapsed());
    }
    let med = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    Ok((med(detect_times), med(full_times), fired))
}
