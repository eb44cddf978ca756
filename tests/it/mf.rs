//! A third analyst-written project (examples/mf): a booking marketplace over MetricFlow's
//! simple_model fixtures from `../shared/datasets/metricflow-test-fixtures`. The warehouse
//! loads from the CSVs, `cortex check` passes against it, and its question set (written by
//! an outside tester before the planner fixes, rows from hand SQL) has no miss.
//! Skipped, with a message, when the dataset is not beside the checkout.

use std::path::PathBuf;
use std::time::Duration;

use cortex::config::Config;

use crate::helpers::project_dir;

fn dataset() -> Option<PathBuf> {
    let dir = project_dir()
        .join("../shared/datasets/metricflow-test-fixtures/source_tables_csv/simple_model");
    if dir.join("fct_bookings.csv").exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: the MetricFlow fixtures are not at {} (they sit beside the checkout in CI)",
            dir.display()
        );
        None
    }
}

#[test]
fn the_marketplace_project_checks_clean_and_its_questions_have_no_miss() {
    let Some(csv) = dataset() else { return };
    let project = project_dir().join("examples/mf");
    let dir = tempfile::tempdir().expect("tmp");
    let warehouse = dir.path().join("mf.duckdb");
    let tables = cortex::load::load(&project.join("load.sql"), &csv, &warehouse).expect("mf loads");
    assert!(
        tables.iter().any(|(t, n)| t == "fct_bookings" && *n > 100),
        "{tables:?}"
    );
    let mut config = Config::load(&project, Some(&warehouse)).expect("config");
    config.state_db = dir.path().join("state.duckdb");
    config.limits.timeout = Duration::from_secs(30);

    let metrics = project.join("metrics.yaml");
    let layer = cortex::semantic::SemanticLayer::load(&metrics).expect("valid metrics.yaml");
    let source = std::fs::read_to_string(&metrics).expect("read");
    let wh =
        cortex::warehouse::Warehouse::open(&config.warehouse, layer.tables(), config.limits, None)
            .expect("warehouse");
    let problems = cortex::semantic::verify::check_warehouse(&layer, &metrics, &source, &wh);
    assert!(problems.is_empty(), "{problems:?}");
    drop(wh);

    let rt = cortex::skills::run::Runtime::open(config).expect("runtime");
    let cases = cortex::eval::load(&project.join("questions.yaml")).expect("cases");
    assert!(cases.len() >= 17);
    let report = cortex::eval::run(&rt, &cases, &mut |_| {});
    crate::helpers::assert_no_misses(&report);
}
