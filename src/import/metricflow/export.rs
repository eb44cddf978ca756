//! `cortex export metricflow DIR`: metrics.yaml as a MetricFlow project
//! (`semantic_models/<name>.yaml`, `metrics.yaml`) plus `cortex-extras.json`.
//!
//! Every model and metric carries its Cortex definition in `config: {meta: {cortex: ...}}`,
//! so `cortex import metricflow` gives the same metrics.yaml back; the MetricFlow fields
//! beside it are the translation MetricFlow runs. Where MetricFlow needs a construct
//! metrics.yaml states inline (a ratio side given as `{measure, filter}`, a metric on a
//! non-default time dimension) a helper metric or measure is generated, marked
//! `generated` in its meta. What MetricFlow cannot run faithfully is listed in
//! [`Exported::notes`].

use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::{Extras, ImportError, MetricsFile, EXTRAS};
use crate::semantic::model::{tokenize_formula, ExprToken};
use crate::semantic::query::{Condition, Literal};
use crate::semantic::raw::{
    Agg, DimensionKind, EntityKind, MetricKindName, RawMetric, RawRatioInput, RawSemanticModel,
};
use crate::semantic::SemanticLayer;

/// What an export wrote, and what MetricFlow will not run as Cortex does.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    pub files: Vec<PathBuf>,
    pub notes: Vec<String>,
}

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        if !matches!(v, Value::Null) {
            m.insert(s(k), v);
        }
    }
    Value::Mapping(m)
}

fn opt(x: &Option<String>) -> Value {
    x.as_deref().map_or(Value::Null, s)
}

fn meta(key: &str, v: Value) -> Value {
    map(vec![("meta", map(vec![("cortex", map(vec![(key, v)]))]))])
}

fn to_value<T: serde::Serialize>(x: &T) -> Result<Value, ImportError> {
    serde_norway::to_value(x).map_err(|e| ImportError::Invalid(e.to_string()))
}

/// Exports the metrics.yaml at `metrics` into `out` (created if missing).
pub fn export(metrics: &Path, out: &Path) -> Result<Exported, ImportError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| ImportError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let text = read(metrics)?;
    let layer = SemanticLayer::from_source(metrics, &text)
        .map_err(|d| ImportError::Invalid(d.to_string()))?;
    let file: MetricsFile = serde_norway::from_str(&text).map_err(|e| ImportError::Yaml {
        path: metrics.to_path_buf(),
        line: e.location().map_or(1, |l| l.line()),
        message: e.to_string(),
    })?;
    let mut ex = Exported::default();
    let mut extra_measures: Vec<Vec<Value>> = vec![Vec::new(); file.semantic_models.len()];
    let mut metric_docs: Vec<Value> = Vec::new();
    let jinja = Jinja {
        layer: &layer,
        file: &file,
    };

    for m in &file.metrics {
        metric_docs.extend(export_metric(
            m,
            &file,
            &jinja,
            &mut extra_measures,
            &mut ex,
        )?);
    }

    let mkdir = |p: &Path| {
        std::fs::create_dir_all(p).map_err(|source| ImportError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let write = |p: PathBuf, body: String, ex: &mut Exported| {
        std::fs::write(&p, body).map_err(|source| ImportError::Read {
            path: p.clone(),
            source,
        })?;
        ex.files.push(p);
        Ok::<(), ImportError>(())
    };
    let models_dir = out.join("semantic_models");
    mkdir(&models_dir)?;
    for (i, m) in file.semantic_models.iter().enumerate() {
        if m.filter.is_some() {
            ex.notes.push(format!(
                "semantic model {}: its row filter has no MetricFlow equivalent (kept in meta; MetricFlow reads the whole table)",
                m.name
            ));
        }
        if !m.joins.is_empty() {
            ex.notes.push(format!(
                "semantic model {}: declared join paths have no MetricFlow equivalent (kept in meta)",
                m.name
            ));
        }
        let doc = map(vec![(
            "semantic_model",
            export_model(m, std::mem::take(&mut extra_measures[i]))?,
        )]);
        let body =
            serde_norway::to_string(&doc).map_err(|e| ImportError::Invalid(e.to_string()))?;
        // Numbered so that the import reads them back in the same order.
        write(
            models_dir.join(format!("{:02}_{}.yaml", i + 1, m.name)),
            body,
            &mut ex,
        )?;
    }
    let mut body = String::new();
    for d in &metric_docs {
        body.push_str("---\n");
        body.push_str(
            &serde_norway::to_string(&map(vec![("metric", d.clone())]))
                .map_err(|e| ImportError::Invalid(e.to_string()))?,
        );
    }
    write(out.join("metrics.yaml"), body, &mut ex)?;
    let grains_cfg = super::grains::project_configuration(&file.custom_grains);
    if grains_cfg.is_none() {
        if let Some(t) = &file.time_spine {
            let (schema, table) = match t.table.split_once('.') {
                Some((sc, tb)) => (s(sc), tb),
                None => (Value::Null, t.table.as_str()),
            };
            let spine = |table: &str, schema: Value, column: &str, grain: &str| {
                map(vec![
                    (
                        "node_relation",
                        map(vec![("alias", s(table)), ("schema_name", schema)]),
                    ),
                    (
                        "primary_column",
                        map(vec![("name", s(column)), ("time_granularity", s(grain))]),
                    ),
                ])
            };
            let mut spines = vec![spine(table, schema, &t.column, "day")];
            for f in &t.sub_daily {
                let (schema, table) = match f.table.split_once('.') {
                    Some((sc, tb)) => (s(sc), tb),
                    None => (Value::Null, f.table.as_str()),
                };
                spines.push(spine(table, schema, &f.column, f.grain.as_str()));
            }
            let doc = map(vec![(
                "project_configuration",
                map(vec![("time_spines", Value::Sequence(spines))]),
            )]);
            let body =
                serde_norway::to_string(&doc).map_err(|e| ImportError::Invalid(e.to_string()))?;
            write(out.join("project_configuration.yaml"), body, &mut ex)?;
        }
    }
    if let Some(cfg) = grains_cfg {
        let body =
            serde_norway::to_string(&cfg).map_err(|e| ImportError::Invalid(e.to_string()))?;
        write(out.join("project_configuration.yaml"), body, &mut ex)?;
    }
    let extras = Extras {
        filters: file.filters.clone(),
        ignore: file.ignore.clone(),
        no_time_spine: file.time_spine.is_none() && !file.custom_grains.is_empty(),
        listing_join: file.listing_join,
    };
    let json =
        serde_json::to_string_pretty(&extras).map_err(|e| ImportError::Invalid(e.to_string()))?;
    write(out.join(EXTRAS), json + "\n", &mut ex)?;
    Ok(ex)
}

fn export_model(m: &RawSemanticModel, extra: Vec<Value>) -> Result<Value, ImportError> {
    let entities: Vec<Value> = m
        .entities
        .iter()
        .map(|e| {
            map(vec![
                ("name", s(&e.name)),
                (
                    "type",
                    s(match e.kind {
                        EntityKind::Primary => "primary",
                        EntityKind::Foreign => "foreign",
                    }),
                ),
                ("expr", opt(&e.expr)),
            ])
        })
        .collect();
    let dimensions: Vec<Value> = m
        .dimensions
        .iter()
        .map(|d| {
            let time = d.kind == DimensionKind::Time;
            map(vec![
                ("name", s(&d.name)),
                ("type", s(if time { "time" } else { "categorical" })),
                ("expr", opt(&d.expr)),
                ("label", opt(&d.label)),
                ("description", opt(&d.description)),
                (
                    "is_partition",
                    if d.partition {
                        Value::Bool(true)
                    } else {
                        Value::Null
                    },
                ),
                (
                    "type_params",
                    if time {
                        map(vec![(
                            "time_granularity",
                            s(d.granularity.map_or("day", |u| u.as_str())),
                        )])
                    } else {
                        Value::Null
                    },
                ),
            ])
        })
        .collect();
    let mut measures: Vec<Value> = m
        .measures
        .iter()
        .map(|x| {
            let (agg, expr) = match (x.agg, &x.expr) {
                (Agg::Count, None) => ("count", Some("1".to_string())),
                (a, e) => (agg_name(a), e.clone()),
            };
            map(vec![
                ("name", s(&x.name)),
                ("agg", s(agg)),
                ("expr", opt(&expr)),
                ("description", opt(&x.description)),
                ("agg_params", agg_params(x)),
                ("non_additive_dimension", non_additive(x)),
            ])
        })
        .collect();
    measures.extend(extra);
    Ok(map(vec![
        ("name", s(&m.name)),
        ("description", opt(&m.description)),
        (
            "node_relation",
            map(vec![("schema_name", s("main")), ("alias", s(&m.table))]),
        ),
        (
            "defaults",
            m.default_time_dimension
                .as_ref()
                .map_or(Value::Null, |t| map(vec![("agg_time_dimension", s(t))])),
        ),
        ("primary_entity", opt(&m.primary_entity)),
        ("entities", Value::Sequence(entities)),
        ("dimensions", Value::Sequence(dimensions)),
        ("measures", Value::Sequence(measures)),
        ("config", meta("model", to_value(m)?)),
    ]))
}

fn agg_name(a: Agg) -> &'static str {
    match a {
        Agg::Sum => "sum",
        Agg::Count => "count",
        Agg::CountDistinct => "count_distinct",
        Agg::Avg => "average",
        Agg::Min => "min",
        Agg::Max => "max",
        Agg::Median => "median",
        Agg::Percentile => "percentile",
    }
}

/// The MetricFlow documents of one metric: the metric, and any helper metrics it needs.
fn export_metric(
    m: &RawMetric,
    file: &MetricsFile,
    jinja: &Jinja,
    extra_measures: &mut [Vec<Value>],
    ex: &mut Exported,
) -> Result<Vec<Value>, ImportError> {
    let mut docs = Vec::new();
    let kind = match m.kind {
        MetricKindName::Simple => "simple",
        MetricKindName::Cumulative => "cumulative",
        MetricKindName::Ratio => "ratio",
        MetricKindName::Derived => "derived",
        MetricKindName::Conversion => "conversion",
    };
    // A measure on this metric's time dimension (a generated one when it is not the
    // model's default).
    let mut measure_ref = |measure: &str, fill: Option<f64>, ex: &mut Exported| -> Value {
        let name = match (&m.time_dimension, model_of(file, measure)) {
            (Some(td), Some(mi))
                if file.semantic_models[mi].default_time_dimension.as_ref() != Some(td) =>
            {
                let gen = format!("{measure}_by_{td}");
                let base = file.semantic_models[mi]
                    .measures
                    .iter()
                    .find(|x| x.name == measure);
                if let Some(b) = base {
                    if !extra_measures[mi]
                        .iter()
                        .any(|v| super::get_str(v, "name").as_deref() == Some(gen.as_str()))
                    {
                        let (agg, expr) = match (b.agg, &b.expr) {
                            (Agg::Count, None) => ("count", Some("1".to_string())),
                            (a, e) => (agg_name(a), e.clone()),
                        };
                        extra_measures[mi].push(map(vec![
                            ("name", s(&gen)),
                            ("agg", s(agg)),
                            ("expr", opt(&expr)),
                            ("agg_time_dimension", s(td)),
                            ("agg_params", agg_params(b)),
                            ("non_additive_dimension", non_additive(b)),
                            ("config", meta("generated", Value::Bool(true))),
                        ]));
                    }
                } else {
                    ex.notes
                        .push(format!("metric {}: unknown measure {measure}", m.name));
                }
                gen
            }
            _ => measure.to_string(),
        };
        map(vec![
            ("name", s(&name)),
            (
                "fill_nulls_with",
                fill.map_or(Value::Null, |f| Value::Number(f.into())),
            ),
        ])
    };
    let filter_of = |texts: &[String], measure: &str, ex: &mut Exported| -> Value {
        let mut out = Vec::new();
        for t in texts {
            match jinja.filter(t, measure) {
                Ok(fs) => out.extend(fs.into_iter().map(Value::String)),
                Err(e) => ex
                    .notes
                    .push(format!("metric {}: filter {t:?}: {e}", m.name)),
            }
        }
        if out.is_empty() {
            Value::Null
        } else {
            Value::Sequence(out)
        }
    };
    let type_params = match m.kind {
        MetricKindName::Simple | MetricKindName::Cumulative => {
            let measure = m.measure.clone().unwrap_or_default();
            let mut mref = measure_ref(&measure, m.fill_nulls_with, ex);
            if let (true, Value::Mapping(mm)) = (m.join_to_time_spine, &mut mref) {
                mm.insert(s("join_to_timespine"), Value::Bool(true));
            }
            let mut pairs = vec![("measure", mref)];
            if m.kind == MetricKindName::Cumulative {
                let agg = s(m.period_agg.unwrap_or_default().as_str());
                let params = match (&m.window, m.grain_to_date) {
                    (Some(w), _) => map(vec![("window", s(w)), ("period_agg", agg)]),
                    (None, Some(g)) => {
                        map(vec![("grain_to_date", s(g.as_str())), ("period_agg", agg)])
                    }
                    (None, None) => map(vec![("period_agg", agg)]),
                };
                pairs.push(("cumulative_type_params", params));
            }
            map(pairs)
        }
        MetricKindName::Ratio => {
            let mut pairs = Vec::new();
            for (side, input) in [("numerator", &m.numerator), ("denominator", &m.denominator)] {
                let v = match input {
                    Some(RawRatioInput::Metric(name)) => s(name),
                    Some(RawRatioInput::Measure(mi)) => {
                        let gen = format!("{}_{side}", m.name);
                        let mut texts = m.filter.clone();
                        texts.extend(mi.filter.iter().cloned());
                        let mref = measure_ref(&mi.measure, mi.fill_nulls_with, ex);
                        docs.push(map(vec![
                            ("name", s(&gen)),
                            ("description", s(&format!("{side} of {}", m.name))),
                            ("type", s("simple")),
                            ("type_params", map(vec![("measure", mref)])),
                            ("filter", filter_of(&texts, &mi.measure, ex)),
                            ("config", meta("generated", Value::Bool(true))),
                        ]));
                        s(&gen)
                    }
                    None => Value::Null,
                };
                pairs.push((side, v));
            }
            map(pairs)
        }
        MetricKindName::Derived => {
            let expr = m.expr.clone().unwrap_or_default();
            let mut inputs: Vec<Value> = Vec::new();
            for t in tokenize_formula(&expr).unwrap_or_default() {
                if let ExprToken::Metric(n) = t {
                    let v = match m
                        .inputs
                        .iter()
                        .find(|i| i.alias.as_ref().unwrap_or(&i.metric) == &n)
                    {
                        Some(i) => {
                            // The input metric's measure places its filter's names.
                            let measure = file
                                .metrics
                                .iter()
                                .find(|x| x.name == i.metric)
                                .and_then(|x| x.measure.clone())
                                .unwrap_or_default();
                            map(vec![
                                ("name", s(&i.metric)),
                                ("alias", opt(&i.alias)),
                                ("offset_window", opt(&i.offset_window)),
                                (
                                    "offset_to_grain",
                                    i.offset_to_grain.map_or(Value::Null, |g| s(g.as_str())),
                                ),
                                ("filter", filter_of(&i.filter, &measure, ex)),
                            ])
                        }
                        None => map(vec![("name", s(&n))]),
                    };
                    if !inputs.contains(&v) {
                        inputs.push(v);
                    }
                }
            }
            map(vec![
                ("expr", s(&expr)),
                ("metrics", Value::Sequence(inputs)),
            ])
        }
        MetricKindName::Conversion => match &m.conversion {
            Some(c) => conversion_params(c),
            None => Value::Null,
        },
    };
    let own_filter = match m.kind {
        MetricKindName::Simple | MetricKindName::Cumulative => {
            filter_of(&m.filter, m.measure.as_deref().unwrap_or(""), ex)
        }
        _ => Value::Null,
    };
    docs.push(map(vec![
        ("name", s(&m.name)),
        ("description", s(&m.description)),
        ("label", opt(&m.label)),
        ("type", s(kind)),
        ("type_params", type_params),
        (
            "time_granularity",
            m.default_grain.map_or(Value::Null, |u| s(u.as_str())),
        ),
        ("filter", own_filter),
        ("config", meta("metric", to_value(m)?)),
    ]));
    Ok(docs)
}

fn model_of(file: &MetricsFile, measure: &str) -> Option<usize> {
    file.semantic_models
        .iter()
        .position(|m| m.measures.iter().any(|x| x.name == measure))
}

/// Writes metrics.yaml conditions as MetricFlow where filters with entity-qualified names.
struct Jinja<'a> {
    layer: &'a SemanticLayer,
    file: &'a MetricsFile,
}

impl Jinja<'_> {
    fn filter(&self, text: &str, measure: &str) -> Result<Vec<String>, String> {
        let model = self
            .layer
            .models
            .iter()
            .position(|m| m.measures.iter().any(|x| x.name == measure))
            .ok_or_else(|| format!("unknown measure {measure}"))?;
        let conds: Vec<Condition> = match self.file.filters.iter().find(|f| f.name == text.trim()) {
            Some(named) => named
                .conditions
                .iter()
                .map(|c| Condition::parse(c))
                .collect::<Result<_, _>>()?,
            None => vec![Condition::parse(text)?],
        };
        conds.iter().map(|c| self.condition(model, c)).collect()
    }

    fn condition(&self, model: usize, c: &Condition) -> Result<String, String> {
        let resolved = self.layer.resolve_dimension(model, &c.dimension);
        let metric = crate::semantic::compile::metric_filter::metric_ref(self.layer, &c.dimension);
        let (m, d, path) = match (resolved, metric) {
            (Some(r), _) => r,
            // `listing__bookings > 2`: the metric per entity.
            (None, Some((path, id))) => {
                let col = format!(
                    "{{{{ Metric('{}', group_by=['{}']) }}}}",
                    self.layer.metrics[id].name,
                    path.join("__")
                );
                return Ok(compare(&col, c));
            }
            (None, None) => return Err(format!("unknown dimension {}", c.dimension)),
        };
        let dim = &self.layer.models[m].dimensions[d];
        let prefix: Vec<String> = match path {
            Some(p) => p.steps.iter().map(|s| s.entity.clone()).collect(),
            None => {
                let own = &self.layer.models[model];
                own.entities
                    .iter()
                    .find(|e| e.kind == EntityKind::Primary)
                    .map(|e| e.name.clone())
                    .or_else(|| own.primary_entity.clone())
                    .into_iter()
                    .collect()
            }
        };
        let mut name = prefix;
        name.push(dim.name.clone());
        let name = name.join("__");
        let col = if dim.is_time() {
            format!("{{{{ TimeDimension('{name}', 'day') }}}}")
        } else {
            format!("{{{{ Dimension('{name}') }}}}")
        };
        Ok(compare(&col, c))
    }
}

/// A condition's comparison with `col` (a Jinja template) in MetricFlow's SQL.
fn compare(col: &str, c: &Condition) -> String {
    let lit = |v: &Literal| match v {
        Literal::Str(x) => format!("'{}'", x.replace('\'', "''")),
        Literal::Num(n) => format!("{n}"),
        Literal::Bool(b) => format!("{b}"),
    };
    let vals: Vec<String> = c.values.iter().map(lit).collect();
    c.op.sql(col, &vals)
}

/// A measure's `agg_params` (percentile and its flavour), or nothing.
fn agg_params(m: &crate::semantic::raw::RawMeasure) -> Value {
    let Some(p) = m.percentile else {
        return Value::Null;
    };
    let mut params = vec![("percentile", Value::Number(p.into()))];
    if m.discrete {
        params.push(("use_discrete_percentile", Value::Bool(true)));
    }
    if m.approximate {
        params.push(("use_approximate_percentile", Value::Bool(true)));
    }
    map(params)
}

/// A semi-additive measure's `non_additive_dimension`, or nothing.
fn non_additive(m: &crate::semantic::raw::RawMeasure) -> Value {
    let Some(n) = &m.non_additive_dimension else {
        return Value::Null;
    };
    let choice = match n.window_choice {
        crate::semantic::raw::WindowChoice::Min => "min",
        crate::semantic::raw::WindowChoice::Max => "max",
    };
    let mut out = vec![("name", s(&n.name)), ("window_choice", s(choice))];
    if !n.window_groupings.is_empty() {
        out.push((
            "window_groupings",
            Value::Sequence(n.window_groupings.iter().map(|g| s(g)).collect()),
        ));
    }
    map(out)
}

/// A conversion metric's `conversion_type_params`.
fn conversion_params(c: &crate::semantic::raw::RawConversion) -> Value {
    let mut p = vec![
        ("base_measure", s(&c.base_measure)),
        ("conversion_measure", s(&c.conversion_measure)),
        ("entity", s(&c.entity)),
    ];
    if let Some(w) = &c.window {
        p.push(("window", s(w)));
    }
    p.push((
        "calculation",
        s(c.calculation.as_deref().unwrap_or("conversion_rate")),
    ));
    if !c.constant_properties.is_empty() {
        p.push((
            "constant_properties",
            Value::Sequence(
                c.constant_properties
                    .iter()
                    .map(|x| {
                        map(vec![
                            ("base_property", s(&x.base_property)),
                            ("conversion_property", s(&x.conversion_property)),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    map(vec![("conversion_type_params", map(p))])
}
