//! Slack payloads as the bot's inputs: which events are questions (mentions, DMs, replies
//! in threads), which clicks are actions, whatever transport (HTTP Events API, Socket Mode)
//! brought them. Pure functions of the payload; the bot decides what to do with them.

use serde_json::Value;
use slack_morphism::prelude::*;

/// A Slack input, whatever transport brought it.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A mention in a channel or a direct message.
    Message {
        user: String,
        channel: String,
        ts: String,
        thread_ts: Option<String>,
        text: String,
        /// True in a direct message with the bot.
        direct: bool,
    },
    /// A reply in a channel thread that does not mention the bot: a follow-up when the bot
    /// has answered in that thread, ignored otherwise.
    ThreadReply {
        user: String,
        channel: String,
        thread_ts: String,
        text: String,
    },
    /// `/cortex <text>`.
    Command {
        user: String,
        channel: String,
        text: String,
        /// Where to answer the asker alone when the bot cannot post in the channel.
        response_url: Option<SlackResponseUrl>,
    },
    /// A button under an answer.
    Action(Box<Click>),
}

/// A button click, with what the bot needs to act on it and to edit the message it sits on.
#[derive(Debug, Clone, PartialEq)]
pub struct Click {
    pub user: String,
    pub channel: String,
    pub message_ts: String,
    pub thread_ts: Option<String>,
    pub action_id: String,
    pub value: String,
    /// The button's label, as the person saw it.
    pub label: Option<String>,
    /// A link button (`url` set): Slack opens the link; the bot only acknowledges.
    pub link: bool,
    /// True when the message is ephemeral (only the asker sees it): it is edited and
    /// answered through `response_url`.
    pub ephemeral: bool,
    pub response_url: Option<SlackResponseUrl>,
    /// The message's blocks and text as Slack sent them, to edit used buttons away.
    pub message_blocks: Option<Vec<Value>>,
    pub message_text: Option<String>,
    /// Lets the bot open a modal in answer to the click (`views.open`).
    pub trigger_id: Option<String>,
}

/// Removes `<@U123>` mentions and tidies whitespace.
pub fn strip_mentions(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("<@") {
        out.push_str(&rest[..i]);
        match rest[i..].find('>') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True when `text` mentions the bot. Without the bot's id any mention counts: a message
/// that may be for the bot is left to its `app_mention` event.
fn mentions_bot(text: &str, bot_user: Option<&str>) -> bool {
    match bot_user {
        Some(b) => text.contains(&format!("<@{b}>")) || text.contains(&format!("<@{b}|")),
        None => text.contains("<@"),
    }
}

/// The question in an Events API callback, if it is one the bot answers: mentions, direct
/// messages from people, and replies in channel threads (answered only when the bot has
/// answered in the thread, see [`Incoming::ThreadReply`]). Bot messages, edits, deletions
/// and the bot's own messages are ignored; a thread reply that mentions the bot is left to
/// its `app_mention` event, so it is answered once.
pub fn incoming_from_event(
    ev: &SlackEventCallbackBody,
    bot_user: Option<&str>,
) -> Option<Incoming> {
    match ev {
        SlackEventCallbackBody::AppMention(m) => {
            if m.edited.is_some() || Some(m.user.0.as_str()) == bot_user {
                return None;
            }
            Some(Incoming::Message {
                user: m.user.0.clone(),
                channel: m.channel.0.clone(),
                ts: m.origin.ts.0.clone(),
                thread_ts: m.origin.thread_ts.as_ref().map(|t| t.0.clone()),
                text: strip_mentions(m.content.text.as_deref().unwrap_or_default()),
                direct: false,
            })
        }
        SlackEventCallbackBody::Message(m) => {
            let direct =
                matches!(m.origin.channel_type, Some(SlackChannelType(ref t)) if t == "im");
            let user = m.sender.user.as_ref()?;
            // A reply also sent to the channel is still a reply; every other subtype
            // (edits, deletions, joins, bot messages) is not a question.
            let plain = match &m.subtype {
                None => true,
                Some(SlackMessageEventType::ThreadBroadcast) => !direct,
                Some(_) => false,
            };
            if !plain
                || m.hidden == Some(true)
                || m.sender.bot_id.is_some()
                || Some(user.0.as_str()) == bot_user
            {
                return None;
            }
            let raw = m.content.as_ref()?.text.as_deref().unwrap_or_default();
            let channel = m.origin.channel.as_ref()?.0.clone();
            let thread_ts = m.origin.thread_ts.as_ref().map(|t| t.0.clone());
            if direct {
                return Some(Incoming::Message {
                    user: user.0.clone(),
                    channel,
                    ts: m.origin.ts.0.clone(),
                    thread_ts,
                    text: strip_mentions(raw),
                    direct: true,
                });
            }
            // In channels: only replies in a thread (not the thread's first message).
            let thread_ts = thread_ts.filter(|t| *t != m.origin.ts.0)?;
            if mentions_bot(raw, bot_user) {
                return None;
            }
            Some(Incoming::ThreadReply {
                user: user.0.clone(),
                channel,
                thread_ts,
                text: strip_mentions(raw),
            })
        }
        _ => None,
    }
}

/// True when `v` holds a button with this action id and a `url` (a link button).
fn is_link_button(v: &Value, action_id: &str) -> bool {
    match v {
        Value::Object(o) => {
            (o.get("action_id").and_then(Value::as_str) == Some(action_id)
                && o.get("url").is_some_and(|u| !u.is_null()))
                || o.values().any(|x| is_link_button(x, action_id))
        }
        Value::Array(a) => a.iter().any(|x| is_link_button(x, action_id)),
        _ => false,
    }
}

/// The button click in a block_actions payload.
pub fn incoming_from_actions(ev: &SlackInteractionBlockActionsEvent) -> Option<Incoming> {
    let action = ev.actions.as_ref()?.first()?;
    let (channel, message_ts, ephemeral) = match &ev.container {
        SlackInteractionActionContainer::Message(c) => (
            c.channel_id
                .clone()
                .or_else(|| ev.channel.as_ref().map(|c| c.id.clone()))?,
            c.message_ts.clone(),
            c.is_ephemeral.unwrap_or(false),
        ),
        _ => return None,
    };
    let message_blocks = ev
        .message
        .as_ref()
        .and_then(|m| m.content.blocks.as_ref())
        .and_then(|b| serde_json::to_value(b).ok())
        .and_then(|v| match v {
            Value::Array(a) => Some(a),
            _ => None,
        });
    let action_id = action.action_id.0.clone();
    let link = message_blocks
        .as_ref()
        .is_some_and(|b| b.iter().any(|x| is_link_button(x, &action_id)));
    let label = action.text.as_ref().and_then(|t| {
        serde_json::to_value(t)
            .ok()
            .and_then(|v| v["text"].as_str().map(str::to_string))
    });
    Some(Incoming::Action(Box::new(Click {
        user: ev.user.as_ref()?.id.0.clone(),
        channel: channel.0,
        thread_ts: ev
            .message
            .as_ref()
            .and_then(|m| m.origin.thread_ts.as_ref())
            .map(|t| t.0.clone()),
        message_ts: message_ts.0,
        action_id,
        value: action.value.clone().unwrap_or_default(),
        label,
        link,
        ephemeral,
        response_url: ev.response_url.clone(),
        message_blocks,
        message_text: ev.message.as_ref().and_then(|m| m.content.text.clone()),
        trigger_id: Some(ev.trigger_id.0.clone()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_stripped() {
        assert_eq!(strip_mentions("<@W111> Hi there!"), "Hi there!");
        assert_eq!(
            strip_mentions("what is <@U1|bob> ARR  <@U2>"),
            "what is ARR"
        );
        assert_eq!(strip_mentions("no mention"), "no mention");
        assert_eq!(strip_mentions("broken <@U1"), "broken <@U1");
    }

    fn message(
        text: &str,
        ts: &str,
        thread_ts: Option<&str>,
        channel_type: &str,
    ) -> SlackEventCallbackBody {
        let mut ev = serde_json::json!({"type": "message", "user": "U1", "text": text,
            "ts": ts, "channel": "C1", "channel_type": channel_type});
        if let Some(t) = thread_ts {
            ev["thread_ts"] = serde_json::json!(t);
        }
        serde_json::from_value(ev).expect("a message event")
    }

    #[test]
    fn channel_messages_are_thread_replies_only_without_a_mention() {
        let reply = message("and by plan?", "2.0", Some("1.0"), "channel");
        assert_eq!(
            incoming_from_event(&reply, Some("UBOT")),
            Some(Incoming::ThreadReply {
                user: "U1".into(),
                channel: "C1".into(),
                thread_ts: "1.0".into(),
                text: "and by plan?".into(),
            })
        );
        // Private channels too.
        let group = message("and by plan?", "2.0", Some("1.0"), "group");
        assert!(matches!(
            incoming_from_event(&group, Some("UBOT")),
            Some(Incoming::ThreadReply { .. })
        ));
        // A mention of the bot is its app_mention event's business.
        for text in ["<@UBOT> and by plan?", "and by <@UBOT|cortex> plan"] {
            let m = message(text, "2.0", Some("1.0"), "channel");
            assert_eq!(incoming_from_event(&m, Some("UBOT")), None, "{text}");
        }
        // A mention of someone else is a reply like any other.
        let other = message("ask <@U9> about plans", "2.0", Some("1.0"), "channel");
        assert!(incoming_from_event(&other, Some("UBOT")).is_some());
        // Without the bot's id, any mention is left to app_mention.
        assert_eq!(incoming_from_event(&other, None), None);
        // Top-level messages and a thread's first message are not replies.
        let top = message("and by plan?", "2.0", None, "channel");
        assert_eq!(incoming_from_event(&top, Some("UBOT")), None);
        let root = message("and by plan?", "1.0", Some("1.0"), "channel");
        assert_eq!(incoming_from_event(&root, Some("UBOT")), None);
        // In a DM every message is a question.
        let dm = message("ARR?", "2.0", None, "im");
        assert!(matches!(
            incoming_from_event(&dm, Some("UBOT")),
            Some(Incoming::Message { direct: true, .. })
        ));
    }
}
