//! `kind: sql`: analyst SQL with `$name` placeholders bound to `bind` values (never
//! spliced); it still passes the SQL guard.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{StepError, StepOutput};
use crate::skills::run::{Runtime, StepTable};
use crate::warehouse::AuditContext;

/// Runs the step.
pub(super) fn run(
    rt: &Runtime,
    sql: &str,
    bind: &BTreeMap<String, String>,
    data: &Value,
    ctx: &AuditContext,
) -> Result<StepOutput, StepError> {
    let mut params = Vec::new();
    for (k, t) in bind {
        let v = rt.render(t, data).map_err(StepError)?;
        let v = v.parse::<f64>().map_or(json!(v), |n| json!(n));
        params.push((k.clone(), v));
    }
    let r = rt
        .engine
        .warehouse
        .query_with_params(sql, &params, ctx)
        .map_err(|e| StepError(e.to_string()))?;
    Ok(StepOutput::Table(Box::new(StepTable {
        columns: r.columns,
        meta: Vec::new(),
        rows: r.rows,
        sql: sql.to_string(),
        query: None,
        truncated: r.truncated,
    })))
}
