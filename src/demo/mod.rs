//! `cortex demo`: builds the embedded demo warehouse of an ecommerce helpdesk SaaS company,
//! entirely inside DuckDB with set-based SQL.
//!
//! Randomness is hash-based (`hash(key, stream, seed)`), never `random()`, so the same seed
//! and end date give the same data on any machine and thread count. The assumptions behind
//! the numbers are documented in the README ("The demo warehouse").

pub mod anomalies;
mod sql;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use duckdb::Connection;

/// What to build.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub out: PathBuf,
    /// Multiplies the event tables (tickets, orders); 1.0 is ~2.5 M tickets.
    pub scale: f64,
    /// No event is dated after this day (open opportunities may close later).
    pub end_date: NaiveDate,
    pub seed: u64,
}

/// Row counts of the built warehouse, for the progress report.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub tables: Vec<(String, i64)>,
    pub seconds: f64,
}

/// Builds the warehouse at a temporary path and moves it into place, so a failed or
/// interrupted build never leaves a half-built warehouse behind.
pub fn build(opts: &DemoOptions, progress: &mut dyn FnMut(&str)) -> Result<DemoSummary> {
    let summary = build_steps(opts, Vec::new(), progress)?;
    // A clean warehouse has no anomaly list (an old one would mislead the benchmark).
    let _ = std::fs::remove_file(anomalies_path(&opts.out));
    Ok(summary)
}

/// Builds the warehouse like [`build`], then injects the documented anomalies
/// ([`anomalies`]) and writes their list to `<warehouse>.anomalies.json` beside it.
pub fn build_with_anomalies(
    opts: &DemoOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<(DemoSummary, Vec<anomalies::Injected>)> {
    let summary = build_steps(opts, anomalies::steps(opts), progress)?;
    let mut list = anomalies::list(opts.end_date);
    let conn = Connection::open_with_flags(
        &opts.out,
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?,
    )
    .with_context(|| format!("cannot open {}", opts.out.display()))?;
    let id: Option<String> = conn
        .query_row(anomalies::MENTION_SQL, [], |r| r.get(0))
        .ok();
    for a in &mut list {
        if a.id == "competitor_mention_enterprise" {
            a.scope = id.as_ref().map(|m| format!("merchant_id={m}"));
        }
    }
    let path = anomalies_path(&opts.out);
    std::fs::write(&path, serde_json::to_string_pretty(&list)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok((summary, list))
}

/// Where `build_with_anomalies` writes the list: `<warehouse>.anomalies.json`.
pub fn anomalies_path(warehouse: &Path) -> PathBuf {
    let mut name = warehouse.file_name().unwrap_or_default().to_os_string();
    name.push(".anomalies.json");
    warehouse.with_file_name(name)
}

fn build_steps(
    opts: &DemoOptions,
    extra: Vec<sql::Step>,
    progress: &mut dyn FnMut(&str),
) -> Result<DemoSummary> {
    if !(opts.scale > 0.0 && opts.scale <= 100.0) {
        bail!(
            "--scale must be above 0 and at most 100, got {}",
            opts.scale
        );
    }
    let started = Instant::now();
    if let Some(dir) = opts.out.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    let tmp = tmp_path(&opts.out);
    remove_db(&tmp);
    let result = (|| -> Result<Vec<(String, i64)>> {
        let conn =
            Connection::open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        for step in sql::steps(opts).into_iter().chain(extra) {
            let t = Instant::now();
            conn.execute_batch(&step.sql)
                .with_context(|| format!("demo step '{}' failed", step.label))?;
            progress(&format!(
                "  {:<40} {:>6.1} s",
                step.label,
                t.elapsed().as_secs_f64()
            ));
        }
        let mut counts = Vec::new();
        for table in sql::TABLES {
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            counts.push((table.to_string(), n));
        }
        conn.execute_batch("CHECKPOINT")?;
        Ok(counts)
    })();
    match result {
        Ok(tables) => {
            remove_db(&opts.out);
            std::fs::rename(&tmp, &opts.out)
                .with_context(|| format!("cannot move the warehouse to {}", opts.out.display()))?;
            Ok(DemoSummary {
                tables,
                seconds: started.elapsed().as_secs_f64(),
            })
        }
        Err(e) => {
            remove_db(&tmp);
            Err(e)
        }
    }
}

fn tmp_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".building");
    out.with_file_name(name)
}

fn remove_db(path: &Path) {
    let _ = std::fs::remove_file(path);
    let mut wal = path.as_os_str().to_os_string();
    wal.push(".wal");
    let _ = std::fs::remove_file(PathBuf::from(wal));
}
