//! Notion blocks and property values -> markdown and plain text. Pure functions over the
//! JSON shape of Notion's API (what notion-client's `Block` and `PageProperty` serialize to).

use serde_json::Value;

/// A block and the children fetched for it (list items, toggles, table rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The block as Notion's JSON.
    pub block: Value,
    pub children: Vec<Node>,
}

/// The plain text of a rich-text array, with inline marks as markdown.
pub fn rich_text(v: &Value) -> String {
    let Some(parts) = v.as_array() else {
        return String::new();
    };
    parts
        .iter()
        .map(|p| {
            let text = p
                .get("plain_text")
                .and_then(Value::as_str)
                .or_else(|| p.pointer("/text/content").and_then(Value::as_str))
                .unwrap_or("");
            let ann = |k: &str| p.pointer(&format!("/annotations/{k}")) == Some(&Value::Bool(true));
            let mut t = text.to_string();
            if t.trim().is_empty() {
                return t;
            }
            if ann("code") {
                t = format!("`{t}`");
            }
            if ann("bold") {
                t = format!("**{t}**");
            }
            if ann("italic") {
                t = format!("*{t}*");
            }
            if ann("strikethrough") {
                t = format!("~~{t}~~");
            }
            match p
                .get("href")
                .and_then(Value::as_str)
                .or_else(|| p.pointer("/text/link/url").and_then(Value::as_str))
            {
                Some(url) => format!("[{t}]({url})"),
                None => t,
            }
        })
        .collect()
}

/// Plain text of a rich-text array without marks (titles, table cells of properties).
pub fn plain_text(v: &Value) -> String {
    v.as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| {
                    p.get("plain_text")
                        .and_then(Value::as_str)
                        .or_else(|| p.pointer("/text/content").and_then(Value::as_str))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Blocks as markdown: headings, paragraphs, bulleted, numbered and to-do lists, quotes,
/// callouts, code, dividers, toggles and tables. Unknown blocks are skipped.
pub fn blocks_to_markdown(nodes: &[Node]) -> String {
    let mut out = String::new();
    render(nodes, 0, &mut out);
    // One blank line between blocks at most, one newline at the end.
    let mut tidy = String::new();
    let mut blank = 0;
    for line in out.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 || tidy.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        tidy.push_str(line.trim_end());
        tidy.push('\n');
    }
    tidy.trim_end().to_string() + "\n"
}

fn render(nodes: &[Node], depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let mut number = 0;
    for node in nodes {
        let b = &node.block;
        let kind = b.get("type").and_then(Value::as_str).unwrap_or("");
        let body = b.get(kind).cloned().unwrap_or(Value::Null);
        let text = rich_text(&body["rich_text"]);
        if kind == "numbered_list_item" {
            number += 1;
        } else {
            number = 0;
        }
        match kind {
            "heading_1" => out.push_str(&format!("\n# {text}\n\n")),
            "heading_2" => out.push_str(&format!("\n## {text}\n\n")),
            "heading_3" => out.push_str(&format!("\n### {text}\n\n")),
            "paragraph" => {
                out.push_str(&format!("{indent}{text}\n\n"));
                render(&node.children, depth, out);
            }
            "bulleted_list_item" | "numbered_list_item" | "to_do" | "toggle" => {
                let marker = match kind {
                    "numbered_list_item" => format!("{number}."),
                    "to_do" => {
                        if body["checked"] == Value::Bool(true) {
                            "- [x]".into()
                        } else {
                            "- [ ]".into()
                        }
                    }
                    _ => "-".into(),
                };
                out.push_str(&format!("{indent}{marker} {text}\n"));
                render(&node.children, depth + 1, out);
                if depth == 0 && !next_is_list_item(nodes, node) {
                    out.push('\n');
                }
            }
            "quote" | "callout" => {
                for line in text.lines() {
                    out.push_str(&format!("{indent}> {line}\n"));
                }
                out.push('\n');
            }
            "code" => {
                let lang = body["language"].as_str().unwrap_or("");
                let lang = if lang == "plain text" { "" } else { lang };
                out.push_str(&format!(
                    "```{lang}\n{}\n```\n\n",
                    plain_text(&body["rich_text"])
                ));
            }
            "divider" => out.push_str("\n---\n\n"),
            "table" => {
                let header = body["has_column_header"] == Value::Bool(true);
                let rows: Vec<Vec<String>> = node
                    .children
                    .iter()
                    .filter(|r| r.block["type"] == "table_row")
                    .map(|r| {
                        r.block["table_row"]["cells"]
                            .as_array()
                            .map(|cells| {
                                cells
                                    .iter()
                                    .map(|c| rich_text(c).replace('|', "\\|"))
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect();
                out.push_str(&markdown_table(&rows, header));
                out.push('\n');
            }
            "child_page" => {
                let title = body["title"].as_str().unwrap_or("");
                out.push_str(&format!("{indent}- (page) {title}\n\n"));
            }
            _ => {}
        }
    }
}

fn next_is_list_item(nodes: &[Node], node: &Node) -> bool {
    let i = nodes
        .iter()
        .position(|n| std::ptr::eq(n, node))
        .unwrap_or(nodes.len());
    let marker = |n: &Node| match n.block["type"].as_str() {
        Some("numbered_list_item") => 1,
        Some("to_do") => 2,
        _ => 0,
    };
    nodes.get(i + 1).is_some_and(|n| {
        matches!(
            n.block["type"].as_str(),
            Some("bulleted_list_item" | "numbered_list_item" | "to_do" | "toggle")
        ) && marker(n) == marker(node)
    })
}

/// A markdown table; the first row is the header when `header`, else an empty header.
pub fn markdown_table(rows: &[Vec<String>], header: bool) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return String::new();
    }
    let line = |cells: &[String]| {
        let mut l = String::from("|");
        for i in 0..width {
            l.push(' ');
            l.push_str(cells.get(i).map_or("", String::as_str));
            l.push_str(" |");
        }
        l.push('\n');
        l
    };
    let mut out = String::new();
    let mut body = rows;
    if header {
        out.push_str(&line(&rows[0]));
        body = &rows[1..];
    } else {
        out.push_str(&line(&vec![String::new(); width]));
    }
    out.push_str(&line(&vec!["---".to_string(); width]));
    for r in body {
        out.push_str(&line(r));
    }
    out
}

/// A page property's value as text ("" when empty): titles and text, numbers, selects,
/// statuses, multi-selects (comma-separated), dates (`start` or `start → end`), checkboxes,
/// people, URLs, emails, formulas, unique ids.
pub fn property_text(p: &Value) -> String {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    let v = &p[kind];
    match kind {
        "title" | "rich_text" => plain_text(v),
        "number" => v.as_f64().map(number_text).unwrap_or_default(),
        "select" | "status" => v["name"].as_str().unwrap_or("").to_string(),
        "multi_select" => v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        "date" => match (v["start"].as_str(), v["end"].as_str()) {
            (Some(s), Some(e)) => format!("{s} → {e}"),
            (Some(s), None) => s.to_string(),
            _ => String::new(),
        },
        "checkbox" => if v.as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        }
        .into(),
        "people" => v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        "url" | "email" | "phone_number" => v.as_str().unwrap_or("").to_string(),
        "formula" => {
            let t = v["type"].as_str().unwrap_or("");
            match &v[t] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.as_f64().map(number_text).unwrap_or_default(),
                Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
                _ => String::new(),
            }
        }
        "unique_id" => match (v["prefix"].as_str(), v["number"].as_i64()) {
            (Some(p), Some(n)) => format!("{p}-{n}"),
            (None, Some(n)) => n.to_string(),
            _ => String::new(),
        },
        "created_time" | "last_edited_time" => v.as_str().unwrap_or("").to_string(),
        _ => String::new(),
    }
}

/// A number as written: no trailing `.0`.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// The title of a page: its `title` property's text.
pub fn page_title(properties: &Value) -> String {
    properties
        .as_object()
        .and_then(|m| m.values().find(|p| p["type"] == "title"))
        .map(property_text)
        .unwrap_or_default()
}

/// A file name from a title: lowercase ASCII letters and digits joined by dashes.
pub fn slug(title: &str) -> String {
    let mut s = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-');
    let s: String = s.chars().take(60).collect();
    if s.is_empty() {
        "untitled".into()
    } else {
        s.trim_end_matches('-').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(s: &str) -> Value {
        json!([{"type": "text", "text": {"content": s, "link": null}, "plain_text": s}])
    }
    fn leaf(kind: &str, body: Value) -> Node {
        Node {
            block: json!({"type": kind, kind: body}),
            children: vec![],
        }
    }

    #[test]
    fn blocks_become_markdown() {
        let table = Node {
            block: json!({"type": "table", "table": {"table_width": 2, "has_column_header": true, "has_row_header": false}}),
            children: vec![
                leaf("table_row", json!({"cells": [rt("Segment"), rt("ARR")]})),
                leaf("table_row", json!({"cells": [rt("SMB"), rt("12|3")]})),
            ],
        };
        let nodes = vec![
            leaf("heading_1", json!({"rich_text": rt("Strategy")})),
            leaf("paragraph", json!({"rich_text": rt("Win big.")})),
            leaf("bulleted_list_item", json!({"rich_text": rt("one")})),
            leaf("bulleted_list_item", json!({"rich_text": rt("two")})),
            leaf("numbered_list_item", json!({"rich_text": rt("first")})),
            leaf("numbered_list_item", json!({"rich_text": rt("second")})),
            leaf("to_do", json!({"rich_text": rt("ship"), "checked": true})),
            leaf("quote", json!({"rich_text": rt("Said so.")})),
            leaf("divider", json!({})),
            leaf(
                "code",
                json!({"rich_text": rt("select 1"), "language": "sql", "caption": []}),
            ),
            table,
            leaf("unsupported", json!({})),
        ];
        assert_eq!(
            blocks_to_markdown(&nodes),
            "# Strategy\n\nWin big.\n\n- one\n- two\n\n1. first\n2. second\n\n- [x] ship\n\n\
             > Said so.\n\n---\n\n```sql\nselect 1\n```\n\n| Segment | ARR |\n| --- | --- |\n\
             | SMB | 12\\|3 |\n"
        );
    }

    #[test]
    fn marks_links_and_properties() {
        let v = json!([
            {"type": "text", "plain_text": "bold", "annotations": {"bold": true}, "href": null},
            {"type": "text", "plain_text": " and ", "href": null},
            {"type": "text", "plain_text": "link", "href": "https://x.test"}
        ]);
        assert_eq!(rich_text(&v), "**bold** and [link](https://x.test)");
        assert_eq!(
            property_text(&json!({"type": "number", "number": 155000000.0})),
            "155000000"
        );
        assert_eq!(
            property_text(
                &json!({"type": "multi_select", "multi_select": [{"name": "a"}, {"name": "b"}]})
            ),
            "a, b"
        );
        assert_eq!(
            property_text(&json!({"type": "date", "date": {"start": "2026-01-01", "end": null}})),
            "2026-01-01"
        );
        assert_eq!(
            slug("Strategy 2026: Move up-market!"),
            "strategy-2026-move-up-market"
        );
        assert_eq!(slug("¿¿"), "untitled");
    }
}
