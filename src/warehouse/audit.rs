//! The audit log: one record per warehouse execution, appended to the state database
//! (never the warehouse).
//!
//! The state database is SQLite in WAL mode, so `cortex serve` and any number of CLI
//! commands can read and write it at once: readers never block, a writer waits (up to
//! [`BUSY_TIMEOUT`]) for another process's write to finish, and every write is one short
//! autocommit statement. One connection is kept per process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use rusqlite::{params, Connection};

/// How long a write waits for another process's write before it fails.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

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
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS audit_log (
    executed_at TEXT NOT NULL,
    requester TEXT NOT NULL,
    question TEXT NOT NULL,
    query_json TEXT,
    sql TEXT NOT NULL,
    status TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    result_hash TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_executed_at ON audit_log (executed_at);";

/// The current UTC time as stored (sorts as text).
pub(crate) fn now_text() -> String {
    Utc::now()
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

/// Opens a state database connection: WAL, a busy timeout, and `synchronous = NORMAL`
/// (a committed write survives a crash of the process).
fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the state database {} (is it an SQLite file?): {e}",
            path.display()
        )
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Switching to WAL needs a moment of exclusive access; the busy timeout covers it.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        anyhow::bail!(
            "the state database {} could not switch to WAL mode (got {mode})",
            path.display()
        );
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    Ok(conn)
}

impl AuditLog {
    /// Opens (creating if missing) the state database and its audit table.
    pub fn open(path: &Path) -> anyhow::Result<AuditLog> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let conn = connect(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (one autocommit statement; waits out other writers).
    pub fn record(&self, r: &AuditRecord) -> anyhow::Result<()> {
        self.with_conn(|conn| {
            conn.execute(
                "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    now_text(),
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
        })
    }

    /// Runs `f` on the process's connection.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let guard = self
            .conn
            .lock()
            .map_err(|_| anyhow::anyhow!("state database connection poisoned"))?;
        f(&guard)
    }

    /// The most recent records, newest first.
    pub fn recent(&self, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare(
                "SELECT requester, question, sql, status, row_count, duration_ms, result_hash, error
                 FROM audit_log ORDER BY executed_at DESC, rowid DESC LIMIT ?",
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
        })
    }

    /// How many records there are, all or those of requesters starting with `prefix`
    /// (for the load benchmark and tests: asks against records).
    pub fn count(&self, prefix: Option<&str>) -> anyhow::Result<u64> {
        self.with_conn(|conn| {
            let n: i64 = match prefix {
                Some(p) => conn.query_row(
                    "SELECT count(*) FROM audit_log WHERE substr(requester, 1, length(?1)) = ?1",
                    params![p],
                    |r| r.get(0),
                )?,
                None => conn.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))?,
            };
            Ok(n.max(0) as u64)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(log: &AuditLog, who: &str) {
        let ctx = AuditContext {
            requester: who.into(),
            question: "q".into(),
            query_json: None,
        };
        log.record(&AuditRecord {
            ctx: &ctx,
            sql: "SELECT 1",
            status: "ok",
            row_count: 1,
            duration: Duration::from_millis(1),
            result_hash: None,
            error: None,
        })
        .expect("record");
    }

    #[test]
    fn two_handles_on_one_file_write_at_once_and_lose_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.sqlite");
        let a = AuditLog::open(&path).expect("open a");
        // A second connection stands in for a second process.
        let b = AuditLog::open(&path).expect("open b");
        let threads: Vec<_> = [("a", a.clone()), ("b", b.clone())]
            .into_iter()
            .map(|(who, log)| {
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        record(&log, &format!("cli:{who}"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer");
        }
        assert_eq!(a.count(None).expect("count"), 100);
        assert_eq!(b.count(Some("cli:a")).expect("count"), 50);
        assert_eq!(a.recent(3).expect("recent").len(), 3);
        let mode: String = a
            .with_conn(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
            .expect("mode");
        assert_eq!(mode, "wal");
    }
}
