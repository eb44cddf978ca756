//! The durable outbox: every external write (a Linear issue, a Notion page, the Slack post of a
//! briefing or signal) is first recorded in the state database, then delivered, retried and,
//! when it keeps failing, kept as a dead letter that a person can retry.
//!
//! # Guarantees
//!
//! - **Nothing is lost.** A write is committed to SQLite before anyone is told it was queued;
//!   a crash at any point leaves it pending or in flight, and it is delivered after restart.
//! - **Nothing twice.** Each write has an idempotency key (`UNIQUE`): enqueueing the same key
//!   again returns the existing write. A delivery is claimed under a lease, so two processes
//!   never send the same write at once. A process killed between the external call and the
//!   bookkeeping leaves the write in flight; once the lease lapses it is sent again, so every
//!   [`Deliverer`] must be idempotent on the key at the service (Linear's client-chosen issue
//!   id, a Notion query for the key before creating, Slack message metadata).
//! - **Failures are visible.** Transient errors retry with exponential backoff and jitter,
//!   honouring `Retry-After`; after `max_attempts`, or at once on a permanent error, the write
//!   is dead, shown with its error on the web site's audit page and retryable there.
//! - **No secrets.** Error messages are redacted of every configured secret before they are
//!   stored or logged.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;
use tokio::sync::Notify;

use crate::warehouse::AuditLog;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- pending | inflight | done | dead
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When a pending write is next due (UTC, sortable text).
    next_at TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    last_error TEXT,
    result TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
";

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

fn time_text(t: DateTime<Utc>) -> String {
    t.naive_utc().format(TIME_FORMAT).to_string()
}

#[cfg(test)]
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// A boxed future, for [`Deliverer`] (a trait object with an async method).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: rate limited, 5xx, timeout, connection refused.
    #[error("{message}")]
    Retry {
        message: String,
        /// The service's `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
    },
    /// Will fail the same way again (a validation error): dead at once.
    #[error("{message}")]
    Permanent { message: String },
}

impl DeliveryError {
    /// A transient failure without a `Retry-After`.
    pub fn retry(message: impl Into<String>) -> DeliveryError {
        DeliveryError::Retry {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A permanent failure.
    pub fn permanent(message: impl Into<String>) -> DeliveryError {
        DeliveryError::Permanent {
            message: message.into(),
        }
    }

    fn message(&self) -> &str {
        match self {
            DeliveryError::Retry { message, .. } | DeliveryError::Permanent { message } => message,
        }
    }
}

/// Performs one kind of external write.
///
/// It must be idempotent on `key`: after a crash between the call and the bookkeeping the
/// outbox calls it again with the same key, and the service must then not act twice.
pub trait Deliverer: Send + Sync {
    /// The kind of write it handles, e.g. `linear.issue`.
    fn kind(&self) -> &'static str;

    /// Performs the write; returns what callers may want back (an issue URL, a page id).
    fn deliver<'a>(
        &'a self,
        key: &'a str,
        payload: &'a Value,
    ) -> BoxFuture<'a, std::result::Result<Value, DeliveryError>>;
}

/// The deliverers of a process, by kind.
#[derive(Clone, Default)]
pub struct Deliverers {
    by_kind: HashMap<&'static str, Arc<dyn Deliverer>>,
}

impl std::fmt::Debug for Deliverers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<_> = self.by_kind.keys().collect();
        kinds.sort();
        f.debug_struct("Deliverers").field("kinds", &kinds).finish()
    }
}

impl Deliverers {
    pub fn new() -> Deliverers {
        Deliverers::default()
    }

    /// Adds (or replaces) the deliverer of its kind.
    pub fn with(mut self, d: Arc<dyn Deliverer>) -> Deliverers {
        self.by_kind.insert(d.kind(), d);
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Deliverer>> {
        self.by_kind.get(kind)
    }

    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }
}

/// Where a write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteState {
    Pending,
    InFlight,
    Done,
    Dead,
}

impl WriteState {
    fn as_str(self) -> &'static str {
        match self {
            WriteState::Pending => "pending",
            WriteState::InFlight => "inflight",
            WriteState::Done => "done",
            WriteState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> WriteState {
        match s {
            "inflight" => WriteState::InFlight,
            "done" => WriteState::Done,
            "dead" => WriteState::Dead,
            _ => WriteState::Pending,
        }
    }

    /// Done or dead: nothing more will happen without a person.
    pub fn is_final(self) -> bool {
        matches!(self, WriteState::Done | WriteState::Dead)
    }
}

/// One write as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WriteRecord {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub payload: Value,
    pub state: WriteState,
    pub attempts: u32,
    pub next_at: String,
    pub last_error: Option<String>,
    pub result: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    pub done_at: Option<String>,
}

const COLUMNS: &str = "id, key, kind, payload, state, attempts, next_at, last_error, result, \
                       created_at, updated_at, done_at";

fn read_record(row: &Row) -> rusqlite::Result<WriteRecord> {
    let payload: String = row.get(3)?;
    let state: String = row.get(4)?;
    let result: Option<String> = row.get(8)?;
    Ok(WriteRecord {
        id: row.get(0)?,
        key: row.get(1)?,
        kind: row.get(2)?,
        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
        state: WriteState::parse(&state),
        attempts: row.get::<_, i64>(5)?.max(0) as u32,
        next_at: row.get(6)?,
        last_error: row.get(7)?,
        result: result.and_then(|r| serde_json::from_str(&r).ok()),
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        done_at: row.get(11)?,
    })
}

/// What [`Outbox::enqueue`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    pub id: i64,
    /// The key was already queued (a double click, a retried request): nothing new was added.
    pub existing: bool,
}

/// Retry and lease settings (`[outbox]` in cortex.toml).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxSettings {
    /// Attempts before a write is dead (default 8).
    pub max_attempts: u32,
    /// The first retry's delay; doubles each attempt (default 2 s).
    pub base_delay: Duration,
    /// The longest delay between attempts (default 10 min).
    pub max_delay: Duration,
    /// How long a claimed write belongs to its process; after that, another process (or the
    /// same one restarted) may send it again (default 60 s).
    pub lease: Duration,
    /// How often `run` looks for due writes besides being woken by `enqueue` (default 1 s).
    pub poll: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            max_attempts: 8,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
        }
    }
}

/// The outbox of one state database.
#[derive(Clone)]
pub struct Outbox {
    log: AuditLog,
    settings: OutboxSettings,
    /// Identifies this process's leases.
    owner: String,
    secrets: Arc<Vec<String>>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("owner", &self.owner)
            .field("settings", &self.settings)
            .finish()
    }
}

impl Outbox {
    /// Creates the table if missing.
    pub fn open(log: AuditLog) -> Result<Outbox> {
        log.with_conn(|c| Ok(c.execute_batch(SCHEMA)?))?;
        Ok(Outbox {
            log,
            settings: OutboxSettings::default(),
            owner: crate::state::new_id("outbox"),
            secrets: Arc::new(Vec::new()),
            wake: Arc::new(Notify::new()),
        })
    }

    pub fn with_settings(mut self, settings: OutboxSettings) -> Outbox {
        self.settings = settings;
        self
    }

    /// Secrets to strip from every stored or logged error message.
    pub fn with_secrets(mut self, secrets: Vec<String>) -> Outbox {
        self.secrets = Arc::new(secrets.into_iter().filter(|s| s.len() >= 4).collect());
        self
    }

    pub fn settings(&self) -> &OutboxSettings {
        &self.settings
    }

    /// `text` with every configured secret replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter() {
            out = out.replace(s.as_str(), "[redacted]");
        }
        out
    }

    /// Queues a write, due now. The same key again returns the existing write untouched.
    pub fn enqueue(&self, kind: &str, key: &str, payload: &Value) -> Result<Enqueued> {
        self.enqueue_at(kind, key, payload, Utc::now())
    }

    /// [`Outbox::enqueue`] at an injected time.
    pub fn enqueue_at(
        &self,
        kind: &str,
        key: &str,
        payload: &Value,
        now: DateTime<Utc>,
    ) -> Result<Enqueued> {
        if key.trim().is_empty() {
            anyhow::bail!("an outbox write needs an idempotency key");
        }
        let now_s = time_text(now);
        let body = serde_json::to_string(payload)?;
        let out = self.log.with_conn(|c| {
            let inserted = c.execute(
                "INSERT INTO outbox (key, kind, payload, state, attempts, next_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4, ?4) ON CONFLICT (key) DO NOTHING",
                params![key, kind, body, now_s],
            )?;
            let id: i64 =
                c.query_row("SELECT id FROM outbox WHERE key = ?", params![key], |r| {
                    r.get(0)
                })?;
            Ok(Enqueued {
                id,
                existing: inserted == 0,
            })
        })?;
        if !out.existing {
            tracing::info!(kind, key, "outbox: queued");
            self.wake.notify_one();
        }
        Ok(out)
    }

    /// The write with this key.
    pub fn get(&self, key: &str) -> Result<Option<WriteRecord>> {
        self.log.with_conn(|c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM outbox WHERE key = ?"),
                params![key],
                read_record,
            )
            .optional()?)
        })
    }

    /// The write with this id.
    pub fn by_id(&self, id: i64) -> Result<Option<WriteRecord>> {
        self.log.with_conn(|c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM outbox WHERE id = ?"),
                params![id],
                read_record,
            )
            .optional()?)
        })
    }

    /// The newest writes, dead letters first.
    pub fn list(&self, limit: usize) -> Result<Vec<WriteRecord>> {
        self.log.with_conn(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM outbox
                 ORDER BY state = 'dead' DESC, id DESC LIMIT ?"
            ))?;
            let rows = stmt.query_map(params![limit as i64], read_record)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Counts by state: (pending or in flight, done, dead).
    pub fn counts(&self) -> Result<(u64, u64, u64)> {
        self.log.with_conn(|c| {
            let n = |sql: &str| -> rusqlite::Result<u64> {
                c.query_row(sql, [], |r| r.get::<_, i64>(0))
                    .map(|n| n.max(0) as u64)
            };
            Ok((
                n("SELECT count(*) FROM outbox WHERE state IN ('pending', 'inflight')")?,
                n("SELECT count(*) FROM outbox WHERE state = 'done'")?,
                n("SELECT count(*) FROM outbox WHERE state = 'dead'")?,
            ))
        })
    }

    /// Sends a dead write again from scratch (a person's decision). False if it is not dead.
    pub fn retry(&self, id: i64) -> Result<bool> {
        let now = time_text(Utc::now());
        let changed = self.log.with_conn(|c| {
            Ok(c.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?2, updated_at = ?2,
                        lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1 AND state = 'dead'",
                params![id, now],
            )?)
        })?;
        if changed > 0 {
            tracing::info!(id, "outbox: dead letter queued again");
            self.wake.notify_one();
        }
        Ok(changed > 0)
    }

    /// Waits until the write is done or dead, or `timeout` passes; returns it as it then is.
    pub async fn wait_done(&self, key: &str, timeout: Duration) -> Result<Option<WriteRecord>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let rec = self.get(key)?;
            match &rec {
                Some(r) if r.state.is_final() => return Ok(rec),
                None => return Ok(None),
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(rec);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Claims the writes due at `now` (pending and due, or in flight under a lapsed lease)
    /// that this process can deliver; each claim counts an attempt.
    fn claim(&self, kinds: &[&str], now: DateTime<Utc>, limit: usize) -> Result<Vec<WriteRecord>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let now_s = time_text(now);
        let lease_until = time_text(now + chrono_duration(self.settings.lease));
        let placeholders = vec!["?"; kinds.len()].join(", ");
        self.log.with_conn(|c| {
            // IMMEDIATE: the write lock is taken before reading, so two processes never claim
            // the same row.
            c.execute_batch("BEGIN IMMEDIATE")?;
            let claimed = (|| -> rusqlite::Result<Vec<WriteRecord>> {
                let sql = format!(
                    "SELECT {COLUMNS} FROM outbox
                     WHERE kind IN ({placeholders})
                       AND ((state = 'pending' AND next_at <= ?)
                         OR (state = 'inflight' AND lease_until <= ?))
                     ORDER BY next_at, id LIMIT {limit}"
                );
                let mut args: Vec<&dyn rusqlite::ToSql> =
                    kinds.iter().map(|k| k as &dyn rusqlite::ToSql).collect();
                args.push(&now_s);
                args.push(&now_s);
                let mut stmt = c.prepare(&sql)?;
                let rows: Vec<WriteRecord> = stmt
                    .query_map(args.as_slice(), read_record)?
                    .collect::<rusqlite::Result<_>>()?;
                for r in &rows {
                    c.execute(
                        "UPDATE outbox SET state = 'inflight', attempts = attempts + 1,
                                lease_owner = ?2, lease_until = ?3, updated_at = ?4
                         WHERE id = ?1",
                        params![r.id, self.owner, lease_until, now_s],
                    )?;
                }
                Ok(rows)
            })();
            match claimed {
                Ok(rows) => {
                    c.execute_batch("COMMIT")?;
                    Ok(rows
                        .into_iter()
                        .map(|mut r| {
                            r.attempts += 1;
                            r.state = WriteState::InFlight;
                            r
                        })
                        .collect())
                }
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    Err(e.into())
                }
            }
        })
    }

    /// The delay before the next attempt: exponential from `base_delay`, capped, with jitter
    /// (between half and all of it), and never shorter than the service's `Retry-After`.
    pub fn backoff(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        let full = self
            .settings
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.settings.max_delay);
        let mut buf = [0u8; 4];
        let r = if getrandom::fill(&mut buf).is_ok() {
            f64::from(u32::from_le_bytes(buf)) / f64::from(u32::MAX)
        } else {
            0.5
        };
        let jittered = full.mul_f64(0.5 + 0.5 * r);
        match retry_after {
            Some(ra) => jittered.max(ra),
            None => jittered,
        }
    }

    /// Records an attempt's outcome, if this process still holds the lease.
    fn settle(
        &self,
        rec: &WriteRecord,
        outcome: std::result::Result<Value, DeliveryError>,
        now: DateTime<Utc>,
    ) -> Result<WriteState> {
        let now_s = time_text(now);
        let (state, next_at, error, result) = match outcome {
            Ok(v) => (
                WriteState::Done,
                now,
                None,
                Some(serde_json::to_string(&v)?),
            ),
            Err(e) => {
                let msg = self.redact(e.message());
                let dead = matches!(e, DeliveryError::Permanent { .. })
                    || rec.attempts >= self.settings.max_attempts;
                if dead {
                    tracing::warn!(kind = %rec.kind, key = %rec.key, attempts = rec.attempts, error = %msg, "outbox: dead letter");
                    (WriteState::Dead, now, Some(msg), None)
                } else {
                    let retry_after = match &e {
                        DeliveryError::Retry { retry_after, .. } => *retry_after,
                        DeliveryError::Permanent { .. } => None,
                    };
                    let delay = self.backoff(rec.attempts, retry_after);
                    tracing::info!(kind = %rec.kind, key = %rec.key, attempts = rec.attempts, delay_ms = delay.as_millis() as u64, error = %msg, "outbox: will retry");
                    (
                        WriteState::Pending,
                        now + chrono_duration(delay),
                        Some(msg),
                        None,
                    )
                }
            }
        };
        self.log.with_conn(|c| {
            let changed = c.execute(
                "UPDATE outbox SET state = ?3, next_at = ?4, last_error = coalesce(?5, last_error),
                        result = coalesce(?6, result), updated_at = ?7,
                        done_at = CASE WHEN ?3 = 'done' THEN ?7 ELSE done_at END,
                        lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1 AND lease_owner = ?2 AND state = 'inflight'",
                params![
                    rec.id,
                    self.owner,
                    state.as_str(),
                    time_text(next_at),
                    error,
                    result,
                    now_s
                ],
            )?;
            if changed == 0 {
                // The lease lapsed and another process took the write over; its outcome counts.
                tracing::warn!(key = %rec.key, "outbox: lease lost before the outcome was recorded");
            }
            Ok(state)
        })
    }

    /// One pass: claims the due writes this process can deliver and delivers them, one after
    /// another. Returns how many were attempted.
    pub async fn deliver_due(&self, deliverers: &Deliverers, now: DateTime<Utc>) -> Result<usize> {
        let mut kinds: Vec<&str> = deliverers.by_kind.keys().copied().collect();
        kinds.sort();
        let claimed = self.claim(&kinds, now, 32)?;
        let n = claimed.len();
        for rec in claimed {
            let Some(d) = deliverers.get(&rec.kind) else {
                continue;
            };
            // A delivery may not outlive its lease, or another process could send it too.
            let limit = self.settings.lease.mul_f64(0.8);
            let started = std::time::Instant::now();
            let outcome = match tokio::time::timeout(limit, d.deliver(&rec.key, &rec.payload)).await
            {
                Ok(o) => o,
                Err(_) => Err(DeliveryError::retry(format!(
                    "timed out after {}",
                    crate::format::duration(limit.as_secs_f64())
                ))),
            };
            // The clock may be injected: settle at `now` plus the time the delivery took.
            let later = now + chrono_duration(started.elapsed());
            let state = self.settle(&rec, outcome, later)?;
            if state == WriteState::Done {
                tracing::info!(kind = %rec.kind, key = %rec.key, attempts = rec.attempts, "outbox: delivered");
            }
        }
        Ok(n)
    }

    /// Delivers until `shutdown` resolves: woken by `enqueue` in this process and every
    /// `poll` for writes queued by other processes or coming due.
    pub async fn run(self, deliverers: Deliverers, shutdown: impl Future<Output = ()> + Send) {
        if deliverers.is_empty() {
            shutdown.await;
            return;
        }
        tokio::pin!(shutdown);
        loop {
            match self.deliver_due(&deliverers, Utc::now()).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %self.redact(&e.to_string()), "outbox: bookkeeping failed")
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A deterministic UUID (v4 layout) from an idempotency key, for services that accept a
/// client-chosen id (Linear's `issueCreate(input: {id})`): the same key names the same object.
pub fn uuid_from_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(key.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests;
