//! Every API and MCP call, audited in the state database (`api_calls`): who (the person,
//! the token), where (`api` or `mcp`), what (the operation) and how it ended. Warehouse
//! queries and answers are audited as well, as on every path, under the same requester.

use rusqlite::params;

use crate::warehouse::AuditLog;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_calls (
    at TEXT NOT NULL,
    requester TEXT NOT NULL,
    token_id INTEGER,
    surface TEXT NOT NULL,
    operation TEXT NOT NULL,
    -- 'ok' or the error's code.
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_calls_at ON api_calls (at);
";

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub at: String,
    pub requester: String,
    pub token_id: Option<i64>,
    pub surface: String,
    pub operation: String,
    pub outcome: String,
}

/// The `api_calls` table.
#[derive(Debug, Clone)]
pub struct CallLog {
    log: AuditLog,
}

impl CallLog {
    /// Creates the table if missing.
    pub fn open(log: AuditLog) -> anyhow::Result<CallLog> {
        log.with_conn(|c| Ok(c.execute_batch(SCHEMA)?))?;
        Ok(CallLog { log })
    }

    /// Records a call; a failure is logged, never returned (the call already happened).
    pub fn record(&self, caller: &super::Caller, surface: &str, operation: &str, outcome: &str) {
        let now = crate::warehouse::audit::now_text();
        let r = self.log.with_conn(|c| {
            Ok(c.execute(
                "INSERT INTO api_calls VALUES (?, ?, ?, ?, ?, ?)",
                params![
                    now,
                    caller.requester,
                    caller.token_id,
                    surface,
                    operation,
                    outcome
                ],
            )?)
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not audit an API call");
        }
    }

    /// The newest calls first.
    pub fn recent(&self, limit: usize) -> anyhow::Result<Vec<Call>> {
        self.log.with_conn(|c| {
            let mut stmt = c.prepare(
                "SELECT at, requester, token_id, surface, operation, outcome FROM api_calls ORDER BY rowid DESC LIMIT ?",
            )?;
            let rows = stmt.query_map(params![limit as i64], |r| {
                Ok(Call {
                    at: r.get(0)?,
                    requester: r.get(1)?,
                    token_id: r.get(2)?,
                    surface: r.get(3)?,
                    operation: r.get(4)?,
                    outcome: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}
