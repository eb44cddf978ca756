//! Signals: analyst-authored checks (`signals/*.yaml`) that watch a governed metric and
//! produce a [`Firing`] (an [`Answer`] saying what changed, against which baseline, and its
//! drivers) when something needs attention. Delivery (ledger, Slack, mute) is the
//! scheduler's job; this module only decides what fires and what the message says.
//!
//! Loading is two-phase like skills: `spec` holds the raw serde structs (unknown keys are
//! errors), compiled here into validated [`Signal`]s. Evaluation reads every number through
//! the semantic layer ([`crate::engine::Engine::query`]): one grouped query per signal over
//! its window, detection in memory ([`detect`]), then drivers and the message for what fired.

pub mod detect;
pub mod drivers;
mod load;
pub mod message;
pub mod spec;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::answer::Answer;
use crate::context::Context;
use crate::diagnostics::Diagnostics;
use crate::semantic::{Condition, Grain, SemanticLayer};
use crate::skills::run::Runtime;

pub use load::load;

/// Every signal of a project (`<project>/signals/*.yaml`), validated.
#[derive(Debug, Clone, Default)]
pub struct SignalSet {
    pub signals: Vec<Signal>,
}

/// How urgent a firing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Who hears about a firing. At least one of the three is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// Slack channels (`#support-ops` or a channel id).
    #[serde(default)]
    pub channels: Vec<String>,
    /// People by Slack id, each one in context/people.yaml.
    #[serde(default)]
    pub people: Vec<String>,
    /// A team from context/people.yaml: every member hears about it.
    #[serde(default)]
    pub team: Option<String>,
    /// For record-level signals: the owner of the record hears about it too (e.g. the
    /// merchant's `csm_owner`), by name as in people.yaml.
    #[serde(default)]
    pub owner_dimension: Option<String>,
}

/// A daily window in which nothing is delivered (held until it ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
    /// IANA time zone name ("America/New_York"); `None` is each recipient's own zone.
    /// Not resolved here: the scheduler owns time zones.
    pub tz: Option<String>,
}

/// Which way is good for the watched metric; a firing is about the bad way unless `Any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    UpIsGood,
    DownIsGood,
    /// Both ways are news.
    Any,
}

/// What a change is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The period just before (yesterday, last week, last month).
    PreviousPeriod,
    /// The same period a year earlier (364 days for days and weeks, so weekdays align).
    YearAgo,
}

/// A date range of known peaks, as written in a signal file (`peaks:`), in addition to the
/// year-ago seasonality every anomaly signal uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Peak {
    /// Thanksgiving to Cyber Monday, every year.
    Bfcm,
    /// Fixed dates.
    Dates { from: NaiveDate, to: NaiveDate },
}

/// What a signal checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// The period's value is above `above` or below `below`.
    Threshold {
        above: Option<f64>,
        below: Option<f64>,
    },
    /// The change against a baseline period is at least `percent` (0.5 = 50%) or
    /// `absolute` (metric units), in the bad direction (or either, for `Any`).
    Change {
        against: Baseline,
        percent: Option<f64>,
        absolute: Option<f64>,
    },
    /// A robust score (median and MAD) against the same weekday over the trailing
    /// `weeks`, scaled by the year-ago seasonal factor; `score` is the firing threshold.
    Anomaly {
        score: f64,
        weeks: u32,
        /// Known peaks: a day inside one is compared with the same peak last year.
        peaks: Vec<Peak>,
        /// Periods with fewer than this many rows of the metric's base count are skipped
        /// (a scope member with three tickets has no meaningful median).
        min_count: f64,
    },
    /// The OKR's projection at its due date falls below its target (above, when down is
    /// good), by at least `margin` (0.05 = 5% short).
    OkrPace { okr: String, margin: f64 },
    /// One member of `dimension` holds more than `share` (0.4 = 40%) of the total.
    Concentration { dimension: String, share: f64 },
    /// New rows of a record-level model in the window: each listed with `columns`,
    /// filtered by the signal's filters (e.g. `signal_type = competitor_mentioned`,
    /// `segment = Enterprise`); `min_metric` keeps only records whose entity has at least
    /// this much of a metric (e.g. ARR >= 100000).
    NewEvents {
        columns: Vec<String>,
        min_metric: Option<(String, f64)>,
    },
}

impl Kind {
    /// The name as written in the file.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Threshold { .. } => "threshold",
            Kind::Change { .. } => "change",
            Kind::Anomaly { .. } => "anomaly",
            Kind::OkrPace { .. } => "okr_pace",
            Kind::Concentration { .. } => "concentration",
            Kind::NewEvents { .. } => "new_events",
        }
    }
}

/// One validated signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Unique id (lower_snake_case), stable across edits: the ledger's key.
    pub name: String,
    /// A title people read ("Chat first response by vertical").
    pub title: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The governed metric watched (for `new_events`, the metric whose rows are listed).
    pub metric: String,
    /// Evaluate each member of this dimension separately ("each vertical").
    pub scope: Option<String>,
    /// Conditions applied to every query of the signal.
    pub filters: Vec<Condition>,
    /// Day, week or month: the period evaluated.
    pub grain: Grain,
    pub kind: Kind,
    pub direction: Direction,
    pub severity: Severity,
    pub audience: Audience,
    /// After firing for a scope, stay quiet for that scope this long.
    pub cooldown: chrono::Duration,
    pub quiet_hours: Option<QuietHours>,
}

/// One thing a signal found, with the message to deliver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Firing {
    /// The signal's name.
    pub signal: String,
    /// The scope member it is about ("vertical=Electronics", "merchant_id=M00123"); `None`
    /// for an unscoped signal.
    pub scope: Option<String>,
    /// The period evaluated: "2026-11-19" (day), "2026-W47" (week), "2026-11" (month).
    /// With `signal` and `scope`, the delivery ledger's key.
    pub window: String,
    pub severity: Severity,
    pub audience: Audience,
    /// The message: headline, KPIs, drivers table, chart, provenance.
    pub answer: Answer,
}

/// Why evaluating a signal failed.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("signal {signal}: {source}")]
    Query {
        signal: String,
        #[source]
        source: crate::engine::QueryError,
    },
    #[error("signal {signal}: {message}")]
    Invalid { signal: String, message: String },
    #[error("signal evaluation stopped: {0}")]
    Join(String),
}

/// Evaluates every signal for the last complete period before `today` and returns what
/// fired, each with its message. Blocking work (DuckDB) runs off the async threads.
pub async fn evaluate(
    rt: Arc<Runtime>,
    set: Arc<SignalSet>,
    today: NaiveDate,
) -> Result<Vec<Firing>, SignalError> {
    tokio::task::spawn_blocking(move || evaluate_blocking(&rt, &set, today))
        .await
        .map_err(|e| SignalError::Join(e.to_string()))?
}

/// [`evaluate`] on the current thread.
pub fn evaluate_blocking(
    rt: &Runtime,
    set: &SignalSet,
    today: NaiveDate,
) -> Result<Vec<Firing>, SignalError> {
    let mut out = Vec::new();
    for s in &set.signals {
        for hit in detect::detect(rt, s, today, today)? {
            out.push(message::firing(rt, s, &hit, today)?);
        }
    }
    Ok(out)
}

/// Loads `<project>/signals` (no directory: an empty set) for `cortex check` and the server.
pub fn load_dir(
    project: &Path,
    layer: &SemanticLayer,
    ctx: &Context,
) -> Result<SignalSet, Diagnostics> {
    load(&project.join("signals"), layer, ctx)
}
