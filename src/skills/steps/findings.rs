//! `kind: findings`: rules that say a sentence when their condition holds (per row with
//! `each`), filed as findings, recommendations or risks by the rule's kind.

use serde_json::{json, Value};

use super::{StepError, StepOutput};
use crate::skills::expr::{truthy, Expr};
use crate::skills::run::Runtime;
use crate::skills::{Rule, RuleKind};

/// Runs the step.
pub(super) fn run(rt: &Runtime, rules: &[Rule], data: &Value) -> Result<StepOutput, StepError> {
    let err = StepError;
    let mut findings = Vec::new();
    let mut recs = Vec::new();
    let mut risks = Vec::new();
    let mut tasks = Vec::new();
    for rule in rules {
        let when = Expr::parse(&rule.when).map_err(err)?;
        let items: Vec<Value> = match &rule.each {
            Some(e) => Expr::parse(e)
                .map_err(err)?
                .eval(data)
                .as_array()
                .cloned()
                .unwrap_or_default(),
            None => vec![Value::Null],
        };
        let with: Vec<(String, Expr)> = rule
            .with
            .iter()
            .map(|(k, e)| Ok((k.clone(), Expr::parse(e).map_err(err)?)))
            .collect::<Result<_, StepError>>()?;
        for item in items {
            let mut scope = data.clone();
            scope["row"] = item;
            for (k, e) in &with {
                scope[k.as_str()] = e.eval(&scope);
            }
            if truthy(&when.eval(&scope)) {
                let text = rt.render(&rule.say, &scope).map_err(err)?;
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if let Some(t) = &rule.task {
                    let title = rt.render(t, &scope).map_err(err)?;
                    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                    tasks.push(json!({
                        "title": title,
                        "note": text,
                        "kind": rule.kind,
                        "priority": rule.priority.unwrap_or(3),
                    }));
                }
                match rule.kind {
                    RuleKind::Finding => findings.push(text),
                    RuleKind::Recommendation => recs.push(text),
                    RuleKind::Risk => risks.push(text),
                }
            }
        }
    }
    Ok(StepOutput::Value(
        json!({"findings": findings, "recommendations": recs, "risks": risks, "tasks": tasks}),
    ))
}
