//! Plain-text rendering: number formatting by unit and aligned tables.

use crate::semantic::{ColumnRole, Unit};
use crate::warehouse::Value;

/// Formats a value for people: thousands separators, units, percentages.
pub fn format_value(v: &Value, unit: Option<Unit>) -> String {
    match (v, unit) {
        (Value::Null, _) => "–".to_string(),
        (Value::Int(i), Some(Unit::Usd)) => format!("${}", group_thousands(&i.to_string())),
        (Value::Int(i), _) => group_thousands(&i.to_string()),
        (Value::Float(f), Some(u)) => format_number(*f, u),
        (Value::Float(f), None) => format_plain(*f),
        (Value::Bool(b), _) => b.to_string(),
        (Value::Text(s), _) => s.clone(),
        (Value::Date(d), _) => d.format("%Y-%m-%d").to_string(),
        (Value::Timestamp(t), _) => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// Formats one cell of a column with the given role: identifiers (policy numbers, ids)
/// as stored, without thousands separators; metrics in their unit.
pub fn format_cell(v: &Value, role: Option<&ColumnRole>) -> String {
    match (role, v) {
        (Some(ColumnRole::Identifier), Value::Int(i)) => i.to_string(),
        (Some(ColumnRole::Identifier), Value::Float(f)) => format_plain(*f).replace(',', ""),
        (Some(ColumnRole::Metric { unit }), _) => format_value(v, Some(*unit)),
        _ => format_value(v, None),
    }
}

/// Formats a number in a unit: `$1,234,567`, `23.1%`, `4.21`, `95.3 min`.
pub fn format_number(f: f64, unit: Unit) -> String {
    if !f.is_finite() {
        return "–".into();
    }
    match unit {
        Unit::Usd => {
            let sign = if f < 0.0 { "-" } else { "" };
            let a = f.abs();
            if a >= 1000.0 {
                format!("{sign}${}", group_thousands(&format!("{a:.0}")))
            } else {
                format!("{sign}${a:.2}")
            }
        }
        Unit::Count => group_thousands(&format!("{f:.0}")),
        Unit::Ratio => format!("{:.1}%", f * 100.0),
        Unit::Percent => format!("{f:.1}%"),
        Unit::Score => format!("{f:.2}"),
        Unit::Seconds => format!("{f:.1} s"),
        Unit::Minutes => format!("{f:.1} min"),
        Unit::Hours => format!("{f:.1} h"),
        Unit::Days => format!("{f:.1} d"),
    }
}

fn format_plain(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        group_thousands(&format!("{f:.0}"))
    } else {
        format!("{f:.4}")
    }
}

/// The first letter in upper case.
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// `opportunity_product` -> `Opportunity product`: a name as a heading.
pub fn title_case(name: &str) -> String {
    capitalize(&name.replace('_', " "))
}

/// Inserts commas into the integer part of a decimal string.
pub fn group_thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(a, b)| (a, Some(b)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// An aligned table: text left, numbers right.
pub fn table(headers: &[String], roles: &[Option<ColumnRole>], rows: &[Vec<Value>]) -> String {
    let unit_of = |i: usize| match roles.get(i) {
        Some(Some(ColumnRole::Metric { unit })) => Some(*unit),
        _ => None,
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, v)| match roles.get(i) {
                    Some(Some(ColumnRole::Identifier)) => format_cell(v, roles[i].as_ref()),
                    _ => format_value(v, unit_of(i)),
                })
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = (0..headers.len())
        .map(|i| {
            rows.iter().all(|r| {
                matches!(
                    r.get(i),
                    Some(Value::Int(_) | Value::Float(_) | Value::Null)
                )
            }) && !rows.is_empty()
        })
        .collect();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cells
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
                .max(h.chars().count())
        })
        .collect();
    let line = |vals: &[String]| -> String {
        vals.iter()
            .enumerate()
            .map(|(i, v)| {
                let pad = widths[i].saturating_sub(v.chars().count());
                if numeric[i] {
                    format!("{}{v}", " ".repeat(pad))
                } else {
                    format!("{v}{}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(headers);
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    for r in &cells {
        out.push('\n');
        out.push_str(&line(r));
    }
    out
}

/// The unit of an output column, if it is a metric.
fn unit_of(meta: &[crate::semantic::Column], i: usize) -> Option<Unit> {
    match meta.get(i).map(|c| &c.role) {
        Some(ColumnRole::Metric { unit }) => Some(*unit),
        _ => None,
    }
}

/// "for segment = Enterprise, last quarter (...)": the scope of an answer.
fn scope(a: &crate::answer::Answer) -> String {
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
        (None, Some(r)) => parts.push(format!("from {} to {}", r.from, r.to)),
        (None, None) => {
            if let Some(t) = p.today {
                parts.push(format!("as of {t}"));
            }
        }
    }
    parts.join(", ")
}

/// One sentence with the key number(s) and the period.
pub fn headline(a: &crate::answer::Answer) -> String {
    let meta = &a.column_meta;
    let metric_cols: Vec<usize> = (0..meta.len())
        .filter(|&i| unit_of(meta, i).is_some())
        .collect();
    let key_cols: Vec<usize> = (0..meta.len())
        .filter(|&i| unit_of(meta, i).is_none())
        .collect();
    let label = |i: usize| {
        a.provenance
            .metrics
            .iter()
            .find(|m| m.name == meta[i].name)
            .map_or(meta[i].name.clone(), |m| m.label.clone())
    };
    let val = |row: &Vec<Value>, i: usize| format_value(&row[i], unit_of(meta, i));
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
    let Some(&first) = metric_cols.first() else {
        // A listing query (no metric): say how many rows, by which columns.
        let by: Vec<String> = key_cols
            .iter()
            .map(|&k| meta[k].name.replace('_', " "))
            .collect();
        return format!("{} rows of {}.", a.rows.len(), by.join(", "));
    };
    let key = |row: &Vec<Value>| {
        key_cols
            .iter()
            .map(|&k| format_cell(&row[k], meta.get(k).map(|c| &c.role)))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let by: Vec<String> = key_cols
        .iter()
        .map(|&k| meta[k].name.replace('_', " "))
        .collect();
    if a.provenance.grain.is_some() && key_cols.len() == 1 {
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

/// The whole text answer: headline, table, provenance footer.
pub fn answer(a: &crate::answer::Answer) -> String {
    use crate::answer::Status;
    let mut out = a.headline.clone();
    if a.status == Status::Clarify && !a.choices.is_empty() {
        out.push_str("\nReply with one of: ");
        out.push_str(&a.choices.join(", "));
    }
    if a.status != Status::Answered {
        return out;
    }
    if let Some(line) = crate::planner::understood::read_as(&a.understood) {
        out.push('\n');
        out.push_str(&line);
    }
    if !a.rows.is_empty() && !a.is_single_value() {
        let roles: Vec<_> = a.column_meta.iter().map(|c| Some(c.role.clone())).collect();
        out.push_str("\n\n");
        out.push_str(&table(&a.columns, &roles, &a.rows));
        if a.provenance.truncated {
            out.push_str(&format!("\n(showing the first {} rows)", a.rows.len()));
        }
    }
    out.push_str("\n\n");
    out.push_str(&footer(&a.provenance, &a.skill));
    out
}

/// The provenance footer: definitions, filters, period, freshness.
pub fn footer(p: &crate::answer::Provenance, skill: &str) -> String {
    let mut lines = Vec::new();
    for m in &p.metrics {
        lines.push(format!(
            "{}: {} (owner {})",
            m.label, m.description, m.owner
        ));
    }
    if !p.filters.is_empty() {
        lines.push(format!("Filters: {}", p.filters.join("; ")));
    }
    let mut meta = Vec::new();
    match (p.time_range, p.today) {
        (Some(r), _) => meta.push(format!("Period: {} to {}", r.from, r.to)),
        (None, Some(t)) => meta.push(format!("As of {t}")),
        (None, None) => {}
    }
    if let Some(d) = p.data_freshness {
        meta.push(format!("Data through {d}"));
    }
    meta.push(format!("Skill: {skill}"));
    lines.push(meta.join(" · "));
    lines.extend(p.notes.iter().cloned());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_units() {
        assert_eq!(format_number(1234567.4, Unit::Usd), "$1,234,567");
        assert_eq!(format_number(-12.5, Unit::Usd), "-$12.50");
        assert_eq!(format_number(0.2314, Unit::Ratio), "23.1%");
        assert_eq!(format_number(4.236, Unit::Score), "4.24");
        assert_eq!(format_number(95.34, Unit::Minutes), "95.3 min");
        assert_eq!(group_thousands("-1234.5"), "-1,234.5");
        assert_eq!(group_thousands("999"), "999");
    }

    #[test]
    fn aligns_columns() {
        let t = table(
            &["segment".into(), "n".into()],
            &[None, None],
            &[
                vec![Value::Text("SMB".into()), Value::Int(1200)],
                vec![Value::Text("Enterprise".into()), Value::Int(5)],
            ],
        );
        assert_eq!(
            t,
            "segment         n\n----------  -----\nSMB         1,200\nEnterprise      5"
        );
    }
}
