//! `kind: compute`: named expressions, each able to use the ones before it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{StepError, StepOutput};
use crate::skills::expr::Expr;

/// Runs the step.
pub(super) fn run(
    id: &str,
    values: &BTreeMap<String, String>,
    data: &Value,
) -> Result<StepOutput, StepError> {
    let mut local = data.clone();
    let mut out = Map::new();
    for (name, e) in values {
        let v = Expr::parse(e).map_err(StepError)?.eval(&local);
        out.insert(name.clone(), v.clone());
        local["steps"][id][name] = v;
    }
    Ok(StepOutput::Value(Value::Object(out)))
}
