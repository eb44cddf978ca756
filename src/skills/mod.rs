//! Skills: analyst-authored answers, one folder per skill under `skills/` with a
//! `skill.yaml` and handlebars templates. No Rust per skill.
//!
//! Loading is two-phase like metrics.yaml: `raw` serde structs (unknown keys are errors),
//! then `compile` into validated [`Skill`]s with parsed expressions and templates checked
//! against the steps that produce their data. `cortex check` reports every error at once.

pub mod combine;
pub mod expr;
pub mod llm_route;
pub mod params;
pub mod router;
pub mod run;
pub mod sections;
pub mod steps;
pub mod suggest;
pub mod testing;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostics::{Diagnostic, Diagnostics, Reporter};
use crate::fuzzy::did_you_mean;
use crate::semantic::SemanticLayer;
use expr::Expr;

/// skill.yaml as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSkill {
    /// Unique id, lower_snake_case; also the folder name.
    pub name: String,
    /// What it answers, in a sentence (used for routing and the skill catalog).
    pub description: String,
    /// Questions it answers, as employees ask them (used for routing).
    #[serde(default)]
    pub examples: Vec<String>,
    /// Extra routing words ("okr", "objective").
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
    pub outputs: Outputs,
    /// Routing tests run by `cortex test`.
    #[serde(default)]
    pub tests: Vec<SkillTest>,
}

/// A typed parameter, resolved from the question or the asker.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamKind,
    #[serde(default)]
    pub description: String,
    /// The skill cannot run without it: the router asks for it instead.
    #[serde(default)]
    pub required: bool,
    /// Used when the question does not give it (for `period`: a phrase like "this quarter").
    #[serde(default)]
    pub default: Option<String>,
    /// For `dimension_value`: which dimension.
    #[serde(default)]
    pub dimension: Option<String>,
}

/// Parameter types.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// A metric name from metrics.yaml.
    Metric,
    /// A stored value of `dimension`.
    DimensionValue,
    /// A merchant, matched fuzzily by name against the warehouse.
    Merchant,
    /// An OKR from context/okrs.yaml ("OKR #1").
    Okr,
    /// A team from context/people.yaml; "my team" or no mention means the asker's team.
    Team,
    /// A period ("this quarter"); default from `default`.
    Period,
    /// The question itself.
    Text,
}

/// One step. Each step's result is available to later steps and templates as
/// `steps.<id>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// A governed metric query; strings may use `{{...}}` over params and earlier steps.
    /// With `optional: true` a failure leaves the step empty instead of failing the skill.
    Metric {
        id: String,
        query: serde_norway::Value,
        #[serde(default)]
        optional: bool,
    },
    /// The ad-hoc planner on the question itself (the `metric_question` skill).
    Plan { id: String },
    /// Analyst SQL with `$name` placeholders bound to `bind` values (never spliced);
    /// it still passes the SQL guard.
    Sql {
        id: String,
        sql: String,
        #[serde(default)]
        bind: std::collections::BTreeMap<String, String>,
    },
    /// Linear projection of a time series (`series`: a step with a time bucket and a
    /// value column) to the date `at`.
    Projection {
        id: String,
        series: String,
        at: String,
        #[serde(default)]
        value_column: Option<String>,
    },
    /// Rows of `rows` (a step) against `targets` (an expression giving a key -> target map).
    /// `key` and `value` name columns (`value` may be a template, e.g. "{{okr.metric}}").
    Compare {
        id: String,
        rows: String,
        key: String,
        value: String,
        targets: String,
        /// Optional expression giving a key -> value map to put beside each row (e.g.
        /// projected values).
        #[serde(default)]
        projected: Option<String>,
    },
    /// Named expressions: `values: {gap: "okr.target - steps.current.value"}`.
    Compute {
        id: String,
        values: std::collections::BTreeMap<String, String>,
    },
    /// Rules: when the condition holds (per row with `each`), say the sentence.
    Findings { id: String, rules: Vec<Rule> },
}

impl Step {
    pub fn id(&self) -> &str {
        match self {
            Step::Metric { id, .. }
            | Step::Plan { id }
            | Step::Sql { id, .. }
            | Step::Projection { id, .. }
            | Step::Compare { id, .. }
            | Step::Compute { id, .. }
            | Step::Findings { id, .. } => id,
        }
    }
}

/// A finding rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// An expression giving a list; the rule runs once per element, bound as `row`.
    #[serde(default)]
    pub each: Option<String>,
    pub when: String,
    /// Named expressions evaluated per row and bound for `when` and `say`.
    #[serde(default)]
    pub with: std::collections::BTreeMap<String, String>,
    /// A handlebars sentence; every number in it should come from the data.
    pub say: String,
    /// What the sentence is: a finding (default), a recommendation or a risk.
    #[serde(default)]
    pub kind: RuleKind,
    /// Proposes a task (a Linear issue) for the sentence: a handlebars title template. The
    /// task is only filed when a person clicks "File Linear task".
    #[serde(default)]
    pub task: Option<String>,
    /// The proposed task's Linear priority: 1 urgent, 2 high, 3 medium (default), 4 low.
    #[serde(default)]
    pub priority: Option<u8>,
}

/// What a rule's sentence is, which decides the section it appears in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    #[default]
    Finding,
    Recommendation,
    Risk,
}

/// What the answer shows: its words (templates) and its sections.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// The headline sentence (a handlebars template).
    #[serde(default)]
    pub headline: Option<String>,
    /// A handlebars template file (relative to the skill folder) whose first line is the
    /// headline, when `headline` is not given.
    #[serde(default)]
    pub text: Option<String>,
    /// The answer's title (a template); the skill's name in words when not given.
    #[serde(default)]
    pub title: Option<String>,
    /// A line under the title (a template).
    #[serde(default)]
    pub subtitle: Option<String>,
    /// The step whose rows are the answer's table (`columns`/`rows` in JSON).
    #[serde(default)]
    pub table: Option<String>,
    /// The sections, in reading order; without it: findings, risks, recommendations, then
    /// the main table and its chart.
    #[serde(default)]
    pub sections: Option<Vec<sections::SectionSpec>>,
}

/// A routing test: question -> expected skill and parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillTest {
    pub question: String,
    #[serde(default)]
    pub asker: Option<String>,
    #[serde(default)]
    pub today: Option<chrono::NaiveDate>,
    /// Expected parameter values, as text (a subset).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    /// Text the answer must contain.
    #[serde(default)]
    pub contains: Vec<String>,
}

/// A validated skill.
#[derive(Debug, Clone)]
pub struct Skill {
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
    pub keywords: Vec<String>,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
    pub table: Option<String>,
    /// The headline template.
    pub headline_template: String,
    pub title_template: Option<String>,
    pub subtitle_template: Option<String>,
    pub sections: Vec<sections::SectionSpec>,
    /// `answer.html.hbs` in the skill folder: the body of the answer's web page.
    pub html_template: Option<String>,
    /// `report.typ` in the skill folder: the PDF report (typst, reading `data.json`).
    pub pdf_template: Option<String>,
    pub tests: Vec<SkillTest>,
    pub dir: PathBuf,
}

/// Every skill in `skills/`.
#[derive(Debug, Clone, Default)]
pub struct Skills {
    pub skills: Vec<Skill>,
}

impl Skills {
    pub fn get(&self, name: &str) -> Option<&Skill> {
        self.skills.iter().find(|s| s.name == name)
    }

    /// Loads every `skills/*/skill.yaml`, reporting every problem at once.
    pub fn load(dir: &Path, layer: &SemanticLayer) -> Result<Skills, Diagnostics> {
        let mut all: Vec<Diagnostic> = Vec::new();
        let mut skills = Vec::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for folder in entries
            .into_iter()
            .filter(|p| p.join("skill.yaml").is_file())
        {
            let file = folder.join("skill.yaml");
            let src = std::fs::read_to_string(&file).unwrap_or_default();
            let raw: RawSkill = match serde_norway::from_str(&src) {
                Ok(r) => r,
                Err(e) => {
                    all.push(Diagnostic {
                        file: file.clone(),
                        line: e.location().map(|l| l.line()),
                        key: String::new(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let mut rep = Reporter::new(&file, &src);
            if let Some(s) = compile(raw, &folder, layer, &mut rep) {
                if skills.iter().any(|x: &Skill| x.name == s.name) {
                    rep.error(&["name"], format!("duplicate skill name {:?}", s.name));
                }
                skills.push(s);
            }
            all.extend(rep.diagnostics);
        }
        if all.is_empty() {
            Ok(Skills { skills })
        } else {
            Err(Diagnostics(all))
        }
    }
}

/// Names a template or expression may use at the top level.
fn top_level_names(params: &[Param]) -> BTreeSet<String> {
    let mut n: BTreeSet<String> = [
        "params",
        "steps",
        "asker",
        "today",
        "question",
        "row",
        "context",
        "findings",
        "recommendations",
        "calendar",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    n.extend(params.iter().map(|p| p.name.clone()));
    n
}

fn check_paths(
    paths: Vec<Vec<String>>,
    names: &BTreeSet<String>,
    steps_before: &[String],
    rep: &mut Reporter,
    at: &[&str],
) {
    for p in paths {
        let Some(first) = p.first() else { continue };
        if !names.contains(first) {
            rep.error(
                at,
                format!(
                    "unknown value {:?}{}",
                    p.join("."),
                    did_you_mean(first, names.iter().map(String::as_str))
                ),
            );
        } else if first == "steps" {
            match p.get(1) {
                Some(s) if steps_before.contains(s) => {}
                Some(s) => rep.error(
                    at,
                    format!(
                        "{:?} refers to step {s:?}, which does not come before it{}",
                        p.join("."),
                        did_you_mean(s, steps_before.iter().map(String::as_str))
                    ),
                ),
                None => {}
            }
        }
    }
}

/// Paths used inside `{{ ... }}` of a handlebars template (simple expressions and helper
/// arguments; block helpers' bodies are checked the same way).
pub fn template_paths(t: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = t;
    // Inside `#each` and `#with` blocks names are relative to the item: not checked.
    let mut scopes: Vec<bool> = Vec::new();
    while let Some(i) = rest.find("{{") {
        rest = &rest[i + 2..];
        let Some(j) = rest.find("}}") else { break };
        let inner = rest[..j]
            .trim_matches(|c| c == '{' || c == '}' || c == '~')
            .trim();
        rest = &rest[j + 2..];
        if let Some(close) = inner.strip_prefix('/') {
            if matches!(close.trim(), "each" | "with" | "if" | "unless") {
                scopes.pop();
            }
            continue;
        }
        if inner.starts_with('!') || inner == "else" {
            continue;
        }
        let block = inner.strip_prefix('#');
        let inner = inner.trim_start_matches('#').trim_start_matches('^');
        let mut words = inner.split_whitespace();
        let first = words.next().unwrap_or("");
        let in_item_scope = scopes.iter().any(|s| *s);
        if block.is_some() {
            scopes.push(matches!(first, "each" | "with"));
        }
        if in_item_scope {
            continue;
        }
        let helper = [
            "if", "unless", "each", "with", "money", "pct", "num", "fmt", "date", "eq", "gt", "lt",
            "and", "or", "not", "lookup", "signed", "plural", "round", "humanize",
        ]
        .contains(&first);
        let args: Vec<&str> = if helper { words.collect() } else { vec![first] };
        for a in args {
            let a = a.trim_start_matches('(').trim_end_matches(')');
            if a.is_empty()
                || ["lookup", "fmt", "money", "pct", "num"].contains(&a)
                || a.starts_with('"')
                || a.starts_with('\'')
                || a.parse::<f64>().is_ok()
                || a.starts_with('@')
                || a == "this"
                || a.starts_with("this.")
                || a.starts_with("../")
                || a.contains('=')
            {
                continue;
            }
            out.push(a.split('.').map(str::to_string).collect());
        }
    }
    out
}

fn compile(
    raw: RawSkill,
    folder: &Path,
    layer: &SemanticLayer,
    rep: &mut Reporter,
) -> Option<Skill> {
    let names = top_level_names(&raw.params);
    if !crate::semantic::model::is_identifier(&raw.name) {
        rep.error(&["name"], "skill names must be lower_snake_case");
    }
    for p in &raw.params {
        if p.kind == ParamKind::DimensionValue {
            match &p.dimension {
                Some(d) if layer.all_dimensions().any(|(_, x)| &x.name == d) => {}
                Some(d) => rep.error(
                    &["params", &p.name, "dimension"],
                    format!("unknown dimension {d:?}"),
                ),
                None => rep.error(
                    &["params", &p.name],
                    "a dimension_value parameter needs `dimension:`",
                ),
            }
        }
        if p.kind == ParamKind::Metric {
            if let Some(d) = &p.default {
                if layer.metric(d).is_none() {
                    rep.error(
                        &["params", &p.name, "default"],
                        format!("unknown metric {d:?}"),
                    );
                }
            }
        }
        if p.kind == ParamKind::Period {
            if let Some(d) = &p.default {
                let toks = crate::text::words(d);
                if crate::text::calendar::find_period(
                    &toks,
                    chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap_or_default(),
                )
                .is_none()
                {
                    rep.error(
                        &["params", &p.name, "default"],
                        format!("{d:?} is not a period (try \"this quarter\")"),
                    );
                }
            }
        }
    }
    let mut before: Vec<String> = Vec::new();
    for step in &raw.steps {
        let id = step.id().to_string();
        if before.contains(&id) {
            rep.error(&["steps", &id], "duplicate step id");
        }
        let at = ["steps", id.as_str()];
        match step {
            Step::Metric { query, .. } => {
                // The query's static parts must name real metrics and dimensions.
                let text = serde_norway::to_string(query).unwrap_or_default();
                check_paths(template_paths(&text), &names, &before, rep, &at);
                // Check the names that are written out (not filled in from parameters).
                let strs = |key: &str| -> Vec<String> {
                    query
                        .get(key)
                        .and_then(|v| v.as_sequence())
                        .map(|s| {
                            s.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                if query.get("metrics").and_then(|v| v.as_sequence()).is_none() {
                    rep.error(&at, "a metric step's query needs `metrics: [...]`");
                }
                for m in strs("metrics").iter().filter(|m| !m.contains("{{")) {
                    if layer.metric(m).is_none() {
                        rep.error(
                            &at,
                            format!(
                                "unknown metric {m:?}{}",
                                did_you_mean(m, layer.metrics.iter().map(|x| x.name.as_str()))
                            ),
                        );
                    }
                }
                let filter_dims: Vec<String> = query
                    .get("filters")
                    .and_then(|v| v.as_sequence())
                    .map(|s| {
                        s.iter()
                            .filter_map(|f| f.get("dimension")?.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                for d in strs("group_by")
                    .iter()
                    .chain(&filter_dims)
                    .filter(|d| !d.contains("{{"))
                {
                    if !layer.all_dimensions().any(|(_, x)| &x.name == d) {
                        rep.error(&at, format!("unknown dimension {d:?}"));
                    }
                }
                if let Some(map) = query.as_mapping() {
                    for k in map.keys().filter_map(|k| k.as_str()) {
                        if ![
                            "metrics",
                            "group_by",
                            "grain",
                            "filters",
                            "time_range",
                            "order",
                            "limit",
                        ]
                        .contains(&k)
                        {
                            rep.error(&at, format!("unknown query key {k:?} (metrics, group_by, grain, filters, time_range, order, limit)"));
                        }
                    }
                }
            }
            Step::Plan { .. } => {}
            Step::Sql { sql, bind, .. } => {
                for v in bind.values() {
                    check_paths(template_paths(v), &names, &before, rep, &at);
                }
                let placeholders: BTreeSet<String> = sql
                    .split('$')
                    .skip(1)
                    .map(|s| {
                        s.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect()
                    })
                    .collect();
                for p in &placeholders {
                    if !bind.contains_key(p) {
                        rep.error(&at, format!("${p} has no value in `bind`"));
                    }
                }
                if let Err(e) = crate::warehouse::guard::check(sql, &layer.tables()) {
                    rep.error(&at, e.to_string());
                }
            }
            Step::Projection {
                series,
                at: at_expr,
                ..
            } => {
                if !before.contains(series) {
                    rep.error(&at, format!("series {series:?} is not an earlier step"));
                }
                check_paths(template_paths(at_expr), &names, &before, rep, &at);
            }
            Step::Compare {
                rows,
                targets,
                projected,
                ..
            } => {
                if !before.contains(rows) {
                    rep.error(&at, format!("rows {rows:?} is not an earlier step"));
                }
                for e in std::iter::once(targets).chain(projected) {
                    match Expr::parse(e) {
                        Ok(x) => check_paths(x.paths(), &names, &before, rep, &at),
                        Err(msg) => rep.error(&at, msg),
                    }
                }
            }
            Step::Compute { values, .. } => {
                for e in values.values() {
                    match Expr::parse(e) {
                        Ok(x) => check_paths(x.paths(), &names, &before, rep, &at),
                        Err(msg) => rep.error(&at, msg),
                    }
                }
            }
            Step::Findings { rules, .. } => {
                for r in rules {
                    let mut scoped = names.clone();
                    scoped.extend(r.with.keys().cloned());
                    let names = &scoped;
                    for e in r
                        .each
                        .iter()
                        .chain(std::iter::once(&r.when))
                        .chain(r.with.values())
                    {
                        match Expr::parse(e) {
                            Ok(x) => check_paths(x.paths(), names, &before, rep, &at),
                            Err(msg) => rep.error(&at, msg),
                        }
                    }
                    check_paths(template_paths(&r.say), names, &before, rep, &at);
                    if let Some(t) = &r.task {
                        check_paths(template_paths(t), names, &before, rep, &at);
                    }
                    if r.priority.is_some_and(|p| !(1..=4).contains(&p)) {
                        rep.error(&at, "a task's priority must be 1 (urgent) to 4 (low)");
                    }
                }
            }
        }
        before.push(id);
    }
    let headline_template = match (&raw.outputs.headline, &raw.outputs.text) {
        (Some(h), _) => h.clone(),
        (None, Some(file)) => {
            let template_file = folder.join(file);
            match std::fs::read_to_string(&template_file) {
                Ok(t) => t
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default()
                    .to_string(),
                Err(e) => {
                    rep.error(
                        &["outputs", "text"],
                        format!("cannot read {}: {e}", template_file.display()),
                    );
                    String::new()
                }
            }
        }
        (None, None) => {
            rep.error(&["outputs"], "the answer needs a `headline:` template");
            String::new()
        }
    };
    for (key, t) in [
        ("headline", Some(&headline_template)),
        ("title", raw.outputs.title.as_ref()),
        ("subtitle", raw.outputs.subtitle.as_ref()),
    ] {
        let Some(t) = t else { continue };
        if let Err(e) = handlebars::Template::compile(t) {
            rep.error(&["outputs", key], format!("{e}"));
        }
        check_paths(template_paths(t), &names, &before, rep, &["outputs", key]);
    }
    let table_steps: BTreeSet<String> = raw
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Metric { .. } | Step::Sql { .. }))
        .map(|s| s.id().to_string())
        .collect();
    let section_specs = raw
        .outputs
        .sections
        .clone()
        .unwrap_or_else(|| sections::defaults(raw.outputs.table.as_deref()));
    let used = sections::validate(&section_specs, &table_steps, rep);
    check_paths(used, &names, &before, rep, &["outputs", "sections"]);
    let html_file = folder.join("answer.html.hbs");
    let html_template = std::fs::read_to_string(&html_file).ok();
    if let Some(t) = &html_template {
        if let Err(e) = handlebars::Template::compile(t) {
            rep.error(&["outputs"], format!("{}: {e}", html_file.display()));
        }
    }
    let pdf_template = std::fs::read_to_string(folder.join("report.typ")).ok();
    if let Some(t) = &raw.outputs.table {
        if !before.contains(t) {
            rep.error(&["outputs", "table"], format!("table {t:?} is not a step"));
        }
    }
    Some(Skill {
        name: raw.name,
        description: raw.description,
        examples: raw.examples,
        keywords: raw.keywords,
        params: raw.params,
        steps: raw.steps,
        table: raw.outputs.table,
        headline_template,
        title_template: raw.outputs.title,
        subtitle_template: raw.outputs.subtitle,
        sections: section_specs,
        html_template,
        pdf_template,
        tests: raw.tests,
        dir: folder.to_path_buf(),
    })
}

/// Finishes an answer for people, in one place for every path (the CLI, Slack, the web
/// site, skill tests): the date, the title and "read as" line, sections for a metric answer,
/// words for clarifying choices, checked next questions, and the text rendering.
pub fn complete(
    rt: &run::Runtime,
    a: &mut crate::answer::Answer,
    asker: Option<&crate::context::Person>,
    today: chrono::NaiveDate,
    requester: &str,
) {
    use crate::answer::Status;
    if a.provenance.today.is_none() {
        a.provenance.today = Some(today);
    }
    // Also the title and "read as" line of every answer.
    crate::answer::metric_sections(a);
    let layer = &rt.engine.layer;
    a.choice_labels = a
        .choices
        .iter()
        .map(|c| match (layer.metric(c), rt.skills.get(c)) {
            (Some(m), _) => m.label.clone(),
            (None, Some(s)) => crate::format::humanize(&s.name),
            (None, None) => crate::format::humanize(c),
        })
        .collect();
    if a.status != Status::Clarify && a.suggestions.is_empty() {
        a.suggestions = suggest::next_questions(rt, a, asker, today, requester);
    }
    if a.asker.is_none() {
        a.asker = asker.map(|p| p.name.clone());
    }
    a.text = crate::render::text::answer(a);
}

/// Routes a question to a skill and runs it: the one entry point every front end uses.
pub fn answer_question(
    rt: &run::Runtime,
    question: &str,
    asker: Option<&crate::context::Person>,
    today: chrono::NaiveDate,
    requester: &str,
) -> crate::answer::Answer {
    // The question is read once: routing, the skill's context and the planner share it.
    let q = crate::text::Question::new(question, today);
    follow_route(
        rt,
        router::route_question(rt, &q, asker),
        &q,
        asker,
        requester,
    )
}

/// Like [`answer_question`], with the skill already chosen (a clarifying choice).
/// `None` when no skill has that name.
pub fn answer_with_skill(
    rt: &run::Runtime,
    skill: &str,
    question: &str,
    asker: Option<&crate::context::Person>,
    today: chrono::NaiveDate,
    requester: &str,
) -> Option<crate::answer::Answer> {
    let route = router::route_to(rt, skill, question, asker, today)?;
    let q = crate::text::Question::new(question, today);
    Some(follow_route(rt, route, &q, asker, requester))
}

/// True when a skill that needs one OKR is asked about OKRs in the plural ("are we on
/// track for our OKRs?", "all OKRs") without naming one.
fn asks_for_every_okr(skill: &Skill, q: &crate::text::Question) -> bool {
    let needs_okr = skill
        .params
        .iter()
        .any(|p| p.required && p.kind == ParamKind::Okr);
    let lower = q.raw.to_lowercase();
    let plural = lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == "okrs" || w == "objectives");
    needs_okr && plural
}

/// The skill run once per OKR (one progress block each), as one answer.
fn every_okr(
    rt: &run::Runtime,
    skill: &Skill,
    q: &crate::text::Question,
    asker: Option<&crate::context::Person>,
    requester: &str,
) -> crate::answer::Answer {
    let parts: Vec<crate::answer::Answer> = rt
        .context
        .okrs
        .iter()
        .filter_map(|o| {
            let one = format!("{} (OKR #{})", q.raw, o.id);
            answer_with_skill(rt, &skill.name, &one, asker, q.today, requester)
        })
        .collect();
    let mut a = combine::combine(&q.raw, "Progress on every OKR", &skill.name, &parts);
    a.headline = okr_summary(&parts);
    a
}

/// "2 of 3 OKRs are on pace." from each part's findings (or their headlines).
fn okr_summary(parts: &[crate::answer::Answer]) -> String {
    let on_pace = parts
        .iter()
        .filter(|p| p.findings.iter().any(|f| f.starts_with("On pace")))
        .count();
    format!(
        "{on_pace} of {} OKRs {} on pace to reach their targets.",
        parts.len(),
        if on_pace == 1 { "is" } else { "are" }
    )
}

fn follow_route(
    rt: &run::Runtime,
    route: router::Route,
    q: &crate::text::Question,
    asker: Option<&crate::context::Person>,
    requester: &str,
) -> crate::answer::Answer {
    use crate::answer::{Answer, Status};
    let (question, today) = (q.raw.as_str(), q.today);
    let mut a = match route {
        router::Route::Planner => crate::answer::ask_question(&rt.engine, &rt.vocab, q, requester),
        router::Route::Run { skill, resolved } => {
            run::run(rt, skill, q, &resolved, asker, requester)
        }
        router::Route::Ask { skill, .. } if asks_for_every_okr(skill, q) => {
            every_okr(rt, skill, q, asker, requester)
        }
        router::Route::Ask {
            skill,
            question: q,
            choices,
        } => {
            let mut a = Answer::new(question, Status::Clarify, q);
            a.skill = skill.name.clone();
            a.choices = choices;
            a
        }
        router::Route::Clarify {
            question: q,
            choices,
        } => {
            let mut a = Answer::new(question, Status::Clarify, q);
            a.choices = choices;
            a
        }
    };
    complete(rt, &mut a, asker, today, requester);
    a
}
