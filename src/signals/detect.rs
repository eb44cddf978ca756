//! Detection: one grouped query per signal over its window, then each kind's rule in
//! memory. Pure given the series, so the benchmark replays months without a query per day.

use chrono::NaiveDate;

use super::{Signal, SignalError};
use crate::semantic::TimeRange;
use crate::skills::run::Runtime;

/// One detection: a signal's rule held for a scope member in a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The period evaluated.
    pub period: TimeRange,
    /// The scope member (`None` for an unscoped signal).
    pub member: Option<String>,
    /// The period's value.
    pub value: Option<f64>,
    /// What it was compared with (the baseline value, threshold, target or total).
    pub baseline: Option<f64>,
    /// The baseline period, when there is one (drivers compare the two).
    pub baseline_period: Option<TimeRange>,
    /// Kind-specific strength: the robust score, the change ratio, the share.
    pub score: Option<f64>,
    /// Record-level rows (new_events): column names and values.
    pub records: Vec<Vec<crate::warehouse::Value>>,
    pub record_columns: Vec<String>,
}

/// Everything `signal` finds for each evaluation day from `first` to `last` (the day
/// evaluated is the last complete period before that day).
pub fn detect(
    _rt: &Runtime,
    _signal: &Signal,
    _first: NaiveDate,
    _last: NaiveDate,
) -> Result<Vec<Hit>, SignalError> {
    Ok(Vec::new())
}
