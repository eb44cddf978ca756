//! Slack Block Kit for an [`Answer`]: a pure function, so the Slack adapter only posts what
//! this returns. Action ids are stable: the Slack adapter and the web site key on them.
//!
//! Everything that reaches mrkdwn is escaped (`&`, `<`, `>`), so no question, value, label
//! or narrative can become a mention (`<!channel>`, `<@U…>`), a channel link or a link.
//! An LLM narrative that tries anyway is not shown at all (see [`unsafe_narrative`]).

use serde_json::{json, Value};

use crate::answer::model::{Answer, NoteKind, Section, Status, Unit};
use crate::format;
use crate::render::text;

/// Action ids of the buttons under an answer.
pub mod actions {
    pub const OPEN_HTML: &str = "cortex_open_html";
    pub const OPEN_PDF: &str = "cortex_open_pdf";
    /// Files the answer's headline as a task (an answer that proposes none); the value is
    /// the answer id. A proposed task's button is `FILE_LINEAR_<i>`, valued `<answer id>|<i>`.
    pub const FILE_LINEAR: &str = "cortex_file_linear_task";
    /// Publishes the answer as a page in the Notion publish database; the value is the answer id.
    pub const PUBLISH_NOTION: &str = "cortex_publish_notion";
    pub const HELPFUL: &str = "cortex_feedback_helpful";
    pub const NOT_HELPFUL: &str = "cortex_feedback_not_helpful";
    /// Prefix of a clarifying choice; the button's value is `<answer id>|<metric or skill name>`.
    pub const CHOOSE: &str = "cortex_choose";
    /// Prefix of a suggested next question; the button's value is the question.
    pub const SUGGEST: &str = "cortex_suggest";
    /// Mutes a signal's scope for 7 days; the value is `<signal>|<scope>|<window>`.
    pub const SIGNAL_MUTE: &str = "cortex_signal_mute";
    /// Records that a signal's message was not useful; the value as for [`SIGNAL_MUTE`].
    pub const SIGNAL_NOT_USEFUL: &str = "cortex_signal_not_useful";
}

/// Rows shown in the message table before it is cut (the full result goes as a CSV file).
pub const MAX_TABLE_ROWS: usize = 15;

/// Slack's documented limits (Block Kit reference).
pub mod limits {
    /// Blocks in one message.
    pub const BLOCKS: usize = 50;
    /// Characters in a section's text, and in a context element's text.
    pub const SECTION_TEXT: usize = 3000;
    /// Fields in one section.
    pub const FIELDS: usize = 10;
    /// Characters in one field.
    pub const FIELD_TEXT: usize = 2000;
    /// Characters in a header's plain text.
    pub const HEADER_TEXT: usize = 150;
    /// Characters in a button's label.
    pub const BUTTON_TEXT: usize = 75;
    /// Characters in a button's value.
    pub const BUTTON_VALUE: usize = 2000;
    /// Characters in a button's URL.
    pub const BUTTON_URL: usize = 3000;
    /// Elements in an actions block.
    pub const ACTIONS: usize = 25;
    /// Elements in a context block.
    pub const CONTEXT_ELEMENTS: usize = 10;
}

/// Slack's limit on a section's text, kept under with room for the cut mark.
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

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION_CHARS)}})
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, MAX_SECTION_CHARS)}]})
}

fn fields(items: &[String]) -> Value {
    let fields: Vec<Value> = items
        .iter()
        .take(limits::FIELDS)
        .map(|t| json!({"type": "mrkdwn", "text": cut(t, limits::FIELD_TEXT)}))
        .collect();
    json!({"type": "section", "fields": fields})
}

fn button(label: &str, action_id: &str, value: &str) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": cut(label, limits::BUTTON_TEXT)}, "action_id": action_id, "value": cut(value, limits::BUTTON_VALUE)})
}

/// The buttons under a signal's message ("Mute for 7 days", "Not useful"); `value` is
/// `<signal>|<scope>|<window>`. "File Linear task" is among the answer's own buttons.
pub fn signal_actions(value: &str) -> Value {
    json!({"type": "actions", "elements": [
        button("Mute for 7 days", actions::SIGNAL_MUTE, value),
        button("Not useful", actions::SIGNAL_NOT_USEFUL, value),
    ]})
}

fn link_button(label: &str, action_id: &str, url: &str) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "url": cut(url, limits::BUTTON_URL)})
}

/// Bold mrkdwn: trimmed (a trailing space breaks Slack's bold), escaped, and with no
/// asterisk inside to close it early.
fn bold(text: &str) -> String {
    let t = escape(text.trim()).replace('*', "∗");
    if t.is_empty() {
        t
    } else {
        format!("*{t}*")
    }
}

/// True when the answer's main table is longer than the message shows.
pub fn table_is_cut(a: &Answer) -> bool {
    a.sections.iter().any(|s| match s {
        Section::Table(t) => t.rows.len() > MAX_TABLE_ROWS,
        _ => false,
    })
}

/// How a message links to the answer's page and PDF.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// The site's public base URL: "Open as HTML" and "PDF" become link buttons.
    pub base_url: Option<String>,
}

/// The Block Kit blocks for an answer. `answer_id` identifies it for the buttons (the audit
/// or permalink id).
pub fn blocks(a: &Answer, answer_id: &str) -> Vec<Value> {
    blocks_linked(a, answer_id, &Links::default())
}

/// [`blocks`], with link buttons to the answer's page and PDF when the site's URL is known.
/// Every section of the answer is shown; the message stays inside Slack's limits (see
/// [`limits`]): long tables are cut (the CSV goes as a file), and past the block limit the
/// rest is left to the HTML page, which the last line says.
pub fn blocks_linked(a: &Answer, answer_id: &str, links: &Links) -> Vec<Value> {
    let mut out = Vec::new();
    let feedback = [
        button(":thumbsup: Helpful", actions::HELPFUL, answer_id),
        button(":thumbsdown: Not helpful", actions::NOT_HELPFUL, answer_id),
    ];
    match a.status {
        Status::Clarify => {
            out.push(section(&format!(":thinking_face: {}", escape(&a.headline))));
            let buttons: Vec<Value> = a
                .choices
                .iter()
                .take(5)
                .enumerate()
                .map(|(i, c)| {
                    button(
                        a.choice_label(i),
                        &format!("{}_{i}", actions::CHOOSE),
                        &format!("{answer_id}|{c}"),
                    )
                })
                .collect();
            // No feedback here: the asker answers the question by choosing.
            if !buttons.is_empty() {
                out.push(json!({"type": "actions", "elements": buttons}));
            }
            return out;
        }
        Status::Unanswerable | Status::Error => {
            let icon = if a.status == Status::Error {
                ":warning:"
            } else {
                ":information_source:"
            };
            out.push(section(&format!("{icon} {}", escape(&a.headline))));
            if !a.suggestions.is_empty() {
                out.push(context(&format!(
                    "You could ask: {}",
                    escape(&a.suggestions.join(" · "))
                )));
            }
            out.push(json!({"type": "actions", "elements": feedback}));
            return out;
        }
        Status::Answered => {}
    }
    // A narrative that tries to notify, mention or link is never shown (the service also
    // drops it and logs why); the headline is.
    let lead = a
        .narrative
        .as_deref()
        .filter(|n| unsafe_narrative(n).is_none())
        .unwrap_or(&a.headline);
    if !a.title.is_empty() && a.skill != "metric_question" {
        out.push(json!({"type": "header", "text": {"type": "plain_text", "text": cut(&a.title, limits::HEADER_TEXT)}}));
    }
    if let Some(sub) = &a.subtitle {
        out.push(context(&escape(sub)));
    }
    out.push(section(&bold(lead)));
    if let Some(line) = &a.read_as {
        out.push(context(&escape(line)));
    }
    // Room for the footer, the cut note and the buttons.
    let budget = limits::BLOCKS - 6;
    let mut left_out = 0;
    for s in &a.sections {
        let blocks = section_blocks(s);
        if out.len() + blocks.len() > budget {
            left_out += 1;
            continue;
        }
        out.extend(blocks);
    }
    if left_out > 0 {
        out.push(context(&format!(
            "{left_out} more section{} in the HTML version.",
            if left_out == 1 { "" } else { "s" }
        )));
    }
    out.push(context(&footer(a)));
    if !a.suggestions.is_empty() {
        // Each next question is a button that asks it (the full question is its value).
        out.push(context("You could also ask:"));
        let asks: Vec<Value> = a
            .suggestions
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, q)| button(q, &format!("{}_{i}", actions::SUGGEST), q))
            .collect();
        out.push(json!({"type": "actions", "elements": asks}));
    }
    let mut buttons = Vec::new();
    match &links.base_url {
        Some(base) => {
            let base = base.trim_end_matches('/');
            buttons.push(link_button(
                "Open as HTML",
                actions::OPEN_HTML,
                &format!("{base}/a/{answer_id}"),
            ));
            buttons.push(link_button(
                "PDF",
                actions::OPEN_PDF,
                &format!("{base}/a/{answer_id}.pdf"),
            ));
        }
        None => {
            buttons.push(button("Open as HTML", actions::OPEN_HTML, answer_id));
            buttons.push(button("PDF", actions::OPEN_PDF, answer_id));
        }
    }
    buttons.push(button(
        "Publish to Notion",
        actions::PUBLISH_NOTION,
        answer_id,
    ));
    if a.tasks.is_empty() {
        buttons.push(button("File Linear task", actions::FILE_LINEAR, answer_id));
    } else {
        // One button per proposed task, on a row of their own.
        let tasks: Vec<Value> = a
            .tasks
            .iter()
            .take(5)
            .enumerate()
            .map(|(i, t)| {
                let label = format!("File task: {}", t.title);
                button(
                    &label,
                    &format!("{}_{i}", actions::FILE_LINEAR),
                    &format!("{answer_id}|{i}"),
                )
            })
            .collect();
        out.push(json!({"type": "actions", "elements": tasks}));
    }
    buttons.extend(feedback);
    out.push(json!({"type": "actions", "elements": buttons}));
    out
}

/// The blocks of one section.
fn section_blocks(s: &Section) -> Vec<Value> {
    match s {
        Section::Kpis { tiles } => {
            let items: Vec<String> = tiles
                .iter()
                .map(|k| {
                    let v = k.value.map_or("–".into(), |v| format::figure(v, k.unit));
                    match &k.detail {
                        Some(d) => format!("*{}*\n{v}\n_{}_", escape(&k.label), escape(d)),
                        None => format!("*{}*\n{v}", escape(&k.label)),
                    }
                })
                .collect();
            items.chunks(limits::FIELDS).map(fields).collect()
        }
        Section::Facts { title, facts } => {
            let items: Vec<String> = facts
                .iter()
                .map(|f| format!("*{}*\n{}", escape(&f.label), escape(&f.value)))
                .collect();
            let mut out = vec![section(&bold(title))];
            out.extend(items.chunks(limits::FIELDS).map(fields));
            out
        }
        Section::Table(t) => {
            let mut shown = t.clone();
            shown.title = None;
            shown.rows.truncate(MAX_TABLE_ROWS);
            let mut body = String::new();
            if let Some(title) = &t.title {
                body.push_str(&bold(title));
                body.push('\n');
            }
            if t.rows.is_empty() {
                body.push_str(&escape(t.empty.as_deref().unwrap_or("No rows.")));
                return vec![section(&body)];
            }
            body.push_str(&format!("```\n{}\n```", escape(&text::table(&shown))));
            let mut out = vec![section(&body)];
            if t.rows.len() > MAX_TABLE_ROWS {
                out.push(context(&format!(
                    "Showing {} of {} rows; the full result is attached as CSV.",
                    MAX_TABLE_ROWS,
                    t.rows.len()
                )));
            }
            out
        }
        // Charts go as images beside the message (Slack shows no SVG); the title says which.
        Section::Chart(_) => Vec::new(),
        Section::Okr(o) => {
            let f = |v: Option<f64>| v.map_or("–".into(), |v| format::figure(v, o.unit));
            let pct = |v: Option<f64>| v.map_or("–".into(), |v| format::figure(v, Unit::Ratio));
            let status = match o.on_track {
                Some(true) => ":large_green_circle: On pace",
                Some(false) => ":red_circle: Behind pace",
                None => "No projection yet",
            };
            let mut out = vec![
                section(&bold(&o.title)),
                fields(&[
                    format!("*Now*\n{}", f(o.current)),
                    format!("*Target*\n{}", format::figure(o.target, o.unit)),
                    format!("*Attainment*\n{}", pct(o.attainment)),
                    format!(
                        "*Projected{}*\n{} ({})",
                        o.due
                            .map_or(String::new(), |d| format!(" by {}", format::date(d))),
                        f(o.projected),
                        pct(o.projected_attainment)
                    ),
                    format!("*Status*\n{status}"),
                ]),
            ];
            if !o.segments.is_empty() {
                let lines: Vec<String> = o
                    .segments
                    .iter()
                    .map(|s| {
                        let mark = match s.on_track {
                            Some(true) => ":large_green_circle:",
                            Some(false) => ":red_circle:",
                            None => ":white_circle:",
                        };
                        format!(
                            "{mark} {}: projected {} against {} ({})",
                            escape(&s.name),
                            f(s.projected.or(s.current)),
                            f(s.target),
                            pct(s.projected_attainment)
                        )
                    })
                    .collect();
                out.push(section(&lines.join("\n")));
            }
            out
        }
        Section::Notes {
            kind,
            title,
            items,
            empty,
        } => {
            let mark = match kind {
                NoteKind::Risk => ":warning:",
                _ => "•",
            };
            let body: Vec<String> = if items.is_empty() {
                match empty {
                    Some(e) => vec![format!("• {}", escape(e))],
                    None => return Vec::new(),
                }
            } else {
                items
                    .iter()
                    .map(|i| format!("{mark} {}", escape(i)))
                    .collect()
            };
            vec![section(&format!("{}\n{}", bold(title), body.join("\n")))]
        }
    }
}

/// Definitions, notes, filters, period, freshness and skill, escaped.
fn footer(a: &Answer) -> String {
    let p = &a.provenance;
    let mut foot: Vec<String> = p
        .metrics
        .iter()
        .map(|m| format!("*{}*: {}", escape(&m.label), escape(&m.description)))
        .collect();
    foot.extend(p.notes.iter().map(|n| format!("_{}_", escape(n.trim()))));
    let mut meta = Vec::new();
    if !p.filters.is_empty() {
        meta.push(format!("Filters: {}", escape(&p.filters.join("; "))));
    }
    if let Some(r) = p.time_range {
        meta.push(format!(
            "Period: {} to {}",
            format::date(r.from),
            format::date(r.to)
        ));
    }
    if let Some(d) = p.data_freshness {
        meta.push(format!("Data through {}", format::date(d)));
    }
    meta.push(format!("Skill: {}", escape(&format::humanize(&a.skill))));
    foot.push(meta.join(" · "));
    foot.join("\n")
}

/// The full result as CSV (for long tables): header, then rows with raw values. Text that
/// a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) is
/// prefixed with `'`, so opening the file cannot execute anything.
pub fn csv(a: &Answer) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut rows: Vec<Vec<String>> = vec![a.columns.iter().map(|c| neutralise(c)).collect()];
    rows.extend(a.rows.iter().map(|r| r.iter().map(csv_cell).collect()));
    for r in rows {
        if w.write_record(&r).is_err() {
            break;
        }
    }
    w.into_inner()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn csv_cell(v: &crate::answer::model::Value) -> String {
    use crate::answer::model::Value as V;
    match v {
        V::Null => String::new(),
        V::Int(i) => i.to_string(),
        V::Float(f) => f.to_string(),
        V::Bool(b) => b.to_string(),
        V::Date(d) => d.to_string(),
        V::Timestamp(t) => t.to_string(),
        V::Text(s) => neutralise(s),
    }
}

/// Text a spreadsheet would read as a formula, made inert with a leading `'`.
pub fn neutralise(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
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
                crate::answer::model::Value::Text(INJECTION.into()),
                crate::answer::model::Value::Int(1),
            ],
            vec![
                crate::answer::model::Value::Text("SMB".into()),
                crate::answer::model::Value::Int(2),
            ],
        ];
        a.provenance.notes = vec![INJECTION.into()];
        crate::answer::metric_sections(&mut a);
        a.recommendations.clear();
        a.sections.push(Section::Notes {
            kind: NoteKind::Recommendation,
            title: INJECTION.into(),
            items: vec![INJECTION.into()],
            empty: None,
        });
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

    #[test]
    fn csv_cells_cannot_become_formulas() {
        let mut a = Answer::new("q", Status::Answered, "h".into());
        a.columns = vec!["name".into(), "n".into()];
        a.rows = vec![vec![
            crate::answer::model::Value::Text("=HYPERLINK(\"http://x\")".into()),
            crate::answer::model::Value::Int(-5),
        ]];
        let out = csv(&a);
        assert_eq!(out, "name,n\n\"'=HYPERLINK(\"\"http://x\"\")\",-5\n");
    }
}
