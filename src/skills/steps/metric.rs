//! `kind: metric`: a governed metric query, its strings filled in from the skill's data;
//! `optional: true` makes a failure an empty table (same keys, no rows).

use chrono::NaiveDate;
use serde_json::Value;

use super::{StepError, StepOutput};
use crate::semantic::MetricQuery;
use crate::skills::run::{Runtime, StepTable};
use crate::warehouse::AuditContext;

/// Renders every string in a YAML value as a template.
pub(super) fn render_value(
    rt: &Runtime,
    v: &serde_norway::Value,
    data: &Value,
) -> Result<serde_norway::Value, String> {
    Ok(match v {
        serde_norway::Value::String(s) if s.contains("{{") => {
            serde_norway::Value::String(rt.render(s, data)?)
        }
        serde_norway::Value::Sequence(items) => serde_norway::Value::Sequence(
            items
                .iter()
                .map(|i| render_value(rt, i, data))
                .collect::<Result<_, _>>()?,
        ),
        serde_norway::Value::Mapping(m) => serde_norway::Value::Mapping(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(rt, v, data)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Runs the step.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    rt: &Runtime,
    query: &serde_norway::Value,
    optional: bool,
    data: &Value,
    today: NaiveDate,
    ctx: &AuditContext,
    metrics_used: &mut Vec<String>,
) -> Result<StepOutput, StepError> {
    let err = StepError;
    let run = || -> Result<StepTable, StepError> {
        let rendered = render_value(rt, query, data).map_err(err)?;
        let mut q: MetricQuery = serde_norway::from_value(rendered).map_err(|e| {
            err(format!(
                "the metric query is not valid after filling in parameters ({e})"
            ))
        })?;
        let out = match rt.engine.query(&q, today, ctx) {
            // A snapshot metric has no history: a period-to-date question is "now".
            Err(crate::engine::QueryError::Compile(
                crate::semantic::CompileError::NoTimeDimension { .. },
            )) if q.grain.is_none() && q.time_range.is_some() => {
                q.time_range = None;
                rt.engine.query(&q, today, ctx)
            }
            other => other,
        }
        .map_err(|e| err(e.to_string()))?;
        Ok(StepTable {
            columns: out.result.columns,
            meta: out.compiled.columns,
            rows: out.result.rows,
            sql: out.compiled.sql,
            query: Some(q),
            truncated: out.result.truncated,
        })
    };
    match run() {
        Ok(t) => {
            if let Some(q) = &t.query {
                metrics_used.extend(q.metrics.iter().cloned());
            }
            Ok(StepOutput::Table(Box::new(t)))
        }
        // An optional step that failed is an empty table: same keys, no rows.
        Err(_) if optional => Ok(StepOutput::Table(Box::default())),
        Err(e) => Err(e),
    }
}
