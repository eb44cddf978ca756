//! The compiler: `MetricQuery` -> one DuckDB SELECT, deterministically.
//!
//! Each metric expands into *leaves* (one aggregation of one measure with its filters).
//! Every leaf becomes a CTE grouped by the requested time bucket and dimensions; the final
//! SELECT joins the leaves on those keys and computes each metric from its leaves.
//! Values from users reach the SQL only as quoted literals rendered here.

use chrono::{Days, NaiveDate};
use serde::Serialize;
use std::fmt::Write as _;

use super::grain::{split_time_name, Bucket, TimeUnit};
use super::model::{
    Conversion, ExprToken, JoinStep, Measure, MeasureInput, MetricKind, Reach, SemanticLayer, Unit,
};
use super::query::{Condition, Grain, Literal, MetricQuery, Op, TimeRange};
use super::raw::{Agg, DataType};
use crate::fuzzy::did_you_mean;
use crate::text::calendar::{period_start, shift};

pub mod derived;
mod listing;
pub mod metric_filter;
mod spine;
mod to_date;
use super::timespine::Offset;
pub use listing::listing_table;

/// What the compiler needs besides the query: the injected clock.
#[derive(Debug, Clone, Copy)]
pub struct CompileOptions {
    /// Balances (cumulative metrics) are never reported past this date.
    pub today: NaiveDate,
}

/// A compiled query: the SQL and what each output column is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompiledQuery {
    pub sql: String,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Column {
    pub name: String,
    pub role: ColumnRole,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ColumnRole {
    /// A time bucket, reported as the bucket's first day.
    Time {
        grain: Grain,
    },
    Dimension,
    /// A dimension whose values are identifiers (policy numbers): printed as stored.
    Identifier,
    Metric {
        unit: Unit,
    },
}

/// Why a query cannot be compiled; each message is one sentence a user can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileError {
    #[error("unknown metric {name:?}{hint}")]
    UnknownMetric { name: String, hint: String },
    #[error("unknown dimension {name:?} for {metric}{hint}")]
    UnknownDimension {
        name: String,
        metric: String,
        hint: String,
    },
    #[error("{metric} has no time dimension (it is a current snapshot), so it cannot be split by {what}")]
    NoTimeDimension { metric: String, what: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Leaf {
    input: MeasureInput,
    cumulative: bool,
    /// The conversions of a conversion metric (`input` is its conversion measure).
    conversion: Option<Box<Conversion>>,
    /// Time offsets of the derived inputs above it, outermost first.
    offsets: Vec<Offset>,
    /// The metric that first needed this leaf, for messages.
    metric: String,
}

/// A dimension resolved for one leaf: where its column lives.
struct DimRef {
    name: String,
    /// Index into the plan's nodes (0 = the leaf's own table).
    source: usize,
    expr: String,
    is_time: bool,
    data_type: DataType,
    identifier: bool,
    /// The finest unit a time dimension's values carry.
    unit: TimeUnit,
    /// How a time group-by or filter buckets the value (`booking__ds__month`).
    bucket: Option<Bucket>,
}

/// A table a leaf reads: its own (node 0) or one reached by a join from `parent`.
struct Node {
    model: usize,
    parent: usize,
    step: Option<JoinStep>,
    /// Partitions node 0 shares with this node when it is two or more joins away (node 0
    /// SQL, this node's SQL): MetricFlow joins a multi-hop target on the base's partition.
    far: Vec<(String, String)>,
    /// A metric filter's subquery (the metric per entity key) read instead of the table.
    subquery: Option<String>,
}

struct LeafPlan {
    nodes: Vec<Node>,
    group: Vec<DimRef>,
    filters: Vec<(DimRef, Condition)>,
    /// The query's boolean filters (`where_exprs`) as SQL, and the dimensions they read.
    exprs: Vec<String>,
    expr_dims: Vec<DimRef>,
}

/// Compiles a query against the semantic layer.
pub fn compile(
    layer: &SemanticLayer,
    query: &MetricQuery,
    opts: &CompileOptions,
) -> Result<CompiledQuery, CompileError> {
    compile_at(layer, query, opts, metric_filter::Nested::default())
}

/// `compile`, nested inside metric filters as `nested` says.
fn compile_at(
    layer: &SemanticLayer,
    query: &MetricQuery,
    opts: &CompileOptions,
    nested: metric_filter::Nested,
) -> Result<CompiledQuery, CompileError> {
    if query.metrics.is_empty() {
        metric_filter::refuse_in_listing(layer, query)?;
        return listing::compile_listing(layer, query, opts);
    }
    if !query.listing.is_distinct() {
        return Err(CompileError::Invalid(
            "min/max and all-rows readings are for listings (dimensions without a metric)".into(),
        ));
    }
    if let Some(g) = query.to_date {
        return to_date::compile(layer, query, g, opts);
    }
    let metric_ids = checked_metrics(layer, query)?;

    let mut leaves: Vec<Leaf> = Vec::new();
    for &id in &metric_ids {
        collect_leaves(layer, id, &mut leaves, 0, &[])?;
    }
    let prior = spine::prior(query)?;
    for &id in metric_ids.iter().filter(|_| prior.is_some()) {
        collect_leaves(
            layer,
            id,
            &mut leaves,
            0,
            &prior.into_iter().collect::<Vec<_>>(),
        )?;
    }

    // Without a time axis, a time range snaps to the coarsest unit the metrics' times carry
    // (MetricFlow: a monthly metric reads whole months), for every metric alike.
    let snapped;
    let query = match (query.grain, query.time_range, leaves_unit(layer, &leaves)) {
        (None, Some(r), u) if u > TimeUnit::Day => {
            snapped = MetricQuery {
                time_range: Some(grain_range(r, u)),
                ..query.clone()
            };
            &snapped
        }
        _ => query,
    };

    let plans = leaves
        .iter()
        .map(|leaf| {
            metric_filter::plan_leaf(layer, leaf, &spine::data_query(leaf, query), opts, nested)
        })
        .collect::<Result<Vec<_>, _>>()?;

    // Output key columns: the time bucket, then the group-bys.
    let mut keys: Vec<String> = Vec::new();
    let mut columns = Vec::new();
    if let Some(g) = query.grain {
        keys.push(g.as_str().to_string());
        columns.push(Column {
            name: g.as_str().to_string(),
            role: ColumnRole::Time { grain: g },
        });
    }
    for (gi, g) in query.group_by.iter().enumerate() {
        keys.push(g.clone());
        columns.push(Column {
            name: g.clone(),
            role: plans
                .first()
                .and_then(|p| p.group.get(gi))
                .map_or(ColumnRole::Dimension, dimension_role),
        });
    }

    let mut sql = String::from("WITH ");
    for (i, (leaf, plan)) in leaves.iter().zip(&plans).enumerate() {
        if i > 0 {
            sql.push_str(",\n");
        }
        spine::leaf_ctes(layer, i, leaf, plan, query, opts, &mut sql)?;
    }

    let multi = leaves.len() > 1;
    let key_ref = |k: &str| {
        if multi {
            format!("k.{}", ident(k))
        } else {
            format!("l0.{}", ident(k))
        }
    };
    if multi && !keys.is_empty() {
        let cols = keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ");
        sql.push_str(",\nkeys AS (");
        for i in 0..leaves.len() {
            if i > 0 {
                sql.push_str(" UNION ");
            }
            let _ = write!(sql, "SELECT {cols} FROM leaf_{i}");
        }
        sql.push(')');
    }

    let mut select = Vec::new();
    for k in &keys {
        select.push(format!("{} AS {}", key_ref(k), ident(k)));
    }
    for &id in &metric_ids {
        let m = &layer.metrics[id];
        let expr = metric_expr(layer, id, &leaves, &[])?;
        let cast = if is_integer_metric(layer, id) {
            "BIGINT"
        } else {
            "DOUBLE"
        };
        select.push(format!("CAST({expr} AS {cast}) AS {}", ident(&m.name)));
        columns.push(Column {
            name: m.name.clone(),
            role: ColumnRole::Metric { unit: m.unit },
        });
    }
    spine::prior_columns(
        layer,
        &metric_ids,
        &leaves,
        prior,
        &mut select,
        &mut columns,
    )?;
    let _ = write!(sql, "\nSELECT {}\nFROM ", select.join(", "));
    if !multi {
        sql.push_str("leaf_0 AS l0");
    } else if keys.is_empty() {
        let from: Vec<String> = (0..leaves.len())
            .map(|i| format!("leaf_{i} AS l{i}"))
            .collect();
        sql.push_str(&from.join(" CROSS JOIN "));
    } else {
        sql.push_str("keys AS k");
        for i in 0..leaves.len() {
            let on: Vec<String> = keys
                .iter()
                .map(|k| format!("k.{0} IS NOT DISTINCT FROM l{i}.{0}", ident(k)))
                .collect();
            let _ = write!(sql, "\nLEFT JOIN leaf_{i} AS l{i} ON {}", on.join(" AND "));
        }
    }

    order_and_limit(layer, query, &metric_ids, &keys, &columns, &mut sql)?;
    Ok(CompiledQuery { sql, columns })
}

/// Checks a query before compiling it: known metrics, each listed once; group-bys listed
/// once; a time range that ends after it starts; filters with the values their operator
/// takes. Returns the metrics' indexes, in query order.
fn checked_metrics(layer: &SemanticLayer, query: &MetricQuery) -> Result<Vec<usize>, CompileError> {
    let mut metric_ids = Vec::new();
    for name in &query.metrics {
        let id = layer
            .metric_index(name)
            .ok_or_else(|| CompileError::UnknownMetric {
                name: name.clone(),
                hint: did_you_mean(name, layer.metrics.iter().map(|m| m.name.as_str())),
            })?;
        if metric_ids.contains(&id) {
            return Err(CompileError::Invalid(format!(
                "metric {name} is listed twice"
            )));
        }
        metric_ids.push(id);
    }
    for (i, g) in query.group_by.iter().enumerate() {
        if query.group_by[..i].contains(g) {
            return Err(CompileError::Invalid(format!(
                "dimension {g} is listed twice"
            )));
        }
    }
    if let Some(r) = query.time_range {
        if r.from > r.to {
            return Err(CompileError::Invalid(format!(
                "the time range starts ({}) after it ends ({})",
                r.from, r.to
            )));
        }
    }
    for c in query.all_conditions() {
        check_arity(c)?;
    }
    Ok(metric_ids)
}

/// Appends ORDER BY (requested keys first, then a deterministic default) and LIMIT.
fn order_and_limit(
    layer: &SemanticLayer,
    query: &MetricQuery,
    metric_ids: &[usize],
    keys: &[String],
    columns: &[Column],
    sql: &mut String,
) -> Result<(), CompileError> {
    // Ordering: requested keys first, then a deterministic default.
    let mut order: Vec<String> = Vec::new();
    let output_names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    for o in &query.order {
        if !output_names.contains(&o.field.as_str()) {
            return Err(CompileError::Invalid(format!(
                "cannot order by {:?}: it is not a column of this query{}",
                o.field,
                did_you_mean(&o.field, output_names.iter().copied())
            )));
        }
        order.push(format!(
            "{} {} NULLS LAST",
            ident(&o.field),
            if o.desc { "DESC" } else { "ASC" }
        ));
    }
    if query.order.is_empty() && query.grain.is_none() && !query.group_by.is_empty() {
        let first = &layer.metrics[metric_ids[0]].name;
        order.push(format!("{} DESC NULLS LAST", ident(first)));
    }
    for k in keys {
        if !query.order.iter().any(|o| &o.field == k) {
            order.push(format!("{} ASC NULLS LAST", ident(k)));
        }
    }
    if !order.is_empty() {
        let _ = write!(sql, "\nORDER BY {}", order.join(", "));
    }
    if let Some(limit) = query.limit {
        if limit == 0 {
            return Err(CompileError::Invalid("limit must be at least 1".into()));
        }
        let _ = write!(sql, "\nLIMIT {limit}");
    }
    Ok(())
}

fn check_arity(c: &Condition) -> Result<(), CompileError> {
    let n = c.values.len();
    let ok = match c.op {
        Op::In | Op::NotIn | Op::Excluding => n >= 1,
        Op::Between => n == 2,
        Op::IsNull | Op::IsNotNull => n == 0,
        _ => n == 1,
    };
    if ok {
        Ok(())
    } else {
        Err(CompileError::Invalid(format!(
            "filter on {} with {} takes {}",
            c.dimension,
            c.op.as_str(),
            match c.op {
                Op::Between => "two values",
                Op::In | Op::NotIn | Op::Excluding => "one or more values",
                Op::IsNull | Op::IsNotNull => "no value",
                _ => "one value",
            }
        )))
    }
}

/// The coarsest unit the time dimensions of `leaves` carry (day at least).
fn leaves_unit(layer: &SemanticLayer, leaves: &[Leaf]) -> TimeUnit {
    leaves
        .iter()
        .filter_map(|l| {
            l.input
                .time_dimension
                .map(|t| layer.models[l.input.model].dimensions[t].granularity)
        })
        .fold(TimeUnit::Day, TimeUnit::max)
}

/// `r` widened to whole periods of `unit` (day or coarser).
fn grain_range(r: TimeRange, unit: TimeUnit) -> TimeRange {
    match Grain::parse(unit.as_str()) {
        Some(g) => snapped_range(&MetricQuery {
            time_range: Some(r),
            grain: Some(g),
            ..MetricQuery::default()
        })
        .unwrap_or(r),
        None => r,
    }
}

/// The unit `metric_time` means for `metrics` when no grain is named: the coarsest unit
/// their time dimensions carry, day at least (MetricFlow's default for a monthly metric is
/// the month).
pub fn default_time_unit(
    layer: &SemanticLayer,
    metrics: &[String],
) -> Result<TimeUnit, CompileError> {
    let query = MetricQuery {
        metrics: metrics.to_vec(),
        ..MetricQuery::default()
    };
    let mut unit: Option<TimeUnit> = None;
    for id in checked_metrics(layer, &query)? {
        let own = match layer.metrics[id].default_grain {
            Some(u) => u,
            None => {
                let mut leaves = Vec::new();
                collect_leaves(layer, id, &mut leaves, 0, &[])?;
                leaves_unit(layer, &leaves)
            }
        };
        unit = Some(unit.map_or(own, |u| u.max(own)));
    }
    Ok(unit.unwrap_or(TimeUnit::Day))
}

fn collect_leaves(
    layer: &SemanticLayer,
    id: usize,
    leaves: &mut Vec<Leaf>,
    depth: usize,
    offsets: &[Offset],
) -> Result<(), CompileError> {
    if depth > layer.metrics.len() {
        return Err(CompileError::Invalid("derived metrics form a cycle".into()));
    }
    let m = &layer.metrics[id];
    let mut add = |input: &MeasureInput, cumulative: bool| {
        let leaf = Leaf {
            input: input.clone(),
            cumulative,
            conversion: None,
            offsets: offsets.to_vec(),
            metric: m.name.clone(),
        };
        if !leaves.iter().any(|l| {
            l.input == leaf.input
                && l.cumulative == cumulative
                && l.offsets == leaf.offsets
                && l.conversion.is_none()
        }) {
            leaves.push(leaf);
        }
    };
    match &m.kind {
        MetricKind::Simple(i) => add(i, false),
        MetricKind::Cumulative(i) => add(i, true),
        MetricKind::Ratio {
            numerator,
            denominator,
        } => {
            add(numerator, false);
            add(denominator, false);
        }
        MetricKind::Derived { .. } => {
            for (d, offset) in spine::derived_refs(layer, id)? {
                let mut inner = offsets.to_vec();
                inner.extend(offset);
                collect_leaves(layer, d, leaves, depth + 1, &inner)?;
            }
            derived::collect(layer, id, leaves, offsets)?;
        }
        MetricKind::Conversion(c) => {
            add(&c.base, false);
            if !leaves.iter().any(|l| l.conversion.as_ref() == Some(c)) {
                leaves.push(Leaf {
                    input: c.conversion.clone(),
                    cumulative: false,
                    conversion: Some(c.clone()),
                    offsets: offsets.to_vec(),
                    metric: m.name.clone(),
                });
            }
        }
    }
    Ok(())
}

// Invariant: every metric's leaves were collected before rendering.
#[allow(clippy::expect_used)]
fn leaf_index(
    leaves: &[Leaf],
    input: &MeasureInput,
    cumulative: bool,
    offsets: &[Offset],
) -> usize {
    leaves
        .iter()
        .position(|l| {
            &l.input == input
                && l.cumulative == cumulative
                && l.offsets == offsets
                && l.conversion.is_none()
        })
        .expect("invariant: every metric's leaves were collected before rendering")
}

// Invariant: every conversion metric's leaf was collected before rendering.
#[allow(clippy::expect_used)]
fn conversion_index(leaves: &[Leaf], c: &Conversion) -> usize {
    leaves
        .iter()
        .position(|l| l.conversion.as_deref() == Some(c))
        .expect("invariant: every conversion metric's leaf was collected before rendering")
}

/// Resolves a dimension name from `model`, adding the tables its join path passes
/// through to `nodes` (shared prefixes are joined once).
fn resolve(
    layer: &SemanticLayer,
    model: usize,
    reached: &[Reach],
    what: &str,
    name: &str,
    nodes: &mut Vec<Node>,
) -> Result<DimRef, CompileError> {
    let (m, d, reach) = layer
        .resolve_dimension_in(model, reached, name)
        .ok_or_else(|| CompileError::UnknownDimension {
            name: name.to_string(),
            metric: what.to_string(),
            hint: did_you_mean(name, layer.dimension_names_from(model)),
        })?;
    if let (Some(alt), Some(path)) = (&reach.ambiguous, &reach.path) {
        return Err(CompileError::Invalid(format!(
            "{name} is reached from {} by two join paths ({} and {}); declare one under `joins:` in metrics.yaml",
            layer.models[model].name,
            layer.describe_path(model, path),
            layer.describe_path(model, alt)
        )));
    }
    let dim = &layer.models[m].dimensions[d];
    let source = reach
        .path
        .as_ref()
        .map_or(0, |p| join_path(layer, model, nodes, p));
    Ok(DimRef {
        name: dim.name.clone(),
        source,
        expr: dim.expr.clone(),
        is_time: dim.is_time(),
        data_type: dim.data_type,
        identifier: dim.identifier,
        unit: dim.granularity,
        bucket: None,
    })
}

/// Adds the tables a join path passes through to `nodes` (shared prefixes are joined
/// once); returns the node of its last table.
fn join_path(
    layer: &SemanticLayer,
    model: usize,
    nodes: &mut Vec<Node>,
    path: &super::model::JoinPath,
) -> usize {
    let mut source = 0;
    for (hop, step) in path.steps.iter().enumerate() {
        source = match nodes
            .iter()
            .position(|n| n.parent == source && n.step.as_ref() == Some(step))
        {
            Some(i) if i > 0 => i,
            _ => {
                nodes.push(Node {
                    model: step.to_model,
                    parent: source,
                    step: Some(step.clone()),
                    far: if hop > 0 {
                        layer.partition_pairs(model, step.to_model)
                    } else {
                        Vec::new()
                    },
                    subquery: None,
                });
                nodes.len() - 1
            }
        };
    }
    source
}

/// `resolve`, then (when the name is unknown) `resolve_timed`; the first error otherwise.
fn resolve_or_timed(
    layer: &SemanticLayer,
    model: usize,
    reached: &[Reach],
    what: &str,
    own_time: Option<usize>,
    name: &str,
    nodes: &mut Vec<Node>,
) -> Result<DimRef, CompileError> {
    match resolve(layer, model, reached, what, name, nodes) {
        Ok(d) => Ok(d),
        Err(e) => resolve_timed(layer, model, reached, what, own_time, name, nodes)?.ok_or(e),
    }
}

/// A time name at a grain (`booking__ds__month`, `metric_time__hour`,
/// `metric_time__extract_dow`, `listing__ds__alien_day`): the time dimension it reads, with
/// its bucket. `Ok(None)` when `name` is not such a name, so the caller reports its own error.
fn resolve_timed(
    layer: &SemanticLayer,
    model: usize,
    reached: &[Reach],
    what: &str,
    own_time: Option<usize>,
    name: &str,
    nodes: &mut Vec<Node>,
) -> Result<Option<DimRef>, CompileError> {
    let Some((base, bucket)) = split_time_name(name, &layer.custom_grains) else {
        return Ok(None);
    };
    let mut d = if base == "metric_time" {
        let t = own_time.ok_or_else(|| CompileError::NoTimeDimension {
            metric: what.to_string(),
            what: name.to_string(),
        })?;
        let dim = &layer.models[model].dimensions[t];
        DimRef {
            name: dim.name.clone(),
            source: 0,
            expr: dim.expr.clone(),
            is_time: true,
            data_type: dim.data_type,
            identifier: false,
            unit: dim.granularity,
            bucket: None,
        }
    } else {
        match resolve(layer, model, reached, what, base, nodes) {
            Ok(d) if d.is_time => d,
            Ok(_) => {
                return Err(CompileError::Invalid(format!(
                    "{base} is not a time dimension, so it cannot be read as {name}"
                )))
            }
            Err(_) => return Ok(None),
        }
    };
    bucket.check(base, d.unit).map_err(CompileError::Invalid)?;
    if bucket.is_number() {
        d.is_time = false;
        d.data_type = DataType::Number;
    }
    d.bucket = Some(bucket);
    Ok(Some(d))
}

/// Plans the joins, group-bys and filters of a query on `model`; `own_time` is the time
/// dimension the rows are bucketed by (grouping by it needs a grain instead).
fn plan_dims(
    layer: &SemanticLayer,
    model: usize,
    what: &str,
    own_time: Option<usize>,
    extra_filters: &[Condition],
    query: &MetricQuery,
) -> Result<LeafPlan, CompileError> {
    let mut nodes = vec![Node {
        model,
        parent: 0,
        step: None,
        far: Vec::new(),
        subquery: None,
    }];
    let reached = layer.reach(model);
    let mut group = Vec::new();
    for g in &query.group_by {
        let d = resolve_or_timed(layer, model, &reached, what, own_time, g, &mut nodes)?;
        // Keep the user's spelling as the output column name.
        group.push(DimRef {
            name: g.clone(),
            ..d
        });
    }
    let mut filters = Vec::new();
    // `metric_time` (MetricFlow's name) is each metric's own time dimension.
    let name_of = |c: &Condition| match (c.dimension.as_str(), own_time) {
        ("metric_time" | "metric_time__day", Some(t)) => {
            layer.models[model].dimensions[t].name.clone()
        }
        (n, _) => n.to_string(),
    };
    // Resolves a filter's dimension and checks its values against the dimension's type.
    let checked = |c: &Condition, nodes: &mut Vec<Node>| -> Result<DimRef, CompileError> {
        let d = resolve_or_timed(layer, model, &reached, what, own_time, &name_of(c), nodes)?;
        check_literals(&d, c)?;
        Ok(d)
    };
    for c in extra_filters.iter().chain(&query.filters) {
        filters.push((checked(c, &mut nodes)?, c.clone()));
    }
    let mut exprs = Vec::new();
    let mut expr_dims = Vec::new();
    for f in &query.where_exprs {
        let mut conds = Vec::new();
        f.conditions(&mut conds);
        let dims = conds
            .into_iter()
            .map(|c| checked(c, &mut nodes))
            .collect::<Result<Vec<_>, _>>()?;
        let mut next = dims.iter();
        exprs.push(f.to_sql(&mut |c| match next.next() {
            Some(d) => condition_sql(&filter_col(layer, d), d, c),
            None => "FALSE".into(),
        }));
        expr_dims.extend(dims);
    }
    // A multi-hop join on node 0's partition keeps a passed-through table's row only where
    // the far table matches (MetricFlow joins the hops as one subquery): reading a column
    // of the table passed through would differ, so it is refused.
    for (c, node) in nodes.iter().enumerate().filter(|(_, n)| !n.far.is_empty()) {
        let mut p = node.parent;
        while p > 0 {
            let read = group
                .iter()
                .chain(filters.iter().map(|(d, _)| d))
                .chain(&expr_dims)
                .find(|d| d.source == p);
            if let Some(d) = read {
                return Err(CompileError::Invalid(format!(
                    "{} is read from {}, which the partition-aware join of {what} to {} passes through: not supported yet",
                    d.name, layer.models[nodes[p].model].name, layer.models[nodes[c].model].name
                )));
            }
            p = nodes[p].parent;
        }
    }
    Ok(LeafPlan {
        nodes,
        group,
        filters,
        exprs,
        expr_dims,
    })
}

fn plan_leaf(
    layer: &SemanticLayer,
    leaf: &Leaf,
    query: &MetricQuery,
) -> Result<LeafPlan, CompileError> {
    if leaf.input.time_dimension.is_none() && (query.grain.is_some() || query.time_range.is_some())
    {
        let what = match (query.grain, query.time_range) {
            (Some(g), _) => format!("{g}"),
            (None, Some(r)) => format!("the time range {r}"),
            _ => String::new(),
        };
        return Err(CompileError::NoTimeDimension {
            metric: leaf.metric.clone(),
            what,
        });
    }
    if let Some(c) = &leaf.conversion {
        // Filters apply to the base events (MetricFlow's semantics).
        if !query.where_exprs.is_empty() || query.time_range.is_some() || !leaf.offsets.is_empty() {
            return Err(CompileError::Invalid(format!(
                "{} is a conversion metric: OR / NOT filters, time ranges and offsets on it are not supported yet",
                leaf.metric
            )));
        }
        let plan = plan_dims(
            layer,
            c.base.model,
            &leaf.metric,
            c.base.time_dimension,
            &c.base.filter,
            query,
        )?;
        if let Some(g) = own_time_grouped(layer, c.base.model, c.base.time_dimension, query) {
            return Err(own_time_error(g, &leaf.metric));
        }
        return Ok(plan);
    }
    let measure = &layer.models[leaf.input.model].measures[leaf.input.measure];
    if measure.non_additive.is_some()
        && (!leaf.offsets.is_empty()
            || leaf.input.window.is_some()
            || leaf.input.join_to_time_spine)
    {
        return Err(CompileError::Invalid(format!(
            "{} reads a semi-additive measure ({}): offsets, windows and time-spine joins of it are not supported yet",
            leaf.metric, measure.name
        )));
    }
    if leaf.cumulative && measure.non_additive.is_some() {
        return Err(CompileError::Invalid(format!(
            "{} is a running total of a semi-additive measure ({}), which has no meaning; use the balance metric itself",
            leaf.metric, measure.name
        )));
    }
    if let (Some(g), Some(t)) = (query.grain, leaf.input.time_dimension) {
        let dim = &layer.models[leaf.input.model].dimensions[t];
        if let Some(u) = TimeUnit::parse(g.as_str()) {
            Bucket::Trunc(u)
                .check(
                    &format!("{}'s time ({})", leaf.metric, dim.name),
                    dim.granularity,
                )
                .map_err(CompileError::Invalid)?;
        }
    }
    let plan = plan_dims(
        layer,
        leaf.input.model,
        &leaf.metric,
        leaf.input.time_dimension,
        &leaf.input.filter,
        query,
    )?;
    // Offsets, windows, running totals and time-spine joins read the spine by day.
    spine::check_plan(layer, leaf, &plan, query)?;
    let semi = layer.models[leaf.input.model].measures[leaf.input.measure]
        .non_additive
        .is_some();
    let spine =
        !leaf.offsets.is_empty() || leaf.input.window.is_some() || leaf.input.join_to_time_spine;
    if leaf.cumulative || semi || spine {
        if let Some(g) = own_time_grouped(layer, leaf.input.model, leaf.input.time_dimension, query)
        {
            return Err(own_time_error(g, &leaf.metric));
        }
    }
    if semi {
        if let Some(d) = plan.group.iter().find(|d| d.bucket.is_some()) {
            return Err(CompileError::Invalid(format!(
                "{} is semi-additive: it cannot be grouped by {} (a time at a grain) yet; use the query's grain",
                leaf.metric, d.name
            )));
        }
    }
    Ok(plan)
}

/// The group-by that names `model`'s own time dimension `own_time` without a grain. A plain
/// metric reads it by the day (MetricFlow's default); running totals, balances, conversions
/// and spine readings only take their time through the query's grain.
fn own_time_grouped<'q>(
    layer: &SemanticLayer,
    model: usize,
    own_time: Option<usize>,
    query: &'q MetricQuery,
) -> Option<&'q String> {
    let own = own_time?;
    let reach = layer.reach(model);
    query.group_by.iter().find(|g| {
        layer
            .resolve_dimension_in(model, &reach, g)
            .is_some_and(|(m, d, _)| m == model && d == own)
    })
}

fn own_time_error(g: &str, what: &str) -> CompileError {
    CompileError::Invalid(format!(
        "{g} is the time axis of {what}; use a time grain (day, week, month, quarter, year) instead of grouping by it"
    ))
}

/// A FROM clause in two parts: node 0 (`... AS t0`) and the joins after it, each `join`.
fn from_parts(
    layer: &SemanticLayer,
    plan: &LeafPlan,
    own: Vec<String>,
    join: &str,
) -> (String, String) {
    let mut projections: Vec<Vec<String>> = vec![Vec::new(); plan.nodes.len()];
    projections[0] = own;
    for (c, node) in plan.nodes.iter().enumerate().skip(1) {
        if let Some(step) = &node.step {
            let key = format!("{} AS __key{c}", step.from_expr);
            if !projections[node.parent].contains(&key) {
                projections[node.parent].push(key);
            }
            projections[c].push(format!("{} AS __key", step.to_expr));
            for (k, (f, t)) in step.partitions.iter().enumerate() {
                projections[node.parent].push(format!("{f} AS __part{c}_{k}"));
                projections[c].push(format!("{t} AS __part{k}"));
            }
            for (k, (f, t)) in node.far.iter().enumerate() {
                projections[0].push(format!("{f} AS __far{c}_{k}"));
                projections[c].push(format!("{t} AS __far{k}"));
            }
        }
    }
    for d in plan
        .group
        .iter()
        .chain(plan.filters.iter().map(|(d, _)| d))
        .chain(&plan.expr_dims)
    {
        let p = format!("{} AS {}", d.expr, ident(&d.name));
        if !projections[d.source].contains(&p) {
            projections[d.source].push(p);
        }
    }
    let table = |i: usize| {
        let m = &layer.models[plan.nodes[i].model];
        let cols = if projections[i].is_empty() {
            "1 AS __row".to_string()
        } else {
            projections[i].join(", ")
        };
        if let Some(sub) = &plan.nodes[i].subquery {
            return format!("(SELECT {cols} FROM ({sub}) AS m)");
        }
        match &m.filter {
            Some(f) => format!("(SELECT {cols} FROM {} WHERE {f})", m.table),
            None => format!("(SELECT {cols} FROM {})", m.table),
        }
    };
    let mut joins = String::new();
    for (c, node) in plan.nodes.iter().enumerate().skip(1) {
        let parent = source_alias(node.parent);
        let _ = write!(
            joins,
            "\n  {join} {} AS j{c} ON {parent}.__key{c} = j{c}.__key",
            table(c),
        );
        let parts = node.step.as_ref().map_or(0, |s| s.partitions.len());
        for k in 0..parts {
            let _ = write!(joins, " AND {parent}.__part{c}_{k} = j{c}.__part{k}");
        }
        for k in 0..node.far.len() {
            let _ = write!(joins, " AND t0.__far{c}_{k} = j{c}.__far{k}");
        }
    }
    (format!("{} AS t0", table(0)), joins)
}

/// The output expression of a group-by column: dates for time dimensions (a sub-daily one
/// named without a grain is read by the day, MetricFlow's default), bucketed when the name
/// says a grain.
fn group_col(layer: &SemanticLayer, d: &DimRef) -> String {
    let col = format!("{}.{}", source_alias(d.source), ident(&d.name));
    match &d.bucket {
        Some(b) => b.sql(&col, &layer.custom_grains),
        None if d.is_time => Bucket::Trunc(d.unit.max(TimeUnit::Day)).sql(&col, &[]),
        None => col,
    }
}

/// The expression a filter compares: the column, bucketed when the name says a grain.
fn filter_col(layer: &SemanticLayer, d: &DimRef) -> String {
    let col = format!("{}.{}", source_alias(d.source), ident(&d.name));
    match &d.bucket {
        Some(b) => b.sql(&col, &layer.custom_grains),
        None => col,
    }
}

/// The output role of a group-by column: identifiers print without separators.
fn dimension_role(d: &DimRef) -> ColumnRole {
    if d.identifier {
        ColumnRole::Identifier
    } else {
        ColumnRole::Dimension
    }
}

fn check_literals(d: &DimRef, c: &Condition) -> Result<(), CompileError> {
    for v in &c.values {
        let ok = match (d.is_time, d.data_type, v) {
            (true, _, Literal::Str(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
            (true, _, _) => false,
            (_, DataType::Boolean, Literal::Bool(_)) => true,
            (_, DataType::Number, Literal::Num(_)) => true,
            (_, DataType::String, Literal::Str(s)) => !s.contains('\0'),
            (_, DataType::String, Literal::Num(_) | Literal::Bool(_)) => true,
            _ => false,
        };
        if !ok {
            let expected = if d.is_time {
                "a date (YYYY-MM-DD)"
            } else {
                match d.data_type {
                    DataType::Boolean => "true or false",
                    DataType::Number => "a number",
                    DataType::String => "text",
                }
            };
            return Err(CompileError::Invalid(format!(
                "filter on {} expects {expected}, got {v}",
                d.name
            )));
        }
    }
    Ok(())
}

/// Renders a literal for a dimension of the given kind. Strings are single-quoted with
/// embedded quotes doubled; numbers and booleans come from parsed values.
fn literal_sql(d: &DimRef, v: &Literal) -> String {
    match v {
        Literal::Str(s) if d.is_time => format!("DATE '{s}'"),
        Literal::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::Num(n) if d.data_type == DataType::String => format!("'{n}'"),
        Literal::Num(n) => format!("{n:?}"),
        Literal::Bool(b) if d.data_type == DataType::String => format!("'{b}'"),
        Literal::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
    }
}

fn condition_sql(col: &str, d: &DimRef, c: &Condition) -> String {
    let vals: Vec<String> = c.values.iter().map(|v| literal_sql(d, v)).collect();
    c.op.sql(col, &vals)
}

fn source_alias(source: usize) -> String {
    if source == 0 {
        "t0".into()
    } else {
        format!("j{source}")
    }
}

fn leaf_cte(
    layer: &SemanticLayer,
    name: &str,
    leaf: &Leaf,
    plan: &LeafPlan,
    query: &MetricQuery,
    opts: &CompileOptions,
    sql: &mut String,
) {
    if let Some(c) = &leaf.conversion {
        conversion_cte(layer, name, c, plan, query, sql);
        return;
    }
    let model = &layer.models[leaf.input.model];
    let measure = &model.measures[leaf.input.measure];
    let time_expr = leaf
        .input
        .time_dimension
        .map(|t| model.dimensions[t].expr.clone());

    // Projection of each source table: only the columns this leaf uses.
    let mut own = vec![format!(
        "{} AS __value",
        measure.expr.as_deref().unwrap_or("1")
    )];
    if let Some(t) = &time_expr {
        own.push(format!("{t} AS __time"));
    }
    // A semi-additive measure keeps only the rows at the first/last value of its
    // non-additive dimension, per time bucket and window group: a window picks it.
    let semi = measure.non_additive.as_ref().filter(|_| !leaf.cumulative);
    if let Some(n) = semi {
        own.push(format!("{} AS __nad", model.dimensions[n.dimension].expr));
        for (k, &g) in n.window_groupings.iter().enumerate() {
            own.push(format!("{} AS __wg{k}", model.dimensions[g].expr));
        }
    }
    let (t0, joins) = from_parts(layer, plan, own, "LEFT JOIN");
    let mut select = Vec::new();
    let bucket = query.grain;
    let today_cap = match query.time_range {
        Some(r) => r.to.min(opts.today),
        None => opts.today,
    };
    let cumulative = leaf.cumulative;
    if let Some(g) = bucket {
        if cumulative {
            select.push(format!("s.bucket AS {}", ident(g.as_str())));
        } else {
            select.push(format!(
                "CAST(date_trunc('{}', t0.__time) AS DATE) AS {}",
                g.as_str(),
                ident(g.as_str())
            ));
        }
    }
    for d in &plan.group {
        select.push(format!("{} AS {}", group_col(layer, d), ident(&d.name)));
    }
    let v = if semi.is_some() {
        "s.__value"
    } else {
        "t0.__value"
    };
    let agg = agg_sql(measure, v);
    let n_keys = usize::from(bucket.is_some()) + plan.group.len();
    let positions: Vec<String> = (1..=n_keys).map(|p| p.to_string()).collect();
    if let Some(n) = semi {
        // Inner rows: the keys, the value, the non-additive date and the date it must be.
        let names: Vec<String> = select
            .iter()
            .map(|c| {
                c.rsplit_once(" AS ")
                    .map_or(c.clone(), |(_, n)| n.to_string())
            })
            .collect();
        let mut partition: Vec<String> = Vec::new();
        if let Some(g) = bucket {
            partition.push(format!("date_trunc('{}', t0.__time)", g.as_str()));
        }
        partition.extend((0..n.window_groupings.len()).map(|k| format!("t0.__wg{k}")));
        let pick = match n.window_choice {
            super::raw::WindowChoice::Min => "MIN",
            super::raw::WindowChoice::Max => "MAX",
        };
        let over = if partition.is_empty() {
            String::new()
        } else {
            format!("PARTITION BY {}", partition.join(", "))
        };
        let outer: Vec<String> = names.iter().map(|n| format!("s.{n}")).collect();
        let mut outer = outer;
        outer.push(format!("{agg} AS value"));
        select.push("t0.__value AS __value".into());
        select.push("t0.__nad AS __nad".into());
        select.push(format!("{pick}(t0.__nad) OVER ({over}) AS __pick"));
        let _ = write!(
            sql,
            "{name} AS (\n  SELECT {}\n  FROM (SELECT {}\n  FROM ",
            outer.join(", "),
            select.join(", ")
        );
    } else {
        select.push(format!("{agg} AS value"));
        let _ = write!(sql, "{name} AS (\n  SELECT {}\n  FROM ", select.join(", "));
    }
    let mut wheres: Vec<String> = Vec::new();
    if cumulative {
        if let Some(g) = bucket {
            let start = match query.time_range {
                Some(r) => format!("DATE '{}'", r.from),
                None => format!(
                    "(SELECT MIN({}) FROM {})",
                    time_expr.as_deref().unwrap_or("NULL"),
                    model.table
                ),
            };
            let _ = write!(
                sql,
                "(SELECT CAST(b AS DATE) AS bucket, LEAST(CAST(b + {iv} - INTERVAL 1 DAY AS DATE), DATE '{cap}') AS bucket_end \
                 FROM generate_series(CAST(date_trunc('{g}', {start}) AS TIMESTAMP), CAST(DATE '{cap}' AS TIMESTAMP), {iv}) AS spine(b)) AS s\n  JOIN {t0} ON CAST(t0.__time AS DATE) <= s.bucket_end",
                iv = g.interval(),
                cap = today_cap,
                g = g.as_str(),
            );
        } else {
            sql.push_str(&t0);
            wheres.push(format!("CAST(t0.__time AS DATE) <= DATE '{today_cap}'"));
        }
    } else {
        sql.push_str(&t0);
        if let Some(r) = snapped_range(query) {
            let end = r.to.checked_add_days(Days::new(1)).unwrap_or(r.to);
            wheres.push(format!("t0.__time >= DATE '{}'", r.from));
            wheres.push(format!("t0.__time < DATE '{end}'"));
        }
    }
    sql.push_str(&joins);
    for (d, c) in &plan.filters {
        wheres.push(condition_sql(&filter_col(layer, d), d, c));
    }
    wheres.extend(plan.exprs.iter().cloned());
    if !wheres.is_empty() {
        let _ = write!(sql, "\n  WHERE {}", wheres.join("\n    AND "));
    }
    if semi.is_some() {
        sql.push_str(") AS s\n  WHERE s.__nad = s.__pick");
    }
    if n_keys > 0 {
        let _ = write!(sql, "\n  GROUP BY {}", positions.join(", "));
    }
    sql.push_str("\n)");
}

/// A measure's aggregation of the value column `v`.
fn agg_sql(measure: &Measure, v: &str) -> String {
    match measure.agg {
        Agg::Sum => format!("SUM({v})"),
        Agg::Count if measure.expr.is_none() => "COUNT(*)".to_string(),
        Agg::Count => format!("COUNT({v})"),
        Agg::CountDistinct => format!("COUNT(DISTINCT {v})"),
        Agg::Avg => format!("AVG({v})"),
        Agg::Min => format!("MIN({v})"),
        Agg::Max => format!("MAX({v})"),
        Agg::Median => format!("MEDIAN({v})"),
        Agg::Percentile => {
            let f = if measure.approximate {
                "APPROX_QUANTILE"
            } else if measure.discrete {
                "QUANTILE_DISC"
            } else {
                "QUANTILE_CONT"
            };
            format!("{f}({v}, {:?})", measure.percentile.unwrap_or(0.5))
        }
    }
}

/// A conversion metric's conversions, per key: each conversion event is credited to the
/// entity's latest base event at or before it (within the window, with equal constant
/// properties), and reported under that base event's time bucket and dimensions.
fn conversion_cte(
    layer: &SemanticLayer,
    name: &str,
    c: &Conversion,
    plan: &LeafPlan,
    query: &MetricQuery,
    sql: &mut String,
) {
    let bm = &layer.models[c.base.model];
    let cm = &layer.models[c.conversion.model];
    let time = |m: &super::model::SemanticModel, t: Option<usize>| {
        t.map_or_else(|| "NULL".to_string(), |t| m.dimensions[t].expr.clone())
    };
    let mut own = vec![
        format!("{} AS __time", time(bm, c.base.time_dimension)),
        format!("{} AS __entity", c.base_key),
    ];
    for (k, (b, _)) in c.constant.iter().enumerate() {
        own.push(format!("{b} AS __cp{k}"));
    }
    let (t0, joins) = from_parts(layer, plan, own, "LEFT JOIN");
    let mut keys: Vec<(String, String)> = Vec::new();
    if let Some(g) = query.grain {
        keys.push((
            format!("CAST(date_trunc('{}', t0.__time) AS DATE)", g.as_str()),
            ident(g.as_str()),
        ));
    }
    for d in &plan.group {
        keys.push((group_col(layer, d), ident(&d.name)));
    }
    let mut base_cols: Vec<String> = keys.iter().map(|(e, n)| format!("{e} AS {n}")).collect();
    base_cols.push("t0.__time AS __bt".into());
    base_cols.push("t0.__entity AS __be".into());
    base_cols.extend((0..c.constant.len()).map(|k| format!("t0.__cp{k} AS __cp{k}")));
    let mut wheres: Vec<String> = plan
        .filters
        .iter()
        .map(|(d, cond)| condition_sql(&filter_col(layer, d), d, cond))
        .collect();
    wheres.push("t0.__time IS NOT NULL".into());
    let measure = &cm.measures[c.conversion.measure];
    let mut conv_cols = vec![
        format!("{} AS __cv", measure.expr.as_deref().unwrap_or("1")),
        format!("{} AS __ct", time(cm, c.conversion.time_dimension)),
        format!("{} AS __ce", c.conversion_key),
        "row_number() OVER () AS __uuid".to_string(),
    ];
    for (k, (_, v)) in c.constant.iter().enumerate() {
        conv_cols.push(format!("{v} AS __cc{k}"));
    }
    let conv_from = match &cm.filter {
        Some(f) => format!("{} WHERE {f}", cm.table),
        None => cm.table.clone(),
    };
    let mut on = vec![
        "b.__be = c.__ce".to_string(),
        "b.__bt <= c.__ct".to_string(),
    ];
    if let Some((n, g)) = c.window {
        let (n, unit) = match g {
            Grain::Week => (n * 7, "day"),
            Grain::Quarter => (n * 3, "month"),
            g => (n, g.as_str()),
        };
        on.push(format!("b.__bt > c.__ct - INTERVAL '{n} {unit}'"));
    }
    let mut partition = vec!["c.__ct".to_string(), "c.__ce".to_string()];
    for k in 0..c.constant.len() {
        on.push(format!("b.__cp{k} = c.__cc{k}"));
        partition.push(format!("c.__cc{k}"));
    }
    // Two base events at the same time: the first by the reported dimensions breaks the
    // tie, so the answer never depends on scan order.
    let mut order = vec!["b.__bt DESC".to_string()];
    order.extend(keys.iter().map(|(_, n)| format!("b.{n} ASC NULLS LAST")));
    let picked: Vec<String> = keys
        .iter()
        .map(|(_, n)| format!("first_value(b.{n}) OVER w AS {n}"))
        .collect();
    let mut inner = picked;
    inner.push("c.__uuid".into());
    inner.push("c.__cv".into());
    let mut outer: Vec<String> = keys.iter().map(|(_, n)| format!("s.{n}")).collect();
    outer.push(format!("{} AS value", agg_sql(measure, "s.__cv")));
    let _ = write!(
        sql,
        "{name} AS (\n  SELECT {}\n  FROM (SELECT DISTINCT {}\n    FROM (SELECT {}\n      FROM {t0}{joins}\n      WHERE {}) AS b\n    JOIN (SELECT {} FROM {conv_from}) AS c\n      ON {}\n    WINDOW w AS (PARTITION BY {} ORDER BY {} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS s",
        outer.join(", "),
        inner.join(", "),
        base_cols.join(", "),
        wheres.join(" AND "),
        conv_cols.join(", "),
        on.join(" AND "),
        partition.join(", "),
        order.join(", "),
    );
    if !keys.is_empty() {
        let positions: Vec<String> = (1..=keys.len()).map(|p| p.to_string()).collect();
        let _ = write!(sql, "\n  GROUP BY {}", positions.join(", "));
    }
    sql.push_str("\n)");
}

/// The time range a (non-cumulative) leaf reads. With a grain it is widened to whole
/// periods, as MetricFlow does: a weekly query from Jan 15 to Jan 22 reads the weeks that
/// start Jan 13 and Jan 20 whole, so no bucket counts a partial period.
pub fn snapped_range(query: &MetricQuery) -> Option<TimeRange> {
    let r = query.time_range?;
    Some(match query.grain {
        Some(g) => {
            let end = shift(period_start(r.to, g), g, 1);
            TimeRange {
                from: period_start(r.from, g),
                to: end.pred_opt().unwrap_or(end),
            }
        }
        None => r,
    })
}

fn is_integer_metric(layer: &SemanticLayer, id: usize) -> bool {
    match &layer.metrics[id].kind {
        MetricKind::Cumulative(i) if i.period_agg == super::timespine::PeriodAgg::Average => false,
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => matches!(
            layer.models[i.model].measures[i.measure].agg,
            Agg::Count | Agg::CountDistinct
        ),
        _ => false,
    }
}

fn leaf_value(
    leaves: &[Leaf],
    input: &MeasureInput,
    cumulative: bool,
    offsets: &[Offset],
) -> String {
    let i = leaf_index(leaves, input, cumulative, offsets);
    filled(i, input)
}

/// A leaf's value, with `fill_nulls_with` in place of NULL when the metric says so
/// (MetricFlow's semantics: a missing input is NULL otherwise).
fn filled(i: usize, input: &MeasureInput) -> String {
    match input.fill_nulls_with {
        Some(f) => format!("COALESCE(l{i}.value, {f})"),
        None => format!("l{i}.value"),
    }
}

fn metric_expr(
    layer: &SemanticLayer,
    id: usize,
    leaves: &[Leaf],
    offsets: &[Offset],
) -> Result<String, CompileError> {
    Ok(match &layer.metrics[id].kind {
        MetricKind::Simple(i) => leaf_value(leaves, i, false, offsets),
        MetricKind::Cumulative(i) => leaf_value(leaves, i, true, offsets),
        MetricKind::Ratio {
            numerator,
            denominator,
        } => {
            let n = leaf_index(leaves, numerator, false, offsets);
            let d = leaf_index(leaves, denominator, false, offsets);
            format!(
                "CAST({} AS DOUBLE) / NULLIF(CAST({} AS DOUBLE), 0)",
                filled(n, numerator),
                filled(d, denominator)
            )
        }
        MetricKind::Conversion(c) => {
            let k = conversion_index(leaves, c);
            let conversions = filled(k, &c.conversion);
            if c.rate {
                let b = leaf_index(leaves, &c.base, false, &[]);
                format!(
                    "CAST({conversions} AS DOUBLE) / NULLIF(CAST({} AS DOUBLE), 0)",
                    filled(b, &c.base)
                )
            } else {
                conversions
            }
        }
        MetricKind::Derived { expr, .. } => {
            let mut out = String::from("(");
            for t in expr {
                match t {
                    ExprToken::Metric(name) => {
                        let (dep, offset) = spine::token_ref(layer, id, name)?;
                        let mut inner = offsets.to_vec();
                        inner.extend(offset);
                        let value = match derived::expr(layer, id, name, leaves, &inner)? {
                            Some(filtered) => filtered,
                            None => metric_expr(layer, dep, leaves, &inner)?,
                        };
                        let _ = write!(out, "CAST({value} AS DOUBLE)");
                    }
                    ExprToken::Func(f) => out.push_str(f),
                    ExprToken::Number(n) => out.push_str(n),
                    ExprToken::Op(c) => {
                        let _ = write!(out, " {c} ");
                    }
                }
            }
            out.push(')');
            out
        }
    })
}

/// Double-quotes an identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
