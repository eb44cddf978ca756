//! The headline of a metric answer: one sentence with the key number(s) and the scope,
//! in compact figures and words ("ARR by segment, this quarter: Enterprise $92.4M, ...").

use super::model::{Answer, Column, ColumnRole, Unit, Value};
use crate::format;

/// The unit of an output column, if it is a metric.
fn unit_of(meta: &[Column], i: usize) -> Option<Unit> {
    match meta.get(i).map(|c| &c.role) {
        Some(ColumnRole::Metric { unit }) => Some(*unit),
        _ => None,
    }
}

/// "for segment Enterprise, last quarter (...)": the scope of an answer.
pub fn scope(a: &Answer) -> String {
    let p = &a.provenance;
    let mut parts = Vec::new();
    let filters: Vec<String> = a
        .query
        .iter()
        .flat_map(|q| &q.filters)
        .map(|c| {
            let vals: Vec<String> = c
                .values
                .iter()
                .map(|v| match v {
                    crate::semantic::Literal::Str(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            match c.op {
                crate::semantic::Op::Eq | crate::semantic::Op::In => {
                    format!("{} {}", c.dimension.replace('_', " "), vals.join(" or "))
                }
                _ => c.to_string(),
            }
        })
        .collect();
    if !filters.is_empty() {
        parts.push(format!("for {}", filters.join(" and ")));
    }
    match (&p.period, p.time_range) {
        (Some(label), _) => parts.push(label.clone()),
        (None, Some(r)) => parts.push(format!(
            "from {} to {}",
            format::date(r.from),
            format::date(r.to)
        )),
        (None, None) => {
            if let Some(t) = p.today {
                parts.push(format!("as of {}", format::date(t)));
            }
        }
    }
    parts.join(", ")
}

/// One sentence with the key number(s) and the period.
pub fn headline(a: &Answer) -> String {
    let meta = &a.column_meta;
    let metric_cols: Vec<usize> = (0..meta.len())
        .filter(|&i| unit_of(meta, i).is_some())
        .collect();
    let key_cols: Vec<usize> = (0..meta.len())
        .filter(|&i| unit_of(meta, i).is_none())
        .collect();
    let label = |i: usize| super::build::column_label(&meta[i].name, &a.provenance.metrics);
    let val = |row: &Vec<Value>, i: usize| match (row[i].as_f64(), unit_of(meta, i)) {
        (Some(f), Some(u)) => format::figure(f, u),
        _ => format::value(&row[i]),
    };
    let scope = scope(a);
    let names: Vec<String> = metric_cols.iter().map(|&i| label(i)).collect();
    if a.rows.is_empty() {
        return format!("No data for {} {scope}.", names.join(" and "));
    }
    if key_cols.is_empty() {
        let parts: Vec<String> = metric_cols
            .iter()
            .map(|&i| format!("{} {}", label(i), val(&a.rows[0], i)))
            .collect();
        return format!("{}, {scope}.", parts.join("; "));
    }
    let by: Vec<String> = key_cols
        .iter()
        .map(|&k| format::humanize(&meta[k].name).to_lowercase())
        .collect();
    let Some(&first) = metric_cols.first() else {
        // A listing query (no metric): say how many rows, by which columns.
        return format!("{} rows of {}.", a.rows.len(), by.join(", "));
    };
    let key = |row: &Vec<Value>| {
        key_cols
            .iter()
            .map(|&k| format::cell(&row[k], meta.get(k).map(|c| &c.role)))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let timed = key_cols
        .iter()
        .any(|&k| matches!(meta[k].role, ColumnRole::Time { .. }));
    if timed && key_cols.len() == 1 {
        let (f, l) = (&a.rows[0], &a.rows[a.rows.len() - 1]);
        return format!(
            "{} by {}, {scope}: {} in {}, {} in {} ({} periods).",
            label(first),
            by.join(" and "),
            val(f, first),
            key(f),
            val(l, first),
            key(l),
            a.rows.len()
        );
    }
    if timed {
        // A time breakdown by a dimension: the latest period's leader, not a list of rows.
        let t = key_cols
            .iter()
            .copied()
            .find(|&k| matches!(meta[k].role, ColumnRole::Time { .. }))
            .unwrap_or(key_cols[0]);
        let latest = a.rows.iter().map(|r| &r[t]).max_by(|x, y| {
            x.as_date()
                .cmp(&y.as_date())
                .then_with(|| format::value(x).cmp(&format::value(y)))
        });
        let others: Vec<usize> = key_cols.iter().copied().filter(|&k| k != t).collect();
        if let Some(latest) = latest {
            let in_latest: Vec<&Vec<Value>> = a.rows.iter().filter(|r| &r[t] == latest).collect();
            let top = in_latest.iter().max_by(|x, y| {
                x[first]
                    .as_f64()
                    .unwrap_or(f64::MIN)
                    .total_cmp(&y[first].as_f64().unwrap_or(f64::MIN))
            });
            if let Some(top) = top {
                let who: Vec<String> = others
                    .iter()
                    .map(|&k| format::cell(&top[k], meta.get(k).map(|c| &c.role)))
                    .collect();
                return format!(
                    "{} by {}, {scope}: in {}, {} leads with {}.",
                    label(first),
                    by.join(" and "),
                    format::cell(latest, meta.get(t).map(|c| &c.role)),
                    who.join(" / "),
                    val(top, first)
                );
            }
        }
    }
    let shown: Vec<String> = a
        .rows
        .iter()
        .take(3)
        .map(|r| format!("{} {}", key(r), val(r, first)))
        .collect();
    let more = if a.rows.len() > 3 {
        format!(" and {} more", a.rows.len() - 3)
    } else {
        String::new()
    };
    format!(
        "{} by {}, {scope}: {}{more}.",
        label(first),
        by.join(" and "),
        shown.join(", ")
    )
}
