//! Time at a grain in our own metrics.yaml syntax: time dimensions other than the metric's
//! own time grouped at a grain, sub-daily units, date parts, custom grains read from a
//! calendar table, several grains in one query, monthly agg time dimensions and a metric's
//! `default_grain`. Every result is checked against SQL written by hand on the raw tables.

use std::time::Duration;

use chrono::NaiveDate;
use cortex::semantic::compile::default_time_unit;
use cortex::semantic::grain::TimeUnit;
use cortex::semantic::{compile, CompileOptions, Grain, MetricQuery, SemanticLayer, TimeRange};
use cortex::warehouse::{AuditContext, Limits, Value, Warehouse};

const METRICS: &str = r#"
version: 1
custom_grains:
  - name: retail_week
    table: calendar
    date_column: day
    column: retail_week_start
semantic_models:
  - name: orders
    table: orders
    default_time_dimension: ordered_at
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: ordered_at, type: time, granularity: minute}
      - {name: shipped_on, type: time}
      - {name: paid_at, type: time, granularity: second}
      - {name: channel, type: categorical}
    measures:
      - {name: order_count, agg: count}
      - {name: order_amount, agg: sum, expr: amount}
  - name: customers
    table: customers
    entities:
      - {name: customer, type: primary, expr: customer_id}
    dimensions:
      - {name: signed_up, type: time}
  - name: targets
    table: targets
    default_time_dimension: target_month
    dimensions:
      - {name: target_month, type: time, granularity: month}
    measures:
      - {name: target_amount, agg: sum, expr: amount}
metrics:
  - {name: orders, type: simple, measure: order_count, description: orders placed, owner: ops, unit: count}
  - {name: revenue, type: simple, measure: order_amount, description: order amounts, owner: ops, unit: usd}
  - {name: target, type: simple, measure: target_amount, description: monthly target, owner: ops, unit: usd}
  - {name: weekly_revenue, type: simple, measure: order_amount, description: order amounts, owner: ops, unit: usd, default_grain: week}
"#;

const DATA: &str = "
CREATE TABLE orders AS SELECT * FROM (VALUES
  (1, 10, TIMESTAMP '2024-01-01 09:15:20', DATE '2024-01-03', 'web', 100.0, TIMESTAMP '2024-01-01 09:16:00.250'),
  (2, 10, TIMESTAMP '2024-01-01 09:15:50', DATE '2024-01-03', 'web', 50.0, TIMESTAMP '2024-01-01 09:16:00.750'),
  (3, 11, TIMESTAMP '2024-01-01 17:40:00', NULL, 'store', 20.0, NULL),
  (4, 12, TIMESTAMP '2024-01-09 08:00:00', DATE '2024-02-01', 'web', 70.0, TIMESTAMP '2024-01-09 08:00:01'),
  (5, 11, TIMESTAMP '2024-02-14 23:59:59', DATE '2024-02-20', 'store', 5.0, TIMESTAMP '2024-02-15 00:00:00'),
  (6, NULL, TIMESTAMP '2024-04-02 00:00:00', DATE '2024-04-05', 'web', 1.0, TIMESTAMP '2024-04-02 00:00:00')
) AS t(order_id, customer_id, ordered_at, shipped_on, channel, amount, paid_at);
CREATE TABLE customers AS SELECT * FROM (VALUES
  (10, DATE '2023-11-20'), (11, DATE '2023-12-31'), (12, DATE '2024-01-07')
) AS t(customer_id, signed_up);
CREATE TABLE targets AS SELECT * FROM (VALUES
  (DATE '2024-01-01', 120.0), (DATE '2024-02-01', 80.0), (DATE '2024-03-01', 90.0)
) AS t(target_month, amount);
CREATE TABLE calendar AS
  SELECT CAST(d AS DATE) AS day,
         CAST(d - INTERVAL ((dayofweek(d) + 1) % 7) DAY AS DATE) AS retail_week_start
  FROM generate_series(TIMESTAMP '2023-01-01', TIMESTAMP '2025-12-31', INTERVAL 1 DAY) AS s(d);
";

struct Setup {
    _dir: tempfile::TempDir,
    layer: SemanticLayer,
    wh: Warehouse,
    raw: duckdb::Connection,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("grains.duckdb");
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(DATA).unwrap();
    }
    let path = dir.path().join("metrics.yaml");
    std::fs::write(&path, METRICS).unwrap();
    let layer = SemanticLayer::load(&path).expect("the grains metrics.yaml loads");
    let limits = Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let wh = Warehouse::open(&db, layer.tables(), limits, None).expect("warehouse");
    let raw = duckdb::Connection::open_in_memory().unwrap();
    raw.execute_batch(&format!(
        "ATTACH '{}' AS w (READ_ONLY); USE w;",
        db.display()
    ))
    .unwrap();
    Setup {
        _dir: dir,
        layer,
        wh,
        raw,
    }
}

/// Rows as text, numbers with four decimals, sorted, so that results compare
/// independently of order and of integer or floating types.
fn texts(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| match v.parse::<f64>() {
                    Ok(n) => format!("{n:.4}"),
                    Err(_) => v,
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f}"),
        Value::Text(s) => s.clone(),
        Value::Date(d) => d.to_string(),
        Value::Timestamp(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

impl Setup {
    fn ours(&self, q: MetricQuery) -> (Vec<String>, Vec<Vec<String>>) {
        let opts = CompileOptions {
            today: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
        };
        let c = compile(&self.layer, &q, &opts).expect("compiles");
        let ctx = AuditContext {
            requester: "test:grains".into(),
            question: String::new(),
            query_json: None,
        };
        let r = self.wh.query(&c.sql, &ctx).expect("runs");
        let names = c.columns.iter().map(|c| c.name.clone()).collect();
        let rows = r
            .rows
            .iter()
            .map(|row| row.iter().map(text_of).collect())
            .collect();
        (names, texts(rows))
    }

    /// Hand-written SQL on the raw tables; every column cast to text the way `text_of` writes.
    fn oracle(&self, sql: &str) -> Vec<Vec<String>> {
        let mut stmt = self.raw.prepare(sql).unwrap();
        let mut result = stmt.query([]).unwrap();
        let mut rows = Vec::new();
        while let Some(r) = result.next().unwrap() {
            let n = r.as_ref().column_count();
            let row: Vec<String> = (0..n)
                .map(|i| {
                    r.get::<_, Option<String>>(i)
                        .unwrap()
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect();
            rows.push(row);
        }
        texts(rows)
    }
}

fn query(metrics: &[&str], group_by: &[&str]) -> MetricQuery {
    MetricQuery {
        metrics: metrics.iter().map(|s| s.to_string()).collect(),
        group_by: group_by.iter().map(|s| s.to_string()).collect(),
        ..MetricQuery::default()
    }
}

#[test]
fn a_joined_time_dimension_groups_at_a_grain() {
    let s = setup();
    let (cols, rows) = s.ours(query(&["revenue"], &["customer__signed_up__month"]));
    assert_eq!(cols, ["customer__signed_up__month", "revenue"]);
    let want = s.oracle(
        "SELECT COALESCE(CAST(CAST(date_trunc('month', c.signed_up) AS DATE) AS VARCHAR), 'NULL'),
                CAST(CAST(SUM(o.amount) AS DOUBLE) AS VARCHAR)
         FROM orders o LEFT JOIN customers c ON o.customer_id = c.customer_id GROUP BY 1",
    );
    assert_eq!(rows, want);
    assert_eq!(rows.len(), 4, "Nov, Dec, Jan and no customer: {rows:?}");
}

#[test]
fn the_metrics_own_time_dimension_and_other_times_take_any_coarser_grain() {
    let s = setup();
    let (_, rows) = s.ours(query(
        &["orders"],
        &["order__ordered_at__quarter", "shipped_on__week"],
    ));
    let want = s.oracle(
        "SELECT CAST(CAST(date_trunc('quarter', ordered_at) AS DATE) AS VARCHAR),
                COALESCE(CAST(CAST(date_trunc('week', shipped_on) AS DATE) AS VARCHAR), 'NULL'),
                CAST(CAST(COUNT(*) AS DOUBLE) AS VARCHAR)
         FROM orders GROUP BY 1, 2",
    );
    assert_eq!(rows, want);
}

#[test]
fn sub_daily_units_truncate_timestamps_and_a_bare_name_reads_the_day() {
    let s = setup();
    let (_, rows) = s.ours(query(&["orders"], &["metric_time__hour"]));
    let want = s.oracle(
        "SELECT strftime(date_trunc('hour', ordered_at), '%Y-%m-%d %H:%M:%S'),
                CAST(CAST(COUNT(*) AS DOUBLE) AS VARCHAR)
         FROM orders GROUP BY 1",
    );
    assert_eq!(rows, want);
    // A sub-daily time named without a grain is read by the day (MetricFlow's default);
    // `__second` reads its own unit: the two payments at 09:16:00.x share one row.
    let (_, rows) = s.ours(query(&["orders"], &["paid_at"]));
    let want = s.oracle(
        "SELECT COALESCE(CAST(CAST(paid_at AS DATE) AS VARCHAR), 'NULL'),
                CAST(CAST(COUNT(*) AS DOUBLE) AS VARCHAR)
         FROM orders GROUP BY 1",
    );
    assert_eq!(rows, want);
    let (_, rows) = s.ours(query(&["orders"], &["paid_at__second"]));
    let want = s.oracle(
        "SELECT COALESCE(strftime(date_trunc('second', paid_at), '%Y-%m-%d %H:%M:%S'), 'NULL'),
                CAST(CAST(COUNT(*) AS DOUBLE) AS VARCHAR)
         FROM orders GROUP BY 1",
    );
    assert_eq!(rows, want);
    assert_eq!(rows.len(), 5, "{rows:?}");
    // Finer than the values carry is refused, with the reason.
    let err = compile(
        &s.layer,
        &query(&["orders"], &["ordered_at__second"]),
        &CompileOptions {
            today: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("recorded by the minute"), "{err}");
}

#[test]
fn date_parts_group_by_iso_day_of_week_and_day_of_year() {
    let s = setup();
    let (cols, rows) = s.ours(query(
        &["revenue"],
        &["metric_time__extract_dow", "metric_time__extract_doy"],
    ));
    assert_eq!(
        cols,
        [
            "metric_time__extract_dow",
            "metric_time__extract_doy",
            "revenue"
        ]
    );
    let want = s.oracle(
        "SELECT CAST(CAST(isodow(ordered_at) AS DOUBLE) AS VARCHAR),
                CAST(CAST(dayofyear(ordered_at) AS DOUBLE) AS VARCHAR),
                CAST(CAST(SUM(amount) AS DOUBLE) AS VARCHAR)
         FROM orders GROUP BY 1, 2",
    );
    assert_eq!(rows, want);
}

#[test]
fn a_custom_grain_reads_the_calendar_in_group_bys_and_filters() {
    let s = setup();
    let mut q = query(&["revenue"], &["metric_time__retail_week"]);
    q.filters.push(
        cortex::semantic::Condition::parse("metric_time__retail_week >= '2024-01-06'").unwrap(),
    );
    let (_, rows) = s.ours(q);
    let want = s.oracle(
        "SELECT CAST(c.retail_week_start AS VARCHAR), CAST(CAST(SUM(o.amount) AS DOUBLE) AS VARCHAR)
         FROM orders o JOIN calendar c ON c.day = CAST(o.ordered_at AS DATE)
         WHERE c.retail_week_start >= DATE '2024-01-06' GROUP BY 1",
    );
    assert_eq!(rows, want);
    assert_eq!(rows.len(), 3, "{rows:?}");
}

#[test]
fn several_grains_of_metric_time_in_one_query() {
    let s = setup();
    let mut q = query(&["orders", "revenue"], &["metric_time__month"]);
    q.grain = Some(Grain::Day);
    let (cols, rows) = s.ours(q);
    assert_eq!(cols, ["day", "metric_time__month", "orders", "revenue"]);
    let want = s.oracle(
        "SELECT CAST(CAST(ordered_at AS DATE) AS VARCHAR),
                CAST(CAST(date_trunc('month', ordered_at) AS DATE) AS VARCHAR),
                CAST(CAST(COUNT(*) AS DOUBLE) AS VARCHAR), CAST(CAST(SUM(amount) AS DOUBLE) AS VARCHAR)
         FROM orders GROUP BY 1, 2",
    );
    assert_eq!(rows, want);
}

#[test]
fn a_monthly_metric_reads_whole_months_and_refuses_a_daily_grain() {
    let s = setup();
    // No time axis: the range snaps to whole months for every metric of the query.
    let mut q = query(&["target", "revenue"], &[]);
    q.time_range = Some(TimeRange {
        from: NaiveDate::from_ymd_opt(2024, 1, 15).unwrap(),
        to: NaiveDate::from_ymd_opt(2024, 2, 10).unwrap(),
    });
    let (_, rows) = s.ours(q);
    let want = s.oracle(
        "SELECT (SELECT CAST(SUM(amount) AS VARCHAR) FROM targets
                  WHERE target_month >= DATE '2024-01-01' AND target_month < DATE '2024-03-01'),
                (SELECT CAST(SUM(amount) AS VARCHAR) FROM orders
                  WHERE ordered_at >= DATE '2024-01-01' AND ordered_at < DATE '2024-03-01')",
    );
    assert_eq!(rows, want);
    assert_eq!(
        default_time_unit(&s.layer, &["target".into(), "revenue".into()]).unwrap(),
        TimeUnit::Month
    );
    let mut q = query(&["target"], &[]);
    q.grain = Some(Grain::Day);
    let err = compile(
        &s.layer,
        &q,
        &CompileOptions {
            today: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("recorded by the month"), "{err}");
}

#[test]
fn a_metrics_default_grain_names_the_unit_of_metric_time() {
    let s = setup();
    let unit = |m: &str| default_time_unit(&s.layer, &[m.to_string()]).unwrap();
    assert_eq!(unit("weekly_revenue"), TimeUnit::Week);
    // A minute-recorded time defaults to the day, as in MetricFlow.
    assert_eq!(unit("revenue"), TimeUnit::Day);
}

#[test]
fn bad_grain_declarations_are_reported_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.yaml");
    let bad = METRICS
        .replace("name: retail_week\n", "name: month\n")
        .replace(
            "{name: signed_up, type: time}",
            "{name: signed_up, type: time}\n      - {name: tier, type: categorical, granularity: hour}",
        )
        .replace("granularity: minute", "granularity: fortnight");
    std::fs::write(&path, bad).unwrap();
    let err = SemanticLayer::load(&path).unwrap_err().to_string();
    assert!(err.contains("custom grain name \"month\""), "{err}");
    assert!(
        err.contains("granularity is only for time dimensions"),
        "{err}"
    );
    assert!(err.contains("fortnight"), "{err}");
}

#[test]
fn grains_survive_export_to_metricflow_and_import_back() {
    use cortex::import::metricflow::{export, import_dir, MetricsFile};
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("metrics.yaml");
    std::fs::write(&original, METRICS).unwrap();
    let mf = dir.path().join("mf");
    export(&original, &mf).expect("exports");
    // The MetricFlow side says each construct in MetricFlow's own terms.
    let config = std::fs::read_to_string(mf.join("project_configuration.yaml")).unwrap();
    assert!(config.contains("custom_granularities"), "{config}");
    assert!(
        config.contains("column_name: retail_week_start"),
        "{config}"
    );
    let metrics = std::fs::read_to_string(mf.join("metrics.yaml")).unwrap();
    assert!(metrics.contains("time_granularity: week"), "{metrics}");
    let models: String = std::fs::read_dir(mf.join("semantic_models"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(models.contains("time_granularity: minute"), "{models}");
    assert!(models.contains("time_granularity: month"), "{models}");

    let back = import_dir(&mf).expect("imports back");
    assert!(back.dropped.is_empty(), "{:?}", back.dropped);
    let a: MetricsFile = serde_norway::from_str(METRICS).unwrap();
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&back.file).unwrap(),
        "import(export(metrics.yaml)) differs"
    );
}
