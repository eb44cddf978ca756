//! What a skill shows: `outputs.sections` in skill.yaml, validated at load and built into
//! the answer model's typed [`Section`]s after the steps have run. Templates and expressions
//! read the skill's data (the template boundary); what comes out is typed.
//!
//! ```yaml
//! outputs:
//!   title: "{{merchant.name}}"
//!   sections:
//!     - kpis:
//!         - {label: ARR, value: steps.arr.total, unit: usd, detail: "{{steps.arr.count}} products"}
//!     - facts: {title: Profile, items: [{label: CSM, value: "{{merchant.csm_owner}}"}]}
//!     - table: {step: arr_by_product, title: ARR by product}
//!     - table:                      # built from expressions, one column per measure
//!         title: Support against the vertical
//!         columns: [{label: ""}, {label: First response, unit: minutes}]
//!         rows: [["{{merchant.name}}", "steps.support.rows[0].first_response_time"]]
//!     - chart: {step: arr_trend, title: ARR this year}
//!     - findings: {title: Findings}
//!     - risks: {title: Risks}
//!     - recommendations: {title: What you can do, empty: Nothing stands out.}
//!     - okr: {...}                  # see `OkrSpec`
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value as Json;

use super::expr::Expr;
use crate::answer::build;
use crate::answer::model::{
    Fact, Kpi, MetricInfo, NoteKind, OkrProgress, Role, Section, SegmentProgress, Table,
    TableColumn, Unit, Value,
};
use crate::diagnostics::Reporter;

/// One section as written in skill.yaml: a map with one key naming the kind
/// (`- kpis: [...]`, `- table: {...}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "BTreeMap<String, serde_norway::Value>")]
pub enum SectionSpec {
    Kpis(Vec<KpiSpec>),
    Facts(FactsSpec),
    Table(TableSpec),
    Chart(ChartSpec),
    Okr(Box<OkrSpec>),
    Findings(NotesSpec),
    Recommendations(NotesSpec),
    Risks(NotesSpec),
}

impl TryFrom<BTreeMap<String, serde_norway::Value>> for SectionSpec {
    type Error = String;

    fn try_from(m: BTreeMap<String, serde_norway::Value>) -> Result<Self, String> {
        let mut it = m.into_iter();
        let (Some((kind, body)), None) = (it.next(), it.next()) else {
            return Err("a section is one of kpis, facts, table, chart, okr, findings, recommendations, risks, with its settings under it".into());
        };
        let body = if body.is_null() {
            serde_norway::Value::Mapping(Default::default())
        } else {
            body
        };
        let e = |e: serde_norway::Error| format!("{kind}: {e}");
        Ok(match kind.as_str() {
            "kpis" => SectionSpec::Kpis(serde_norway::from_value(body).map_err(e)?),
            "facts" => SectionSpec::Facts(serde_norway::from_value(body).map_err(e)?),
            "table" => SectionSpec::Table(serde_norway::from_value(body).map_err(e)?),
            "chart" => SectionSpec::Chart(serde_norway::from_value(body).map_err(e)?),
            "okr" => SectionSpec::Okr(serde_norway::from_value(body).map_err(e)?),
            "findings" => SectionSpec::Findings(serde_norway::from_value(body).map_err(e)?),
            "recommendations" => {
                SectionSpec::Recommendations(serde_norway::from_value(body).map_err(e)?)
            }
            "risks" => SectionSpec::Risks(serde_norway::from_value(body).map_err(e)?),
            other => {
                return Err(format!(
                    "unknown section {other:?}{}",
                    crate::fuzzy::did_you_mean(
                        other,
                        [
                            "kpis",
                            "facts",
                            "table",
                            "chart",
                            "okr",
                            "findings",
                            "recommendations",
                            "risks"
                        ]
                        .into_iter()
                    )
                ))
            }
        })
    }
}

/// A KPI tile: `value` is an expression, `label`, `unit` and `detail` templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiSpec {
    pub label: String,
    pub value: String,
    /// A unit name (usd, count, ratio, minutes, ...) or a template giving one.
    pub unit: String,
    #[serde(default)]
    pub detail: Option<String>,
    /// A name a skill's HTML template can read the value by.
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactsSpec {
    pub title: String,
    pub items: Vec<FactSpec>,
}

/// A labelled fact; both are templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactSpec {
    pub label: String,
    pub value: String,
}

/// A table from a step's rows (`step`), or built from expressions (`columns` and `rows`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// For a step: labels and units by column name (`peer_share: {label: Share of peers,
    /// unit: ratio}`), `hide: true` to leave a column out. For a built table: the columns
    /// in order.
    #[serde(default)]
    pub columns: Option<ColumnsSpec>,
    /// For a built table: rows of cells; a cell of a column with a unit is an expression,
    /// any other cell a template.
    #[serde(default)]
    pub rows: Vec<Vec<String>>,
    /// Said instead of an empty table.
    #[serde(default)]
    pub empty: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ColumnsSpec {
    ByName(BTreeMap<String, ColumnSpec>),
    List(Vec<ColumnSpec>),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub hide: bool,
}

/// A chart of a metric step's rows (trend or breakdown, chosen from the columns).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    pub step: String,
    #[serde(default)]
    pub title: Option<String>,
}

/// Sentences from the findings rules of one kind.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotesSpec {
    #[serde(default)]
    pub title: Option<String>,
    /// Said when no rule of this kind fired (a template); without it the section is left out.
    #[serde(default)]
    pub empty: Option<String>,
}

/// An OKR's progress block. Numbers are expressions; `title`, `metric_label`, `unit` and
/// `due` are templates; `trend` names a time-series step and `segments` a compare step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OkrSpec {
    pub title: String,
    pub metric_label: String,
    pub unit: String,
    pub target: String,
    pub current: String,
    #[serde(default)]
    pub projected: Option<String>,
    #[serde(default)]
    pub due: Option<String>,
    #[serde(default)]
    pub trend: Option<String>,
    #[serde(default)]
    pub segments: Option<String>,
}

/// What building sections needs from the run: templates, expressions and step tables.
pub trait Scope {
    fn render(&self, template: &str) -> Result<String, String>;
    fn eval(&self, expr: &str) -> Result<Json, String>;
    fn table(&self, step: &str) -> Option<&super::run::StepTable>;
    fn metrics(&self) -> &[MetricInfo];
    fn notes(&self, kind: NoteKind) -> Vec<String>;
}

fn unit_named(s: &str) -> Result<Unit, String> {
    serde_json::from_value(Json::String(s.trim().to_string())).map_err(|_| {
        format!(
            "{s:?} is not a unit ({})",
            crate::semantic::Unit::NAMES.join(", ")
        )
    })
}

fn number(v: Json) -> Option<f64> {
    v.as_f64()
}

/// Checks sections against the skill's steps at load: every step named exists and has rows,
/// every expression parses, every unit written out is a unit. Returns the paths used, for
/// the caller's name check.
pub fn validate(
    specs: &[SectionSpec],
    table_steps: &BTreeSet<String>,
    rep: &mut Reporter,
) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut expr = |e: &str, rep: &mut Reporter, at: &[&str]| match Expr::parse(e) {
        Ok(x) => paths.extend(x.paths()),
        Err(m) => rep.error(at, format!("{e:?}: {m}")),
    };
    let unit = |u: &str, rep: &mut Reporter, at: &[&str]| {
        if !u.contains("{{") {
            if let Err(m) = unit_named(u) {
                rep.error(at, m);
            }
        }
    };
    let step = |s: &str, rep: &mut Reporter, at: &[&str]| {
        if !table_steps.contains(s) {
            rep.error(
                at,
                format!(
                    "step {s:?} is not a metric or sql step of this skill{}",
                    crate::fuzzy::did_you_mean(s, table_steps.iter().map(String::as_str))
                ),
            );
        }
    };
    let at = ["outputs", "sections"];
    for s in specs {
        match s {
            SectionSpec::Kpis(tiles) => {
                for k in tiles {
                    expr(&k.value, rep, &at);
                    unit(&k.unit, rep, &at);
                }
            }
            SectionSpec::Facts(_) | SectionSpec::Findings(_) => {}
            SectionSpec::Recommendations(_) | SectionSpec::Risks(_) => {}
            SectionSpec::Table(t) => {
                match (&t.step, &t.columns) {
                    (Some(s), Some(ColumnsSpec::List(_))) => rep.error(
                        &at,
                        format!("the table of step {s:?} takes `columns` by name (column: {{label, unit}})"),
                    ),
                    (Some(s), _) => step(s, rep, &at),
                    (None, Some(ColumnsSpec::List(cols))) => {
                        for c in cols {
                            if let Some(u) = &c.unit {
                                unit(u, rep, &at);
                            }
                        }
                        for r in &t.rows {
                            if r.len() != cols.len() {
                                rep.error(
                                    &at,
                                    format!(
                                        "a row has {} cells for {} columns",
                                        r.len(),
                                        cols.len()
                                    ),
                                );
                            }
                            for (cell, c) in r.iter().zip(cols) {
                                if c.unit.is_some() {
                                    expr(cell, rep, &at);
                                }
                            }
                        }
                    }
                    (None, _) => rep.error(
                        &at,
                        "a table needs `step:` or a list of `columns:` with `rows:`",
                    ),
                }
                if let (Some(_), Some(ColumnsSpec::ByName(cols))) = (&t.step, &t.columns) {
                    for c in cols.values() {
                        if let Some(u) = &c.unit {
                            unit(u, rep, &at);
                        }
                    }
                }
            }
            SectionSpec::Chart(c) => step(&c.step, rep, &at),
            SectionSpec::Okr(o) => {
                for e in [&o.target, &o.current].into_iter().chain(&o.projected) {
                    expr(e, rep, &at);
                }
                unit(&o.unit, rep, &at);
                for s in o.trend.iter() {
                    step(s, rep, &at);
                }
            }
        }
    }
    paths
}

/// The default sections of a skill with none written: its notes, then its main table and
/// that table's chart.
pub fn defaults(table: Option<&str>) -> Vec<SectionSpec> {
    let mut out = vec![
        SectionSpec::Findings(NotesSpec::default()),
        SectionSpec::Risks(NotesSpec::default()),
        SectionSpec::Recommendations(NotesSpec::default()),
    ];
    if let Some(t) = table {
        out.push(SectionSpec::Chart(ChartSpec {
            step: t.to_string(),
            title: None,
        }));
        out.push(SectionSpec::Table(TableSpec {
            step: Some(t.to_string()),
            title: None,
            columns: None,
            rows: Vec::new(),
            empty: None,
        }));
    }
    out
}

/// Builds the typed sections. A failure names the section; nothing is silently empty.
pub fn build(specs: &[SectionSpec], scope: &dyn Scope) -> Result<Vec<Section>, String> {
    let mut out = Vec::new();
    for s in specs {
        if let Some(section) = build_one(s, scope)? {
            out.push(section);
        }
    }
    Ok(out)
}

fn opt_render(scope: &dyn Scope, t: &Option<String>) -> Result<Option<String>, String> {
    t.as_ref()
        .map(|t| scope.render(t).map(|s| s.trim().to_string()))
        .transpose()
        .map(|o| o.filter(|s| !s.is_empty()))
}

fn build_one(s: &SectionSpec, scope: &dyn Scope) -> Result<Option<Section>, String> {
    Ok(Some(match s {
        SectionSpec::Kpis(tiles) => {
            let mut out = Vec::new();
            for k in tiles {
                let label = scope.render(&k.label)?.trim().to_string();
                // A tile about something the question did not name ("{{merchant.name}}").
                if label.is_empty() {
                    continue;
                }
                out.push(Kpi {
                    id: k.id.clone(),
                    label,
                    value: number(scope.eval(&k.value)?),
                    unit: unit_named(&scope.render(&k.unit)?)?,
                    detail: opt_render(scope, &k.detail)?,
                });
            }
            Section::Kpis { tiles: out }
        }
        SectionSpec::Facts(f) => {
            let mut facts = Vec::new();
            for i in &f.items {
                let value = scope.render(&i.value)?.trim().to_string();
                if value.is_empty() {
                    continue;
                }
                facts.push(Fact {
                    label: scope.render(&i.label)?.trim().to_string(),
                    value,
                });
            }
            Section::Facts {
                title: scope.render(&f.title)?.trim().to_string(),
                facts,
            }
        }
        SectionSpec::Table(t) => {
            let t = table(t, scope)?;
            // An empty table with nothing to say about it (an optional step that found
            // nothing) is left out.
            if t.rows.is_empty() && t.empty.is_none() {
                return Ok(None);
            }
            Section::Table(t)
        }
        SectionSpec::Chart(c) => {
            let Some(st) = scope.table(&c.step) else {
                return Err(format!("chart: step {:?} has no rows", c.step));
            };
            let Some(mut chart) = build::chart(&st.meta, &st.rows, scope.metrics()) else {
                return Ok(None);
            };
            if let Some(title) = opt_render(scope, &c.title)? {
                chart.title = title;
            }
            Section::Chart(chart)
        }
        SectionSpec::Okr(o) => Section::Okr(Box::new(okr(o, scope)?)),
        SectionSpec::Findings(n) => notes(NoteKind::Finding, "Findings", n, scope)?,
        SectionSpec::Recommendations(n) => {
            notes(NoteKind::Recommendation, "What you can do", n, scope)?
        }
        SectionSpec::Risks(n) => notes(NoteKind::Risk, "Risks", n, scope)?,
    }))
}

fn notes(
    kind: NoteKind,
    default_title: &str,
    n: &NotesSpec,
    scope: &dyn Scope,
) -> Result<Section, String> {
    Ok(Section::Notes {
        kind,
        title: opt_render(scope, &n.title)?.unwrap_or_else(|| default_title.to_string()),
        items: scope.notes(kind),
        empty: opt_render(scope, &n.empty)?,
    })
}

fn table(t: &TableSpec, scope: &dyn Scope) -> Result<Table, String> {
    let title = opt_render(scope, &t.title)?;
    let empty = opt_render(scope, &t.empty)?;
    if let Some(step) = &t.step {
        let Some(st) = scope.table(step) else {
            return Err(format!("table: step {step:?} has no rows"));
        };
        let mut table = build::table(title, &st.columns, &st.meta, &st.rows, scope.metrics());
        table.id = Some(step.clone());
        table.empty = empty;
        if let Some(ColumnsSpec::ByName(cols)) = &t.columns {
            for c in &mut table.columns {
                let Some(s) = cols.get(&c.name) else { continue };
                if let Some(l) = &s.label {
                    c.label = scope.render(l)?.trim().to_string();
                }
                if let Some(u) = &s.unit {
                    c.role = Role::Metric {
                        unit: unit_named(&scope.render(u)?)?,
                    };
                }
            }
            let hidden: Vec<bool> = table
                .columns
                .iter()
                .map(|c| cols.get(&c.name).is_some_and(|s| s.hide))
                .collect();
            let keep = |row: &[Value]| -> Vec<Value> {
                row.iter()
                    .zip(&hidden)
                    .filter(|(_, h)| !**h)
                    .map(|(v, _)| v.clone())
                    .collect()
            };
            table.rows = table.rows.iter().map(|r| keep(r)).collect();
            table.columns = table
                .columns
                .iter()
                .zip(&hidden)
                .filter(|(_, h)| !**h)
                .map(|(c, _)| c.clone())
                .collect();
        }
        return Ok(table);
    }
    let Some(ColumnsSpec::List(cols)) = &t.columns else {
        return Err("a table needs `step:` or `columns:` with `rows:`".into());
    };
    let mut columns = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        let unit = c
            .unit
            .as_ref()
            .map(|u| scope.render(u).and_then(|u| unit_named(&u)))
            .transpose()?;
        columns.push(TableColumn {
            name: format!("c{i}"),
            label: c
                .label
                .as_ref()
                .map(|l| scope.render(l))
                .transpose()?
                .unwrap_or_default()
                .trim()
                .to_string(),
            role: unit.map_or(Role::Dimension, |unit| Role::Metric { unit }),
        });
    }
    let mut rows = Vec::new();
    for r in &t.rows {
        let mut row = Vec::new();
        for (cell, c) in r.iter().zip(cols) {
            row.push(if c.unit.is_some() {
                match scope.eval(cell)? {
                    Json::Number(n) => n.as_f64().map_or(Value::Null, Value::Float),
                    _ => Value::Null,
                }
            } else {
                Value::Text(scope.render(cell)?.trim().to_string())
            });
        }
        rows.push(row);
    }
    Ok(Table {
        id: None,
        title,
        columns,
        rows,
        total_row: false,
        empty,
    })
}

fn okr(o: &OkrSpec, scope: &dyn Scope) -> Result<OkrProgress, String> {
    let unit = unit_named(&scope.render(&o.unit)?)?;
    let target = number(scope.eval(&o.target)?).ok_or("okr: the target is not a number")?;
    let current = number(scope.eval(&o.current)?);
    let projected = match &o.projected {
        Some(p) => number(scope.eval(p)?),
        None => None,
    };
    let due = opt_render(scope, &o.due)?
        .and_then(|d| chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
    let metric_label = scope.render(&o.metric_label)?.trim().to_string();
    let ratio = |x: Option<f64>| x.filter(|_| target != 0.0).map(|x| x / target);
    let mut segments = Vec::new();
    if let Some(seg) = &o.segments {
        let rows = scope.eval(&format!("steps.{seg}.rows"))?;
        for r in rows.as_array().into_iter().flatten() {
            segments.push(SegmentProgress {
                name: r["key"]
                    .as_str()
                    .map_or_else(|| r["key"].to_string(), str::to_string),
                current: r["value"].as_f64(),
                projected: r["projected"].as_f64(),
                target: r["target"].as_f64(),
                projected_attainment: r["projected_attainment"].as_f64(),
                on_track: r["on_track"].as_bool(),
            });
        }
    }
    let title = scope.render(&o.title)?.trim().to_string();
    let chart = match o.trend.as_ref().and_then(|t| scope.table(t)) {
        Some(st) => {
            let grain = st.meta.iter().find_map(|c| match c.role {
                crate::answer::model::ColumnRole::Time { grain } => Some(grain),
                _ => None,
            });
            let value_col = st
                .meta
                .iter()
                .position(|c| matches!(c.role, crate::answer::model::ColumnRole::Metric { .. }));
            let points: Vec<(chrono::NaiveDate, f64)> = st
                .rows
                .iter()
                .filter_map(|r| Some((r.first()?.as_date()?, r.get(value_col?)?.as_f64()?)))
                .collect();
            grain.and_then(|g| {
                build::okr_chart(
                    format!("{metric_label}: trend, projection and target"),
                    &metric_label,
                    unit,
                    g,
                    &points,
                    due,
                    projected,
                    target,
                )
            })
        }
        None => None,
    };
    let projected_attainment = ratio(projected.or(current));
    Ok(OkrProgress {
        title,
        metric_label,
        unit,
        target,
        due,
        current,
        attainment: ratio(current),
        projected,
        projected_attainment,
        on_track: projected_attainment.map(|a| a >= 1.0),
        segments,
        chart,
    })
}
