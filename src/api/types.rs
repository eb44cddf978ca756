//! The API's request and response bodies. The OpenAPI document and the MCP tools' input
//! schemas are generated from these types (and the answer model they embed), so the
//! documents cannot drift from what the handlers read and write.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::answer::{Answer, Provenance};
use crate::semantic::{MetricQuery, Unit};
use crate::warehouse::Value;

/// `POST /api/v1/ask`: a question in plain language.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The question, e.g. "What's our ARR by segment?".
    pub question: String,
    /// A conversation to continue: questions with the same id are follow-ups of each other
    /// ("and for Enterprise?"). The answer returns the id to send next time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
}

/// An answer with its id and permalink.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AnswerResponse {
    /// The answer's id (for `GET /api/v1/answers/{id}`).
    pub id: String,
    /// The answer's web page (`.pdf` after it gives the PDF report).
    pub permalink: String,
    /// The conversation this answer belongs to, for follow-ups (ask only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    /// When it was answered (UTC), for answers read back from the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The answer JSON contract (the same as `cortex ask --format json`).
    pub answer: Answer,
}

/// `POST /api/v1/query`: rows of a structured metric query.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct QueryResponse {
    /// The query as run: after the access policy added its row filters.
    pub query: MetricQuery,
    /// The SQL the semantic layer compiled it to.
    pub sql: String,
    pub columns: Vec<String>,
    /// Raw values: ratios as fractions, amounts in the metric's unit, dates as ISO days.
    pub rows: Vec<Vec<Value>>,
    /// Where the numbers come from: metric definitions, filters, period, data freshness.
    pub provenance: Provenance,
}

/// A governed metric, as listed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MetricSummary {
    pub name: String,
    pub label: String,
    pub description: String,
    pub owner: String,
    pub unit: Unit,
}

/// `GET /api/v1/metrics`: the metrics this caller may use.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MetricList {
    pub metrics: Vec<MetricSummary>,
}

/// `GET /api/v1/metrics/{name}`: one metric and what it can be split and filtered by.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MetricDetail {
    #[serde(flatten)]
    pub metric: MetricSummary,
    /// Other names people use for it.
    pub synonyms: Vec<String>,
    /// Dimensions this caller may group or filter it by.
    pub dimensions: Vec<DimensionInfo>,
    /// `better: higher | lower`, when the definition says which way is good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub better: Option<String>,
}

/// A dimension a metric can be grouped or filtered by.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DimensionInfo {
    pub name: String,
    /// Some of its values (omitted when the caller's rows are scoped by it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_values: Vec<String>,
}

/// A skill's typed parameter, as its skill.yaml declares it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SkillParam {
    pub name: String,
    /// metric | dimension_value | merchant | okr | team | period | text
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// For `dimension_value`: which dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
}

/// A skill, as listed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SkillSummary {
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
    pub params: Vec<SkillParam>,
}

/// `GET /api/v1/skills`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SkillList {
    pub skills: Vec<SkillSummary>,
}

/// `POST /api/v1/skills/{name}/run`: a skill with its parameters given by name.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSkillRequest {
    /// Parameter values by name, read as the parameter's type declares: a metric name, a
    /// merchant's name, an OKR number ("1"), a team, a period ("last quarter"), a value of
    /// the parameter's dimension, or text. Omitted parameters take their default or the
    /// caller's own (their team).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The question to record the run under (default: the skill and its parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

/// Every error: a stable code and a message a person can act on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// The error's parts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// Stable snake_case code: unauthenticated, invalid_token, token_revoked,
    /// rate_limited, unknown_identity, metric_forbidden, dimension_forbidden,
    /// rows_forbidden, invalid_request, invalid_query, unknown_metric, unknown_skill,
    /// unknown_param, missing_param, invalid_param, not_found, cors_refused, timeout,
    /// internal.
    pub code: String,
    pub message: String,
}

impl From<&crate::semantic::Metric> for MetricSummary {
    fn from(m: &crate::semantic::Metric) -> Self {
        MetricSummary {
            name: m.name.clone(),
            label: m.label.clone(),
            description: m.description.clone(),
            owner: m.owner.clone(),
            unit: m.unit,
        }
    }
}
