//! Metric filters: a condition on a metric computed per entity, e.g. `listing__bookings > 2`
//! ("listings with more than 2 bookings"), in a query's filters or in a metric's `filter:`.
//!
//! The name is MetricFlow's column name for `{{ Metric('bookings', group_by=['listing']) }}`:
//! an entity (optionally after a local entity prefix, `view__listing__views`) and a metric.
//! Semantics, as in MetricFlow: the metric is computed grouped by the entity's key over all
//! its data (the outer query's filters and time range do not apply to it; its own metric
//! filters and the asker's row scopes do), as a subquery; each row of the outer query is
//! joined to it on the entity key (LEFT JOIN: a row whose entity has no value gets NULL),
//! and the condition applies to the joined value. A dimension of the same name wins over a
//! metric filter. Metric filters combine with AND; inside OR / NOT they are refused.

use super::{check_literals, ident, CompileError, CompileOptions, DimRef, Leaf, LeafPlan, Node};
use crate::semantic::grain::TimeUnit;
use crate::semantic::model::{JoinStep, Reach, SemanticLayer};
use crate::semantic::query::{Condition, MetricQuery};
use crate::semantic::raw::{DataType, EntityKind};

/// The group-by name of the entity key in a metric filter's subquery (never a dimension a
/// user can name: it only means the key when the compiler itself asks for it).
const KEY: &str = "__mf_key";

/// How a compile is nested inside metric filters.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Nested<'a> {
    /// Metric filters above this compile (a cycle would never end).
    pub depth: usize,
    /// Group the query by this entity path's key (the query's `__mf_key` group-by).
    pub entity: Option<&'a [String]>,
}

/// `listing__bookings` -> (`["listing"]`, index of `bookings`): the entity path and the
/// metric, when the last `__` segment names a metric and an entity comes before it.
pub fn metric_ref<'n>(layer: &SemanticLayer, name: &'n str) -> Option<(Vec<&'n str>, usize)> {
    let (path, metric) = name.rsplit_once("__")?;
    let id = layer.metric_index(metric)?;
    let path: Vec<&str> = path.split("__").collect();
    if path.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some((path, id))
}

/// Whether a condition's name on `model` is a metric filter: not a dimension it reaches,
/// and `entity__metric`.
fn is_metric_filter(layer: &SemanticLayer, model: usize, reached: &[Reach], name: &str) -> bool {
    metric_ref(layer, name).is_some() && layer.resolve_dimension_in(model, reached, name).is_none()
}

/// The metrics a metric's own filters (and its derived inputs' filters) compute, for the
/// load-time cycle check and the access policy.
pub fn filter_metrics(layer: &SemanticLayer, id: usize) -> Vec<usize> {
    use crate::semantic::model::MetricKind;
    let mut conds: Vec<&Condition> = Vec::new();
    match &layer.metrics[id].kind {
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => conds.extend(&i.filter),
        MetricKind::Ratio {
            numerator,
            denominator,
        } => {
            conds.extend(&numerator.filter);
            conds.extend(&denominator.filter);
        }
        MetricKind::Derived { inputs, .. } => {
            for i in inputs {
                conds.extend(&i.filter);
            }
        }
        MetricKind::Conversion(c) => {
            conds.extend(&c.base.filter);
            conds.extend(&c.conversion.filter);
        }
    }
    let mut out = Vec::new();
    for c in conds {
        if let Some((_, m)) = metric_ref(layer, &c.dimension) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// Plans a leaf whose filters may hold metric filters (and, inside a metric filter's
/// subquery, groups it by the entity key): the leaf is planned without them, then each is
/// joined as a subquery node and filtered on.
pub(super) fn plan_leaf(
    layer: &SemanticLayer,
    leaf: &Leaf,
    query: &MetricQuery,
    opts: &CompileOptions,
    nested: Nested,
) -> Result<LeafPlan, CompileError> {
    let model = leaf
        .conversion
        .as_ref()
        .map_or(leaf.input.model, |c| c.base.model);
    let reached = layer.reach(model);
    let is_mf = |c: &Condition| is_metric_filter(layer, model, &reached, &c.dimension);
    for f in &query.where_exprs {
        let mut conds = Vec::new();
        f.conditions(&mut conds);
        if let Some(c) = conds.into_iter().find(|c| is_mf(c)) {
            return Err(CompileError::Invalid(format!(
                "the metric filter on {} cannot be combined with OR or NOT; give it as a condition of its own",
                c.dimension
            )));
        }
    }
    let mine: Vec<&Condition> = leaf
        .input
        .filter
        .iter()
        .chain(&query.filters)
        .filter(|c| is_mf(c))
        .collect();
    if mine.is_empty() && nested.entity.is_none() {
        return super::plan_leaf(layer, leaf, query);
    }
    if leaf.conversion.is_some() {
        return Err(CompileError::Invalid(format!(
            "{} is a conversion metric: metric filters on it, or it in a metric filter, are not supported",
            leaf.metric
        )));
    }
    let mut bare_leaf = leaf.clone();
    bare_leaf.input.filter.retain(|c| !is_mf(c));
    let mut bare = query.clone();
    bare.filters.retain(|c| !is_mf(c));
    bare.group_by.retain(|g| g != KEY);
    let mut plan = super::plan_leaf(layer, &bare_leaf, &bare)?;
    if let Some(path) = nested.entity {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let (source, expr) =
            entity_key(layer, model, &reached, &path, &mut plan.nodes, &leaf.metric)?;
        plan.group.insert(
            0,
            DimRef {
                name: KEY.into(),
                source,
                expr,
                is_time: false,
                data_type: DataType::String,
                identifier: true,
                unit: TimeUnit::Day,
                bucket: None,
            },
        );
    }
    let mut joined: Vec<(String, usize)> = Vec::new();
    for c in mine {
        let source = match joined.iter().find(|(n, _)| *n == c.dimension) {
            Some((_, s)) => *s,
            None => {
                let s = join_metric(
                    layer,
                    model,
                    &reached,
                    c,
                    &mut plan.nodes,
                    &leaf.metric,
                    query,
                    opts,
                    nested,
                )?;
                joined.push((c.dimension.clone(), s));
                s
            }
        };
        let (_, metric) = metric_ref(layer, &c.dimension).ok_or_else(|| {
            CompileError::Invalid(format!("{} is not a metric filter", c.dimension))
        })?;
        let d = DimRef {
            name: c.dimension.clone(),
            source,
            expr: ident(&layer.metrics[metric].name),
            is_time: false,
            data_type: DataType::Number,
            identifier: false,
            unit: TimeUnit::Day,
            bucket: None,
        };
        check_literals(&d, c)?;
        plan.filters.push((d, c.clone()));
    }
    Ok(plan)
}

/// Joins the subquery of metric filter `c` (its metric per entity key) to the node holding
/// the entity's key on the leaf's side; returns the new node.
// `..JoinStep::default()`: fields other branches add to a join step (partitions) stay empty
// for a metric filter's join.
#[allow(clippy::too_many_arguments, clippy::needless_update)]
fn join_metric(
    layer: &SemanticLayer,
    model: usize,
    reached: &[Reach],
    c: &Condition,
    nodes: &mut Vec<Node>,
    what: &str,
    query: &MetricQuery,
    opts: &CompileOptions,
    nested: Nested,
) -> Result<usize, CompileError> {
    let (path, metric) = metric_ref(layer, &c.dimension)
        .ok_or_else(|| CompileError::Invalid(format!("{} is not a metric filter", c.dimension)))?;
    if nested.depth >= layer.metrics.len() {
        return Err(CompileError::Invalid(format!(
            "the metric filter on {} refers back to itself",
            c.dimension
        )));
    }
    let entity = path[path.len() - 1];
    let (parent, key) = entity_key(layer, model, reached, &[entity], nodes, what)?;
    let path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
    let inner = MetricQuery {
        metrics: vec![layer.metrics[metric].name.clone()],
        group_by: vec![KEY.into()],
        // The asker's row scopes that the metric's tables reach.
        filters: query
            .scopes
            .iter()
            .filter(|c| {
                crate::semantic::graph::metric_models(layer, metric)
                    .into_iter()
                    .any(|m| layer.resolve_dimension(m, &c.dimension).is_some())
            })
            .cloned()
            .collect(),
        scopes: query.scopes.clone(),
        ..MetricQuery::default()
    };
    let sub = super::compile_at(
        layer,
        &inner,
        opts,
        Nested {
            depth: nested.depth + 1,
            entity: Some(&path),
        },
    )
    .map_err(|e| CompileError::Invalid(format!("the metric filter on {}: {e}", c.dimension)))?;
    let parent_model = nodes[parent].model;
    nodes.push(Node {
        model: parent_model,
        parent,
        far: Vec::new(),
        step: Some(JoinStep {
            entity: format!("metric filter {}", c.dimension),
            from_model: parent_model,
            to_model: parent_model,
            from_expr: key,
            to_expr: ident(KEY),
            ..JoinStep::default()
        }),
        subquery: Some(sub.sql),
    });
    Ok(nodes.len() - 1)
}

/// The node and SQL of an entity's key as seen from `model`: after the model's own primary
/// entity as a prefix (`view__listing` on views), the entity of the model itself, else of
/// the nearest model one unambiguous join path reaches (its nodes are added).
fn entity_key(
    layer: &SemanticLayer,
    model: usize,
    reached: &[Reach],
    path: &[&str],
    nodes: &mut Vec<Node>,
    what: &str,
) -> Result<(usize, String), CompileError> {
    let own = &layer.models[model];
    let local = |e: &str| {
        own.primary_entity.as_deref() == Some(e)
            || own
                .entities
                .iter()
                .any(|x| x.name == e && x.kind == EntityKind::Primary)
    };
    let mut path = path;
    while path.len() > 1 && local(path[0]) {
        path = &path[1..];
    }
    let [entity] = path else {
        return Err(CompileError::Invalid(format!(
            "{what}: a metric filter by the entity path {} is not supported; name one entity",
            path.join("__")
        )));
    };
    if let Some(e) = own.entities.iter().find(|x| x.name == *entity) {
        return Ok((0, e.expr.clone()));
    }
    for r in reached.iter().filter(|r| r.ambiguous.is_none()) {
        let (Some(p), Some(e)) = (
            &r.path,
            layer.models[r.model]
                .entities
                .iter()
                .find(|x| x.name == *entity),
        ) else {
            continue;
        };
        let source = super::join_path(layer, model, nodes, p);
        return Ok((source, e.expr.clone()));
    }
    Err(CompileError::Invalid(format!(
        "{what} cannot be filtered by a metric per {entity}: its table does not reach the entity {entity}"
    )))
}

/// A listing (dimensions without a metric) does not take metric filters yet: refused with
/// a reason instead of "unknown dimension".
pub(super) fn refuse_in_listing(
    layer: &SemanticLayer,
    query: &MetricQuery,
) -> Result<(), CompileError> {
    for c in query.all_conditions() {
        let dimension =
            (0..layer.models.len()).any(|m| layer.resolve_dimension(m, &c.dimension).is_some());
        if metric_ref(layer, &c.dimension).is_some() && !dimension {
            return Err(CompileError::Invalid(format!(
                "a metric filter ({}) needs a metric in the query: listings of dimension values do not take metric filters yet",
                c.dimension
            )));
        }
    }
    Ok(())
}

/// Load-time checks of the metric filters in metric definitions: the entity is reached
/// from every table the metric reads, and no metric depends on itself through them.
/// Returns (metric, message) per problem.
pub fn check_definitions(layer: &SemanticLayer) -> Vec<(String, String)> {
    use crate::semantic::model::MetricKind;
    let mut out = Vec::new();
    for (id, m) in layer.metrics.iter().enumerate() {
        let inputs: Vec<&crate::semantic::model::MeasureInput> = match &m.kind {
            MetricKind::Simple(i) | MetricKind::Cumulative(i) => vec![i],
            MetricKind::Ratio {
                numerator,
                denominator,
            } => vec![numerator, denominator],
            _ => Vec::new(),
        };
        for input in inputs {
            let reached = layer.reach(input.model);
            for c in &input.filter {
                if !is_metric_filter(layer, input.model, &reached, &c.dimension) {
                    continue;
                }
                let Some((path, _)) = metric_ref(layer, &c.dimension) else {
                    continue;
                };
                let mut nodes = vec![Node {
                    model: input.model,
                    parent: 0,
                    step: None,
                    far: Vec::new(),
                    subquery: None,
                }];
                let entity = path[path.len() - 1];
                if let Err(e) =
                    entity_key(layer, input.model, &reached, &[entity], &mut nodes, &m.name)
                {
                    out.push((m.name.clone(), e.to_string()));
                }
            }
        }
        // A metric whose filters lead back to itself would never finish compiling.
        let mut stack = vec![id];
        let mut seen = vec![id];
        while let Some(x) = stack.pop() {
            let mut next = filter_metrics(layer, x);
            if let MetricKind::Derived { deps, .. } = &layer.metrics[x].kind {
                next.extend(deps);
            }
            if next.contains(&id) {
                out.push((
                    m.name.clone(),
                    "its filter refers back to the metric itself (directly or through others)"
                        .into(),
                ));
                break;
            }
            for n in next {
                if !seen.contains(&n) {
                    seen.push(n);
                    stack.push(n);
                }
            }
        }
    }
    out
}
