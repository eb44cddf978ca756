//! The compiler's results on the fixture warehouse, against answers computed by hand from
//! tests/fixtures/tiny.sql (today = 2025-10-15), and snapshots of the SQL it writes.

use std::path::Path;

use chrono::NaiveDate;
use cortex::engine::Engine;
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

/// Where a child process writes its compiled SQL, and which metrics.yaml it reads.
const MATRIX_OUT: &str = "CORTEX_TEST_MATRIX_OUT";
const MATRIX_METRICS: &str = "CORTEX_TEST_MATRIX_METRICS";

/// Every metric alone, over a period, at each grain, by each dimension (and pairs of
/// them), ranked, and next to its neighbour in metrics.yaml: one block per query with its
/// compiled SQL or its error, in a fixed order. Returns the text and how many compiled.
fn compile_matrix(metrics_yaml: &Path) -> (String, usize) {
    let layer = SemanticLayer::load(metrics_yaml).expect("metrics.yaml loads");
    let mut dims: Vec<&str> = Vec::new();
    for (_, d) in layer.all_dimensions() {
        if !d.is_time() && !dims.contains(&d.name.as_str()) {
            dims.push(&d.name);
        }
    }
    let period = json!({"from": "2025-01-01", "to": "2025-06-30"});
    let names: Vec<&str> = layer.metrics.iter().map(|m| m.name.as_str()).collect();
    let mut queries = Vec::new();
    for (i, m) in names.iter().enumerate() {
        queries.push(json!({"metrics": [m]}));
        queries.push(json!({"metrics": [m], "time_range": period}));
        for g in ["day", "week", "month", "quarter", "year"] {
            queries.push(json!({"metrics": [m], "grain": g, "time_range": period}));
        }
        for d in &dims {
            queries.push(json!({"metrics": [m], "group_by": [d], "time_range": period}));
        }
        for pair in dims.windows(2) {
            queries.push(json!({"metrics": [m], "group_by": pair, "grain": "month"}));
        }
        queries.push(json!({"metrics": [m], "group_by": ["segment"],
            "filters": [{"dimension": "country", "op": "in", "values": ["Germany", "France"]}],
            "order": [{"field": m, "desc": true}], "limit": 5}));
        if let Some(next) = names.get(i + 1) {
            queries
                .push(json!({"metrics": [m, next], "group_by": ["segment"], "grain": "quarter"}));
        }
    }
    let mut out = String::new();
    let mut compiled = 0;
    for query in queries {
        let q: MetricQuery = serde_json::from_value(query.clone()).expect("query");
        let result = compile(
            &layer,
            &q,
            &CompileOptions {
                today: fixture_today(),
            },
        );
        out.push_str(&format!("-- {query}\n"));
        match result {
            Ok(c) => {
                compiled += 1;
                out.push_str(&c.sql);
            }
            Err(e) => out.push_str(&format!("ERROR {e}")),
        }
        out.push_str("\n\n");
    }
    (out, compiled)
}

/// The child process of [`compiled_sql_is_identical_across_processes`]: compiles the
/// matrix for the metrics.yaml it is given and writes the result where it is told.
#[test]
#[ignore = "run in child processes by compiled_sql_is_identical_across_processes"]
fn compile_matrix_in_this_process() {
    let metrics = std::env::var_os(MATRIX_METRICS)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| project_dir().join("metrics.yaml"));
    let (text, compiled) = compile_matrix(&metrics);
    assert!(compiled > 0);
    if let Some(out) = std::env::var_os(MATRIX_OUT) {
        std::fs::write(out, text).expect("write the compiled SQL");
    }
}

/// metrics.yaml with the same content in another order: top-level sections reversed, and
/// the keys of every list entry (each semantic model, filter and metric) reversed. Lists
/// keep their order (it is meaningful); only mapping keys move.
fn reorder_yaml(src: &str) -> String {
    let lines: Vec<&str> = src.lines().collect();
    let is_top_key = |l: &str| !l.is_empty() && !l.starts_with([' ', '#']);
    let first = lines.iter().position(|l| is_top_key(l)).unwrap_or(0);
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for l in &lines[first..] {
        if is_top_key(l) || blocks.is_empty() {
            blocks.push(Vec::new());
        }
        blocks.last_mut().expect("a block").push(l);
    }
    let mut out: Vec<String> = lines[..first].iter().map(|l| l.to_string()).collect();
    for block in blocks.iter().rev() {
        out.push(block[0].to_string());
        // Entries of a list at indent 2: "  - key: ..." then "    key: ..." lines.
        let mut i = 1;
        while i < block.len() {
            if !block[i].starts_with("  - ") {
                out.push(block[i].to_string());
                i += 1;
                continue;
            }
            let mut keys: Vec<Vec<String>> = vec![vec![format!("    {}", &block[i][4..])]];
            i += 1;
            while i < block.len() && (block[i].starts_with("    ") || block[i].is_empty()) {
                let l = block[i];
                let starts_key = l.len() > 4 && !l[4..].starts_with([' ', '-', '#']);
                if starts_key {
                    keys.push(vec![l.to_string()]);
                } else {
                    keys.last_mut().expect("a key").push(l.to_string());
                }
                i += 1;
            }
            // Trailing blank lines stay after the entry.
            let mut trailing = Vec::new();
            while keys
                .last()
                .and_then(|k| k.last())
                .is_some_and(|l| l.is_empty())
                && keys.last().is_some_and(|k| k.len() > 1)
            {
                trailing.push(keys.last_mut().and_then(|k| k.pop()).unwrap_or_default());
            }
            keys.reverse();
            let mut entry: Vec<String> = keys.into_iter().flatten().collect();
            entry[0] = format!("  - {}", &entry[0][4..]);
            out.extend(entry);
            out.extend(trailing);
        }
    }
    out.join("\n") + "\n"
}

fn child_matrix(dir: &Path, metrics_yaml: &Path, env: &[(&str, &str)]) -> String {
    let out = dir.join("compiled.sql");
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "compiler::compile_matrix_in_this_process",
        "--exact",
        "--ignored",
        "--test-threads=1",
    ])
    .current_dir(dir)
    .env(MATRIX_OUT, &out)
    .env(MATRIX_METRICS, metrics_yaml);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = cmd.output().expect("run the child");
    assert!(
        run.status.success(),
        "child failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(&out).expect("the child wrote its SQL")
}

/// The first query whose block differs, to make a failure readable.
fn first_difference(a: &str, b: &str) -> String {
    a.split("\n\n-- ")
        .zip(b.split("\n\n-- "))
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("first difference:\n{x}\n---- versus ----\n{y}"))
        .unwrap_or_else(|| "one output is longer".into())
}

/// The same queries compiled in separate processes (each with its own hash seed), with a
/// different environment, working directory and metrics.yaml key order, give the same SQL
/// byte for byte: every metric, at every grain, by every dimension. The `cortex` binary
/// agrees with them on a sample.
#[test]
fn compiled_sql_is_identical_across_processes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let original = project_dir().join("metrics.yaml");
    let text = std::fs::read_to_string(&original).expect("metrics.yaml");
    let reordered_text = reorder_yaml(&text);
    assert_ne!(text, reordered_text);
    // A project whose metrics.yaml is the reordered one (context/ for the policy).
    let project_b = tmp.path().join("project_b");
    std::fs::create_dir_all(&project_b).expect("mkdir");
    let reordered = project_b.join("metrics.yaml");
    std::fs::write(&reordered, &reordered_text).expect("write");
    std::os::unix::fs::symlink(project_dir().join("context"), project_b.join("context"))
        .expect("symlink context");
    // The same model: same metrics and dimensions, in the same order.
    let (la, lb) = (
        SemanticLayer::load(&original).expect("original"),
        SemanticLayer::load(&reordered).expect("reordered loads"),
    );
    let names = |l: &SemanticLayer| {
        let mut n: Vec<String> = l.metrics.iter().map(|m| m.name.clone()).collect();
        n.extend(l.all_dimensions().map(|(_, d)| d.name.clone()));
        n
    };
    assert_eq!(names(&la), names(&lb));

    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&dir_a).expect("mkdir");
    std::fs::create_dir_all(&dir_b).expect("mkdir");
    let a = child_matrix(
        &dir_a,
        &original,
        &[("TZ", "UTC"), ("LC_ALL", "C"), ("LANG", "C")],
    );
    let b = child_matrix(
        &dir_b,
        &reordered,
        &[
            ("TZ", "Pacific/Auckland"),
            ("LC_ALL", "de_DE.UTF-8"),
            ("LANG", "de_DE.UTF-8"),
        ],
    );
    assert!(a == b, "{}", first_difference(&a, &b));
    // This process agrees too, and most of the matrix compiles (the rest are errors
    // that must also be identical).
    let (here, compiled) = compile_matrix(&original);
    assert!(here == a, "{}", first_difference(&here, &a));
    let blocks = here.matches("\n-- ").count() + 1;
    assert!(
        compiled >= la.metrics.len() * 7 && compiled * 2 > blocks,
        "{compiled} of {blocks}"
    );

    // The shipped binary: `cortex query` in each project, on the demo warehouse.
    let state = tmp.path().join("state.duckdb");
    let run_cli = |project: &Path, tz: &str, args: &[&str]| -> String {
        let out = std::process::Command::new(crate::helpers::cortex_bin())
            .arg("--project")
            .arg(project)
            .arg("--warehouse")
            .arg(crate::helpers::demo_warehouse())
            .args(["--today", "2025-10-15", "query", "--format", "json"])
            .args(args)
            .env("CORTEX_STATE_DB", &state)
            .env("TZ", tz)
            .output()
            .expect("run cortex");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["sql"].as_str().expect("sql").to_string()
    };
    for (metrics, by, grain) in [
        ("arr", "segment", "month"),
        ("tickets", "channel", "week"),
        ("csat,automation_rate", "vertical", "quarter"),
        ("net_new_arr,churned_arr", "country", "month"),
    ] {
        let args = [
            "--metrics",
            metrics,
            "--by",
            by,
            "--grain",
            grain,
            "--from",
            "2025-01-01",
            "--to",
            "2025-06-30",
        ];
        let from_a = run_cli(&project_dir(), "UTC", &args);
        let from_b = run_cli(&project_b, "Pacific/Auckland", &args);
        assert!(from_a == from_b, "{args:?}\n{from_a}\n---\n{from_b}");
        let q: MetricQuery = serde_json::from_value(json!({
            "metrics": metrics.split(',').collect::<Vec<_>>(), "group_by": [by], "grain": grain,
            "time_range": {"from": "2025-01-01", "to": "2025-06-30"}}))
        .expect("query");
        let direct = compile(
            &la,
            &q,
            &CompileOptions {
                today: fixture_today(),
            },
        )
        .expect("compiles")
        .sql;
        assert!(from_a == direct, "{args:?}\n{from_a}\n---\n{direct}");
    }
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

/// A small insurance schema: payments -> claims -> policies, and one party-role table
/// playing two roles (policy holder, agent), each with its person's name.
const INSURANCE_SQL: &str = "
CREATE TABLE Policy (policy_id INTEGER, policy_no BIGINT);
INSERT INTO Policy VALUES (1, 31003000336), (2, 31003000337), (3, 31003000338);
CREATE TABLE Party_Role (agreement_id INTEGER, party_id INTEGER, role VARCHAR);
INSERT INTO Party_Role VALUES (1, 10, 'PH'), (1, 20, 'AG'), (2, 11, 'PH'), (2, 20, 'AG'), (3, 10, 'PH'), (3, 21, 'AG');
CREATE TABLE Person (person_id INTEGER, name VARCHAR);
INSERT INTO Person VALUES (10, 'Mary'), (11, 'Ann'), (20, 'Bob'), (21, 'Carl');
CREATE TABLE Claim (claim_id INTEGER, policy_id INTEGER, claim_no BIGINT, opened DATE, closed DATE);
INSERT INTO Claim VALUES (100, 1, 5001, '2024-01-10', '2024-01-20'), (101, 1, 5002, '2024-02-01', NULL),
  (102, 2, 5003, '2024-03-05', '2024-04-05'), (103, 3, 5004, '2024-03-20', NULL);
CREATE TABLE Payment (payment_id INTEGER, claim_id INTEGER, amount DOUBLE);
INSERT INTO Payment VALUES (1, 100, 1000), (2, 100, 500), (3, 101, 250), (4, 102, 4000);
";

const INSURANCE_YAML: &str = "
semantic_models:
  - name: policies
    table: Policy
    entities: [{name: policy, type: primary, expr: policy_id}]
    dimensions:
      - {name: policy_no, type: categorical, data_type: number, identifier: true}
  - name: holders
    table: Party_Role
    filter: \"role = 'PH'\"
    entities:
      - {name: policy, type: primary, expr: agreement_id}
      - {name: holder_party, type: foreign, expr: party_id}
    dimensions:
      - {name: holder_id, type: categorical, expr: party_id, data_type: number}
  - name: agents
    table: Party_Role
    filter: \"role = 'AG'\"
    entities:
      - {name: policy, type: primary, expr: agreement_id}
      - {name: agent_party, type: foreign, expr: party_id}
    dimensions:
      - {name: agent_id, type: categorical, expr: party_id, data_type: number}
  - name: holder_people
    table: Person
    entities: [{name: holder_party, type: primary, expr: person_id}]
    dimensions: [{name: holder_name, type: categorical, expr: name}]
  - name: agent_people
    table: Person
    entities: [{name: agent_party, type: primary, expr: person_id}]
    dimensions: [{name: agent_name, type: categorical, expr: name}]
  - name: claims
    table: Claim
    default_time_dimension: opened
    entities:
      - {name: claim, type: primary, expr: claim_id}
      - {name: policy, type: foreign, expr: policy_id}
    dimensions:
      - {name: claim_no, type: categorical, data_type: number, identifier: true}
      - {name: opened, type: time}
      - {name: closed, type: time}
    measures:
      - {name: claim_rows, agg: count}
  - name: payments
    table: Payment
    entities:
      - {name: payment, type: primary, expr: payment_id}
      - {name: claim, type: foreign, expr: claim_id}
    measures:
      - {name: paid_amount, agg: sum, expr: amount}
metrics:
  - {name: paid, type: simple, description: Paid., owner: claims, unit: usd, measure: paid_amount}
  - {name: claims, type: simple, description: Claims., owner: claims, unit: count, measure: claim_rows}
";

/// A temp project with `yaml` as its metrics.yaml over a warehouse built from `sql`.
pub(crate) fn mini_engine(yaml: &str, sql: &str, max_rows: usize) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("metrics.yaml"), yaml).expect("write yaml");
    let warehouse = dir.path().join("w.duckdb");
    let conn = duckdb::Connection::open(&warehouse).expect("create");
    conn.execute_batch(sql).expect("load");
    drop(conn);
    let mut config = cortex::config::Config::load(dir.path(), Some(&warehouse)).expect("config");
    config.state_db = dir.path().join("state.duckdb");
    config.limits.max_rows = max_rows;
    let engine = Engine::open(config).expect("engine");
    (dir, engine)
}

/// Hand-written SQL against the engine's warehouse, as JSON rows.
pub(crate) fn hand_sql(engine: &Engine, n: usize, sql: &str) -> serde_json::Value {
    let conn = duckdb::Connection::open(engine.warehouse.path()).expect("open");
    let mut stmt = conn.prepare(sql).expect("prepare");
    let rows: Vec<serde_json::Value> = stmt
        .query_map([], |r| {
            let mut cells = Vec::new();
            for i in 0..n {
                let v: duckdb::types::Value = r.get(i)?;
                cells.push(match v {
                    duckdb::types::Value::Null => serde_json::Value::Null,
                    duckdb::types::Value::BigInt(x) => json!(x),
                    duckdb::types::Value::Int(x) => json!(x),
                    duckdb::types::Value::Double(x) => json!(x),
                    duckdb::types::Value::HugeInt(x) => json!(x as i64),
                    duckdb::types::Value::Text(s) => json!(s),
                    duckdb::types::Value::Boolean(b) => json!(b),
                    other => json!(format!("{other:?}")),
                });
            }
            Ok(serde_json::Value::Array(cells))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    serde_json::Value::Array(rows)
}

pub(crate) fn mini_run(engine: &Engine, q: serde_json::Value) -> (Vec<String>, serde_json::Value) {
    let query: MetricQuery = serde_json::from_value(q.clone()).expect("query");
    let out = engine
        .query(&query, fixture_today(), &crate::helpers::ctx("mini"))
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    (
        out.result.columns.clone(),
        serde_json::to_value(&out.result.rows).expect("rows"),
    )
}

#[test]
fn multi_hop_joins_and_role_playing_tables_match_hand_sql() {
    let (_dir, engine) = mini_engine(INSURANCE_YAML, INSURANCE_SQL, 1000);
    // payments -> claims -> policies -> holders / agents -> people: four hops.
    let (cols, rows) = mini_run(
        &engine,
        json!({"metrics": ["paid"], "group_by": ["policy_no", "holder_name", "agent_name"],
               "order": [{"field": "policy_no"}]}),
    );
    assert_eq!(cols, ["policy_no", "holder_name", "agent_name", "paid"]);
    let expected = hand_sql(
        &engine,
        4,
        "SELECT p.policy_no, hp.name, ap.name, SUM(pay.amount)
         FROM Payment pay JOIN Claim c ON c.claim_id = pay.claim_id
         JOIN Policy p ON p.policy_id = c.policy_id
         LEFT JOIN Party_Role h ON h.agreement_id = p.policy_id AND h.role = 'PH'
         LEFT JOIN Person hp ON hp.person_id = h.party_id
         LEFT JOIN Party_Role a ON a.agreement_id = p.policy_id AND a.role = 'AG'
         LEFT JOIN Person ap ON ap.person_id = a.party_id
         GROUP BY 1, 2, 3 ORDER BY 1",
    );
    assert_json_close(&rows, &expected);
    assert_eq!(
        rows,
        json!([
            [31003000336i64, "Mary", "Bob", 1750.0],
            [31003000337i64, "Ann", "Bob", 4000.0]
        ])
    );
    // A filter two hops away, on the agent role, and a count from another table.
    let (_, rows) = mini_run(
        &engine,
        json!({"metrics": ["claims", "paid"], "group_by": ["agent_name"],
               "filters": [{"dimension": "holder_name", "op": "=", "values": ["Mary"]}]}),
    );
    // Carl's policy has a claim but no payment: empty (NULL), as in MetricFlow, since
    // `paid` has no `fill_nulls_with`.
    assert_eq!(rows, json!([["Bob", 2, 1750.0], ["Carl", 1, null]]));
}

#[test]
fn listing_queries_return_distinct_rows_from_the_first_table_that_reaches_all() {
    let (_dir, engine) = mini_engine(INSURANCE_YAML, INSURANCE_SQL, 1000);
    // Distinct values of one dimension, read through its role's row filter.
    let (cols, rows) = mini_run(&engine, json!({"metrics": [], "group_by": ["agent_id"]}));
    assert_eq!(cols, ["agent_id"]);
    assert_eq!(rows, json!([[20], [21]]));
    // Rows: each claim with its policy and holder; claims is the only table reaching all.
    let (cols, rows) = mini_run(
        &engine,
        json!({"metrics": [], "group_by": ["policy_no", "claim_no", "holder_id", "opened"]}),
    );
    assert_eq!(cols, ["policy_no", "claim_no", "holder_id", "opened"]);
    let expected = hand_sql(
        &engine,
        4,
        "SELECT DISTINCT p.policy_no, c.claim_no, h.party_id, strftime(c.opened, '%Y-%m-%d')
         FROM Claim c LEFT JOIN Policy p ON p.policy_id = c.policy_id
         LEFT JOIN Party_Role h ON h.agreement_id = c.policy_id AND h.role = 'PH' ORDER BY 1, 2",
    );
    assert_eq!(rows, expected);
    // A filter and a limit: the open claims, with their policy number.
    let (_, rows) = mini_run(
        &engine,
        json!({"metrics": [], "group_by": ["claim_no", "policy_no"],
               "filters": [{"dimension": "closed", "op": "is null", "values": []}], "limit": 5}),
    );
    assert_eq!(
        rows,
        json!([[5002, 31003000336i64], [5004, 31003000338i64]])
    );
    // Listings are capped by max_rows like every query.
    let (_dir2, capped) = mini_engine(INSURANCE_YAML, INSURANCE_SQL, 2);
    let q: MetricQuery =
        serde_json::from_value(json!({"metrics": [], "group_by": ["claim_no"]})).expect("q");
    let out = capped
        .query(&q, fixture_today(), &crate::helpers::ctx("cap"))
        .expect("runs");
    assert_eq!(out.result.rows.len(), 2);
    assert!(out.result.truncated);
    // Dimensions no single table reaches together are refused, not cross-joined.
    let yaml = INSURANCE_YAML.replace(
        "  - name: payments",
        "  - name: orphans\n    table: Person\n    entities: [{name: orphan, type: primary, expr: person_id}]\n    dimensions: [{name: orphan_name, type: categorical, expr: name}]\n  - name: payments",
    );
    let layer = SemanticLayer::from_source(Path::new("m.yaml"), &yaml).expect("valid");
    let q: MetricQuery =
        serde_json::from_value(json!({"metrics": [], "group_by": ["policy_no", "orphan_name"]}))
            .expect("q");
    let err = compile(
        &layer,
        &q,
        &CompileOptions {
            today: fixture_today(),
        },
    )
    .expect_err("no table reaches both");
    assert!(err.to_string().contains("no table reaches all of"), "{err}");
}

#[test]
fn an_ambiguous_join_path_is_an_error_unless_declared() {
    // One `party` entity for both roles: people are reached through holders and agents.
    let ambiguous = INSURANCE_YAML
        .replace("holder_party", "party")
        .replace("agent_party", "party")
        .replace(
            "  - name: agent_people\n    table: Person\n    entities: [{name: party, type: primary, expr: person_id}]\n    dimensions: [{name: agent_name, type: categorical, expr: name}]\n",
            "",
        );
    let err = SemanticLayer::from_source(Path::new("m.yaml"), &ambiguous)
        .expect_err("ambiguous paths are refused");
    let text = err.to_string();
    assert!(
        text.contains("holder_people is reached by two equally short join paths")
            && text.contains("claims -> holders -> holder_people")
            && text.contains("claims -> agents -> holder_people"),
        "{text}"
    );
    assert!(text.contains("semantic_models.payments.joins"), "{text}");
    // Declaring the path on each table with measures resolves it: names are the holders'.
    let declared = ambiguous
        .replace(
            "      - {name: claim_rows, agg: count}\n",
            "      - {name: claim_rows, agg: count}\n    joins: [{to: holder_people, via: [holders]}]\n",
        )
        .replace(
            "      - {name: paid_amount, agg: sum, expr: amount}\n",
            "      - {name: paid_amount, agg: sum, expr: amount}\n    joins: [{to: holder_people, via: [claims, holders]}]\n",
        );
    let (_dir, engine) = mini_engine(&declared, INSURANCE_SQL, 1000);
    let (_, rows) = mini_run(
        &engine,
        json!({"metrics": ["paid"], "group_by": ["holder_name"]}),
    );
    assert_eq!(rows, json!([["Ann", 4000.0], ["Mary", 1750.0]]));
    // A declared path that does not join is reported.
    let broken = ambiguous.replace(
        "      - {name: claim_rows, agg: count}\n",
        "      - {name: claim_rows, agg: count}\n    joins: [{to: holder_people, via: [payments]}]\n",
    );
    let err = SemanticLayer::from_source(Path::new("m.yaml"), &broken).expect_err("bad path");
    assert!(
        err.to_string()
            .contains("the path claims -> payments -> holder_people does not join"),
        "{err}"
    );
}
