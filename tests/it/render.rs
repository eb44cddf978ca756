//! Slack Block Kit and CSV renderings of answers (pure functions of the answer).

use cortex::answer::{ask, Status};
use cortex::planner::Vocabulary;
use cortex::render::slack::{actions, blocks, csv, table_is_cut, MAX_TABLE_ROWS};
use serde_json::Value;

use crate::helpers::{fixture, fixture_today};

fn action_ids(blocks: &[Value]) -> Vec<String> {
    blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn an_answer_has_headline_table_provenance_and_stable_buttons() {
    let f = fixture();
    let e = f.engine();
    let v = Vocabulary::new(&e.layer);
    let a = ask(
        &e,
        &v,
        "tickets by channel in October",
        fixture_today(),
        "cli:test",
    );
    assert_eq!(a.status, Status::Answered);
    let b = blocks(&a, "answer-42");
    insta::assert_snapshot!(serde_json::to_string_pretty(&b).expect("json"));
    assert_eq!(
        action_ids(&b),
        [
            actions::OPEN_HTML,
            actions::OPEN_PDF,
            actions::PUBLISH_NOTION,
            actions::FILE_LINEAR,
            actions::HELPFUL,
            actions::NOT_HELPFUL
        ]
    );
    for block in &b {
        if let Some(t) = block["text"]["text"].as_str() {
            assert!(t.len() <= 3000, "section too long for Slack");
        }
    }
}

#[test]
fn clarifying_questions_offer_their_choices_as_buttons() {
    let f = fixture();
    let e = f.engine();
    let v = Vocabulary::new(&e.layer);
    let a = ask(&e, &v, "Show me revenue", fixture_today(), "cli:test");
    assert_eq!(a.status, Status::Clarify);
    let b = blocks(&a, "answer-7");
    let ids = action_ids(&b);
    assert_eq!(ids.len(), a.choices.len().min(5));
    assert!(ids.iter().all(|i| i.starts_with(actions::CHOOSE)));
    let values: Vec<&str> = b[1]["elements"]
        .as_array()
        .expect("buttons")
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    assert!(values.contains(&"answer-7|arr"), "{values:?}");
    // No numbers and no answer buttons on a clarifying question.
    assert!(!ids.contains(&actions::HELPFUL.to_string()));
}

#[test]
fn long_tables_are_cut_with_a_note_and_the_csv_has_every_row() {
    let f = fixture();
    let e = f.engine();
    let v = Vocabulary::new(&e.layer);
    let mut a = ask(&e, &v, "tickets by day", fixture_today(), "cli:test");
    assert_eq!(a.status, Status::Answered);
    // Repeat the rows past the cut (rendering is a pure function of the answer).
    let rows = a.rows.clone();
    while a.rows.len() <= MAX_TABLE_ROWS {
        a.rows.extend(rows.iter().cloned());
    }
    a.sections.clear();
    cortex::answer::metric_sections(&mut a);
    assert!(table_is_cut(&a));
    let b = blocks(&a, "x");
    let note = b
        .iter()
        .find_map(|b| {
            b["elements"][0]["text"]
                .as_str()
                .filter(|t| t.starts_with("Showing"))
        })
        .expect("note");
    assert_eq!(
        note,
        format!(
            "Showing {MAX_TABLE_ROWS} of {} rows; the full result is attached as CSV.",
            a.rows.len()
        )
    );
    let c = csv(&a);
    assert_eq!(c.lines().count(), a.rows.len() + 1);
    assert!(c.starts_with("day,tickets\n2025-09-10,1\n"), "{c}");
}

#[test]
fn csv_quotes_what_needs_quoting() {
    let f = fixture();
    let e = f.engine();
    let v = Vocabulary::new(&e.layer);
    let mut a = ask(&e, &v, "tickets by channel", fixture_today(), "cli:test");
    assert_eq!(csv(&a), "channel,tickets\nemail,3\nchat,2\nvoice,1\n");
    a.rows[0][0] = cortex::warehouse::Value::Text("a, \"b\"".into());
    assert!(csv(&a).contains("\n\"a, \"\"b\"\"\",3\n"), "{}", csv(&a));
}

/// Renderers are pure functions of the answer: outside their tests they use nothing of the
/// crate but the answer model, the formatting module and each other.
#[test]
fn renderers_import_only_the_answer_model_and_formatting() {
    let dir = crate::helpers::project_dir().join("src/render");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("src/render") {
        let path = entry.expect("entry").path();
        let src = std::fs::read_to_string(&path).expect("read");
        let code = src.split("#[cfg(test)]").next().unwrap_or("");
        for (i, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let allowed = ["answer::model", "format", "render::"]
                    .iter()
                    .any(|p| rest.starts_with(p));
                assert!(
                    allowed,
                    "{}:{}: a renderer reaches outside the answer model: {line}",
                    path.display(),
                    i + 1
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 6, "{checked} renderer files");
}
