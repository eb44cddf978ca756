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
                .map(|(i, v)| format_value(v, unit_of(i)))
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
