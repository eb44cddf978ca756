//! The compiler's results on the fixture warehouse, against answers computed by hand from
//! tests/fixtures/tiny.sql (today = 2025-10-15), and snapshots of the SQL it writes.

use chrono::NaiveDate;
use cortex::semantic::{compile, CompileError, CompileOptions, MetricQuery, SemanticLayer};
use serde_json::json;

use crate::helpers::{assert_json_close, fixture, fixture_today, project_dir, run};

fn layer() -> SemanticLayer {
    SemanticLayer::load(&project_dir().join("metrics.yaml")).expect("metrics.yaml loads")
}

fn sql(query: serde_json::Value) -> String {
    let q: MetricQuery = serde_json::from_value(query).expect("query");
    compile(
        &layer(),
        &q,
        &CompileOptions {
            today: fixture_today(),
        },
    )
    .expect("compiles")
    .sql
}

fn compile_err(query: serde_json::Value) -> CompileError {
    let q: MetricQuery = serde_json::from_value(query).expect("query");
    compile(
        &layer(),
        &q,
        &CompileOptions {
            today: fixture_today(),
        },
    )
    .expect_err("should not compile")
}

#[test]
fn arr_balance_by_segment_is_the_running_total_to_today() {
    let f = fixture();
    let e = f.engine();
    // M1: 720 + 280 = 1000. M2: 50000 + 10000 - 5000 = 55000. M3: 4320 - 4320 = 0.
    let (cols, rows) = run(&e, json!({"metrics": ["arr"], "group_by": ["segment"]}));
    assert_eq!(cols, ["segment", "arr"]);
    assert_json_close(
        &rows,
        &json!([
            ["Enterprise", 55000.0],
            ["SMB", 1000.0],
            ["Mid-Market", 0.0]
        ]),
    );
    let (_, rows) = run(&e, json!({"metrics": ["arr"]}));
    assert_json_close(&rows, &json!([[56000.0]]));
}

#[test]
fn arr_at_month_grain_is_the_balance_at_each_month_end() {
    let f = fixture();
    let e = f.engine();
    let (cols, rows) = run(
        &e,
        json!({"metrics": ["arr"], "grain": "month",
               "time_range": {"from": "2025-01-01", "to": "2025-06-30"}}),
    );
    assert_eq!(cols, ["month", "arr"]);
    assert_json_close(
        &rows,
        &json!([
            ["2025-01-01", 50720.0],
            ["2025-02-01", 51000.0],
            ["2025-03-01", 55320.0],
            ["2025-04-01", 65320.0],
            ["2025-05-01", 60320.0],
            ["2025-06-01", 60320.0]
        ]),
    );
}

#[test]
fn arr_at_quarter_grain_is_capped_at_today() {
    let f = fixture();
    let e = f.engine();
    // Q4 2025 is reported as of today (2025-10-15), not as of 2025-12-31.
    let (_, rows) = run(
        &e,
        json!({"metrics": ["arr"], "grain": "quarter",
               "time_range": {"from": "2025-01-01", "to": "2025-12-31"}}),
    );
    assert_json_close(
        &rows,
        &json!([
            ["2025-01-01", 55320.0],
            ["2025-04-01", 60320.0],
            ["2025-07-01", 56000.0],
            ["2025-10-01", 56000.0]
        ]),
    );
    // ARR at the end of June (a range with no grain) is the balance on June 30.
    let (_, rows) = run(
        &e,
        json!({"metrics": ["arr"], "time_range": {"from": "2025-06-01", "to": "2025-06-30"}}),
    );
    assert_json_close(&rows, &json!([[60320.0]]));
    // At year grain with no range, buckets start at the first movement.
    let (_, rows) = run(&e, json!({"metrics": ["arr"], "grain": "year"}));
    assert_json_close(
        &rows,
        &json!([["2024-01-01", 50000.0], ["2025-01-01", 56000.0]]),
    );
}

#[test]
fn movement_metrics_sum_their_movement_types() {
    let f = fixture();
    let e = f.engine();
    let (_, rows) = run(
        &e,
        json!({"metrics": ["net_new_arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr"],
               "time_range": {"from": "2025-01-01", "to": "2025-12-31"}}),
    );
    // 720 + 280 + 4320 + 10000 - 5000 - 4320 = 6000; new 15040; expansion 280;
    // contraction 5000 and churn 4320 as positive magnitudes.
    assert_json_close(&rows, &json!([[6000.0, 15040.0, 280.0, 5000.0, 4320.0]]));
    let (cols, rows) = run(
        &e,
        json!({"metrics": ["net_new_arr"], "grain": "month",
               "time_range": {"from": "2025-01-01", "to": "2025-12-31"}}),
    );
    assert_eq!(cols, ["month", "net_new_arr"]);
    assert_json_close(
        &rows,
        &json!([
            ["2025-01-01", 720.0],
            ["2025-02-01", 280.0],
            ["2025-03-01", 4320.0],
            ["2025-04-01", 10000.0],
            ["2025-05-01", -5000.0],
            ["2025-09-01", -4320.0]
        ]),
    );
}

#[test]
fn ticket_metrics_match_hand_computed_values() {
    let f = fixture();
    let e = f.engine();
    // Medians: first responses 10,30,120,600,3600,7200 s -> (120+600)/2 = 360 s = 6 min.
    // Resolutions 100,300,3600,7200,36000 s -> 3600 s = 1 h. CSAT (5+4+3+1)/4 = 3.25.
    let (_, rows) = run(
        &e,
        json!({"metrics": ["tickets", "first_response_time", "resolution_time", "csat", "automation_rate"]}),
    );
    assert_json_close(&rows, &json!([[6, 6.0, 1.0, 3.25, 2.0 / 6.0]]));
    // Automation by segment: SMB 1 of 2, Enterprise 1 of 3, Mid-Market 0 of 1.
    let (_, rows) = run(
        &e,
        json!({"metrics": ["automation_rate"], "group_by": ["segment"]}),
    );
    assert_json_close(
        &rows,
        &json!([["SMB", 0.5], ["Enterprise", 1.0 / 3.0], ["Mid-Market", 0.0]]),
    );
}

#[test]
fn week_grain_starts_on_monday_and_filters_apply() {
    let f = fixture();
    let e = f.engine();
    let (cols, rows) = run(&e, json!({"metrics": ["tickets"], "grain": "week"}));
    assert_eq!(cols, ["week", "tickets"]);
    assert_json_close(
        &rows,
        &json!([["2025-09-08", 1], ["2025-09-29", 4], ["2025-10-06", 1]]),
    );
    let (_, rows) = run(
        &e,
        json!({"metrics": ["tickets"], "group_by": ["channel"],
               "time_range": {"from": "2025-10-01", "to": "2025-10-31"}}),
    );
    assert_json_close(&rows, &json!([["chat", 2], ["email", 2]]));
    let (_, rows) = run(
        &e,
        json!({"metrics": ["tickets"],
               "filters": [{"dimension": "vertical", "op": "=", "values": ["Apparel & Accessories"]},
                           {"dimension": "channel", "op": "in", "values": ["email", "voice"]}]}),
    );
    // Apparel merchants are M1 and M3: T1 (email) and T5 (email).
    assert_json_close(&rows, &json!([[2]]));
}

#[test]
fn merchant_snapshot_and_ratio_metrics() {
    let f = fixture();
    let e = f.engine();
    let (_, rows) = run(&e, json!({"metrics": ["merchants", "ai_adoption_rate"]}));
    assert_json_close(&rows, &json!([[2, 0.5]]));
    let (_, rows) = run(
        &e,
        json!({"metrics": ["merchant_signups"], "time_range": {"from": "2025-01-01", "to": "2025-12-31"}}),
    );
    assert_json_close(&rows, &json!([[2]]));
    let (_, rows) = run(
        &e,
        json!({"metrics": ["merchant_signups"], "filters": [{"dimension": "segment", "op": "=", "values": ["Enterprise"]}],
               "time_range": {"from": "2024-01-01", "to": "2024-12-31"}}),
    );
    assert_json_close(&rows, &json!([[1]]));
}

#[test]
fn sales_and_order_metrics() {
    let f = fixture();
    let e = f.engine();
    let (_, rows) = run(
        &e,
        json!({"metrics": ["win_rate", "won_arr"], "time_range": {"from": "2025-01-01", "to": "2025-12-31"}}),
    );
    assert_json_close(&rows, &json!([[1.0 / 3.0, 10000.0]]));
    let (_, rows) = run(
        &e,
        json!({"metrics": ["pipeline_arr"], "group_by": ["stage"],
               "time_range": {"from": "2025-10-01", "to": "2025-12-31"}}),
    );
    assert_json_close(
        &rows,
        &json!([["negotiation", 8000.0], ["proposal", 3000.0]]),
    );
    let (_, rows) = run(
        &e,
        json!({"metrics": ["conversation_orders", "ai_influenced_orders", "ai_only_orders", "influenced_revenue", "average_order_value"]}),
    );
    assert_json_close(&rows, &json!([[3, 2, 1, 500.0, 500.0 / 3.0]]));
}

#[test]
fn metrics_from_different_tables_join_on_shared_keys() {
    let f = fixture();
    let e = f.engine();
    // Tickets exist for all three segments; ARR is 0 for Mid-Market (churned).
    let (cols, rows) = run(
        &e,
        json!({"metrics": ["tickets", "arr"], "group_by": ["segment"], "order": [{"field": "segment"}]}),
    );
    assert_eq!(cols, ["segment", "tickets", "arr"]);
    assert_json_close(
        &rows,
        &json!([
            ["Enterprise", 3, 55000.0],
            ["Mid-Market", 1, 0.0],
            ["SMB", 2, 1000.0]
        ]),
    );
}

#[test]
fn quoted_values_are_literals_not_sql() {
    let f = fixture();
    let e = f.engine();
    let (_, rows) = run(
        &e,
        json!({"metrics": ["merchant_signups"],
               "filters": [{"dimension": "merchant_name", "op": "=", "values": ["Gamma O'Shop"]}]}),
    );
    assert_json_close(&rows, &json!([[1]]));
    // An injection attempt is just a value that matches nothing.
    let (_, rows) = run(
        &e,
        json!({"metrics": ["merchant_signups"],
               "filters": [{"dimension": "segment", "op": "=", "values": ["x' OR '1'='1"]}]}),
    );
    assert_json_close(&rows, &json!([[0]]));
}

#[test]
fn order_and_limit_rank_results() {
    let f = fixture();
    let e = f.engine();
    let (_, rows) = run(
        &e,
        json!({"metrics": ["tickets"], "group_by": ["intent"], "order": [{"field": "tickets", "desc": true}], "limit": 1}),
    );
    assert_json_close(&rows, &json!([["order_status", 2]]));
}

#[test]
fn unknown_names_get_the_closest_valid_names() {
    let e = compile_err(json!({"metrics": ["tickts"]}));
    assert_eq!(
        e.to_string(),
        "unknown metric \"tickts\"; did you mean tickets?"
    );
    let e = compile_err(json!({"metrics": ["tickets"], "group_by": ["segmnt"]}));
    assert!(e.to_string().contains("did you mean segment"), "{e}");
    let e = compile_err(json!({"metrics": ["tickets"], "group_by": ["stage"]}));
    assert!(
        e.to_string()
            .contains("unknown dimension \"stage\" for tickets"),
        "{e}"
    );
    let e = compile_err(json!({"metrics": ["merchants"], "grain": "month"}));
    assert!(e.to_string().contains("current snapshot"), "{e}");
    let e = compile_err(json!({"metrics": ["tickets"], "order": [{"field": "arr"}]}));
    assert!(e.to_string().contains("cannot order by"), "{e}");
    let e = compile_err(json!({"metrics": ["tickets"],
        "filters": [{"dimension": "ai_agent_enabled", "op": "=", "values": ["maybe"]}]}));
    assert!(e.to_string().contains("true or false"), "{e}");
    let e = compile_err(json!({"metrics": ["tickets"],
        "time_range": {"from": "2025-02-01", "to": "2025-01-01"}}));
    assert!(e.to_string().contains("starts"), "{e}");
    let e = compile_err(json!({"metrics": []}));
    assert!(e.to_string().contains("at least one metric"), "{e}");
}

#[test]
fn compilation_is_deterministic() {
    let q = json!({"metrics": ["arr", "tickets"], "group_by": ["segment", "vertical"], "grain": "month",
                   "time_range": {"from": "2025-01-01", "to": "2025-03-31"}});
    assert_eq!(sql(q.clone()), sql(q));
}

#[test]
fn snapshot_simple_metric_by_dimension() {
    insta::assert_snapshot!(sql(json!({
        "metrics": ["tickets"], "group_by": ["channel"],
        "filters": [{"dimension": "segment", "op": "=", "values": ["Enterprise"]}],
        "time_range": {"from": "2025-10-01", "to": "2025-10-31"}
    })));
}

#[test]
fn snapshot_cumulative_at_month_grain() {
    insta::assert_snapshot!(sql(json!({
        "metrics": ["arr"], "group_by": ["segment"], "grain": "month",
        "time_range": {"from": "2025-01-01", "to": "2025-12-31"}
    })));
}

#[test]
fn snapshot_ratio_and_multi_table() {
    insta::assert_snapshot!(sql(json!({
        "metrics": ["automation_rate", "arr"], "group_by": ["vertical"]
    })));
}

#[test]
fn today_caps_balances_in_the_compiled_sql() {
    let q: MetricQuery = serde_json::from_value(json!({"metrics": ["arr"]})).expect("query");
    let s = compile(
        &layer(),
        &q,
        &CompileOptions {
            today: NaiveDate::from_ymd_opt(2025, 3, 31).expect("date"),
        },
    )
    .expect("compiles")
    .sql;
    assert!(s.contains("DATE '2025-03-31'"), "{s}");
}
