//! Suggested next questions: two or three under each answer, each one checked by routing
//! it (and planning it, for metric questions) before it is offered, so a click never ends in
//! "I don't know".

use chrono::NaiveDate;

use super::router::{self, Route};
use super::run::Runtime;
use crate::answer::{Answer, Status};
use crate::context::Person;
use crate::planner::{self, Plan};

/// How many suggestions an answer gets at most.
const MAX: usize = 3;

/// True when `q` routes to a skill that can run, or plans to a governed query.
pub fn answerable(rt: &Runtime, q: &str, asker: Option<&Person>, today: NaiveDate) -> bool {
    let plans = || {
        matches!(
            planner::plan(&rt.engine.layer, &rt.vocab, q, today),
            Plan::Query { .. }
        )
    };
    match router::route(rt, q, asker, today) {
        Route::Run { skill, .. } if skill.name == router::FALLBACK => plans(),
        Route::Run { .. } => true,
        Route::Planner => plans(),
        Route::Ask { .. } | Route::Clarify { .. } => false,
    }
}

/// Next questions for an answer: the same metric over time, by another dimension, and
/// another skill's example; each answerable, none the question just asked.
pub fn next_questions(
    rt: &Runtime,
    a: &Answer,
    asker: Option<&Person>,
    today: NaiveDate,
) -> Vec<String> {
    let mut candidates: Vec<String> = Vec::new();
    // A skill's answer leads to another skill; a metric answer to more of the same metric.
    let other_skills: Vec<String> = rt
        .skills
        .skills
        .iter()
        .filter(|s| s.name != a.skill && s.name != router::FALLBACK)
        .filter_map(|s| s.examples.first().cloned())
        .collect();
    if a.skill != router::FALLBACK {
        candidates.extend(other_skills.iter().take(1).cloned());
    }
    let grouped: Vec<String> = a
        .query
        .as_ref()
        .map(|q| q.group_by.clone())
        .unwrap_or_default();
    let timed = a.query.as_ref().is_some_and(|q| q.grain.is_some());
    for m in a.provenance.metrics.iter().take(2) {
        if !timed {
            candidates.push(format!("{} by month this year", m.label));
        }
        let mut dims: Vec<&str> = rt
            .engine
            .layer
            .all_dimensions()
            .map(|(_, d)| d.name.as_str())
            // Breakdowns people read: not identifiers or names (thousands of rows).
            .filter(|d| {
                !d.ends_with("_id")
                    && !d.ends_with("name")
                    && !d.ends_with("_date")
                    && !grouped.iter().any(|g| g == d)
            })
            .collect();
        dims.dedup();
        for d in dims.into_iter().take(6) {
            candidates.push(format!(
                "{} by {} this quarter",
                m.label,
                d.replace('_', " ")
            ));
        }
    }
    candidates.extend(other_skills);
    let asked = a.question.trim().to_lowercase();
    let mut out: Vec<String> = Vec::new();
    for c in candidates {
        if out.len() >= MAX {
            break;
        }
        if c.to_lowercase() == asked || out.contains(&c) {
            continue;
        }
        if answerable(rt, &c, asker, today) {
            out.push(c);
        }
    }
    // Not every answer gets suggestions: refusals keep theirs (closest metrics) as choices.
    if a.status != Status::Answered {
        out.truncate(2);
    }
    out
}
