//! The scheduler: briefings (`briefings/*.yaml`) and signals (`signals/*.yaml`) delivered
//! without anyone asking, exactly once, at the right local time.
//!
//! # How a delivery happens
//! 1. Each tick (inside `cortex serve`, or once from `cortex brief` / `cortex signals run`)
//!    takes the scheduler lease in the state database; a process without it does nothing,
//!    so two `serve` processes never both schedule.
//! 2. For every briefing and recipient, the latest slot at or before now (the cron read in
//!    the zone) is due unless its ledger row exists. After downtime that is the latest
//!    missed slot only, marked late: never a burst.
//! 3. The message is built through the same ask pipeline as Slack, asked as the recipient
//!    (policy and "my team" are theirs), then the ledger row is claimed *with* the message.
//! 4. Claimed rows are queued in the outbox under the row's key; the outbox delivers them
//!    (the Slack deliverer finds a message it already posted by the key in its metadata).
//!    A crash between any two steps repeats at most the step that did not finish, and each
//!    step is idempotent on the key.
//!
//! Signals are evaluated once a day at `[schedule] signals_at` and each firing goes through
//! the same ledger, keyed by signal, scope, window and recipient, after mutes, cooldown and
//! quiet hours.

pub mod briefing;
pub mod cron;
pub mod deliver;
pub mod ledger;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub use briefing::{Briefing, Recipient};
pub use deliver::{Outcome, Scheduler, Settings};
pub use ledger::Ledger;

/// Where the scheduler reads the time: the system clock, or one a test drives.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock, shifted by a fixed offset (zero in production; `--now-offset` or
/// `CORTEX_NOW` move a test server's clock without touching the machine's).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    pub offset: chrono::Duration,
}

impl SystemClock {
    /// A clock whose time starts at `start` now and runs normally from there.
    pub fn starting_at(start: DateTime<Utc>) -> SystemClock {
        SystemClock {
            offset: start - Utc::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// A clock that only moves when told (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(t: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(t)))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }

    pub fn advance(&self, d: chrono::Duration) {
        if let Ok(mut g) = self.0.lock() {
            *g += d;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|g| *g)
            .unwrap_or_else(|e| *e.into_inner())
    }
}
