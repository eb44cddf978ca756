//! Plain text for an [`Answer`] (the CLI, logs, the LLM's context): every section, aligned
//! tables, the provenance footer. A pure function of the answer; numbers through
//! [`crate::format`].

use crate::answer::model::{Answer, NoteKind, Provenance, Role, Section, Status, Table, Value};
use crate::format;

/// One cell as text.
pub(crate) fn cell(v: &Value, role: Role) -> String {
    match role.as_column_role() {
        Some(r) => format::cell(v, Some(&r)),
        None => format::value(v),
    }
}

/// An aligned table: text left, numbers right; a title line above when it has one.
pub fn table(t: &Table) -> String {
    let headers: Vec<String> = t.columns.iter().map(|c| c.label.clone()).collect();
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, v)| cell(v, t.columns.get(i).map_or(Role::Text, |c| c.role)))
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = t.columns.iter().map(|c| c.role.numeric()).collect();
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
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(v.chars().count());
                if numeric.get(i).copied().unwrap_or(false) {
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
    let mut out = String::new();
    if let Some(title) = &t.title {
        out.push_str(title);
        out.push('\n');
    }
    if t.rows.is_empty() {
        out.push_str(t.empty.as_deref().unwrap_or("No rows."));
        return out;
    }
    out.push_str(&line(&headers));
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

/// One section as text (charts have none: their numbers are in the tables).
pub fn section(s: &Section) -> Option<String> {
    Some(match s {
        Section::Kpis { tiles } => tiles
            .iter()
            .map(|k| {
                let v = k.value.map_or("–".into(), |v| format::figure(v, k.unit));
                match &k.detail {
                    Some(d) => format!("{}: {v} ({d})", k.label),
                    None => format!("{}: {v}", k.label),
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Section::Facts { title, facts } => {
            let items: Vec<String> = facts
                .iter()
                .map(|f| format!("- {}: {}", f.label, f.value))
                .collect();
            format!("{title}:\n{}", items.join("\n"))
        }
        Section::Table(t) => table(t),
        Section::Chart(_) => return None,
        Section::Okr(o) => {
            let f = |v: Option<f64>| v.map_or("–".into(), |v| format::figure(v, o.unit));
            let pct = |v: Option<f64>| {
                v.map_or("–".into(), |v| {
                    format::figure(v, crate::answer::model::Unit::Ratio)
                })
            };
            let mut lines = vec![
                o.title.clone(),
                format!(
                    "- Now: {} ({} of the {} target)",
                    f(o.current),
                    pct(o.attainment),
                    format::figure(o.target, o.unit)
                ),
                format!(
                    "- Projected{}: {} ({})",
                    o.due
                        .map_or(String::new(), |d| format!(" by {}", format::date(d))),
                    f(o.projected),
                    pct(o.projected_attainment)
                ),
            ];
            for s in &o.segments {
                lines.push(format!(
                    "- {}: projected {} against {} ({})",
                    s.name,
                    f(s.projected.or(s.current)),
                    f(s.target),
                    match s.on_track {
                        Some(true) => "on pace",
                        Some(false) => "behind",
                        None => "no target",
                    }
                ));
            }
            lines.join("\n")
        }
        Section::Notes {
            kind,
            title,
            items,
            empty,
        } => {
            if items.is_empty() {
                let e = empty.as_ref()?;
                format!("{title}:\n- {e}")
            } else {
                let mark = if *kind == NoteKind::Risk { "! " } else { "- " };
                let items: Vec<String> = items.iter().map(|i| format!("{mark}{i}")).collect();
                format!("{title}:\n{}", items.join("\n"))
            }
        }
    })
}

/// The whole text answer: headline, every section, next questions, provenance footer.
pub fn answer(a: &Answer) -> String {
    let mut out = a.lead().to_string();
    if a.status == Status::Clarify && !a.choices.is_empty() {
        out.push_str("\nReply with one of: ");
        let labels: Vec<&str> = (0..a.choices.len()).map(|i| a.choice_label(i)).collect();
        out.push_str(&labels.join(", "));
    }
    if a.status != Status::Answered {
        return out;
    }
    if let Some(line) = &a.read_as {
        out.push('\n');
        out.push_str(line);
    }
    for s in &a.sections {
        if let Some(t) = section(s) {
            out.push_str("\n\n");
            out.push_str(&t);
        }
    }
    if a.provenance.truncated {
        out.push_str(&format!("\n(showing the first {} rows)", a.rows.len()));
    }
    if !a.suggestions.is_empty() {
        out.push_str("\n\nYou could also ask:\n");
        let items: Vec<String> = a.suggestions.iter().map(|s| format!("- {s}")).collect();
        out.push_str(&items.join("\n"));
    }
    out.push_str("\n\n");
    out.push_str(&footer(&a.provenance, &a.skill));
    out
}

/// The provenance footer: definitions, filters, period, freshness.
pub fn footer(p: &Provenance, skill: &str) -> String {
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
        (Some(r), _) => meta.push(format!(
            "Period: {} to {}",
            format::date(r.from),
            format::date(r.to)
        )),
        (None, Some(t)) => meta.push(format!("As of {}", format::date(t))),
        (None, None) => {}
    }
    if let Some(d) = p.data_freshness {
        meta.push(format!("Data through {}", format::date(d)));
    }
    meta.push(format!("Skill: {}", format::humanize(skill)));
    lines.push(meta.join(" · "));
    lines.extend(p.notes.iter().cloned());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::model::{TableColumn, Unit};

    #[test]
    fn aligns_columns() {
        let t = Table {
            id: None,
            title: None,
            columns: vec![
                TableColumn {
                    name: "segment".into(),
                    label: "Segment".into(),
                    role: Role::Dimension,
                },
                TableColumn {
                    name: "n".into(),
                    label: "N".into(),
                    role: Role::Metric { unit: Unit::Count },
                },
            ],
            rows: vec![
                vec![Value::Text("SMB".into()), Value::Int(1200)],
                vec![Value::Text("Enterprise".into()), Value::Int(5)],
            ],
            total_row: false,
            empty: None,
        };
        assert_eq!(
            table(&t),
            "Segment         N\n----------  -----\nSMB         1,200\nEnterprise      5"
        );
    }
}
