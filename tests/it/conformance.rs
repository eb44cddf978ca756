//! MetricFlow conformance: MetricFlow's own integration cases (metrics, group-bys, Jinja
//! where filters, time constraints, order, limit) with the rows its gold SQL returns, run
//! against the manifest `cortex import metricflow` makes of MetricFlow's test project,
//! through the real compiler and the governed warehouse, on a DuckDB loaded from the
//! fixture CSVs. Each case passes, is wrong (rows differ: the test fails) or is unsupported
//! (the importer dropped something it needs, or translation or compilation refused it, with
//! the reason). Prints a table per itest file and the top reasons.
//! Skipped, with a message, when the dataset is not beside the checkout.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use cortex::import::metricflow::{import_dir, translate_where};
use cortex::semantic::compile::default_time_unit;
use cortex::semantic::grain::TimeUnit;
use cortex::semantic::query::ListingRows;
use cortex::semantic::{
    compile, CompileOptions, Grain, MetricQuery, OrderBy, SemanticLayer, TimeRange,
};
use cortex::warehouse::Limits;
use cortex::warehouse::{AuditContext, Value as WValue, Warehouse};
use serde_json::Value as J;
use sha2::{Digest, Sha256};

use crate::helpers::project_dir;

fn fixtures() -> Option<PathBuf> {
    let dir = project_dir().join("../shared/datasets/metricflow-test-fixtures");
    if dir
        .join("integration_cases_with_expected_duckdb.jsonl")
        .exists()
    {
        Some(dir)
    } else {
        eprintln!(
            "skipped: the MetricFlow fixtures are not at {} (they sit beside the checkout in CI)",
            dir.display()
        );
        None
    }
}

/// Loads every fixture table of `groups` into a new DuckDB file, with schema.json's types.
fn load_warehouse(fx: &Path, groups: &[&str], out: &Path) {
    let schema: J = serde_json::from_str(
        &std::fs::read_to_string(fx.join("source_tables_csv/schema.json")).unwrap(),
    )
    .unwrap();
    let conn = duckdb::Connection::open(out).unwrap();
    for group in groups {
        for (table, spec) in schema[*group].as_object().unwrap() {
            let cols: Vec<String> = spec["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let ty = match c["type"].as_str().unwrap() {
                        "STRING" => "VARCHAR",
                        "INT" => "BIGINT",
                        "TIME" if table == "mf_time_spine_nanosecond" => "TIMESTAMP_NS",
                        "TIME" => "TIMESTAMP",
                        "FLOAT" => "DOUBLE",
                        "BOOLEAN" => "BOOLEAN",
                        other => panic!("unknown type {other}"),
                    };
                    format!("'{}': '{ty}'", c["name"].as_str().unwrap())
                })
                .collect();
            let csv = fx.join(format!("source_tables_csv/{group}/{table}.csv"));
            conn.execute_batch(&format!(
                "CREATE TABLE {table} AS SELECT * FROM read_csv('{}', header = true, columns = {{{}}})",
                csv.display(),
                cols.join(", ")
            ))
            .unwrap();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Pass,
    Wrong,
    Unsupported,
}

/// A case translated to a `MetricQuery`, with the MetricFlow name of each output column.
struct Translated {
    query: MetricQuery,
    grain_column: Option<String>,
    /// Our group-by name -> MetricFlow's.
    group_names: Vec<(String, String)>,
}

fn grain_of(s: &str) -> Option<Grain> {
    Grain::ALL.into_iter().find(|g| g.as_str() == s)
}

fn translate(case: &J, layer: &SemanticLayer) -> Result<Translated, String> {
    if case["saved_query_name"].as_str().is_some() {
        return Err("saved queries".into());
    }
    let mut names: Vec<String> = Vec::new();
    if let Some(objs) = case["group_by_objs"].as_array().filter(|a| !a.is_empty()) {
        for o in objs {
            let name = o["name"].as_str().unwrap().to_string();
            if let Some(part) = o.get("date_part").and_then(J::as_str) {
                names.push(format!("{name}__extract_{part}"));
                continue;
            }
            match o.get("grain").and_then(J::as_str) {
                Some(g) => names.push(format!("{name}__{g}")),
                None => names.push(name),
            }
        }
    } else {
        for g in case["group_bys"].as_array().into_iter().flatten() {
            names.push(g.as_str().unwrap().to_string());
        }
    }
    let mut query = MetricQuery {
        metrics: case["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m.as_str().unwrap().to_string())
            .collect(),
        ..Default::default()
    };
    if !query.metrics.is_empty() {
        // MetricFlow's default grain of metric_time: the coarsest unit the metrics' times carry.
        let unit = default_time_unit(layer, &query.metrics).map_err(|e| e.to_string())?;
        for n in names.iter_mut().filter(|n| *n == "metric_time") {
            *n = format!("metric_time__{unit}");
        }
    }
    let mut grain_column = None;
    let mut group_names = Vec::new();
    // The finest calendar grain of metric_time is the query's time axis (its time range
    // snaps to it); other metric_time grains, sub-daily and custom ones are group-bys.
    let axis = names
        .iter()
        .filter_map(|n| match n.split_once("__") {
            None if n == "metric_time" => Some((Grain::Day, n)),
            Some(("metric_time", p)) => grain_of(p).map(|g| (g, n)),
            _ => None,
        })
        .min_by_key(|(g, _)| Grain::ALL.iter().position(|x| x == g));
    if let Some((g, n)) = axis {
        query.grain = Some(g);
        grain_column = Some(n.clone());
    }
    for n in &names {
        let parts: Vec<&str> = n.split("__").collect();
        if parts[0] == "metric_time" {
            // Without a grain, metric time is at the metrics' default grain.
            let (g, column) = match parts.get(1) {
                None => {
                    let g = cortex::semantic::timespine::default_grain(layer, &query.metrics);
                    (g, format!("metric_time__{g}"))
                }
                Some(p) => match grain_of(p) {
                    Some(g) => (g, n.clone()),
                    None => {
                        // Sub-daily, custom and date-part buckets of metric time are group-bys.
                        group_names.push((n.clone(), n.clone()));
                        query.group_by.push(n.clone());
                        continue;
                    }
                },
            };
            if query.grain.is_some_and(|x| x != g) {
                // Another calendar grain of metric time besides the axis: a group-by.
                group_names.push((n.clone(), n.clone()));
                query.group_by.push(n.clone());
                continue;
            }
            query.grain = Some(g);
            grain_column = Some(column);
            continue;
        }
        group_names.push((n.clone(), n.clone()));
        query.group_by.push(n.clone());
    }
    if let Some(w) = case["where_filter_rendered"].as_str() {
        query.add_where(translate_where(w)?);
    }
    if let Some(tc) = case["time_constraint"].as_array() {
        let day = |v: &J| -> Result<NaiveDate, String> {
            let s = v.as_str().unwrap();
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("a sub-daily time constraint ({s})"))
        };
        query.time_range = Some(TimeRange {
            from: day(&tc[0])?,
            to: day(&tc[1])?,
        });
    }
    for o in case["order_bys"].as_array().into_iter().flatten() {
        let o = OrderBy::parse(o.as_str().unwrap())?;
        let field = if Some(&o.field) == grain_column.as_ref()
            || (o.field == "metric_time" && grain_column.is_some())
        {
            query
                .grain
                .map(|g| g.as_str().to_string())
                .unwrap_or(o.field)
        } else {
            group_names
                .iter()
                .find(|(_, mf)| *mf == o.field)
                .map(|(ours, _)| ours.clone())
                .unwrap_or(o.field)
        };
        query.order.push(OrderBy {
            field,
            desc: o.desc,
        });
    }
    query.limit = case["limit"].as_u64();
    if case["min_max_only"].as_bool() == Some(true) {
        query.listing = ListingRows::MinMax;
    }
    if case["apply_group_by"].as_bool() == Some(false) {
        query.listing = ListingRows::All;
    }
    Ok(Translated {
        query,
        grain_column,
        group_names,
    })
}

/// A value normalised for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Norm {
    Null,
    Bool(bool),
    Num(f64),
    Text(String),
}

fn norm_expected(v: &J) -> Norm {
    match v {
        J::Null => Norm::Null,
        J::Bool(b) => Norm::Bool(*b),
        J::Number(n) => Norm::Num(n.as_f64().unwrap()),
        J::String(s) => Norm::Text(norm_time(s)),
        other => Norm::Text(other.to_string()),
    }
}

/// `2020-01-01T00:00:00` and `2020-01-01` are the same instant for a daily bucket.
fn norm_time(s: &str) -> String {
    s.strip_suffix("T00:00:00").unwrap_or(s).to_string()
}

fn norm_ours(v: &WValue) -> Norm {
    match v {
        WValue::Null => Norm::Null,
        WValue::Bool(b) => Norm::Bool(*b),
        WValue::Int(i) => Norm::Num(*i as f64),
        WValue::Float(f) => Norm::Num(*f),
        WValue::Text(s) => Norm::Text(norm_time(s)),
        WValue::Date(d) => Norm::Text(d.to_string()),
        WValue::Timestamp(t) => Norm::Text(norm_time(&iso(t))),
    }
}

/// A timestamp as Python's `isoformat` writes it: microseconds only when not zero.
fn iso(t: &chrono::NaiveDateTime) -> String {
    use chrono::Timelike;
    if t.nanosecond() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    }
}

fn close(a: &Norm, b: &Norm) -> bool {
    match (a, b) {
        (Norm::Num(x), Norm::Num(y)) => {
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-9)
        }
        _ => a == b,
    }
}

fn sort_key(row: &[Norm]) -> String {
    row.iter()
        .map(|v| match v {
            Norm::Null => "~null".to_string(),
            Norm::Bool(b) => b.to_string(),
            Norm::Num(n) => format!("{:+.6e}", n),
            Norm::Text(s) => s.clone(),
        })
        .collect::<Vec<_>>()
        .join("\u{1}")
}

fn rows_match(ours: &[Vec<Norm>], expected: &[Vec<Norm>], ordered: bool) -> bool {
    if ours.len() != expected.len() {
        return false;
    }
    let (mut a, mut b) = (ours.to_vec(), expected.to_vec());
    if !ordered {
        a.sort_by_key(|r| sort_key(r));
        b.sort_by_key(|r| sort_key(r));
    }
    a.iter()
        .zip(&b)
        .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q)))
}

/// The fixture's hash of a truncated result: the rows as compact JSON arrays, sorted,
/// newline-joined, SHA-256. Our values take the JSON type the sample rows show per column
/// (an integral DOUBLE is written as the integer the gold SQL returned). A column whose
/// sample is all NULL shows no type: bit `i` of `untyped_int` says column `i` is written
/// as integers then.
fn rows_sha(rows: &[Vec<WValue>], sample: &[J], untyped_int: u32) -> String {
    let int_col = |i: usize| {
        let mut vals = sample
            .iter()
            .filter_map(|r| r.get(i))
            .filter(|v| !v.is_null());
        let typed = vals.clone().next().is_some();
        vals.any(|v| v.is_i64() || v.is_u64()) || (untyped_int >> i & 1 == 1 && !typed)
    };
    let mut lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let vals: Vec<J> = r
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    WValue::Null => J::Null,
                    WValue::Bool(b) => J::Bool(*b),
                    WValue::Int(n) => J::from(*n),
                    WValue::Float(f) if int_col(i) && f.fract() == 0.0 => J::from(*f as i64),
                    WValue::Float(f) => J::from(*f),
                    WValue::Text(s) => J::from(s.clone()),
                    WValue::Date(d) => J::from(format!("{d}T00:00:00")),
                    WValue::Timestamp(t) => J::from(iso(t)),
                })
                .collect();
            serde_json::to_string(&J::Array(vals)).unwrap()
        })
        .collect();
    lines.sort();
    let mut h = Sha256::new();
    h.update(lines.join("\n").as_bytes());
    format!("{:x}", h.finalize())
}

struct Run {
    layer: SemanticLayer,
    wh: Warehouse,
}

fn prepare(fx: &Path, dir: &Path, manifest: &str, groups: &[&str]) -> Run {
    let warehouse = dir.join(format!("{manifest}.duckdb"));
    load_warehouse(fx, groups, &warehouse);
    let src = fx.join("semantic_manifest").join(manifest);
    let imported = import_dir(&src).expect("the MetricFlow manifest imports");
    let yaml = imported.to_yaml(&src).unwrap();
    let path = dir.join(format!("{manifest}.metrics.yaml"));
    std::fs::write(&path, &yaml).unwrap();
    let layer = SemanticLayer::load(&path).expect("the imported metrics.yaml loads");
    let limits = Limits {
        timeout: Duration::from_secs(30),
        max_rows: 100_000,
        ..Limits::default()
    };
    let wh = Warehouse::open(&warehouse, layer.tables(), limits, None).expect("warehouse");
    Run { layer, wh }
}

static COMPILE_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static COMPILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn run_case(run: &Run, case: &J) -> (Outcome, String) {
    let t = match translate(case, &run.layer) {
        Ok(t) => t,
        Err(e) => return (Outcome::Unsupported, e),
    };
    let opts = CompileOptions {
        today: NaiveDate::from_ymd_opt(2040, 12, 31).unwrap(),
    };
    // The fastest of three compiles: the other tests of the suite share the CPU.
    let mut fastest = u64::MAX;
    let mut compiled = compile(&run.layer, &t.query, &opts);
    for _ in 0..3 {
        let started = std::time::Instant::now();
        compiled = compile(&run.layer, &t.query, &opts);
        fastest = fastest.min(started.elapsed().as_nanos() as u64);
    }
    COMPILE_NANOS.fetch_add(fastest, std::sync::atomic::Ordering::Relaxed);
    COMPILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let compiled = match compiled {
        Ok(c) => c,
        Err(e) => return (Outcome::Unsupported, reason_of(&e.to_string())),
    };
    let ctx = AuditContext {
        requester: "test:conformance".into(),
        question: case["name"].as_str().unwrap_or("").into(),
        query_json: None,
    };
    let result = match run.wh.query(&compiled.sql, &ctx) {
        Ok(r) => r,
        Err(e) => {
            return (
                Outcome::Wrong,
                format!("the warehouse refused the SQL: {e}"),
            )
        }
    };
    // Our column names -> MetricFlow's.
    let mf_names: Vec<String> = compiled
        .columns
        .iter()
        .map(|c| {
            if let cortex::semantic::ColumnRole::Time { .. } = c.role {
                let sfx = ["__min", "__max"].into_iter().find(|x| c.name.ends_with(x));
                let base = t.grain_column.clone().unwrap_or_else(|| c.name.clone());
                format!("{base}{}", sfx.unwrap_or(""))
            } else {
                t.group_names
                    .iter()
                    .find(|(ours, _)| *ours == c.name)
                    .map(|(_, mf)| mf.clone())
                    .unwrap_or_else(|| c.name.clone())
            }
        })
        .collect();
    let expected = &case["expected"];
    let exp_cols: Vec<String> = expected["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let find = |want: &str| {
        mf_names.iter().position(|n| {
            let (n, want) = min_max_base(n, want).unwrap_or((n.as_str(), want));
            n == want
                // A multi-hop name: MetricFlow prefixes the entity path (`listing__user__x`).
                || want.ends_with(&format!("__{n}"))
                || (n == "metric_time" && want == "metric_time__day")
                || want.strip_suffix("__day") == Some(n)
                // A time dimension named without a grain is read at its own unit, which
                // MetricFlow names: `booking_monthly__ds` -> `booking_monthly__ds__month`.
                || (t.group_names.iter().any(|(ours, _)| ours == n)
                    && want
                        .strip_prefix(n)
                        .and_then(|rest| rest.strip_prefix("__"))
                        .is_some_and(|u| TimeUnit::parse(u).is_some()))
        })
    };
    let mut index = Vec::new();
    for c in &exp_cols {
        match find(c) {
            Some(i) => index.push(i),
            None => {
                return (
                    Outcome::Wrong,
                    format!("columns differ: ours {mf_names:?}, expected {exp_cols:?}"),
                )
            }
        }
    }
    if index.len() != mf_names.len() {
        return (
            Outcome::Wrong,
            format!("columns differ: ours {mf_names:?}, expected {exp_cols:?}"),
        );
    }
    let reordered: Vec<Vec<WValue>> = result
        .rows
        .iter()
        .map(|r| index.iter().map(|&i| r[i].clone()).collect())
        .collect();
    let sample = expected["rows"].as_array().unwrap();
    if expected["rows_truncated"].as_bool() == Some(true) {
        let count = case["expected_row_count"].as_u64().unwrap() as usize;
        let sha = case["expected_rows_sha256"].as_str().unwrap();
        if reordered.len() != count {
            return (
                Outcome::Wrong,
                format!("{} rows, expected {count}", reordered.len()),
            );
        }
        // Every way of typing the columns the sample leaves untyped (few columns).
        let width = reordered.first().map_or(0, Vec::len).min(8);
        return if (0..1u32 << width).any(|bits| rows_sha(&reordered, sample, bits) == sha) {
            (Outcome::Pass, String::new())
        } else {
            (Outcome::Wrong, "row hash differs".into())
        };
    }
    let ours: Vec<Vec<Norm>> = reordered
        .iter()
        .map(|r| r.iter().map(norm_ours).collect())
        .collect();
    let exp: Vec<Vec<Norm>> = sample
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(norm_expected).collect())
        .collect();
    let ordered = case["check_order"].as_bool() == Some(true);
    if rows_match(&ours, &exp, ordered) {
        (Outcome::Pass, String::new())
    } else {
        let first_diff = ours
            .iter()
            .zip(&exp)
            .find(|(a, b)| !a.iter().zip(b.iter()).all(|(p, q)| close(p, q)));
        (
            Outcome::Wrong,
            format!(
                "{} rows, expected {}; first difference {:?}\n{}",
                ours.len(),
                exp.len(),
                first_diff,
                compiled.sql
            ),
        )
    }
}

/// Min/max columns (`<column>__min` on both sides): the columns they are of.
fn min_max_base<'a>(ours: &'a str, want: &'a str) -> Option<(&'a str, &'a str)> {
    ["__min", "__max"]
        .iter()
        .find_map(|sfx| Some((ours.strip_suffix(sfx)?, want.strip_suffix(sfx)?)))
}

/// Shortens a compile error to a reason worth counting: names of metrics and dimensions
/// are kept, so "unknown metric X" groups by the importer's drop list.
fn reason_of(e: &str) -> String {
    e.to_string()
}

#[test]
fn metricflow_cases_pass_or_are_unsupported_never_wrong() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let simple = prepare(
        &fx,
        dir.path(),
        "simple_manifest",
        &["simple_model", "time_spine_table"],
    );
    let extended = prepare(
        &fx,
        dir.path(),
        "extended_date_manifest",
        &["extended_date_model", "time_spine_table"],
    );
    let jsonl =
        std::fs::read_to_string(fx.join("integration_cases_with_expected_duckdb.jsonl")).unwrap();
    let mut table: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    let mut reasons: HashMap<String, usize> = HashMap::new();
    let mut wrong = Vec::new();
    let mut total = [0usize; 3];
    for line in jsonl.lines() {
        let case: J = serde_json::from_str(line).unwrap();
        if case["status"] != "ok" {
            continue;
        }
        let run = match case["model"].as_str() {
            Some("SIMPLE_MODEL") => &simple,
            Some("EXTENDED_DATE_MODEL") => &extended,
            other => panic!("an ok case on an unknown model {other:?}"),
        };
        let (outcome, why) = run_case(run, &case);
        if std::env::var_os("CONFORMANCE_VERBOSE").is_some() && outcome != Outcome::Pass {
            println!("{outcome:?}\t{}\t{}\t{why}", case["file"], case["name"]);
        }
        let file = case["file"].as_str().unwrap_or("?").to_string();
        let slot = outcome as usize;
        table.entry(file.clone()).or_default()[slot] += 1;
        total[slot] += 1;
        match outcome {
            Outcome::Unsupported => {
                // CONFORMANCE_VERBOSE=1 names every unsupported case.
                if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
                    println!("unsupported {file} {}: {why}", case["name"]);
                }
                *reasons.entry(why).or_default() += 1
            }
            Outcome::Wrong => wrong.push(format!("{file} {}: {why}", case["name"])),
            Outcome::Pass => {}
        }
    }
    println!(
        "{:<45} {:>5} {:>6} {:>12}",
        "itest file", "pass", "wrong", "unsupported"
    );
    for (file, [p, w, u]) in &table {
        println!("{file:<45} {p:>5} {w:>6} {u:>12}");
    }
    println!(
        "{:<45} {:>5} {:>6} {:>12}",
        "TOTAL", total[0], total[1], total[2]
    );
    let mut top: Vec<(String, usize)> = reasons.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("\ntop reasons for unsupported:");
    for (r, n) in top.iter().take(60) {
        println!("{n:>4}  {r}");
    }
    let n = COMPILES.load(std::sync::atomic::Ordering::Relaxed).max(1);
    let mean_us = COMPILE_NANOS.load(std::sync::atomic::Ordering::Relaxed) / n / 1000;
    println!("\ncompile: {n} queries, mean {mean_us} µs each (this build's profile)");
    assert_eq!(
        total.iter().sum::<usize>(),
        251,
        "every ok case is classified"
    );
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n\n")
    );
    // The floor only rises: a change that loses a passing case fails here.
    assert!(total[0] >= 243, "pass count fell to {}", total[0]);
    assert!(mean_us < 1000, "compiling takes {mean_us} µs per query");
}
