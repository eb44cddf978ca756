//! Month, quarter and year to date (`MetricQuery::to_date`) on the demo warehouse, checked
//! against hand-written SQL that counts each bucket's rows from the start of its period.

use cortex::planner::{Plan, Vocabulary};
use cortex::semantic::compile::{compile, ColumnRole, CompileOptions};
use cortex::semantic::query::{Grain, MetricQuery};
use cortex::semantic::SemanticLayer;
use serde_json::{json, Value as Json};

use crate::helpers::{assert_json_close, demo_sql, demo_today, project_dir};

fn layer() -> SemanticLayer {
    SemanticLayer::load(&project_dir().join("metrics.yaml")).unwrap()
}

fn run(q: Json) -> Result<Json, String> {
    let q: MetricQuery = serde_json::from_value(q).unwrap();
    let c = compile(
        &layer(),
        &q,
        &CompileOptions {
            today: demo_today(),
        },
    )
    .map_err(|e| e.to_string())?;
    // Time buckets as YYYY-MM-DD text, like the oracles'.
    let days: Vec<String> = c
        .columns
        .iter()
        .filter(|c| matches!(c.role, ColumnRole::Time { .. }))
        .map(|c| format!("strftime(\"{0}\", '%Y-%m-%d') AS \"{0}\"", c.name))
        .collect();
    if days.is_empty() {
        return Ok(demo_sql(&c.sql));
    }
    Ok(demo_sql(&format!(
        "SELECT * REPLACE ({}) FROM ({}) AS q",
        days.join(", "),
        c.sql
    )))
}

#[test]
fn quarter_to_date_per_month_and_segment_counts_from_the_quarter_start() {
    let ours = run(json!({
        "metrics": ["tickets", "new_arr"], "group_by": ["segment"], "grain": "month",
        "to_date": "quarter", "time_range": {"from": "2026-08-01", "to": "2026-11-20"}
    }))
    .unwrap();
    // Each month M: rows from the first day of M's quarter to M's last day (or today).
    let oracle = demo_sql(
        "WITH months AS (SELECT CAST(m AS DATE) AS m FROM range(DATE '2026-08-01', DATE '2026-12-01', INTERVAL 1 MONTH) r(m)),
              segs AS (SELECT DISTINCT segment FROM merchants),
              t AS (SELECT CAST(created_at AS DATE) AS d, segment FROM tickets JOIN merchants USING (merchant_id)),
              a AS (SELECT CAST(movement_date AS DATE) AS d, segment, arr_delta_usd FROM arr_movements
                    JOIN merchants USING (merchant_id) WHERE movement_type = 'new')
         SELECT strftime(m, '%Y-%m-%d'), segment,
                (SELECT COUNT(*) FROM t WHERE t.segment = s.segment
                   AND t.d >= date_trunc('quarter', m) AND t.d <= LEAST(last_day(m), DATE '2026-11-20')),
                (SELECT SUM(arr_delta_usd) FROM a WHERE a.segment = s.segment
                   AND a.d >= date_trunc('quarter', m) AND a.d <= LEAST(last_day(m), DATE '2026-11-20'))
         FROM months, segs s ORDER BY 1, 2",
    );
    assert_eq!(ours.as_array().unwrap().len(), 12, "{ours}");
    assert_json_close(&ours, &oracle);
}

#[test]
fn month_to_date_per_day_runs_across_the_month_boundary() {
    let ours = run(json!({
        "metrics": ["tickets"], "grain": "day", "to_date": "month",
        "time_range": {"from": "2026-10-29", "to": "2026-11-02"}
    }))
    .unwrap();
    let oracle = demo_sql(
        "SELECT strftime(d, '%Y-%m-%d'), (SELECT COUNT(*) FROM tickets
            WHERE CAST(created_at AS DATE) BETWEEN date_trunc('month', d) AND d)
         FROM (SELECT CAST(x AS DATE) AS d FROM range(DATE '2026-10-29', DATE '2026-11-03', INTERVAL 1 DAY) r(x))
         ORDER BY 1",
    );
    assert_json_close(&ours, &oracle);
    // The first of the month starts again.
    assert!(oracle[3][1].as_f64() < oracle[2][1].as_f64(), "{oracle}");
}

#[test]
fn without_a_grain_to_date_is_the_period_so_far_for_any_metric() {
    let to_date = run(json!({
        "metrics": ["automation_rate", "tickets"], "to_date": "month",
        "time_range": {"from": "2026-10-15", "to": "2026-11-20"}
    }))
    .unwrap();
    let plain = run(json!({
        "metrics": ["automation_rate", "tickets"],
        "time_range": {"from": "2026-11-01", "to": "2026-11-20"}
    }))
    .unwrap();
    assert_json_close(&to_date, &plain);
}

#[test]
fn running_totals_of_what_does_not_add_up_are_refused() {
    let e = run(json!({"metrics": ["automation_rate"], "grain": "month", "to_date": "year"}))
        .unwrap_err();
    assert!(e.contains("only sums and counts"), "{e}");
    let e = run(json!({"metrics": ["tickets"], "grain": "week", "to_date": "month"})).unwrap_err();
    assert!(e.contains("weeks do not nest"), "{e}");
    let e = run(json!({"metrics": ["tickets"], "grain": "year", "to_date": "month"})).unwrap_err();
    assert!(e.contains("holds several"), "{e}");
}

fn plan(question: &str) -> Plan {
    let layer = layer();
    cortex::planner::plan(&layer, &Vocabulary::new(&layer), question, demo_today())
}

#[test]
fn the_planner_reads_ytd_by_month_as_a_running_total_and_says_so() {
    match plan("YTD tickets by month") {
        Plan::Query { query, notes, .. } => {
            assert_eq!(query.to_date, Some(Grain::Year));
            assert_eq!(query.grain, Some(Grain::Month));
            assert!(
                notes.iter().any(|n| n.contains("year to date")),
                "{notes:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A ratio is not a running total: its months keep their own values, and a note says so.
    match plan("automation rate ytd by month") {
        Plan::Query { query, notes, .. } => {
            assert_eq!(query.to_date, None);
            assert!(
                notes.iter().any(|n| n.contains("not a running total")),
                "{notes:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A series over a plain period is unchanged.
    match plan("tickets by month this year") {
        Plan::Query { query, .. } => assert_eq!(query.to_date, None),
        other => panic!("{other:?}"),
    }
}
