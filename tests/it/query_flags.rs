//! The `cortex query` and `cortex check` defects found while running MetricFlow's cases
//! (issue #14): each flag as documented, or a clear refusal.

use std::process::Command;

use serde_json::Value as Json;

use crate::helpers::{cortex_bin, fixture, project_dir};

fn cortex(args: &[&str], f: &crate::helpers::Fixture) -> std::process::Output {
    Command::new(cortex_bin())
        .args(args)
        .env("CORTEX_WAREHOUSE", &f.warehouse)
        .env("CORTEX_STATE_DB", &f.state_db)
        .current_dir(project_dir())
        .output()
        .expect("cortex runs")
}

#[test]
fn order_takes_a_leading_minus_as_a_separate_argument() {
    let f = fixture();
    let out = cortex(
        &[
            "query",
            "--metrics",
            "tickets",
            "--by",
            "channel",
            "--order",
            "-tickets",
            "--today",
            "2025-10-15",
            "--format",
            "json",
        ],
        &f,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Json = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["query"]["order"][0]["field"], "tickets");
    assert_eq!(v["query"]["order"][0]["desc"], true);
    let counts: Vec<i64> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_i64().unwrap())
        .collect();
    assert!(counts.len() > 1, "{counts:?}");
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
}

#[test]
fn or_and_parentheses_in_where_filter_like_the_equivalent_in_list() {
    let f = fixture();
    let run = |wheres: &[&str]| {
        let mut args = vec![
            "query",
            "--metrics",
            "tickets",
            "--by",
            "channel",
            "--format",
            "json",
        ];
        for w in wheres {
            args.push("--where");
            args.push(w);
        }
        let out = cortex(&args, &f);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Json>(&out.stdout).expect("json")["rows"].clone()
    };
    let or = run(&["channel = email or channel = chat"]);
    let listed = run(&["channel in (email, chat)"]);
    assert_eq!(or, listed);
    assert_eq!(or.as_array().map(Vec::len), Some(2), "{or}");
    // NOT and parentheses: everything but email and chat.
    let all = run(&[]);
    let rest = run(&["not (channel = email or channel = chat)"]);
    assert_eq!(
        rest.as_array().map(Vec::len),
        all.as_array().map(|a| a.len() - 2),
        "{rest}"
    );
    // Unbalanced parentheses are refused with the filter named, never read as a value.
    let out = cortex(
        &[
            "query",
            "--metrics",
            "tickets",
            "--where",
            "(channel = email or channel = chat",
        ],
        &f,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected ')'"), "{err}");
}

#[test]
fn grouping_by_metric_time_points_to_grain() {
    let f = fixture();
    for by in ["metric_time", "metric_time__month"] {
        let out = cortex(&["query", "--metrics", "tickets", "--by", by], &f);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--grain"), "{by}: {err}");
    }
}

#[test]
fn check_reports_each_models_foreign_entity_at_that_models_line() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "version: 1
semantic_models:
  - name: a
    table: ta
    entities:
      - name: guest
        type: foreign
    measures:
      - name: m1
        agg: count
  - name: b
    table: tb
    entities:
      - name: guest
        type: foreign
    measures:
      - name: m2
        agg: count
metrics: []
";
    std::fs::write(dir.path().join("metrics.yaml"), yaml).unwrap();
    let out = Command::new(cortex_bin())
        .arg("--project")
        .arg(dir.path())
        .arg("check")
        .env_remove("CORTEX_WAREHOUSE")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("metrics.yaml:6: semantic_models.a.entities.guest"),
        "{text}"
    );
    assert!(
        text.contains("metrics.yaml:14: semantic_models.b.entities.guest"),
        "{text}"
    );
}
