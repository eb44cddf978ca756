//! Phase two of loading metrics.yaml: validated runtime types with every reference
//! resolved, so the compiler never meets a dangling name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;

use super::grain::{CustomGrain, TimeUnit};
use super::query::{Condition, Grain};
use super::raw::{
    Agg, DataType, DimensionKind, EntityKind, MetricKindName, RawDimension, RawJoinPath,
    RawMeasure, RawMetric, RawNamedFilter, RawRatioInput, RawSemanticModel,
};
use super::timespine::{CumulativeWindow, DerivedInput, RawTimeSpine, TimeSpine};
use crate::diagnostics::{Diagnostics, Reporter};
use crate::fuzzy::did_you_mean;

/// The governed semantic layer: every table, dimension, measure and metric analysts declared.
#[derive(Debug, Clone)]
pub struct SemanticLayer {
    pub models: Vec<SemanticModel>,
    pub metrics: Vec<Metric>,
    /// Project words the planner treats as filler (top-level `ignore:` in metrics.yaml).
    pub ignore: Vec<String>,
    /// Custom grains read from calendar tables (top-level `custom_grains:`).
    pub custom_grains: Vec<CustomGrain>,
    /// The table of days offsets, cumulative windows and `join_to_time_spine` read
    /// (`time_spine:`); without it the compiler generates the days.
    pub time_spine: Option<TimeSpine>,
    /// How a listing (dimensions without a metric) joins its tables (`listing_join:`).
    pub listing_join: super::raw::ListingJoin,
    /// `reach` of every model, computed once the layer is built (the planner asks for it
    /// many times a question).
    reach_cache: std::sync::OnceLock<Vec<Vec<Reach>>>,
}

#[derive(Debug, Clone)]
pub struct SemanticModel {
    pub name: String,
    pub table: String,
    pub description: String,
    pub entities: Vec<Entity>,
    pub dimensions: Vec<Dimension>,
    pub measures: Vec<Measure>,
    /// Index into `dimensions`.
    pub default_time_dimension: Option<usize>,
    /// Row filter (SQL condition over the table) applied wherever the model is read.
    pub filter: Option<String>,
    /// Declared join paths: (target model, models passed through).
    pub joins: Vec<(usize, Vec<usize>)>,
    /// The entity one row stands for when no column holds its key (MetricFlow's
    /// `primary_entity`): it only scopes names, `account__account_type`.
    pub primary_entity: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Entity {
    pub name: String,
    pub kind: EntityKind,
    pub expr: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dimension {
    pub name: String,
    #[serde(skip)]
    pub kind: DimensionKind,
    pub expr: String,
    pub label: String,
    pub description: String,
    pub synonyms: Vec<String>,
    pub sample_values: Vec<String>,
    pub value_synonyms: BTreeMap<String, Vec<String>>,
    pub data_type: DataType,
    /// The display name of its model's entity (`entity_name: true` in metrics.yaml).
    pub entity_name: bool,
    /// Printed as stored, without thousands separators.
    pub identifier: bool,
    /// A date that may lie after today (`future: true`): periods on it aren't cut at today.
    pub future: bool,
    /// The finest unit a time dimension's values carry (`granularity:`; day unless said).
    pub granularity: TimeUnit,
    /// A partition column (`partition: true`): joins between two models that both have a
    /// partition dimension of this name match on it too.
    pub partition: bool,
}

impl Dimension {
    pub fn is_time(&self) -> bool {
        self.kind == DimensionKind::Time
    }
}

#[derive(Debug, Clone)]
pub struct Measure {
    pub name: String,
    pub agg: Agg,
    /// `None` only for `count` of rows.
    pub expr: Option<String>,
    pub percentile: Option<f64>,
    /// Percentile flavour: an actual value (`discrete`), approximate, or interpolated.
    pub discrete: bool,
    pub approximate: bool,
    /// Semi-additive: only rows at the first/last value of a time dimension count.
    pub non_additive: Option<NonAdditive>,
}

/// A semi-additive measure's rule, resolved: which time dimension, which end, per what.
#[derive(Debug, Clone, PartialEq)]
pub struct NonAdditive {
    /// Index into the model's dimensions (a time dimension).
    pub dimension: usize,
    pub window_choice: super::raw::WindowChoice,
    /// Indexes into the model's dimensions.
    pub window_groupings: Vec<usize>,
}

/// The unit a metric's values are in; drives formatting only, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Usd,
    Count,
    Seconds,
    Minutes,
    Hours,
    Days,
    /// A fraction: 0.231 means 23.1%.
    Ratio,
    Score,
    Percent,
}

impl Unit {
    pub const NAMES: [&'static str; 9] = [
        "usd", "count", "seconds", "minutes", "hours", "days", "ratio", "score", "percent",
    ];

    fn parse(s: &str) -> Option<Unit> {
        Some(match s {
            "usd" => Unit::Usd,
            "count" => Unit::Count,
            "seconds" => Unit::Seconds,
            "minutes" => Unit::Minutes,
            "hours" => Unit::Hours,
            "days" => Unit::Days,
            "ratio" => Unit::Ratio,
            "score" => Unit::Score,
            "percent" => Unit::Percent,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    pub label: String,
    pub description: String,
    pub owner: String,
    pub unit: Unit,
    pub synonyms: Vec<String>,
    pub kind: MetricKind,
    /// Which way is good (`better:` in metrics.yaml); durations default to lower.
    pub better: Option<crate::semantic::raw::Better>,
    /// The unit `metric_time` is read at when no grain is named (`default_grain:`).
    pub default_grain: Option<TimeUnit>,
}

/// A measure with the conditions and time dimension a metric applies to it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureInput {
    pub model: usize,
    pub measure: usize,
    pub filter: Vec<Condition>,
    /// Index into the model's dimensions; `None` for snapshot metrics with no time axis.
    pub time_dimension: Option<usize>,
    /// Reported instead of NULL when the measure has no rows for a group (`fill_nulls_with`).
    pub fill_nulls_with: Option<f64>,
    /// Cumulative metrics: the trailing window or grain-to-date span added up each day
    /// (`None`: everything since the start of the data).
    pub window: Option<CumulativeWindow>,
    /// Every period of the time spine is reported (`join_to_time_spine`).
    pub join_to_time_spine: bool,
    /// Cumulative metrics: how daily values become a coarser period's (`period_agg`).
    pub period_agg: super::timespine::PeriodAgg,
}

#[derive(Debug, Clone)]
pub enum MetricKind {
    Simple(MeasureInput),
    /// Running total of the measure from the beginning of the data.
    Cumulative(MeasureInput),
    Ratio {
        numerator: MeasureInput,
        denominator: MeasureInput,
    },
    /// Arithmetic over other metrics; `deps` are metric indices in the order they appear.
    Derived {
        expr: Vec<ExprToken>,
        deps: Vec<usize>,
        /// Inputs declared under `inputs:` (aliases and time offsets).
        inputs: Vec<DerivedInput>,
    },
    /// A funnel step: base events that led to a conversion event.
    Conversion(Box<Conversion>),
}

/// A conversion metric, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    pub base: MeasureInput,
    pub conversion: MeasureInput,
    /// The entity key's SQL on each side.
    pub base_key: String,
    pub conversion_key: String,
    /// At most this long after the base event: (count, grain).
    pub window: Option<(u32, Grain)>,
    /// Conversions divided by base events; otherwise the conversions.
    pub rate: bool,
    /// (base SQL, conversion SQL) pairs that must be equal.
    pub constant: Vec<(String, String)>,
}

impl MetricKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            MetricKind::Simple(_) => "simple",
            MetricKind::Cumulative(_) => "cumulative",
            MetricKind::Ratio { .. } => "ratio",
            MetricKind::Derived { .. } => "derived",
            MetricKind::Conversion(_) => "conversion",
        }
    }
}

/// A token of a derived metric's formula.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprToken {
    Metric(String),
    /// A function of the closed list formulas may call (`NULLIF`), upper-case.
    Func(String),
    Number(String),
    Op(char),
}

impl SemanticLayer {
    /// Loads and validates a metrics.yaml file, reporting every problem at once.
    pub fn load(path: &Path) -> Result<SemanticLayer, Diagnostics> {
        let source = std::fs::read_to_string(path).map_err(|e| {
            Diagnostics(vec![crate::diagnostics::Diagnostic {
                file: path.to_path_buf(),
                line: None,
                key: String::new(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::from_source(path, &source)
    }

    /// Loads from text; `path` is only used in messages.
    pub fn from_source(path: &Path, source: &str) -> Result<SemanticLayer, Diagnostics> {
        let mut rep = Reporter::new(path, source);
        let value: serde_norway::Value = match serde_norway::from_str(source) {
            Ok(v) => v,
            Err(e) => {
                let line = e.location().map(|l| l.line());
                rep.push(line, String::new(), format!("not valid YAML: {e}"));
                return Err(Diagnostics(rep.diagnostics));
            }
        };
        let raw = split_sections(&value, &mut rep);
        let layer = Builder::new(&mut rep).build(raw);
        rep.finish()?;
        Ok(layer)
    }

    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    pub fn metric_index(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|m| m.name == name)
    }

    /// Every table the layer declares: the only tables the SQL guard admits. Lowercased,
    /// as the guard compares names: DuckDB table names are case-insensitive, so
    /// `table: Claim` and `FROM claim` are the same table.
    pub fn tables(&self) -> BTreeSet<String> {
        self.models
            .iter()
            .map(|m| m.table.to_ascii_lowercase())
            .chain(
                self.custom_grains
                    .iter()
                    .map(|c| c.table.to_ascii_lowercase()),
            )
            .chain(self.time_spine.iter().map(|t| t.table.to_ascii_lowercase()))
            .chain(
                self.time_spine
                    .iter()
                    .flat_map(|t| &t.sub_daily)
                    .map(|(_, table, _)| table.to_ascii_lowercase()),
            )
            .collect()
    }

    /// Every (model index, dimension) pair, in declaration order.
    pub fn all_dimensions(&self) -> impl Iterator<Item = (usize, &Dimension)> {
        self.models
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.dimensions.iter().map(move |d| (i, d)))
    }

    /// The joins a model can take: for each of its entities, every other model whose
    /// primary entity has that name (many-to-one, or one-to-one between two primaries).
    pub fn edges(&self, model: usize) -> Vec<JoinStep> {
        let mut out = Vec::new();
        for ent in &self.models[model].entities {
            for (j, other) in self.models.iter().enumerate() {
                if j == model {
                    continue;
                }
                if let Some(pk) = other
                    .entities
                    .iter()
                    .find(|e| e.kind == EntityKind::Primary && e.name == ent.name)
                {
                    out.push(JoinStep {
                        entity: ent.name.clone(),
                        from_model: model,
                        to_model: j,
                        from_expr: ent.expr.clone(),
                        to_expr: pk.expr.clone(),
                        partitions: self.partition_pairs(model, j),
                    });
                }
            }
        }
        out
    }

    /// The partition dimensions `from` and `to` share by name (MetricFlow matches
    /// partitions by name and granularity), as (from SQL, to SQL) pairs.
    pub fn partition_pairs(&self, from: usize, to: usize) -> Vec<(String, String)> {
        let (a, b) = (&self.models[from], &self.models[to]);
        a.dimensions
            .iter()
            .filter(|d| d.partition)
            .filter_map(|d| {
                b.dimensions
                    .iter()
                    .find(|x| x.partition && x.name == d.name && x.granularity == d.granularity)
                    .map(|x| (d.expr.clone(), x.expr.clone()))
            })
            .collect()
    }

    /// Every model a query on `model` can reach over the entity graph, nearest first, with
    /// the shortest join path (or the path `model` declares under `joins:`). A model that
    /// two different shortest paths reach, with no declared path, is marked ambiguous.
    pub fn reach(&self, model: usize) -> Vec<Reach> {
        match self.reach_cache.get() {
            Some(all) => all[model].clone(),
            None => self.reach_uncached(model),
        }
    }

    fn reach_uncached(&self, model: usize) -> Vec<Reach> {
        let n = self.models.len();
        let mut dist: Vec<Option<usize>> = vec![None; n];
        let mut count = vec![0usize; n];
        let mut paths: Vec<Vec<JoinStep>> = vec![Vec::new(); n];
        let mut alternative: Vec<Option<Vec<JoinStep>>> = vec![None; n];
        let mut order = vec![model];
        dist[model] = Some(0);
        count[model] = 1;
        let mut head = 0;
        while head < order.len() {
            let u = order[head];
            head += 1;
            let du = dist[u].unwrap_or(0);
            for step in self.edges(u) {
                let v = step.to_model;
                match dist[v] {
                    None => {
                        dist[v] = Some(du + 1);
                        count[v] = count[u];
                        let mut p = paths[u].clone();
                        p.push(step);
                        paths[v] = p;
                        order.push(v);
                    }
                    Some(dv) if dv == du + 1 => {
                        count[v] = (count[v] + count[u]).min(2);
                        if alternative[v].is_none() {
                            let mut p = paths[u].clone();
                            p.push(step);
                            alternative[v] = Some(p);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        let mut out: Vec<Reach> = order
            .iter()
            .map(|&m| Reach {
                model: m,
                path: (m != model).then(|| JoinPath {
                    steps: paths[m].clone(),
                }),
                ambiguous: (count[m] > 1).then(|| JoinPath {
                    steps: alternative[m].clone().unwrap_or_default(),
                }),
            })
            .collect();
        for (target, via) in &self.models[model].joins {
            if let Some(steps) = self.follow(model, via, *target) {
                let r = Reach {
                    model: *target,
                    path: Some(JoinPath { steps }),
                    ambiguous: None,
                };
                match out.iter_mut().find(|x| x.model == *target) {
                    Some(x) => *x = r,
                    None => out.push(r),
                }
            }
        }
        out
    }

    /// The steps of a declared path: `from`, then each model of `via`, then `to`.
    fn follow(&self, from: usize, via: &[usize], to: usize) -> Option<Vec<JoinStep>> {
        let mut steps = Vec::new();
        let mut cur = from;
        for &next in via.iter().chain(std::iter::once(&to)) {
            let step = self.edges(cur).into_iter().find(|s| s.to_model == next)?;
            steps.push(step);
            cur = next;
        }
        Some(steps)
    }

    /// Models whose dimensions a query on `model` can use: itself first, then every model
    /// one unambiguous join path reaches, nearest first.
    pub fn reachable_models(&self, model: usize) -> Vec<(usize, Option<JoinPath>)> {
        self.reach(model)
            .into_iter()
            .filter(|r| r.ambiguous.is_none())
            .map(|r| (r.model, r.path))
            .collect()
    }

    /// Finds a dimension by name (or `entity__name`) from `model`: own model first, then
    /// the nearest model that has it.
    pub fn resolve_dimension(
        &self,
        model: usize,
        name: &str,
    ) -> Option<(usize, usize, Option<JoinPath>)> {
        self.resolve_dimension_reach(model, name)
            .filter(|(_, _, r)| r.ambiguous.is_none())
            .map(|(m, d, r)| (m, d, r.path))
    }

    /// Like `resolve_dimension`, but also returns a match that two join paths reach, so the
    /// caller can say so.
    pub fn resolve_dimension_reach(
        &self,
        model: usize,
        name: &str,
    ) -> Option<(usize, usize, Reach)> {
        self.resolve_dimension_in(model, &self.reach(model), name)
    }

    /// `resolve_dimension_reach` with `reach` = `self.reach(model)` computed once by the
    /// caller (the compiler resolves many names from one model).
    pub fn resolve_dimension_in(
        &self,
        model: usize,
        reach: &[Reach],
        name: &str,
    ) -> Option<(usize, usize, Reach)> {
        let (entity, bare) = match name.split_once("__") {
            Some((e, d)) => (Some(e), d),
            None => (None, name),
        };
        reach
            .iter()
            .filter(|r| match (entity, &r.path) {
                (None, _) => true,
                (Some(e), Some(p)) => p.entity() == e,
                (Some(e), None) => {
                    self.models[model].primary_entity.as_deref() == Some(e)
                        || self.models[model]
                            .entities
                            .iter()
                            .any(|x| x.name == e && x.kind == EntityKind::Primary)
                }
            })
            .find_map(|r| {
                self.models[r.model]
                    .dimensions
                    .iter()
                    .position(|d| d.name == bare)
                    .map(|d| (r.model, d, r.clone()))
            })
            .or_else(|| self.resolve_multi_hop(reach, name))
    }

    /// `listing__user__ds`: a dimension reached through the joins over these entities, in
    /// order (MetricFlow's multi-hop names).
    fn resolve_multi_hop(&self, reach: &[Reach], name: &str) -> Option<(usize, usize, Reach)> {
        let parts: Vec<&str> = name.split("__").collect();
        let (bare, entities) = parts.split_last()?;
        if entities.len() < 2 {
            return None;
        }
        reach.iter().find_map(|r| {
            let steps = &r.path.as_ref()?.steps;
            let same = steps.len() == entities.len()
                && steps.iter().zip(entities).all(|(s, e)| s.entity == *e);
            if !same {
                return None;
            }
            self.models[r.model]
                .dimensions
                .iter()
                .position(|d| d.name == *bare)
                .map(|d| (r.model, d, r.clone()))
        })
    }

    /// Dimension names usable from `model`, for "did you mean" hints.
    pub fn dimension_names_from(&self, model: usize) -> Vec<&str> {
        self.reachable_models(model)
            .into_iter()
            .flat_map(|(m, _)| self.models[m].dimensions.iter().map(|d| d.name.as_str()))
            .collect()
    }

    /// Renders a join path as `claim_amount -> claim -> policy`.
    pub fn describe_path(&self, from: usize, path: &JoinPath) -> String {
        let mut out = self.models[from].name.clone();
        for s in &path.steps {
            out.push_str(" -> ");
            out.push_str(&self.models[s.to_model].name);
        }
        out
    }
}

/// One model reached from another, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub model: usize,
    /// `None` for the starting model itself.
    pub path: Option<JoinPath>,
    /// A second, equally short path, when the model is reached two ways and no path is
    /// declared: queries must not use it.
    pub ambiguous: Option<JoinPath>,
}

/// How a model joins to another: one step per join over a shared entity, nearest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPath {
    pub steps: Vec<JoinStep>,
}

impl JoinPath {
    /// The entity of the last join: the `entity` in `entity__dimension`.
    pub fn entity(&self) -> &str {
        self.steps.last().map_or("", |s| s.entity.as_str())
    }
}

/// One join: `from_model.from_expr = to_model.to_expr` over `entity`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinStep {
    pub entity: String,
    pub from_model: usize,
    pub to_model: usize,
    pub from_expr: String,
    pub to_expr: String,
    /// Partition columns both models have (`partition: true`, same name), as (from SQL,
    /// to SQL): the join matches on each of them too (MetricFlow's partition-aware join).
    pub partitions: Vec<(String, String)>,
}

struct RawSections {
    time_spine: Option<RawTimeSpine>,
    models: Vec<RawSemanticModel>,
    metrics: Vec<RawMetric>,
    filters: Vec<RawNamedFilter>,
    ignore: Vec<String>,
    custom_grains: Vec<CustomGrain>,
    listing_join: super::raw::ListingJoin,
}

/// Deserialises each item on its own so that one bad item does not hide the others.
fn split_sections(value: &serde_norway::Value, rep: &mut Reporter) -> RawSections {
    let mut out = RawSections {
        time_spine: None,
        models: Vec::new(),
        metrics: Vec::new(),
        filters: Vec::new(),
        ignore: Vec::new(),
        custom_grains: Vec::new(),
        listing_join: Default::default(),
    };
    let Some(map) = value.as_mapping() else {
        rep.error(&[], "expected a mapping with semantic_models and metrics");
        return out;
    };
    for (k, v) in map {
        let key = k.as_str().unwrap_or("");
        match key {
            "version" => {}
            "semantic_models" => out.models = items(key, v, rep),
            "metrics" => out.metrics = items(key, v, rep),
            "filters" => out.filters = items(key, v, rep),
            "ignore" => out.ignore = items(key, v, rep),
            "custom_grains" => out.custom_grains = items(key, v, rep),
            "time_spine" => match serde_norway::from_value::<RawTimeSpine>(v.clone()) {
                Ok(t) => out.time_spine = Some(t),
                Err(e) => rep.error(&[key], e.to_string()),
            },
            "listing_join" => match serde_norway::from_value(v.clone()) {
                Ok(j) => out.listing_join = j,
                Err(_) => rep.error(&[key], "expected left or full"),
            },
            other => rep.error(
                &[other],
                format!(
                    "unknown section{}; expected version, semantic_models, metrics, filters, ignore, custom_grains, time_spine or listing_join",
                    did_you_mean(
                        other,
                        ["semantic_models", "metrics", "filters", "version", "ignore", "custom_grains", "time_spine", "listing_join"]
                    )
                ),
            ),
        }
    }
    if out.models.is_empty() && rep.diagnostics.is_empty() {
        rep.error(&["semantic_models"], "no semantic models declared");
    }
    out
}

fn items<T: serde::de::DeserializeOwned>(
    section: &str,
    v: &serde_norway::Value,
    rep: &mut Reporter,
) -> Vec<T> {
    let Some(seq) = v.as_sequence() else {
        rep.error(&[section], "expected a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in seq.iter().enumerate() {
        let name = item
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{}", i + 1));
        match serde_norway::from_value::<T>(item.clone()) {
            Ok(t) => out.push(t),
            Err(e) => {
                let msg = e.to_string();
                let mut path = vec![section.to_string(), name];
                path.extend(error_path(item, &msg));
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                rep.error(&path, msg);
            }
        }
    }
    out
}

/// Key path inside an item for a serde error: the `a[0].b:` prefix serde_norway gives (with
/// list indices turned into item names), or the field named in an unknown-field error.
fn error_path(item: &serde_norway::Value, msg: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((prefix, _)) = msg.split_once(": ") {
        if !prefix.contains(' ') {
            let mut cur = Some(item);
            for seg in prefix.split('.') {
                let (key, idx) = match seg.split_once('[') {
                    Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
                    None => (seg, None),
                };
                out.push(key.to_string());
                cur = cur.and_then(|v| v.get(key));
                if let Some(i) = idx {
                    cur = cur.and_then(|v| v.get(i));
                    if let Some(n) = cur.and_then(|v| v.get("name")).and_then(|n| n.as_str()) {
                        out.push(n.to_string());
                    }
                }
            }
            return out;
        }
    }
    if let Some(value) = msg
        .strip_prefix("unknown variant `")
        .and_then(|r| r.split('`').next())
    {
        if let Some(p) = path_to_value(item, value) {
            return p;
        }
    }
    if msg.contains("unknown field") {
        if let Some(field) = msg.split('`').nth(1) {
            out.push(field.to_string());
        }
    }
    out
}

/// The key path (list items by name) to the first scalar equal to `value`.
fn path_to_value(v: &serde_norway::Value, value: &str) -> Option<Vec<String>> {
    match v {
        serde_norway::Value::String(s) if s == value => Some(Vec::new()),
        serde_norway::Value::Mapping(m) => m.iter().find_map(|(k, child)| {
            let mut p = path_to_value(child, value)?;
            p.insert(0, k.as_str().unwrap_or_default().to_string());
            Some(p)
        }),
        serde_norway::Value::Sequence(items) => items.iter().find_map(|child| {
            let mut p = path_to_value(child, value)?;
            if let Some(n) = child.get("name").and_then(|n| n.as_str()) {
                p.insert(0, n.to_string());
            }
            Some(p)
        }),
        _ => None,
    }
}

/// True for lower_snake_case identifiers safe to use as SQL aliases.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks that an analyst's SQL fragment is exactly one expression.
fn check_sql_expr(expr: &str) -> Result<(), String> {
    let dialect = DuckDbDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(expr)
        .map_err(|e| format!("not a SQL expression: {e}"))?;
    parser
        .parse_expr()
        .map_err(|e| format!("not a SQL expression: {e}"))?;
    if parser.peek_token().token != sqlparser::tokenizer::Token::EOF {
        return Err(format!(
            "{expr:?} must be a single SQL expression (found trailing text)"
        ));
    }
    if expr.contains(';') {
        return Err(format!("{expr:?} must not contain ';'"));
    }
    Ok(())
}

struct Builder<'r, 'a> {
    rep: &'r mut Reporter<'a>,
    /// Every metric name in the file (a filter may compute one: `listing__bookings > 2`).
    metric_names: BTreeSet<String>,
}

impl<'r, 'a> Builder<'r, 'a> {
    fn new(rep: &'r mut Reporter<'a>) -> Self {
        Builder {
            rep,
            metric_names: BTreeSet::new(),
        }
    }

    fn build(&mut self, raw: RawSections) -> SemanticLayer {
        let (models, raw_joins) = self.models(raw.models);
        let mut layer = SemanticLayer {
            models,
            metrics: Vec::new(),
            ignore: raw.ignore.clone(),
            custom_grains: self.custom_grains(raw.custom_grains.clone()),
            time_spine: self.time_spine(raw.time_spine.as_ref()),
            listing_join: raw.listing_join,
            reach_cache: std::sync::OnceLock::new(),
        };
        self.check_entities(&layer);
        self.declared_joins(&mut layer, raw_joins);
        self.check_ambiguous_paths(&layer);
        let named = self.named_filters(&raw.filters);
        self.metric_names = raw.metrics.iter().map(|m| m.name.clone()).collect();
        let mut seen = BTreeSet::new();
        // Derived formulas may name later metrics: resolve them after every metric is built.
        for rm in &raw.metrics {
            if !seen.insert(rm.name.clone()) {
                self.rep
                    .error(&["metrics", &rm.name], "duplicate metric name");
                continue;
            }
            if let Some(m) = self.metric(&layer, rm, &named, &raw.metrics) {
                layer.metrics.push(m);
            }
        }
        self.resolve_derived(&mut layer);
        let all: Vec<Vec<Reach>> = (0..layer.models.len())
            .map(|m| layer.reach_uncached(m))
            .collect();
        let _ = layer.reach_cache.set(all);
        let problems = super::compile::metric_filter::check_definitions(&layer)
            .into_iter()
            .chain(super::compile::derived::check_input_filters(&layer));
        for (metric, msg) in problems {
            self.rep.error(&["metrics", &metric, "filter"], msg);
        }
        layer
    }

    fn models(
        &mut self,
        raws: Vec<RawSemanticModel>,
    ) -> (Vec<SemanticModel>, Vec<Vec<RawJoinPath>>) {
        let mut out: Vec<SemanticModel> = Vec::new();
        let mut raw_joins = Vec::new();
        let mut measure_names = BTreeSet::new();
        for rm in raws {
            let sec = "semantic_models";
            let name = rm.name.clone();
            if !is_identifier(&name) {
                self.rep
                    .error(&[sec, &name, "name"], "names must be lower_snake_case");
            }
            if out.iter().any(|m| m.name == name) {
                self.rep
                    .error(&[sec, &name], "duplicate semantic model name");
                continue;
            }
            if !is_table_name(&rm.table) {
                self.rep.error(
                    &[sec, &name, "table"],
                    format!("{:?} is not a plain table name", rm.table),
                );
            }
            let entities = rm
                .entities
                .iter()
                .map(|e| {
                    let expr = e.expr.clone().unwrap_or_else(|| e.name.clone());
                    if let Err(msg) = check_sql_expr(&expr) {
                        self.rep.error(&[sec, &name, "entities", "expr"], msg);
                    }
                    Entity {
                        name: e.name.clone(),
                        kind: e.kind,
                        expr,
                    }
                })
                .collect();
            let dimensions = self.dimensions(&name, rm.dimensions);
            let mut measures = Vec::new();
            for m in rm.measures {
                if !measure_names.insert(m.name.clone()) {
                    self.rep.error(
                        &[sec, &name, "measures", &m.name],
                        format!("duplicate measure name {:?}", m.name),
                    );
                    continue;
                }
                measures.push(self.measure(&name, m, &dimensions));
            }
            let default_time_dimension = rm.default_time_dimension.as_ref().and_then(|td| {
                let idx = dimensions
                    .iter()
                    .position(|d: &Dimension| &d.name == td && d.is_time());
                if idx.is_none() {
                    let times: Vec<&str> = dimensions
                        .iter()
                        .filter(|d| d.is_time())
                        .map(|d| d.name.as_str())
                        .collect();
                    self.rep.error(
                        &[sec, &name, "default_time_dimension"],
                        format!(
                            "{td:?} is not a time dimension of this model{}",
                            did_you_mean(td, times)
                        ),
                    );
                }
                idx
            });
            if let Some(f) = &rm.filter {
                if let Err(msg) = check_sql_expr(f) {
                    self.rep.error(&[sec, &name, "filter"], msg);
                }
            }
            raw_joins.push(rm.joins);
            out.push(SemanticModel {
                name,
                table: rm.table,
                description: rm.description.unwrap_or_default(),
                entities,
                dimensions,
                measures,
                default_time_dimension,
                filter: rm.filter,
                joins: Vec::new(),
                primary_entity: rm.primary_entity,
            });
        }
        (out, raw_joins)
    }

    /// Resolves each model's declared `joins:` to model indices, checking every step joins.
    fn declared_joins(&mut self, layer: &mut SemanticLayer, raws: Vec<Vec<RawJoinPath>>) {
        for (i, joins) in raws.into_iter().enumerate() {
            let name = layer.models[i].name.clone();
            for j in joins {
                let find = |n: &str| layer.models.iter().position(|m| m.name == n);
                let names: Vec<&str> = layer.models.iter().map(|m| m.name.as_str()).collect();
                let mut ids = Vec::new();
                let mut ok = true;
                for n in j.via.iter().chain(std::iter::once(&j.to)) {
                    match find(n) {
                        Some(x) => ids.push(x),
                        None => {
                            self.rep.error(
                                &["semantic_models", &name, "joins"],
                                format!(
                                    "unknown semantic model {n:?}{}",
                                    did_you_mean(n, names.iter().copied())
                                ),
                            );
                            ok = false;
                        }
                    }
                }
                let Some(to) = ids.pop().filter(|_| ok) else {
                    continue;
                };
                if layer.follow(i, &ids, to).is_none() {
                    let mut chain = vec![name.clone()];
                    chain.extend(j.via.iter().cloned());
                    chain.push(j.to.clone());
                    self.rep.error(
                        &["semantic_models", &name, "joins"],
                        format!(
                            "the path {} does not join: each model must carry an entity that the next has as primary",
                            chain.join(" -> ")
                        ),
                    );
                    continue;
                }
                layer.models[i].joins.push((to, ids));
            }
        }
    }

    /// A model that two equally short join paths reach from a model with measures is
    /// ambiguous: the same dimension could mean two things. It is an error unless the model
    /// with the measures declares one under `joins:`. (A listing from a model without
    /// measures meets the same ambiguity as a compile error.)
    fn check_ambiguous_paths(&mut self, layer: &SemanticLayer) {
        for (i, m) in layer.models.iter().enumerate() {
            if m.measures.is_empty() {
                continue;
            }
            for r in layer.reach(i) {
                let (Some(alt), Some(path)) = (&r.ambiguous, &r.path) else {
                    continue;
                };
                if layer.models[r.model].dimensions.is_empty() {
                    continue;
                }
                self.rep.error(
                    &["semantic_models", &m.name, "joins"],
                    format!(
                        "{} is reached by two equally short join paths ({} and {}); declare one under `joins:` (to: {}, via: [...])",
                        layer.models[r.model].name,
                        layer.describe_path(i, path),
                        layer.describe_path(i, alt),
                        layer.models[r.model].name,
                    ),
                );
            }
        }
    }

    fn dimensions(&mut self, model: &str, raws: Vec<RawDimension>) -> Vec<Dimension> {
        let mut out: Vec<Dimension> = Vec::new();
        for d in raws {
            let path = ["semantic_models", model, "dimensions", d.name.as_str()];
            if !is_identifier(&d.name) || Grain::parse(&d.name).is_some() {
                self.rep.error(
                    &path,
                    format!(
                        "dimension name {:?} must be lower_snake_case and not a grain name",
                        d.name
                    ),
                );
            }
            if out.iter().any(|x| x.name == d.name) {
                self.rep
                    .error(&path, "duplicate dimension name in this model");
                continue;
            }
            let expr = d.expr.unwrap_or_else(|| d.name.clone());
            if let Err(msg) = check_sql_expr(&expr) {
                self.rep.error(&path, msg);
            }
            for key in d.value_synonyms.keys() {
                if !d.sample_values.contains(key) {
                    self.rep.error(
                        &path,
                        format!("value_synonyms names {key:?}, which is not in sample_values"),
                    );
                }
            }
            let granularity = match (d.kind, d.granularity) {
                (DimensionKind::Time, Some(u)) => u,
                (DimensionKind::Categorical, Some(_)) => {
                    self.rep
                        .error(&path, "granularity is only for time dimensions");
                    TimeUnit::Day
                }
                (_, None) => TimeUnit::Day,
            };
            out.push(Dimension {
                label: d.label.unwrap_or_else(|| d.name.replace('_', " ")),
                name: d.name,
                kind: d.kind,
                expr,
                description: d.description.unwrap_or_default(),
                synonyms: d.synonyms,
                sample_values: d.sample_values,
                value_synonyms: d.value_synonyms,
                data_type: d.data_type.unwrap_or(DataType::String),
                entity_name: d.entity_name,
                identifier: d.identifier,
                future: d.future,
                granularity,
                partition: d.partition,
            });
        }
        out
    }

    /// Validates `custom_grains:`: unique lower_snake_case names that are not a unit or a
    /// date part, plain table and column names.
    fn custom_grains(&mut self, raws: Vec<CustomGrain>) -> Vec<CustomGrain> {
        let mut out: Vec<CustomGrain> = Vec::new();
        for c in raws {
            let path = ["custom_grains", c.name.as_str()];
            if !is_identifier(&c.name)
                || TimeUnit::parse(&c.name).is_some()
                || c.name.starts_with("extract_")
                || c.name.contains("__")
            {
                self.rep.error(
                    &path,
                    format!(
                        "custom grain name {:?} must be lower_snake_case, without `__`, and not a unit (day, month…) or extract_…",
                        c.name
                    ),
                );
                continue;
            }
            if out.iter().any(|x| x.name == c.name) {
                self.rep.error(&path, "duplicate custom grain name");
                continue;
            }
            let table_ok = !c.table.is_empty()
                && c.table.split('.').all(|p| {
                    !p.is_empty() && p.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                });
            if !table_ok {
                self.rep.error(
                    &path,
                    format!("table {:?} must be a plain table name", c.table),
                );
                continue;
            }
            if !is_identifier(&c.date_column) || !is_identifier(c.period_column()) {
                self.rep.error(
                    &path,
                    "date_column and column must be lower_snake_case column names",
                );
                continue;
            }
            out.push(c);
        }
        out
    }

    fn measure(&mut self, model: &str, m: RawMeasure, dimensions: &[Dimension]) -> Measure {
        let path = ["semantic_models", model, "measures", m.name.as_str()];
        if !is_identifier(&m.name) {
            self.rep
                .error(&path, "measure names must be lower_snake_case");
        }
        let expr = match (&m.expr, m.agg) {
            (Some(e), _) => Some(e.clone()),
            (None, Agg::Count) => None,
            (None, _) => Some(m.name.clone()),
        };
        if let Some(e) = &expr {
            if let Err(msg) = check_sql_expr(e) {
                self.rep.error(&path, msg);
            }
        }
        match (m.agg, m.percentile) {
            (Agg::Percentile, Some(p)) if p > 0.0 && p < 1.0 => {}
            (Agg::Percentile, _) => self.rep.error(
                &path,
                "agg: percentile needs `percentile:` between 0 and 1 (e.g. 0.9)",
            ),
            (_, Some(_)) => self
                .rep
                .error(&path, "`percentile:` only applies to agg: percentile"),
            _ => {}
        }
        if (m.discrete || m.approximate) && m.agg != Agg::Percentile {
            self.rep.error(
                &path,
                "`discrete:` and `approximate:` only apply to agg: percentile",
            );
        }
        let non_additive =
            m.non_additive_dimension.as_ref().and_then(|n| {
                let find = |name: &str| dimensions.iter().position(|d| d.name == name);
                let dimension =
                    match find(&n.name) {
                        Some(i) if dimensions[i].is_time() => i,
                        _ => {
                            self.rep.error(
                                &path,
                                format!(
                            "non_additive_dimension {:?} must be a time dimension of {model}{}",
                            n.name,
                            did_you_mean(
                                &n.name,
                                dimensions.iter().filter(|d| d.is_time()).map(|d| d.name.as_str())
                            )
                        ),
                            );
                            return None;
                        }
                    };
                let mut window_groupings = Vec::new();
                for g in &n.window_groupings {
                    match find(g) {
                        Some(i) => window_groupings.push(i),
                        None => {
                            self.rep.error(
                                &path,
                                format!(
                                    "window_groupings: {g:?} is not a dimension of {model}{}",
                                    did_you_mean(g, dimensions.iter().map(|d| d.name.as_str()))
                                ),
                            );
                            return None;
                        }
                    }
                }
                Some(NonAdditive {
                    dimension,
                    window_choice: n.window_choice,
                    window_groupings,
                })
            });
        Measure {
            name: m.name,
            agg: m.agg,
            expr,
            percentile: m.percentile,
            discrete: m.discrete,
            approximate: m.approximate,
            non_additive,
        }
    }

    fn check_entities(&mut self, layer: &SemanticLayer) {
        for m in &layer.models {
            for e in &m.entities {
                if e.kind == EntityKind::Foreign
                    && !layer.models.iter().any(|o| {
                        o.entities
                            .iter()
                            .any(|x| x.name == e.name && x.kind == EntityKind::Primary)
                    })
                {
                    self.rep.error(
                        &["semantic_models", &m.name, "entities", &e.name],
                        format!(
                            "foreign entity {:?} has no model with it as primary entity",
                            e.name
                        ),
                    );
                }
            }
        }
    }

    fn named_filters(&mut self, raws: &[RawNamedFilter]) -> BTreeMap<String, Vec<Condition>> {
        let mut out = BTreeMap::new();
        for f in raws {
            let mut conds = Vec::new();
            for c in &f.conditions {
                match Condition::parse(c) {
                    Ok(c) => conds.push(c),
                    Err(e) => self.rep.error(&["filters", &f.name, "where"], e),
                }
            }
            if out.insert(f.name.clone(), conds).is_some() {
                self.rep
                    .error(&["filters", &f.name], "duplicate filter name");
            }
        }
        out
    }

    fn find_measure(&self, layer: &SemanticLayer, name: &str) -> Option<(usize, usize)> {
        layer.models.iter().enumerate().find_map(|(mi, m)| {
            m.measures
                .iter()
                .position(|x| x.name == name)
                .map(|x| (mi, x))
        })
    }

    fn conditions(
        &mut self,
        layer: &SemanticLayer,
        path: &[&str],
        model: usize,
        texts: &[String],
        named: &BTreeMap<String, Vec<Condition>>,
    ) -> Vec<Condition> {
        let mut out = Vec::new();
        for t in texts {
            let conds = if is_identifier(t.trim()) {
                match named.get(t.trim()) {
                    Some(c) => c.clone(),
                    None => {
                        self.rep.error(
                            path,
                            format!(
                                "unknown named filter {t:?}{}",
                                did_you_mean(t, named.keys().map(String::as_str))
                            ),
                        );
                        continue;
                    }
                }
            } else {
                match Condition::parse(t) {
                    Ok(c) => vec![c],
                    Err(e) => {
                        self.rep.error(path, e);
                        continue;
                    }
                }
            };
            for c in conds {
                // `listing__bookings > 2`: a metric filter, checked once every metric is built.
                let metric_filter = c
                    .dimension
                    .rsplit_once("__")
                    .is_some_and(|(_, m)| self.metric_names.contains(m));
                if layer.resolve_dimension(model, &c.dimension).is_none() && !metric_filter {
                    self.rep.error(
                        path,
                        format!(
                            "filter on unknown dimension {:?} for model {}{}",
                            c.dimension,
                            layer.models[model].name,
                            did_you_mean(&c.dimension, layer.dimension_names_from(model))
                        ),
                    );
                }
                out.push(c);
            }
        }
        out
    }

    /// Resolves a measure used by metric `metric` (under `key`), with its filter and the
    /// time dimension the metric names (or the model's default).
    #[allow(clippy::too_many_arguments)]
    fn measure_input(
        &mut self,
        layer: &SemanticLayer,
        metric: &str,
        key: &str,
        measure: &str,
        filter: &[String],
        time_dimension: Option<&String>,
        named: &BTreeMap<String, Vec<Condition>>,
    ) -> Option<MeasureInput> {
        let path = ["metrics", metric, key];
        let Some((model, mi)) = self.find_measure(layer, measure) else {
            let all: Vec<&str> = layer
                .models
                .iter()
                .flat_map(|m| m.measures.iter().map(|x| x.name.as_str()))
                .collect();
            self.rep.error(
                &path,
                format!("unknown measure {measure:?}{}", did_you_mean(measure, all)),
            );
            return None;
        };
        let filter = self.conditions(layer, &["metrics", metric, "filter"], model, filter, named);
        let m = &layer.models[model];
        let time_dimension = match time_dimension {
            None => m.default_time_dimension,
            Some(td) => {
                let idx = m
                    .dimensions
                    .iter()
                    .position(|d| &d.name == td && d.is_time());
                if idx.is_none() {
                    let times: Vec<&str> = m
                        .dimensions
                        .iter()
                        .filter(|d| d.is_time())
                        .map(|d| d.name.as_str())
                        .collect();
                    self.rep.error(
                        &["metrics", metric, "time_dimension"],
                        format!(
                            "{td:?} is not a time dimension of {}{}",
                            m.name,
                            did_you_mean(td, times)
                        ),
                    );
                }
                idx
            }
        };
        Some(MeasureInput {
            model,
            measure: mi,
            filter,
            time_dimension,
            fill_nulls_with: None,
            window: None,
            join_to_time_spine: false,
            period_agg: Default::default(),
        })
    }

    fn metric(
        &mut self,
        layer: &SemanticLayer,
        rm: &RawMetric,
        named: &BTreeMap<String, Vec<Condition>>,
        all: &[RawMetric],
    ) -> Option<Metric> {
        let name = rm.name.as_str();
        if !is_identifier(name) {
            self.rep.error(
                &["metrics", name, "name"],
                "metric names must be lower_snake_case",
            );
        }
        let unit = Unit::parse(&rm.unit);
        if unit.is_none() {
            self.rep.error(
                &["metrics", name, "unit"],
                format!(
                    "unknown unit {:?}{}; expected one of {}",
                    rm.unit,
                    did_you_mean(&rm.unit, Unit::NAMES),
                    Unit::NAMES.join(", ")
                ),
            );
        }
        let kind = match rm.kind {
            MetricKindName::Simple | MetricKindName::Cumulative => {
                self.measure_kind(layer, rm, named)?
            }
            MetricKindName::Ratio => self.ratio_kind(layer, rm, named, all)?,
            MetricKindName::Derived => self.derived_kind(rm, all)?,
            MetricKindName::Conversion => self.conversion_kind(layer, rm, named)?,
        };
        Some(Metric {
            name: rm.name.clone(),
            label: rm
                .label
                .clone()
                .unwrap_or_else(|| rm.name.replace('_', " ")),
            description: rm.description.trim().to_string(),
            owner: rm.owner.clone(),
            unit: unit?,
            synonyms: rm.synonyms.clone(),
            kind,
            better: rm.better,
            default_grain: rm.default_grain,
        })
    }

    /// A conversion metric: two dated measures whose models share the entity.
    fn conversion_kind(
        &mut self,
        layer: &SemanticLayer,
        rm: &RawMetric,
        named: &BTreeMap<String, Vec<Condition>>,
    ) -> Option<MetricKind> {
        let name = rm.name.as_str();
        let k = "conversion";
        self.want(name, rm.conversion.is_some(), "conversion", k);
        self.forbid(name, rm.measure.is_some(), "measure", k);
        self.forbid(name, rm.numerator.is_some(), "numerator", k);
        self.forbid(name, rm.denominator.is_some(), "denominator", k);
        self.forbid(name, rm.expr.is_some(), "expr", k);
        self.forbid(name, !rm.filter.is_empty(), "filter", k);
        self.forbid(name, rm.period_agg.is_some(), "period_agg", k);
        let c = rm.conversion.as_ref()?;
        let base = self.measure_input(layer, name, "conversion", &c.base_measure, &[], None, named);
        let conversion = self.measure_input(
            layer,
            name,
            "conversion",
            &c.conversion_measure,
            &[],
            None,
            named,
        );
        let (base, mut conversion) = (base?, conversion?);
        conversion.fill_nulls_with = rm.fill_nulls_with;
        let path = ["metrics", name, "conversion"];
        if base.time_dimension.is_none() || conversion.time_dimension.is_none() {
            self.rep.error(
                &path,
                "both measures of a conversion metric need a time dimension",
            );
            return None;
        }
        // An entity (or a dimension) of a model, as SQL.
        let column = |model: usize, n: &str| {
            let m = &layer.models[model];
            m.entities
                .iter()
                .find(|e| e.name == n)
                .map(|e| e.expr.clone())
                .or_else(|| {
                    m.dimensions
                        .iter()
                        .find(|d| d.name == n)
                        .map(|d| d.expr.clone())
                })
        };
        let base_key = column(base.model, &c.entity);
        let conversion_key = column(conversion.model, &c.entity);
        let (Some(base_key), Some(conversion_key)) = (base_key, conversion_key) else {
            self.rep.error(
                &path,
                format!(
                    "entity {:?} must be an entity of both {} and {}",
                    c.entity, layer.models[base.model].name, layer.models[conversion.model].name
                ),
            );
            return None;
        };
        let window = match &c.window {
            None => None,
            Some(w) => match parse_window(w) {
                Some(x) => Some(x),
                None => {
                    self.rep.error(
                        &path,
                        format!("window {w:?} is not a count and a grain, e.g. `7 days`"),
                    );
                    return None;
                }
            },
        };
        let rate = match c.calculation.as_deref() {
            None | Some("conversion_rate") => true,
            Some("conversions") => false,
            Some(other) => {
                self.rep.error(
                    &path,
                    format!("calculation {other:?} is not conversion_rate or conversions"),
                );
                return None;
            }
        };
        let mut constant = Vec::new();
        for p in &c.constant_properties {
            match (
                column(base.model, &p.base_property),
                column(conversion.model, &p.conversion_property),
            ) {
                (Some(b), Some(v)) => constant.push((b, v)),
                _ => {
                    self.rep.error(
                        &path,
                        format!(
                            "constant property {} / {} is not a column of both models",
                            p.base_property, p.conversion_property
                        ),
                    );
                    return None;
                }
            }
        }
        Some(MetricKind::Conversion(Box::new(Conversion {
            base,
            conversion,
            base_key,
            conversion_key,
            window,
            rate,
            constant,
        })))
    }

    /// Validates the `time_spine:` section.
    fn time_spine(&mut self, raw: Option<&RawTimeSpine>) -> Option<TimeSpine> {
        let raw = raw?;
        let mut ok = true;
        if !is_table_name(&raw.table) {
            self.rep.error(
                &["time_spine", "table"],
                format!("{:?} is not a plain table name", raw.table),
            );
            ok = false;
        }
        let col_ok = raw
            .column
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && raw
                .column
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !col_ok {
            self.rep.error(
                &["time_spine", "column"],
                format!("{:?} is not a plain column name", raw.column),
            );
            ok = false;
        }
        let plain = |c: &str| {
            c.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let mut sub_daily = Vec::new();
        for f in &raw.sub_daily {
            let what = f.grain.as_str();
            if !f.grain.is_sub_daily() {
                self.rep.error(
                    &["time_spine", "sub_daily", "grain"],
                    format!("{what} is not finer than a day (hour, minute, second, millisecond)"),
                );
                ok = false;
            } else if !is_table_name(&f.table) || !plain(&f.column) {
                self.rep.error(
                    &["time_spine", "sub_daily", "table"],
                    format!(
                        "the {what} spine {}.{} is not a plain table and column name",
                        f.table, f.column
                    ),
                );
                ok = false;
            } else if sub_daily.iter().any(|(g, _, _)| *g == f.grain) {
                self.rep.error(
                    &["time_spine", "sub_daily", "grain"],
                    format!("two sub-daily spines at the {what}"),
                );
                ok = false;
            } else {
                sub_daily.push((f.grain, f.table.clone(), f.column.clone()));
            }
        }
        ok.then(|| TimeSpine {
            table: raw.table.clone(),
            column: raw.column.clone(),
            sub_daily,
        })
    }

    /// Reports time-spine keys on a metric kind they do not apply to.
    fn forbid_time_spine_keys(&mut self, rm: &RawMetric, kind: &str) {
        let name = rm.name.as_str();
        self.forbid(name, rm.window.is_some(), "window", kind);
        self.forbid(name, rm.grain_to_date.is_some(), "grain_to_date", kind);
        self.forbid(name, rm.join_to_time_spine, "join_to_time_spine", kind);
        self.forbid(name, !rm.inputs.is_empty(), "inputs", kind);
        self.forbid(name, rm.period_agg.is_some(), "period_agg", kind);
    }

    /// Reports a key a metric of `kind` needs but lacks.
    fn want(&mut self, name: &str, present: bool, key: &str, kind: &str) {
        if !present {
            self.rep.error(
                &["metrics", name, key],
                format!("a {kind} metric needs `{key}:`"),
            );
        }
    }

    /// Reports a key that does not apply to a metric of `kind`.
    fn forbid(&mut self, name: &str, present: bool, key: &str, kind: &str) {
        if present {
            self.rep.error(
                &["metrics", name, key],
                format!("`{key}:` does not apply to a {kind} metric"),
            );
        }
    }

    /// A simple or cumulative metric: its measure input (a cumulative one needs a time
    /// dimension and a sum or count).
    fn measure_kind(
        &mut self,
        layer: &SemanticLayer,
        rm: &RawMetric,
        named: &BTreeMap<String, Vec<Condition>>,
    ) -> Option<MetricKind> {
        let name = rm.name.as_str();
        let k = if rm.kind == MetricKindName::Simple {
            "simple"
        } else {
            "cumulative"
        };
        self.want(name, rm.measure.is_some(), "measure", k);
        self.forbid(name, rm.numerator.is_some(), "numerator", k);
        self.forbid(name, rm.denominator.is_some(), "denominator", k);
        self.forbid(name, rm.expr.is_some(), "expr", k);
        let mut input = self.measure_input(
            layer,
            &rm.name,
            "measure",
            rm.measure.as_deref()?,
            &rm.filter,
            rm.time_dimension.as_ref(),
            named,
        )?;
        input.fill_nulls_with = rm.fill_nulls_with;
        self.forbid(name, !rm.inputs.is_empty(), "inputs", k);
        input.join_to_time_spine = rm.join_to_time_spine;
        if rm.join_to_time_spine && input.time_dimension.is_none() {
            self.rep.error(
                &["metrics", name, "join_to_time_spine"],
                "join_to_time_spine needs a time dimension",
            );
        }
        if rm.kind == MetricKindName::Simple {
            self.forbid(name, rm.window.is_some(), "window", k);
            self.forbid(name, rm.grain_to_date.is_some(), "grain_to_date", k);
            self.forbid(name, rm.period_agg.is_some(), "period_agg", k);
        }
        input.period_agg = rm.period_agg.unwrap_or_default();
        match CumulativeWindow::from_raw(rm.window.as_deref(), rm.grain_to_date) {
            Ok(w) => input.window = w,
            Err(e) => {
                let key = if rm.window.is_some() {
                    "window"
                } else {
                    "grain_to_date"
                };
                self.rep.error(&["metrics", name, key], e);
            }
        }
        if rm.kind == MetricKindName::Cumulative {
            if input.time_dimension.is_none() {
                self.rep.error(
                    &["metrics", name],
                    "a cumulative metric needs a time dimension",
                );
            }
            let agg = layer.models[input.model].measures[input.measure].agg;
            // A window re-aggregates the rows in it, so any aggregation works; a running
            // total from the start is a sum of sums.
            if input.window.is_none() && !matches!(agg, Agg::Sum | Agg::Count) {
                self.rep.error(
                    &["metrics", name, "measure"],
                    "a cumulative metric needs a sum or count measure",
                );
            }
            Some(MetricKind::Cumulative(input))
        } else {
            Some(MetricKind::Simple(input))
        }
    }

    /// A ratio metric: its numerator and denominator, both dated or both not.
    fn ratio_kind(
        &mut self,
        layer: &SemanticLayer,
        rm: &RawMetric,
        named: &BTreeMap<String, Vec<Condition>>,
        all: &[RawMetric],
    ) -> Option<MetricKind> {
        let name = rm.name.as_str();
        self.want(name, rm.numerator.is_some(), "numerator", "ratio");
        self.want(name, rm.denominator.is_some(), "denominator", "ratio");
        self.forbid(name, rm.measure.is_some(), "measure", "ratio");
        self.forbid(name, rm.expr.is_some(), "expr", "ratio");
        self.forbid(
            name,
            rm.fill_nulls_with.is_some(),
            "fill_nulls_with (put it on the numerator or denominator)",
            "ratio",
        );
        self.forbid_time_spine_keys(rm, "ratio");
        let num = self.ratio_input(layer, rm, "numerator", rm.numerator.as_ref()?, named, all);
        let den = self.ratio_input(
            layer,
            rm,
            "denominator",
            rm.denominator.as_ref()?,
            named,
            all,
        );
        let (numerator, denominator) = (num?, den?);
        if numerator.time_dimension.is_some() != denominator.time_dimension.is_some() {
            self.rep.error(
                &["metrics", name],
                "numerator and denominator must both have a time dimension or both have none",
            );
        }
        Some(MetricKind::Ratio {
            numerator,
            denominator,
        })
    }

    /// A derived metric: its formula, tokenized (dependencies are resolved later).
    fn derived_kind(&mut self, rm: &RawMetric, all: &[RawMetric]) -> Option<MetricKind> {
        let name = rm.name.as_str();
        self.want(name, rm.expr.is_some(), "expr", "derived");
        self.forbid(name, rm.measure.is_some(), "measure", "derived");
        self.forbid(name, !rm.filter.is_empty(), "filter", "derived");
        self.forbid(
            name,
            rm.fill_nulls_with.is_some(),
            "fill_nulls_with (put it on the input metrics)",
            "derived",
        );
        self.forbid(name, rm.window.is_some(), "window", "derived");
        self.forbid(name, rm.grain_to_date.is_some(), "grain_to_date", "derived");
        self.forbid(name, rm.period_agg.is_some(), "period_agg", "derived");
        self.forbid(
            name,
            rm.join_to_time_spine,
            "join_to_time_spine (put it on the input metrics)",
            "derived",
        );
        let expr = match tokenize_formula(rm.expr.as_deref()?) {
            Ok(t) => t,
            Err(e) => {
                self.rep.error(&["metrics", name, "expr"], e);
                return None;
            }
        };
        let known = |m: &str| all.iter().any(|x| x.name == m);
        let (inputs, errors) = super::timespine::derived_inputs(&rm.inputs, &known);
        for (key, e) in errors {
            self.rep.error(&["metrics", name, &key], e);
        }
        for i in &inputs {
            if !expr.contains(&ExprToken::Metric(i.name.clone())) {
                self.rep.error(
                    &["metrics", name, "inputs"],
                    format!("input {:?} is not used in the formula", i.name),
                );
            }
        }
        Some(MetricKind::Derived {
            expr,
            deps: Vec::new(),
            inputs,
        })
    }

    fn ratio_input(
        &mut self,
        layer: &SemanticLayer,
        rm: &RawMetric,
        key: &str,
        input: &RawRatioInput,
        named: &BTreeMap<String, Vec<Condition>>,
        all: &[RawMetric],
    ) -> Option<MeasureInput> {
        match input {
            RawRatioInput::Measure(m) => {
                let mut filter = rm.filter.clone();
                filter.extend(m.filter.iter().cloned());
                let mut input = self.measure_input(
                    layer,
                    &rm.name,
                    key,
                    &m.measure,
                    &filter,
                    rm.time_dimension.as_ref(),
                    named,
                )?;
                input.fill_nulls_with = m.fill_nulls_with;
                Some(input)
            }
            RawRatioInput::Metric(metric) => {
                let Some(target) = all.iter().find(|x| &x.name == metric) else {
                    self.rep.error(
                        &["metrics", rm.name.as_str(), key],
                        format!(
                            "unknown metric {metric:?}{}",
                            did_you_mean(metric, all.iter().map(|x| x.name.as_str()))
                        ),
                    );
                    return None;
                };
                if target.kind != MetricKindName::Simple {
                    self.rep.error(
                        &["metrics", rm.name.as_str(), key],
                        format!("{metric:?} must be a simple metric to be a ratio input"),
                    );
                    return None;
                }
                if target.join_to_time_spine {
                    self.rep.error(
                        &["metrics", rm.name.as_str(), key],
                        format!("{metric:?} joins to the time spine and cannot be a ratio input (not supported yet)"),
                    );
                    return None;
                }
                let mut filter = target.filter.clone();
                filter.extend(rm.filter.iter().cloned());
                let measure = target.measure.as_deref()?;
                let mut input = self.measure_input(
                    layer,
                    &rm.name,
                    key,
                    measure,
                    &filter,
                    target.time_dimension.as_ref(),
                    named,
                )?;
                input.fill_nulls_with = target.fill_nulls_with;
                Some(input)
            }
        }
    }

    fn resolve_derived(&mut self, layer: &mut SemanticLayer) {
        let names: Vec<String> = layer.metrics.iter().map(|m| m.name.clone()).collect();
        for i in 0..layer.metrics.len() {
            let MetricKind::Derived { expr, inputs, .. } = &layer.metrics[i].kind else {
                continue;
            };
            let mut deps = Vec::new();
            for t in expr {
                if let ExprToken::Metric(n) = t {
                    let n = inputs
                        .iter()
                        .find(|x| &x.name == n)
                        .map_or(n, |x| &x.metric);
                    match names.iter().position(|x| x == n) {
                        Some(j) => deps.push(j),
                        None => self.rep.error(
                            &["metrics", &names[i], "expr"],
                            format!(
                                "unknown metric {n:?}{}",
                                did_you_mean(n, names.iter().map(String::as_str))
                            ),
                        ),
                    }
                }
            }
            if let MetricKind::Derived { deps: d, .. } = &mut layer.metrics[i].kind {
                *d = deps;
            }
        }
        // Reject cycles and cumulative inputs.
        for i in 0..layer.metrics.len() {
            let mut stack = vec![(i, 0usize)];
            let mut visiting = vec![i];
            while let Some((m, depth)) = stack.pop() {
                if depth > layer.metrics.len() {
                    break;
                }
                if let MetricKind::Derived { deps, .. } = &layer.metrics[m].kind {
                    for &d in deps {
                        if d == i {
                            self.rep.error(
                                &["metrics", &names[i], "expr"],
                                "derived metric refers to itself (directly or through others)",
                            );
                            stack.clear();
                            break;
                        }
                        // Windowed cumulative metrics are day values like any other;
                        // running totals from the start are balances.
                        if matches!(&layer.metrics[d].kind, MetricKind::Cumulative(c) if c.window.is_none())
                            && m == i
                        {
                            self.rep.error(
                                &["metrics", &names[i], "expr"],
                                format!(
                                    "{:?} is cumulative and cannot be used in a formula",
                                    names[d]
                                ),
                            );
                        }
                        if !visiting.contains(&d) {
                            visiting.push(d);
                            stack.push((d, depth + 1));
                        }
                    }
                }
            }
        }
    }
}

fn is_table_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').count() <= 2
        && s.split('.').all(|p| {
            let mut c = p.chars();
            matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
                && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        })
}

/// Splits a derived metric's formula into metric names, numbers and operators.
pub fn tokenize_formula(s: &str) -> Result<Vec<ExprToken>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut depth = 0i32;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if "+-*/(),".contains(c) {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            if depth < 0 {
                return Err(format!("unbalanced ')' in {s:?}"));
            }
            out.push(ExprToken::Op(c));
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let n: String = chars[start..i].iter().collect();
            n.parse::<f64>()
                .map_err(|_| format!("bad number {n:?} in {s:?}"))?;
            out.push(ExprToken::Number(n));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let call = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
            match (call, super::compile::derived::function(&name)) {
                (false, _) => out.push(ExprToken::Metric(name)),
                (true, Some(f)) => out.push(ExprToken::Func(f.to_string())),
                (true, None) => {
                    let known: Vec<&str> = super::compile::derived::FUNCTIONS
                        .iter()
                        .map(|f| f.0)
                        .collect();
                    return Err(format!(
                        "unknown function {name} in {s:?}; formulas may call {}",
                        known.join(", ")
                    ));
                }
            }
        } else {
            return Err(format!(
                "unexpected {c:?} in {s:?}; formulas use metric names, numbers, + - * / and parentheses, and functions such as NULLIF(a, 0)"
            ));
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in {s:?}"));
    }
    if out.is_empty() {
        return Err("empty formula".into());
    }
    super::compile::derived::check_calls(&out, s)?;
    Ok(out)
}

/// `7 days`, `1 week`, `2 months` -> (count, grain).
pub fn parse_window(text: &str) -> Option<(u32, Grain)> {
    let mut parts = text.split_whitespace();
    let n: u32 = parts.next()?.parse().ok().filter(|n| *n > 0)?;
    let unit = parts.next()?.to_ascii_lowercase();
    if parts.next().is_some() {
        return None;
    }
    let unit = unit.strip_suffix('s').unwrap_or(&unit);
    Grain::ALL
        .into_iter()
        .find(|g| g.as_str() == unit)
        .map(|g| (n, g))
}
