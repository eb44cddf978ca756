//! Listings (dimensions without a metric), metric time without a metric, min/max and
//! every-row readings, and partition-aware joins, in metrics.yaml's own syntax, each
//! checked against SQL written by hand on the raw tables. Also: listings obey the access
//! policy like metric queries.

use chrono::NaiveDate;
use cortex::semantic::{compile, CompileOptions, MetricQuery, SemanticLayer};
use cortex::warehouse::{AuditContext, Value};
use serde_json::json;

use crate::compiler::{hand_sql, mini_engine, mini_run};
use crate::helpers::{fixture, fixture_today};

/// Users as a daily snapshot (partitioned by `ds`) and as a current table; listings of
/// users; identity verifications (partitioned by `ds` too); a calendar of ten days.
const SQL: &str = "
CREATE TABLE users_daily (ds DATE, user_id VARCHAR, home_state VARCHAR);
INSERT INTO users_daily VALUES ('2024-01-01', 'u1', 'CA'), ('2024-01-01', 'u2', 'CA'),
  ('2024-01-02', 'u1', 'CA'), ('2024-01-02', 'u2', 'WA');
CREATE TABLE users_now (user_id VARCHAR, state_now VARCHAR);
INSERT INTO users_now VALUES ('u1', 'CA'), ('u2', 'WA'), ('u3', 'NY');
CREATE TABLE rentals (rental_id VARCHAR, user_id VARCHAR, country VARCHAR, is_lux BOOLEAN, created DATE);
INSERT INTO rentals VALUES ('r1', 'u1', 'us', true, '2024-01-01'), ('r2', 'u1', 'us', false, '2024-01-02'),
  ('r3', 'u9', 'ca', NULL, '2024-01-02'), ('r4', 'u2', 'us', false, '2024-01-02');
CREATE TABLE reviews (review_id VARCHAR, rental_id VARCHAR, ds DATE);
INSERT INTO reviews VALUES ('w1', 'r1', '2024-01-01'), ('w2', 'r4', '2024-01-01'),
  ('w3', 'r4', '2024-01-02'), ('w4', 'r3', '2024-01-02');
CREATE TABLE verifications (verification_id VARCHAR, ds DATE, user_id VARCHAR);
INSERT INTO verifications VALUES ('v1', '2024-01-01', 'u1'), ('v2', '2024-01-01', 'u2'),
  ('v3', '2024-01-02', 'u1'), ('v4', '2024-01-02', 'u2');
CREATE TABLE days AS SELECT CAST(d AS DATE) AS ds
  FROM generate_series(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-10', INTERVAL 1 DAY) AS g(d);
";

const YAML: &str = "
listing_join: full
time_spine: {table: days, column: ds}
semantic_models:
  - name: users_daily
    table: users_daily
    entities: [{name: user, type: primary, expr: user_id}]
    dimensions:
      - {name: snapshot_day, type: time, expr: ds, partition: true}
      - {name: home_state, type: categorical}
  - name: users_now
    table: users_now
    entities: [{name: user, type: primary, expr: user_id}]
    dimensions: [{name: state_now, type: categorical}]
  - name: rentals
    table: rentals
    default_time_dimension: created
    entities:
      - {name: rental, type: primary, expr: rental_id}
      - {name: user, type: foreign, expr: user_id}
    dimensions:
      - {name: country, type: categorical}
      - {name: is_lux, type: categorical, data_type: boolean}
      - {name: created, type: time}
  - name: verifications
    table: verifications
    default_time_dimension: verified
    entities:
      - {name: verification, type: primary, expr: verification_id}
      - {name: user, type: foreign, expr: user_id}
    dimensions:
      - {name: verified, type: time, expr: ds}
      - {name: snapshot_day, type: time, expr: ds, partition: true}
    measures: [{name: verification_rows, agg: count}]
  - name: reviews
    table: reviews
    default_time_dimension: reviewed
    entities:
      - {name: review, type: primary, expr: review_id}
      - {name: rental, type: foreign, expr: rental_id}
    dimensions:
      - {name: reviewed, type: time, expr: ds}
      - {name: snapshot_day, type: time, expr: ds, partition: true}
    measures: [{name: review_rows, agg: count}]
metrics:
  - {name: verifications, type: simple, description: Verifications., owner: trust, unit: count, measure: verification_rows}
  - {name: reviews, type: simple, description: Reviews., owner: trust, unit: count, measure: review_rows}
";

#[test]
fn a_partitioned_join_matches_the_entity_and_the_partition() {
    let (_dir, engine) = mini_engine(YAML, SQL, 1000);
    let (cols, rows) = mini_run(
        &engine,
        json!({"metrics": ["verifications"], "group_by": ["user__home_state"]}),
    );
    assert_eq!(cols, ["user__home_state", "verifications"]);
    let want = hand_sql(
        &engine,
        2,
        "SELECT u.home_state, count(*) FROM verifications v
         LEFT JOIN users_daily u ON u.user_id = v.user_id AND u.ds = v.ds
         GROUP BY 1 ORDER BY 2 DESC",
    );
    assert_eq!(rows, want);
    // Each verification meets its user's row of that day only: u2 moved to WA on Jan 2.
    assert_eq!(rows, json!([["CA", 3], ["WA", 1]]));
    // The metric's own time dimension without a grain is read by the day.
    let (cols, rows) = mini_run(
        &engine,
        json!({"metrics": ["verifications"], "group_by": ["verified", "user__home_state"],
               "order": [{"field": "verified"}, {"field": "user__home_state"}]}),
    );
    assert_eq!(cols, ["verified", "user__home_state", "verifications"]);
    assert_eq!(
        rows,
        json!([
            ["2024-01-01", "CA", 2],
            ["2024-01-02", "CA", 1],
            ["2024-01-02", "WA", 1]
        ])
    );
    // A table without a partition joins on the entity alone (every snapshot row).
    let (_, rows) = mini_run(
        &engine,
        json!({"metrics": [], "group_by": ["country", "user__home_state"], "listing": "all"}),
    );
    let want = hand_sql(
        &engine,
        2,
        "SELECT r.country, u.home_state FROM rentals r
         FULL OUTER JOIN users_daily u ON u.user_id = r.user_id ORDER BY 1 NULLS LAST, 2 NULLS LAST",
    );
    assert_eq!(rows, want);
    assert_eq!(rows.as_array().map(Vec::len), Some(7));
    // Two joins away (reviews -> rentals -> users_daily), the user's row is the one of the
    // review's own partition: the hops join as one subquery, as in MetricFlow.
    let (_, rows) = mini_run(
        &engine,
        json!({"metrics": ["reviews"], "group_by": ["user__home_state"]}),
    );
    let want = hand_sql(
        &engine,
        2,
        "SELECT s.home_state, count(*) FROM reviews w
         LEFT JOIN (SELECT r.rental_id, u.home_state, u.ds FROM rentals r
                    LEFT JOIN users_daily u ON u.user_id = r.user_id) s
           ON s.rental_id = w.rental_id AND s.ds = w.ds
         GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST",
    );
    assert_eq!(rows, want);
    assert_eq!(rows, json!([["CA", 2], ["WA", 1], [null, 1]]));
    // A column of the table passed through would not be MetricFlow's: refused.
    let layer = SemanticLayer::from_source(std::path::Path::new("m.yaml"), YAML).expect("valid");
    let q: MetricQuery = serde_json::from_value(
        json!({"metrics": ["reviews"], "group_by": ["rental__country", "user__home_state"]}),
    )
    .expect("q");
    let today = NaiveDate::from_ymd_opt(2024, 12, 31).expect("date");
    let err = compile(&layer, &q, &CompileOptions { today }).expect_err("passed through");
    assert!(err.to_string().contains("partition-aware join"), "{err}");
}

#[test]
fn full_listings_join_every_table_full_outer_and_left_listings_keep_the_first_tables_rows() {
    let (_dir, engine) = mini_engine(YAML, SQL, 1000);
    let q = json!({"metrics": [], "group_by": ["user__state_now", "rental__is_lux"]});
    let (cols, rows) = mini_run(&engine, q.clone());
    assert_eq!(cols, ["user__state_now", "rental__is_lux"]);
    let want = hand_sql(
        &engine,
        2,
        "SELECT DISTINCT u.state_now, r.is_lux FROM rentals r
         FULL OUTER JOIN users_now u ON u.user_id = r.user_id ORDER BY 1 NULLS LAST, 2 NULLS LAST",
    );
    assert_eq!(rows, want);
    // NY has no rentals; r3's user is not in users_now.
    assert_eq!(
        rows,
        json!([
            ["CA", false],
            ["CA", true],
            ["NY", null],
            ["WA", false],
            [null, null]
        ])
    );
    let (_dir, left) = mini_engine(&YAML.replace("listing_join: full", ""), SQL, 1000);
    let (_, rows) = mini_run(&left, q);
    let want = hand_sql(
        &left,
        2,
        "SELECT DISTINCT u.state_now, r.is_lux FROM rentals r
         LEFT JOIN users_now u ON u.user_id = r.user_id ORDER BY 1 NULLS LAST, 2 NULLS LAST",
    );
    assert_eq!(rows, want);
    assert_eq!(rows.as_array().map(Vec::len), Some(4));
    // A filter on a dimension that is not listed joins its table too.
    for e in [&engine, &left] {
        let (_, rows) = mini_run(
            e,
            json!({"metrics": [], "group_by": ["user__state_now"],
                   "filters": [{"dimension": "rental__country", "op": "=", "values": ["us"]}]}),
        );
        assert_eq!(rows, json!([["CA"], ["WA"]]));
    }
}

#[test]
fn metric_time_without_a_metric_reads_the_time_spine() {
    let (_dir, engine) = mini_engine(YAML, SQL, 1000);
    // Alone: the spine's buckets, the range snapped to whole weeks.
    let (cols, rows) = mini_run(
        &engine,
        json!({"metrics": [], "grain": "week",
               "time_range": {"from": "2024-01-03", "to": "2024-01-09"}}),
    );
    assert_eq!(cols, ["week"]);
    let want = hand_sql(
        &engine,
        1,
        "SELECT DISTINCT strftime(date_trunc('week', ds), '%Y-%m-%d') FROM days
         WHERE ds BETWEEN DATE '2024-01-01' AND DATE '2024-01-14' ORDER BY 1",
    );
    assert_eq!(rows, want);
    assert_eq!(rows, json!([["2024-01-01"], ["2024-01-08"]]));
    // A date part of it.
    let (_, rows) = mini_run(
        &engine,
        json!({"metrics": [], "group_by": ["metric_time__extract_dow"],
               "time_range": {"from": "2024-01-01", "to": "2024-01-03"}}),
    );
    assert_eq!(rows, json!([[1], [2], [3]]));
    // With dimensions: every combination with every day in range.
    let (cols, rows) = mini_run(
        &engine,
        json!({"metrics": [], "grain": "day", "group_by": ["country"],
               "time_range": {"from": "2024-01-02", "to": "2024-01-03"}}),
    );
    assert_eq!(cols, ["day", "country"]);
    let want = hand_sql(
        &engine,
        2,
        "SELECT DISTINCT strftime(d.ds, '%Y-%m-%d'), r.country FROM rentals r CROSS JOIN days d
         WHERE d.ds BETWEEN DATE '2024-01-02' AND DATE '2024-01-03' ORDER BY 1, 2",
    );
    assert_eq!(rows, want);
    assert_eq!(rows.as_array().map(Vec::len), Some(4));
    // The spine has days only: no hours without a metric.
    let layer = SemanticLayer::from_source(std::path::Path::new("m.yaml"), YAML).expect("valid");
    let q: MetricQuery =
        serde_json::from_value(json!({"metrics": [], "group_by": ["metric_time__hour"]}))
            .expect("q");
    let today = NaiveDate::from_ymd_opt(2024, 12, 31).expect("date");
    let err = compile(&layer, &q, &CompileOptions { today }).expect_err("no hours");
    assert!(err.to_string().contains("daily time spine"), "{err}");
}

#[test]
fn listings_report_every_row_or_each_columns_min_and_max() {
    let (_dir, engine) = mini_engine(YAML, SQL, 1000);
    let (_, distinct) = mini_run(&engine, json!({"metrics": [], "group_by": ["country"]}));
    assert_eq!(distinct, json!([["ca"], ["us"]]));
    let (_, all) = mini_run(
        &engine,
        json!({"metrics": [], "group_by": ["country"], "listing": "all"}),
    );
    assert_eq!(
        all,
        hand_sql(&engine, 1, "SELECT country FROM rentals ORDER BY 1")
    );
    assert_eq!(all.as_array().map(Vec::len), Some(4));
    let (cols, rows) = mini_run(
        &engine,
        json!({"metrics": [], "group_by": ["created", "country"], "listing": "min_max"}),
    );
    assert_eq!(
        cols,
        [
            "created__min",
            "created__max",
            "country__min",
            "country__max"
        ]
    );
    let want = hand_sql(
        &engine,
        4,
        "SELECT strftime(min(created), '%Y-%m-%d'), strftime(max(created), '%Y-%m-%d'),
                min(country), max(country) FROM rentals",
    );
    assert_eq!(rows, want);
    assert_eq!(rows, json!([["2024-01-01", "2024-01-02", "ca", "us"]]));
    // The readings are for listings only.
    let layer = SemanticLayer::from_source(std::path::Path::new("m.yaml"), YAML).expect("valid");
    let q: MetricQuery =
        serde_json::from_value(json!({"metrics": ["verifications"], "listing": "min_max"}))
            .expect("q");
    let today = NaiveDate::from_ymd_opt(2024, 12, 31).expect("date");
    assert!(compile(&layer, &q, &CompileOptions { today }).is_err());
}

fn as_who(requester: &str) -> AuditContext {
    AuditContext {
        requester: requester.into(),
        question: "listing policy test".into(),
        query_json: None,
    }
}

fn text_rows(rows: &[Vec<Value>]) -> Vec<String> {
    rows.iter()
        .map(|r| match r.first() {
            Some(Value::Text(s)) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// A listing is governed like a metric query: restricted dimensions are refused and the
/// asker's row scope is injected into the compiled SQL (and the rows match hand SQL).
#[test]
fn listings_obey_the_access_policy() {
    let f = fixture();
    let e = f.engine();
    let ask = |who: &str, q: serde_json::Value| {
        let q: MetricQuery = serde_json::from_value(q).expect("query");
        e.query(&q, fixture_today(), &as_who(who))
    };
    let err = ask("U01SUP0001", json!({"metrics": [], "group_by": ["owner"]}))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("restricted"), "{err}");
    let err = ask(
        "U01SUP0001",
        json!({"metrics": [], "group_by": ["stage"],
               "filters": [{"dimension": "owner", "op": "is not null", "values": []}]}),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("restricted"), "{err}");
    let raw = duckdb::Connection::open(&f.warehouse).expect("raw");
    let hand = |sql: &str| -> Vec<String> {
        let mut st = raw.prepare(sql).expect("prepare");
        st.query_map([], |r| r.get::<_, String>(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    // A CSM lists their own merchants, and the channels of their own merchants' tickets.
    for (q, sql) in [
        (
            json!({"metrics": [], "group_by": ["merchant_name"]}),
            "SELECT DISTINCT name FROM merchants WHERE csm_owner = 'Ava Thompson' ORDER BY 1",
        ),
        (
            json!({"metrics": [], "group_by": ["channel"]}),
            "SELECT DISTINCT t.channel FROM tickets t JOIN merchants m USING (merchant_id)
             WHERE m.csm_owner = 'Ava Thompson' ORDER BY 1",
        ),
    ] {
        let out = ask("U01CSM0001", q.clone()).expect("a CSM may list");
        assert!(
            out.compiled.sql.contains("'Ava Thompson'"),
            "{}",
            out.compiled.sql
        );
        assert_eq!(text_rows(&out.result.rows), hand(sql), "{q}");
        let all = ask("U01REV0001", q).expect("revenue may list");
        assert!(!all.compiled.sql.contains("Ava Thompson"));
        assert!(all.result.rows.len() >= out.result.rows.len());
    }
}

/// `is_partition` imports as `partition: true` (the partitioned model keeps its primary
/// entity), MetricFlow projects list dimensions full outer, and both survive an export and
/// import round trip.
#[test]
fn partitions_and_listing_joins_import_and_export() {
    use cortex::import::metricflow::{export, import_dir, MetricsFile};
    let mf = crate::helpers::project_dir()
        .join("../shared/datasets/metricflow-test-fixtures/semantic_manifest/simple_manifest");
    if mf.join("metrics.yaml").exists() {
        let imported = import_dir(&mf).expect("imports");
        let users = imported
            .file
            .semantic_models
            .iter()
            .find(|m| m.name == "users_ds_source")
            .expect("users_ds_source");
        assert!(users
            .dimensions
            .iter()
            .any(|d| d.name == "ds_partitioned" && d.partition));
        assert!(users.entities.iter().any(|e| e.name == "user"));
        assert!(!imported
            .dropped
            .iter()
            .any(|d| d.reason.contains("partition")));
        assert_eq!(
            imported.file.listing_join,
            Some(cortex::semantic::raw::ListingJoin::Full)
        );
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("metrics.yaml");
    std::fs::write(&path, YAML).expect("write");
    let out = dir.path().join("mf");
    export(&path, &out).expect("exports");
    let model = std::fs::read_to_string(out.join("semantic_models/01_users_daily.yaml"))
        .expect("exported model");
    assert!(model.contains("is_partition: true"), "{model}");
    let back = import_dir(&out).expect("imports back");
    let original: MetricsFile = serde_norway::from_str(YAML).expect("parse");
    assert_eq!(
        serde_norway::to_string(&back.file).expect("yaml"),
        serde_norway::to_string(&original).expect("yaml")
    );
}
