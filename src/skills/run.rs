//! Running a skill: steps in order over a JSON data tree, then the text template.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use handlebars::Handlebars;
use serde_json::{json, Map, Value};

use super::expr::Expr;
use super::params::{MerchantIndex, Resolved};
use super::{Skill, Skills, Step};
use crate::answer::{Answer, MetricInfo, NoteKind, Provenance, Statement, Status};
use crate::context::{Context, Person};
use crate::engine::Engine;
use crate::planner::Vocabulary;
use crate::semantic::MetricQuery;
use crate::warehouse::AuditContext;

/// Everything a question needs: the engine plus skills, context and the planner vocabulary.
pub struct Runtime {
    pub engine: Engine,
    pub vocab: Vocabulary,
    pub context: Context,
    pub skills: Skills,
    pub merchants: MerchantIndex,
    hb: Handlebars<'static>,
}

/// One metric or SQL step's result, typed: the columns with their roles (metric steps), the
/// rows as the warehouse returned them, and the SQL. Sections are built from these; the JSON
/// form (`steps.<id>` in templates and expressions) is made from them for the templates.
#[derive(Debug, Clone, Default)]
pub struct StepTable {
    pub columns: Vec<String>,
    /// Column roles; empty for analyst SQL (roles are then read from the values).
    pub meta: Vec<crate::semantic::Column>,
    pub rows: Vec<Vec<crate::warehouse::Value>>,
    pub sql: String,
    pub query: Option<MetricQuery>,
    pub truncated: bool,
}

impl Runtime {
    pub fn new(engine: Engine, context: Context, skills: Skills) -> Runtime {
        let mut hb = Handlebars::new();
        hb.register_escape_fn(handlebars::no_escape);
        crate::format::register_helpers(&mut hb);
        let mut vocab = Vocabulary::new(&engine.layer);
        vocab.load_entity_names(&engine);
        Runtime {
            engine,
            vocab,
            context,
            skills,
            merchants: MerchantIndex::default(),
            hb,
        }
    }

    /// Loads metrics.yaml, context/ and skills/ from the project and opens the warehouse.
    pub fn open(config: crate::config::Config) -> anyhow::Result<Runtime> {
        let engine = Engine::open(config)?;
        let project = engine.config.project.clone();
        let context = Context::load(&project.join("context"), &engine.layer)
            .map_err(|d| anyhow::anyhow!("context/ has problems:\n{d}"))?;
        let skills = Skills::load(&project.join("skills"), &engine.layer)
            .map_err(|d| anyhow::anyhow!("skills/ has problems:\n{d}"))?;
        Ok(Runtime::new(engine, context, skills))
    }

    /// What parameter resolution needs for one question.
    pub fn resolve_input<'a>(
        &'a self,
        asker: Option<&'a Person>,
        today: NaiveDate,
    ) -> super::params::ResolveInput<'a> {
        super::params::ResolveInput {
            engine: &self.engine,
            vocab: &self.vocab,
            context: &self.context,
            merchants: &self.merchants,
            asker,
            today,
        }
    }

    pub fn render(&self, template: &str, data: &Value) -> Result<String, String> {
        self.hb
            .render_template(template, data)
            .map_err(|e| format!("template error: {e}"))
    }
}

/// Runs a skill for a question with resolved parameters.
pub fn run(
    rt: &Runtime,
    skill: &Skill,
    q: &crate::text::Question,
    resolved: &Resolved,
    asker: Option<&Person>,
    requester: &str,
) -> Answer {
    let (question, today) = (q.raw.as_str(), q.today);
    let mut data = json!({
        "question": question,
        "today": today,
        "asker": asker,
        "params": resolved.values,
        "steps": {},
        "findings": [],
        "recommendations": [],
        "context": rt.context.relevant_to(q, 3),
        "calendar": calendar(today),
    });
    // An entity row (a merchant's profile) was looked up while routing; read it again as
    // the asker, so the access policy's row scope decides whether they may see it.
    let mut scoped = resolved.values.clone();
    for p in skill
        .params
        .iter()
        .filter(|p| p.kind == super::ParamKind::Merchant)
    {
        let Some(id) = scoped
            .get(&p.name)
            .and_then(|v| v["merchant_id"].as_str().map(str::to_string))
        else {
            continue;
        };
        match super::params::merchant_row_as(&rt.engine, &id, requester) {
            Some(row) => {
                scoped.insert(p.name.clone(), row);
            }
            None => {
                let mut a = Answer::new(
                    question,
                    Status::Unanswerable,
                    "That merchant is outside the data you have access to.".into(),
                );
                a.skill = skill.name.clone();
                return a;
            }
        }
    }
    data["params"] = json!(scoped);
    for (k, v) in &scoped {
        data[k] = v.clone();
    }
    let mut answer = Answer::new(question, Status::Answered, String::new());
    answer.skill = skill.name.clone();
    answer.params = resolved.display.clone();
    let mut metrics_used: Vec<String> = Vec::new();
    let ctx = AuditContext {
        requester: requester.to_string(),
        question: question.to_string(),
        query_json: None,
    };
    let mut tables: BTreeMap<String, StepTable> = BTreeMap::new();
    let mut truncated = false;
    for step in &skill.steps {
        let result = super::steps::run_step(rt, step, &data, q, &ctx, &mut metrics_used);
        match result {
            Ok(super::steps::StepOutput::Value(v)) => {
                data["steps"][step.id()] = v;
            }
            Ok(super::steps::StepOutput::Table(t)) => {
                // A step cut at the row cap makes every total over it partial: say so.
                truncated |= t.truncated;
                data["steps"][step.id()] = result_value(&t);
                tables.insert(step.id().to_string(), *t);
            }
            Ok(super::steps::StepOutput::Answer(a)) => {
                let mut a = *a;
                a.skill = skill.name.clone();
                a.params = resolved.display.clone();
                return a;
            }
            Err(super::steps::StepError(msg)) => {
                let mut a = Answer::new(
                    question,
                    Status::Error,
                    format!("I couldn't finish {}: {msg}", skill.name.replace('_', " ")),
                );
                a.skill = skill.name.clone();
                a.params = resolved.display.clone();
                return a;
            }
        }
    }
    if let Some(t) = skill.table.as_ref().and_then(|t| tables.get(t)) {
        answer.columns = t.columns.clone();
        answer.column_meta = t.meta.clone();
        answer.rows = t.rows.clone();
        answer.sql = Some(t.sql.clone());
        answer.query = t.query.clone();
    }
    let mut seen = std::collections::BTreeSet::new();
    metrics_used.retain(|m| seen.insert(m.clone()));
    answer.provenance = Provenance {
        metrics: MetricInfo::of(&rt.engine.layer, &metrics_used),
        data_freshness: rt.engine.data_freshness(&metrics_used, today),
        today: Some(today),
        truncated,
        time_range: skill
            .params
            .iter()
            .filter(|p| p.kind == super::ParamKind::Period)
            .find_map(|p| {
                let v = resolved.values.get(&p.name)?;
                let date = |k: &str| NaiveDate::parse_from_str(v[k].as_str()?, "%Y-%m-%d").ok();
                Some(crate::semantic::TimeRange {
                    from: date("from")?,
                    to: date("to")?,
                })
            }),
        statements: tables
            .iter()
            .map(|(id, t)| Statement {
                label: crate::format::humanize(id),
                sql: t.sql.clone(),
            })
            .collect(),
        ..Provenance::default()
    };
    for step in &skill.steps {
        if let Step::Findings { id, .. } = step {
            let out = &data["steps"][id];
            answer.findings.extend(strings(&out["findings"]));
            answer
                .recommendations
                .extend(strings(&out["recommendations"]));
            answer.risks.extend(strings(&out["risks"]));
            answer.tasks.extend(
                out["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| serde_json::from_value(t.clone()).ok()),
            );
        }
    }
    answer.asker = asker.map(|p| p.name.clone());
    let scope = RunScope {
        rt,
        data: &data,
        tables: &tables,
        answer: &answer,
    };
    let built =
        (|| -> Result<(String, String, Option<String>, Vec<crate::answer::Section>), String> {
            let headline = rt.render(&skill.headline_template, &data)?;
            let title = match &skill.title_template {
                Some(t) => rt.render(t, &data)?,
                None => crate::format::humanize(&skill.name),
            };
            let subtitle = skill
                .subtitle_template
                .as_ref()
                .map(|t| rt.render(t, &data))
                .transpose()?;
            let sections = super::sections::build(&skill.sections, &scope)?;
            Ok((headline, title, subtitle, sections))
        })();
    match built {
        Ok((headline, title, subtitle, sections)) => {
            answer.headline = headline.split_whitespace().collect::<Vec<_>>().join(" ");
            answer.title = title.trim().to_string();
            answer.subtitle = subtitle
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            answer.sections = sections;
        }
        Err(e) => {
            answer.status = Status::Error;
            answer.headline = format!("The {} skill could not show its answer: {e}", skill.name);
        }
    }
    answer
}

/// The run as the section builder sees it.
struct RunScope<'a> {
    rt: &'a Runtime,
    data: &'a Value,
    tables: &'a BTreeMap<String, StepTable>,
    answer: &'a Answer,
}

impl super::sections::Scope for RunScope<'_> {
    fn render(&self, template: &str) -> Result<String, String> {
        self.rt.render(template, self.data)
    }
    fn eval(&self, expr: &str) -> Result<Value, String> {
        Ok(Expr::parse(expr)?.eval(self.data))
    }
    fn table(&self, step: &str) -> Option<&StepTable> {
        self.tables.get(step)
    }
    fn metrics(&self) -> &[MetricInfo] {
        &self.answer.provenance.metrics
    }
    fn notes(&self, kind: NoteKind) -> Vec<String> {
        match kind {
            NoteKind::Finding => self.answer.findings.clone(),
            NoteKind::Recommendation => self.answer.recommendations.clone(),
            NoteKind::Risk => self.answer.risks.clone(),
        }
    }
}

/// Period ends around today, for projections ("by the end of the month").
fn calendar(today: NaiveDate) -> Value {
    use crate::semantic::Grain;
    use crate::text::calendar::{period_start, shift};
    let end = |g: Grain| shift(period_start(today, g), g, 1) - chrono::Duration::days(1);
    json!({
        "month_end": end(Grain::Month),
        "quarter_end": end(Grain::Quarter),
        "year_end": end(Grain::Year),
        "month_start": period_start(today, Grain::Month),
        "quarter_start": period_start(today, Grain::Quarter),
        "year_start": period_start(today, Grain::Year),
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The JSON form of a step's table for templates and expressions: `rows` (objects by
/// column), `by_key` (rows by their first column), `value` (the first row's metric),
/// `total` and `total_<column>` (sums of numeric columns), `count` and `truncated`. An
/// empty or failed optional step has the same keys.
fn result_value(t: &StepTable) -> Value {
    let rows: Vec<Value> = t
        .rows
        .iter()
        .map(|row| {
            Value::Object(
                t.columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| (c.clone(), serde_json::to_value(v).unwrap_or_default()))
                    .collect(),
            )
        })
        .collect();
    let metric_col = t.query.as_ref().and_then(|q| q.metrics.first());
    let value_col = metric_col
        .and_then(|m| t.columns.iter().position(|c| c == m))
        .unwrap_or(t.columns.len().saturating_sub(1));
    let value = t
        .rows
        .first()
        .and_then(|row| row.get(value_col))
        .map(|v| serde_json::to_value(v).unwrap_or_default())
        .unwrap_or(Value::Null);
    // Rows keyed by their first column, for lookups like `steps.x.by_key[row.segment]`.
    let by_key: Map<String, Value> = rows
        .iter()
        .filter_map(|o| {
            let k = t.columns.first()?;
            Some((o[k].as_str()?.to_string(), o.clone()))
        })
        .collect();
    // Column totals of numeric columns: `total` for the value column, `total_<col>` for each.
    let mut totals = Map::new();
    for (i, c) in t.columns.iter().enumerate() {
        let vals: Vec<f64> = t
            .rows
            .iter()
            .filter_map(|row| row.get(i)?.as_f64())
            .collect();
        if !vals.is_empty() && vals.len() == t.rows.len() {
            totals.insert(format!("total_{c}"), json!(vals.iter().sum::<f64>()));
        }
    }
    let total = t
        .columns
        .get(value_col)
        .and_then(|c| totals.get(&format!("total_{c}")).cloned())
        .unwrap_or(Value::Null);
    let mut out = json!({
        "truncated": t.truncated,
        "total": total,
        "columns": t.columns,
        "rows": rows,
        "by_key": by_key,
        "value": value,
        "sql": t.sql,
        "query": t.query,
        "count": t.rows.len(),
    });
    if let Some(o) = out.as_object_mut() {
        o.extend(totals);
    }
    out
}
