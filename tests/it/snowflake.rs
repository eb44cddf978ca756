//! `cortex export snowflake`: the Cortex Analyst semantic model computes the same numbers as
//! the compiler. Every exported table metric's expression is run over its base table on the
//! demo warehouse, in total and per value of the table's dimensions, and compared with the
//! compiled query for the metric; model-level metrics are run over their tables' metrics.
//! Every metric of metrics.yaml is either exported or named on stderr.

use std::collections::BTreeMap;
use std::process::Command;

use cortex::semantic::compile::{compile, CompileOptions};
use cortex::semantic::query::MetricQuery;
use cortex::semantic::SemanticLayer;
use serde_json::Value as Json;
use serde_norway::Value;

use crate::helpers::{cortex_bin, demo_sql, demo_today, project_dir};

fn export() -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.yaml");
    let run = Command::new(cortex_bin())
        .args(["--project"])
        .arg(project_dir())
        .args(["export", "snowflake", "--database", "DEMO", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let yaml: Value = serde_norway::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    (yaml, String::from_utf8_lossy(&run.stderr).into_owned())
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn seq(v: &Value) -> &[Value] {
    v.as_sequence().map(|x| x.as_slice()).unwrap_or_default()
}

fn num(v: &Json) -> Option<f64> {
    v.as_f64()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0),
        (None, None) => true,
        _ => false,
    }
}

/// The compiled query's rows as (group value or "", metric value).
fn compiled(
    layer: &SemanticLayer,
    metric: &str,
    by: Option<&str>,
) -> BTreeMap<String, Option<f64>> {
    let q = MetricQuery {
        metrics: vec![metric.to_string()],
        group_by: by.map(|b| vec![b.to_string()]).unwrap_or_default(),
        ..Default::default()
    };
    let c = compile(
        layer,
        &q,
        &CompileOptions {
            today: demo_today(),
        },
    )
    .unwrap_or_else(|e| panic!("{metric} by {by:?}: {e}"));
    let mi = c.columns.iter().position(|x| x.name == metric).unwrap();
    let gi = by.map(|b| c.columns.iter().position(|x| x.name == b).unwrap());
    demo_sql(&c.sql)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let key = gi.map(|g| r[g].to_string()).unwrap_or_default();
            (key, num(&r[mi]))
        })
        .collect()
}

fn exported(sql: &str) -> BTreeMap<String, Option<f64>> {
    demo_sql(sql)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cells = r.as_array().unwrap();
            if cells.len() == 1 {
                (String::new(), num(&cells[0]))
            } else {
                (cells[0].to_string(), num(&cells[1]))
            }
        })
        .collect()
}

fn same(a: &BTreeMap<String, Option<f64>>, b: &BTreeMap<String, Option<f64>>) -> bool {
    // A group the compiled query leaves out has no rows; the export's aggregate there is
    // NULL, or 0 for a count.
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| close(*v, *w)))
}

#[test]
fn exported_metrics_compute_what_the_compiler_computes() {
    let (yaml, stderr) = export();
    let layer = SemanticLayer::load(&project_dir().join("metrics.yaml")).unwrap();
    let mut table_sql: BTreeMap<String, String> = BTreeMap::new();
    let mut checked = 0;
    let mut grouped = 0;
    for t in seq(&yaml["tables"]) {
        let table = s(&t["base_table"]["table"]);
        assert_eq!(s(&t["base_table"]["database"]), "DEMO");
        let dims: Vec<(&str, &str)> = seq(&t["dimensions"])
            .iter()
            .filter(|d| !seq(&d["sample_values"]).is_empty())
            .map(|d| (s(&d["name"]), s(&d["expr"])))
            .collect();
        for m in seq(&t["metrics"]) {
            let (name, expr) = (s(&m["name"]), s(&m["expr"]));
            table_sql.insert(
                format!("{}.{name}", s(&t["name"])),
                format!("(SELECT {expr} FROM {table})"),
            );
            let ours = compiled(&layer, name, None);
            let theirs = exported(&format!("SELECT {expr} FROM {table}"));
            assert!(same(&ours, &theirs), "{name}: {ours:?} vs {theirs:?}");
            checked += 1;
            // Per value of the table's first described dimension.
            if let Some((dim, dim_expr)) = dims.first() {
                let ours = compiled(&layer, name, Some(dim));
                let theirs = exported(&format!(
                    "SELECT CAST({dim_expr} AS VARCHAR), {expr} FROM {table} GROUP BY 1 \
                     HAVING COUNT(*) > 0"
                ));
                let theirs: BTreeMap<_, _> = theirs
                    .into_iter()
                    .filter(|(k, _)| ours.contains_key(k))
                    .collect();
                assert!(
                    same(&ours, &theirs),
                    "{name} by {dim}: {ours:?} vs {theirs:?}"
                );
                grouped += 1;
            }
        }
    }
    // Model-level metrics: their expression over the tables' metrics.
    for m in seq(&yaml["metrics"]) {
        let mut expr = s(&m["expr"]).to_string();
        for (k, v) in &table_sql {
            expr = expr.replace(k.as_str(), v);
        }
        let ours = compiled(&layer, s(&m["name"]), None);
        let theirs = exported(&format!("SELECT {expr}"));
        assert!(
            same(&ours, &theirs),
            "{}: {ours:?} vs {theirs:?}",
            s(&m["name"])
        );
        checked += 1;
    }
    assert!(
        checked >= 25 && grouped >= 20,
        "{checked} metrics, {grouped} grouped"
    );
    // Nothing is left out silently.
    let exported: Vec<&str> = seq(&yaml["tables"])
        .iter()
        .flat_map(|t| seq(&t["metrics"]))
        .chain(seq(&yaml["metrics"]))
        .map(|m| s(&m["name"]))
        .collect();
    for m in &layer.metrics {
        assert!(
            exported.contains(&m.name.as_str())
                || stderr.contains(&format!("metric {} is not exported:", m.name)),
            "{} is neither exported nor listed:\n{stderr}",
            m.name
        );
    }
    assert!(
        stderr.contains("metric arr is not exported: a running total"),
        "{stderr}"
    );
}

#[test]
fn relationships_join_key_columns_that_exist() {
    let (yaml, _) = export();
    let columns = |table: &str| -> Vec<String> {
        let t = seq(&yaml["tables"])
            .iter()
            .find(|t| s(&t["name"]) == table)
            .unwrap_or_else(|| panic!("no table {table}"));
        seq(&t["dimensions"])
            .iter()
            .map(|d| s(&d["name"]).to_string())
            .collect()
    };
    let rels = seq(&yaml["relationships"]);
    assert!(rels.len() >= 5, "{rels:?}");
    for r in rels {
        assert_eq!(s(&r["relationship_type"]), "many_to_one");
        for c in seq(&r["relationship_columns"]) {
            assert!(columns(s(&r["left_table"])).contains(&s(&c["left_column"]).to_string()));
            assert!(columns(s(&r["right_table"])).contains(&s(&c["right_column"]).to_string()));
        }
        // The key really joins: every left key finds its row on the right.
        let key = |table: &str, col: &str| -> String {
            let t = seq(&yaml["tables"])
                .iter()
                .find(|t| s(&t["name"]) == table)
                .unwrap();
            let d = seq(&t["dimensions"])
                .iter()
                .find(|d| s(&d["name"]) == col)
                .unwrap();
            format!(
                "{} AS k FROM {}",
                s(&d["expr"]),
                s(&t["base_table"]["table"])
            )
        };
        let c = &seq(&r["relationship_columns"])[0];
        let orphans = demo_sql(&format!(
            "SELECT COUNT(*) FROM (SELECT {}) l WHERE l.k IS NOT NULL AND l.k NOT IN (SELECT {})",
            key(s(&r["left_table"]), s(&c["left_column"])),
            key(s(&r["right_table"]), s(&c["right_column"])),
        ));
        assert_eq!(orphans[0][0], Json::from(0), "{r:?}");
    }
}
