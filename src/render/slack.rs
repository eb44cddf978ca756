//! Slack Block Kit for an [`Answer`]: a pure function, so the Slack adapter only posts what
//! this returns. Action ids are stable: the Slack adapter and the web site key on them.
//!
//! Everything that reaches mrkdwn is escaped (`&`, `<`, `>`), so no question, value, label
//! or narrative can become a mention (`<!channel>`, `<@U…>`), a channel link or a link.
//! An LLM narrative that tries anyway is not shown at all (see [`unsafe_narrative`]).

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

/// Escapes text for Slack mrkdwn: `&`, `<` and `>` become entities, so the text cannot
/// mention, link or notify.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Why an LLM narrative must not be posted, if it must not: it tries to notify (`<!`),
/// mention (`<@`), link a channel (`<#`), or carries a link. Answers fall back to the
/// plain text.
pub fn unsafe_narrative(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("<!") {
        Some("it contains a Slack broadcast (<!...>)")
    } else if lower.contains("<@") {
        Some("it contains a user mention (<@...>)")
    } else if lower.contains("<#") {
        Some("it contains a channel link (<#...>)")
    } else if ["://", "<http", "<mailto:", "www.", "mailto:"]
        .iter()
        .any(|p| lower.contains(p))
    {
        Some("it contains a link")
    } else {
        None
    }
}

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
    // A narrative that tries to notify, mention or link is never shown (the service also
    // drops it and logs why); the headline is.
    let headline = escape(
        a.narrative
            .as_deref()
            .filter(|n| unsafe_narrative(n).is_none())
            .unwrap_or(&a.headline),
    );
    match a.status {
        Status::Clarify => {
            out.push(section(&format!(":thinking_face: {}", escape(&a.headline))));
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
            out.push(section(&format!(
                ":information_source: {}",
                escape(&a.headline)
            )));
            return out;
        }
        Status::Error => {
            out.push(section(&format!(":warning: {}", escape(&a.headline))));
            return out;
        }
        Status::Answered => {}
    }
    out.push(section(&format!("*{headline}*")));
    if let Some(line) = crate::planner::understood::read_as(&a.understood) {
        out.push(context(&line));
    }
    if !a.findings.is_empty() {
        let items: Vec<String> = a
            .findings
            .iter()
            .map(|f| format!("• {}", escape(f)))
            .collect();
        out.push(section(&items.join("\n")));
    }
    if !a.recommendations.is_empty() {
        let items: Vec<String> = a
            .recommendations
            .iter()
            .map(|f| format!("• {}", escape(f)))
            .collect();
        out.push(section(&format!("*What you can do*\n{}", items.join("\n"))));
    }
    if !a.rows.is_empty() && !a.is_single_value() {
        let shown = &a.rows[..a.rows.len().min(MAX_TABLE_ROWS)];
        let roles: Vec<_> = a.column_meta.iter().map(|c| Some(c.role.clone())).collect();
        let table = text::table(&a.columns, &roles, shown);
        out.push(section(&format!("```\n{}\n```", escape(&table))));
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
        .map(|m| format!("*{}*: {}", escape(&m.label), escape(&m.description)))
        .collect();
    let mut foot = defs;
    foot.extend(
        a.provenance
            .notes
            .iter()
            .map(|n| format!("_{}_", escape(n))),
    );
    let mut meta = Vec::new();
    if !a.provenance.filters.is_empty() {
        meta.push(format!(
            "Filters: {}",
            escape(&a.provenance.filters.join("; "))
        ));
    }
    if let Some(r) = a.provenance.time_range {
        meta.push(format!("Period: {} to {}", r.from, r.to));
    }
    if let Some(d) = a.provenance.data_freshness {
        meta.push(format!("Data through {d}"));
    }
    meta.push(format!("Skill: {}", escape(&a.skill)));
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

#[cfg(test)]
mod tests {
    use super::*;

    const INJECTION: &str =
        "<!channel> ARR fell. <https://evil.example|Re-authenticate> <@U0ADMIN> <#C0GENERAL>";

    #[test]
    fn mrkdwn_control_characters_are_escaped() {
        assert_eq!(escape("a & b < c > d"), "a &amp; b &lt; c &gt; d");
        assert_eq!(
            escape("<!channel>"),
            "&lt;!channel&gt;",
            "a broadcast becomes text"
        );
    }

    #[test]
    fn unsafe_narratives_are_named() {
        assert!(unsafe_narrative("<!channel> hi").is_some());
        assert!(unsafe_narrative("<!here|here>").is_some());
        assert!(unsafe_narrative("ask <@U123>").is_some());
        assert!(unsafe_narrative("see <#C123>").is_some());
        assert!(unsafe_narrative("go to <https://evil.example|Re-authenticate>").is_some());
        assert!(unsafe_narrative("go to https://evil.example").is_some());
        assert!(unsafe_narrative("ARR is $145.6M, up 23.1% (Enterprise > SMB).").is_none());
    }

    #[test]
    fn nothing_echoed_or_narrated_can_mention_or_link() {
        let mut a = Answer::new(INJECTION, Status::Answered, format!("ARR {INJECTION}"));
        a.narrative = Some(INJECTION.to_string());
        a.findings = vec![INJECTION.into()];
        a.recommendations = vec![INJECTION.into()];
        a.columns = vec!["segment".into(), "arr".into()];
        a.rows = vec![
            vec![
                crate::warehouse::Value::Text(INJECTION.into()),
                crate::warehouse::Value::Int(1),
            ],
            vec![
                crate::warehouse::Value::Text("SMB".into()),
                crate::warehouse::Value::Int(2),
            ],
        ];
        a.provenance.notes = vec![INJECTION.into()];
        a.provenance.filters = vec![INJECTION.into()];
        for status in [
            Status::Answered,
            Status::Clarify,
            Status::Unanswerable,
            Status::Error,
        ] {
            a.status = status;
            let out = serde_json::to_string(&blocks(&a, "id1")).expect("json");
            // mrkdwn text only: button labels are plain_text, which Slack never parses.
            let text: Vec<String> = blocks(&a, "id1")
                .iter()
                .flat_map(|b| {
                    let mut t = vec![b["text"]["text"].as_str().unwrap_or("").to_string()];
                    if let Some(els) = b["elements"].as_array() {
                        t.extend(
                            els.iter()
                                .filter(|e| e["type"] == "mrkdwn")
                                .map(|e| e["text"].as_str().unwrap_or("").to_string()),
                        );
                    }
                    t
                })
                .collect();
            let text = text.join("\n");
            for bad in ["<!", "<@", "<#", "<http"] {
                assert!(!text.contains(bad), "{status:?}: {bad} in {out}");
            }
        }
        // The unsafe narrative is not shown at all; the headline is, escaped.
        a.status = Status::Answered;
        let first = blocks(&a, "id1")[0]["text"]["text"]
            .as_str()
            .expect("text")
            .to_string();
        assert!(first.starts_with("*ARR &lt;!channel&gt;"), "{first}");
    }
}
