//! Building sections from results: tables with labelled, typed columns (a two-way time
//! breakdown becomes a grid), the chart that fits a result (or none, where a number says it
//! better), and an OKR's trend with its projection and target.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::model::{
    Chart, ChartKind, Column, ColumnRole, Grain, MetricInfo, Reference, Role, Series, Table,
    TableColumn, Unit, Value,
};
use crate::format;

/// Most series drawn; the rest are summed into "Other" (additive) or left out.
const MAX_SERIES: usize = 6;
/// Most bars in a bar chart.
const MAX_BARS: usize = 15;
/// Most columns a two-way time breakdown spreads into before it stays a long table.
const MAX_PIVOT_COLUMNS: usize = 8;

/// The label people read for a result column: the metric's label, else the name in words.
pub fn column_label(name: &str, metrics: &[MetricInfo]) -> String {
    if let Some(m) = metrics.iter().find(|m| m.name == name) {
        return m.label.clone();
    }
    // "arr (last quarter)", "tickets change %": the metric's label, then the rest.
    for m in metrics {
        if let Some(rest) = name.strip_prefix(&m.name) {
            if rest.starts_with(' ') {
                return format!("{}{rest}", m.label);
            }
        }
    }
    format::humanize(name)
}

/// A result as a table: labelled columns with their roles. A time bucket by one dimension
/// with one metric (tickets by month and channel) becomes a grid, periods down and the
/// dimension's values across, when it has few enough values.
pub fn table(
    title: Option<String>,
    columns: &[String],
    meta: &[Column],
    rows: &[Vec<Value>],
    metrics: &[MetricInfo],
) -> Table {
    if let Some(t) = pivot(title.clone(), columns, meta, rows, metrics) {
        return t;
    }
    let cols = columns
        .iter()
        .enumerate()
        .map(|(i, name)| TableColumn {
            name: name.clone(),
            label: column_label(name, metrics),
            role: meta
                .get(i)
                .map(|c| Role::of(&c.role))
                .unwrap_or_else(|| infer_role(rows, i)),
        })
        .collect();
    Table {
        id: None,
        title,
        columns: cols,
        rows: rows.to_vec(),
        total_row: false,
        empty: None,
    }
}

/// The role of a column the compiler did not describe (analyst SQL): from its values.
pub fn infer_role(rows: &[Vec<Value>], i: usize) -> Role {
    let mut numeric = false;
    for r in rows {
        match r.get(i) {
            Some(Value::Int(_) | Value::Float(_)) => numeric = true,
            Some(Value::Null) | None => {}
            Some(_) => return Role::Dimension,
        }
    }
    if numeric {
        Role::Number
    } else {
        Role::Dimension
    }
}

fn pivot(
    title: Option<String>,
    columns: &[String],
    meta: &[Column],
    rows: &[Vec<Value>],
    metrics: &[MetricInfo],
) -> Option<Table> {
    if meta.len() != 3 || columns.len() != 3 {
        return None;
    }
    let ColumnRole::Time { grain } = meta[0].role else {
        return None;
    };
    if !matches!(meta[1].role, ColumnRole::Dimension) {
        return None;
    }
    let ColumnRole::Metric { unit } = meta[2].role else {
        return None;
    };
    let mut across: Vec<Value> = Vec::new();
    let mut down: Vec<Value> = Vec::new();
    for r in rows {
        if !across.contains(&r[1]) {
            across.push(r[1].clone());
        }
        if !down.contains(&r[0]) {
            down.push(r[0].clone());
        }
    }
    if across.len() > MAX_PIVOT_COLUMNS || across.len() < 2 || down.len() < 2 {
        return None;
    }
    let mut cols = vec![TableColumn {
        name: columns[0].clone(),
        label: format::humanize(&columns[0]),
        role: Role::Time { grain },
    }];
    for v in &across {
        cols.push(TableColumn {
            name: format::value(v),
            label: format::value(v),
            role: Role::Metric { unit },
        });
    }
    let grid = down
        .iter()
        .map(|d| {
            let mut row = vec![d.clone()];
            for v in &across {
                row.push(
                    rows.iter()
                        .find(|r| &r[0] == d && &r[1] == v)
                        .map_or(Value::Null, |r| r[2].clone()),
                );
            }
            row
        })
        .collect();
    let metric = column_label(&columns[2], metrics);
    Some(Table {
        id: None,
        title: Some(title.unwrap_or_else(|| {
            format!(
                "{metric} by {} and {}",
                format::humanize(&columns[0]).to_lowercase(),
                format::humanize(&columns[1]).to_lowercase()
            )
        })),
        columns: cols,
        rows: grid,
        total_row: false,
        empty: None,
    })
}

fn unit_suffix(u: Unit) -> &'static str {
    match u {
        Unit::Usd => " (USD)",
        Unit::Ratio | Unit::Percent => " (%)",
        Unit::Seconds => " (seconds)",
        Unit::Minutes => " (minutes)",
        Unit::Hours => " (hours)",
        Unit::Days => " (days)",
        Unit::Count | Unit::Score => "",
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        other => format::value(other),
    }
}

/// True for units whose values add up (stacked bars and "Other" make sense).
fn additive(unit: Unit) -> bool {
    matches!(unit, Unit::Usd | Unit::Count)
}

/// The chart that fits rows whose columns have these roles, if any: a trend (time bucket
/// and a metric), a breakdown (dimension and a metric), or either split by a second
/// dimension. None where a number says it better: fewer than three points or bars.
pub fn chart(meta: &[Column], rows: &[Vec<Value>], metrics: &[MetricInfo]) -> Option<Chart> {
    if rows.len() < 3 || meta.is_empty() {
        return None;
    }
    let time = meta
        .iter()
        .position(|c| matches!(c.role, ColumnRole::Time { .. }));
    let dims: Vec<usize> = (0..meta.len())
        .filter(|&i| matches!(meta[i].role, ColumnRole::Dimension | ColumnRole::Identifier))
        .collect();
    let (metric, unit) = meta.iter().enumerate().find_map(|(i, c)| match c.role {
        ColumnRole::Metric { unit } => Some((i, unit)),
        _ => None,
    })?;
    let metric_label = column_label(&meta[metric].name, metrics);
    let value_label = format!("{metric_label}{}", unit_suffix(unit));
    let grain_of = |i: usize| match meta[i].role {
        ColumnRole::Time { grain } => Some(grain),
        _ => None,
    };
    let (category_col, split_col, grain) = match (time, dims.as_slice()) {
        (Some(t), []) => (t, None, grain_of(t)),
        (Some(t), [d, ..]) => (t, Some(*d), grain_of(t)),
        (None, [d]) => (*d, None, None),
        (None, [d, e, ..]) if additive(unit) => (*d, Some(*e), None),
        _ => return None,
    };
    let label_of = |v: &Value| match (grain, v) {
        (Some(g), Value::Date(d)) => format::axis_period(*d, g),
        _ => text_of(v),
    };
    // Categories in first-seen order (the query's order: time ascending, or ranked).
    let mut categories: Vec<String> = Vec::new();
    let mut cat_index = HashMap::new();
    for r in rows {
        let l = label_of(&r[category_col]);
        if !cat_index.contains_key(&l) {
            cat_index.insert(l.clone(), categories.len());
            categories.push(l);
        }
    }
    if categories.len() < 3 {
        return None;
    }
    let category_label = format::humanize(&meta[category_col].name);
    let title = match split_col {
        Some(s) => format!(
            "{metric_label} by {}{}",
            format::humanize(&meta[s].name).to_lowercase(),
            if grain.is_some() { " over time" } else { "" }
        ),
        None if grain.is_some() => format!("{metric_label} over time"),
        None => format!(
            "{metric_label} by {}",
            format::humanize(&meta[category_col].name).to_lowercase()
        ),
    };
    let series = match split_col {
        None => {
            let mut values = vec![None; categories.len()];
            for r in rows {
                values[cat_index[&label_of(&r[category_col])]] = r[metric].as_f64();
            }
            vec![Series {
                name: metric_label.clone(),
                values,
                projected: false,
            }]
        }
        Some(s) => split_series(rows, s, metric, unit, &categories, &|r| {
            cat_index[&label_of(&r[category_col])]
        }),
    };
    let kind = match (grain.is_some(), split_col.is_some()) {
        (true, false) => ChartKind::Line,
        (true, true) if additive(unit) && categories.len() <= 24 => ChartKind::StackedBar,
        (true, true) => ChartKind::Line,
        (false, false) => ChartKind::Bar,
        (false, true) => ChartKind::StackedBar,
    };
    let mut chart = Chart {
        kind,
        title,
        categories,
        series,
        unit,
        value_label,
        category_label,
        references: Vec::new(),
        from_zero: additive(unit) || kind != ChartKind::Line,
    };
    if chart.kind == ChartKind::Bar && chart.categories.len() > MAX_BARS {
        chart.categories.truncate(MAX_BARS);
        chart.series[0].values.truncate(MAX_BARS);
        chart.title.push_str(&format!(" (top {MAX_BARS})"));
    }
    Some(chart)
}

fn split_series(
    rows: &[Vec<Value>],
    split: usize,
    metric: usize,
    unit: Unit,
    categories: &[String],
    index_of: &dyn Fn(&Vec<Value>) -> usize,
) -> Vec<Series> {
    let mut names: Vec<String> = Vec::new();
    let mut by_name: HashMap<String, Vec<Option<f64>>> = HashMap::new();
    for r in rows {
        let n = text_of(&r[split]);
        let e = by_name.entry(n.clone()).or_insert_with(|| {
            names.push(n.clone());
            vec![None; categories.len()]
        });
        e[index_of(r)] = r[metric].as_f64();
    }
    let total = |v: &Vec<Option<f64>>| v.iter().flatten().map(|x| x.abs()).sum::<f64>();
    names.sort_by(|x, y| total(&by_name[y]).total_cmp(&total(&by_name[x])));
    let mut out: Vec<Series> = names
        .iter()
        .take(MAX_SERIES)
        .map(|n| Series {
            name: n.clone(),
            values: by_name[n].clone(),
            projected: false,
        })
        .collect();
    if names.len() > MAX_SERIES && additive(unit) {
        let mut other = vec![None; categories.len()];
        for n in &names[MAX_SERIES..] {
            for (i, v) in by_name[n].iter().enumerate() {
                if let Some(v) = v {
                    other[i] = Some(other[i].unwrap_or(0.0) + v);
                }
            }
        }
        out.push(Series {
            name: "Other".into(),
            values: other,
            projected: false,
        });
    }
    out
}

/// An OKR's trend: the actual points, a dashed projection from the latest point to the due
/// date at `projected`, and the target as a line.
#[allow(clippy::too_many_arguments)]
pub fn okr_chart(
    title: String,
    metric_label: &str,
    unit: Unit,
    grain: Grain,
    points: &[(NaiveDate, f64)],
    due: Option<NaiveDate>,
    projected: Option<f64>,
    target: f64,
) -> Option<Chart> {
    let &(last_date, last_value) = points.last()?;
    let mut categories: Vec<String> = points
        .iter()
        .map(|(d, _)| format::axis_period(*d, grain))
        .collect();
    let mut actual: Vec<Option<f64>> = points.iter().map(|(_, v)| Some(*v)).collect();
    let mut series = Vec::new();
    if let (Some(due), Some(p)) = (due, projected) {
        // Future buckets up to the due date, the projection drawn straight to it.
        let mut future = Vec::new();
        let mut d = last_date;
        while future.len() < 60 {
            d = crate::text::calendar::shift(d, grain, 1);
            if d > due {
                break;
            }
            future.push(d);
        }
        if future.last() != Some(&due) && due > last_date {
            future.push(due);
        }
        let n0 = categories.len() - 1;
        let steps = future.len() as f64;
        let mut proj: Vec<Option<f64>> = vec![None; n0];
        proj.push(Some(last_value));
        for (i, d) in future.iter().enumerate() {
            categories.push(format::axis_period(*d, grain));
            actual.push(None);
            proj.push(Some(
                last_value + (p - last_value) * (i as f64 + 1.0) / steps.max(1.0),
            ));
        }
        series.push(Series {
            name: metric_label.to_string(),
            values: actual,
            projected: false,
        });
        if !future.is_empty() {
            series.push(Series {
                name: "Projected".into(),
                values: proj,
                projected: true,
            });
        }
    } else {
        series.push(Series {
            name: metric_label.to_string(),
            values: actual,
            projected: false,
        });
    }
    if categories.len() < 2 {
        return None;
    }
    Some(Chart {
        kind: ChartKind::Line,
        title,
        categories,
        series,
        unit,
        value_label: format!("{metric_label}{}", unit_suffix(unit)),
        category_label: format::humanize(&format!("{grain:?}")),
        references: vec![Reference {
            label: format!("Target {}", format::figure(target, unit)),
            value: target,
        }],
        from_zero: false,
    })
}
