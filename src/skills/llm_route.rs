//! The LLM router and narrator. Each skill is offered as a tool whose JSON-schema
//! parameters come from the skill file; the generic metric question's tool takes a
//! structured metric query. Arguments are validated exactly like the offline router's
//! (unknown names are rejected, not guessed). Any failure falls back to the offline router
//! with a log line, never a failed answer.

use async_openai::types::chat::{ChatCompletionTool, ChatCompletionTools, FunctionObject};
use chrono::NaiveDate;
use serde_json::{json, Value};
use tracing::warn;

use super::params::{resolve, resolve_question, Resolved};
use super::run::Runtime;
use super::{ParamKind, Skill};
use crate::answer::{Answer, Status};
use crate::context::Person;
use crate::llm::{numbers_are_grounded, numbers_in, Llm};
use crate::planner::{Role, Understood};
use crate::semantic::{compile, CompileOptions, MetricQuery};
use crate::text::Question;

const SYSTEM: &str = "You route employees' business questions to exactly one tool. \
Pick the tool that answers the question and fill its parameters from the question. \
Use only metric, dimension and value names listed in the tool schemas. Never write SQL.";

/// The tools offered to the model, one per skill.
pub fn tools(rt: &Runtime) -> Vec<ChatCompletionTools> {
    rt.skills
        .skills
        .iter()
        .map(|s| {
            ChatCompletionTools::Function(ChatCompletionTool {
                function: FunctionObject {
                    name: s.name.clone(),
                    description: Some(format!(
                        "{} Examples: {}",
                        s.description,
                        s.examples.join(" | ")
                    )),
                    parameters: Some(schema(rt, s)),
                    strict: None,
                },
            })
        })
        .collect()
}

fn schema(rt: &Runtime, skill: &Skill) -> Value {
    let layer = &rt.engine.layer;
    let metrics: Vec<&str> = layer.metrics.iter().map(|m| m.name.as_str()).collect();
    if skill
        .steps
        .iter()
        .any(|s| matches!(s, super::Step::Plan { .. }))
    {
        let dims: Vec<&str> = layer
            .all_dimensions()
            .filter(|(_, d)| !d.is_time())
            .map(|(_, d)| d.name.as_str())
            .collect();
        return json!({
            "type": "object",
            "properties": {
                "metrics": {"type": "array", "items": {"type": "string", "enum": metrics}},
                "group_by": {"type": "array", "items": {"type": "string", "enum": dims}},
                "grain": {"type": "string", "enum": ["day", "week", "month", "quarter", "year"]},
                "filters": {"type": "array", "items": {"type": "object", "properties": {
                    "dimension": {"type": "string", "enum": dims},
                    "op": {"type": "string", "enum": ["=", "!=", "in", "not in", "excluding", "<", "<=", ">", ">=", "between", "is null", "is not null"]},
                    "values": {"type": "array", "items": {"type": ["string", "number", "boolean"]}}},
                    "required": ["dimension", "op", "values"]}},
                "time_range": {"type": "object", "properties": {
                    "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}}},
                "order": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "desc": {"type": "boolean"}}}},
                "limit": {"type": "integer", "minimum": 1},
                "understood": {
                    "type": "array",
                    "description": "Your reading of every phrase of the question, in order: what each phrase became in this query. Use role filler only for generic English.",
                    "items": {"type": "object", "properties": {
                        "phrase": {"type": "string"},
                        "role": {"type": "string", "enum": ["metric", "dimension", "value", "time", "grain", "ranking", "comparison", "filler"]},
                        "as": {"type": "string", "description": "The metric, dimension or value name (or period) it maps to."}},
                        "required": ["phrase", "role"]}
                }
            },
            "required": ["metrics", "understood"]
        });
    }
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for p in &skill.params {
        let mut prop = json!({"type": "string", "description": p.description});
        match p.kind {
            ParamKind::Metric => prop["enum"] = json!(metrics),
            ParamKind::Okr => {
                prop["enum"] = json!(rt
                    .context
                    .okrs
                    .iter()
                    .map(|o| o.id.clone())
                    .collect::<Vec<_>>())
            }
            ParamKind::Team => {
                prop["enum"] = json!(rt
                    .context
                    .teams
                    .iter()
                    .map(|t| t.name.clone())
                    .collect::<Vec<_>>())
            }
            ParamKind::DimensionValue => {
                let values: Vec<String> = layer
                    .all_dimensions()
                    .filter(|(_, d)| Some(&d.name) == p.dimension.as_ref())
                    .flat_map(|(_, d)| d.sample_values.clone())
                    .collect();
                prop["enum"] = json!(values);
            }
            ParamKind::Period => {
                prop["description"] = json!(
                    "A period in words, e.g. \"last quarter\" or \"2026-01-01 to 2026-03-31\""
                )
            }
            ParamKind::Merchant => prop["description"] = json!("The merchant's name"),
            ParamKind::Text => continue,
        }
        if p.required {
            required.push(p.name.clone());
        }
        props.insert(p.name.clone(), prop);
    }
    json!({"type": "object", "properties": props, "required": required})
}

/// What the model's tool call resolves to.
enum Choice<'a> {
    Skill(&'a Skill, Resolved),
    Query(MetricQuery, Vec<Understood>),
    /// The model's reading leaves a phrase out of its query: ask, never drop it.
    Clarify(String),
}

/// Checks that the model's query uses every phrase it says it read, and that every content
/// word of the question is in one of those phrases. `Err` is the clarifying question.
fn covers(
    rt: &Runtime,
    q: &Question,
    query: &MetricQuery,
    understood: &[Understood],
) -> Result<(), String> {
    let layer = &rt.engine.layer;
    let norm = |s: &str| s.trim().to_lowercase().replace(' ', "_");
    let in_filters = |v: &str| {
        query.filters.iter().any(|c| {
            norm(&c.dimension) == norm(v)
                || c.values
                    .iter()
                    .any(|x| norm(&x.to_string().replace('\'', "")) == norm(v))
                || norm(&c.to_string().replace('\'', "")) == norm(v)
        })
    };
    for u in understood {
        let target = if u.as_.is_empty() { &u.phrase } else { &u.as_ };
        let ok = match u.role {
            Role::Metric => query.metrics.iter().any(|m| norm(m) == norm(target)),
            Role::Dimension => {
                query.group_by.iter().any(|d| norm(d) == norm(target)) || in_filters(target)
            }
            Role::Value => in_filters(target) || in_filters(&u.phrase),
            Role::Time => query.time_range.is_some(),
            Role::Grain => query.grain.is_some(),
            Role::Ranking => !query.order.is_empty() || query.limit.is_some(),
            Role::Comparison | Role::Filler => true,
        };
        if !ok {
            return Err(format!(
                "I read \"{}\" as {} {}, but the query doesn't use it, so I won't answer without it. Could you rephrase, e.g. with \"by\" and a dimension name?",
                u.phrase,
                u.role.as_str(),
                target
            ));
        }
    }
    let covered: Vec<String> = understood
        .iter()
        .flat_map(|u| crate::text::words(&u.phrase))
        .map(|w| crate::text::stem(&w))
        .collect();
    let missing: Vec<String> = q
        .tokens
        .iter()
        .filter(|w| {
            !crate::planner::understood::is_filler(w, &layer.ignore)
                && !covered.contains(&crate::text::stem(w))
                && w.chars().any(char::is_alphanumeric)
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "I don't know how \"{}\" fits this question, and I won't answer without it. Could you rephrase it with a governed dimension or value?",
            missing.join(" ")
        ));
    }
    Ok(())
}

/// Checks a tool call the way the offline router would, rejecting anything unknown.
fn validate<'a>(
    rt: &'a Runtime,
    call: &crate::llm::ToolCall,
    q: &Question,
    asker: Option<&Person>,
) -> Result<Choice<'a>, String> {
    let today = q.today;
    let skill = rt
        .skills
        .get(&call.name)
        .ok_or_else(|| format!("unknown tool {:?}", call.name))?;
    let args: Value = serde_json::from_str(&call.arguments)
        .map_err(|e| format!("arguments are not JSON ({e})"))?;
    if skill
        .steps
        .iter()
        .any(|s| matches!(s, super::Step::Plan { .. }))
    {
        let mut args = args;
        let understood: Vec<Understood> =
            match args.as_object_mut().and_then(|o| o.remove("understood")) {
                Some(u) => serde_json::from_value(u)
                    .map_err(|e| format!("understood is not a list of readings ({e})"))?,
                None => Vec::new(),
            };
        let query: MetricQuery =
            serde_json::from_value(args).map_err(|e| format!("not a metric query ({e})"))?;
        compile(&rt.engine.layer, &query, &CompileOptions { today }).map_err(|e| e.to_string())?;
        if let Err(ask) = covers(rt, q, &query, &understood) {
            return Ok(Choice::Clarify(ask));
        }
        return Ok(Choice::Query(query, understood));
    }
    let input = rt.resolve_input(asker, today);
    // Start from the offline resolution (asker's team, defaults), then apply each argument,
    // resolving it as text and insisting it resolves.
    let mut resolved = resolve_question(&skill.params, q, &input, None);
    let obj = args.as_object().cloned().unwrap_or_default();
    for (name, v) in obj {
        let Some(p) = skill.params.iter().find(|p| p.name == name) else {
            return Err(format!("unknown parameter {name:?} for {}", skill.name));
        };
        let text = match &v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(format!("parameter {name:?} must be text")),
        };
        let text = match p.kind {
            ParamKind::Okr => format!("okr {}", text.trim_start_matches(['#', ' '])),
            ParamKind::Metric if rt.engine.layer.metric(&text).is_none() => {
                return Err(format!("unknown metric {text:?}"))
            }
            _ => text,
        };
        let mut single = p.clone();
        single.required = true;
        single.default = None;
        let r = resolve(std::slice::from_ref(&single), &text, &input);
        let value = r
            .values
            .get(&name)
            .filter(|v| !v.is_null())
            .ok_or_else(|| format!("{name} {text:?} does not resolve"))?;
        resolved.values.insert(name.clone(), value.clone());
        if let Some(d) = r.display.get(&name) {
            resolved.display.insert(name.clone(), d.clone());
        }
        resolved.missing.retain(|m| m.name != name);
    }
    if let Some(m) = resolved.missing.first() {
        return Err(format!("required parameter {} is missing", m.name));
    }
    Ok(Choice::Skill(skill, resolved))
}

/// Answers with the LLM choosing the skill, falling back to the offline router on any
/// failure; then adds a narrative when the model writes one grounded in the numbers.
pub async fn answer(
    rt: &Runtime,
    llm: &Llm,
    question: &str,
    asker: Option<&Person>,
    today: NaiveDate,
    requester: &str,
) -> Answer {
    let mut user = format!("Today is {today}.");
    if let Some(a) = asker {
        user.push_str(&format!(
            " The asker is {} ({}, {} team).",
            a.name, a.role, a.team
        ));
    }
    let q = Question::new(question, today);
    let passages = rt.context.relevant_to(&q, 3);
    if !passages.is_empty() {
        user.push_str("\nRelevant company context:");
        for p in passages {
            user.push_str(&format!("\n- {}: {}", p.title, p.text));
        }
    }
    user.push_str(&format!("\nQuestion: {question}"));
    let chosen = match llm.choose_tool(SYSTEM, &user, tools(rt)).await {
        Ok(call) => validate(rt, &call, &q, asker).map_err(|e| {
            warn!(error = %e, tool = %call.name, "LLM tool call rejected; using the offline router");
        }),
        Err(e) => {
            warn!(error = %e, "LLM unavailable; using the offline router");
            Err(())
        }
    };
    let mut a = match chosen {
        Ok(Choice::Skill(skill, resolved)) => super::run::run(
            rt,
            skill,
            &crate::text::Question::new(question, today),
            &resolved,
            asker,
            requester,
        ),
        Ok(Choice::Query(query, understood)) => {
            let mut a = crate::answer::run_query(
                &rt.engine,
                question,
                query,
                None,
                vec!["Interpreted with the LLM; compiled by the semantic layer.".into()],
                today,
                requester,
            );
            a.understood = understood;
            a
        }
        Ok(Choice::Clarify(q)) => Answer::new(question, Status::Clarify, q),
        Err(()) => super::answer_question(rt, question, asker, today, requester),
    };
    // Completed (text, next questions) before narration: the narrator reads the text.
    super::complete(rt, &mut a, asker, today, requester);
    if a.status == Status::Answered {
        narrate(llm, &mut a).await;
        a.text = crate::render::text::answer(&a);
    }
    a
}

/// Asks for a short narrative; keeps it only if every number in it is in the results.
pub async fn narrate(llm: &Llm, a: &mut Answer) {
    let system =
        "Summarise these computed results for a business reader in at most two sentences. \
                  Use only numbers that appear in the results. Do not add advice.";
    let user = format!("Question: {}\n\nResults:\n{}", a.question, a.text);
    let narrative = match llm.write(system, &user).await {
        Ok(n) => n.trim().to_string(),
        Err(e) => {
            warn!(error = %e, "no narrative; keeping the template text");
            return;
        }
    };
    let mut allowed: Vec<f64> = numbers_in(&a.text);
    allowed.extend(numbers_in(&a.question));
    for row in &a.rows {
        allowed.extend(row.iter().filter_map(|v| v.as_f64()));
    }
    match numbers_are_grounded(&narrative, &allowed) {
        Ok(()) => {
            a.text = format!("{narrative}\n\n{}", a.text);
            a.narrative = Some(narrative);
        }
        Err(n) => warn!(
            number = n,
            "narrative rejected: a number is not in the results"
        ),
    }
}
