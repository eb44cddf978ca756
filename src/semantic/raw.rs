//! Phase one of loading metrics.yaml: the file as written, field by field.
//! Every struct denies unknown fields so a typo in a key is an error, not a silent default.
//! Phase two (`model.rs`) turns these into validated runtime types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A semantic model: one warehouse table with the entities, dimensions and measures
/// analysts may use. Designed after dbt MetricFlow's `semantic_models`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSemanticModel {
    /// Unique name, lower_snake_case.
    pub name: String,
    /// The warehouse table it reads. Only tables named here may ever be queried.
    pub table: String,
    /// What one row of the table is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The time dimension metrics on this model use unless they name another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_time_dimension: Option<String>,
    /// Join keys. A `foreign` entity joins to the model whose `primary` entity has the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<RawEntity>,
    /// Columns (or SQL expressions over this table) to group and filter by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<RawDimension>,
    /// Aggregations metrics are built from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<RawMeasure>,
    /// Row filter: a SQL condition over this table's columns that every use of the model
    /// applies. Lets one table play several roles, e.g. `party_role_code = 'PH'` (policy
    /// holders) and `party_role_code = 'AG'` (agents) over the same party-role table, each
    /// model with its own entity and dimension names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The entity one row stands for when no column holds its key (MetricFlow's
    /// `primary_entity`): `account__account_type` names this model's `account_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_entity: Option<String>,
    /// Join paths declared by hand, for targets that two equally short paths reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joins: Vec<RawJoinPath>,
}

/// A declared join path from the model that lists it to `to`, through the models in `via`
/// (in order). Only needed when the entity graph offers two shortest paths.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawJoinPath {
    /// The semantic model reached.
    pub to: String,
    /// The models passed through, nearest first; empty for a direct join.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
}

/// A join key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntity {
    /// Entity name shared across models, e.g. `merchant`.
    pub name: String,
    /// `primary` (one row per entity) or `foreign` (many rows per entity).
    #[serde(rename = "type")]
    pub kind: EntityKind,
    /// Column holding the key; defaults to the entity name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Primary,
    Foreign,
}

/// A dimension.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDimension {
    /// Unique name across all models, lower_snake_case; users group and filter by it.
    pub name: String,
    /// `categorical` or `time`.
    #[serde(rename = "type")]
    pub kind: DimensionKind,
    /// Column or SQL expression over this model's table; defaults to the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Human label; defaults to the name with spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other ways people name this dimension ("tier", "plan type").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
    /// Stored values the planner recognises in questions. Values are matched exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_values: Vec<String>,
    /// Extra phrases for a stored value: `United Kingdom: [UK, Britain]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub value_synonyms: BTreeMap<String, Vec<String>>,
    /// `string` (default), `number` or `boolean`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    /// True when the dimension is the display name of its model's entity (a merchant's
    /// store name): "top 5 merchants" groups by it, and its stored values filter questions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub entity_name: bool,
    /// The values are identifiers (policy numbers, ids): printed as stored, without
    /// thousands separators.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub identifier: bool,
    /// A date that may lie after today (a deal's expected close, a planned date): periods
    /// on it are not cut at today.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub future: bool,
    /// Time dimensions only: the finest unit the values carry, `millisecond` … `year`
    /// (default `day`). A monthly date can be grouped by month, quarter or year, not by day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<super::grain::TimeUnit>,
    /// A partition column (MetricFlow's `is_partition`, e.g. the snapshot date of a daily
    /// snapshot table): a join between two models that both have a partition dimension of
    /// this name matches on it as well as on the entity (the same day's row).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partition: bool,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DimensionKind {
    Categorical,
    Time,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    String,
    Number,
    Boolean,
}

/// A measure: one aggregation over one column or expression.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeasure {
    /// Unique name across all models.
    pub name: String,
    /// sum, count, count_distinct, avg, min, max, median or percentile.
    pub agg: Agg,
    /// Column or SQL expression; defaults to the name (`count` without expr counts rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// For `agg: percentile`: the fraction, e.g. 0.9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<f64>,
    /// For `agg: percentile`: an actual value of the column (the first whose cumulative
    /// share reaches the fraction) instead of interpolating between two.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discrete: bool,
    /// For `agg: percentile`: DuckDB's approximate quantile, for very large tables.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approximate: bool,
    /// A semi-additive measure (a balance, seats, inventory): only the rows at the first
    /// or last value of this time dimension count, per time bucket and per window group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_additive_dimension: Option<RawNonAdditive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `non_additive_dimension:` of a measure, as in MetricFlow.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawNonAdditive {
    /// A time dimension of the measure's model.
    pub name: String,
    /// `min`: the balance at the start of each period; `max`: at its end.
    pub window_choice: WindowChoice,
    /// Dimensions of the model (often an entity key, `user`) that each keep their own
    /// first or last row: the balance of every user at their own latest date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_groupings: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WindowChoice {
    Min,
    Max,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    Sum,
    Count,
    CountDistinct,
    Avg,
    Min,
    Max,
    Median,
    Percentile,
}

/// A metric: what people ask for.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    /// Unique name, lower_snake_case.
    pub name: String,
    /// simple, ratio, derived or cumulative.
    #[serde(rename = "type")]
    pub kind: MetricKindName,
    /// Human label ("ARR").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// One-line definition shown in every answer's provenance.
    pub description: String,
    /// Who answers for this number.
    pub owner: String,
    /// usd, count, minutes, hours, seconds, days, ratio, score or percent.
    pub unit: String,
    /// Other ways people ask for it ("annual recurring revenue").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
    /// simple and cumulative: the measure aggregated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<String>,
    /// ratio: numerator and denominator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerator: Option<RawRatioInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<RawRatioInput>,
    /// derived: arithmetic over other metrics, e.g. `contraction_arr + churned_arr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Conditions (or names of shared `filters`) applied to the measure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<String>,
    /// Time dimension to use instead of the model's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_dimension: Option<String>,
    /// simple and cumulative: the value reported instead of NULL when the measure has no
    /// rows for a group that another metric of the query has (MetricFlow's
    /// `fill_nulls_with`), e.g. 0 for counts where a missing month means none. Without
    /// it a missing input is NULL, and so is a derived metric computed from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_nulls_with: Option<f64>,
    /// Which way is good: `higher` or `lower` ("best"/"worst" rank by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub better: Option<Better>,
    /// cumulative: add up the trailing span ending each day (`2 months`) instead of
    /// everything since the start of the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// cumulative: add up from the start of each day's period of this grain (`month`: MTD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grain_to_date: Option<super::grain::TimeUnit>,
    /// cumulative: a period's value when it is read by a coarser period than the day
    /// (a week, a quarter, a custom grain) or by a date part: `first`, `last` (the
    /// default: the balance at the end of the period) or `average` of its daily values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_agg: Option<crate::semantic::timespine::PeriodAgg>,
    /// simple and cumulative: report every period of the time spine in the queried range,
    /// NULL (or `fill_nulls_with`) where there is no data (MetricFlow's `join_to_timespine`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub join_to_time_spine: bool,
    /// derived: the input metrics with the name the formula uses and an optional time
    /// offset (`offset_window: 14 days`, `offset_to_grain: month`). Inputs not listed are
    /// the metrics the formula names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<crate::semantic::timespine::RawDerivedInput>,
    /// The unit `metric_time` is read at when a query names no grain (MetricFlow's
    /// metric `time_granularity`), e.g. `month` for a monthly KPI; otherwise the coarsest
    /// unit its time dimensions carry, day at least.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_grain: Option<super::grain::TimeUnit>,
    /// conversion: a funnel step from one event to another by the same entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<RawConversion>,
}

/// A conversion metric (MetricFlow's `conversion_type_params`): of the base events (visits),
/// how many led to a conversion event (a buy) by the same entity within the window. Each
/// conversion is credited to the entity's latest base event before it, whose time and
/// dimensions it is reported under.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConversion {
    pub base_measure: String,
    pub conversion_measure: String,
    /// An entity both measures' models have (`user`).
    pub entity: String,
    /// `7 days`, `1 week`, ...; without it any earlier base event counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// `conversion_rate` (conversions / base events, the default) or `conversions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculation: Option<String>,
    /// Properties that must be equal on both events (the same session).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constant_properties: Vec<RawConstantProperty>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConstantProperty {
    pub base_property: String,
    pub conversion_property: String,
}

/// How a listing (dimensions without a metric) joins the tables of its columns
/// (`listing_join:` at the top of metrics.yaml).
#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ListingJoin {
    /// The rows of the first column's table (the first that reaches every other column),
    /// each with the values it links to: "policies and their holders".
    #[default]
    Left,
    /// MetricFlow's semantics: the table that needs the fewest joins, joined full outer, so
    /// every value of every table shows, matched where the entities link.
    Full,
}

/// Which direction of a metric is good news.
#[derive(Debug, Deserialize, serde::Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MetricKindName {
    Simple,
    Ratio,
    Derived,
    Cumulative,
    Conversion,
}

/// One side of a ratio: a metric name, or a measure with optional filter.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RawRatioInput {
    Metric(String),
    Measure(RawMeasureInput),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeasureInput {
    /// The measure aggregated.
    pub measure: String,
    /// Conditions applied to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<String>,
    /// Reported instead of NULL when the measure has no rows for a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_nulls_with: Option<f64>,
}

/// A named, reusable list of conditions.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamedFilter {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "where")]
    pub conditions: Vec<String>,
}
