//! `cortex export snowflake FILE`: metrics.yaml as a Snowflake Cortex Analyst semantic
//! model (YAML: `tables:` with `base_table`, `dimensions`, `time_dimensions`, `facts`,
//! `metrics` and `filters`; `relationships:`; model-level `metrics:`).
//!
//! Each semantic model becomes a logical table. Its entities become key dimensions, and a
//! foreign entity that meets another model's primary entity becomes a `many_to_one`
//! relationship. A metric becomes one aggregate expression over the table's columns:
//! its filter and the model's row filter are written into the aggregate
//! (`SUM(CASE WHEN <filter> THEN amount END)`), so the metric means the same without any
//! query-time filter. A ratio or derived metric whose inputs all live on one table is a
//! table metric; across tables it is a model-level metric over `table.metric`.
//!
//! What Cortex Analyst cannot express as a plain aggregate (running totals and windows,
//! offsets, conversions, balances at period end, filters through a join) is not exported,
//! and each such metric is named in [`SnowflakeModel::notes`]. The access policy is not part
//! of a semantic model: Snowflake's own grants and row access policies apply there.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::semantic::grain::TimeUnit;
use crate::semantic::model::{ExprToken, MeasureInput, Metric, MetricKind, SemanticModel};
use crate::semantic::query::{Condition, Literal};
use crate::semantic::raw::{Agg, DataType, EntityKind};
use crate::semantic::SemanticLayer;

/// Where the exported tables live in Snowflake.
#[derive(Debug, Clone)]
pub struct Target {
    /// The semantic model's name.
    pub name: String,
    pub database: String,
    pub schema: String,
}

/// An exported semantic model and what could not be carried.
#[derive(Debug, Clone)]
pub struct SnowflakeModel {
    pub model: Model,
    /// One line per metric (or construct) left out, with the reason.
    pub notes: Vec<String>,
}

impl SnowflakeModel {
    /// The semantic model as YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(&self.model).unwrap_or_default()
    }
}

/// Cortex Analyst's semantic model.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub tables: Vec<Table>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relationships: Vec<Relationship>,
    /// Metrics over more than one table (`expr` names `table.metric`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub base_table: BaseTable,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<PrimaryKey>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Column>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_dimensions: Vec<Column>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Fact>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<NamedFilter>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaseTable {
    pub database: String,
    pub schema: String,
    pub table: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrimaryKey {
    pub columns: Vec<String>,
}

/// A dimension or time dimension.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub expr: String,
    pub data_type: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sample_values: Vec<String>,
}

/// A row-level number (a measure's expression).
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub expr: String,
    pub data_type: String,
    pub default_aggregation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricDef {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub expr: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NamedFilter {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub expr: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Relationship {
    pub name: String,
    pub left_table: String,
    pub right_table: String,
    pub relationship_columns: Vec<RelationshipColumn>,
    pub join_type: String,
    pub relationship_type: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelationshipColumn {
    pub left_column: String,
    pub right_column: String,
}

/// Exports `layer` as a Cortex Analyst semantic model over `target`'s database and schema.
pub fn export(layer: &SemanticLayer, target: &Target) -> SnowflakeModel {
    let mut notes = Vec::new();
    let mut tables: Vec<Table> = layer
        .models
        .iter()
        .map(|m| table(m, target, &layer.metrics))
        .collect();
    // Metric SQL per metric index, when it is one aggregate over one table.
    let mut table_sql: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    let mut model_metrics = Vec::new();
    for (id, metric) in layer.metrics.iter().enumerate() {
        match metric_sql(layer, id, &table_sql) {
            Ok(Placed::Table(model, expr)) => {
                table_sql.insert(id, (model, expr.clone()));
                tables[model].metrics.push(metric_def(metric, expr));
            }
            Ok(Placed::Model(expr)) => model_metrics.push(metric_def(metric, expr)),
            Err(why) => notes.push(format!("metric {} is not exported: {why}", metric.name)),
        }
    }
    let relationships = relationships(layer);
    notes.push(
        "the access policy is not exported: use Snowflake grants and row access policies".into(),
    );
    SnowflakeModel {
        model: Model {
            name: target.name.clone(),
            description: "Exported from Cortex metrics.yaml; every metric keeps its filters."
                .into(),
            tables,
            relationships,
            metrics: model_metrics,
        },
        notes,
    }
}

fn metric_def(m: &Metric, expr: String) -> MetricDef {
    MetricDef {
        name: m.name.clone(),
        synonyms: m.synonyms.clone(),
        description: m.description.clone(),
        expr,
    }
}

fn data_type(t: DataType) -> &'static str {
    match t {
        DataType::String => "VARCHAR",
        DataType::Number => "NUMBER",
        DataType::Boolean => "BOOLEAN",
    }
}

/// A name not yet used in the table (a fact named like a metric gets `_value`).
fn free_name(taken: &BTreeSet<String>, name: &str) -> String {
    if taken.contains(name) {
        format!("{name}_value")
    } else {
        name.to_string()
    }
}

fn table(m: &SemanticModel, target: &Target, metrics: &[Metric]) -> Table {
    let mut taken: BTreeSet<String> = m.dimensions.iter().map(|d| d.name.clone()).collect();
    taken.extend(metrics.iter().map(|x| x.name.clone()));
    let mut dimensions = Vec::new();
    let mut primary_key = None;
    for e in &m.entities {
        // The key column under the entity's name, unless a dimension already reads it.
        let existing = m
            .dimensions
            .iter()
            .find(|d| d.expr == e.expr && !d.is_time());
        let name = match existing {
            Some(d) => d.name.clone(),
            None => {
                let name = free_name(&taken, &e.name);
                taken.insert(name.clone());
                dimensions.push(Column {
                    name: name.clone(),
                    synonyms: Vec::new(),
                    description: format!("The {} key.", e.name),
                    expr: e.expr.clone(),
                    data_type: "VARCHAR".into(),
                    unique: e.kind == EntityKind::Primary,
                    sample_values: Vec::new(),
                });
                name
            }
        };
        if e.kind == EntityKind::Primary {
            primary_key = Some(PrimaryKey {
                columns: vec![name],
            });
        }
    }
    let mut time_dimensions = Vec::new();
    for d in &m.dimensions {
        let col = Column {
            name: d.name.clone(),
            synonyms: d.synonyms.clone(),
            description: d.description.clone(),
            expr: d.expr.clone(),
            data_type: if d.is_time() {
                if d.granularity < TimeUnit::Day {
                    "TIMESTAMP".into()
                } else {
                    "DATE".into()
                }
            } else {
                data_type(d.data_type).into()
            },
            unique: false,
            sample_values: d.sample_values.clone(),
        };
        if d.is_time() {
            time_dimensions.push(col);
        } else {
            dimensions.push(col);
        }
    }
    let facts = m
        .measures
        .iter()
        .filter_map(|ms| {
            let expr = ms.expr.clone()?;
            let name = free_name(&taken, &ms.name);
            taken.insert(name.clone());
            Some(Fact {
                name,
                description: String::new(),
                expr,
                data_type: "NUMBER".into(),
                default_aggregation: match ms.agg {
                    Agg::Sum => "sum",
                    Agg::Count => "count",
                    Agg::CountDistinct => "count_distinct",
                    Agg::Avg => "avg",
                    Agg::Min => "min",
                    Agg::Max => "max",
                    Agg::Median => "median",
                    Agg::Percentile => "avg",
                }
                .into(),
            })
        })
        .collect();
    let filters = m
        .filter
        .iter()
        .map(|f| NamedFilter {
            name: format!("{}_rows", m.name),
            description: "The rows every metric of this table counts (already inside each metric)."
                .into(),
            expr: f.clone(),
        })
        .collect();
    Table {
        name: m.name.clone(),
        description: m.description.clone(),
        base_table: BaseTable {
            database: target.database.clone(),
            schema: target.schema.clone(),
            table: m.table.clone(),
        },
        primary_key,
        dimensions,
        time_dimensions,
        facts,
        metrics: Vec::new(),
        filters,
    }
}

/// Foreign entity -> the model whose primary entity it names: many rows to one.
fn relationships(layer: &SemanticLayer) -> Vec<Relationship> {
    let key_column = |m: &SemanticModel, expr: &str, entity: &str| -> String {
        m.dimensions
            .iter()
            .find(|d| d.expr == expr && !d.is_time())
            .map(|d| d.name.clone())
            .unwrap_or_else(|| {
                let taken: BTreeSet<String> = m.dimensions.iter().map(|d| d.name.clone()).collect();
                let mut all = taken;
                all.extend(layer.metrics.iter().map(|x| x.name.clone()));
                free_name(&all, entity)
            })
    };
    let mut out = Vec::new();
    for left in &layer.models {
        for e in left
            .entities
            .iter()
            .filter(|e| e.kind == EntityKind::Foreign)
        {
            for right in &layer.models {
                let Some(p) = right
                    .entities
                    .iter()
                    .find(|p| p.kind == EntityKind::Primary && p.name == e.name)
                else {
                    continue;
                };
                out.push(Relationship {
                    name: format!("{}_to_{}", left.name, right.name),
                    left_table: left.name.clone(),
                    right_table: right.name.clone(),
                    relationship_columns: vec![RelationshipColumn {
                        left_column: key_column(left, &e.expr, &e.name),
                        right_column: key_column(right, &p.expr, &p.name),
                    }],
                    join_type: "left_outer".into(),
                    relationship_type: "many_to_one".into(),
                });
            }
        }
    }
    out
}

enum Placed {
    /// One aggregate over the table at this model index.
    Table(usize, String),
    /// Over several tables' metrics.
    Model(String),
}

fn literal(d: DataType, time: bool, v: &Literal) -> String {
    match v {
        Literal::Str(s) if time => format!("DATE '{s}'"),
        Literal::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::Num(n) if d == DataType::String => format!("'{n}'"),
        Literal::Num(n) => format!("{n:?}"),
        Literal::Bool(b) if d == DataType::String => format!("'{b}'"),
        Literal::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
    }
}

/// A condition on one of `m`'s own dimensions as SQL over its columns.
fn condition(m: &SemanticModel, c: &Condition) -> Result<String, String> {
    let own = m
        .primary_entity
        .as_deref()
        .or_else(|| {
            m.entities
                .iter()
                .find(|e| e.kind == EntityKind::Primary)
                .map(|e| e.name.as_str())
        })
        .and_then(|e| c.dimension.strip_prefix(&format!("{e}__")))
        .unwrap_or(&c.dimension);
    let d = m
        .dimensions
        .iter()
        .find(|d| d.name == own)
        .ok_or_else(|| format!("its filter on {} reads another table", c.dimension))?;
    let col = format!("({})", d.expr);
    let vals: Vec<String> = c
        .values
        .iter()
        .map(|v| literal(d.data_type, d.is_time(), v))
        .collect();
    Ok(c.op.sql(&col, &vals))
}

/// A measure with its metric filter and the model's row filter, as one aggregate.
fn aggregate(layer: &SemanticLayer, i: &MeasureInput) -> Result<String, String> {
    let m = &layer.models[i.model];
    let ms = &m.measures[i.measure];
    if ms.non_additive.is_some() {
        return Err("a balance at period end (semi-additive) needs a window".into());
    }
    if i.window.is_some() || i.join_to_time_spine {
        return Err("windows and the time spine have no Cortex Analyst form".into());
    }
    let mut conds: Vec<String> = m.filter.iter().map(|f| format!("({f})")).collect();
    for c in &i.filter {
        conds.push(condition(m, c)?);
    }
    let value = ms.expr.clone().unwrap_or_else(|| "1".into());
    let v = if conds.is_empty() {
        value
    } else {
        format!("CASE WHEN {} THEN {value} END", conds.join(" AND "))
    };
    let counts_rows = ms.expr.is_none() && conds.is_empty();
    let p = ms.percentile.unwrap_or(0.5);
    let sql = match ms.agg {
        Agg::Sum => format!("SUM({v})"),
        Agg::Count if counts_rows => "COUNT(*)".into(),
        Agg::Count => format!("COUNT({v})"),
        Agg::CountDistinct => format!("COUNT(DISTINCT {v})"),
        Agg::Avg => format!("AVG({v})"),
        Agg::Min => format!("MIN({v})"),
        Agg::Max => format!("MAX({v})"),
        Agg::Median => format!("MEDIAN({v})"),
        Agg::Percentile if ms.approximate => format!("APPROX_PERCENTILE({v}, {p:?})"),
        Agg::Percentile if ms.discrete => {
            format!("PERCENTILE_DISC({p:?}) WITHIN GROUP (ORDER BY {v})")
        }
        Agg::Percentile => format!("PERCENTILE_CONT({p:?}) WITHIN GROUP (ORDER BY {v})"),
    };
    Ok(match i.fill_nulls_with {
        Some(f) => format!("COALESCE({sql}, {f})"),
        None => sql,
    })
}

fn metric_sql(
    layer: &SemanticLayer,
    id: usize,
    done: &BTreeMap<usize, (usize, String)>,
) -> Result<Placed, String> {
    let metric = &layer.metrics[id];
    match &metric.kind {
        MetricKind::Simple(i) => Ok(Placed::Table(i.model, aggregate(layer, i)?)),
        MetricKind::Cumulative(_) => {
            Err("a running total has no Cortex Analyst form (ask for the sum per period)".into())
        }
        MetricKind::Conversion(_) => Err("conversion metrics have no Cortex Analyst form".into()),
        MetricKind::Ratio {
            numerator,
            denominator,
        } => {
            let n = aggregate(layer, numerator)?;
            let d = aggregate(layer, denominator)?;
            let expr = format!("CAST({n} AS DOUBLE) / NULLIF(CAST({d} AS DOUBLE), 0)");
            if numerator.model == denominator.model {
                Ok(Placed::Table(numerator.model, expr))
            } else {
                Err("its numerator and denominator are on different tables".into())
            }
        }
        MetricKind::Derived { expr, inputs, .. } => {
            if !inputs.is_empty() {
                return Err(
                    "derived inputs with aliases or offsets have no Cortex Analyst form".into(),
                );
            }
            let mut models = BTreeSet::new();
            let mut inline = String::new();
            let mut by_ref = String::new();
            for t in expr {
                match t {
                    ExprToken::Metric(name) => {
                        let dep = layer
                            .metric_index(name)
                            .ok_or_else(|| format!("unknown metric {name}"))?;
                        let (model, sql) = done.get(&dep).ok_or_else(|| {
                            format!("its input {name} is not a single-table metric")
                        })?;
                        models.insert(*model);
                        inline.push_str(&format!("CAST({sql} AS DOUBLE)"));
                        by_ref.push_str(&format!("{}.{name}", layer.models[*model].name));
                    }
                    ExprToken::Number(n) | ExprToken::Func(n) => {
                        inline.push_str(n);
                        by_ref.push_str(n);
                    }
                    ExprToken::Op(c) => {
                        inline.push_str(&format!(" {c} "));
                        by_ref.push_str(&format!(" {c} "));
                    }
                }
            }
            match models.iter().next() {
                Some(m) if models.len() == 1 => Ok(Placed::Table(*m, format!("({inline})"))),
                _ => Ok(Placed::Model(format!("({by_ref})"))),
            }
        }
    }
}
