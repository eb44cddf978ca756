//! Listings: queries with dimensions and no metric (MetricFlow's "dimension values").
//!
//! - Dimensions are read from one table (the *base*) and the tables it joins to through
//!   entities. `listing_join: left` (the default) reads the first column's table that
//!   reaches every other column and left-joins the rest; `listing_join: full` (MetricFlow's
//!   semantics, set by `cortex import metricflow`) reads the table that needs the fewest
//!   joins and joins full outer, so every value of every table shows.
//! - `metric_time` (the query's grain, `metric_time__month`, `metric_time__extract_dow`, a
//!   custom grain, or a filter on it) reads the time spine: alone, its distinct buckets;
//!   with dimensions, the base table cross joined with the spine. A time range then bounds
//!   the spine, snapped to whole periods of the grain as for metrics.
//! - Filters may name dimensions that are not listed; they join like listed ones.
//! - `listing: all` keeps duplicate rows; `listing: min_max` reports each column's smallest
//!   and largest value.

use std::fmt::Write as _;

use chrono::Days;

use super::{
    check_arity, condition_sql, dimension_role, filter_col, from_parts, group_col, ident,
    plan_dims, snapped_range, spine, Column, ColumnRole, CompileError, CompileOptions,
    CompiledQuery, DimRef, LeafPlan,
};
use crate::fuzzy::did_you_mean;
use crate::semantic::grain::{split_time_name, Bucket, TimeUnit};
use crate::semantic::model::SemanticLayer;
use crate::semantic::query::{Grain, ListingRows, MetricQuery};
use crate::semantic::raw::{DataType, EntityKind, ListingJoin};

/// A column read from the time spine (`ts.ds`, one row per day).
struct SpineCol {
    name: String,
    sql: String,
    role: ColumnRole,
}

/// A query with dimensions and no metric: the distinct combinations of their values (or
/// every row, or their min and max), see the module docs.
pub(super) fn compile_listing(
    layer: &SemanticLayer,
    query: &MetricQuery,
    opts: &CompileOptions,
) -> Result<CompiledQuery, CompileError> {
    if query.group_by.is_empty() && query.grain.is_none() {
        return Err(CompileError::Invalid(
            "a query needs at least one metric or one dimension".into(),
        ));
    }
    if query.prior.is_some() {
        return Err(CompileError::Invalid(
            "a listing (dimensions without a metric) has no prior period; add a metric".into(),
        ));
    }
    for (i, g) in query.group_by.iter().enumerate() {
        if query.group_by[..i].contains(g) {
            return Err(CompileError::Invalid(format!(
                "dimension {g} is listed twice"
            )));
        }
    }
    for c in query.all_conditions() {
        check_arity(c)?;
    }
    if let Some(r) = query.time_range {
        if r.from > r.to {
            return Err(CompileError::Invalid(format!(
                "the time range starts ({}) after it ends ({})",
                r.from, r.to
            )));
        }
    }

    // Output columns: the time axis, then the group-bys; metric_time ones read the spine.
    let mut spine_cols: Vec<(usize, SpineCol)> = Vec::new();
    let mut dims = MetricQuery::default();
    let mut out_names: Vec<String> = Vec::new();
    if let Some(g) = query.grain {
        spine_cols.push((
            0,
            SpineCol {
                name: g.as_str().to_string(),
                sql: Bucket::Trunc(grain_unit(g)).sql("ts.ds", &layer.custom_grains),
                role: ColumnRole::Time { grain: g },
            },
        ));
        out_names.push(g.as_str().to_string());
    }
    for g in &query.group_by {
        match spine_ref(layer, g)? {
            Some(d) => spine_cols.push((
                out_names.len(),
                SpineCol {
                    name: g.clone(),
                    sql: spine_expr(layer, &d),
                    role: dimension_role(&d),
                },
            )),
            None => dims.group_by.push(g.clone()),
        }
        out_names.push(g.clone());
    }
    let mut spine_wheres: Vec<String> = Vec::new();
    for c in &query.filters {
        match spine_ref(layer, &c.dimension)? {
            Some(d) => {
                super::check_literals(&d, c)?;
                spine_wheres.push(condition_sql(&spine_expr(layer, &d), &d, c));
            }
            None => dims.filters.push(c.clone()),
        }
    }
    for f in &query.where_exprs {
        let mut conds = Vec::new();
        f.conditions(&mut conds);
        for c in conds {
            if spine_ref(layer, &c.dimension)?.is_some() {
                return Err(CompileError::Invalid(format!(
                    "{}: OR / NOT filters on metric_time in a listing are not supported yet",
                    c.dimension
                )));
            }
        }
        dims.where_exprs.push(f.clone());
    }
    let uses_spine = !spine_cols.is_empty() || !spine_wheres.is_empty();

    let base = if dims.group_by.is_empty() && dims.all_conditions().is_empty() {
        None
    } else {
        Some(listing_base(layer, &dims)?)
    };

    let mut wheres: Vec<String> = Vec::new();
    let mut from = String::new();
    // The spine stops at today; rows the full outer joins add without a period keep an
    // empty metric_time unless the time range (a WHERE, as in MetricFlow) drops them.
    let spine_from = format!(
        "(SELECT s.ds FROM {} AS s WHERE s.ds <= DATE '{}')",
        spine::spine_sql(layer, opts),
        opts.today
    );
    if uses_spine {
        let spined = MetricQuery {
            grain: query.grain,
            time_range: query.time_range,
            ..MetricQuery::default()
        };
        if let Some(r) = snapped_range(&spined) {
            wheres.push(format!("ts.ds >= DATE '{}'", r.from));
            wheres.push(format!("ts.ds <= DATE '{}'", r.to));
        }
        wheres.extend(spine_wheres);
    }
    let mut group_sql: Vec<(String, String)> = Vec::new();
    let mut plan_group: Vec<DimRef> = Vec::new();
    match &base {
        Some((b, plan)) => {
            let model = &layer.models[*b];
            let mut own = Vec::new();
            if let (Some(r), false) = (query.time_range, uses_spine) {
                let t = model.default_time_dimension.ok_or_else(|| {
                    CompileError::Invalid(format!(
                        "{} has no default time dimension, so a listing from it cannot take a time range; filter on a date dimension instead",
                        model.name
                    ))
                })?;
                own.push(format!("{} AS __time", model.dimensions[t].expr));
                let end = r.to.checked_add_days(Days::new(1)).unwrap_or(r.to);
                wheres.push(format!("t0.__time >= DATE '{}'", r.from));
                wheres.push(format!("t0.__time < DATE '{end}'"));
            }
            let join = match layer.listing_join {
                ListingJoin::Left => "LEFT JOIN",
                ListingJoin::Full => "FULL OUTER JOIN",
            };
            let (t0, joins) = from_parts(layer, plan, own, join);
            from.push_str(&t0);
            if uses_spine {
                let _ = write!(from, "\n  CROSS JOIN {spine_from} AS ts");
            }
            from.push_str(&joins);
            for (d, c) in &plan.filters {
                wheres.push(condition_sql(&filter_col(layer, d), d, c));
            }
            wheres.extend(plan.exprs.iter().cloned());
            for d in &plan.group {
                group_sql.push((group_col(layer, d), d.name.clone()));
            }
            plan_group = plan.group.iter().map(clone_ref).collect();
        }
        None => {
            let _ = write!(from, "{spine_from} AS ts");
        }
    }

    // Columns in output order: spine columns at their positions, dimensions in between.
    let mut columns: Vec<Column> = Vec::new();
    let mut select: Vec<String> = Vec::new();
    let mut dim_iter = group_sql.iter().zip(&plan_group);
    let mut spine_iter = spine_cols.into_iter().peekable();
    for (pos, name) in out_names.iter().enumerate() {
        if spine_iter.peek().is_some_and(|(p, _)| *p == pos) {
            if let Some((_, s)) = spine_iter.next() {
                select.push(format!("{} AS {}", s.sql, ident(&s.name)));
                columns.push(Column {
                    name: s.name,
                    role: s.role,
                });
            }
        } else if let Some(((sql, _), d)) = dim_iter.next() {
            select.push(format!("{sql} AS {}", ident(name)));
            columns.push(Column {
                name: name.clone(),
                role: dimension_role(d),
            });
        }
    }

    let distinct = if query.listing == ListingRows::All {
        ""
    } else {
        "DISTINCT "
    };
    let mut sql = format!("SELECT {distinct}{}\nFROM {from}", select.join(", "));
    if !wheres.is_empty() {
        let _ = write!(sql, "\nWHERE {}", wheres.join("\n  AND "));
    }
    if query.listing == ListingRows::MinMax {
        let mut outer = Vec::new();
        let mut mm_columns = Vec::new();
        for c in columns {
            for f in ["min", "max"] {
                let name = format!("{}__{f}", c.name);
                outer.push(format!(
                    "{}({}) AS {}",
                    f.to_uppercase(),
                    ident(&c.name),
                    ident(&name)
                ));
                mm_columns.push(Column {
                    name,
                    role: c.role.clone(),
                });
            }
        }
        sql = format!("SELECT {}\nFROM ({sql}) AS mm", outer.join(", "));
        columns = mm_columns;
    }
    order_and_limit(query, &columns, &mut sql)?;
    Ok(CompiledQuery { sql, columns })
}

/// The table a listing of `query` reads its dimensions from (the base of its joins), when
/// it lists or filters dimensions; for the policy, which scopes rows reachable from it.
pub fn listing_table(layer: &SemanticLayer, query: &MetricQuery) -> Option<usize> {
    let mut dims = MetricQuery::default();
    for g in &query.group_by {
        if !matches!(spine_ref(layer, g), Ok(Some(_))) {
            dims.group_by.push(g.clone());
        }
    }
    for c in &query.filters {
        if !matches!(spine_ref(layer, &c.dimension), Ok(Some(_))) {
            dims.filters.push(c.clone());
        }
    }
    dims.where_exprs = query.where_exprs.clone();
    if dims.group_by.is_empty() && dims.all_conditions().is_empty() {
        return None;
    }
    listing_base(layer, &dims).ok().map(|(b, _)| b)
}

fn clone_ref(d: &DimRef) -> DimRef {
    DimRef {
        name: d.name.clone(),
        source: d.source,
        expr: d.expr.clone(),
        is_time: d.is_time,
        data_type: d.data_type,
        identifier: d.identifier,
        unit: d.unit,
        bucket: d.bucket.clone(),
    }
}

/// The unit of a calendar grain.
fn grain_unit(g: Grain) -> TimeUnit {
    TimeUnit::parse(g.as_str()).unwrap_or(TimeUnit::Day)
}

/// `metric_time` at a bucket (`metric_time`, `metric_time__week`, `metric_time__extract_dow`,
/// a custom grain) as a spine column; `None` for any other name.
fn spine_ref(layer: &SemanticLayer, name: &str) -> Result<Option<DimRef>, CompileError> {
    let bucket = if name == "metric_time" {
        Bucket::Trunc(TimeUnit::Day)
    } else {
        match split_time_name(name, &layer.custom_grains) {
            Some(("metric_time", b)) => b,
            _ => return Ok(None),
        }
    };
    if let Bucket::Trunc(u) = bucket {
        if u.is_sub_daily() {
            return Err(CompileError::Invalid(format!(
                "{name}: a listing reads metric_time from the daily time spine, so it has no {u} buckets; add a metric"
            )));
        }
    }
    Ok(Some(DimRef {
        name: name.to_string(),
        source: 0,
        expr: "ts.ds".into(),
        is_time: !bucket.is_number(),
        data_type: if bucket.is_number() {
            DataType::Number
        } else {
            DataType::String
        },
        identifier: false,
        unit: TimeUnit::Day,
        bucket: Some(bucket),
    }))
}

/// The SQL of a spine column at its bucket.
fn spine_expr(layer: &SemanticLayer, d: &DimRef) -> String {
    match &d.bucket {
        Some(b) => b.sql("ts.ds", &layer.custom_grains),
        None => "ts.ds".into(),
    }
}

/// The table a listing is read from, with its plan: under `listing_join: left` the first
/// candidate (the first column's table, then the other columns' and the filters') that
/// reaches every name; under `full` (MetricFlow) the one that needs the fewest joins, any
/// table being a candidate.
fn listing_base(
    layer: &SemanticLayer,
    query: &MetricQuery,
) -> Result<(usize, LeafPlan), CompileError> {
    let bare = |n: &str| {
        let n = split_time_name(n, &layer.custom_grains).map_or(n, |(base, _)| base);
        n.split_once("__").map_or(n, |(_, d)| d).to_string()
    };
    let names: Vec<&String> = query
        .group_by
        .iter()
        .chain(query.all_conditions().into_iter().map(|c| &c.dimension))
        .collect();
    let mut candidates: Vec<usize> = Vec::new();
    for g in &names {
        let b = bare(g);
        for (i, m) in layer.models.iter().enumerate() {
            if m.dimensions.iter().any(|d| d.name == b) && !candidates.contains(&i) {
                candidates.push(i);
            }
        }
    }
    // A model whose own entity scopes the first name (`user__ds` on the users table) reads
    // it without a join: try it first.
    if let Some((entity, _)) = names.first().and_then(|n| n.split_once("__")) {
        candidates.sort_by_key(|&i| {
            let m = &layer.models[i];
            let own = m.primary_entity.as_deref() == Some(entity)
                || m.entities
                    .iter()
                    .any(|e| e.name == entity && e.kind == EntityKind::Primary);
            !own
        });
    }
    let Some(first) = names.first() else {
        return Err(CompileError::Invalid(
            "a query needs at least one metric or one dimension".into(),
        ));
    };
    if candidates.is_empty() {
        return Err(CompileError::UnknownDimension {
            name: first.to_string(),
            metric: "any table".into(),
            hint: did_you_mean(first, layer.all_dimensions().map(|(_, d)| d.name.as_str())),
        });
    }
    let full = layer.listing_join == ListingJoin::Full;
    if full {
        let rest: Vec<usize> = (0..layer.models.len())
            .filter(|i| !candidates.contains(i))
            .collect();
        candidates.extend(rest);
    }
    let mut first_err = None;
    let mut chosen: Option<(usize, LeafPlan)> = None;
    for &base in &candidates {
        let what = layer.models[base].name.clone();
        match plan_dims(layer, base, &what, None, &[], query) {
            Ok(plan) => {
                let better = chosen
                    .as_ref()
                    .is_none_or(|(_, c)| plan.nodes.len() < c.nodes.len());
                if better {
                    chosen = Some((base, plan));
                }
                if !full {
                    break;
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    chosen.ok_or_else(|| {
        let shown: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        let shown = shown.join(", ");
        match first_err {
            Some(CompileError::UnknownDimension { name, hint, .. })
                if !query.group_by.contains(&name) || candidates.len() == 1 =>
            {
                CompileError::UnknownDimension {
                    name,
                    metric: format!("a listing of {shown}"),
                    hint,
                }
            }
            Some(CompileError::Invalid(m)) if m.contains("two join paths") => {
                CompileError::Invalid(m)
            }
            _ => CompileError::Invalid(format!(
                "no table reaches all of {shown}: they cannot be listed together"
            )),
        }
    })
}

/// ORDER BY (requested columns first, then every column ascending) and LIMIT.
fn order_and_limit(
    query: &MetricQuery,
    columns: &[Column],
    sql: &mut String,
) -> Result<(), CompileError> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut order = Vec::new();
    for o in &query.order {
        if !names.contains(&o.field.as_str()) {
            return Err(CompileError::Invalid(format!(
                "cannot order by {:?}: it is not a column of this listing{}",
                o.field,
                did_you_mean(&o.field, names.iter().copied())
            )));
        }
        order.push(format!(
            "{} {} NULLS LAST",
            ident(&o.field),
            if o.desc { "DESC" } else { "ASC" }
        ));
    }
    for n in &names {
        if !query.order.iter().any(|o| o.field == *n) {
            order.push(format!("{} ASC NULLS LAST", ident(n)));
        }
    }
    let _ = write!(sql, "\nORDER BY {}", order.join(", "));
    if let Some(limit) = query.limit {
        if limit == 0 {
            return Err(CompileError::Invalid("limit must be at least 1".into()));
        }
        let _ = write!(sql, "\nLIMIT {limit}");
    }
    Ok(())
}
