//! Slack Block Kit for an [`Answer`]: a pure function, so the Slack adapter only posts what
//! this returns. Action ids are stable: the Slack adapter and the web site key on them.

use serde_json::{json, Value};

use crate::answer::{Answer, Status};
use crate::render::text;

/// Action ids of the buttons under an answer.
pub mod actions {
    pub const OPEN_HTML: &str = "cortex_open_html";
    pub const OPEN_PDF: &str = "cortex_open_pdf";
    pub const FILE_LINEAR: &str = "cortex_file_linear_task";
    pub const HELPFUL: &str = "cortex_feedback_helpful";
    pub const NOT_HELPFUL: &str = "cortex_feedback_not_helpful";
    /// Prefix of a clarifying choice; the button's value is `<answer id>|<metric or skill name>`.
    pub const CHOOSE: &str = "cortex_choose";
}

/// Rows shown in the message table before it is cut (the full result goes as a CSV file).
pub const MAX_TABLE_ROWS: usize = 15;

/// Slack's limit on a section's text.
const MAX_SECTION_CHARS: usize = 2900;

fn section(text: &str) -> Value {
    let mut t: String = text.chars().take(MAX_SECTION_CHARS).collect();
    if t.len() < text.len() {
        t.push('…');
    }
    json!({"type": "section", "text": {"type": "mrkdwn", "text": t}})
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
}

fn button(label: &str, action_id: &str, value: &str) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "value": value})
}

/// True when the answer's table is longer than the message shows.
pub fn table_is_cut(a: &Answer) -> bool {
    a.rows.len() > MAX_TABLE_ROWS
}

/// The Block Kit blocks for an answer. `answer_id` identifies it for the buttons (the audit
/// or permalink id).
pub fn blocks(a: &Answer, answer_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let headline = a.narrative.as_deref().unwrap_or(&a.headline);
    match a.status {
        Status::Clarify => {
            out.push(section(&format!(":thinking_face: {}", a.headline)));
            if !a.choices.is_empty() {
                let buttons: Vec<Value> = a
                    .choices
                    .iter()
                    .take(5)
                    .enumerate()
                    .map(|(i, c)| {
                        button(
                            c,
                            &format!("{}_{i}", actions::CHOOSE),
                            &format!("{answer_id}|{c}"),
                        )
                    })
                    .collect();
                out.push(json!({"type": "actions", "elements": buttons}));
            }
            return out;
        }
        Status::Unanswerable => {
            out.push(section(&format!(":information_source: {}", a.headline)));
            return out;
        }
        Status::Error => {
            out.push(section(&format!(":warning: {}", a.headline)));
            return out;
        }
        Status::Answered => {}
    }
    out.push(section(&format!("*{headline}*")));
    if let Some(line) = crate::planner::understood::read_as(&a.understood) {
        out.push(context(&line));
    }
    if !a.findings.is_empty() {
        let items: Vec<String> = a.findings.iter().map(|f| format!("• {f}")).collect();
        out.push(section(&items.join("\n")));
    }
    if !a.recommendations.is_empty() {
        let items: Vec<String> = a.recommendations.iter().map(|f| format!("• {f}")).collect();
        out.push(section(&format!("*What you can do*\n{}", items.join("\n"))));
    }
    if !a.rows.is_empty() && !a.is_single_value() {
        let shown = &a.rows[..a.rows.len().min(MAX_TABLE_ROWS)];
        let roles: Vec<_> = a.column_meta.iter().map(|c| Some(c.role.clone())).collect();
        let table = text::table(&a.columns, &roles, shown);
        out.push(section(&format!("```\n{table}\n```")));
        if table_is_cut(a) {
            out.push(context(&format!(
                "Showing {} of {} rows; the full result is attached as CSV.",
                MAX_TABLE_ROWS,
                a.rows.len()
            )));
        }
    }
    let defs: Vec<String> = a
        .provenance
        .metrics
        .iter()
        .map(|m| format!("*{}*: {}", m.label, m.description))
        .collect();
    let mut foot = defs;
    foot.extend(a.provenance.notes.iter().map(|n| format!("_{n}_")));
    let mut meta = Vec::new();
    if !a.provenance.filters.is_empty() {
        meta.push(format!("Filters: {}", a.provenance.filters.join("; ")));
    }
    if let Some(r) = a.provenance.time_range {
        meta.push(format!("Period: {} to {}", r.from, r.to));
    }
    if let Some(d) = a.provenance.data_freshness {
        meta.push(format!("Data through {d}"));
    }
    meta.push(format!("Skill: {}", a.skill));
    foot.push(meta.join(" · "));
    out.push(context(&foot.join("\n")));
    out.push(json!({"type": "actions", "elements": [
        button("Open as HTML", actions::OPEN_HTML, answer_id),
        button("PDF", actions::OPEN_PDF, answer_id),
        button("File Linear task", actions::FILE_LINEAR, answer_id),
        button(":thumbsup: Helpful", actions::HELPFUL, answer_id),
        button(":thumbsdown: Not helpful", actions::NOT_HELPFUL, answer_id),
    ]}));
    out
}

/// The full result as CSV (for long tables): header, then rows with raw values.
pub fn csv(a: &Answer) -> String {
    let esc = |s: String| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = a
        .columns
        .iter()
        .cloned()
        .map(esc)
        .collect::<Vec<_>>()
        .join(",");
    for r in &a.rows {
        out.push('\n');
        let cells: Vec<String> = r
            .iter()
            .map(|v| match serde_json::to_value(v).unwrap_or_default() {
                Value::Null => String::new(),
                Value::String(s) => esc(s),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
    }
    out.push('\n');
    out
}
