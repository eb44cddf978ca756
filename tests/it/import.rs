//! `cortex import metricflow` and `cortex export metricflow`: MetricFlow's own test project
//! imports with every construct it cannot carry listed at its file and line, and the demo's
//! metrics.yaml survives export and import unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use cortex::import::metricflow::{export, import_dir, MetricsFile};
use cortex::semantic::SemanticLayer;

use crate::helpers::{cortex_bin, project_dir};

fn simple_manifest() -> Option<PathBuf> {
    let dir = project_dir()
        .join("../shared/datasets/metricflow-test-fixtures/semantic_manifest/simple_manifest");
    if dir.join("metrics.yaml").exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: the MetricFlow fixtures are not at {}",
            dir.display()
        );
        None
    }
}

fn read_metrics_file(path: &Path) -> MetricsFile {
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_metricflow_metric_is_imported_or_listed_with_its_file_and_line() {
    let Some(dir) = simple_manifest() else { return };
    let imported = import_dir(&dir).expect("imports");
    let text = std::fs::read_to_string(dir.join("metrics.yaml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Every metric of the MetricFlow file, by its `name:` line.
    let names: Vec<String> = lines
        .windows(2)
        .filter(|w| w[0].trim() == "metric:")
        .filter_map(|w| w[1].trim().strip_prefix("name:"))
        .map(|n| n.trim().trim_matches('"').to_string())
        .collect();
    assert!(names.len() >= 100, "{}", names.len());
    for n in &names {
        let kept = imported.file.metrics.iter().any(|m| &m.name == n);
        let dropped = imported
            .dropped
            .iter()
            .find(|d| d.what == format!("metric {n}"));
        assert!(
            kept ^ dropped.is_some(),
            "{n}: kept {kept}, dropped {dropped:?}"
        );
        if let Some(d) = dropped {
            assert!(d.file.exists(), "{d}");
            assert!(d.line >= 1, "{d}");
            assert!(!d.reason.is_empty(), "{d}");
        }
    }
    // A conversion metric is carried with its parameters; one with a filter on it (not
    // supported yet) is listed at its filter's line.
    let conv = imported
        .file
        .metrics
        .iter()
        .find(|m| m.name == "visit_buy_conversion_rate_7days")
        .expect("the conversion metric is imported");
    let c = conv.conversion.as_ref().expect("conversion parameters");
    assert_eq!(
        (
            c.base_measure.as_str(),
            c.conversion_measure.as_str(),
            c.entity.as_str()
        ),
        ("visits", "buys", "user")
    );
    assert_eq!(c.window.as_deref(), Some("7 days"));
    let filtered = imported
        .dropped
        .iter()
        .find(|d| d.what == "metric visit_buy_conversion_rate_with_filter")
        .expect("the filtered conversion metric is listed");
    assert!(filtered.reason.contains("conversion"), "{filtered}");
    let conv_text = std::fs::read_to_string(&filtered.file).unwrap();
    let line = conv_text.lines().nth(filtered.line - 1).unwrap();
    assert!(line.contains("filter"), "{filtered}: {line}");
    // A derived metric with a time offset is dropped at the offset's line.
    let offset = imported
        .dropped
        .iter()
        .find(|d| d.reason.contains("offset_window"))
        .expect("an offset metric is listed");
    let offset_text = std::fs::read_to_string(&offset.file).unwrap();
    let line = offset_text.lines().nth(offset.line - 1).unwrap();
    assert!(line.contains("offset_window"), "{offset}: {line}");
    // A semi-additive measure is carried with its non-additive dimension.
    let semi = imported
        .file
        .semantic_models
        .iter()
        .flat_map(|m| &m.measures)
        .find(|m| m.name == "current_account_balance_by_user")
        .expect("the semi-additive measure is imported");
    let n = semi
        .non_additive_dimension
        .as_ref()
        .expect("non_additive_dimension");
    assert_eq!(n.name, "ds");
    assert_eq!(n.window_choice, cortex::semantic::raw::WindowChoice::Max);
    assert_eq!(n.window_groupings, vec!["user".to_string()]);
    // What was kept loads, Jinja filters turned into conditions.
    let instant = imported
        .file
        .metrics
        .iter()
        .find(|m| m.name == "instant_booking_value")
        .expect("kept");
    assert_eq!(instant.filter, vec!["booking__is_instant = true"]);
}

#[test]
fn the_cli_imports_to_a_file_and_lists_what_it_dropped() {
    let Some(dir) = simple_manifest() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out_file = tmp.path().join("metrics.yaml");
    let out = Command::new(cortex_bin())
        .args(["import", "metricflow"])
        .arg(&dir)
        .arg("--out")
        .arg(&out_file)
        .current_dir(tmp.path())
        .output()
        .expect("cortex runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("not imported: ") && stderr.contains("metrics.yaml:"),
        "{stderr}"
    );
    let layer = SemanticLayer::load(&out_file).expect("the written file loads");
    assert!(layer.metric("bookings").is_some());
}

#[test]
fn the_demo_metrics_survive_export_and_import_unchanged() {
    let original = project_dir().join("metrics.yaml");
    let tmp = tempfile::tempdir().unwrap();
    let mf = tmp.path().join("mf");
    let ex = export(&original, &mf).expect("exports");
    assert!(mf.join("metrics.yaml").exists());
    let tickets_file = ex
        .files
        .iter()
        .find(|f| f.to_string_lossy().ends_with("_tickets.yaml"))
        .expect("a file for the tickets model")
        .clone();

    // The MetricFlow side: entity-scoped Jinja filters and MetricFlow aggregations.
    let mf_metrics = std::fs::read_to_string(mf.join("metrics.yaml")).unwrap();
    assert!(mf_metrics.contains("{{ Dimension('"), "no Jinja filter");
    let tickets_model = std::fs::read_to_string(&tickets_file).unwrap();
    assert!(tickets_model.contains("agg_time_dimension"));

    let back = import_dir(&mf).expect("imports back");
    assert!(back.dropped.is_empty(), "{:?}", back.dropped);
    let yaml = back.to_yaml(&mf).unwrap();
    let path = tmp.path().join("metrics.yaml");
    std::fs::write(&path, &yaml).unwrap();
    SemanticLayer::load(&path).expect("the round trip loads");
    let a = serde_json::to_value(read_metrics_file(&original)).unwrap();
    let b = serde_json::to_value(read_metrics_file(&path)).unwrap();
    assert_eq!(a, b, "import(export(metrics.yaml)) differs");
}

#[test]
fn the_metricflow_translation_alone_imports_without_the_cortex_meta() {
    // Strip every `config:` block (the Cortex definitions carried in meta): what is left
    // is the MetricFlow translation, which must itself import and load.
    let tmp = tempfile::tempdir().unwrap();
    let mf = tmp.path().join("mf");
    export(&project_dir().join("metrics.yaml"), &mf).expect("exports");
    std::fs::remove_file(mf.join(cortex::import::metricflow::EXTRAS)).unwrap();
    let mut files = vec![mf.join("metrics.yaml")];
    for e in std::fs::read_dir(mf.join("semantic_models")).unwrap() {
        files.push(e.unwrap().path());
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut out = Vec::new();
        let mut skipping: Option<usize> = None;
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            if let Some(i) = skipping {
                if indent > i || line.trim().is_empty() {
                    continue;
                }
                skipping = None;
            }
            if line.trim_start().starts_with("config:") {
                skipping = Some(indent);
                continue;
            }
            out.push(line);
        }
        std::fs::write(&f, out.join("\n")).unwrap();
    }
    let imported = import_dir(&mf).expect("the translation imports");
    let demo = SemanticLayer::load(&project_dir().join("metrics.yaml")).unwrap();
    // Generated helper metrics come in as metrics of their own; every demo metric is
    // imported or listed.
    for m in &demo.metrics {
        let kept = imported.file.metrics.iter().any(|x| x.name == m.name);
        let dropped = imported
            .dropped
            .iter()
            .any(|d| d.what == format!("metric {}", m.name));
        assert!(kept || dropped, "{} vanished", m.name);
    }
    assert!(
        imported.file.metrics.len() >= demo.metrics.len(),
        "{} of {} metrics",
        imported.file.metrics.len(),
        demo.metrics.len()
    );
}
