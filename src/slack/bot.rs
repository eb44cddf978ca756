//! The Slack bot: questions in (mentions, DMs, `/cortex`, button clicks), answers out
//! through the Web API (slack-morphism). Transport-independent: the HTTP Events API
//! endpoints and Socket Mode both turn Slack payloads into [`Incoming`] and hand them here.
//!
//! Every question is acknowledged at once and answered in a spawned task: a placeholder in
//! the thread, then the same message updated with the answer, then the chart and (for long
//! tables) the CSV as files in the thread. Failures reach the thread as a friendly message.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tracing::{debug, info, warn};

use crate::answer::Answer;
use crate::render::slack as blocks;
use crate::render::slack::actions;
use crate::render::slack::escape;
use crate::service::{Asked, Conversation, Request, Service};
use crate::state::Place;

/// The Web API client type: hyper with rustls (ring), http allowed for local fakes.
pub type Client = SlackClient<SlackClientHyperHttpsConnector>;

/// Builds the Web API client against `api_url` (`https://slack.com/api`, or a fake in tests).
pub fn client(api_url: &str) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match builder.with_native_roots() {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "no system CA certificates found; HTTPS to Slack will fail");
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                rustls::ClientConfig::builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            )
        }
    };
    let https = builder
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    SlackClient::new(SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url))
}

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
    /// `/cortex <text>`.
    Command {
        user: String,
        channel: String,
        text: String,
    },
    /// A button under an answer.
    Action {
        user: String,
        channel: String,
        message_ts: String,
        thread_ts: Option<String>,
        action_id: String,
        value: String,
    },
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

/// The question in an Events API callback, if it is one the bot answers: mentions, and
/// direct messages from people. Bot messages, edits, deletions and the bot's own messages
/// are ignored.
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
            if !direct
                || m.subtype.is_some()
                || m.hidden == Some(true)
                || m.sender.bot_id.is_some()
                || Some(user.0.as_str()) == bot_user
            {
                return None;
            }
            let text = strip_mentions(m.content.as_ref()?.text.as_deref().unwrap_or_default());
            Some(Incoming::Message {
                user: user.0.clone(),
                channel: m.origin.channel.as_ref()?.0.clone(),
                ts: m.origin.ts.0.clone(),
                thread_ts: m.origin.thread_ts.as_ref().map(|t| t.0.clone()),
                text,
                direct: true,
            })
        }
        _ => None,
    }
}

/// The button click in a block_actions payload.
pub fn incoming_from_actions(ev: &SlackInteractionBlockActionsEvent) -> Option<Incoming> {
    let action = ev.actions.as_ref()?.first()?;
    let (channel, message_ts) = match &ev.container {
        SlackInteractionActionContainer::Message(c) => (
            c.channel_id
                .clone()
                .or_else(|| ev.channel.as_ref().map(|c| c.id.clone()))?,
            c.message_ts.clone(),
        ),
        _ => return None,
    };
    Some(Incoming::Action {
        user: ev.user.as_ref()?.id.0.clone(),
        channel: channel.0,
        thread_ts: ev
            .message
            .as_ref()
            .and_then(|m| m.origin.thread_ts.as_ref())
            .map(|t| t.0.clone()),
        message_ts: message_ts.0,
        action_id: action.action_id.0.clone(),
        value: action.value.clone().unwrap_or_default(),
    })
}

/// Text for `/cortex help`, `/cortex skills`, `/cortex metrics`; `None` for a question.
fn command_reply(svc: &Service, text: &str) -> Option<String> {
    let t = text.trim();
    match t.to_ascii_lowercase().as_str() {
        "" | "help" => Some(format!(
            "*Ask me about the business in plain language.*\n\
             • Mention me in a channel: `@Cortex What's our ARR by segment?`\n\
             • DM me, or use `/cortex <question>`.\n\
             • Reply in my thread to follow up: _and by channel?_, _same for last quarter_.\n\
             • `/cortex skills` lists what I can do; `/cortex metrics` lists the governed metrics.\n\
             Every number comes from a governed metric definition; when I'm not sure, I ask.\n\
             Skills installed: {}.",
            svc.rt.skills.skills.len()
        )),
        "skills" => Some(
            svc.rt
                .skills
                .skills
                .iter()
                .map(|s| {
                    let ex = s
                        .examples
                        .first()
                        .map(|e| format!(" _e.g. \"{}\"_", escape(e)))
                        .unwrap_or_default();
                    format!(
                        "• *{}*: {}{ex}",
                        escape(&s.name),
                        escape(s.description.trim())
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "metrics" => Some(
            svc.rt
                .engine
                .layer
                .metrics
                .iter()
                .map(|m| {
                    format!(
                        "• *{}* (`{}`): {}",
                        escape(&m.label),
                        escape(&m.name),
                        escape(m.description.trim())
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

/// Calls the Web API, waiting out 429 answers as long as Slack's Retry-After says (up to
/// three times, at most 30 s each).
pub async fn with_retry<T, F, Fut>(what: &str, f: F) -> ClientResult<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ClientResult<T>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Err(SlackClientError::RateLimitError(e)) if attempt < 3 => {
                let wait = e
                    .retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(30));
                warn!(
                    method = what,
                    ?wait,
                    "Slack rate limit; retrying after the wait it asked for"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

const PLACEHOLDER: &str = ":hourglass_flowing_sand: Looking into it...";

/// The Slack bot.
pub struct Bot {
    pub svc: Arc<Service>,
    client: Arc<Client>,
    token: SlackApiToken,
    /// The bot's own user id (from auth.test), to ignore its own messages.
    pub bot_user: Option<String>,
    /// Base URL of the web site, for "Open as HTML" links.
    pub public_url: String,
    inflight: Arc<InFlight>,
}

struct Done(Arc<InFlight>);

impl Drop for Done {
    fn drop(&mut self) {
        if self.0.n.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.0.done.notify_waiters();
        }
    }
}

/// Counts spawned handlers, so shutdown and tests can wait for the work to finish.
#[derive(Default)]
struct InFlight {
    n: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

impl Bot {
    pub fn new(svc: Arc<Service>, client: Arc<Client>, bot_token: &str, public_url: &str) -> Bot {
        Bot {
            svc,
            client,
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.to_string())),
            bot_user: None,
            public_url: public_url.trim_end_matches('/').to_string(),
            inflight: Arc::default(),
        }
    }

    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// Looks up the bot's own user id; a failure only costs the self-message check.
    pub async fn identify(&mut self) {
        let session = self.client.open_session(&self.token);
        match session.auth_test().await {
            Ok(r) => {
                info!(user = %r.user_id.0, team = %r.team, "connected to Slack");
                self.bot_user = Some(r.user_id.0);
            }
            Err(e) => warn!(error = %e, "Slack auth.test failed; check the bot token"),
        }
    }

    /// A pushed event from either transport: answered once per event id (Slack retries
    /// deliveries it thinks were lost), ignored unless it is a question for the bot.
    pub fn on_event(self: &Arc<Self>, cb: &SlackPushEventCallback) {
        match self.svc.state.first_delivery(&cb.event_id.0) {
            Ok(true) => {}
            Ok(false) => {
                debug!(event_id = %cb.event_id.0, "Slack retried an event already handled");
                return;
            }
            Err(e) => warn!(error = %e, "could not check the event id; handling it"),
        }
        if let Some(inc) = incoming_from_event(&cb.event, self.bot_user.as_deref()) {
            self.spawn(inc);
        }
    }

    /// A slash command from either transport: returns the immediate (ephemeral) reply; a
    /// question is answered in the channel in the background.
    pub fn on_command(self: &Arc<Self>, cmd: &SlackCommandEvent) -> String {
        let text = cmd.text.clone().unwrap_or_default();
        if let Err(msg) = self.svc.rt.engine.config.ask.check(&text) {
            warn!(
                chars = text.chars().count(),
                "refused a /cortex question over the length limit"
            );
            return msg;
        }
        if let Some(reply) = command_reply(&self.svc, &text) {
            return reply;
        }
        self.spawn(Incoming::Command {
            user: cmd.user_id.0.clone(),
            channel: cmd.channel_id.0.clone(),
            text,
        });
        "Looking into it; the answer will appear in this channel.".to_string()
    }

    /// An interaction from either transport: button clicks are handled in the background.
    pub fn on_interaction(self: &Arc<Self>, ev: &SlackInteractionEvent) {
        if let SlackInteractionEvent::BlockActions(a) = ev {
            if let Some(inc) = incoming_from_actions(a) {
                self.spawn(inc);
            }
        }
    }

    /// Handles an input in the background and returns at once (Slack wants an
    /// acknowledgement within 3 seconds).
    pub fn spawn(self: &Arc<Self>, inc: Incoming) -> tokio::task::JoinHandle<()> {
        use std::sync::atomic::Ordering;
        let bot = Arc::clone(self);
        let inflight = Arc::clone(&self.inflight);
        inflight.n.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            // Counted down even if the handler panics.
            let _done = Done(inflight);
            bot.handle(inc).await;
        })
    }

    /// Waits until every spawned handler has finished.
    pub async fn idle(&self) {
        loop {
            let notified = self.inflight.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inflight.n.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Handles one input to the end: the answer is in Slack when this returns.
    pub async fn handle(&self, inc: Incoming) {
        // The length limit holds before anything is posted, echoed or planned.
        let limits = self.svc.rt.engine.config.ask;
        let (text, user, channel, thread) = match &inc {
            Incoming::Message {
                text,
                user,
                channel,
                ts,
                thread_ts,
                direct,
            } => (
                text,
                user,
                channel,
                thread_ts.clone().or_else(|| (!*direct).then(|| ts.clone())),
            ),
            Incoming::Command {
                text,
                user,
                channel,
            } => (text, user, channel, None),
            Incoming::Action {
                value,
                user,
                channel,
                ..
            } => (value, user, channel, None),
        };
        if let Err(msg) = limits.check(text) {
            warn!(
                user = %user,
                chars = text.chars().count(),
                "refused a Slack question over the length limit"
            );
            match (&inc, thread) {
                (Incoming::Message { .. }, t) => {
                    self.post(channel, t.as_deref(), &msg).await;
                }
                _ => self.ephemeral(channel, user, &msg).await,
            }
            return;
        }
        match inc {
            Incoming::Message {
                user,
                channel,
                ts,
                thread_ts,
                text,
                direct,
            } => {
                // In a DM the conversation is the DM itself unless the person used a thread.
                let (reply_in, key) = match (&thread_ts, direct) {
                    (Some(t), _) => (Some(t.clone()), t.clone()),
                    (None, true) => (None, "dm".to_string()),
                    (None, false) => (Some(ts.clone()), ts.clone()),
                };
                let req = request(&user, &channel, text, reply_in.as_deref(), &key, None);
                self.answer_in(&channel, reply_in.as_deref(), req).await;
            }
            Incoming::Command {
                user,
                channel,
                text,
            } => {
                let intro = format!("<@{user}> asked: _{}_", escape(text.trim()));
                let Some(root) = self.post(&channel, None, &intro).await else {
                    return;
                };
                let req = request(&user, &channel, text, Some(&root), &root, None);
                self.answer_in(&channel, Some(&root), req).await;
            }
            Incoming::Action {
                user,
                channel,
                message_ts,
                thread_ts,
                action_id,
                value,
            } => {
                let thread = thread_ts.unwrap_or(message_ts);
                self.action(&user, &channel, &thread, &action_id, &value)
                    .await;
            }
        }
    }

    async fn action(&self, user: &str, channel: &str, thread: &str, action_id: &str, value: &str) {
        match action_id {
            actions::HELPFUL | actions::NOT_HELPFUL => {
                let helpful = action_id == actions::HELPFUL;
                let msg =
                    match self
                        .svc
                        .state
                        .record_feedback(value, &format!("slack:{user}"), helpful)
                    {
                        Ok(()) => "Thanks, your feedback is recorded with this answer.",
                        Err(e) => {
                            warn!(error = %e, "could not record feedback");
                            "Sorry, I couldn't record your feedback just now."
                        }
                    };
                self.ephemeral(channel, user, msg).await;
            }
            actions::OPEN_HTML => {
                // Answer ids are hex: nothing else reaches the link.
                let id: String = value
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(64)
                    .collect();
                let link = format!("{}/a/{id}", self.public_url);
                self.ephemeral(
                    channel,
                    user,
                    &format!("Open this answer as a web page: <{link}>"),
                )
                .await;
            }
            actions::OPEN_PDF => self.send_pdf(channel, thread, user, value).await,
            actions::FILE_LINEAR => {
                self.ephemeral(
                    channel,
                    user,
                    "Filing Linear tasks isn't set up on this Cortex yet; ask the data team to connect Linear.",
                )
                .await;
            }
            id if id.starts_with(actions::CHOOSE) => {
                let Some((answer_id, choice)) = value.split_once('|') else {
                    return;
                };
                let earlier = match self.svc.state.answer(answer_id) {
                    Ok(a) => a.map(|a| a.question),
                    Err(e) => {
                        warn!(error = %e, "could not read the answer behind a choice");
                        None
                    }
                };
                let Some(original) = earlier else {
                    self.post(
                        channel,
                        Some(thread),
                        "That question has expired; please ask it again.",
                    )
                    .await;
                    return;
                };
                let choice = Some(choice.to_string());
                let req = request(user, channel, original, Some(thread), thread, choice);
                self.answer_in(channel, Some(thread), req).await;
            }
            other => info!(action = other, "ignoring an unknown Slack action"),
        }
    }

    /// Placeholder, answer, files.
    async fn answer_in(&self, channel: &str, thread: Option<&str>, req: Request) {
        let Some(placeholder) = self.post(channel, thread, PLACEHOLDER).await else {
            return;
        };
        let asked = self.svc.ask(req).await;
        self.deliver(
            channel,
            thread.unwrap_or(&placeholder),
            &placeholder,
            &asked,
        )
        .await;
    }

    /// Replaces the placeholder with the answer, then attaches chart and CSV.
    async fn deliver(&self, channel: &str, thread: &str, placeholder: &str, asked: &Asked) {
        let a: &Answer = &asked.answer;
        let raw = blocks::blocks(a, &asked.id);
        let parsed: Option<Vec<SlackBlock>> =
            serde_json::from_value(serde_json::Value::Array(raw)).ok();
        let fallback = fallback_text(a);
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_string()),
            SlackMessageContent::new()
                .with_text(fallback.clone())
                .opt_blocks(parsed),
            SlackTs(placeholder.to_string()),
        );
        if let Err(e) = with_retry("chat.update", || session.chat_update(&req)).await {
            warn!(error = %e, "chat.update failed; posting the answer as a new message");
            self.post(channel, Some(thread), &fallback).await;
        }
        if let Some(chart) = a.charts().first().map(|c| (*c).clone()) {
            match crate::render::chart::svg(&chart, 900, 480)
                .and_then(|s| crate::render::chart::png(&s, 2.0))
            {
                Ok(png) => {
                    self.upload(channel, thread, "chart.png", &chart.title, "image/png", png)
                        .await
                }
                Err(e) => warn!(error = %e, "chart rendering failed"),
            }
        }
        if blocks::table_is_cut(a) {
            let csv = blocks::csv(a).into_bytes();
            self.upload(
                channel,
                thread,
                "result.csv",
                "Full result (CSV)",
                "text/csv",
                csv,
            )
            .await;
        }
    }

    async fn send_pdf(&self, channel: &str, thread: &str, user: &str, answer_id: &str) {
        let (name, pdf) = match self.svc.pdf(answer_id).await {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "PDF rendering failed");
                self.ephemeral(
                    channel,
                    user,
                    &format!("Sorry, I couldn't make the PDF: {}", escape(&e)),
                )
                .await;
                return;
            }
        };
        self.upload(
            channel,
            thread,
            &name,
            "Report (PDF)",
            "application/pdf",
            pdf,
        )
        .await;
    }

    /// Posts a message; returns its ts. Failures are logged (there is nowhere else to say them).
    pub async fn post(&self, channel: &str, thread: Option<&str>, text: &str) -> Option<String> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostMessageRequest::new(
            SlackChannelId(channel.to_string()),
            SlackMessageContent::new().with_text(text.to_string()),
        )
        .opt_thread_ts(thread.map(|t| SlackTs(t.to_string())));
        match with_retry("chat.postMessage", || session.chat_post_message(&req)).await {
            Ok(r) => Some(r.ts.0),
            Err(e) => {
                warn!(error = %e, channel, "chat.postMessage failed");
                None
            }
        }
    }

    async fn ephemeral(&self, channel: &str, user: &str, text: &str) {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId(channel.to_string()),
            SlackUserId(user.to_string()),
            SlackMessageContent::new().with_text(text.to_string()),
        );
        if let Err(e) = with_retry("chat.postEphemeral", || session.chat_post_ephemeral(&req)).await
        {
            warn!(error = %e, "chat.postEphemeral failed");
        }
    }

    /// Uploads a file into the thread (files.getUploadURLExternal, upload,
    /// files.completeUploadExternal).
    async fn upload(
        &self,
        channel: &str,
        thread: &str,
        filename: &str,
        title: &str,
        content_type: &str,
        content: Vec<u8>,
    ) {
        let session = self.client.open_session(&self.token);
        let get =
            SlackApiFilesGetUploadUrlExternalRequest::new(filename.to_string(), content.len());
        let url = match with_retry("files.getUploadURLExternal", || {
            session.get_upload_url_external(&get)
        })
        .await
        {
            Ok(u) => u,
            Err(e) => {
                warn!(error = %e, filename, "files.getUploadURLExternal failed");
                return;
            }
        };
        let put = SlackApiFilesUploadViaUrlRequest::new(
            url.upload_url.clone(),
            content,
            content_type.to_string(),
        );
        if let Err(e) = with_retry("file upload", || session.files_upload_via_url(&put)).await {
            warn!(error = %e, filename, "file upload failed");
            return;
        }
        let done =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                url.file_id.clone(),
            )
            .with_title(title.to_string())])
            .with_channel_id(SlackChannelId(channel.to_string()))
            .with_thread_ts(SlackTs(thread.to_string()));
        if let Err(e) = with_retry("files.completeUploadExternal", || {
            session.files_complete_upload_external(&done)
        })
        .await
        {
            warn!(error = %e, filename, "files.completeUploadExternal failed");
        }
    }
}

/// A question asked in Slack: the conversation is the thread (or the DM), keyed by `key`.
fn request(
    user: &str,
    channel: &str,
    question: String,
    thread: Option<&str>,
    key: &str,
    choice: Option<String>,
) -> Request {
    Request {
        question,
        asker: Some(user.to_string()),
        requester: format!("slack:{user}"),
        conversation: Some(Conversation {
            channel: channel.to_string(),
            key: key.to_string(),
        }),
        choice,
        place: Place {
            channel: Some(channel.to_string()),
            thread_ts: thread.map(str::to_string),
        },
    }
}

/// The notification text (and what screen readers read): the headline or message.
fn fallback_text(a: &Answer) -> String {
    let t = a
        .narrative
        .as_deref()
        .filter(|n| blocks::unsafe_narrative(n).is_none())
        .unwrap_or(&a.headline);
    if t.is_empty() {
        escape(a.text.lines().next().unwrap_or("Answer"))
    } else {
        escape(t)
    }
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
}
