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
    agg_sql, condition_sql, from_parts, group_col, ident, is_integer_metric, leaf_cte, metric_expr,
    snapped_range, source_alias, Column, ColumnRole, CompileError, CompileOptions, DimRef, Leaf,
    LeafPlan,
};
use crate::semantic::model::{ExprToken, MetricKind, SemanticLayer};
use crate::semantic::query::{Condition, Grain, Literal, MetricQuery, TimeRange};
use crate::semantic::raw::DataType;
use crate::semantic::timespine::{Offset, Span};

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

/// The spine as a subquery with one DATE column `ds`.
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
) -> Result<Vec<String>, CompileError> {
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
    let wrap = leaf.input.join_to_time_spine && query.grain.is_some();
    let name = if wrap {
        format!("leaf_{i}_data")
    } else {
        format!("leaf_{i}")
    };
    if through_spine(leaf) {
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
/// measure's rows of the day(s) `s` stands for, then grouped by the requested bucket.
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
    let grain = query.grain;
    match grain {
        None if !leaf.offsets.is_empty() => {
            return Err(CompileError::Invalid(format!(
                "{what} compares periods (a time offset): ask for it by a time grain (day, week, month, quarter, year)"
            )))
        }
        Some(g) if g != Grain::Day && window.is_some() => {
            return Err(CompileError::Invalid(format!(
                "{what} is a cumulative window ({}): only supported by day or without a time grain",
                window.map(|w| w.to_string()).unwrap_or_default()
            )))
        }
        Some(g) if g != Grain::Day && leaf.offsets.len() > 1 => {
            return Err(CompileError::Invalid(format!(
                "{what} has nested time offsets: only supported by day"
            )))
        }
        _ => {}
    }
    let own = vec![
        format!("{} AS __value", measure.expr.as_deref().unwrap_or("1")),
        format!("{} AS __time", model.dimensions[t].expr),
    ];
    let (t0, joins) = from_parts(layer, plan, own, "LEFT JOIN");
    // The day the rows are read for: the spine day through each offset, outermost first.
    let mut day = "s.ds".to_string();
    for o in &leaf.offsets {
        day = o.apply(&day);
    }
    let row = "CAST(t0.__time AS DATE)";
    let on = match window {
        Some(w) => w.contains(row, &day),
        None if leaf.cumulative => format!("{row} <= {day}"),
        None => format!("{row} = {day}"),
    };
    let mut wheres = spine_wheres(query, opts, what)?;
    if grain.is_none() {
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
        wheres.push(format!("{day} <= DATE '{}'", r.to));
    }
    if let (Some(g), Some(Offset::ToGrain(_))) = (grain, leaf.offsets.first()) {
        if g != Grain::Day {
            // MetricFlow reads a period's start-of-grain value on the period's first day.
            wheres.push(format!("CAST(date_trunc('{g}', s.ds) AS DATE) = s.ds"));
        }
    }
    for (d, c) in &plan.filters {
        let col = format!("{}.{}", source_alias(d.source), ident(&d.name));
        wheres.push(condition_sql(&col, d, c));
    }
    let mut select = Vec::new();
    if let Some(g) = grain {
        select.push(format!(
            "CAST(date_trunc('{g}', s.ds) AS DATE) AS {}",
            ident(g.as_str())
        ));
    }
    for d in &plan.group {
        select.push(format!("{} AS {}", group_col(layer, d), ident(&d.name)));
    }
    select.push(format!("{} AS value", agg_sql(measure, "t0.__value")));
    let _ = write!(
        sql,
        "{name} AS (\n  SELECT {}\n  FROM {} AS s\n  JOIN {t0} ON {on}{joins}\n  WHERE {}",
        select.join(", "),
        spine_sql(layer, opts),
        wheres.join("\n    AND ")
    );
    let n_keys = usize::from(grain.is_some()) + plan.group.len();
    if n_keys > 0 {
        let positions: Vec<String> = (1..=n_keys).map(|p| p.to_string()).collect();
        let _ = write!(sql, "\n  GROUP BY {}", positions.join(", "));
    }
    sql.push_str("\n)");
    Ok(())
}

/// `join_to_time_spine`: every period of the spine in range, LEFT JOIN the leaf's values.
/// Filters on a dimension the query also groups by apply after the join (MetricFlow: a
/// period with no data has no value of that dimension, so it does not pass them).
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
    let Some(g) = query.grain else {
        return Ok(());
    };
    let bucket = ident(g.as_str());
    let wheres = spine_wheres(query, opts, &leaf.metric)?;
    let mut select = vec![format!("sp.{bucket} AS {bucket}")];
    for d in &plan.group {
        select.push(format!("c.{0} AS {0}", ident(&d.name)));
    }
    select.push("c.value AS value".into());
    let _ = write!(
        sql,
        "leaf_{i} AS (\n  SELECT {}\n  FROM (SELECT DISTINCT CAST(date_trunc('{g}', s.ds) AS DATE) AS {bucket} FROM {} AS s WHERE {}) AS sp\n  LEFT JOIN {data} AS c ON sp.{bucket} = c.{bucket}",
        select.join(", "),
        spine_sql(layer, opts),
        wheres.join(" AND ")
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
