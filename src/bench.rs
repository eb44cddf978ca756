//! `cortex bench`: measures, per demo scale, how long compiling a governed query takes, how
//! long the governed execution takes (guard + read-only DuckDB + audit), and how long DuckDB
//! alone takes on the same SQL. Also reports peak memory. A benchmark, not a test.
//! Prints its report: part of the command line.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::NaiveDate;

use crate::config::Config;
use crate::demo::{self, DemoOptions};
use crate::engine::Engine;
use crate::semantic::{compile, CompileOptions, MetricQuery};
use crate::warehouse::AuditContext;

pub mod load;
pub mod signals;

/// The structured queries measured at every scale.
// Invariant: the queries are literals in this file, checked by its tests.
#[allow(clippy::expect_used)]
pub fn queries() -> Vec<(&'static str, MetricQuery)> {
    let q = |json: &str| serde_json::from_str::<MetricQuery>(json).expect("bench query is valid");
    vec![
        (
            "arr by segment",
            q(r#"{"metrics":["arr"],"group_by":["segment"]}"#),
        ),
        (
            "arr by month (24 months)",
            q(r#"{"metrics":["arr"],"grain":"month"}"#),
        ),
        (
            "tickets by channel, last month",
            q(
                r#"{"metrics":["tickets"],"group_by":["channel"],"time_range":{"from":"2026-10-01","to":"2026-10-31"}}"#,
            ),
        ),
        (
            "FRT + CSAT by vertical",
            q(r#"{"metrics":["first_response_time","csat"],"group_by":["vertical"]}"#),
        ),
        (
            "automation rate by month and segment",
            q(r#"{"metrics":["automation_rate"],"group_by":["segment"],"grain":"month"}"#),
        ),
        (
            "AI-influenced orders by quarter",
            q(r#"{"metrics":["ai_influenced_orders","influenced_revenue"],"grain":"quarter"}"#),
        ),
    ]
}

/// Median of repeated runs.
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// Peak resident memory of this process, in MiB (Linux; `None` elsewhere).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub struct BenchOptions {
    pub project: PathBuf,
    pub scales: Vec<f64>,
    pub dir: PathBuf,
    pub runs: usize,
    pub end_date: NaiveDate,
}

pub fn run(opts: &BenchOptions, out: &mut dyn std::io::Write) -> Result<()> {
    std::fs::create_dir_all(&opts.dir)?;
    for &scale in &opts.scales {
        let path = opts
            .dir
            .join(format!("bench-scale-{scale}-{}.duckdb", opts.end_date));
        if !path.exists() {
            eprintln!(
                "building the scale-{scale} demo warehouse at {}",
                path.display()
            );
            let s = demo::build(
                &DemoOptions {
                    out: path.clone(),
                    scale,
                    end_date: opts.end_date,
                    seed: 42,
                },
                &mut |l| eprintln!("{l}"),
            )?;
            writeln!(out, "scale {scale}: demo built in {:.1} s", s.seconds)?;
        }
        bench_scale(opts, scale, &path, out)?;
    }
    if let Some(mib) = peak_rss_mib() {
        writeln!(out, "peak resident memory: {mib:.0} MiB")?;
    }
    Ok(())
}

/// Plans each question `runs` times with the vocabulary the server uses (entity names
/// loaded); prints the median, p95 and slowest per-question planning time. Returns true
/// when the slowest question's median is over the 5 ms budget.
pub fn bench_planning(
    engine: &Engine,
    questions: &[String],
    today: NaiveDate,
    runs: usize,
    out: &mut dyn std::io::Write,
) -> Result<bool> {
    use crate::planner::{plan, Vocabulary};
    let start = Instant::now();
    let mut vocab = Vocabulary::new(&engine.layer);
    vocab.load_entity_names(engine);
    writeln!(
        out,
        "vocabulary: built in {} ms (entity names loaded)",
        ms(start.elapsed())
    )?;
    let mut per_question: Vec<(Duration, &str)> = Vec::new();
    for q in questions {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            std::hint::black_box(plan(&engine.layer, &vocab, q, today));
            times.push(t.elapsed());
        }
        per_question.push((median(times), q));
    }
    per_question.sort();
    let Some(&(slowest, slowest_q)) = per_question.last() else {
        anyhow::bail!("the question set is empty");
    };
    let at = |p: f64| per_question[((per_question.len() - 1) as f64 * p).round() as usize].0;
    writeln!(
        out,
        "planning {} questions x {runs}: median {} ms, p95 {} ms, slowest {} ms (budget 5 ms): {slowest_q}",
        per_question.len(),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(slowest)
    )?;
    Ok(slowest > Duration::from_millis(5))
}

/// Questions measured end to end: plan, compile, governed query, render.
pub const QUESTIONS: [&str; 11] = [
    "What's our ARR by segment?",
    "How many tickets did we get last month by channel?",
    "median first response time for Health & Beauty this quarter",
    "top 5 intents by ticket volume last quarter",
    "net new ARR by month in 2026",
    "What share of merchants have AI Agent enabled, by gmv tier?",
    "top 5 merchants by pipeline",
    "What % of orders were AI-influenced last month?",
    "CSAT by channel this quarter vs last quarter",
    "Why did tickets drop last month?",
    "tickets for Blue Fox Goods last month",
];

fn bench_questions(
    engine: &Engine,
    raw: &duckdb::Connection,
    today: NaiveDate,
    runs: usize,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    use crate::planner::{plan, Plan, Vocabulary};
    let t = Instant::now();
    let mut vocab = Vocabulary::new(&engine.layer);
    vocab.load_entity_names(engine);
    writeln!(out, "vocabulary built in {} ms", ms(t.elapsed()))?;
    writeln!(
        out,
        "{:<62} {:>8} {:>8} {:>9} {:>8} {:>9} {:>8}",
        "question", "plan", "compile", "governed", "render", "total", "raw"
    )?;
    let mut slowest_plan = Duration::ZERO;
    for q in QUESTIONS {
        let [mut p_t, mut c_t, mut g_t, mut r_t, mut tot_t, mut raw_t]: [Vec<Duration>; 6] =
            Default::default();
        for _ in 0..runs {
            let t0 = Instant::now();
            let Plan::Query { query, .. } = plan(&engine.layer, &vocab, q, today) else {
                anyhow::bail!("bench question did not plan to a query: {q}");
            };
            p_t.push(t0.elapsed());
            let t = Instant::now();
            let compiled = compile(&engine.layer, &query, &CompileOptions { today })?;
            c_t.push(t.elapsed());
            let t = Instant::now();
            let ctx = AuditContext {
                requester: "cli:bench".into(),
                question: q.into(),
                query_json: None,
            };
            engine.warehouse.query(&compiled.sql, &ctx)?;
            g_t.push(t.elapsed());
            let t = Instant::now();
            let answer = crate::answer::ask(engine, &vocab, q, today, "cli:bench");
            let _ = crate::render::text::answer(&answer);
            // Rendering alone: re-render the finished answer.
            r_t.push({
                let t2 = Instant::now();
                let _ = crate::render::text::answer(&answer);
                t2.elapsed()
            });
            tot_t.push(t.elapsed());
            let t = Instant::now();
            let mut stmt = raw.prepare(&compiled.sql)?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            raw_t.push(t.elapsed());
        }
        writeln!(
            out,
            "{:<62} {:>8} {:>8} {:>9} {:>8} {:>9} {:>8}",
            q,
            ms({
                let p = median(p_t);
                slowest_plan = slowest_plan.max(p);
                p
            }),
            ms(median(c_t)),
            ms(median(g_t)),
            ms(median(r_t)),
            ms(median(tot_t)),
            ms(median(raw_t))
        )?;
    }
    writeln!(
        out,
        "planning: slowest question {} ms (budget 5 ms){}",
        ms(slowest_plan),
        if slowest_plan > Duration::from_millis(5) {
            " OVER BUDGET"
        } else {
            ""
        }
    )?;
    Ok(())
}

fn bench_scale(
    opts: &BenchOptions,
    scale: f64,
    path: &Path,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let state = opts.dir.join("bench-state.duckdb");
    let mut config = Config::load(&opts.project, Some(path))?;
    config.state_db = state;
    let engine = Engine::open(config)?;
    let raw = duckdb::Connection::open_with_flags(
        path,
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?,
    )
    .context("raw DuckDB connection")?;
    let today = opts.end_date;
    writeln!(
        out,
        "\nscale {scale} ({} runs each, median, milliseconds)",
        opts.runs
    )?;
    writeln!(
        out,
        "{:<38} {:>10} {:>12} {:>12} {:>9}",
        "query", "compile", "governed", "raw duckdb", "overhead"
    )?;
    for (name, q) in queries() {
        let mut compile_t = Vec::new();
        let mut gov_t = Vec::new();
        let mut raw_t = Vec::new();
        let mut sql = String::new();
        for _ in 0..opts.runs {
            let t = Instant::now();
            let c = compile(&engine.layer, &q, &CompileOptions { today })?;
            compile_t.push(t.elapsed());
            sql = c.sql;
        }
        let ctx = AuditContext {
            requester: "cli:bench".into(),
            question: name.into(),
            query_json: None,
        };
        for _ in 0..opts.runs {
            let t = Instant::now();
            engine.warehouse.query(&sql, &ctx)?;
            gov_t.push(t.elapsed());
            let t = Instant::now();
            let mut stmt = raw.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            raw_t.push(t.elapsed());
        }
        let (c, g, r) = (median(compile_t), median(gov_t), median(raw_t));
        writeln!(
            out,
            "{:<38} {:>10} {:>12} {:>12} {:>8.1}%",
            name,
            ms(c),
            ms(g),
            ms(r),
            (g.as_secs_f64() / r.as_secs_f64().max(1e-9) - 1.0) * 100.0
        )?;
    }
    bench_questions(&engine, &raw, today, opts.runs, out)?;
    drop(raw);
    bench_skills(engine, today, opts.runs, out)?;
    Ok(())
}

/// Flagship skill questions, routed and answered end to end (median milliseconds).
pub const SKILL_QUESTIONS: [(&str, Option<&str>); 5] = [
    ("What's our ARR by segment?", None),
    (
        "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        Some("U01REV0002"),
    ),
    ("Give me the full picture of Blue Fox Goods", None),
    (
        "How do our first response times compare with our vertical?",
        None,
    ),
    ("Build me a dashboard for this quarter's pipeline", None),
];

fn bench_skills(
    engine: Engine,
    today: NaiveDate,
    runs: usize,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let project = engine.config.project.clone();
    let context = crate::context::Context::load(&project.join("context"), &engine.layer)
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    let skills = crate::skills::Skills::load(&project.join("skills"), &engine.layer)
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    let rt = crate::skills::run::Runtime::new(engine, context, skills);
    writeln!(
        out,
        "{:<90} {:>18} {:>9} {:>8} {:>8} {:>8}",
        "skill question", "skill", "total ms", "html ms", "pdf ms", "png ms"
    )?;
    for (q, asker) in SKILL_QUESTIONS {
        let person = asker.and_then(|a| rt.context.person(a));
        let (mut times, mut html_t, mut pdf_t, mut png_t) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut skill = String::new();
        for _ in 0..runs {
            let t = Instant::now();
            let a = crate::skills::answer_question(&rt, q, person, today, "cli:bench");
            times.push(t.elapsed());
            let s = rt.skills.get(&a.skill);
            let t = Instant::now();
            crate::render::html::page(
                &a,
                &crate::render::html::PageOptions::default(),
                s.and_then(|s| s.html_template.as_deref()),
            )
            .map_err(|e| anyhow::anyhow!("{q}: {e}"))?;
            html_t.push(t.elapsed());
            // Cold: typst's memoisation cache would make repeated runs look free.
            typst::comemo::evict(0);
            let t = Instant::now();
            crate::render::pdf::render(&a, s.and_then(|s| s.pdf_template.as_deref()), "bench")
                .map_err(|e| anyhow::anyhow!("{q}: {e}"))?;
            pdf_t.push(t.elapsed());
            let t = Instant::now();
            if let Some(c) = a.charts().first().map(|c| (*c).clone()) {
                crate::render::chart::svg(&c, 900, 480)
                    .and_then(|svg| crate::render::chart::png(&svg, 2.0))
                    .map_err(|e| anyhow::anyhow!("{q}: {e}"))?;
            }
            png_t.push(t.elapsed());
            skill = a.skill;
        }
        writeln!(
            out,
            "{:<90} {:>18} {:>9} {:>8} {:>8} {:>8}",
            q,
            skill,
            ms(median(times)),
            ms(median(html_t)),
            ms(median(pdf_t)),
            ms(median(png_t))
        )?;
    }
    Ok(())
}
