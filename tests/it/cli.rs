//! The `cortex` binary as a user runs it.

use std::process::Command;

use serde_json::Value as Json;

use crate::helpers::{cortex_bin, fixture, project_dir};

fn cortex(
    args: &[&str],
    warehouse: &std::path::Path,
    state: &std::path::Path,
) -> std::process::Output {
    Command::new(cortex_bin())
        .args(args)
        .env("CORTEX_WAREHOUSE", warehouse)
        .env("CORTEX_STATE_DB", state)
        .current_dir(project_dir())
        .output()
        .expect("cortex runs")
}

#[test]
fn query_json_has_raw_values_and_the_sql() {
    let f = fixture();
    let out = cortex(
        &[
            "query",
            "--metrics",
            "arr,tickets",
            "--by",
            "segment",
            "--today",
            "2025-10-15",
            "--format",
            "json",
        ],
        &f.warehouse,
        &f.state_db,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Json = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(
        v["columns"],
        serde_json::json!(["segment", "arr", "tickets"])
    );
    assert_eq!(v["rows"][0], serde_json::json!(["Enterprise", 55000.0, 3]));
    assert!(v["sql"].as_str().expect("sql").starts_with("WITH "));
    assert_eq!(v["query"]["metrics"], serde_json::json!(["arr", "tickets"]));
}

#[test]
fn query_table_is_formatted_and_dates_are_iso() {
    let f = fixture();
    let out = cortex(
        &[
            "query",
            "--metrics",
            "arr",
            "--grain",
            "quarter",
            "--from",
            "2025-01-01",
            "--to",
            "2025-06-30",
            "--today",
            "2025-10-15",
        ],
        &f.warehouse,
        &f.state_db,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("Q1 2025  $55,320"), "{text}");
    assert!(text.contains("Q2 2025  $60,320"), "{text}");
}

#[test]
fn bad_input_gets_a_clear_message_and_exit_code() {
    let f = fixture();
    for (args, expect) in [
        (vec!["query", "--metrics", "revnue"], "unknown metric"),
        (
            vec![
                "query",
                "--metrics",
                "tickets",
                "--where",
                "segment like 'x'",
            ],
            "expected an operator",
        ),
        (
            vec!["query", "--metrics", "tickets", "--grain", "fortnight"],
            "unknown grain",
        ),
        (
            vec![
                "query",
                "--metrics",
                "tickets",
                "--where",
                "segment = x' ; DROP TABLE tickets; --",
            ],
            "unterminated quote",
        ),
        (
            vec![
                "query",
                "--metrics",
                "tickets",
                "--where",
                "segment = 'x'' ; DROP TABLE tickets; --'",
            ],
            "",
        ),
    ] {
        let out = cortex(&args, &f.warehouse, &f.state_db);
        let err = String::from_utf8_lossy(&out.stderr);
        if expect.is_empty() {
            // A hostile value is only a value: it runs and matches nothing.
            assert!(out.status.success(), "{err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = cortex(
        &["query", "--metrics", "tickets"],
        &f.dir.path().join("missing.duckdb"),
        &f.state_db,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `cortex demo`"));
}

#[test]
fn check_exits_non_zero_on_a_broken_file() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("metrics.yaml"),
        "semantic_models:\n  - name: t\n    table: t\n    measures:\n      - name: n\n        agg: cnt\nmetrics:\n  - name: m\n    type: simple\n    description: d\n    owner: o\n    unit: count\n    measure: nn\n",
    )
    .expect("write");
    let out = Command::new(cortex_bin())
        .args(["check", "--project"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("metrics.yaml:6: semantic_models.t.measures.n.agg: unknown variant `cnt`"),
        "{text}"
    );
    assert!(
        text.contains("metrics.m.measure: unknown measure \"nn\""),
        "{text}"
    );
    let out = Command::new(cortex_bin())
        .arg("check")
        .current_dir(project_dir())
        .output()
        .expect("runs");
    assert!(out.status.success());
}

#[test]
fn query_without_metrics_lists_values_and_open_ranges_and_relative_paths_work() {
    let f = fixture();
    // `--by` alone lists distinct values (here two dimensions of the merchants table).
    let out = cortex(
        &["query", "--by", "segment,country", "--format", "json"],
        &f.warehouse,
        &f.state_db,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Json = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["rows"],
        serde_json::json!([
            ["Enterprise", "United Kingdom"],
            ["Mid-Market", "Canada"],
            ["SMB", "United States"]
        ])
    );
    // --from without --to runs up to --today instead of failing.
    let out = cortex(
        &[
            "query",
            "--metrics",
            "tickets",
            "--from",
            "2025-10-01",
            "--today",
            "2025-10-15",
            "--format",
            "json",
        ],
        &f.warehouse,
        &f.state_db,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Json = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["rows"], serde_json::json!([[4]]));
    assert_eq!(v["query"]["time_range"]["to"], "2025-10-15");
    // A relative --warehouse is relative to the working directory, not to --project.
    let out = Command::new(cortex_bin())
        .args([
            "query",
            "--metrics",
            "tickets",
            "--format",
            "json",
            "--warehouse",
            "tiny.duckdb",
        ])
        .arg("--project")
        .arg(project_dir())
        .env("CORTEX_STATE_DB", &f.state_db)
        .env_remove("CORTEX_WAREHOUSE")
        .current_dir(f.dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Json = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["rows"], serde_json::json!([[6]]));
}
