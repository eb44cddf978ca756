//! The offline router: scores skills against the question from their descriptions,
//! examples and keywords, plus the entities found (merchants, OKRs, teams). Confident ->
//! run; two close -> one clarifying question; nothing specific -> `metric_question`.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::params::{resolve, resolve_question, Resolved};
use super::run::Runtime;
use super::{ParamKind, Skill};
use crate::context::Person;
use crate::planner::{plan_question, Plan, Role, Shape};
use crate::text::{content_words, Question};

/// The router's decision.
#[derive(Debug)]
pub enum Route<'a> {
    Run {
        skill: &'a Skill,
        resolved: Resolved,
    },
    /// A skill fits but needs a parameter the question didn't give.
    Ask {
        skill: &'a Skill,
        question: String,
        choices: Vec<String>,
    },
    /// Two skills fit equally well.
    Clarify {
        question: String,
        choices: Vec<String>,
    },
    /// No specific skill fits and no `metric_question` skill is installed: the planner
    /// answers directly.
    Planner,
}

/// The generic skill that answers any governed metric question.
pub const FALLBACK: &str = "metric_question";

/// Minimum score for a specific skill to beat the generic metric question.
const THRESHOLD: f64 = 2.0;

/// How well a skill's words match the question: keyword phrases found count most, and
/// words shared with the description and examples add a little.
pub fn score(skill: &Skill, q: &BTreeSet<String>, q_seq: &[String]) -> f64 {
    // A keyword phrase found scores 2, plus 1.5 for each word beyond the first.
    let kw: f64 = skill
        .keywords
        .iter()
        .map(|k| stems(k))
        .filter(|k| !k.is_empty() && q_seq.windows(k.len()).any(|w| w == k.as_slice()))
        .map(|k| 2.0 + 1.5 * (k.len() - 1) as f64)
        .sum();
    let mut text = skill.description.clone();
    for e in &skill.examples {
        text.push(' ');
        text.push_str(e);
    }
    let overlap = q.intersection(&content_words(&text)).count() as f64;
    kw + 0.5 * overlap / (q.len().max(1) as f64).sqrt()
}

fn stems(text: &str) -> Vec<String> {
    crate::text::words(text)
        .iter()
        .map(|w| crate::text::stem(w))
        .collect()
}

/// Routes the question text (read here once).
pub fn route<'a>(
    rt: &'a Runtime,
    question: &str,
    asker: Option<&Person>,
    today: NaiveDate,
) -> Route<'a> {
    route_question(rt, &Question::new(question, today), asker)
}

/// Routes a question already read, as of its `today`: scores every skill, resolves their
/// parameters and plans the question once, all from the same reading.
pub fn route_question<'a>(rt: &'a Runtime, q: &Question, asker: Option<&Person>) -> Route<'a> {
    let today = q.today;
    let q_seq = &q.stems;
    let input = rt.resolve_input(asker, today);
    // The generic metric question competes too (below); its plan also gives a metric
    // parameter its value.
    let planned = plan_question(&rt.engine.layer, &rt.vocab, q);
    let mut scored: Vec<(f64, &Skill, Resolved)> = Vec::new();
    for skill in rt.skills.skills.iter().filter(|s| s.name != FALLBACK) {
        let mut s = score(skill, &q.content, q_seq);
        if s == 0.0 {
            continue;
        }
        let resolved = resolve_question(&skill.params, q, &input, Some(&planned));
        // Entities a skill requires, named in the question, are strong evidence.
        for p in skill.params.iter().filter(|p| p.required) {
            if resolved.values.get(&p.name).is_some_and(|v| !v.is_null()) {
                s += match p.kind {
                    ParamKind::Merchant | ParamKind::Okr => 3.0,
                    _ => 0.0,
                };
            }
        }
        scored.push((s, skill, resolved));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let fallback = |rt: &'a Runtime| {
        let skill = rt.skills.get(FALLBACK);
        match skill {
            Some(skill) => Route::Run {
                skill,
                resolved: resolve_question(&skill.params, q, &input, Some(&planned)),
            },
            None => Route::Planner,
        }
    };
    // A question the planner fully understands goes to the generic metric question unless
    // a specific skill has stronger evidence.
    // A named metric filtered on an entity's name ("tickets for Blue Fox Goods") is a
    // metric question, not the entity's brief.
    // So is a composed question (a comparison of two periods, "why", a share, an inline
    // definition): the planner read every phrase of it.
    if let Plan::Query { query, shape, .. } = &planned {
        let layer = &rt.engine.layer;
        if *shape != Shape::Single
            || query.filters.iter().any(|c| {
                layer
                    .all_dimensions()
                    .any(|(_, d)| d.entity_name && d.name == c.dimension)
            })
        {
            return fallback(rt);
        }
    }
    let generic = match &planned {
        Plan::Query { .. } => 2.5,
        Plan::Clarify { .. } => 1.0,
        Plan::Unanswerable { .. } => 0.0,
    };
    let bar = THRESHOLD.max(generic);
    let Some((best, _, _)) = scored.first() else {
        return fallback(rt);
    };
    if *best < bar {
        return fallback(rt);
    }
    if let Some((second, other, _)) = scored.get(1) {
        if *second >= bar && best - second < 0.5 {
            let names = vec![scored[0].1.name.clone(), other.name.clone()];
            return Route::Clarify {
                question: format!(
                    "Do you want {} or {}?",
                    scored[0].1.description.trim_end_matches('.'),
                    other.description.trim_end_matches('.')
                ),
                choices: names,
            };
        }
    }
    let (_, skill, resolved) = scored.remove(0);
    // A skill answers only what its parameters carry: a governed value it would drop
    // ("benchmark resolution time for Enterprise merchants in the US") sends the question
    // to the generic metric question, which uses or asks about every phrase.
    let dropped = dropped_values_in(rt, skill, &resolved, q);
    if !dropped.is_empty() {
        // The planner read every phrase: unless it ignored the skill's own keywords ("on
        // track"), its answer is the whole question. Otherwise ask which is wanted.
        if let Plan::Query { understood, .. } = &planned {
            let ignored = skill.keywords.iter().any(|k| {
                let kw = stems(k);
                !kw.is_empty()
                    && q_seq.windows(kw.len()).any(|w| w == kw.as_slice())
                    && understood
                        .iter()
                        .filter(|u| stems(&u.phrase).iter().any(|w| kw.contains(w)))
                        .all(|u| u.role == Role::Filler)
            });
            if !ignored {
                return fallback(rt);
            }
        }
        return Route::Clarify {
            question: format!(
                "{} can't take {} into account. Do you want it without that, or the governed figures for exactly what you asked?",
                skill.description.trim_end_matches('.'),
                dropped.join(" and ")
            ),
            choices: vec![skill.name.clone(), FALLBACK.to_string()],
        };
    }
    finish(rt, skill, resolved)
}

/// Governed values the question names that `skill` would not use: neither bound to one of
/// its parameters nor words of its own keywords, description or examples.
pub fn dropped_values(
    rt: &Runtime,
    skill: &Skill,
    resolved: &Resolved,
    question: &str,
    today: NaiveDate,
) -> Vec<String> {
    dropped_values_in(rt, skill, resolved, &Question::new(question, today))
}

/// [`dropped_values`] of a question already read.
pub fn dropped_values_in(
    rt: &Runtime,
    skill: &Skill,
    resolved: &Resolved,
    q: &Question,
) -> Vec<String> {
    let today = q.today;
    let mut own = String::new();
    for t in skill
        .keywords
        .iter()
        .chain(&skill.examples)
        .chain(std::iter::once(&skill.description))
    {
        own.push(' ');
        own.push_str(&t.to_lowercase());
    }
    let own_words = stems(&own);
    let bound: Vec<String> = resolved
        .display
        .values()
        .map(|v| v.to_lowercase())
        .chain(
            resolved
                .values
                .values()
                .map(|v| v.to_string().to_lowercase()),
        )
        .collect();
    let mut out: Vec<String> = rt
        .vocab
        .values_in_question(q)
        .into_iter()
        .filter(|(phrase, _, value)| {
            let v = value.to_lowercase();
            let p = phrase.to_lowercase();
            let in_own = stems(&p).iter().all(|w| own_words.contains(w));
            !in_own && !bound.iter().any(|b| b.contains(&v) || b.contains(&p))
        })
        .map(|(phrase, dimension, value)| format!("{phrase} ({dimension} = {value})"))
        .collect();
    // A breakdown the skill doesn't take ("first response time by channel").
    for (phrase, dimension) in rt.vocab.dimensions_in_question(q) {
        let in_own = stems(&phrase).iter().all(|w| own_words.contains(w));
        if !in_own && !bound.iter().any(|b| b.contains(&dimension)) {
            out.push(format!("by {phrase}"));
        }
    }
    // A second period ("last month compared to the same month last year") when the skill
    // takes at most one.
    let periods = skill
        .params
        .iter()
        .filter(|p| p.kind == super::ParamKind::Period)
        .count();
    let toks = &q.tokens;
    if let Some(first) = &q.period {
        let masked: Vec<String> = toks
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if first.used.contains(&i) {
                    String::new()
                } else {
                    w.clone()
                }
            })
            .collect();
        let second = crate::text::calendar::find_period(&masked, today);
        if second.is_some() && periods < 2 {
            out.push("a second period".into());
        }
        // "how many tickets did Blue Fox Goods raise last month": a skill with no period
        // would answer for its own.
        if periods == 0 {
            out.push(format!("the period \"{}\"", first.label));
        }
    }
    // Metrics the skill neither takes as a parameter nor is about ("forecast tickets" is not
    // the pipeline), or more of them than it takes ("tickets compared with automation rate").
    let metric_params = skill
        .params
        .iter()
        .filter(|p| p.kind == super::ParamKind::Metric)
        .count();
    let named = crate::planner::metrics_named_in(&rt.engine.layer, &rt.vocab, q);
    // (A count may only name whose figures: "CSAT for Jewelry merchants".)
    let counted = named
        .iter()
        .filter(|m| {
            rt.engine
                .layer
                .metric(m)
                .is_some_and(|x| x.unit != crate::semantic::Unit::Count)
        })
        .count();
    if metric_params > 0 && counted > metric_params {
        out.push(format!("{counted} metrics"));
    }
    if metric_params == 0 {
        for m in &named {
            let Some(metric) = rt.engine.layer.metric(m) else {
                continue;
            };
            let words = stems(&metric.label.to_lowercase());
            if !words.iter().any(|w| own_words.contains(w)) {
                out.push(format!("the metric {}", metric.label));
            }
        }
    }
    out.extend(rankings_and_series(toks, &own_words));
    out
}

/// A ranking or a series the skill doesn't do ("the worst first response time", "by
/// month"): the words, quoted, unless they are the skill's `own_words`.
fn rankings_and_series(toks: &[String], own_words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, w) in toks.iter().enumerate() {
        let ranking = matches!(
            w.as_str(),
            "best"
                | "worst"
                | "top"
                | "bottom"
                | "highest"
                | "lowest"
                | "most"
                | "least"
                | "fastest"
                | "slowest"
        );
        let grain = matches!(
            w.as_str(),
            "daily" | "weekly" | "monthly" | "quarterly" | "yearly"
        ) || (matches!(w.as_str(), "by" | "per" | "each")
            && toks.get(i + 1).is_some_and(|n| {
                crate::text::calendar::grain_word(&crate::text::stem(n)).is_some()
            }));
        if (ranking || grain) && !own_words.contains(&crate::text::stem(w)) {
            out.push(format!("\"{w}\""));
        }
    }
    out
}

/// Routes straight to the named skill (a clarifying choice the asker picked).
pub fn route_to<'a>(
    rt: &'a Runtime,
    name: &str,
    question: &str,
    asker: Option<&Person>,
    today: NaiveDate,
) -> Option<Route<'a>> {
    let skill = rt.skills.get(name)?;
    let resolved = resolve(&skill.params, question, &rt.resolve_input(asker, today));
    Some(finish(rt, skill, resolved))
}

/// Runs the skill, or asks for its first missing required parameter.
fn finish<'a>(rt: &'a Runtime, skill: &'a Skill, resolved: Resolved) -> Route<'a> {
    if let Some(p) = resolved.missing.first() {
        let (question, choices) = match p.kind {
            ParamKind::Okr => (
                "Which OKR do you mean?".to_string(),
                rt.context
                    .okrs
                    .iter()
                    .map(|o| format!("OKR #{}: {}", o.id, o.title))
                    .collect(),
            ),
            ParamKind::Merchant => (
                "Which merchant do you mean? I couldn't match a merchant name in your question."
                    .to_string(),
                Vec::new(),
            ),
            _ => (
                format!("Which {} do you mean?", p.name.replace('_', " ")),
                Vec::new(),
            ),
        };
        return Route::Ask {
            skill,
            question,
            choices,
        };
    }
    Route::Run { skill, resolved }
}
