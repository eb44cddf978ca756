//! SQL for the time-spine constructs (see `semantic::timespine`), in MetricFlow's
//! semantics:
//! - an input with time offsets, or a cumulative metric with a `window` /
//!   `grain_to_date`, is read through the spine: each spine day `s` takes the measure's
//!   rows of the day(s) its offsets and window name (`s - 14 days`, the month start of `s`,
//!   the trailing 2 days up to `s`), and the time range and `metric_time` filters apply to
//!   `s`, not to the rows (so an offset reaches data before the range);
//! - `join_to_time_spine` reports every period of the spine in the range, the metric's
//!   value or NULL where it has none.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{
    agg_sql, condition_sql, filter_col, from_parts, group_col, ident, is_integer_metric, leaf_cte,
    metric_expr, snapped_range, Column, ColumnRole, CompileError, CompileOptions, DimRef, Leaf,
    LeafPlan,
};
use crate::semantic::grain::{Bucket, TimeUnit};
use crate::semantic::model::{ExprToken, MetricKind, SemanticLayer};
use crate::semantic::query::{Condition, Grain, Literal, MetricQuery, TimeRange};
use crate::semantic::raw::DataType;
use crate::semantic::timespine::{Offset, PeriodAgg, Span};

/// The first day of the spine the compiler generates when metrics.yaml declares none.
const GENERATED_SPINE_START: &str = "1900-01-01";

/// Whether a leaf is read day by day through the spine (offsets or a cumulative window).
fn through_spine(leaf: &Leaf) -> bool {
    leaf.offsets.iter().any(|o| !matches!(o, Offset::Prior(_)))
        || (leaf.cumulative && leaf.input.window.is_some())
}

/// The query's period-over-period offset (`prior`), checked against its grain and range.
pub(super) fn prior(query: &MetricQuery) -> Result<Option<Offset>, CompileError> {
    let Some(text) = &query.prior else {
        return Ok(None);
    };
    let span = Span::parse(text).map_err(|e| CompileError::Invalid(format!("prior: {e}")))?;
    match query.grain {
        Some(g) if !span.whole_buckets_of(g) => Err(CompileError::Invalid(format!(
            "prior {span} does not move each {g} onto a whole {g}: by {g}, compare with {}",
            match g {
                Grain::Day => "days or weeks",
                Grain::Week => "weeks",
                Grain::Month => "months, quarters or years",
                Grain::Quarter => "quarters or years",
                _ => "years",
            }
        ))),
        None if query.time_range.is_none() => Err(CompileError::Invalid(
            "a comparison with a prior period needs a time range or a time grain".into(),
        )),
        _ => Ok(Some(Offset::Prior(span))),
    }
}

/// The `<metric>__prior` columns of a query with `prior`.
pub(super) fn prior_columns(
    layer: &SemanticLayer,
    metric_ids: &[usize],
    leaves: &[Leaf],
    prior: Option<Offset>,
    select: &mut Vec<String>,
    columns: &mut Vec<Column>,
) -> Result<(), CompileError> {
    let Some(p) = prior else {
        return Ok(());
    };
    for &id in metric_ids {
        let m = &layer.metrics[id];
        let expr = metric_expr(layer, id, leaves, &[p])?;
        let cast = if is_integer_metric(layer, id) {
            "BIGINT"
        } else {
            "DOUBLE"
        };
        let name = format!("{}__prior", m.name);
        select.push(format!("CAST({expr} AS {cast}) AS {}", ident(&name)));
        columns.push(Column {
            name,
            role: ColumnRole::Metric { unit: m.unit },
        });
    }
    Ok(())
}

/// A prior-period leaf: the leaf over the range moved back by the span, its buckets moved
/// forward again so that each lines up with the bucket it is compared with.
#[allow(clippy::too_many_arguments)]
fn prior_cte(
    layer: &SemanticLayer,
    i: usize,
    span: Span,
    leaf: &Leaf,
    plan: &LeafPlan,
    query: &MetricQuery,
    opts: &CompileOptions,
    sql: &mut String,
) -> Result<(), CompileError> {
    if leaf.offsets.len() > 1 || through_spine(leaf) {
        return Err(CompileError::Invalid(format!(
            "{} has time offsets or a window: it cannot also be compared with a prior period",
            leaf.metric
        )));
    }
    let mut moved = query.clone();
    moved.time_range = query.time_range.map(|r| TimeRange {
        from: span.back(r.from),
        to: span.back(r.to),
    });
    let Some(g) = query.grain else {
        leaf_cte(layer, &format!("leaf_{i}"), leaf, plan, &moved, opts, sql);
        return Ok(());
    };
    let raw = format!("leaf_{i}_prior");
    leaf_cte(layer, &raw, leaf, plan, &moved, opts, sql);
    let bucket = ident(g.as_str());
    let mut select = vec![format!(
        "CAST({bucket} + {} AS DATE) AS {bucket}",
        span.interval()
    )];
    for d in &plan.group {
        select.push(ident(&d.name));
    }
    select.push("value".into());
    let _ = write!(
        sql,
        ",\nleaf_{i} AS (SELECT {} FROM {raw})",
        select.join(", ")
    );
    Ok(())
}

/// Whether a filter is on `metric_time` at day grain (MetricFlow's name for each metric's
/// own time dimension).
fn is_metric_time(c: &Condition) -> bool {
    matches!(c.dimension.as_str(), "metric_time" | "metric_time__day")
}

/// The query a leaf's rows are planned with: a leaf read through the spine takes its
/// `metric_time` filters on the spine day instead of on its rows.
pub(super) fn data_query<'q>(leaf: &Leaf, query: &'q MetricQuery) -> Cow<'q, MetricQuery> {
    if through_spine(leaf) && query.filters.iter().any(is_metric_time) {
        let mut q = query.clone();
        q.filters.retain(|c| !is_metric_time(c));
        Cow::Owned(q)
    } else {
        Cow::Borrowed(query)
    }
}

/// The metric and offset a name in a derived metric's formula stands for.
pub(super) fn token_ref(
    layer: &SemanticLayer,
    id: usize,
    name: &str,
) -> Result<(usize, Option<Offset>), CompileError> {
    let (metric, offset) = match &layer.metrics[id].kind {
        MetricKind::Derived { inputs, .. } => inputs
            .iter()
            .find(|i| i.name == name)
            .map_or((name, None), |i| (i.metric.as_str(), i.offset)),
        _ => (name, None),
    };
    let dep = layer
        .metric_index(metric)
        .ok_or_else(|| CompileError::Invalid(format!("unknown metric {metric} in formula")))?;
    Ok((dep, offset))
}

/// Every metric (with its offset) a derived metric's formula reads, in order.
pub(super) fn derived_refs(
    layer: &SemanticLayer,
    id: usize,
) -> Result<Vec<(usize, Option<Offset>)>, CompileError> {
    let MetricKind::Derived { expr, .. } = &layer.metrics[id].kind else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in expr {
        if let ExprToken::Metric(name) = t {
            if super::derived::is_filtered(layer, id, name) {
                continue; // Its leaves are the filtered metric's (`derived::collect`).
            }
            let r = token_ref(layer, id, name)?;
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// The spine a leaf reads: the daily one, or with `fine` a sub-daily one as a subquery
/// with one TIMESTAMP column `ds` per period of that unit (the coarsest declared spine at
/// least that fine, truncated to the unit).
fn spine_at(
    layer: &SemanticLayer,
    opts: &CompileOptions,
    fine: Option<TimeUnit>,
    what: &str,
) -> Result<String, CompileError> {
    let Some(u) = fine else {
        return Ok(spine_sql(layer, opts));
    };
    let spine = layer.time_spine.as_ref().and_then(|t| {
        t.sub_daily
            .iter()
            .filter(|(g, _, _)| *g <= u)
            .max_by_key(|(g, _, _)| *g)
    });
    let Some((_, table, column)) = spine else {
        return Err(CompileError::Invalid(format!(
            "{what} is read by the {u}: declare a time spine at the {u} or finer (`time_spine: sub_daily:` in metrics.yaml)"
        )));
    };
    Ok(format!(
        "(SELECT DISTINCT date_trunc('{u}', CAST({} AS TIMESTAMP)) AS ds FROM {table})",
        ident(column)
    ))
}

/// The daily spine as a subquery with one DATE column `ds`.
pub(super) fn spine_sql(layer: &SemanticLayer, opts: &CompileOptions) -> String {
    match &layer.time_spine {
        Some(t) => format!(
            "(SELECT CAST({} AS DATE) AS ds FROM {})",
            ident(&t.column),
            t.table
        ),
        None => format!(
            "(SELECT CAST(d AS DATE) AS ds FROM generate_series(TIMESTAMP '{GENERATED_SPINE_START}', TIMESTAMP '{}', INTERVAL 1 DAY) AS g(d))",
            opts.today
        ),
    }
}

/// Conditions on the spine day `s.ds`: not past today, in the (snapped) time range, and
/// the query's `metric_time` filters.
fn spine_wheres(
    query: &MetricQuery,
    opts: &CompileOptions,
    what: &str,
    fine: Option<TimeUnit>,
) -> Result<Vec<String>, CompileError> {
    if fine.is_some() {
        // A sub-daily spine: times before the day after today (and after the range's end).
        let next = |d: chrono::NaiveDate| d.succ_opt().unwrap_or(d);
        let mut wheres = vec![format!("s.ds < DATE '{}'", next(opts.today))];
        if let Some(r) = snapped_range(query) {
            wheres.push(format!("s.ds >= DATE '{}'", r.from));
            wheres.push(format!("s.ds < DATE '{}'", next(r.to)));
        }
        if query.filters.iter().any(is_metric_time) {
            return Err(CompileError::Invalid(format!(
                "{what} is read by a sub-daily spine: a metric_time filter by the day is not supported yet"
            )));
        }
        return Ok(wheres);
    }
    let mut wheres = vec![format!("s.ds <= DATE '{}'", opts.today)];
    if let Some(r) = snapped_range(query) {
        wheres.push(format!("s.ds >= DATE '{}'", r.from));
        wheres.push(format!("s.ds <= DATE '{}'", r.to));
    }
    let day = DimRef {
        name: "metric_time".into(),
        source: 0,
        expr: "s.ds".into(),
        is_time: true,
        data_type: DataType::String,
        identifier: false,
        unit: super::TimeUnit::Day,
        bucket: None,
    };
    for c in query.filters.iter().filter(|c| is_metric_time(c)) {
        if query.grain != Some(Grain::Day) {
            return Err(CompileError::Invalid(format!(
                "{what}: a metric_time filter is only supported with a daily grain"
            )));
        }
        let dated = c.values.iter().all(|v| {
            matches!(v, Literal::Str(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
        });
        if !dated {
            return Err(CompileError::Invalid(format!(
                "filter on metric_time expects a date (YYYY-MM-DD), got {c}"
            )));
        }
        wheres.push(condition_sql("s.ds", &day, c));
    }
    Ok(wheres)
}

/// How a spine day is bucketed for one output key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// The day itself.
    Day,
    /// A calendar period coarser than the day.
    Calendar(Grain),
    /// A date part or a custom grain.
    Other,
}

/// Whether `d` reads the leaf's own time dimension: `metric_time` at a grain, or the
/// agg-time dimension by its name (`booking__ds__day` for bookings), which for this leaf
/// is metric time; read through the spine, it is the spine day.
fn is_own_time(layer: &SemanticLayer, leaf: &Leaf, d: &DimRef) -> bool {
    let Some(t) = leaf.input.time_dimension else {
        return false;
    };
    d.source == 0
        && (d.is_time || d.bucket.is_some())
        && d.expr == layer.models[leaf.input.model].dimensions[t].expr
}

/// The leaf's own time `d` read from the spine day `day` (a DATE expression): its SQL and
/// how it buckets the day. The spine is daily, so a finer unit cannot be read from it.
fn own_time_on(
    layer: &SemanticLayer,
    leaf: &Leaf,
    d: &DimRef,
    day: &str,
    fine: Option<TimeUnit>,
) -> Result<(String, KeyKind), CompileError> {
    if let Some(u) = fine {
        // A sub-daily spine is read by its own unit only.
        return match &d.bucket {
            Some(b @ Bucket::Trunc(x)) if *x == u => {
                Ok((b.sql(day, &layer.custom_grains), KeyKind::Day))
            }
            _ => Err(CompileError::Invalid(format!(
                "{} is read by the {u} through the time spine: grouping or filtering it by {} as well is not supported yet",
                leaf.metric, d.name
            ))),
        };
    }
    Ok(match &d.bucket {
        None => (day.to_string(), KeyKind::Day),
        Some(Bucket::Trunc(u)) if u.is_sub_daily() => {
            return Err(CompileError::Invalid(format!(
                "{} uses offsets, a window or the time spine, which is read by the day: it cannot be grouped or filtered by {}",
                leaf.metric, d.name
            )))
        }
        Some(b @ Bucket::Trunc(TimeUnit::Day)) => (b.sql(day, &layer.custom_grains), KeyKind::Day),
        Some(b @ Bucket::Trunc(u)) => (
            b.sql(day, &layer.custom_grains),
            Grain::parse(u.as_str()).map_or(KeyKind::Other, KeyKind::Calendar),
        ),
        Some(b) => (b.sql(day, &layer.custom_grains), KeyKind::Other),
    })
}

/// The output keys of a leaf read by spine day, in output order: the query's grain, then
/// each group-by, as (SQL, output name, kind). The leaf's own time is read from the spine
/// day (`s.ds`); other group-bys from the rows (kind `None`).
fn spine_keys(
    layer: &SemanticLayer,
    leaf: &Leaf,
    plan: &LeafPlan,
    query: &MetricQuery,
    fine: Option<TimeUnit>,
) -> Result<Vec<(String, String, Option<KeyKind>)>, CompileError> {
    let mut keys = Vec::new();
    if let (Some(g), Some(u)) = (query.grain, fine) {
        return Err(CompileError::Invalid(format!(
            "{} is read by the {u} through the time spine: a {g} grain beside it is not supported yet",
            leaf.metric
        )));
    }
    if let Some(g) = query.grain {
        let kind = if g == Grain::Day {
            KeyKind::Day
        } else {
            KeyKind::Calendar(g)
        };
        keys.push((
            format!("CAST(date_trunc('{g}', s.ds) AS DATE)"),
            ident(g.as_str()),
            Some(kind),
        ));
    }
    for d in &plan.group {
        if is_own_time(layer, leaf, d) {
            let (sql, kind) = own_time_on(layer, leaf, d, "s.ds", fine)?;
            keys.push((sql, ident(&d.name), Some(kind)));
        } else {
            keys.push((group_col(layer, d), ident(&d.name), None));
        }
    }
    Ok(keys)
}

/// The sub-daily unit a leaf is read by (its own time at an hour, a minute, ... grouped
/// or filtered), checked against the units its offsets and window count in; `None` for
/// the daily spine.
fn fine_unit(
    layer: &SemanticLayer,
    leaf: &Leaf,
    plan: &LeafPlan,
) -> Result<Option<TimeUnit>, CompileError> {
    let wanted = plan
        .group
        .iter()
        .chain(plan.filters.iter().map(|(d, _)| d))
        .chain(&plan.expr_dims)
        .filter(|d| is_own_time(layer, leaf, d))
        .filter_map(|d| match d.bucket {
            Some(Bucket::Trunc(u)) if u.is_sub_daily() => Some(u),
            _ => None,
        })
        .min();
    let counted = leaf
        .offsets
        .iter()
        .filter_map(|o| o.fine_unit())
        .chain(
            leaf.input
                .window
                .filter(|_| leaf.cumulative)
                .and_then(|w| w.fine_unit()),
        )
        .min();
    match (wanted, counted) {
        (None, Some(c)) => Err(CompileError::Invalid(format!(
            "{} counts its offset or window in {c}s: ask for it by metric_time__{c}",
            leaf.metric
        ))),
        (Some(w), Some(c)) if c < w => Err(CompileError::Invalid(format!(
            "{} counts its offset or window in {c}s: it cannot be read by the {w}",
            leaf.metric
        ))),
        (w, _) => Ok(w),
    }
}

/// Whether a leaf is read by spine day: offsets and windows always; a running total from
/// the start when grouped or filtered by a time of its own at a grain beside (or instead
/// of) the query's grain, or by a coarser grain with a `period_agg` other than `last` (the plain
/// running-total path reports each period's last value).
fn reads_spine(layer: &SemanticLayer, leaf: &Leaf, plan: &LeafPlan, query: &MetricQuery) -> bool {
    through_spine(leaf)
        || (leaf.cumulative
            && leaf.conversion.is_none()
            && (plan
                .group
                .iter()
                .chain(plan.filters.iter().map(|(d, _)| d))
                .chain(&plan.expr_dims)
                .any(|d| d.bucket.is_some() && is_own_time(layer, leaf, d))
                || (query.grain.is_some_and(|g| g != Grain::Day)
                    && leaf.input.period_agg != PeriodAgg::Last)))
}

/// Checks a leaf's plan against what the spine path supports: a time at a grain, grouped
/// or filtered, must be the leaf's own time (read from the spine day); a boolean filter
/// reads either the spine day or the rows, not both; `join_to_time_spine` takes no filter
/// on its own time at a grain.
pub(super) fn check_plan(
    layer: &SemanticLayer,
    leaf: &Leaf,
    plan: &LeafPlan,
    query: &MetricQuery,
) -> Result<(), CompileError> {
    let spine = !leaf.offsets.is_empty()
        || leaf.input.window.is_some()
        || leaf.input.join_to_time_spine
        || leaf.cumulative;
    if !spine || leaf.conversion.is_some() {
        return Ok(());
    }
    let own = |d: &DimRef| is_own_time(layer, leaf, d);
    let foreign = plan
        .group
        .iter()
        .chain(plan.filters.iter().map(|(d, _)| d))
        .chain(&plan.expr_dims)
        .find(|d| d.bucket.is_some() && !own(d));
    if let Some(d) = foreign {
        return Err(CompileError::Invalid(format!(
            "{} uses offsets, a window or the time spine: grouping or filtering it by {} (a time at a grain other than its own time) is not supported yet",
            leaf.metric, d.name
        )));
    }
    if leaf.input.join_to_time_spine {
        let timed = plan
            .filters
            .iter()
            .map(|(d, _)| d)
            .chain(&plan.expr_dims)
            .find(|d| d.bucket.is_some() || (own(d) && !plan.expr_dims.is_empty()));
        if let Some(d) = timed {
            return Err(CompileError::Invalid(format!(
                "{} joins to the time spine: filtering it by {} (its time at a grain) is not supported yet",
                leaf.metric, d.name
            )));
        }
    }
    let mut dims = plan.expr_dims.iter();
    for f in expr_sizes(query) {
        let mine: Vec<bool> = dims.by_ref().take(f).map(&own).collect();
        if mine.contains(&true) && mine.contains(&false) {
            return Err(CompileError::Invalid(format!(
                "{} uses offsets, a window or the time spine: an OR / NOT filter that mixes its time with other dimensions is not supported yet",
                leaf.metric
            )));
        }
    }
    Ok(())
}

/// The number of conditions of each boolean filter of a query, in order (a plan's
/// `expr_dims` are their dimensions, flattened).
fn expr_sizes(query: &MetricQuery) -> Vec<usize> {
    query
        .where_exprs
        .iter()
        .map(|f| {
            let mut conds = Vec::new();
            f.conditions(&mut conds);
            conds.len()
        })
        .collect()
}

/// Writes the CTE(s) of leaf `i` as `leaf_{i}`: the plain aggregation, or the spine
/// reading, wrapped in a LEFT JOIN from every spine period for `join_to_time_spine`.
pub(super) fn leaf_ctes(
    layer: &SemanticLayer,
    i: usize,
    leaf: &Leaf,
    plan: &LeafPlan,
    query: &MetricQuery,
    opts: &CompileOptions,
    sql: &mut String,
) -> Result<(), CompileError> {
    if let Some(Offset::Prior(span)) = leaf.offsets.first() {
        return prior_cte(layer, i, *span, leaf, plan, query, opts, sql);
    }
    let timed = query.grain.is_some()
        || plan
            .group
            .iter()
            .any(|d| d.bucket.is_some() && is_own_time(layer, leaf, d));
    let wrap = leaf.input.join_to_time_spine && timed;
    let name = if wrap {
        format!("leaf_{i}_data")
    } else {
        format!("leaf_{i}")
    };
    if reads_spine(layer, leaf, plan, query) {
        spine_cte(layer, &name, leaf, plan, query, opts, sql)?;
    } else {
        leaf_cte(layer, &name, leaf, plan, query, opts, sql);
    }
    if wrap {
        sql.push_str(",\n");
        wrap_cte(layer, i, &name, leaf, plan, query, opts, sql)?;
    }
    Ok(())
}

/// A leaf read through the spine: one row per spine day `s` (in range) joined to the
/// measure's rows of the day(s) `s` stands for, then grouped by the requested buckets of
/// `s` (the leaf's own time) and the other group-bys. A running total read by a coarser
/// period (or a date part, a custom grain) takes its `period_agg` of the daily values.
fn spine_cte(
    layer: &SemanticLayer,
    name: &str,
    leaf: &Leaf,
    plan: &LeafPlan,
    query: &MetricQuery,
    opts: &CompileOptions,
    sql: &mut String,
) -> Result<(), CompileError> {
    let what = &leaf.metric;
    let model = &layer.models[leaf.input.model];
    let measure = &model.measures[leaf.input.measure];
    let Some(t) = leaf.input.time_dimension else {
        return Err(CompileError::NoTimeDimension {
            metric: what.clone(),
            what: "a time offset or window".into(),
        });
    };
    let window = leaf.input.window.filter(|_| leaf.cumulative);
    let fine = fine_unit(layer, leaf, plan)?;
    let keys = spine_keys(layer, leaf, plan, query, fine)?;
    let kinds: Vec<KeyKind> = keys.iter().filter_map(|k| k.2).collect();
    let timed = !kinds.is_empty();
    let by_day = kinds.contains(&KeyKind::Day);
    if !timed && !leaf.offsets.is_empty() {
        return Err(CompileError::Invalid(format!(
            "{what} compares periods (a time offset): ask for it by a time grain (day, week, month, quarter, year)"
        )));
    }
    if timed && !by_day {
        if leaf.offsets.len() > 1 {
            return Err(CompileError::Invalid(format!(
                "{what} has nested time offsets: only supported by day"
            )));
        }
        if leaf.cumulative && !leaf.offsets.is_empty() {
            return Err(CompileError::Invalid(format!(
                "{what} is a running total read with a time offset: only supported by day"
            )));
        }
    }
    let period_agg = (leaf.cumulative && timed && !by_day).then_some(leaf.input.period_agg);
    let own = vec![
        format!("{} AS __value", measure.expr.as_deref().unwrap_or("1")),
        format!("{} AS __time", model.dimensions[t].expr),
    ];
    let (t0, joins) = from_parts(layer, plan, own, "LEFT JOIN");
    // The day the rows are read for: the spine day through each offset, outermost first.
    let mut day = "s.ds".to_string();
    for o in &leaf.offsets {
        day = match fine {
            Some(_) => o.apply_fine(&day),
            None => o.apply(&day),
        };
    }
    let row = match fine {
        Some(u) => format!("date_trunc('{u}', CAST(t0.__time AS TIMESTAMP))"),
        None => "CAST(t0.__time AS DATE)".to_string(),
    };
    let row = row.as_str();
    let on = match (window, fine) {
        (Some(w), Some(_)) => w.contains_fine(row, &day),
        (Some(w), None) => w.contains(row, &day),
        (None, _) if leaf.cumulative => format!("{row} <= {day}"),
        (None, _) => format!("{row} = {day}"),
    };
    let mut wheres = spine_wheres(query, opts, what, fine)?;
    if !timed {
        // A window without a time grain: its value as of the range's last day (or today).
        let end = query
            .time_range
            .map_or(opts.today, |r| r.to.min(opts.today));
        wheres.push(format!("s.ds = DATE '{end}'"));
    }
    if let (true, false, Some(r)) = (
        leaf.cumulative,
        leaf.offsets.is_empty(),
        snapped_range(query),
    ) {
        // MetricFlow constrains the cumulative metric itself to the range too, so an
        // offset cumulative value is only read for days in range.
        wheres.push(format!("{day} >= DATE '{}'", r.from));
        match fine {
            Some(_) => wheres.push(format!(
                "{day} < DATE '{}'",
                r.to.succ_opt().unwrap_or(r.to)
            )),
            None => wheres.push(format!("{day} <= DATE '{}'", r.to)),
        }
    }
    if let (true, false, Some(Offset::ToGrain(_))) = (timed, by_day, leaf.offsets.first()) {
        // MetricFlow reads a period's start-of-grain value on the period's first day: the
        // day that starts one of the requested periods.
        if kinds.contains(&KeyKind::Other) {
            return Err(CompileError::Invalid(format!(
                "{what} reads the value at the start of a period: grouping it by a date part or a custom grain is not supported yet"
            )));
        }
        let firsts: Vec<String> = kinds
            .iter()
            .filter_map(|k| match k {
                KeyKind::Calendar(g) => {
                    Some(format!("CAST(date_trunc('{g}', s.ds) AS DATE) = s.ds"))
                }
                _ => None,
            })
            .collect();
        wheres.push(format!("({})", firsts.join(" OR ")));
    }
    for (d, c) in &plan.filters {
        if is_own_time(layer, leaf, d) {
            if d.bucket.is_some() || !is_metric_time(c) {
                let (col, _) = own_time_on(layer, leaf, d, "s.ds", fine)?;
                wheres.push(condition_sql(&col, d, c));
            }
        } else {
            wheres.push(condition_sql(&filter_col(layer, d), d, c));
        }
    }
    let mut dims = plan.expr_dims.iter();
    for (f, n) in query.where_exprs.iter().zip(expr_sizes(query)) {
        let these: Vec<&DimRef> = dims.by_ref().take(n).collect();
        let mut next = these.iter();
        let mut failed = None;
        let text = f.to_sql(&mut |c| match next.next() {
            Some(d) if is_own_time(layer, leaf, d) => {
                match own_time_on(layer, leaf, d, "s.ds", fine) {
                    Ok((col, _)) => condition_sql(&col, d, c),
                    Err(e) => {
                        failed = Some(e);
                        "FALSE".into()
                    }
                }
            }
            Some(d) => condition_sql(&filter_col(layer, d), d, c),
            None => "FALSE".into(),
        });
        if let Some(e) = failed {
            return Err(e);
        }
        wheres.push(text);
    }
    let mut select: Vec<String> = keys.iter().map(|(e, n, _)| format!("{e} AS {n}")).collect();
    if period_agg.is_some() {
        select.insert(0, "s.ds AS __day".into());
    }
    select.push(format!("{} AS value", agg_sql(measure, "t0.__value")));
    let body = format!(
        "SELECT {}\n  FROM {} AS s\n  JOIN {t0} ON {on}{joins}\n  WHERE {}",
        select.join(", "),
        spine_at(layer, opts, fine, what)?,
        wheres.join("\n    AND ")
    );
    let n_keys = keys.len() + usize::from(period_agg.is_some());
    let group = if n_keys > 0 {
        let positions: Vec<String> = (1..=n_keys).map(|p| p.to_string()).collect();
        format!("\n  GROUP BY {}", positions.join(", "))
    } else {
        String::new()
    };
    match period_agg {
        None => {
            let _ = write!(sql, "{name} AS (\n  {body}{group}\n)");
        }
        Some(agg) => {
            // One value per period: the first or last day's, or the average of the days.
            let names: Vec<String> = keys.iter().map(|(_, n, _)| format!("p.{n}")).collect();
            let _ = write!(
                sql,
                "{name} AS (\n  SELECT DISTINCT {}, {} OVER (PARTITION BY {} ORDER BY p.__day ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS value\n  FROM ({body}{group}) AS p\n)",
                names.join(", "),
                agg.window_sql("p.value"),
                names.join(", ")
            );
        }
    }
    Ok(())
}

/// `join_to_time_spine`: every period of the spine in range, LEFT JOIN the leaf's values.
/// The periods are the query's grain and the leaf's own time at a grain (a custom grain,
/// a date part) of each spine day. Filters on a dimension the query also groups by apply
/// after the join (MetricFlow: a period with no data has no value of that dimension, so it
/// does not pass them).
#[allow(clippy::too_many_arguments)]
fn wrap_cte(
    layer: &SemanticLayer,
    i: usize,
    data: &str,
    leaf: &Leaf,
    plan: &LeafPlan,
    query: &MetricQuery,
    opts: &CompileOptions,
    sql: &mut String,
) -> Result<(), CompileError> {
    let fine = fine_unit(layer, leaf, plan)?;
    let keys = spine_keys(layer, leaf, plan, query, fine)?;
    let timed: Vec<&(String, String, Option<KeyKind>)> =
        keys.iter().filter(|k| k.2.is_some()).collect();
    if timed.is_empty() {
        return Ok(());
    }
    let wheres = spine_wheres(query, opts, &leaf.metric, fine)?;
    let select: Vec<String> = keys
        .iter()
        .map(|(_, n, kind)| match kind {
            Some(_) => format!("sp.{n} AS {n}"),
            None => format!("c.{n} AS {n}"),
        })
        .chain(std::iter::once("c.value AS value".to_string()))
        .collect();
    let periods: Vec<String> = timed
        .iter()
        .map(|(e, n, _)| format!("{e} AS {n}"))
        .collect();
    let on: Vec<String> = timed
        .iter()
        .map(|(_, n, _)| format!("sp.{n} = c.{n}"))
        .collect();
    let _ = write!(
        sql,
        "leaf_{i} AS (\n  SELECT {}\n  FROM (SELECT DISTINCT {} FROM {} AS s WHERE {}) AS sp\n  LEFT JOIN {data} AS c ON {}",
        select.join(", "),
        periods.join(", "),
        spine_at(layer, opts, fine, &leaf.metric)?,
        wheres.join(" AND "),
        on.join(" AND ")
    );
    let mut after = Vec::new();
    for c in query
        .filters
        .iter()
        .filter(|c| !is_metric_time(c) && query.group_by.contains(&c.dimension))
    {
        if let Some((d, _)) = plan.filters.iter().find(|(_, pc)| pc == c) {
            after.push(condition_sql(&format!("c.{}", ident(&c.dimension)), d, c));
        }
    }
    if !after.is_empty() {
        let _ = write!(sql, "\n  WHERE {}", after.join(" AND "));
    }
    sql.push_str("\n)");
    Ok(())
}
