//! Suggested next questions: two or three under each answer, each one checked by routing
//! it (and planning it, for metric questions) and against the asker's access before it is
//! offered, so a click never ends in "I don't know" or "that is restricted".

use chrono::NaiveDate;

use super::router::{self, Route};
use super::run::Runtime;
use crate::answer::{Answer, Status};
use crate::context::Person;
use crate::planner::{self, Plan};
use crate::policy::Access;

/// How many suggestions an answer gets at most.
const MAX: usize = 3;

/// True when `q` routes to a skill that can run, or plans to a governed query, and the
/// asker's access allows what it reads (the policy's own check on the planned query; a
/// skill's metrics and dimensions as its steps name them).
pub fn answerable(
    rt: &Runtime,
    q: &str,
    asker: Option<&Person>,
    today: NaiveDate,
    access: &Access,
) -> bool {
    let plans = || match planner::plan(&rt.engine.layer, &rt.vocab, q, today) {
        Plan::Query { mut query, .. } => access.apply(&rt.engine.layer, &mut query).is_ok(),
        _ => false,
    };
    match router::route(rt, q, asker, today) {
        Route::Run { skill, .. } if skill.name == router::FALLBACK => plans(),
        Route::Run { skill, .. } => skill_allowed(skill, access),
        Route::Planner => plans(),
        Route::Ask { .. } | Route::Clarify { .. } => false,
    }
}

/// True unless a metric step of the skill names a metric or dimension the asker may not use.
fn skill_allowed(skill: &super::Skill, access: &Access) -> bool {
    if access.denied {
        return false;
    }
    let names = |v: Option<&serde_norway::Value>| -> Vec<String> {
        v.and_then(|v| v.as_sequence())
            .map(|s| {
                s.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    skill.steps.iter().all(|s| match s {
        super::Step::Metric { query, .. } => {
            let filters: Vec<String> = query
                .get("filters")
                .and_then(|f| f.as_sequence())
                .map(|f| {
                    f.iter()
                        .filter_map(|c| c.get("dimension")?.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            names(query.get("metrics"))
                .iter()
                .all(|m| !access.denied_metrics.contains(m))
                && names(query.get("group_by"))
                    .iter()
                    .chain(&filters)
                    .all(|d| !access.denied_dimensions.contains(d))
        }
        _ => true,
    })
}

/// Next questions for an answer: the same metric over time, by another dimension, and
/// another skill's example; each answerable, none the question just asked.
pub fn next_questions(
    rt: &Runtime,
    a: &Answer,
    asker: Option<&Person>,
    today: NaiveDate,
    requester: &str,
) -> Vec<String> {
    let access = rt.engine.governance.access(requester);
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
        let mut seen = std::collections::BTreeSet::new();
        dims.retain(|d| seen.insert(*d));
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
        if answerable(rt, &c, asker, today, &access) {
            out.push(c);
        }
    }
    // Not every answer gets suggestions: refusals keep theirs (closest metrics) as choices.
    if a.status != Status::Answered {
        out.truncate(2);
    }
    out
}
