//! Metric filters (`shop__orders > 2`: shops with more than 2 orders), filtered derived
//! inputs and functions in derived formulas, in Cortex's own metrics.yaml syntax. Each
//! compiled query runs on a small DuckDB and is compared with SQL written by hand on the
//! raw tables; bad syntax is refused with file and line; export and import give the same
//! definitions back.

use chrono::NaiveDate;
use cortex::semantic::{compile, CompileOptions, MetricQuery, SemanticLayer};
use serde_json::json;

const METRICS: &str = r#"
version: 1
semantic_models:
  - name: shops
    table: shops
    default_time_dimension: opened_at
    entities:
      - name: shop
        type: primary
        expr: shop_id
    dimensions:
      - name: opened_at
        type: time
      - name: region
        type: categorical
    measures:
      - name: shops
        agg: count
  - name: orders
    table: orders
    default_time_dimension: ordered_at
    entities:
      - name: order
        type: primary
        expr: order_id
      - name: shop
        type: foreign
        expr: shop_id
    dimensions:
      - name: ordered_at
        type: time
      - name: channel
        type: categorical
    measures:
      - name: revenue
        agg: sum
        expr: amount
      - name: orders
        agg: count
      - name: customers
        agg: count_distinct
        expr: customer_id
  - name: visits
    table: visits
    primary_entity: visit
    default_time_dimension: visited_at
    entities:
      - name: shop
        type: foreign
        expr: shop_id
    dimensions:
      - name: visited_at
        type: time
    measures:
      - name: visits
        agg: count
metrics:
  - name: shops
    type: simple
    description: Shops.
    owner: ops
    unit: count
    measure: shops
  - name: revenue
    type: simple
    description: Order amounts.
    owner: finance
    unit: usd
    measure: revenue
  - name: orders
    type: simple
    description: Orders.
    owner: finance
    unit: count
    measure: orders
  - name: customers
    type: simple
    description: Distinct customers.
    owner: finance
    unit: count
    measure: customers
  - name: visits
    type: simple
    description: Visits.
    owner: ops
    unit: count
    measure: visits
  - name: busy_shops
    type: simple
    description: Shops with more than 2 orders.
    owner: ops
    unit: count
    measure: shops
    filter:
      - shop__orders > 2
  - name: revenue_per_customer
    type: ratio
    description: Revenue per distinct customer.
    owner: finance
    unit: usd
    numerator: revenue
    denominator: customers
  - name: revenue_times_visits
    type: derived
    description: Revenue times visits.
    owner: finance
    unit: score
    expr: revenue * visits
  - name: revenue_all_time
    type: cumulative
    description: Revenue since the start.
    owner: finance
    unit: usd
    measure: revenue
  - name: web_share
    type: derived
    description: Web revenue over all revenue.
    owner: finance
    unit: ratio
    expr: web_revenue / NULLIF(revenue, 0)
    inputs:
      - metric: revenue
        alias: web_revenue
        filter:
          - channel = web
  - name: doubled_shop_orders
    type: derived
    description: Twice the in-shop orders.
    owner: finance
    unit: count
    expr: shop_orders * 2
    inputs:
      - metric: orders
        alias: shop_orders
        filter:
          - channel = shop
"#;

const DATA: &str = "
CREATE TABLE shops (shop_id INT, region VARCHAR, opened_at DATE);
INSERT INTO shops VALUES (1, 'north', '2024-01-01'), (2, 'north', '2024-02-01'),
  (3, 'south', '2024-03-01'), (4, 'south', '2024-04-01'), (5, 'east', '2024-05-01');
CREATE TABLE orders (order_id INT, shop_id INT, customer_id INT, ordered_at DATE, channel VARCHAR, amount DOUBLE);
INSERT INTO orders VALUES
  (1, 1, 10, '2025-01-01', 'web', 100), (2, 1, 11, '2025-01-02', 'shop', 50),
  (3, 1, 10, '2025-01-03', 'web', 20),  (4, 2, 12, '2025-01-05', 'web', 70),
  (5, 2, 13, '2025-01-08', 'shop', 30), (6, 2, 10, '2025-02-09', 'web', 5),
  (7, 2, 11, '2025-02-11', 'shop', 40), (8, 3, 12, '2025-02-12', 'shop', 60),
  (9, 9, 14, '2025-02-13', 'web', 25),  (10, 9, 14, '2025-02-14', 'web', 15),
  (11, 9, 15, '2025-03-01', 'shop', 80);
CREATE TABLE visits (shop_id INT, visited_at DATE);
INSERT INTO visits VALUES (1, '2025-01-01'), (1, '2025-01-02'), (2, '2025-01-03'),
  (4, '2025-01-04'), (4, '2025-01-05'), (4, '2025-01-06');
";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 31).unwrap()
}

struct Env {
    dir: tempfile::TempDir,
    path: std::path::PathBuf,
    layer: SemanticLayer,
    conn: duckdb::Connection,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.yaml");
    std::fs::write(&path, METRICS).unwrap();
    let layer = SemanticLayer::load(&path).expect("the metric-filter metrics.yaml loads");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(DATA).unwrap();
    Env {
        dir,
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

fn compiled(e: &Env, query: serde_json::Value) -> Result<String, String> {
    let q: MetricQuery = serde_json::from_value(query).unwrap();
    compile(&e.layer, &q, &CompileOptions { today: today() })
        .map(|c| c.sql)
        .map_err(|e| e.to_string())
}

/// Compiles `query`, runs it and checks it returns exactly the oracle's rows.
fn check(e: &Env, query: serde_json::Value, oracle: &str) -> Vec<Vec<String>> {
    let sql = compiled(e, query.clone()).unwrap_or_else(|err| panic!("{query} compiles: {err}"));
    let ours = rows(&e.conn, &sql);
    let want = rows(&e.conn, oracle);
    assert!(!want.is_empty(), "the oracle returns rows");
    assert_eq!(ours, want, "\n{sql}");
    ours
}

fn n(x: f64) -> String {
    format!("{x:.6}")
}

#[test]
fn a_metric_filter_keeps_the_rows_whose_entity_passes() {
    let e = env();
    // Shops with more than 2 orders: 1 (3 orders) and 2 (4 orders); shop 9 has orders but
    // no row in shops, shop 5 none at all (NULL does not pass).
    let got = check(
        &e,
        json!({"metrics": ["shops"], "group_by": ["region"],
               "filters": [{"dimension": "shop__orders", "op": ">", "values": [2]}]}),
        "SELECT region, COUNT(*) FROM shops s
         WHERE (SELECT COUNT(*) FROM orders o WHERE o.shop_id = s.shop_id) > 2 GROUP BY 1",
    );
    assert_eq!(got, vec![vec!["north".to_string(), n(2.0)]]);
    // The same condition written in a metric's definition.
    check(
        &e,
        json!({"metrics": ["busy_shops"]}),
        "SELECT COUNT(*) FROM shops s
         WHERE (SELECT COUNT(*) FROM orders o WHERE o.shop_id = s.shop_id) > 2",
    );
    // Two metric filters and a plain filter combine with AND; the text form parses too.
    let mut q = MetricQuery {
        metrics: vec!["shops".into()],
        ..MetricQuery::default()
    };
    for w in ["shop__orders >= 1", "shop__customers > 1", "region = north"] {
        q.add_where(cortex::semantic::Filter::parse(w).unwrap());
    }
    check(
        &e,
        serde_json::to_value(&q).unwrap(),
        "SELECT COUNT(*) FROM shops s WHERE region = 'north'
           AND (SELECT COUNT(*) FROM orders o WHERE o.shop_id = s.shop_id) >= 1
           AND (SELECT COUNT(DISTINCT customer_id) FROM orders o WHERE o.shop_id = s.shop_id) > 1",
    );
}

#[test]
fn the_filtered_metric_is_computed_over_all_its_data() {
    let e = env();
    // Revenue in February of shops with more than 2 orders over all time: shop 2 has only
    // 2 orders in February but 4 in all.
    check(
        &e,
        json!({"metrics": ["revenue"], "grain": "month",
               "time_range": {"from": "2025-02-01", "to": "2025-02-28"},
               "filters": [{"dimension": "shop__orders", "op": ">", "values": [2]}]}),
        "SELECT DATE '2025-02-01', SUM(amount) FROM orders o
         WHERE ordered_at BETWEEN DATE '2025-02-01' AND DATE '2025-02-28'
           AND (SELECT COUNT(*) FROM orders x WHERE x.shop_id = o.shop_id) > 2",
    );
}

#[test]
fn ratio_derived_and_cumulative_metrics_filter_too() {
    let e = env();
    check(
        &e,
        json!({"metrics": ["shops"],
               "filters": [{"dimension": "shop__revenue_per_customer", "op": ">", "values": [60]}]}),
        "SELECT COUNT(*) FROM shops s WHERE
           (SELECT SUM(amount) / COUNT(DISTINCT customer_id) FROM orders o WHERE o.shop_id = s.shop_id) > 60",
    );
    // revenue * visits is NULL for a shop without visits (shop 3), so it does not pass.
    check(
        &e,
        json!({"metrics": ["shops"],
               "filters": [{"dimension": "shop__revenue_times_visits", "op": ">", "values": [100]}]}),
        "SELECT COUNT(*) FROM shops s WHERE
           (SELECT SUM(amount) FROM orders o WHERE o.shop_id = s.shop_id)
           * (SELECT COUNT(*) FROM visits v WHERE v.shop_id = s.shop_id) > 100",
    );
    check(
        &e,
        json!({"metrics": ["shops"],
               "filters": [{"dimension": "shop__revenue_all_time", "op": ">=", "values": [60]}]}),
        "SELECT COUNT(*) FROM shops s WHERE
           (SELECT SUM(amount) FROM orders o WHERE o.shop_id = s.shop_id AND ordered_at <= DATE '2025-03-31') >= 60",
    );
    // A local entity prefix: visits per shop, read as the visit's shop.
    check(
        &e,
        json!({"metrics": ["revenue"],
               "filters": [{"dimension": "visit__shop__visits", "op": ">", "values": [1]}]}),
        "SELECT SUM(amount) FROM orders o WHERE
           (SELECT COUNT(*) FROM visits v WHERE v.shop_id = o.shop_id) > 1",
    );
    // IS NULL keeps the rows whose entity has no value: shops never visited.
    check(
        &e,
        json!({"metrics": ["shops"],
               "filters": [{"dimension": "shop__visits", "op": "is null", "values": []}]}),
        "SELECT COUNT(*) FROM shops s WHERE NOT EXISTS (SELECT 1 FROM visits v WHERE v.shop_id = s.shop_id)",
    );
}

#[test]
fn metric_filters_refuse_what_they_cannot_mean() {
    let e = env();
    let or = compiled(
        &e,
        json!({"metrics": ["shops"], "where_exprs": [{"any": [
            {"cond": {"dimension": "shop__orders", "op": ">", "values": [2]}},
            {"cond": {"dimension": "region", "op": "=", "values": ["east"]}}]}]}),
    )
    .unwrap_err();
    assert!(or.contains("OR or NOT"), "{or}");
    let text = compiled(
        &e,
        json!({"metrics": ["shops"],
               "filters": [{"dimension": "shop__orders", "op": ">", "values": ["many"]}]}),
    )
    .unwrap_err();
    assert!(text.contains("expects a number"), "{text}");
    let entity = compiled(
        &e,
        json!({"metrics": ["shops"],
               "filters": [{"dimension": "order__orders", "op": ">", "values": [1]}]}),
    )
    .unwrap_err();
    assert!(
        entity.contains("does not reach the entity order"),
        "{entity}"
    );
    let listing = compiled(
        &e,
        json!({"metrics": [], "group_by": ["region"],
               "filters": [{"dimension": "shop__orders", "op": ">", "values": [1]}]}),
    )
    .unwrap_err();
    assert!(listing.contains("needs a metric"), "{listing}");
}

#[test]
fn filtered_derived_inputs_and_formula_functions() {
    let e = env();
    check(
        &e,
        json!({"metrics": ["web_share"], "grain": "month"}),
        "SELECT CAST(date_trunc('month', ordered_at) AS DATE),
                SUM(amount) FILTER (WHERE channel = 'web') / NULLIF(SUM(amount), 0)
         FROM orders GROUP BY 1",
    );
    // Only days with an in-shop order have a row: the input is the filtered metric alone.
    let got = check(
        &e,
        json!({"metrics": ["doubled_shop_orders"], "grain": "day"}),
        "SELECT ordered_at, COUNT(*) * 2 FROM orders WHERE channel = 'shop' GROUP BY 1",
    );
    assert_eq!(got.len(), 5);
}

#[test]
fn bad_metric_filters_and_formulas_are_refused_with_their_line() {
    let e = env();
    let bad = METRICS
        .replace(
            "shop__orders > 2",
            "shop__orders > 2\n      - busy_shops__busy_shops > 0",
        )
        .replace(
            "expr: revenue * visits",
            "expr: revenue * visits + SLEEP(1)",
        )
        .replace(
            "expr: web_revenue / NULLIF(revenue, 0)",
            "expr: web_revenue / NULLIF(revenue)",
        )
        .replace("- channel = shop", "- colour = shop");
    let path = e.path.with_file_name("bad.yaml");
    std::fs::write(&path, &bad).unwrap();
    let errs = SemanticLayer::load(&path).unwrap_err().to_string();
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        errs.contains(&format!("bad.yaml:{}:", line_of("SLEEP(1)")))
            && errs.contains("unknown function SLEEP"),
        "{errs}"
    );
    assert!(
        errs.contains(&format!("bad.yaml:{}:", line_of("NULLIF(revenue)")))
            && errs.contains("NULLIF takes 2"),
        "{errs}"
    );
    assert!(errs.contains("refers back to the metric itself"), "{errs}");
    assert!(errs.contains("unknown dimension \"colour\""), "{errs}");
}

#[test]
fn export_and_import_keep_metric_filters_and_input_filters() {
    let e = env();
    let out = e.dir.path().join("mf");
    let file: cortex::import::metricflow::MetricsFile = serde_norway::from_str(METRICS).unwrap();
    cortex::import::metricflow::export(&e.path, &out).expect("exports");
    fn all_text(dir: &std::path::Path, out: &mut String) {
        for f in std::fs::read_dir(dir).unwrap() {
            let p = f.unwrap().path();
            if p.is_dir() {
                all_text(&p, out);
            } else if let Ok(t) = std::fs::read_to_string(&p) {
                out.push_str(&t);
            }
        }
    }
    let mut text = String::new();
    all_text(&out, &mut text);
    // YAML doubles the quotes inside a single-quoted string.
    let jinja = "{{ Metric('orders', group_by=['shop']) }} > 2";
    assert!(
        text.contains(jinja) || text.contains(&jinja.replace('\'', "''")),
        "the metric filter is written as MetricFlow's Jinja:\n{text}"
    );
    assert_eq!(
        cortex::import::metricflow::translate_filter(jinja).unwrap(),
        vec!["shop__orders > 2"],
        "and read back as the metric filter"
    );
    let back = cortex::import::metricflow::import_dir(&out).expect("imports");
    for name in ["busy_shops", "web_share", "doubled_shop_orders"] {
        let a = file.metrics.iter().find(|m| m.name == name).unwrap();
        let b = back.file.metrics.iter().find(|m| m.name == name).unwrap();
        assert_eq!(
            serde_norway::to_string(a).unwrap(),
            serde_norway::to_string(b).unwrap()
        );
    }
}
