//! Shared test helpers: a fresh fixture warehouse per test, an engine over it, and
//! comparisons of result rows with a tolerance for floating point.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use cortex::config::Config;
use cortex::engine::Engine;
use cortex::semantic::MetricQuery;
use cortex::warehouse::{AuditContext, Limits};
use serde_json::Value as Json;
use tempfile::TempDir;

/// The repository root (where metrics.yaml lives).
pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `today` for every fixture test.
pub fn fixture_today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 15).expect("valid date")
}

/// A temp dir holding `tiny.duckdb` built from tests/fixtures/tiny.sql.
pub struct Fixture {
    pub dir: TempDir,
    pub warehouse: PathBuf,
    pub state_db: PathBuf,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let warehouse = dir.path().join("tiny.duckdb");
    let sql = std::fs::read_to_string(project_dir().join("tests/fixtures/tiny.sql"))
        .expect("fixture sql");
    let conn = duckdb::Connection::open(&warehouse).expect("create fixture");
    conn.execute_batch(&sql).expect("load fixture");
    drop(conn);
    let state_db = dir.path().join("state.duckdb");
    Fixture {
        dir,
        warehouse,
        state_db,
    }
}

impl Fixture {
    pub fn config(&self, timeout: Duration) -> Config {
        Config {
            project: project_dir(),
            warehouse: self.warehouse.clone(),
            state_db: self.state_db.clone(),
            limits: Limits {
                timeout,
                max_rows: 1000,
                ..Limits::default()
            },
            llm: None,
            slack: Default::default(),
            server: cortex::config::ServerConfig {
                listen: "127.0.0.1:0".into(),
                public_url: Some("http://cortex.test".into()),
                user_header: "x-forwarded-user".into(),
                default_user: "web:test".into(),
                ..Default::default()
            },
            ask: Default::default(),
            notion: None,
            outbox: Default::default(),
            schedule: Default::default(),
            linear: None,
        }
    }

    pub fn engine(&self) -> Engine {
        Engine::open(self.config(Duration::from_secs(10))).expect("engine opens")
    }
}

pub fn ctx(question: &str) -> AuditContext {
    AuditContext {
        requester: "cli:test".into(),
        question: question.into(),
        query_json: None,
    }
}

/// Runs a query given as JSON and returns (columns, rows as JSON).
pub fn run(engine: &Engine, query: Json) -> (Vec<String>, Json) {
    let q: MetricQuery = serde_json::from_value(query.clone()).expect("query json");
    let out = engine
        .query(&q, fixture_today(), &ctx(&query.to_string()))
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    (
        out.result.columns.clone(),
        serde_json::to_value(&out.result.rows).expect("rows serialize"),
    )
}

/// Asserts two JSON values are equal, numbers within 1e-9 relative.
pub fn assert_json_close(actual: &Json, expected: &Json) {
    fn close(a: &Json, b: &Json) -> bool {
        match (a, b) {
            (Json::Number(x), Json::Number(y)) => {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
            }
            (Json::Array(x), Json::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b))
            }
            _ => a == b,
        }
    }
    assert!(
        close(actual, expected),
        "\nactual:   {actual}\nexpected: {expected}"
    );
}

/// Path of the built `cortex` binary.
pub fn cortex_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cortex"))
}

/// A scale-0.05 demo warehouse ending 2026-11-20, built once per test binary.
pub fn demo_warehouse() -> &'static Path {
    static DEMO: std::sync::OnceLock<(TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("demo.duckdb");
        cortex::demo::build(
            &cortex::demo::DemoOptions {
                out: path.clone(),
                scale: 0.05,
                end_date: demo_today(),
                seed: 42,
            },
            &mut |_| {},
        )
        .expect("demo builds");
        (dir, path)
    });
    path
}

pub fn demo_today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date")
}

/// A runtime (engine, skills, context) over the shared demo, with its own state database.
pub fn demo_runtime(project: &Path) -> (TempDir, cortex::skills::run::Runtime) {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = Config::load(project, Some(demo_warehouse())).expect("config");
    config.state_db = state.path().join("state.duckdb");
    let rt = cortex::skills::run::Runtime::open(config).expect("runtime opens");
    (state, rt)
}

/// Runs hand-written SQL against the demo warehouse and returns its rows as JSON.
pub fn demo_sql(sql: &str) -> Json {
    let conn = duckdb::Connection::open_with_flags(
        demo_warehouse(),
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .expect("config"),
    )
    .expect("open demo");
    let mut stmt = conn.prepare(sql).expect("prepare");
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        let n = r.as_ref().column_count();
        let mut cells = Vec::new();
        for i in 0..n {
            let v: duckdb::types::Value = r.get(i).expect("cell");
            cells.push(match v {
                duckdb::types::Value::Null => Json::Null,
                duckdb::types::Value::BigInt(i) => Json::from(i),
                duckdb::types::Value::Int(i) => Json::from(i),
                duckdb::types::Value::HugeInt(i) => Json::from(i as f64),
                duckdb::types::Value::Double(f) => Json::from(f),
                duckdb::types::Value::Float(f) => Json::from(f64::from(f)),
                duckdb::types::Value::Text(s) => Json::from(s),
                duckdb::types::Value::Decimal(d) => {
                    Json::from(d.to_string().parse::<f64>().unwrap_or(f64::NAN))
                }
                duckdb::types::Value::Boolean(b) => Json::from(b),
                other => Json::from(format!("{other:?}")),
            });
        }
        out.push(Json::Array(cells));
    }
    Json::Array(out)
}

/// Fails with every miss of an eval or skill-test report.
pub fn assert_no_misses(report: &cortex::eval::Report) {
    let misses: Vec<String> = report
        .misses
        .iter()
        .map(|m| format!("{}: {}", m.question, m.why))
        .collect();
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

/// metrics.yaml plus `slow_metric`, whose measure takes minutes: any short timeout stops it.
pub fn metrics_with_slow_metric() -> String {
    let yaml = std::fs::read_to_string(project_dir().join("metrics.yaml"))
        .expect("yaml")
        .replace(
            "\nfilters:\n",
            "
  - name: slow_model
    table: tickets
    measures:
      - name: burn
        agg: sum
        expr: \"(SELECT sum(x % 7) FROM range(100000000000) r(x))\"

filters:
",
        );
    format!(
        "{yaml}  - name: slow_metric
    type: simple
    description: Deliberately slow.
    owner: test
    unit: count
    measure: burn
"
    )
}
