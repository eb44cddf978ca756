//! Several answers as one: a briefing's items, or every OKR's progress at once. Each part
//! keeps its sections under a lead note (its title and headline), so every renderer (Slack,
//! HTML, PDF) shows the parts in order without knowing they were separate answers.

use crate::answer::{Answer, NoteKind, Section, Status};

/// Combines `parts` into one answer titled `title`. The status is answered when any part
/// is; a part that asks to clarify or fails shows its message as its lead.
pub fn combine(question: &str, title: &str, skill: &str, parts: &[Answer]) -> Answer {
    let answered = parts
        .iter()
        .filter(|p| p.status == Status::Answered)
        .count();
    let status = if answered > 0 || parts.is_empty() {
        Status::Answered
    } else {
        parts[0].status
    };
    let headline = match parts.len() {
        1 => parts[0].headline.clone(),
        n => format!("{title}: {n} parts, {answered} answered."),
    };
    let mut out = Answer::new(question, status, headline);
    out.skill = skill.to_string();
    out.title = title.to_string();
    for p in parts {
        let lead = if p.title.is_empty() {
            p.question.clone()
        } else {
            p.title.clone()
        };
        let mut items = vec![p.headline.clone()];
        if p.status == Status::Clarify && !p.choice_labels.is_empty() {
            items.push(format!("Options: {}", p.choice_labels.join(", ")));
        }
        out.sections.push(Section::Notes {
            kind: NoteKind::Finding,
            title: lead,
            items,
            empty: None,
        });
        out.sections.extend(p.sections.iter().cloned());
        out.findings.extend(p.findings.iter().cloned());
        out.recommendations
            .extend(p.recommendations.iter().cloned());
        out.risks.extend(p.risks.iter().cloned());
        for m in &p.provenance.metrics {
            if !out.provenance.metrics.contains(m) {
                out.provenance.metrics.push(m.clone());
            }
        }
        out.provenance
            .statements
            .extend(p.provenance.statements.iter().cloned());
        out.provenance
            .notes
            .extend(p.provenance.notes.iter().cloned());
        out.provenance.today = out.provenance.today.or(p.provenance.today);
        out.provenance.data_freshness = out
            .provenance
            .data_freshness
            .or(p.provenance.data_freshness);
        if out.asker.is_none() {
            out.asker = p.asker.clone();
        }
    }
    out
}
