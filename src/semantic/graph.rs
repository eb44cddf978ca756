//! Graph helpers over the semantic layer, as the planner reads it: which models a metric
//! reads, which dimensions it reaches through the join graph, its own time axis, the
//! identifiers that link a listing's columns, and what kind of statistic it is.

use super::model::{Dimension, MetricKind, SemanticLayer};
use super::query::Condition;
use super::raw;
use crate::text::words;

/// Semantic models a metric reads from.
pub fn metric_models(layer: &SemanticLayer, m: usize) -> Vec<usize> {
    match &layer.metrics[m].kind {
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => vec![i.model],
        MetricKind::Ratio { numerator, .. } => vec![numerator.model],
        MetricKind::Derived { deps, .. } => {
            deps.iter().flat_map(|d| metric_models(layer, *d)).collect()
        }
        MetricKind::Conversion(c) => vec![c.base.model, c.conversion.model],
    }
}

/// True when every one of `metrics` reaches dimension `dim` from each of its models.
pub fn reachable(layer: &SemanticLayer, metrics: &[usize], dim: &str) -> bool {
    metrics.iter().all(|&m| {
        metric_models(layer, m)
            .iter()
            .all(|&model| layer.resolve_dimension(model, dim).is_some())
    })
}

/// True when the metric (every part of a derived one) has a time dimension.
pub fn has_time(layer: &SemanticLayer, m: usize) -> bool {
    match &layer.metrics[m].kind {
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => i.time_dimension.is_some(),
        MetricKind::Ratio { numerator, .. } => numerator.time_dimension.is_some(),
        MetricKind::Derived { deps, .. } => deps.iter().all(|d| has_time(layer, *d)),
        MetricKind::Conversion(_) => true,
    }
}

/// True for a simple or cumulative metric whose measure is a sum or a count (and not a
/// semi-additive balance, which does not add up over time).
pub fn additive(layer: &SemanticLayer, m: usize) -> bool {
    match &layer.metrics[m].kind {
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => {
            let measure = &layer.models[i.model].measures[i.measure];
            matches!(measure.agg, raw::Agg::Sum | raw::Agg::Count) && measure.non_additive.is_none()
        }
        _ => false,
    }
}

/// Whether a metric has a value at a moment (a balance): a running total or a measure
/// that does not add up over time (a snapshot such as seats or a balance).
pub fn point_in_time(layer: &SemanticLayer, m: usize) -> bool {
    match &layer.metrics[m].kind {
        MetricKind::Cumulative(i) => i.window.is_none(),
        MetricKind::Simple(i) => layer.models[i.model].measures[i.measure]
            .non_additive
            .is_some(),
        _ => false,
    }
}

/// Categorical dimensions a metric can be split by, for "why" (no names or ids).
pub fn split_dimensions(layer: &SemanticLayer, m: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for model in metric_models(layer, m) {
        for (r, _) in layer.reachable_models(model) {
            for d in &layer.models[r].dimensions {
                if d.is_time()
                    || d.entity_name
                    || d.data_type == raw::DataType::Number
                    || d.name.ends_with("_id")
                    || out.contains(&d.name)
                    || !reachable(layer, &[m], &d.name)
                {
                    continue;
                }
                out.push(d.name.clone());
            }
        }
    }
    out
}

/// Names a metric can be broken down by, for a clarifying question.
pub fn reachable_dimension_names(layer: &SemanticLayer, metrics: &[usize]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, d) in layer.all_dimensions() {
        if !d.is_time() && !out.contains(&d.name) && reachable(layer, metrics, &d.name) {
            out.push(d.name.clone());
        }
    }
    out
}

/// A simple metric's (model, measure, filters), to compare shares structurally.
pub fn simple_parts(layer: &SemanticLayer, m: usize) -> Option<(usize, usize, Vec<Condition>)> {
    match &layer.metrics[m].kind {
        MetricKind::Simple(i) => Some((i.model, i.measure, i.filter.clone())),
        _ => None,
    }
}

/// The column that names a metric's entity: its `entity_name` dimension, else (when
/// `identifier` allows) its one identifier dimension ("policy number" for policies).
pub fn entity_column(layer: &SemanticLayer, m: usize, identifier: bool) -> Option<String> {
    let models = metric_models(layer, m);
    models
        .iter()
        .find_map(|&model| {
            layer.models[model]
                .dimensions
                .iter()
                .find(|d| d.entity_name)
                .map(|d| d.name.clone())
        })
        .or_else(|| {
            if !identifier {
                return None;
            }
            let ids: Vec<&str> = models
                .iter()
                .flat_map(|&model| layer.models[model].dimensions.iter())
                .filter(|d| d.identifier)
                .map(|d| d.name.as_str())
                .collect();
            match ids.as_slice() {
                [one] => Some(one.to_string()),
                _ => None,
            }
        })
}

/// Identifiers of the entities a listing's columns are joined through but which no column
/// names ("policy holders and their claims" go through the policy: its policy number), read
/// from the table the listing is compiled from (the first column's table that reaches all).
pub fn linking_identifiers(layer: &SemanticLayer, group_by: &[String]) -> Vec<String> {
    let model_of = |name: &str| {
        layer
            .models
            .iter()
            .position(|m| m.dimensions.iter().any(|d| d.name == name))
    };
    let Some(base) = group_by.iter().filter_map(|g| model_of(g)).find(|&b| {
        group_by
            .iter()
            .all(|g| layer.resolve_dimension(b, g).is_some())
    }) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for g in group_by {
        let Some((_, _, Some(path))) = layer.resolve_dimension(base, g) else {
            continue;
        };
        for step in &path.steps {
            // The entity's own table: primary on it and not a filtered role of another.
            let ids: Vec<&str> = layer
                .models
                .iter()
                .filter(|m| {
                    m.filter.is_none()
                        && m.entities
                            .iter()
                            .any(|e| e.name == step.entity && e.kind == raw::EntityKind::Primary)
                })
                .flat_map(|m| m.dimensions.iter().filter(|d| d.identifier))
                .map(|d| d.name.as_str())
                .collect();
            if let [id] = ids.as_slice() {
                if !group_by.iter().any(|x| x == id) && !out.iter().any(|x| x == id) {
                    out.push(id.to_string());
                }
            }
        }
    }
    out
}

/// The simple metrics a metric adds up (itself when simple; the leaves of a derived sum such
/// as `a + b + c`), sorted; `None` for anything else.
pub fn sum_leaves(layer: &SemanticLayer, m: usize) -> Option<Vec<usize>> {
    use super::model::ExprToken;
    match &layer.metrics[m].kind {
        MetricKind::Simple(_) => Some(vec![m]),
        // A filtered input is not the plain metric its name says.
        MetricKind::Derived { inputs, .. } if inputs.iter().any(|i| !i.filter.is_empty()) => None,
        MetricKind::Derived { expr, .. } => {
            let mut out = Vec::new();
            for (i, t) in expr.iter().enumerate() {
                match (i % 2, t) {
                    (0, ExprToken::Metric(name)) => {
                        let d = layer.metrics.iter().position(|x| &x.name == name)?;
                        out.extend(sum_leaves(layer, d)?);
                    }
                    (1, ExprToken::Op('+')) => {}
                    _ => return None,
                }
            }
            out.sort();
            Some(out)
        }
        _ => None,
    }
}

/// A derived metric of the form `a / b`: (a, b).
pub fn quotient(layer: &SemanticLayer, m: usize) -> Option<(usize, usize)> {
    use super::model::ExprToken;
    let MetricKind::Derived { expr, inputs, .. } = &layer.metrics[m].kind else {
        return None;
    };
    if inputs.iter().any(|i| !i.filter.is_empty()) {
        return None;
    }
    match expr.as_slice() {
        [ExprToken::Metric(a), ExprToken::Op('/'), ExprToken::Metric(b)] => Some((
            layer.metrics.iter().position(|x| &x.name == a)?,
            layer.metrics.iter().position(|x| &x.name == b)?,
        )),
        _ => None,
    }
}

/// The time dimension a metric is bucketed by.
pub fn own_time_dimension(layer: &SemanticLayer, m: usize) -> Option<&Dimension> {
    let input = match &layer.metrics[m].kind {
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => i,
        MetricKind::Ratio { numerator, .. } => numerator,
        MetricKind::Derived { deps, .. } => return own_time_dimension(layer, *deps.first()?),
        MetricKind::Conversion(c) => &c.base,
    };
    input
        .time_dimension
        .map(|t| &layer.models[input.model].dimensions[t])
}

/// The name of the time dimension a metric is bucketed by.
pub fn own_time(layer: &SemanticLayer, m: usize) -> Option<String> {
    own_time_dimension(layer, m).map(|d| d.name.clone())
}

/// The plain count metric (no filter) of the model that declares `dimension`.
pub fn base_count_metric(layer: &SemanticLayer, dimension: &str) -> Option<usize> {
    let model = layer
        .models
        .iter()
        .position(|m| m.dimensions.iter().any(|d| d.name == dimension))?;
    layer.metrics.iter().position(|m| match &m.kind {
        MetricKind::Simple(i) => {
            i.model == model
                && i.filter.is_empty()
                && layer.models[model].measures[i.measure].agg == raw::Agg::Count
                && layer.models[model].measures[i.measure].expr.is_none()
        }
        _ => false,
    })
}

/// True for a metric that is an average of something: an `avg` measure, a ratio, a
/// quotient of two metrics, or one whose names say average / mean / per / rate.
pub fn is_average(layer: &SemanticLayer, m: usize) -> bool {
    let metric = &layer.metrics[m];
    let named = std::iter::once(&metric.name)
        .chain(std::iter::once(&metric.label))
        .chain(&metric.synonyms)
        .any(|t| {
            words(&t.replace('_', " "))
                .iter()
                .any(|w| matches!(w.as_str(), "average" | "avg" | "mean"))
        });
    named
        || quotient(layer, m).is_some()
        || match &metric.kind {
            MetricKind::Simple(i) | MetricKind::Cumulative(i) => {
                layer.models[i.model].measures[i.measure].agg == raw::Agg::Avg
            }
            MetricKind::Ratio { .. } => true,
            MetricKind::Derived { .. } => false,
            MetricKind::Conversion(c) => c.rate,
        }
}

/// True for a median metric.
pub fn is_median(layer: &SemanticLayer, m: usize) -> bool {
    let metric = &layer.metrics[m];
    metric.label.to_lowercase().contains("median")
        || match &metric.kind {
            MetricKind::Simple(i) | MetricKind::Cumulative(i) => {
                let measure = &layer.models[i.model].measures[i.measure];
                measure.agg == raw::Agg::Median
                    || (measure.agg == raw::Agg::Percentile && measure.percentile == Some(0.5))
            }
            _ => false,
        }
}

/// How a metric aggregates, in words ("a median", "a total").
pub fn statistic(layer: &SemanticLayer, m: usize) -> &'static str {
    use raw::Agg;
    match &layer.metrics[m].kind {
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => {
            match layer.models[i.model].measures[i.measure].agg {
                Agg::Sum => "a total",
                Agg::Count | Agg::CountDistinct => "a count",
                Agg::Avg => "an average",
                Agg::Min => "a minimum",
                Agg::Max => "a maximum",
                Agg::Median => "a median",
                Agg::Percentile => "a percentile",
            }
        }
        MetricKind::Ratio { .. } => "a ratio",
        MetricKind::Derived { .. } => "computed from other metrics",
        MetricKind::Conversion(c) if c.rate => "a conversion rate",
        MetricKind::Conversion(_) => "a count of conversions",
    }
}
