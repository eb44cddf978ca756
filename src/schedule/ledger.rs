//! The scheduler's records in the state database: the delivery ledger (one row per slot and
//! recipient, claimed before anything is sent), the lease that lets one `serve` process
//! schedule at a time, when each job was first seen, and signal mutes and feedback.
//!
//! A ledger row is claimed together with the message it will send (the payload). The
//! outbox write for it uses the row's key as its idempotency key, so a process that dies
//! after claiming delivers the stored message on restart, and one that dies after queueing
//! cannot queue it twice.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use crate::warehouse::AuditLog;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS delivery_ledger (
    key TEXT PRIMARY KEY,
    -- briefing:<name> or signal:<name>
    job TEXT NOT NULL,
    -- The signal's scope member ('' for briefings and unscoped signals).
    scope TEXT NOT NULL DEFAULT '',
    -- The slot (UTC) of a briefing, or the window of a signal.
    slot TEXT NOT NULL,
    recipient TEXT NOT NULL,
    late INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    holder TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    -- Not before (quiet hours hold a signal until they end).
    due_at TEXT NOT NULL,
    enqueued_at TEXT
);
CREATE INDEX IF NOT EXISTS delivery_ledger_due ON delivery_ledger (enqueued_at, due_at);
CREATE INDEX IF NOT EXISTS delivery_ledger_job ON delivery_ledger (job, scope, claimed_at);
CREATE TABLE IF NOT EXISTS schedule_jobs (job TEXT PRIMARY KEY, since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schedule_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS signal_mutes (
    signal TEXT NOT NULL, scope TEXT NOT NULL, until TEXT NOT NULL, by_user TEXT NOT NULL,
    PRIMARY KEY (signal, scope)
);
CREATE TABLE IF NOT EXISTS signal_feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    signal TEXT NOT NULL, scope TEXT NOT NULL, window TEXT NOT NULL,
    by_user TEXT NOT NULL, verdict TEXT NOT NULL, at TEXT NOT NULL
);
";

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// A time as stored (UTC, sorts as text).
pub fn time_text(t: DateTime<Utc>) -> String {
    t.naive_utc().format(TIME_FORMAT).to_string()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// Why the ledger failed (the state database).
#[derive(Debug, thiserror::Error)]
#[error("delivery ledger: {0}")]
pub struct LedgerError(#[from] anyhow::Error);

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError(e.into())
    }
}

type Result<T> = std::result::Result<T, LedgerError>;

/// One delivery to claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The idempotency key: ledger row and outbox write.
    pub key: String,
    pub job: String,
    pub scope: String,
    pub slot: String,
    pub recipient: String,
    pub late: bool,
    pub payload: Value,
    pub due_at: DateTime<Utc>,
}

/// A claimed ledger row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    pub job: String,
    pub scope: String,
    pub slot: String,
    pub recipient: String,
    pub late: bool,
    pub payload: Value,
    pub claimed_at: String,
    pub enqueued: bool,
}

/// The scheduler's tables in one state database.
#[derive(Clone, Debug)]
pub struct Ledger {
    log: AuditLog,
}

impl Ledger {
    /// Creates the tables if missing.
    pub fn open(log: AuditLog) -> Result<Ledger> {
        log.with_conn(|c| Ok(c.execute_batch(SCHEMA)?))?;
        Ok(Ledger { log })
    }

    /// True when the slot is claimed already (by anyone, ever).
    pub fn claimed(&self, key: &str) -> Result<bool> {
        Ok(self.log.with_conn(|c| {
            Ok(c.query_row(
                "SELECT 1 FROM delivery_ledger WHERE key = ?1",
                [key],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })?)
    }

    /// Claims a delivery; false when the key was claimed before (nothing changes then).
    pub fn claim(&self, c: &Claim, holder: &str, now: DateTime<Utc>) -> Result<bool> {
        let payload = serde_json::to_string(&c.payload).map_err(anyhow::Error::from)?;
        Ok(self.log.with_conn(|conn| {
            let n = conn.execute(
                "INSERT OR IGNORE INTO delivery_ledger
                   (key, job, scope, slot, recipient, late, payload, holder, claimed_at, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    c.key,
                    c.job,
                    c.scope,
                    c.slot,
                    c.recipient,
                    c.late as i64,
                    payload,
                    holder,
                    time_text(now),
                    time_text(c.due_at)
                ],
            )?;
            Ok(n == 1)
        })?)
    }

    /// Claimed rows due by `now` whose outbox write is not queued yet.
    pub fn due(&self, now: DateTime<Utc>) -> Result<Vec<Row>> {
        self.rows("enqueued_at IS NULL AND due_at <= ?1", &time_text(now))
    }

    /// Claimed rows not queued yet, due or held.
    pub fn unsent(&self) -> Result<Vec<Row>> {
        self.rows("enqueued_at IS NULL AND ?1 = ?1", "")
    }

    /// Every row of a job (`briefing:<name>`), oldest first.
    pub fn of_job(&self, job: &str) -> Result<Vec<Row>> {
        self.rows("job = ?1", job)
    }

    fn rows(&self, cond: &str, arg: &str) -> Result<Vec<Row>> {
        let sql = format!(
            "SELECT key, job, scope, slot, recipient, late, payload, claimed_at, enqueued_at
             FROM delivery_ledger WHERE {cond} ORDER BY claimed_at, key"
        );
        Ok(self.log.with_conn(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st
                .query_map([arg], |r| {
                    let payload: String = r.get(6)?;
                    Ok(Row {
                        key: r.get(0)?,
                        job: r.get(1)?,
                        scope: r.get(2)?,
                        slot: r.get(3)?,
                        recipient: r.get(4)?,
                        late: r.get::<_, i64>(5)? != 0,
                        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                        claimed_at: r.get(7)?,
                        enqueued: r.get::<_, Option<String>>(8)?.is_some(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?)
    }

    /// Marks a row's outbox write as queued.
    pub fn mark_enqueued(&self, key: &str, now: DateTime<Utc>) -> Result<()> {
        Ok(self.log.with_conn(|c| {
            c.execute(
                "UPDATE delivery_ledger SET enqueued_at = ?2 WHERE key = ?1",
                params![key, time_text(now)],
            )?;
            Ok(())
        })?)
    }

    /// When `job` was first seen by a scheduler (recorded as `now` the first time).
    /// Slots before it are not missed deliveries: the job did not exist yet.
    pub fn since(&self, job: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
        Ok(self.log.with_conn(|c| {
            c.execute(
                "INSERT OR IGNORE INTO schedule_jobs (job, since) VALUES (?1, ?2)",
                params![job, time_text(now)],
            )?;
            let s: String = c.query_row(
                "SELECT since FROM schedule_jobs WHERE job = ?1",
                [job],
                |r| r.get(0),
            )?;
            Ok(parse_time(&s).unwrap_or(now))
        })?)
    }

    /// Takes or renews the scheduler lease until `now + ttl`; false while another holder's
    /// lease runs.
    pub fn lease(&self, holder: &str, now: DateTime<Utc>, ttl: chrono::Duration) -> Result<bool> {
        let (now_t, until) = (time_text(now), time_text(now + ttl));
        Ok(self.log.with_conn(|c| {
            c.execute(
                "INSERT OR IGNORE INTO schedule_lease (name, holder, until) VALUES ('scheduler', ?1, ?2)",
                params![holder, until],
            )?;
            let n = c.execute(
                "UPDATE schedule_lease SET holder = ?1, until = ?2
                 WHERE name = 'scheduler' AND (holder = ?1 OR until < ?3)",
                params![holder, until, now_t],
            )?;
            Ok(n == 1)
        })?)
    }

    /// Gives the lease up (a clean shutdown), so another process may take over at once.
    pub fn release(&self, holder: &str) -> Result<()> {
        Ok(self.log.with_conn(|c| {
            c.execute(
                "DELETE FROM schedule_lease WHERE name = 'scheduler' AND holder = ?1",
                [holder],
            )?;
            Ok(())
        })?)
    }

    /// Mutes a signal for a scope (`""`: unscoped) until `until`.
    pub fn mute(&self, signal: &str, scope: &str, until: DateTime<Utc>, by: &str) -> Result<()> {
        Ok(self.log.with_conn(|c| {
            c.execute(
                "INSERT INTO signal_mutes (signal, scope, until, by_user) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (signal, scope) DO UPDATE SET until = excluded.until, by_user = excluded.by_user",
                params![signal, scope, time_text(until), by],
            )?;
            Ok(())
        })?)
    }

    /// Until when a signal's scope is muted, if it is at `now`.
    pub fn muted(
        &self,
        signal: &str,
        scope: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        Ok(self.log.with_conn(|c| {
            let u: Option<String> = c
                .query_row(
                    "SELECT until FROM signal_mutes WHERE signal = ?1 AND scope = ?2 AND until > ?3",
                    params![signal, scope, time_text(now)],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(u.and_then(|u| parse_time(&u)))
        })?)
    }

    /// Stores a person's verdict on a firing ("not_useful").
    pub fn feedback(
        &self,
        signal: &str,
        scope: &str,
        window: &str,
        by: &str,
        verdict: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        Ok(self.log.with_conn(|c| {
            c.execute(
                "INSERT INTO signal_feedback (signal, scope, window, by_user, verdict, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![signal, scope, window, by, verdict, time_text(now)],
            )?;
            Ok(())
        })?)
    }

    /// Every stored verdict on a signal: (scope, window, user, verdict).
    pub fn feedback_of(&self, signal: &str) -> Result<Vec<(String, String, String, String)>> {
        Ok(self.log.with_conn(|c| {
            let mut st = c.prepare(
                "SELECT scope, window, by_user, verdict FROM signal_feedback WHERE signal = ?1 ORDER BY id",
            )?;
            let rows = st
                .query_map([signal], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?)
    }

    /// When a signal last fired for a scope (any window), by claim time.
    pub fn last_fired(&self, job: &str, scope: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.log.with_conn(|c| {
            let t: Option<String> = c
                .query_row(
                    "SELECT MAX(claimed_at) FROM delivery_ledger WHERE job = ?1 AND scope = ?2",
                    params![job, scope],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            Ok(t.and_then(|t| parse_time(&t)))
        })?)
    }

    /// True when a firing of the same signal, scope and window was claimed already (for any
    /// recipient): cooldown does not apply to the rest of its audience.
    pub fn window_fired(&self, job: &str, scope: &str, window: &str) -> Result<bool> {
        Ok(self.log.with_conn(|c| {
            Ok(c.query_row(
                "SELECT 1 FROM delivery_ledger WHERE job = ?1 AND scope = ?2 AND slot = ?3 LIMIT 1",
                params![job, scope, window],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let d = tempfile::tempdir().unwrap();
        let log = AuditLog::open(&d.path().join("state.db")).unwrap();
        (d, Ledger::open(log).unwrap())
    }

    fn t(h: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 11, 30, h, 0, 0).unwrap()
    }

    #[test]
    fn a_key_is_claimed_once_and_unsent_rows_come_back() {
        let (_d, l) = ledger();
        let c = Claim {
            key: "briefing:x:U1:2026-11-30T08:00:00Z".into(),
            job: "briefing:x".into(),
            scope: String::new(),
            slot: "2026-11-30T08:00:00Z".into(),
            recipient: "U1".into(),
            late: false,
            payload: serde_json::json!({"text": "hi"}),
            due_at: t(8),
        };
        assert!(l.claim(&c, "a", t(8)).unwrap());
        assert!(!l.claim(&c, "b", t(9)).unwrap());
        assert!(l.claimed(&c.key).unwrap());
        let due = l.due(t(8)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].payload["text"], "hi");
        l.mark_enqueued(&c.key, t(8)).unwrap();
        assert!(l.due(t(9)).unwrap().is_empty());
        assert_eq!(l.last_fired("briefing:x", "").unwrap(), Some(t(8)));
    }

    #[test]
    fn the_lease_has_one_holder_until_it_lapses_or_is_released() {
        let (_d, l) = ledger();
        let ttl = chrono::Duration::minutes(1);
        assert!(l.lease("a", t(8), ttl).unwrap());
        assert!(!l.lease("b", t(8), ttl).unwrap());
        assert!(l.lease("a", t(8), ttl).unwrap(), "renewal");
        assert!(l.lease("b", t(9), ttl).unwrap(), "lapsed");
        assert!(!l.lease("a", t(9), ttl).unwrap());
        l.release("b").unwrap();
        assert!(l.lease("a", t(9), ttl).unwrap());
    }

    #[test]
    fn mutes_expire_and_since_is_remembered() {
        let (_d, l) = ledger();
        l.mute("s", "vertical=Electronics", t(10), "U1").unwrap();
        assert_eq!(
            l.muted("s", "vertical=Electronics", t(9)).unwrap(),
            Some(t(10))
        );
        assert_eq!(l.muted("s", "vertical=Electronics", t(11)).unwrap(), None);
        assert_eq!(l.muted("s", "vertical=Fashion", t(9)).unwrap(), None);
        assert_eq!(l.since("j", t(5)).unwrap(), t(5));
        assert_eq!(l.since("j", t(7)).unwrap(), t(5));
    }
}
