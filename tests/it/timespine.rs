//! The time-spine family in Cortex's own metrics.yaml syntax: `time_spine:`, offsets of
//! derived inputs, cumulative windows and grain-to-date, `join_to_time_spine` with
//! `fill_nulls_with`. Each compiled query is run on a small DuckDB and compared with a
//! hand-written SQL oracle over the raw tables; bad syntax is refused with file and line;
//! import(export(x)) gives x back.

use chrono::NaiveDate;
use cortex::semantic::{compile, CompileOptions, MetricQuery, SemanticLayer};
use serde_json::json;

const METRICS: &str = r#"
version: 1
time_spine:
  table: calendar
  column: day
semantic_models:
  - name: orders
    table: orders
    default_time_dimension: ordered_at
    entities:
      - name: order
        type: primary
        expr: order_id
    dimensions:
      - name: ordered_at
        type: time
      - name: channel
        type: categorical
    measures:
      - name: revenue
        agg: sum
        expr: amount
      - name: customers
        agg: count_distinct
        expr: customer_id
metrics:
  - name: revenue
    type: simple
    description: Order amounts.
    owner: finance
    unit: usd
    measure: revenue
  - name: customers
    type: simple
    description: Distinct customers.
    owner: finance
    unit: count
    measure: customers
  - name: revenue_every_day
    type: simple
    description: Revenue with every day reported, 0 where none.
    owner: finance
    unit: usd
    measure: revenue
    join_to_time_spine: true
    fill_nulls_with: 0
  - name: revenue_mtd
    type: cumulative
    description: Revenue from the start of the month.
    owner: finance
    unit: usd
    measure: revenue
    grain_to_date: month
  - name: customers_3d
    type: cumulative
    description: Distinct customers over the trailing 3 days.
    owner: finance
    unit: count
    measure: customers
    window: 3 days
  - name: revenue_wow
    type: derived
    description: Revenue minus revenue a week before.
    owner: finance
    unit: usd
    expr: revenue - revenue_week_ago
    inputs:
      - metric: revenue
        alias: revenue_week_ago
        offset_window: 1 week
  - name: revenue_month_start
    type: derived
    description: Revenue on the first day of the month.
    owner: finance
    unit: usd
    expr: revenue
    inputs:
      - metric: revenue
        offset_to_grain: month
  - name: revenue_month_ago
    type: derived
    description: Revenue one month before.
    owner: finance
    unit: usd
    expr: revenue
    inputs:
      - metric: revenue
        offset_window: 1 month
  - name: customers_3d_avg
    type: cumulative
    description: Distinct customers over the trailing 3 days, averaged over a period's days.
    owner: finance
    unit: count
    measure: customers
    window: 3 days
    period_agg: average
  - name: customers_3d_two_days_ago
    type: derived
    description: The trailing-3-day customers two days before.
    owner: finance
    unit: count
    expr: c
    inputs:
      - metric: customers_3d
        alias: c
        offset_window: 2 days
"#;

const DATA: &str = "
CREATE TABLE calendar AS SELECT CAST(d AS DATE) AS day, CAST(date_trunc('month', d + INTERVAL 10 DAY) AS DATE) AS fiscal_month FROM generate_series(DATE '2024-12-01', DATE '2025-03-31', INTERVAL 1 DAY) AS g(d);
CREATE TABLE orders (order_id INT, customer_id INT, ordered_at DATE, channel VARCHAR, amount DOUBLE);
INSERT INTO orders VALUES
  (1, 10, '2025-01-01', 'web', 100), (2, 11, '2025-01-01', 'shop', 50),
  (3, 10, '2025-01-02', 'web', 20),  (4, 12, '2025-01-05', 'web', 70),
  (5, 13, '2025-01-08', 'shop', 30), (6, 10, '2025-01-09', 'web', 5),
  (7, 11, '2025-01-31', 'web', 40),  (8, 12, '2025-02-01', 'shop', 60),
  (9, 14, '2025-02-03', 'web', 25),  (10, 10, '2025-02-08', 'web', 15),
  (11, 15, '2025-03-01', 'shop', 80), (12, 11, '2025-03-02', 'web', 10);
";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 31).unwrap()
}

struct Env {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    layer: SemanticLayer,
    conn: duckdb::Connection,
}

fn env() -> Env {
    env_with("")
}

/// The environment with `extra` appended to metrics.yaml (top-level keys).
fn env_with(extra: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.yaml");
    std::fs::write(&path, format!("{METRICS}{extra}")).unwrap();
    let layer = SemanticLayer::load(&path).expect("the time-spine metrics.yaml loads");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(DATA).unwrap();
    Env {
        _dir: dir,
        path,
        layer,
        conn,
    }
}

/// The rows of `sql`, every value as text (numbers rounded to 6 places), sorted.
fn rows(conn: &duckdb::Connection, sql: &str) -> Vec<Vec<String>> {
    let wrapped = format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ({sql}) AS t");
    let mut stmt = conn.prepare(&wrapped).unwrap();
    let mut out: Vec<Vec<String>> = stmt
        .query_map([], |r| {
            let n = r.as_ref().column_count();
            Ok((0..n)
                .map(|i| {
                    let v: Option<String> = r.get(i).unwrap();
                    match v {
                        None => "NULL".to_string(),
                        Some(s) => match s.parse::<f64>() {
                            Ok(f) => format!("{f:.6}"),
                            Err(_) => s,
                        },
                    }
                })
                .collect())
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    out.sort();
    out
}

/// Compiles `query`, runs it and checks it returns exactly the oracle's rows.
fn check(e: &Env, query: serde_json::Value, oracle: &str) -> Vec<Vec<String>> {
    let q: MetricQuery = serde_json::from_value(query).unwrap();
    let compiled = compile(&e.layer, &q, &CompileOptions { today: today() })
        .unwrap_or_else(|err| panic!("{q:?} compiles: {err}"));
    let ours = rows(&e.conn, &compiled.sql);
    let want = rows(&e.conn, oracle);
    assert!(!want.is_empty(), "the oracle returns rows");
    assert_eq!(ours, want, "\n{}", compiled.sql);
    ours
}

#[test]
fn an_offset_window_reads_the_measure_that_long_before() {
    let e = env();
    // By day: every spine day whose day-7 has orders, today's revenue minus that.
    check(
        &e,
        json!({"metrics": ["revenue_wow"], "grain": "day",
               "time_range": {"from": "2025-01-01", "to": "2025-02-28"}}),
        "WITH d AS (SELECT ordered_at AS day, SUM(amount) AS v FROM orders GROUP BY 1),
              cur AS (SELECT day, v FROM d),
              ago AS (SELECT CAST(day + INTERVAL 7 DAY AS DATE) AS day, v FROM d)
         SELECT COALESCE(cur.day, ago.day), cur.v - ago.v
         FROM cur FULL JOIN ago ON cur.day = ago.day
         WHERE COALESCE(cur.day, ago.day) BETWEEN DATE '2025-01-01' AND DATE '2025-02-28'",
    );
    // By month, 1 month back: each spine day of the month reads the day a month before.
    check(
        &e,
        json!({"metrics": ["revenue_month_ago"], "grain": "month"}),
        "SELECT CAST(date_trunc('month', c.day) AS DATE), SUM(o.amount)
         FROM calendar c JOIN orders o ON o.ordered_at = CAST(c.day - INTERVAL 1 MONTH AS DATE)
         GROUP BY 1",
    );
}

#[test]
fn an_offset_to_grain_reads_the_period_start() {
    let e = env();
    // By day: each day shows the revenue of its month's first day (days whose month start
    // has no orders have no row).
    let got = check(
        &e,
        json!({"metrics": ["revenue_month_start"], "grain": "day",
               "time_range": {"from": "2025-01-30", "to": "2025-02-02"}}),
        "SELECT c.day, SUM(o.amount) FROM calendar c
         JOIN orders o ON o.ordered_at = CAST(date_trunc('month', c.day) AS DATE)
         WHERE c.day BETWEEN DATE '2025-01-30' AND DATE '2025-02-02' GROUP BY 1",
    );
    assert_eq!(
        got.len(),
        4,
        "Jan 30, Jan 31 (Jan 1: 150) and Feb 1, 2 (Feb 1: 60)"
    );
    // By month: the month's first-day value.
    check(
        &e,
        json!({"metrics": ["revenue_month_start"], "grain": "month"}),
        "SELECT CAST(date_trunc('month', ordered_at) AS DATE), SUM(amount) FROM orders
         WHERE ordered_at = CAST(date_trunc('month', ordered_at) AS DATE) GROUP BY 1",
    );
}

#[test]
fn grain_to_date_and_windows_add_up_the_rows_in_them() {
    let e = env();
    check(
        &e,
        json!({"metrics": ["revenue_mtd"], "grain": "day",
               "time_range": {"from": "2025-01-30", "to": "2025-02-03"}}),
        "SELECT c.day, SUM(o.amount) FROM calendar c JOIN orders o
           ON o.ordered_at <= c.day AND o.ordered_at >= CAST(date_trunc('month', c.day) AS DATE)
         WHERE c.day BETWEEN DATE '2025-01-30' AND DATE '2025-02-03' GROUP BY 1",
    );
    // Distinct customers over a window are not a sum of daily counts: customer 10 on
    // Jan 1 and Jan 2 counts once on Jan 2.
    let got = check(
        &e,
        json!({"metrics": ["customers_3d"], "grain": "day",
               "time_range": {"from": "2025-01-01", "to": "2025-01-10"}}),
        "SELECT c.day, COUNT(DISTINCT o.customer_id) FROM calendar c JOIN orders o
           ON o.ordered_at <= c.day AND o.ordered_at > CAST(c.day - INTERVAL 3 DAY AS DATE)
         WHERE c.day BETWEEN DATE '2025-01-01' AND DATE '2025-01-10' GROUP BY 1",
    );
    assert!(got.contains(&vec!["2025-01-02".into(), format!("{:.6}", 2.0)]));
    // Without a grain: the value as of the range's last day (MTD on Feb 3 = 60 + 25).
    let got = check(
        &e,
        json!({"metrics": ["revenue_mtd"],
               "time_range": {"from": "2025-02-01", "to": "2025-02-03"}}),
        "SELECT SUM(amount) FROM orders WHERE ordered_at BETWEEN DATE '2025-02-01' AND DATE '2025-02-03'",
    );
    assert_eq!(got, vec![vec![format!("{:.6}", 85.0)]]);
    // An offset of a window: the trailing-3-day customers two days before.
    check(
        &e,
        json!({"metrics": ["customers_3d_two_days_ago"], "grain": "day",
               "time_range": {"from": "2025-01-01", "to": "2025-01-12"}}),
        "SELECT c.day, COUNT(DISTINCT o.customer_id) FROM calendar c JOIN orders o
           ON o.ordered_at <= c.day - INTERVAL 2 DAY AND o.ordered_at > c.day - INTERVAL 5 DAY
         WHERE c.day BETWEEN DATE '2025-01-01' AND DATE '2025-01-12'
           AND c.day - INTERVAL 2 DAY >= DATE '2025-01-01'
         GROUP BY 1",
    );
}

#[test]
fn join_to_time_spine_reports_every_period_with_the_fill_value() {
    let e = env();
    let got = check(
        &e,
        json!({"metrics": ["revenue_every_day", "revenue"], "grain": "week",
               "time_range": {"from": "2025-01-01", "to": "2025-02-28"}}),
        "WITH w AS (SELECT DISTINCT CAST(date_trunc('week', day) AS DATE) AS wk FROM calendar
                    WHERE day BETWEEN DATE '2024-12-30' AND DATE '2025-03-02'),
              r AS (SELECT CAST(date_trunc('week', ordered_at) AS DATE) AS wk, SUM(amount) AS v
                    FROM orders WHERE ordered_at BETWEEN DATE '2024-12-30' AND DATE '2025-03-02' GROUP BY 1)
         SELECT w.wk, COALESCE(r.v, 0), r.v FROM w LEFT JOIN r ON w.wk = r.wk",
    );
    assert_eq!(got.len(), 9, "every week from Dec 30 to Feb 24");
    assert!(
        got.iter()
            .any(|r| r[1] == format!("{:.6}", 0.0) && r[2] == "NULL"),
        "a week without orders is 0 for the filled metric and NULL for the plain one"
    );
    // A filter on a dimension the query groups by applies after the spine join.
    check(
        &e,
        json!({"metrics": ["revenue_every_day"], "grain": "month", "group_by": ["channel"],
               "filters": [{"dimension": "channel", "op": "=", "values": ["shop"]}]}),
        "SELECT CAST(date_trunc('month', ordered_at) AS DATE), channel, SUM(amount) FROM orders
         WHERE channel = 'shop' GROUP BY 1, 2",
    );
}

#[test]
fn offsets_need_a_grain_and_bad_syntax_is_refused_with_its_line() {
    let e = env();
    let q: MetricQuery = serde_json::from_value(json!({"metrics": ["revenue_wow"]})).unwrap();
    let err = compile(&e.layer, &q, &CompileOptions { today: today() }).unwrap_err();
    assert!(err.to_string().contains("time grain"), "{err}");

    let bad = METRICS
        .replace("window: 3 days", "window: 3 fortnights")
        .replace("offset_to_grain: month", "offset_to_grain: decade")
        .replace("alias: c\n", "alias: d\n");
    let path = e.path.with_file_name("bad.yaml");
    std::fs::write(&path, &bad).unwrap();
    let errs = SemanticLayer::load(&path).unwrap_err().to_string();
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        errs.contains(&format!("bad.yaml:{}:", line_of("3 fortnights")))
            && errs.contains("the unit must be"),
        "{errs}"
    );
    assert!(errs.contains("decade"), "{errs}");
    assert!(errs.contains("\"d\" is not used in the formula"), "{errs}");
}

#[test]
fn time_spine_constructs_round_trip_through_metricflow() {
    let e = env();
    let out = tempfile::tempdir().unwrap();
    cortex::import::metricflow::export(&e.path, out.path()).expect("exports");
    let config = std::fs::read_to_string(out.path().join("project_configuration.yaml")).unwrap();
    assert!(config.contains("alias: calendar") && config.contains("name: day"));
    let mf = std::fs::read_to_string(out.path().join("metrics.yaml")).unwrap();
    assert!(mf.contains("offset_window: 1 week") && mf.contains("grain_to_date: month"));
    assert!(mf.contains("join_to_timespine: true"));
    let back = cortex::import::metricflow::import_dir(out.path()).expect("imports");
    assert!(back.dropped.is_empty(), "{:?}", back.dropped);
    let original: cortex::import::metricflow::MetricsFile =
        serde_norway::from_str(METRICS).unwrap();
    assert_eq!(
        serde_norway::to_string(&back.file).unwrap(),
        serde_norway::to_string(&original).unwrap()
    );
}

/// "Tickets by month YoY": one governed query with `prior: 1 year`, each month next to the
/// same month a year before; the oracle counts tickets per month by hand on the demo.
#[test]
fn the_planner_compares_a_series_year_over_year_with_one_offset_query() {
    let (_state, rt) = crate::helpers::demo_runtime(&crate::helpers::project_dir());
    let a = cortex::skills::answer_question(
        &rt,
        "tickets by month yoy",
        None,
        crate::helpers::demo_today(),
        "cli:test",
    );
    assert_eq!(a.status, cortex::answer::Status::Answered, "{}", a.text);
    let q = a.query.clone().expect("a governed query");
    assert_eq!(q.prior.as_deref(), Some("1 year"));
    assert_eq!(q.grain, Some(cortex::semantic::Grain::Month));
    assert_eq!(a.columns, ["month", "tickets", "tickets__prior"]);
    assert!(
        a.text.contains("compared with the month 1 year before"),
        "the answer says what was compared: {}",
        a.text
    );
    let oracle = crate::helpers::demo_sql(
        "WITH m AS (SELECT CAST(date_trunc('month', created_at) AS DATE) AS month, count(*) AS n
                    FROM tickets GROUP BY 1)
         SELECT strftime(cur.month, '%Y-%m-%d'), cur.n, prev.n FROM m AS cur
         LEFT JOIN m AS prev ON prev.month = CAST(cur.month - INTERVAL 1 YEAR AS DATE)
         WHERE cur.month BETWEEN DATE '2026-01-01' AND DATE '2026-11-01' ORDER BY 1",
    );
    let got: Vec<serde_json::Value> = a
        .rows
        .iter()
        .map(|r| serde_json::json!([r[0], r[1], r[2]]))
        .collect();
    assert_eq!(
        serde_json::Value::Array(got),
        oracle,
        "{}",
        a.sql.unwrap_or_default()
    );
}

#[test]
fn prior_compares_each_bucket_or_the_range_with_the_one_a_span_before() {
    let e = env();
    // By month: each month next to the month before (whole months, not day by day).
    check(
        &e,
        json!({"metrics": ["revenue"], "grain": "month", "prior": "1 month",
               "time_range": {"from": "2025-02-01", "to": "2025-03-31"}}),
        "WITH m AS (SELECT CAST(date_trunc('month', ordered_at) AS DATE) AS month, SUM(amount) AS v
                    FROM orders GROUP BY 1)
         SELECT cur.month, cur.v, prev.v FROM m AS cur
         LEFT JOIN m AS prev ON prev.month = CAST(cur.month - INTERVAL 1 MONTH AS DATE)
         WHERE cur.month BETWEEN DATE '2025-02-01' AND DATE '2025-03-01'",
    );
    // Without a grain: the range moved back (Feb 1-8 against Jan 1-8).
    let got = check(
        &e,
        json!({"metrics": ["revenue", "customers"], "prior": "1 month",
               "time_range": {"from": "2025-02-01", "to": "2025-02-08"}}),
        "SELECT (SELECT SUM(amount) FROM orders WHERE ordered_at BETWEEN DATE '2025-02-01' AND DATE '2025-02-08'),
                (SELECT COUNT(DISTINCT customer_id) FROM orders WHERE ordered_at BETWEEN DATE '2025-02-01' AND DATE '2025-02-08'),
                (SELECT SUM(amount) FROM orders WHERE ordered_at BETWEEN DATE '2025-01-01' AND DATE '2025-01-08'),
                (SELECT COUNT(DISTINCT customer_id) FROM orders WHERE ordered_at BETWEEN DATE '2025-01-01' AND DATE '2025-01-08')",
    );
    assert_eq!(got[0][2], format!("{:.6}", 270.0));
    // A span that is not whole buckets, and a metric with offsets, are refused.
    for (q, why) in [
        (
            json!({"metrics": ["revenue"], "grain": "week", "prior": "1 month"}),
            "compare with weeks",
        ),
        (
            json!({"metrics": ["revenue_wow"], "grain": "day", "prior": "1 week"}),
            "prior period",
        ),
    ] {
        let q: MetricQuery = serde_json::from_value(q).unwrap();
        let err = compile(&e.layer, &q, &CompileOptions { today: today() }).unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
}

/// A fiscal month read from the calendar (each day's month ten days later).
const FISCAL: &str = "
custom_grains:
  - name: fiscal_month
    table: calendar
    date_column: day
";

#[test]
fn spine_metrics_group_by_any_bucket_of_their_own_time() {
    let e = env_with(FISCAL);
    // An offset by week and by month at once: each spine day falls in one (week, month),
    // so a week across a month end is two rows.
    let got = check(
        &e,
        json!({"metrics": ["revenue_wow"], "grain": "week", "group_by": ["metric_time__month"],
               "time_range": {"from": "2025-01-01", "to": "2025-02-28"}}),
        "WITH cur AS (SELECT CAST(date_trunc('week', ordered_at) AS DATE) AS wk,
                             CAST(date_trunc('month', ordered_at) AS DATE) AS mo, SUM(amount) AS v
                      FROM orders WHERE ordered_at BETWEEN DATE '2024-12-30' AND DATE '2025-03-02'
                      GROUP BY 1, 2),
              ago AS (SELECT CAST(date_trunc('week', c.day) AS DATE) AS wk,
                             CAST(date_trunc('month', c.day) AS DATE) AS mo, SUM(o.amount) AS v
                      FROM calendar c JOIN orders o ON o.ordered_at = CAST(c.day - INTERVAL 7 DAY AS DATE)
                      WHERE c.day BETWEEN DATE '2024-12-30' AND DATE '2025-03-02' GROUP BY 1, 2)
         SELECT COALESCE(cur.wk, ago.wk), COALESCE(cur.mo, ago.mo), cur.v - ago.v
         FROM cur FULL JOIN ago ON cur.wk = ago.wk AND cur.mo = ago.mo",
    );
    assert!(
        got.iter()
            .any(|r| r[0] == "2025-01-27" && r[1] == "2025-02-01"),
        "the week of Jan 27 has a February part: {got:?}"
    );
    // The start-of-month value by week and month: read on the day that starts either
    // period (MetricFlow's rule), so a week that starts inside a month reads on Monday.
    check(
        &e,
        json!({"metrics": ["revenue_month_start"], "grain": "week", "group_by": ["metric_time__month"]}),
        "SELECT CAST(date_trunc('week', c.day) AS DATE), CAST(date_trunc('month', c.day) AS DATE),
                SUM(o.amount)
         FROM calendar c JOIN orders o ON o.ordered_at = CAST(date_trunc('month', c.day) AS DATE)
         WHERE c.day = CAST(date_trunc('week', c.day) AS DATE)
            OR c.day = CAST(date_trunc('month', c.day) AS DATE)
         GROUP BY 1, 2",
    );
    // By a date part only (no time axis): spine days grouped by weekday.
    check(
        &e,
        json!({"metrics": ["revenue_wow"], "group_by": ["metric_time__extract_dow"],
               "time_range": {"from": "2025-01-01", "to": "2025-02-28"}}),
        "WITH cur AS (SELECT isodow(ordered_at) AS dow, SUM(amount) AS v FROM orders
                      WHERE ordered_at BETWEEN DATE '2025-01-01' AND DATE '2025-02-28' GROUP BY 1),
              ago AS (SELECT isodow(c.day) AS dow, SUM(o.amount) AS v
                      FROM calendar c JOIN orders o ON o.ordered_at = CAST(c.day - INTERVAL 7 DAY AS DATE)
                      WHERE c.day BETWEEN DATE '2025-01-01' AND DATE '2025-02-28' GROUP BY 1)
         SELECT COALESCE(cur.dow, ago.dow), cur.v - ago.v FROM cur FULL JOIN ago ON cur.dow = ago.dow",
    );
    // The metric's own time dimension by its name is metric time: the same rows as by day.
    let by_name = check(
        &e,
        json!({"metrics": ["revenue_month_ago"], "group_by": ["order__ordered_at__day"]}),
        "SELECT c.day, SUM(o.amount) FROM calendar c
         JOIN orders o ON o.ordered_at = CAST(c.day - INTERVAL 1 MONTH AS DATE) GROUP BY 1",
    );
    let q: MetricQuery =
        serde_json::from_value(json!({"metrics": ["revenue_month_ago"], "grain": "day"})).unwrap();
    let compiled = compile(&e.layer, &q, &CompileOptions { today: today() }).unwrap();
    assert_eq!(rows(&e.conn, &compiled.sql), by_name);
    // A custom grain, and join_to_time_spine by it: every fiscal month of the spine.
    check(
        &e,
        json!({"metrics": ["revenue_wow"], "group_by": ["metric_time__fiscal_month"]}),
        "WITH cur AS (SELECT k.fiscal_month AS fm, SUM(o.amount) AS v FROM orders o
                      JOIN calendar k ON k.day = o.ordered_at GROUP BY 1),
              ago AS (SELECT c.fiscal_month AS fm, SUM(o.amount) AS v
                      FROM calendar c JOIN orders o ON o.ordered_at = CAST(c.day - INTERVAL 7 DAY AS DATE)
                      GROUP BY 1)
         SELECT COALESCE(cur.fm, ago.fm), cur.v - ago.v FROM cur FULL JOIN ago ON cur.fm = ago.fm",
    );
    let got = check(
        &e,
        json!({"metrics": ["revenue_every_day"], "group_by": ["metric_time__fiscal_month"]}),
        "WITH p AS (SELECT DISTINCT fiscal_month FROM calendar),
              r AS (SELECT k.fiscal_month, SUM(o.amount) AS v FROM orders o
                    JOIN calendar k ON k.day = o.ordered_at GROUP BY 1)
         SELECT p.fiscal_month, COALESCE(r.v, 0) FROM p LEFT JOIN r USING (fiscal_month)",
    );
    assert_eq!(
        got.len(),
        5,
        "Dec to Apr fiscal months, with and without orders"
    );
    // A time at a grain other than the metric's own time is refused, not guessed.
    let q: MetricQuery = serde_json::from_value(
        json!({"metrics": ["revenue_wow"], "grain": "day", "group_by": ["metric_time__hour"]}),
    )
    .unwrap();
    let err = compile(&e.layer, &q, &CompileOptions { today: today() }).unwrap_err();
    assert!(err.to_string().contains("hour"), "{err}");
}

#[test]
fn running_totals_by_a_coarser_period_take_their_period_agg() {
    let e = env();
    let daily_customers = "SELECT c.day, COUNT(DISTINCT o.customer_id) AS v FROM calendar c
         JOIN orders o ON o.ordered_at <= c.day AND o.ordered_at > CAST(c.day - INTERVAL 3 DAY AS DATE)
         GROUP BY 1";
    // `average`: the mean of the daily values of the month (days whose window has rows).
    check(
        &e,
        json!({"metrics": ["customers_3d_avg"], "grain": "month"}),
        &format!(
            "SELECT CAST(date_trunc('month', day) AS DATE), AVG(v) FROM ({daily_customers}) GROUP BY 1"
        ),
    );
    // `last` (the default): the month's last value; by a date part the same per month number.
    check(
        &e,
        json!({"metrics": ["customers_3d"], "grain": "month"}),
        &format!(
            "SELECT CAST(date_trunc('month', day) AS DATE), arg_max(v, day) FROM ({daily_customers}) GROUP BY 1"
        ),
    );
    check(
        &e,
        json!({"metrics": ["customers_3d"], "group_by": ["metric_time__extract_month"]}),
        &format!("SELECT month(day), arg_max(v, day) FROM ({daily_customers}) GROUP BY 1"),
    );
    // Month to date by week: the value on the week's last day with revenue in its month.
    let got = check(
        &e,
        json!({"metrics": ["revenue_mtd"], "grain": "week"}),
        "WITH d AS (SELECT c.day, SUM(o.amount) AS v FROM calendar c JOIN orders o
                    ON o.ordered_at <= c.day AND o.ordered_at >= CAST(date_trunc('month', c.day) AS DATE)
                    GROUP BY 1)
         SELECT CAST(date_trunc('week', day) AS DATE), arg_max(v, day) FROM d GROUP BY 1",
    );
    assert!(
        got.contains(&vec!["2025-01-27".into(), format!("{:.6}", 60.0)]),
        "the week of Jan 27 ends in February (MTD 60 on Feb 1 and 2): {got:?}"
    );
    // With a day among the keys every row is a day: no period to aggregate.
    check(
        &e,
        json!({"metrics": ["customers_3d_avg"], "grain": "day", "group_by": ["metric_time__month"],
               "time_range": {"from": "2025-01-01", "to": "2025-01-10"}}),
        &format!(
            "SELECT day, CAST(date_trunc('month', day) AS DATE), v FROM ({daily_customers})
             WHERE day BETWEEN DATE '2025-01-01' AND DATE '2025-01-10'"
        ),
    );
}

#[test]
fn or_filters_on_metric_time_read_the_spine_day() {
    let e = env();
    let day = |d: &str| json!({"cond": {"dimension": "metric_time", "op": "=", "values": [d]}});
    let got = check(
        &e,
        json!({"metrics": ["customers_3d"], "grain": "day",
               "where_exprs": [{"any": [day("2025-01-03"), day("2025-01-10")]}]}),
        "SELECT c.day, COUNT(DISTINCT o.customer_id) FROM calendar c JOIN orders o
           ON o.ordered_at <= c.day AND o.ordered_at > CAST(c.day - INTERVAL 3 DAY AS DATE)
         WHERE c.day IN (DATE '2025-01-03', DATE '2025-01-10') GROUP BY 1",
    );
    // Jan 3 reads Jan 1-3 (customers 10, 11): the window reaches rows the filter excludes.
    assert_eq!(
        got[0],
        vec!["2025-01-03".to_string(), format!("{:.6}", 2.0)]
    );
    // An OR that mixes the spine day with a row's dimension is refused.
    let q: MetricQuery =
        serde_json::from_value(json!({"metrics": ["customers_3d"], "grain": "day",
        "where_exprs": [{"any": [day("2025-01-03"),
            {"cond": {"dimension": "channel", "op": "=", "values": ["web"]}}]}]}))
        .unwrap();
    let err = compile(&e.layer, &q, &CompileOptions { today: today() }).unwrap_err();
    assert!(err.to_string().contains("mixes"), "{err}");
}

/// Logins by the hour: an hourly time spine beside the daily one.
const HOURLY: &str = "
  - name: logins
    table: logins
    default_time_dimension: logged_at
    dimensions:
      - name: logged_at
        type: time
        granularity: hour
    measures:
      - name: logins
        agg: count
";

const HOURLY_METRICS: &str = "
  - name: logins_every_hour
    type: simple
    description: Logins, every hour of the spine reported.
    owner: ops
    unit: count
    measure: logins
    join_to_time_spine: true
  - name: logins_3h
    type: cumulative
    description: Logins over the trailing 3 hours.
    owner: ops
    unit: count
    measure: logins
    window: 3 hours
  - name: logins_hour_ago
    type: derived
    description: Logins an hour before.
    owner: ops
    unit: count
    expr: logins
    inputs:
      - metric: logins
        offset_window: 1 hour
  - name: logins
    type: simple
    description: Logins.
    owner: ops
    unit: count
    measure: logins
";

#[test]
fn sub_daily_metrics_read_an_hourly_spine() {
    let yaml = METRICS
        .replace(
            "  column: day\n",
            "  column: day\n  sub_daily:\n    - grain: hour\n      table: hours\n      column: ts\n",
        )
        .replace("semantic_models:\n", &format!("semantic_models:{HOURLY}"))
        .replace("metrics:\n  - name: revenue\n", &format!("metrics:{HOURLY_METRICS}  - name: revenue\n"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let layer = SemanticLayer::load(&path).expect("the hourly metrics.yaml loads");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(DATA).unwrap();
    conn.execute_batch(
        "CREATE TABLE hours AS SELECT ts FROM generate_series(TIMESTAMP '2025-01-01 00:00:00', TIMESTAMP '2025-01-01 23:00:00', INTERVAL 1 HOUR) AS g(ts);
         CREATE TABLE logins (user_id INT, logged_at TIMESTAMP);
         INSERT INTO logins VALUES (1, '2025-01-01 01:15:00'), (2, '2025-01-01 01:40:00'),
           (1, '2025-01-01 03:05:00'), (3, '2025-01-01 07:59:00');",
    )
    .unwrap();
    let e = Env {
        _dir: dir,
        path,
        layer,
        conn,
    };
    // join_to_time_spine by the hour: all 24 hours of Jan 1 (a range of dates covers
    // the whole last day), NULL where none.
    let got = check(
        &e,
        json!({"metrics": ["logins_every_hour"], "group_by": ["metric_time__hour"],
               "time_range": {"from": "2025-01-01", "to": "2025-01-01"}}),
        "SELECT h.ts, c.n FROM hours h LEFT JOIN
           (SELECT date_trunc('hour', logged_at) AS t, COUNT(*) AS n FROM logins GROUP BY 1) c ON c.t = h.ts",
    );
    assert_eq!(got.len(), 24);
    // A trailing 3-hour window and a 1-hour offset, hour by hour.
    check(
        &e,
        json!({"metrics": ["logins_3h"], "group_by": ["metric_time__hour"]}),
        "SELECT h.ts, COUNT(*) FROM hours h JOIN logins l
           ON date_trunc('hour', l.logged_at) <= h.ts AND date_trunc('hour', l.logged_at) > h.ts - INTERVAL 3 HOUR
         GROUP BY 1",
    );
    check(
        &e,
        json!({"metrics": ["logins_hour_ago"], "group_by": ["metric_time__hour"]}),
        "SELECT h.ts, COUNT(*) FROM hours h JOIN logins l
           ON date_trunc('hour', l.logged_at) = h.ts - INTERVAL 1 HOUR GROUP BY 1",
    );
    // An hourly offset by the day is refused with a pointer to the hour.
    let q: MetricQuery =
        serde_json::from_value(json!({"metrics": ["logins_hour_ago"], "grain": "day"})).unwrap();
    let err = compile(&e.layer, &q, &CompileOptions { today: today() }).unwrap_err();
    assert!(err.to_string().contains("metric_time__hour"), "{err}");
    // The hourly spine and the hourly window round-trip through MetricFlow.
    let out = tempfile::tempdir().unwrap();
    cortex::import::metricflow::export(&e.path, out.path()).expect("exports");
    let config = std::fs::read_to_string(out.path().join("project_configuration.yaml")).unwrap();
    assert!(config.contains("alias: hours") && config.contains("time_granularity: hour"));
    let back = cortex::import::metricflow::import_dir(out.path()).expect("imports");
    assert!(back.dropped.is_empty(), "{:?}", back.dropped);
    let original: cortex::import::metricflow::MetricsFile = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(
        serde_norway::to_string(&back.file).unwrap(),
        serde_norway::to_string(&original).unwrap()
    );
}
