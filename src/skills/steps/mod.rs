//! The step kinds of a skill, one file each. A step reads the skill's data (parameters and
//! earlier steps) and returns a typed table (metric, sql), a value for later steps
//! (projection, compare, compute, findings), or a whole answer (plan).

mod compare;
mod compute;
mod findings;
mod metric;
mod projection;
mod sql;

pub use projection::project_points;

use serde_json::Value;

use super::run::{Runtime, StepTable};
use super::Step;
use crate::answer::Answer;
use crate::warehouse::AuditContext;

/// Why a step failed, in one sentence.
pub struct StepError(pub String);

/// What a step produced.
pub enum StepOutput {
    /// A value for later steps and templates (`steps.<id>`).
    Value(Value),
    /// Rows from the warehouse, typed.
    Table(Box<StepTable>),
    /// The whole answer (the planner's step).
    Answer(Box<Answer>),
}

/// Runs one step over the skill's data so far.
pub fn run_step(
    rt: &Runtime,
    step: &Step,
    data: &Value,
    q: &crate::text::Question,
    ctx: &AuditContext,
    metrics_used: &mut Vec<String>,
) -> Result<StepOutput, StepError> {
    let today = q.today;
    match step {
        Step::Plan { .. } => {
            let a = crate::answer::ask_question(&rt.engine, &rt.vocab, q, &ctx.requester);
            Ok(StepOutput::Answer(Box::new(a)))
        }
        Step::Metric {
            query, optional, ..
        } => metric::run(rt, query, *optional, data, today, ctx, metrics_used),
        Step::Sql { sql, bind, .. } => sql::run(rt, sql, bind, data, ctx),
        Step::Projection {
            series,
            at,
            value_column,
            ..
        } => projection::run(rt, series, at, value_column.as_deref(), data),
        Step::Compare {
            rows,
            key,
            value,
            targets,
            projected,
            ..
        } => compare::run(rt, rows, key, value, targets, projected.as_ref(), data),
        Step::Compute { id, values } => compute::run(id, values, data),
        Step::Findings { rules, .. } => findings::run(rt, rules, data),
    }
}
