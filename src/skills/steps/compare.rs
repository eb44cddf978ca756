//! `kind: compare`: rows of a step against targets (and projections) by key: gap,
//! attainment, projected attainment and whether each is on track.

use serde_json::{json, Map, Value};

use super::{StepError, StepOutput};
use crate::skills::expr::Expr;
use crate::skills::run::Runtime;

/// Runs the step.
pub(super) fn run(
    rt: &Runtime,
    rows: &str,
    key: &str,
    value: &str,
    targets: &str,
    projected: Option<&String>,
    data: &Value,
) -> Result<StepOutput, StepError> {
    let err = StepError;
    let value = &rt.render(value, data).map_err(err)?;
    let targets = Expr::parse(targets).map_err(err)?.eval(data);
    let projected = match projected {
        Some(p) => Expr::parse(p).map_err(err)?.eval(data),
        None => Value::Null,
    };
    let mut out_rows = Vec::new();
    let mut by_key = Map::new();
    for r in data["steps"][rows]["rows"].as_array().into_iter().flatten() {
        let k = r[key]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| r[key].to_string());
        let v = r[value].as_f64();
        let t = targets[&k].as_f64();
        let p = projected[&k].as_f64();
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b != 0.0 => json!(a / b),
            _ => Value::Null,
        };
        let row = json!({
            "key": k, "value": v, "target": t,
            "gap": match (t, v) { (Some(t), Some(v)) => json!(t - v), _ => Value::Null },
            "attainment": ratio(v, t),
            "projected": p,
            "projected_attainment": ratio(p, t),
            "on_track": match (p.or(v), t) { (Some(x), Some(t)) => json!(x >= t), _ => Value::Null },
        });
        by_key.insert(k, row.clone());
        out_rows.push(row);
    }
    Ok(StepOutput::Value(
        json!({"rows": out_rows, "by_key": by_key}),
    ))
}
