//! The audit log: one record per warehouse execution, appended to the state database
//! (never the warehouse). One connection is kept per process; DuckDB lets one process write
//! a file at a time, so another process waits (briefly retrying) for its turn.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use duckdb::{params, Connection};

/// Who asked and what, attached to every execution.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    /// Slack user id, web user, or `cli:<os user>`.
    pub requester: String,
    /// The question or structured query as the user gave it.
    pub question: String,
    /// The structured query as JSON, when there is one.
    pub query_json: Option<String>,
}

/// Outcome of one execution.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    pub ctx: &'a AuditContext,
    pub sql: &'a str,
    pub status: &'a str,
    pub row_count: usize,
    pub duration: Duration,
    pub result_hash: Option<String>,
    pub error: Option<String>,
}

/// Append-only audit log in the state database.
#[derive(Clone)]
pub struct AuditLog {
    path: PathBuf,
    conn: Arc<Mutex<Option<Connection>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS audit_log (
    executed_at TIMESTAMP NOT NULL,
    requester VARCHAR NOT NULL,
    question VARCHAR NOT NULL,
    query_json VARCHAR,
    sql VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    row_count BIGINT NOT NULL,
    duration_ms DOUBLE NOT NULL,
    result_hash VARCHAR,
    error VARCHAR
)";

impl AuditLog {
    /// Creates the state database and its table if missing.
    pub fn open(path: &Path) -> anyhow::Result<AuditLog> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(Some(conn))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record. Retries briefly when another process holds the file.
    pub fn record(&self, r: &AuditRecord) -> anyhow::Result<()> {
        let mut last = None;
        for attempt in 0..20u64 {
            match self.try_record(r) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    last = Some(e);
                    std::thread::sleep(Duration::from_millis(10 * (attempt + 1)));
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("audit write failed")))
    }

    /// Runs `f` on the process's connection, opening it first if needed.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| anyhow::anyhow!("audit connection poisoned"))?;
        if guard.is_none() {
            *guard = Some(Connection::open(&self.path)?);
        }
        f(guard
            .as_ref()
            .expect("invariant: connection set just above"))
    }

    fn try_record(&self, r: &AuditRecord) -> anyhow::Result<()> {
        self.with_conn(|conn| Self::insert(conn, r))
    }

    fn insert(conn: &Connection, r: &AuditRecord) -> anyhow::Result<()> {
        conn.execute(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                Utc::now()
                    .naive_utc()
                    .format("%Y-%m-%d %H:%M:%S%.6f")
                    .to_string(),
                r.ctx.requester,
                r.ctx.question,
                r.ctx.query_json,
                r.sql,
                r.status,
                r.row_count as i64,
                r.duration.as_secs_f64() * 1000.0,
                r.result_hash,
                r.error,
            ],
        )?;
        Ok(())
    }

    /// The most recent records, newest first, as (requester, question, sql, status, row_count, result_hash).
    pub fn recent(&self, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        self.with_conn(|conn| Self::read_recent(conn, limit))
    }

    fn read_recent(conn: &Connection, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        let mut stmt = conn.prepare(
            "SELECT requester, question, sql, status, row_count, duration_ms, result_hash, error
             FROM audit_log ORDER BY executed_at DESC LIMIT ?",
        )?;
        let rows = stmt.query_map(params![limit as i64], |row| {
            Ok(AuditEntry {
                requester: row.get(0)?,
                question: row.get(1)?,
                sql: row.get(2)?,
                status: row.get(3)?,
                row_count: row.get(4)?,
                duration_ms: row.get(5)?,
                result_hash: row.get(6)?,
                error: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// One stored audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub requester: String,
    pub question: String,
    pub sql: String,
    pub status: String,
    pub row_count: i64,
    pub duration_ms: f64,
    pub result_hash: Option<String>,
    pub error: Option<String>,
}
