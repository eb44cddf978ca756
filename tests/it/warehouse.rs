//! Governed warehouse access: the guard in front of DuckDB, the timeout that interrupts a
//! running query, the row cap, and the audit log in the state database.

use std::time::{Duration, Instant};

use cortex::engine::Engine;
use cortex::warehouse::{AuditLog, Limits, Value, Warehouse, WarehouseError};

use crate::helpers::{ctx, fixture};

fn tables() -> std::collections::BTreeSet<String> {
    cortex::engine::load_layer(&crate::helpers::project_dir().join("metrics.yaml"))
        .expect("layer")
        .tables()
}

#[test]
fn refused_queries_never_reach_duckdb_and_are_audited() {
    let f = fixture();
    let e = f.engine();
    for (sql, why) in [
        ("DROP TABLE merchants", "only SELECT"),
        ("SELECT * FROM secrets", "not declared"),
        ("SELECT 1; SELECT 2", "single statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table function"),
        ("COPY merchants TO '/tmp/x.csv'", "only SELECT"),
        ("ATTACH '/tmp/other.duckdb' AS o", "only SELECT"),
    ] {
        match e.warehouse.query(sql, &ctx(sql)) {
            Err(WarehouseError::Refused(g)) => assert!(g.0.contains(why), "{sql}: {g}"),
            other => panic!("{sql}: expected refusal, got {other:?}"),
        }
    }
    // The fixture still has its tables (nothing was dropped).
    let r = e
        .warehouse
        .query("SELECT count(*) FROM merchants", &ctx("count"))
        .expect("select runs");
    assert_eq!(r.rows[0][0], cortex::warehouse::Value::Int(3));
    let log = e.warehouse.audit_log().expect("audit log");
    let recent = log.recent(10).expect("read audit");
    assert_eq!(recent.len(), 7);
    assert_eq!(recent.iter().filter(|r| r.status == "refused").count(), 6);
    assert_eq!(recent[0].status, "ok");
    assert_eq!(recent[0].row_count, 1);
    assert_eq!(
        recent[0].result_hash.as_deref(),
        Some(r.result_hash.as_str())
    );
    assert_eq!(recent[0].requester, "cli:test");
}

#[test]
fn the_timeout_interrupts_a_running_query() {
    let f = fixture();
    let audit = AuditLog::open(&f.state_db).expect("audit");
    let wh = Warehouse::open(
        &f.warehouse,
        tables(),
        Limits {
            timeout: Duration::from_millis(200),
            max_rows: 100,
            ..Limits::default()
        },
        Some(audit.clone()),
    )
    .expect("open");
    // About 10^11 rows: minutes of work unless interrupted.
    let started = Instant::now();
    let err = wh
        .query(
            "SELECT sum(x % 7) FROM range(100000000000) t(x)",
            &ctx("slow"),
        )
        .expect_err("must time out");
    let took = started.elapsed();
    assert!(matches!(err, WarehouseError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("was stopped"), "{err}");
    assert!(took < Duration::from_secs(20), "interrupt took {took:?}");
    // The connection is usable afterwards.
    let r = wh
        .query("SELECT 42", &ctx("after"))
        .expect("runs after timeout");
    assert_eq!(r.rows[0][0], cortex::warehouse::Value::Int(42));
    let recent = audit.recent(5).expect("audit");
    assert_eq!(recent[1].status, "timeout");
}

#[test]
fn the_row_cap_truncates_and_says_so() {
    let f = fixture();
    let wh = Warehouse::open(
        &f.warehouse,
        tables(),
        Limits {
            timeout: Duration::from_secs(10),
            max_rows: 4,
            ..Limits::default()
        },
        None,
    )
    .expect("open");
    let r = wh
        .query("SELECT ticket_id FROM tickets ORDER BY 1", &ctx("cap"))
        .expect("runs");
    assert_eq!(r.rows.len(), 4);
    assert!(r.truncated);
    let r = wh
        .query("SELECT merchant_id FROM merchants", &ctx("cap"))
        .expect("runs");
    assert!(!r.truncated);
}

#[test]
fn the_warehouse_file_is_never_written() {
    let f = fixture();
    let before = std::fs::read(&f.warehouse).expect("read");
    {
        let e = f.engine();
        let _ = e.warehouse.query("SELECT count(*) FROM tickets", &ctx("x"));
        let _ = e.warehouse.query("DELETE FROM tickets", &ctx("x"));
    }
    let after = std::fs::read(&f.warehouse).expect("read");
    assert!(before == after, "the warehouse file changed");
    // The audit went to the separate state database.
    assert!(f.state_db.exists());
}

/// Below the guard: the warehouse opened as the product opens it (`Engine::open`), then
/// writes sent straight to DuckDB on its pooled connections, skipping the SQL guard.
/// DuckDB itself refuses each one because the file is attached read-only, and the file's
/// bytes and modification time are unchanged (no WAL file appears either).
#[test]
fn duckdb_itself_refuses_writes_to_the_warehouse_file() {
    let f = fixture();
    let before = std::fs::read(&f.warehouse).expect("read");
    let mtime = std::fs::metadata(&f.warehouse)
        .and_then(|m| m.modified())
        .expect("mtime");
    let wal = f.warehouse.with_extension("duckdb.wal");
    {
        let e = f.engine();
        let wh = &e.warehouse;
        // The guard would stop these before DuckDB sees them.
        assert!(matches!(
            wh.query("DELETE FROM tickets", &ctx("guarded")),
            Err(WarehouseError::Refused(_))
        ));
        // The attached warehouse's name, as DuckDB knows it (random per open).
        let r = wh
            .unguarded_for_tests(
                "SELECT database_name FROM duckdb_databases() \
                 WHERE path LIKE '%tiny.duckdb' AND NOT internal",
                None,
            )
            .expect("the catalog lists the warehouse");
        let db = match r.rows.as_slice() {
            [row] => row[0].as_str().expect("a name").to_string(),
            rows => panic!("expected one attached warehouse, got {rows:?}"),
        };
        // The warehouse is attached read-only: DuckDB says so itself.
        let r = wh
            .unguarded_for_tests(
                &format!("SELECT readonly FROM duckdb_databases() WHERE database_name = '{db}'"),
                None,
            )
            .expect("read the flag");
        assert_eq!(r.rows, vec![vec![Value::Bool(true)]]);
        let count = |wh: &cortex::warehouse::Warehouse| {
            wh.unguarded_for_tests(&format!("SELECT count(*) FROM {db}.main.tickets"), None)
                .expect("count")
                .rows[0][0]
                .clone()
        };
        let tickets = count(wh);
        for sql in [
            format!("DELETE FROM {db}.main.tickets"),
            format!("UPDATE {db}.main.tickets SET channel = 'x'"),
            format!("INSERT INTO {db}.main.tickets SELECT * FROM {db}.main.tickets"),
            format!("DROP TABLE {db}.main.tickets"),
            format!("CREATE TABLE {db}.main.pwned (x INTEGER)"),
            format!("ALTER TABLE {db}.main.tickets ADD COLUMN pwned INTEGER"),
        ] {
            match wh.unguarded_for_tests(&sql, None) {
                Err(WarehouseError::Query(msg)) => assert!(
                    msg.contains("read-only mode"),
                    "{sql}: refused, but not for being read-only: {msg}"
                ),
                other => panic!("DuckDB accepted {sql}: {other:?}"),
            }
        }
        // A checkpoint of a read-only database is a no-op DuckDB accepts; the file checks
        // below show it wrote nothing.
        let _ = wh.unguarded_for_tests(&format!("CHECKPOINT {db}"), None);
        // Nothing changed, as seen through the same connection.
        assert_eq!(count(wh), tickets);
    }
    let after = std::fs::read(&f.warehouse).expect("read");
    assert!(before == after, "the warehouse file's bytes changed");
    let mtime_after = std::fs::metadata(&f.warehouse)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(mtime, mtime_after, "the warehouse file was written");
    assert!(!wal.exists(), "a WAL file appeared: {}", wal.display());
}

#[test]
fn a_missing_warehouse_is_a_clear_error() {
    let f = fixture();
    let mut cfg = f.config(Duration::from_secs(1));
    cfg.warehouse = f.dir.path().join("nope.duckdb");
    let err = Engine::open(cfg).err().expect("must fail");
    assert!(err.to_string().contains("cortex demo"), "{err}");
}

#[test]
fn query_errors_are_one_sentence() {
    let f = fixture();
    let e = f.engine();
    let err = e
        .warehouse
        .query("SELECT no_such_column FROM merchants", &ctx("bad"))
        .expect_err("binder error");
    let msg = err.to_string();
    assert!(
        msg.starts_with("the warehouse could not run the query"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
}
