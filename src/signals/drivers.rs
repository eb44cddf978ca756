//! Drivers: which members of each governed dimension account for a metric's change between
//! two periods, the computation behind "why did X change".
//!
//! - **Additive metrics** (sums and counts): each member's change, the baseline scaled to
//!   the current period's length (per-day rates), and its share of the total change.
//! - **Everything else** (ratios, medians, averages): each member's contribution is its
//!   rate effect plus its mix effect, weighted by volume (the model's row count):
//!   `(v_now - v_before) * w_now + (w_now - w_before) * (v_before - V_before)`, where `w` is
//!   the member's share of the volume and `V` the overall value. For ratios of sums the
//!   parts add up to the total change; for medians they are an approximation, ranked the
//!   same way.
//!
//! Every number comes from governed queries (two per dimension: the period and the
//! baseline).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::detect::{query, volume_metric};
use super::SignalError;
use crate::answer::Statement;
use crate::engine::Engine;
use crate::semantic::{graph, Condition, MetricQuery, Op, TimeRange};

/// One member's part in the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    pub member: String,
    pub current: Option<f64>,
    /// The baseline value (additive metrics: scaled to the current period's length).
    pub baseline: Option<f64>,
    /// Its contribution to the total change, in metric units.
    pub contribution: f64,
    /// Contribution / total change (1.0 = all of it); `None` when the total did not move.
    pub share: Option<f64>,
    /// The member's share of the baseline: of the volume (row count) for non-additive
    /// metrics, of the value for additive ones. A driver's share of the change is well
    /// above its share of volume; a broad change moves every member alike.
    pub volume_share: Option<f64>,
}

impl Driver {
    /// How much more of the change the member carries than its weight: share of the
    /// change minus share of volume.
    pub fn excess(&self) -> f64 {
        match (self.share, self.volume_share) {
            (Some(s), Some(v)) => s - v,
            (Some(s), None) => s,
            _ => 0.0,
        }
    }
}

/// The members of one dimension, the one carrying most change beyond its weight first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionDrivers {
    pub dimension: String,
    pub members: Vec<Driver>,
}

/// The drivers of a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drivers {
    pub metric: String,
    pub period: TimeRange,
    pub baseline_period: TimeRange,
    pub current: Option<f64>,
    /// The overall baseline (scaled to the period's length for additive metrics).
    pub baseline: Option<f64>,
    /// By dimension, the dimension whose top member stands out most first.
    pub dimensions: Vec<DimensionDrivers>,
    pub statements: Vec<Statement>,
}

impl Drivers {
    /// The total change.
    pub fn delta(&self) -> Option<f64> {
        Some(self.current? - self.baseline?)
    }
}

/// What to split by and how many members to keep.
#[derive(Debug, Clone, Default)]
pub struct DriverOptions {
    /// Dimensions to split by; empty: every governed dimension the metric can be split by
    /// ([`graph::split_dimensions`]) except those fixed by an equality filter.
    pub dimensions: Vec<String>,
    /// Members kept per dimension (default 5).
    pub top: usize,
    /// The date "today" for the compiler (relative ranges, freshness).
    pub today: Option<NaiveDate>,
}

/// The drivers of `metric`'s change from `baseline_period` to `period`, under `filters`.
pub fn drivers(
    engine: &Engine,
    metric: &str,
    period: TimeRange,
    baseline_period: TimeRange,
    filters: &[Condition],
    opts: &DriverOptions,
) -> Result<Drivers, SignalError> {
    let layer = &engine.layer;
    let invalid = |message: String| SignalError::Invalid {
        signal: format!("drivers of {metric}"),
        message,
    };
    let m = layer
        .metric_index(metric)
        .ok_or_else(|| invalid(format!("unknown metric {metric:?}")))?;
    let today = opts.today.unwrap_or(period.to);
    let additive = graph::additive(layer, m);
    let volume = volume_metric(engine, metric);
    let fixed: Vec<&str> = filters
        .iter()
        .filter(|c| matches!(c.op, Op::Eq) || (c.op == Op::In && c.values.len() == 1))
        .map(|c| c.dimension.as_str())
        .collect();
    let dims: Vec<String> = if opts.dimensions.is_empty() {
        graph::split_dimensions(layer, m)
            .into_iter()
            .filter(|d| !fixed.contains(&d.as_str()))
            .collect()
    } else {
        opts.dimensions.clone()
    };
    let top = if opts.top == 0 { 5 } else { opts.top };
    let days = |r: TimeRange| ((r.to - r.from).num_days() + 1).max(1) as f64;
    // Additive baselines are scaled to the current period's length.
    let scale = if additive {
        days(period) / days(baseline_period)
    } else {
        1.0
    };
    let label = format!("drivers of {metric}");
    let fetch = |group_by: &[String], range: TimeRange| -> Result<_, SignalError> {
        let mut metrics = vec![metric.to_string()];
        metrics.extend(volume.clone());
        let q = MetricQuery {
            metrics,
            group_by: group_by.to_vec(),
            filters: filters.to_vec(),
            time_range: Some(range),
            ..MetricQuery::default()
        };
        query(engine, &label, &q, today)
    };
    // Every query up front: the totals, then each dimension for both periods; run on two
    // threads (the warehouse lets one requester hold two connections).
    let mut jobs: Vec<(Vec<String>, TimeRange)> =
        vec![(Vec::new(), period), (Vec::new(), baseline_period)];
    for dim in &dims {
        jobs.push((vec![dim.clone()], period));
        jobs.push((vec![dim.clone()], baseline_period));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<super::detect::Table, SignalError>>> =
        (0..jobs.len()).map(|_| None).collect();
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((g, r)) = jobs.get(i) else { break };
                let t = fetch(g, *r);
                if let Ok(mut d) = done.lock() {
                    d.push((i, t));
                }
            });
        }
    });
    for (i, t) in done.into_inner().unwrap_or_default() {
        results[i] = Some(t);
    }
    let mut tables = Vec::with_capacity(jobs.len());
    let mut statements = Vec::new();
    for ((g, range), t) in jobs.iter().zip(results) {
        let t = t.ok_or_else(|| invalid("a drivers query did not run".into()))??;
        statements.extend(t.sql.iter().map(|sql| Statement {
            label: format!(
                "{metric} by {} for {} to {}",
                if g.is_empty() {
                    "nothing".to_string()
                } else {
                    g.join(", ")
                },
                range.from,
                range.to
            ),
            sql: sql.clone(),
        }));
        tables.push(t);
    }
    // value, volume per member ("" for the total).
    let read = |t: &super::detect::Table, dim: Option<&str>| -> Vec<(String, Option<f64>, f64)> {
        let vc = t.columns.iter().position(|c| c == metric);
        let wc = volume
            .as_deref()
            .and_then(|v| t.columns.iter().position(|c| c == v));
        let dc = dim.and_then(|d| t.columns.iter().position(|c| c == d));
        t.rows
            .iter()
            .map(|r| {
                let v = vc.and_then(|i| r[i].as_f64());
                let w = match wc {
                    Some(i) => r[i].as_f64().unwrap_or(0.0),
                    None => v.unwrap_or(0.0),
                };
                (
                    dc.map_or(String::new(), |i| crate::format::value(&r[i])),
                    v,
                    w,
                )
            })
            .collect()
    };
    let current = read(&tables[0], None).first().and_then(|r| r.1);
    let baseline = read(&tables[1], None)
        .first()
        .and_then(|r| r.1)
        .map(|v| v * scale);
    let total_delta = current.zip(baseline).map(|(a, b)| a - b);
    let mut dimensions = Vec::new();
    for (k, dim) in dims.into_iter().enumerate() {
        let now = read(&tables[2 + 2 * k], Some(&dim));
        let before = read(&tables[3 + 2 * k], Some(&dim));
        let wn: f64 = now.iter().map(|r| r.2).sum();
        let wb: f64 = before.iter().map(|r| r.2).sum();
        let mut members: Vec<String> = now.iter().map(|r| r.0.clone()).collect();
        for b in &before {
            if !members.contains(&b.0) {
                members.push(b.0.clone());
            }
        }
        let mut out: Vec<Driver> = members
            .into_iter()
            .map(|name| {
                let n = now.iter().find(|r| r.0 == name);
                let b = before.iter().find(|r| r.0 == name);
                let vn = n.and_then(|r| r.1);
                let vb = b.and_then(|r| r.1).map(|v| v * scale);
                let contribution = if additive {
                    vn.unwrap_or(0.0) - vb.unwrap_or(0.0)
                } else {
                    let sn = if wn > 0.0 {
                        n.map_or(0.0, |r| r.2) / wn
                    } else {
                        0.0
                    };
                    let sb = if wb > 0.0 {
                        b.map_or(0.0, |r| r.2) / wb
                    } else {
                        0.0
                    };
                    let rate = match (vn, vb) {
                        (Some(a), Some(c)) => (a - c) * sn,
                        _ => 0.0,
                    };
                    let mix = match (vb, baseline) {
                        (Some(c), Some(total)) => (sn - sb) * (c - total),
                        _ => 0.0,
                    };
                    rate + mix
                };
                let weight = if additive {
                    let total: f64 = before.iter().filter_map(|r| r.1).sum::<f64>() * scale;
                    vb.filter(|_| total > 0.0).map(|v| v / total)
                } else {
                    (wb > 0.0).then(|| b.map_or(0.0, |r| r.2) / wb)
                };
                Driver {
                    member: name,
                    current: vn,
                    baseline: vb,
                    contribution,
                    share: total_delta
                        .filter(|d| d.abs() > 1e-12)
                        .map(|d| contribution / d),
                    volume_share: weight,
                }
            })
            .collect();
        // The member carrying the most change beyond its weight first.
        out.sort_by(|a, b| b.excess().total_cmp(&a.excess()));
        out.truncate(top);
        dimensions.push(DimensionDrivers {
            dimension: dim,
            members: out,
        });
    }
    // The dimension whose top member stands out the most first.
    let lead = |d: &DimensionDrivers| d.members.first().map_or(0.0, Driver::excess);
    dimensions.sort_by(|a, b| lead(b).total_cmp(&lead(a)));
    Ok(Drivers {
        metric: metric.to_string(),
        period,
        baseline_period,
        current,
        baseline,
        dimensions,
        statements,
    })
}
