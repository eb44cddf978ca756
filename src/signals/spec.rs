//! `signals/*.yaml` as written: raw serde structs, unknown keys are errors. Which fields
//! apply depends on `kind`; [`super::load`] checks that and turns them into [`super::Signal`]s.
//!
//! ```yaml
//! signals:
//!   - name: chat_first_response_by_vertical
//!     title: Chat first response by vertical
//!     metric: first_response_time
//!     where: ["channel = chat"]
//!     scope: vertical          # each vertical separately
//!     grain: day
//!     kind: anomaly            # threshold | change | anomaly | okr_pace | concentration | new_events
//!     score: 4                 # anomaly: robust score to fire at
//!     direction: down_is_good  # default: the metric's `better:`
//!     severity: warning
//!     audience: {channels: ["#support-ops"], team: Support Operations}
//!     cooldown: 3d
//!     quiet_hours: {from: "20:00", to: "08:00", tz: America/New_York}
//! ```

use serde::Deserialize;

use super::{Audience, Baseline, Direction, Severity};

/// A signal file: one or more signals.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub signals: Vec<RawSignal>,
}

/// One signal as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignal {
    /// Unique id, lower_snake_case.
    pub name: String,
    /// Words for people; default: the metric's label.
    #[serde(default)]
    pub title: Option<String>,
    /// A metric from metrics.yaml.
    pub metric: String,
    /// Evaluate each member of this dimension separately.
    #[serde(default)]
    pub scope: Option<String>,
    /// Filters in the `cortex query --where` syntax ("channel = chat").
    #[serde(default, rename = "where")]
    pub filters: Vec<String>,
    /// day | week | month (default day).
    #[serde(default)]
    pub grain: Option<String>,
    /// threshold | change | anomaly | okr_pace | concentration | new_events
    pub kind: String,
    /// threshold: fire above this value (metric units, ratios as fractions).
    #[serde(default)]
    pub above: Option<f64>,
    /// threshold: fire below this value.
    #[serde(default)]
    pub below: Option<f64>,
    /// change: previous_period (default) | year_ago.
    #[serde(default)]
    pub against: Option<Baseline>,
    /// change: fire at a change of at least this many percent (50 = 50%).
    #[serde(default)]
    pub percent: Option<f64>,
    /// change: fire at a change of at least this much, in metric units.
    #[serde(default)]
    pub absolute: Option<f64>,
    /// anomaly: the robust score to fire at (default 4).
    #[serde(default)]
    pub score: Option<f64>,
    /// anomaly: trailing weeks of the same weekday in the baseline (default 8).
    #[serde(default)]
    pub weeks: Option<u32>,
    /// anomaly: known peaks, `bfcm` or `{from: YYYY-MM-DD, to: YYYY-MM-DD}`.
    #[serde(default)]
    pub peaks: Vec<RawPeak>,
    /// anomaly: skip periods with fewer rows than this (default 20).
    #[serde(default)]
    pub min_count: Option<f64>,
    /// okr_pace: the OKR id from context/okrs.yaml.
    #[serde(default)]
    pub okr: Option<String>,
    /// okr_pace: how far short of target the projection must be, in percent (default 0).
    #[serde(default)]
    pub margin: Option<f64>,
    /// concentration: the dimension whose members are compared with the total.
    #[serde(default)]
    pub dimension: Option<String>,
    /// concentration: fire when one member holds more than this percent of the total.
    #[serde(default)]
    pub share: Option<f64>,
    /// new_events: the dimensions listed for each new row.
    #[serde(default)]
    pub columns: Vec<String>,
    /// new_events: only records whose entity has at least this much of a metric,
    /// e.g. `{metric: arr, value: 100000}`.
    #[serde(default)]
    pub min_metric: Option<RawMinMetric>,
    /// up_is_good | down_is_good | any (default: the metric's `better:`, else any).
    #[serde(default)]
    pub direction: Option<Direction>,
    /// info | warning (default) | critical.
    #[serde(default)]
    pub severity: Option<Severity>,
    pub audience: Audience,
    /// "12h", "3d", "1w" (default: one period of the grain).
    #[serde(default)]
    pub cooldown: Option<String>,
    #[serde(default)]
    pub quiet_hours: Option<RawQuietHours>,
}

/// A known peak as written.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPeak {
    Named(String),
    Dates {
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    },
}

/// `{metric: arr, value: 100000}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMinMetric {
    pub metric: String,
    pub value: f64,
}

/// `{from: "20:00", to: "08:00", tz: America/New_York}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuietHours {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub tz: Option<String>,
}
