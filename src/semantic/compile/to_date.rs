//! Grain to date on request (`MetricQuery::to_date`: MTD, QTD, YTD).
//!
//! - Without a grain: one figure, the metric over the period to date (from the start of
//!   the range end's month, quarter or year).
//! - Per day: each metric is compiled as the cumulative metric `grain_to_date: <grain>` over
//!   its measure, the same SQL as a metrics.yaml metric defined that way.
//! - Per month or quarter (within a quarter or year): each bucket's total, added up over the
//!   buckets of its period so far. Buckets nest in the period, so this is the cumulative
//!   value at each bucket's end.
//!
//! Running totals only exist for metrics that add up (sums and counts).

use std::fmt::Write as _;

use super::{ident, ColumnRole, CompileError, CompileOptions, CompiledQuery};
use crate::semantic::graph::additive;
use crate::semantic::model::MetricKind;
use crate::semantic::query::{Grain, MetricQuery, TimeRange};
use crate::semantic::timespine::CumulativeWindow;
use crate::semantic::SemanticLayer;
use crate::text::calendar::period_start;

/// Compiles `query` with every metric added up from the start of each bucket's `g` period.
pub(super) fn compile(
    layer: &SemanticLayer,
    query: &MetricQuery,
    g: Grain,
    opts: &CompileOptions,
) -> Result<CompiledQuery, CompileError> {
    let rank = |x: Grain| Grain::ALL.iter().position(|y| *y == x);
    if g == Grain::Day {
        return Err(CompileError::Invalid(
            "to date needs a week, month, quarter or year (a day to date is the day)".into(),
        ));
    }
    if let Some(q) = query.grain.filter(|q| rank(*q) > rank(g)) {
        return Err(CompileError::Invalid(format!(
            "{g} to date cannot be reported per {q}: a {q} holds several {g}s"
        )));
    }
    match query.grain {
        // One figure: the period to date is a time range.
        None => {
            let to = query.time_range.map_or(opts.today, |r| r.to);
            let from = period_start(to, g);
            let mut q = query.clone();
            q.to_date = None;
            q.time_range = Some(TimeRange {
                from: query.time_range.map_or(from, |r| r.from.max(from)),
                to,
            });
            super::compile(layer, &q, opts)
        }
        Some(Grain::Day) => daily(layer, query, g, opts),
        // A bucket to date of its own length is the bucket.
        Some(grain) if grain == g => {
            let mut q = query.clone();
            q.to_date = None;
            super::compile(layer, &q, opts)
        }
        Some(grain) => coarser(layer, query, g, grain, opts),
    }
}

/// Checks that every queried metric adds up, and returns their ids.
fn additive_metrics(
    layer: &SemanticLayer,
    query: &MetricQuery,
    g: Grain,
) -> Result<Vec<usize>, CompileError> {
    let mut ids = Vec::new();
    for name in &query.metrics {
        let id = layer
            .metric_index(name)
            .ok_or_else(|| CompileError::UnknownMetric {
                name: name.clone(),
                hint: String::new(),
            })?;
        let metric = &layer.metrics[id];
        match &metric.kind {
            MetricKind::Simple(i) if additive(layer, id) && i.window.is_none() => ids.push(id),
            _ => {
                return Err(CompileError::Invalid(format!(
                    "{} cannot be added up {g} to date per period: only sums and counts can \
                     (a {} metric is not a running total of its days)",
                    metric.label,
                    metric.kind.type_name()
                )))
            }
        }
    }
    if query.prior.is_some() {
        return Err(CompileError::Invalid(
            "to date and a prior period cannot be combined in one query".into(),
        ));
    }
    Ok(ids)
}

/// Per day: each metric is the cumulative metric `grain_to_date: g` over its measure (the
/// time spine reports every day).
fn daily(
    layer: &SemanticLayer,
    query: &MetricQuery,
    g: Grain,
    opts: &CompileOptions,
) -> Result<CompiledQuery, CompileError> {
    let mut cumulative = layer.clone();
    for id in additive_metrics(layer, query, g)? {
        if let MetricKind::Simple(i) = &layer.metrics[id].kind {
            let mut i = i.clone();
            i.window = Some(CumulativeWindow::GrainToDate(g));
            cumulative.metrics[id].kind = MetricKind::Cumulative(i);
        }
    }
    let mut q = query.clone();
    q.to_date = None;
    super::compile(&cumulative, &q, opts)
}

/// Per week, month or quarter within a longer period: each bucket's total, added up over the
/// buckets of its `g` period so far (the query reads from the start of the first one).
fn coarser(
    layer: &SemanticLayer,
    query: &MetricQuery,
    g: Grain,
    grain: Grain,
    opts: &CompileOptions,
) -> Result<CompiledQuery, CompileError> {
    let ids = additive_metrics(layer, query, g)?;
    if grain == Grain::Week && g != Grain::Week {
        return Err(CompileError::Invalid(format!(
            "{g} to date per week is not supported: weeks do not nest in {g}s; ask per day"
        )));
    }
    let mut inner = query.clone();
    inner.to_date = None;
    inner.order.clear();
    inner.limit = None;
    if let Some(r) = query.time_range {
        inner.time_range = Some(TimeRange {
            from: period_start(r.from, g),
            to: r.to,
        });
    }
    let c = super::compile(layer, &inner, opts)?;
    let time = c
        .columns
        .iter()
        .find(|x| matches!(x.role, ColumnRole::Time { .. }))
        .map(|x| ident(&x.name))
        .ok_or_else(|| CompileError::Invalid("to date needs a time grain column".into()))?;
    let mut partition = vec![format!("date_trunc('{g}', {time})")];
    let mut keys = Vec::new();
    let mut select = Vec::new();
    for col in &c.columns {
        let name = ident(&col.name);
        match col.role {
            ColumnRole::Metric { .. } => select.push(format!(
                "SUM({name}) OVER (PARTITION BY {{partition}} ORDER BY {time} \
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {name}"
            )),
            ColumnRole::Dimension | ColumnRole::Identifier => {
                partition.push(name.clone());
                keys.push(col.name.clone());
                select.push(name);
            }
            ColumnRole::Time { .. } => {
                keys.insert(0, col.name.clone());
                select.push(name);
            }
        }
    }
    let select = select
        .join(", ")
        .replace("{partition}", &partition.join(", "));
    let mut sql = format!(
        "SELECT * FROM (SELECT {select}\nFROM (\n{}\n) AS to_date)",
        c.sql
    );
    if let Some(r) = query.time_range {
        let _ = write!(
            sql,
            "\nWHERE {time} >= DATE '{}'",
            period_start(r.from, grain)
        );
    }
    super::order_and_limit(layer, query, &ids, &keys, &c.columns, &mut sql)?;
    Ok(CompiledQuery {
        sql,
        columns: c.columns,
    })
}
