//! `Answer`: what the engine returns for a question, as data. Renderers format it; the JSON
//! form (`cortex ask --format json`) is a contract shared with tools outside the crate.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::engine::{Engine, QueryError};
use crate::planner::{self, Plan, Vocabulary};
use crate::semantic::{Column, Grain, MetricQuery, TimeRange, Unit};
use crate::warehouse::{AuditContext, Value};

/// How the question ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Answered,
    Clarify,
    Unanswerable,
    /// The question was understood but the warehouse failed (timeout, unavailable).
    Error,
}

/// One metric's definition, as shown under every answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricInfo {
    pub name: String,
    pub label: String,
    pub description: String,
    pub owner: String,
    pub unit: Unit,
}

impl MetricInfo {
    /// The definitions of the named metrics, in order, skipping unknown names.
    pub fn of(layer: &crate::semantic::SemanticLayer, names: &[String]) -> Vec<MetricInfo> {
        names
            .iter()
            .filter_map(|n| layer.metric(n))
            .map(|m| MetricInfo {
                name: m.name.clone(),
                label: m.label.clone(),
                description: m.description.clone(),
                owner: m.owner.clone(),
                unit: m.unit,
            })
            .collect()
    }
}

/// Where the numbers come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Provenance {
    pub metrics: Vec<MetricInfo>,
    pub filters: Vec<String>,
    pub time_range: Option<TimeRange>,
    /// The period as read from the question ("last quarter (2026-07-01 to 2026-09-30)").
    pub period: Option<String>,
    pub grain: Option<Grain>,
    /// Latest date in the data the metrics read.
    pub data_freshness: Option<NaiveDate>,
    pub today: Option<NaiveDate>,
    pub notes: Vec<String>,
    pub truncated: bool,
}

/// The answer to a question: typed data, no formatting except `text`, which the text
/// renderer fills in. Reading the JSON back (the state database) restores everything but
/// the skipped fields, which the state database keeps beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub question: String,
    pub status: Status,
    pub skill: String,
    pub query: Option<MetricQuery>,
    pub sql: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub text: String,
    pub provenance: Provenance,
    /// The skill's parameters as resolved from the question and the asker.
    pub params: std::collections::BTreeMap<String, String>,
    /// Sentences from the skill's findings rules, each backed by a number.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub findings: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub recommendations: Vec<String>,
    /// For `clarify`: the metric names to choose from. For `unanswerable`: suggestions.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub choices: Vec<String>,
    /// What each column is (time bucket, dimension, metric with its unit).
    #[serde(skip)]
    pub column_meta: Vec<Column>,
    /// The headline sentence or message, before the table and footer.
    #[serde(skip)]
    pub headline: String,
    /// An LLM-written summary whose every number was checked against the results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub narrative: Option<String>,
    /// Everything the skill computed (parameters and step results), for the skill's own
    /// HTML and PDF templates.
    #[serde(skip)]
    pub data: serde_json::Value,
}

impl Answer {
    /// True when the result is one number, which the headline already says: renderers
    /// show no table for it.
    pub fn is_single_value(&self) -> bool {
        self.rows.len() == 1 && self.columns.len() <= 1
    }

    /// An answer with no data yet.
    pub fn new(question: &str, status: Status, headline: String) -> Answer {
        Answer {
            question: question.to_string(),
            status,
            skill: "metric_question".into(),
            query: None,
            sql: None,
            columns: Vec::new(),
            rows: Vec::new(),
            text: String::new(),
            provenance: Provenance::default(),
            params: Default::default(),
            findings: Vec::new(),
            recommendations: Vec::new(),
            choices: Vec::new(),
            column_meta: Vec::new(),
            headline,
            narrative: None,
            data: serde_json::Value::Null,
        }
    }
}

/// Plans, compiles, runs and renders a plain-language question.
pub fn ask(
    engine: &Engine,
    vocab: &Vocabulary,
    question: &str,
    today: NaiveDate,
    requester: &str,
) -> Answer {
    let question_trimmed: String = question.chars().take(2000).collect();
    let mut answer = match planner::plan(&engine.layer, vocab, &question_trimmed, today) {
        Plan::Clarify {
            question: q,
            choices,
        } => {
            let mut a = Answer::new(question, Status::Clarify, q);
            a.choices = choices;
            a
        }
        Plan::Unanswerable {
            reason,
            suggestions,
        } => {
            let mut headline = reason;
            if !suggestions.is_empty() {
                let labels: Vec<String> = suggestions
                    .iter()
                    .filter_map(|s| engine.layer.metric(s))
                    .map(|m| format!("{} ({})", m.label, m.name))
                    .collect();
                headline.push_str(&format!(" Closest metrics: {}.", labels.join(", ")));
            }
            let mut a = Answer::new(question, Status::Unanswerable, headline);
            a.choices = suggestions;
            a
        }
        Plan::Query {
            query,
            period,
            notes,
        } => run_query(engine, question, query, period, notes, today, requester),
    };
    answer.provenance.today = Some(today);
    answer.text = crate::render::text::answer(&answer);
    answer
}

/// Runs a structured query and builds its answer (the planner's and the LLM's shared path).
pub fn run_query(
    engine: &Engine,
    question: &str,
    query: MetricQuery,
    period: Option<String>,
    notes: Vec<String>,
    today: NaiveDate,
    requester: &str,
) -> Answer {
    let ctx = AuditContext {
        requester: requester.to_string(),
        question: question.to_string(),
        query_json: serde_json::to_string(&query).ok(),
    };
    let metrics = MetricInfo::of(&engine.layer, &query.metrics);
    let provenance = Provenance {
        metrics,
        filters: query.filters.iter().map(|c| c.to_string()).collect(),
        time_range: query.time_range,
        period,
        grain: query.grain,
        data_freshness: engine.data_freshness(&query.metrics, today),
        today: Some(today),
        notes,
        truncated: false,
    };
    match engine.query(&query, today, &ctx) {
        Ok(out) => {
            let mut a = Answer::new(question, Status::Answered, String::new());
            a.provenance = provenance;
            a.provenance.truncated = out.result.truncated;
            a.sql = Some(out.compiled.sql);
            a.columns = out.result.columns;
            a.rows = out.result.rows;
            a.column_meta = out.compiled.columns;
            a.query = Some(query);
            a.headline = crate::render::text::headline(&a);
            a
        }
        Err(e) => {
            let status = match e {
                QueryError::Compile(_) => Status::Unanswerable,
                QueryError::Warehouse(_) => Status::Error,
            };
            if status == Status::Error {
                warn!(error = %e, "question failed in the warehouse");
            }
            let mut a = Answer::new(question, status, sentence(&e.to_string()));
            a.provenance = provenance;
            a.query = Some(query);
            a
        }
    }
}

/// Capitalises and ends with a period.
fn sentence(s: &str) -> String {
    let mut out = crate::render::text::capitalize(s);
    if !out.ends_with('.') && !out.ends_with('?') {
        out.push('.');
    }
    out
}
