//! The governed warehouse: DuckDB opened read-only with external access and extension
//! autoloading off and its configuration locked. Every query passes the SQL guard, runs
//! under a timeout that really interrupts DuckDB, is capped in rows, and is audited.

pub mod audit;
pub mod guard;
pub mod value;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use duckdb::{AccessMode, Config, Connection};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, instrument, warn};

pub use audit::{AuditContext, AuditEntry, AuditLog, AuditRecord};
pub use guard::GuardError;
pub use value::Value;

/// Limits applied to every execution.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            max_rows: 10_000,
        }
    }
}

/// A query's result.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// True when the row cap cut the result.
    pub truncated: bool,
    #[serde(skip)]
    pub elapsed: Duration,
    /// Hex SHA-256 of the columns and rows, as recorded in the audit log.
    pub result_hash: String,
}

/// Why a query produced no result, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("no warehouse at {0}; run `cortex demo` to build the demo warehouse, or set CORTEX_WAREHOUSE")]
    Missing(PathBuf),
    #[error("could not open the warehouse at {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(transparent)]
    Refused(#[from] GuardError),
    #[error("the query took longer than {} s and was stopped; try a shorter period or fewer groups", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("the warehouse could not run the query: {0}")]
    Query(String),
}

/// A read-only, governed connection to the warehouse.
pub struct Warehouse {
    conn: Mutex<Connection>,
    path: PathBuf,
    tables: BTreeSet<String>,
    limits: Limits,
    audit: Option<AuditLog>,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("path", &self.path)
            .finish()
    }
}

impl Warehouse {
    /// Opens `path` read-only. `tables` are the tables declared in metrics.yaml; nothing else
    /// can be queried.
    pub fn open(
        path: &Path,
        tables: BTreeSet<String>,
        limits: Limits,
        audit: Option<AuditLog>,
    ) -> Result<Warehouse, WarehouseError> {
        if !path.exists() {
            return Err(WarehouseError::Missing(path.to_path_buf()));
        }
        let open_err = |e: duckdb::Error| WarehouseError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let config = Config::default()
            .access_mode(AccessMode::ReadOnly)
            .and_then(|c| c.enable_external_access(false))
            .and_then(|c| c.enable_autoload_extension(false))
            .and_then(|c| c.with("autoinstall_known_extensions", "false"))
            .and_then(|c| c.with("lock_configuration", "true"))
            .map_err(open_err)?;
        let conn = Connection::open_with_flags(path, config).map_err(open_err)?;
        Ok(Warehouse {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            tables,
            limits,
            audit,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Guards, runs and audits one query.
    #[instrument(skip_all, fields(requester = %ctx.requester))]
    pub fn query(&self, sql: &str, ctx: &AuditContext) -> Result<QueryResult, WarehouseError> {
        self.query_with_params(sql, &[], ctx)
    }

    /// Like [`Warehouse::query`], with `$name` placeholders bound to values (never spliced
    /// into the SQL text).
    #[instrument(skip_all, fields(requester = %ctx.requester))]
    pub fn query_with_params(
        &self,
        sql: &str,
        params: &[(String, serde_json::Value)],
        ctx: &AuditContext,
    ) -> Result<QueryResult, WarehouseError> {
        let started = Instant::now();
        let outcome = guard::check(sql, &self.tables)
            .map_err(WarehouseError::from)
            .and_then(|()| self.execute_bound(sql, params));
        let duration = started.elapsed();
        let (status, rows, hash, error) = match &outcome {
            Ok(r) => ("ok", r.rows.len(), Some(r.result_hash.clone()), None),
            Err(WarehouseError::Refused(e)) => ("refused", 0, None, Some(e.to_string())),
            Err(WarehouseError::Timeout(_)) => ("timeout", 0, None, Some("timeout".into())),
            Err(e) => ("error", 0, None, Some(e.to_string())),
        };
        info!(
            status,
            rows,
            ms = duration.as_millis() as u64,
            "warehouse query"
        );
        if let Some(audit) = &self.audit {
            let rec = AuditRecord {
                ctx,
                sql,
                status,
                row_count: rows,
                duration,
                result_hash: hash,
                error,
            };
            if let Err(e) = audit.record(&rec) {
                warn!(error = %e, "could not write the audit record");
            }
        }
        outcome
    }

    /// Runs a query that already passed the guard: timeout, row cap, no audit.
    #[cfg(test)]
    fn execute(&self, sql: &str) -> Result<QueryResult, WarehouseError> {
        self.execute_bound(sql, &[])
    }

    fn execute_bound(
        &self,
        sql: &str,
        params: &[(String, serde_json::Value)],
    ) -> Result<QueryResult, WarehouseError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| WarehouseError::Query("the connection is unavailable".into()))?;
        let started = Instant::now();
        let fired = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let handle = conn.interrupt_handle();
        let watchdog = {
            let fired = fired.clone();
            let timeout = self.limits.timeout;
            std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
                    fired.store(true, Ordering::SeqCst);
                    handle.interrupt();
                }
            })
        };
        let result = read_all(&conn, sql, params, self.limits.max_rows);
        drop(done_tx);
        let _ = watchdog.join();
        let elapsed = started.elapsed();
        match result {
            Ok((columns, rows, truncated)) => {
                let result_hash = hash_result(&columns, &rows);
                Ok(QueryResult {
                    columns,
                    rows,
                    truncated,
                    elapsed,
                    result_hash,
                })
            }
            Err(_) if fired.load(Ordering::SeqCst) => {
                Err(WarehouseError::Timeout(self.limits.timeout))
            }
            Err(e) => Err(WarehouseError::Query(first_line(&e.to_string()))),
        }
    }
}

/// Runs a query on the given warehouse off the async runtime, keeping the tracing span.
pub async fn query_async(
    wh: Arc<Warehouse>,
    sql: String,
    ctx: AuditContext,
) -> Result<QueryResult, WarehouseError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| wh.query(&sql, &ctx)))
        .await
        .map_err(|e| WarehouseError::Query(format!("the query task failed: {e}")))?
}

type Table = (Vec<String>, Vec<Vec<Value>>, bool);

fn to_duckdb(v: &serde_json::Value) -> duckdb::types::Value {
    use duckdb::types::Value as D;
    match v {
        serde_json::Value::Null => D::Null,
        serde_json::Value::Bool(b) => D::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => D::BigInt(i),
            None => D::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => D::Text(s.clone()),
        other => D::Text(other.to_string()),
    }
}

fn read_all(
    conn: &Connection,
    sql: &str,
    params: &[(String, serde_json::Value)],
    max_rows: usize,
) -> duckdb::Result<Table> {
    let mut stmt = conn.prepare(sql)?;
    let values: Vec<(String, duckdb::types::Value)> = params
        .iter()
        .map(|(k, v)| (k.clone(), to_duckdb(v)))
        .collect();
    let bound: Vec<(&str, &dyn duckdb::ToSql)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v as &dyn duckdb::ToSql))
        .collect();
    let mut rows = if bound.is_empty() {
        stmt.query([])?
    } else {
        stmt.query(bound.as_slice())?
    };
    let mut out = Vec::new();
    let mut truncated = false;
    let mut ncols = None;
    while let Some(row) = rows.next()? {
        let n = *ncols.get_or_insert_with(|| row.as_ref().column_count());
        if out.len() == max_rows {
            truncated = true;
            break;
        }
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(Value::from_duckdb(row.get::<_, duckdb::types::Value>(i)?));
        }
        out.push(cells);
    }
    drop(rows);
    let columns = stmt.column_names();
    Ok((columns, out, truncated))
}

fn hash_result(columns: &[String], rows: &[Vec<Value>]) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(columns).unwrap_or_default());
    for r in rows {
        h.update(serde_json::to_vec(r).unwrap_or_default());
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Below the guard, DuckDB itself refuses writes, file access and setting changes.
    #[test]
    fn duckdb_is_read_only_without_external_access_and_locked() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("w.duckdb");
        {
            let c = Connection::open(&path).expect("create");
            c.execute_batch("CREATE TABLE t AS SELECT 1 AS x")
                .expect("seed");
        }
        let csv = dir.path().join("x.csv");
        std::fs::write(&csv, "a\n1\n").expect("csv");
        let wh = Warehouse::open(
            &path,
            BTreeSet::from(["t".to_string()]),
            Limits::default(),
            None,
        )
        .expect("open");
        for sql in [
            "CREATE TABLE u (x INT)".to_string(),
            "INSERT INTO t VALUES (2)".to_string(),
            format!("SELECT * FROM read_csv('{}')", csv.display()),
            "SET enable_external_access = true".to_string(),
            "SET access_mode = 'READ_WRITE'".to_string(),
        ] {
            assert!(wh.execute(&sql).is_err(), "DuckDB accepted: {sql}");
        }
        assert_eq!(
            wh.execute("SELECT x FROM t").expect("read").rows,
            vec![vec![Value::Int(1)]]
        );
    }
}
