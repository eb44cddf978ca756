//! The Slack-post deliverer (outbox kind `slack.post`): briefings and signal messages.
//!
//! Payload: `{channel | user, text, blocks, file: {name, title, content_type, base64} | null}`.
//! A `user` is a direct message (conversations.open first). The message carries the
//! write's key in its metadata (`event_type: cortex_delivery`), and before posting the
//! recent history of the conversation is searched for it, so a retry after a crash finds
//! the message instead of posting it again. The PDF goes into the message's thread; a
//! found message that already has replies has its file.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::outbox::{BoxFuture, Deliverer, DeliveryError};
use crate::slack::bot::{upload_file, with_retry, Client, UploadFile};

/// The metadata event type of every delivered message.
pub const EVENT_TYPE: &str = "cortex_delivery";

/// How many recent messages are searched for an earlier delivery of the same key.
const HISTORY: u16 = 100;

/// Posts messages (and their PDF) to Slack, idempotently on the outbox key.
pub struct SlackPost {
    client: Arc<Client>,
    token: SlackApiToken,
}

impl SlackPost {
    pub fn new(api_url: &str, bot_token: &str) -> SlackPost {
        SlackPost {
            client: Arc::new(crate::slack::bot::client(api_url)),
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.to_string())),
        }
    }

    async fn post(&self, key: &str, p: &Value) -> Result<Value, DeliveryError> {
        let session = self.client.open_session(&self.token);
        let channel = match (p["channel"].as_str(), p["user"].as_str()) {
            (Some(c), _) => c.to_string(),
            (None, Some(u)) => {
                let req = SlackApiConversationsOpenRequest::new()
                    .with_users(vec![SlackUserId(u.to_string())])
                    .with_return_im(true);
                with_retry("conversations.open", || session.conversations_open(&req))
                    .await
                    .map_err(classify)?
                    .channel
                    .id
                    .0
            }
            (None, None) => return Err(DeliveryError::permanent("no channel or user to post to")),
        };
        // An earlier attempt may have posted it already (a crash before the bookkeeping).
        let history = SlackApiConversationsHistoryRequest::new()
            .with_channel(SlackChannelId(channel.clone()))
            .with_limit(HISTORY)
            .with_include_all_metadata(true);
        let found = with_retry("conversations.history", || {
            session.conversations_history(&history)
        })
        .await
        .map_err(classify)?
        .messages
        .into_iter()
        .find(|m| carries(m, key));
        let (ts, has_replies) = match found {
            Some(m) => (m.origin.ts.0.clone(), m.parent.reply_count.unwrap_or(0) > 0),
            None => {
                let blocks: Option<Vec<SlackBlock>> = match p.get("blocks") {
                    Some(b) if b.is_array() => serde_json::from_value(b.clone())
                        .map_err(|e| DeliveryError::permanent(format!("invalid blocks: {e}")))?,
                    _ => None,
                };
                let mut payload = std::collections::HashMap::new();
                payload.insert("key".to_string(), key.to_string());
                let content = SlackMessageContent::new()
                    .with_text(p["text"].as_str().unwrap_or("").to_string())
                    .opt_blocks(blocks)
                    .with_metadata(SlackMessageMetadata {
                        event_type: EVENT_TYPE.to_string(),
                        event_payload: Some(payload),
                    });
                let req =
                    SlackApiChatPostMessageRequest::new(SlackChannelId(channel.clone()), content);
                let r = with_retry("chat.postMessage", || session.chat_post_message(&req))
                    .await
                    .map_err(classify)?;
                (r.ts.0, false)
            }
        };
        let mut uploaded = has_replies;
        if let (Some(f), false) = (p.get("file").filter(|f| f.is_object()), has_replies) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(f["base64"].as_str().unwrap_or(""))
                .map_err(|e| DeliveryError::permanent(format!("invalid file content: {e}")))?;
            let file = UploadFile {
                filename: f["name"].as_str().unwrap_or("report.pdf"),
                title: f["title"].as_str().unwrap_or("Report (PDF)"),
                content_type: f["content_type"].as_str().unwrap_or("application/pdf"),
                content: bytes,
            };
            upload_file(&self.client, &self.token, &channel, Some(&ts), file)
                .await
                .map_err(classify)?;
            uploaded = true;
        }
        Ok(serde_json::json!({"channel": channel, "ts": ts, "file": uploaded}))
    }
}

/// True when a message carries this delivery's key in its metadata.
fn carries(m: &SlackHistoryMessage, key: &str) -> bool {
    m.content.metadata.as_ref().is_some_and(|md| {
        md.event_type == EVENT_TYPE
            && md
                .event_payload
                .as_ref()
                .and_then(|p| p.get("key"))
                .is_some_and(|k| k == key)
    })
}

/// Rate limits, network errors and Slack's own failures are retried; a refused request
/// (unknown channel, bad blocks) is permanent.
fn classify(e: SlackClientError) -> DeliveryError {
    match e {
        SlackClientError::RateLimitError(r) => DeliveryError::Retry {
            message: "Slack rate limit".into(),
            retry_after: r.retry_after,
        },
        SlackClientError::ApiError(a) => {
            let transient = matches!(
                a.code.as_str(),
                "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
                    | "ratelimited"
            );
            let message = format!("Slack refused it: {}", a.code);
            if transient {
                DeliveryError::retry(message)
            } else {
                DeliveryError::permanent(message)
            }
        }
        other => DeliveryError::retry(format!("Slack request failed: {other}")),
    }
}

impl Deliverer for SlackPost {
    fn kind(&self) -> &'static str {
        crate::schedule::deliver::SLACK_POST
    }

    fn deliver<'a>(
        &'a self,
        key: &'a str,
        payload: &'a Value,
    ) -> BoxFuture<'a, Result<Value, DeliveryError>> {
        Box::pin(self.post(key, payload))
    }
}
