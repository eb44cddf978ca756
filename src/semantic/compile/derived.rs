//! Derived metrics beyond plain arithmetic:
//! - inputs with their own `filter:` (MetricFlow's filtered, usually aliased, inputs): the
//!   input metric is computed with the extra conditions, as leaves of its own
//!   (`delayed_bookings = bookings where not is_instant`);
//! - a closed list of SQL functions in formulas (`booking_value / NULLIF(views, 0)`),
//!   checked for arity at load; any other name followed by `(` is refused.

use std::fmt::Write as _;

use super::{filled, leaf_index, leaf_value, CompileError, Leaf};
use crate::semantic::model::{ExprToken, MeasureInput, MetricKind, SemanticLayer};
use crate::semantic::query::Condition;
use crate::semantic::timespine::{DerivedInput, Offset};

/// Functions a derived formula may call: (name, fewest arguments, most arguments).
pub const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("NULLIF", 2, 2),
    ("COALESCE", 1, 16),
    ("ABS", 1, 1),
    ("ROUND", 1, 2),
    ("FLOOR", 1, 1),
    ("CEIL", 1, 1),
    ("GREATEST", 1, 16),
    ("LEAST", 1, 16),
    ("SQRT", 1, 1),
    ("LN", 1, 1),
    ("EXP", 1, 1),
    ("POWER", 2, 2),
];

/// The canonical (upper-case) name of a formula function, when `name` is one.
pub fn function(name: &str) -> Option<&'static str> {
    FUNCTIONS
        .iter()
        .find(|(f, _, _)| f.eq_ignore_ascii_case(name))
        .map(|(f, _, _)| *f)
}

/// Checks the calls of a tokenized formula: each function is followed by `(`, takes the
/// number of arguments it allows, and commas appear only between a call's arguments.
pub fn check_calls(tokens: &[ExprToken], text: &str) -> Result<(), String> {
    // Per open parenthesis: the function it calls (if any), the arguments closed by a
    // comma, and the tokens of the current argument.
    let mut stack: Vec<(Option<&str>, usize, usize)> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t {
            ExprToken::Func(f) if tokens.get(i + 1) != Some(&ExprToken::Op('(')) => {
                return Err(format!("{f} in {text:?} must be followed by '('"));
            }
            ExprToken::Op('(') => {
                if let Some(top) = stack.last_mut() {
                    top.2 += 1;
                }
                let f = match i.checked_sub(1).map(|j| &tokens[j]) {
                    Some(ExprToken::Func(f)) => Some(f.as_str()),
                    _ => None,
                };
                stack.push((f, 0, 0));
            }
            ExprToken::Op(',') => match stack.last_mut() {
                Some((Some(_), args, toks)) if *toks > 0 => {
                    *args += 1;
                    *toks = 0;
                }
                _ => return Err(format!("unexpected ',' in {text:?}")),
            },
            ExprToken::Op(')') => {
                let Some((f, args, toks)) = stack.pop() else {
                    return Err(format!("unbalanced ')' in {text:?}"));
                };
                let Some(f) = f else { continue };
                let (lo, hi) = FUNCTIONS
                    .iter()
                    .find(|(x, _, _)| *x == f)
                    .map_or((0, 0), |(_, lo, hi)| (*lo, *hi));
                let n = args + usize::from(toks > 0);
                if (toks == 0 && args > 0) || n < lo || n > hi {
                    let want = if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo} to {hi}")
                    };
                    return Err(format!("{f} takes {want} argument(s) in {text:?}"));
                }
            }
            _ => {
                if let Some(top) = stack.last_mut() {
                    top.2 += 1;
                }
            }
        }
    }
    Ok(())
}

/// The input of derived metric `id` that the formula calls `name`, when it has a filter.
fn filtered<'l>(layer: &'l SemanticLayer, id: usize, name: &str) -> Option<&'l DerivedInput> {
    match &layer.metrics[id].kind {
        MetricKind::Derived { inputs, .. } => inputs
            .iter()
            .find(|i| i.name == name && !i.filter.is_empty()),
        _ => None,
    }
}

/// Whether the formula name `name` of derived metric `id` is a filtered input (its leaves
/// are collected here, not as the plain metric's).
pub(super) fn is_filtered(layer: &SemanticLayer, id: usize, name: &str) -> bool {
    filtered(layer, id, name).is_some()
}

/// `input` with the extra conditions.
fn with(input: &MeasureInput, filter: &[Condition]) -> MeasureInput {
    let mut out = input.clone();
    out.filter.extend(filter.iter().cloned());
    out
}

/// The measure inputs (and whether cumulative) a filtered input reads.
fn inputs_of(
    layer: &SemanticLayer,
    input: &DerivedInput,
) -> Result<Vec<(MeasureInput, bool)>, CompileError> {
    let dep = layer.metric_index(&input.metric).ok_or_else(|| {
        CompileError::Invalid(format!("unknown metric {} in formula", input.metric))
    })?;
    Ok(match &layer.metrics[dep].kind {
        MetricKind::Simple(i) => vec![(with(i, &input.filter), false)],
        MetricKind::Cumulative(i) => vec![(with(i, &input.filter), true)],
        MetricKind::Ratio {
            numerator,
            denominator,
        } => vec![
            (with(numerator, &input.filter), false),
            (with(denominator, &input.filter), false),
        ],
        MetricKind::Derived { .. } | MetricKind::Conversion(_) => {
            return Err(CompileError::Invalid(format!(
                "the input {} has a filter: only a simple, ratio or cumulative metric can be filtered there",
                input.name
            )))
        }
    })
}

/// Adds the leaves of derived metric `id`'s filtered inputs (under `offsets`, those of the
/// derived inputs above it).
pub(super) fn collect(
    layer: &SemanticLayer,
    id: usize,
    leaves: &mut Vec<Leaf>,
    offsets: &[Offset],
) -> Result<(), CompileError> {
    let MetricKind::Derived { inputs, expr, .. } = &layer.metrics[id].kind else {
        return Ok(());
    };
    for input in inputs.iter().filter(|i| !i.filter.is_empty()) {
        if !expr.contains(&ExprToken::Metric(input.name.clone())) {
            continue;
        }
        let mut inner = offsets.to_vec();
        inner.extend(input.offset);
        for (mi, cumulative) in inputs_of(layer, input)? {
            let known = leaves.iter().any(|l| {
                l.input == mi
                    && l.cumulative == cumulative
                    && l.offsets == inner
                    && l.conversion.is_none()
            });
            if !known {
                leaves.push(Leaf {
                    input: mi,
                    cumulative,
                    conversion: None,
                    offsets: inner.clone(),
                    metric: layer.metrics[id].name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The SQL value of the formula name `name` of derived metric `id` when it is a filtered
/// input (`offsets` already include its own); `None` otherwise.
pub(super) fn expr(
    layer: &SemanticLayer,
    id: usize,
    name: &str,
    leaves: &[Leaf],
    offsets: &[Offset],
) -> Result<Option<String>, CompileError> {
    let Some(input) = filtered(layer, id, name) else {
        return Ok(None);
    };
    let parts = inputs_of(layer, input)?;
    let mut out = String::new();
    match parts.as_slice() {
        [(i, cumulative)] => out.push_str(&leaf_value(leaves, i, *cumulative, offsets)),
        [(n, _), (d, _)] => {
            let (ni, di) = (
                leaf_index(leaves, n, false, offsets),
                leaf_index(leaves, d, false, offsets),
            );
            let _ = write!(
                out,
                "CAST({} AS DOUBLE) / NULLIF(CAST({} AS DOUBLE), 0)",
                filled(ni, n),
                filled(di, d)
            );
        }
        _ => return Ok(None),
    }
    Ok(Some(out))
}

/// Load-time checks of derived inputs' filters: each filtered input is a simple, ratio or
/// cumulative metric whose tables reach every dimension the filter names (or, for a metric
/// filter, its entity). Returns (metric, message) per problem.
pub fn check_input_filters(layer: &SemanticLayer) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in &layer.metrics {
        let MetricKind::Derived { inputs, .. } = &m.kind else {
            continue;
        };
        for input in inputs.iter().filter(|i| !i.filter.is_empty()) {
            let Some(dep) = layer.metric_index(&input.metric) else {
                continue;
            };
            if matches!(
                layer.metrics[dep].kind,
                MetricKind::Derived { .. } | MetricKind::Conversion(_)
            ) {
                out.push((
                    m.name.clone(),
                    format!(
                        "input {}: only a simple, ratio or cumulative metric can take a filter here ({} is {})",
                        input.name,
                        input.metric,
                        layer.metrics[dep].kind.type_name()
                    ),
                ));
                continue;
            }
            for c in &input.filter {
                for model in crate::semantic::graph::metric_models(layer, dep) {
                    let ok = layer.resolve_dimension(model, &c.dimension).is_some()
                        || super::metric_filter::metric_ref(layer, &c.dimension).is_some();
                    if !ok {
                        out.push((
                            m.name.clone(),
                            format!(
                                "input {}: filter on unknown dimension {:?} for {}",
                                input.name, c.dimension, input.metric
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::semantic::model::{tokenize_formula, ExprToken};

    #[test]
    fn formulas_call_listed_functions_with_their_arity() {
        let t = tokenize_formula("booking_value / nullif(views, 0)").unwrap();
        assert_eq!(t[2], ExprToken::Func("NULLIF".into()));
        assert!(tokenize_formula("COALESCE(a, b, 0) + ROUND(c / d, 2)").is_ok());
        assert!(tokenize_formula("ABS(a - b)").is_ok());
        for (bad, why) in [
            ("a / NULLIF(b)", "NULLIF takes 2"),
            ("a / NULLIF(b, 0, 1)", "NULLIF takes 2"),
            ("SLEEP(1) + a", "unknown function SLEEP"),
            ("a, b", "unexpected ','"),
            ("(a, b)", "unexpected ','"),
            ("NULLIF(a, )", "NULLIF takes 2"),
            ("ROUND()", "ROUND takes 1 to 2"),
            ("a ; b", "unexpected ';'"),
        ] {
            let e = tokenize_formula(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
