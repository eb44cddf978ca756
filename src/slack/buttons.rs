//! Buttons replaced once used: after a clarifying choice or feedback, the message is edited
//! so the used buttons give way to a context line ("You chose *Net revenue*"). Pure
//! functions over Block Kit JSON, so they work on whatever the renderer produced.

use serde_json::{json, Value};

use crate::render::slack::{actions, escape};

/// True for the action ids of clarifying choices.
pub fn is_choice(action_id: &str) -> bool {
    action_id.starts_with(actions::CHOOSE)
}

/// True for the action ids of the feedback buttons.
pub fn is_feedback(action_id: &str) -> bool {
    action_id == actions::HELPFUL || action_id == actions::NOT_HELPFUL
}

/// A context block with one mrkdwn line.
pub fn context_line(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
}

/// The line that replaces clarifying buttons; `label` is what the person clicked.
pub fn chose_line(label: &str) -> String {
    format!("You chose *{}*", escape(label.trim()))
}

/// The line that replaces feedback buttons.
pub const FEEDBACK_LINE: &str = "Thanks, feedback recorded.";

/// `blocks` with every button whose action id `used` accepts taken out: an actions block
/// left empty becomes the context `line`, one with other buttons keeps them and gets the
/// line after it. `None` when no such button is there (nothing to edit).
pub fn replace_used(
    blocks: &[Value],
    used: impl Fn(&str) -> bool,
    line: &str,
) -> Option<Vec<Value>> {
    let mut out = Vec::with_capacity(blocks.len() + 1);
    let mut replaced = false;
    for b in blocks {
        let elements = match (b["type"].as_str(), b["elements"].as_array()) {
            (Some("actions"), Some(e)) => e,
            _ => {
                out.push(b.clone());
                continue;
            }
        };
        let kept: Vec<Value> = elements
            .iter()
            .filter(|e| !e["action_id"].as_str().is_some_and(&used))
            .cloned()
            .collect();
        if kept.len() == elements.len() {
            out.push(b.clone());
            continue;
        }
        if !replaced {
            replaced = true;
            if !kept.is_empty() {
                let mut rest = b.clone();
                rest["elements"] = Value::Array(kept);
                out.push(rest);
            }
            out.push(context_line(line));
        } else if !kept.is_empty() {
            let mut rest = b.clone();
            rest["elements"] = Value::Array(kept);
            out.push(rest);
        }
    }
    replaced.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(id: &str) -> Value {
        json!({"type": "button", "text": {"type": "plain_text", "text": id}, "action_id": id, "value": "a1"})
    }

    #[test]
    fn clarifying_buttons_become_the_choice() {
        let blocks = vec![
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "Which revenue?"}}),
            json!({"type": "actions", "elements": [button("cortex_choose_0"), button("cortex_choose_1")]}),
        ];
        let out = replace_used(&blocks, is_choice, &chose_line("Net revenue")).expect("edited");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], blocks[0]);
        assert_eq!(out[1]["type"], "context");
        assert_eq!(out[1]["elements"][0]["text"], "You chose *Net revenue*");
        // Done once: nothing left to replace.
        assert!(replace_used(&out, is_choice, "again").is_none());
    }

    #[test]
    fn feedback_buttons_go_and_the_others_stay() {
        let blocks = vec![json!({"type": "actions", "elements": [
            button(actions::OPEN_HTML),
            button(actions::OPEN_PDF),
            button(actions::HELPFUL),
            button(actions::NOT_HELPFUL),
        ]})];
        let out = replace_used(&blocks, is_feedback, FEEDBACK_LINE).expect("edited");
        assert_eq!(out.len(), 2);
        let ids: Vec<&str> = out[0]["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .filter_map(|e| e["action_id"].as_str())
            .collect();
        assert_eq!(ids, vec![actions::OPEN_HTML, actions::OPEN_PDF]);
        assert_eq!(out[1]["elements"][0]["text"], FEEDBACK_LINE);
        // Feedback buttons in a block of their own: the block becomes the line.
        let own = vec![
            json!({"type": "actions", "elements": [button(actions::HELPFUL), button(actions::NOT_HELPFUL)]}),
        ];
        let out = replace_used(&own, is_feedback, FEEDBACK_LINE).expect("edited");
        assert_eq!(out, vec![context_line(FEEDBACK_LINE)]);
    }

    #[test]
    fn the_chosen_label_is_escaped() {
        assert_eq!(
            chose_line(" <!channel> & co "),
            "You chose *&lt;!channel&gt; &amp; co*"
        );
    }
}
