//! The answer model: what the engine returns for a question, as typed data. Every renderer
//! (Slack Block Kit, HTML, PDF, text, charts) is a pure function of an [`Answer`]; none of
//! them reads skill data, SQL results or the warehouse. The model is `Serialize +
//! Deserialize` and stored whole, so a permalink, its PDF and its Slack message render the
//! same after a restart.
//!
//! An answer is a headline plus typed [`Section`]s in reading order: KPI tiles, facts,
//! tables (typed cells with column roles and units), charts, an OKR progress block, and
//! notes (findings, recommendations, risks). Provenance, "read as" and suggested next
//! questions close every answer.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use crate::planner::Understood;
pub use crate::semantic::{Column, ColumnRole, Grain, MetricQuery, TimeRange, Unit};
pub use crate::warehouse::Value;

/// How the question ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Answered,
    Clarify,
    Unanswerable,
    /// The question was understood but the warehouse failed (timeout, unavailable).
    Error,
}

/// One metric's definition, as shown under every answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// One SQL statement behind the numbers, with what it computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Statement {
    pub label: String,
    pub sql: String,
}

/// Where the numbers come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
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
    /// Every SQL statement behind the answer (the main query and each skill step's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statements: Vec<Statement>,
}

/// What a table column holds, which decides how its cells read and align.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Role {
    /// A time bucket (its first day), shown by grain: "Jan 2026".
    Time { grain: Grain },
    /// A category: text as stored.
    Dimension,
    /// An identifier: as stored, no thousands separators.
    Identifier,
    /// A measured number in a unit.
    Metric { unit: Unit },
    /// A number with no unit (a count of merchants in a SQL step).
    Number,
    /// Free text.
    Text,
}

impl Role {
    /// The role a compiled query gave the column.
    pub fn of(role: &ColumnRole) -> Role {
        match role {
            ColumnRole::Time { grain } => Role::Time { grain: *grain },
            ColumnRole::Dimension => Role::Dimension,
            ColumnRole::Identifier => Role::Identifier,
            ColumnRole::Metric { unit } => Role::Metric { unit: *unit },
        }
    }

    /// True for columns of numbers (right-aligned, sorted numerically).
    pub fn numeric(&self) -> bool {
        matches!(self, Role::Metric { .. } | Role::Number)
    }

    /// The column role as the compiler's type (formatting takes that).
    pub fn as_column_role(&self) -> Option<ColumnRole> {
        match *self {
            Role::Time { grain } => Some(ColumnRole::Time { grain }),
            Role::Dimension => Some(ColumnRole::Dimension),
            Role::Identifier => Some(ColumnRole::Identifier),
            Role::Metric { unit } => Some(ColumnRole::Metric { unit }),
            Role::Number | Role::Text => None,
        }
    }
}

/// A column of a [`Table`]: its name in the data, the label people read, and its role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TableColumn {
    pub name: String,
    pub label: String,
    pub role: Role,
}

/// A table of typed cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Table {
    /// A name templates can refer to (the skill step it came from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub columns: Vec<TableColumn>,
    pub rows: Vec<Vec<Value>>,
    /// The last row is a total (shown bold, not sorted).
    #[serde(default)]
    pub total_row: bool,
    /// Shown instead of an empty table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty: Option<String>,
}

/// A headline number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Kpi {
    /// A name templates can refer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub label: String,
    pub value: Option<f64>,
    pub unit: Unit,
    /// A line under the number ("vertical median 42 min").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A labelled fact ("CSM: Dana Reyes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// What kind of sentences a [`Section::Notes`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    Finding,
    Recommendation,
    Risk,
}

/// A task a skill proposes for a finding or recommendation (`task:` on its rule): filed
/// as a Linear issue only when a person clicks "File Linear task".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProposedTask {
    /// The issue title, from the rule's `task` template.
    pub title: String,
    /// The sentence (finding, recommendation or risk) it came from.
    pub note: String,
    /// Which kind of sentence that is.
    pub kind: NoteKind,
    /// Linear priority: 1 urgent, 2 high, 3 medium, 4 low.
    #[serde(default = "default_priority")]
    pub priority: u8,
}

fn default_priority() -> u8 {
    3
}

/// What kind of picture fits the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// One value per category (horizontal bars, in the answer's order).
    Bar,
    /// A metric over time, one line per series.
    Line,
    /// Additive metric over time or categories, split by a second dimension.
    StackedBar,
}

/// One named series of values, aligned with the chart's categories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    /// A projection, drawn dashed.
    #[serde(default)]
    pub projected: bool,
}

/// A horizontal line across a chart ("Target $150M").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reference {
    pub label: String,
    pub value: f64,
}

/// Chart data, independent of how it is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    /// Category or time-bucket labels along the axis (time labels carry the year).
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub unit: Unit,
    /// Axis title for the values ("ARR (USD)").
    pub value_label: String,
    /// Axis title for the categories ("Segment", "Month").
    pub category_label: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// The value axis starts at zero (amounts), or fits the data (scores, rates, times).
    #[serde(default)]
    pub from_zero: bool,
}

/// One segment's progress against its share of an OKR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SegmentProgress {
    pub name: String,
    pub current: Option<f64>,
    pub projected: Option<f64>,
    pub target: Option<f64>,
    pub projected_attainment: Option<f64>,
    pub on_track: Option<bool>,
}

/// An OKR's progress: where it is, where it is heading, and against what target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OkrProgress {
    pub title: String,
    pub metric_label: String,
    pub unit: Unit,
    pub target: f64,
    pub due: Option<NaiveDate>,
    pub current: Option<f64>,
    pub attainment: Option<f64>,
    pub projected: Option<f64>,
    pub projected_attainment: Option<f64>,
    pub on_track: Option<bool>,
    pub segments: Vec<SegmentProgress>,
    /// The trend with its projection to the due date and the target line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
}

/// One part of an answer, in reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Section {
    Kpis {
        tiles: Vec<Kpi>,
    },
    Facts {
        title: String,
        facts: Vec<Fact>,
    },
    Table(Table),
    Chart(Chart),
    Okr(Box<OkrProgress>),
    Notes {
        kind: NoteKind,
        title: String,
        items: Vec<String>,
        /// Said when there are no items ("Nothing stands out").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        empty: Option<String>,
    },
}

impl Section {
    /// The section's heading, if it has one.
    pub fn title(&self) -> Option<&str> {
        match self {
            Section::Kpis { .. } => None,
            Section::Facts { title, .. } | Section::Notes { title, .. } => Some(title),
            Section::Table(t) => t.title.as_deref(),
            Section::Chart(c) => Some(&c.title),
            Section::Okr(o) => Some(&o.title),
        }
    }
}

/// The answer to a question: typed data, no formatting except `text`, which the text
/// renderer fills in once, when the answer is finished.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Answer {
    pub question: String,
    pub status: Status,
    pub skill: String,
    /// A title in words ("Blue Fox Goods", "OKR #1: Grow ARR to $150M").
    #[serde(default)]
    pub title: String,
    /// A line under the title ("Enterprise · Electronics · Shopify Plus").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// The name of the person who asked, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asker: Option<String>,
    /// The headline sentence or message, before the sections.
    #[serde(default)]
    pub headline: String,
    pub query: Option<MetricQuery>,
    pub sql: Option<String>,
    /// The main result, long form (the JSON contract: `columns` and `rows`).
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// What each main column is (time bucket, dimension, metric with its unit).
    #[serde(default)]
    pub column_meta: Vec<Column>,
    pub text: String,
    /// Everything shown under the headline, in order.
    #[serde(default)]
    pub sections: Vec<Section>,
    pub provenance: Provenance,
    /// How each phrase of the question was read: `{phrase, role, as}`; roles are metric,
    /// dimension, value, time, grain, ranking, comparison and filler.
    pub understood: Vec<Understood>,
    /// "Read as: ..." in one line, when the question was planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_as: Option<String>,
    /// The skill's parameters as resolved from the question and the asker.
    pub params: std::collections::BTreeMap<String, String>,
    /// Sentences from the skill's findings rules, each backed by a number.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub findings: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub recommendations: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub risks: Vec<String>,
    /// Tasks the skill proposes (filed only on a person's click), in rule order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tasks: Vec<ProposedTask>,
    /// For `clarify`: the names to choose from (metric or skill names).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub choices: Vec<String>,
    /// Words for each choice, aligned with `choices` ("Net revenue" for `net_revenue`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub choice_labels: Vec<String>,
    /// Two or three next questions, each checked to route to an answer.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub suggestions: Vec<String>,
    /// An LLM-written summary whose every number was checked against the results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub narrative: Option<String>,
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
            title: String::new(),
            subtitle: None,
            asker: None,
            headline,
            query: None,
            sql: None,
            columns: Vec::new(),
            rows: Vec::new(),
            column_meta: Vec::new(),
            text: String::new(),
            sections: Vec::new(),
            provenance: Provenance::default(),
            understood: Vec::new(),
            read_as: None,
            params: Default::default(),
            findings: Vec::new(),
            recommendations: Vec::new(),
            risks: Vec::new(),
            tasks: Vec::new(),
            choices: Vec::new(),
            choice_labels: Vec::new(),
            suggestions: Vec::new(),
            narrative: None,
        }
    }

    /// The label of clarifying choice `i`: its words when known, else the name.
    pub fn choice_label(&self, i: usize) -> &str {
        self.choice_labels
            .get(i)
            .map(String::as_str)
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| self.choices.get(i).map_or("", String::as_str))
    }

    /// The tasks a person may file from this answer: the skill's proposed tasks, else (for
    /// an answered question) one from the headline.
    pub fn proposed_tasks(&self) -> Vec<ProposedTask> {
        if !self.tasks.is_empty() {
            return self.tasks.clone();
        }
        let lead = self.lead().trim();
        if self.status != Status::Answered || lead.is_empty() {
            return Vec::new();
        }
        let mut title: String = lead.chars().take(120).collect();
        if title.len() < lead.len() {
            title.push('…');
        }
        vec![ProposedTask {
            title,
            note: lead.to_string(),
            kind: NoteKind::Finding,
            priority: default_priority(),
        }]
    }

    /// The headline people read: the checked narrative when there is one.
    pub fn lead(&self) -> &str {
        self.narrative.as_deref().unwrap_or(&self.headline)
    }

    /// The charts of the answer, in order (the OKR block's chart included).
    pub fn charts(&self) -> Vec<&Chart> {
        self.sections
            .iter()
            .filter_map(|s| match s {
                Section::Chart(c) => Some(c),
                Section::Okr(o) => o.chart.as_ref(),
                _ => None,
            })
            .collect()
    }
}
