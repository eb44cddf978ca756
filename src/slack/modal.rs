//! The "File Linear task" modal: the view `views.open` shows (prefilled from the answer's
//! task draft) and the reading of its `view_submission`. Pure functions over Block Kit
//! JSON; the bot does the calls.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::actions::linear::{IssueDraft, SlackThread};
use crate::render::slack::actions;

/// The modal's callback id: a `view_submission` with it is a task to file.
pub const CALLBACK_ID: &str = "cortex_linear_task";

const TITLE: (&str, &str) = ("task_title", "title");
const DESCRIPTION: (&str, &str) = ("task_description", "description");
const TEAM: (&str, &str) = ("task_team", "team");
const PRIORITY: (&str, &str) = ("task_priority", "priority");

/// Slack's limit on a plain-text input's value.
const INPUT_MAX: usize = 3000;

/// True for the action id of a "File Linear task" button (the answer's, or a proposed
/// task's `FILE_LINEAR_<i>`).
pub fn is_file_task(action_id: &str) -> bool {
    action_id == actions::FILE_LINEAR
        || action_id
            .strip_prefix(actions::FILE_LINEAR)
            .and_then(|r| r.strip_prefix('_'))
            .is_some_and(|i| i.parse::<usize>().is_ok())
}

/// The answer id and task index in a button's value (`<answer id>|<i>`, or the answer id
/// alone for its first task).
pub fn task_ref(value: &str) -> (String, usize) {
    match value.split_once('|') {
        Some((id, i)) => (id.to_string(), i.parse().unwrap_or(0)),
        None => (value.to_string(), 0),
    }
}

/// What the modal carries to its submission (`private_metadata`): which task, and where
/// to post the issue's link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(rename = "a")]
    pub answer_id: String,
    #[serde(rename = "i")]
    pub index: usize,
    #[serde(rename = "c")]
    pub channel: String,
    #[serde(rename = "t", default)]
    pub thread_ts: Option<String>,
}

fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text})
}

fn option(value: &str, label: &str) -> Value {
    json!({"text": plain(label), "value": value})
}

const PRIORITIES: [(u8, &str); 4] = [(1, "Urgent"), (2, "High"), (3, "Medium"), (4, "Low")];

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The modal, prefilled from `draft`; `teams` are the Linear team keys to choose from.
pub fn task_view(draft: &IssueDraft, teams: &[String], meta: &Metadata) -> Value {
    let team_options: Vec<Value> = teams.iter().map(|k| option(k, k)).collect();
    let team_initial = teams
        .iter()
        .find(|k| **k == draft.team_key)
        .map(|k| option(k, k));
    let prio_options: Vec<Value> = PRIORITIES
        .iter()
        .map(|(n, l)| option(&n.to_string(), l))
        .collect();
    let prio_initial = PRIORITIES
        .iter()
        .find(|(n, _)| *n == draft.priority)
        .map(|(n, l)| option(&n.to_string(), l));
    let mut team = json!({"type": "static_select", "action_id": TEAM.1, "options": team_options});
    if let Some(i) = team_initial {
        team["initial_option"] = i;
    }
    let mut prio =
        json!({"type": "static_select", "action_id": PRIORITY.1, "options": prio_options});
    if let Some(i) = prio_initial {
        prio["initial_option"] = i;
    }
    json!({
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": serde_json::to_string(meta).unwrap_or_default(),
        "title": plain("File Linear task"),
        "submit": plain("File"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "input", "block_id": TITLE.0, "label": plain("Title"),
             "element": {"type": "plain_text_input", "action_id": TITLE.1, "max_length": 250,
                         "initial_value": cut(&draft.title, 250)}},
            {"type": "input", "block_id": DESCRIPTION.0, "label": plain("Description"),
             "element": {"type": "plain_text_input", "action_id": DESCRIPTION.1, "multiline": true,
                         "max_length": INPUT_MAX, "initial_value": cut(&draft.description, INPUT_MAX)}},
            {"type": "input", "block_id": TEAM.0, "label": plain("Team"), "element": team},
            {"type": "input", "block_id": PRIORITY.0, "label": plain("Priority"), "element": prio},
        ]
    })
}

/// A submitted modal: which task, where to post, and the edited fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub user: String,
    pub meta: Metadata,
    pub title: Option<String>,
    pub description: Option<String>,
    pub team: Option<String>,
    pub priority: Option<u8>,
}

impl Submission {
    /// `draft` with the person's edits; a team outside `teams` is ignored.
    pub fn apply(&self, mut draft: IssueDraft, teams: &[String]) -> IssueDraft {
        if let Some(t) = self
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            draft.title = cut(t, 250);
        }
        if let Some(d) = self.description.as_deref().filter(|d| !d.trim().is_empty()) {
            draft.description = d.to_string();
        }
        if let Some(t) = self.team.as_ref().filter(|t| teams.contains(t)) {
            draft.team_key = t.clone();
        }
        if let Some(p) = self.priority.filter(|p| (1..=4).contains(p)) {
            draft.priority = p;
        }
        draft.notify = Some(SlackThread {
            channel: self.meta.channel.clone(),
            thread_ts: self.meta.thread_ts.clone(),
        });
        draft
    }
}

/// Reads a `view_submission` of the task modal (`None` for any other view).
pub fn submission(
    ev: &slack_morphism::prelude::SlackInteractionViewSubmissionEvent,
) -> Option<Submission> {
    let view = serde_json::to_value(&ev.view).ok()?;
    if view["callback_id"] != CALLBACK_ID {
        return None;
    }
    let meta: Metadata = serde_json::from_str(view["private_metadata"].as_str()?).ok()?;
    let values = &view["state"]["values"];
    let text = |(b, a): (&str, &str)| values[b][a]["value"].as_str().map(str::to_string);
    let selected = |(b, a): (&str, &str)| {
        values[b][a]["selected_option"]["value"]
            .as_str()
            .map(str::to_string)
    };
    Some(Submission {
        user: ev.user.id.0.clone(),
        meta,
        title: text(TITLE),
        description: text(DESCRIPTION),
        team: selected(TEAM),
        priority: selected(PRIORITY).and_then(|p| p.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_task_buttons_and_their_values_are_read() {
        assert!(is_file_task("cortex_file_linear_task"));
        assert!(is_file_task("cortex_file_linear_task_2"));
        assert!(!is_file_task("cortex_file_linear_taskx"));
        assert_eq!(task_ref("abc|2"), ("abc".to_string(), 2));
        assert_eq!(task_ref("abc"), ("abc".to_string(), 0));
    }

    #[test]
    fn the_modal_round_trips_through_slacks_model() {
        let draft = IssueDraft {
            team_key: "REV".into(),
            title: "Mid-Market is $92K short".into(),
            description: "**Headline**".into(),
            priority: 2,
            assignee_email: None,
            notify: None,
        };
        let meta = Metadata {
            answer_id: "a1".into(),
            index: 1,
            channel: "C1".into(),
            thread_ts: Some("1.2".into()),
        };
        let teams = vec!["ENG".to_string(), "REV".to_string()];
        let view = task_view(&draft, &teams, &meta);
        let parsed: slack_morphism::prelude::SlackView =
            serde_json::from_value(view.clone()).expect("a valid view");
        assert!(matches!(
            parsed,
            slack_morphism::prelude::SlackView::Modal(_)
        ));
        assert_eq!(
            view["blocks"][2]["element"]["initial_option"]["value"],
            "REV"
        );
        assert_eq!(view["blocks"][3]["element"]["initial_option"]["value"], "2");
        let sub = Submission {
            user: "U1".into(),
            meta: meta.clone(),
            title: Some("  New title ".into()),
            description: None,
            team: Some("NOPE".into()),
            priority: Some(1),
        };
        let filed = sub.apply(draft, &teams);
        assert_eq!(filed.title, "New title");
        assert_eq!(filed.team_key, "REV", "an unknown team is ignored");
        assert_eq!(filed.priority, 1);
        assert_eq!(
            filed.notify.expect("thread").thread_ts.as_deref(),
            Some("1.2")
        );
    }
}
