//! The Slack bot: questions in (mentions, DMs, `/cortex`, button clicks), answers out
//! through the Web API (slack-morphism). Transport-independent: the HTTP Events API
//! endpoints and Socket Mode both turn Slack payloads into [`Incoming`] and hand them here.
//!
//! Every question is acknowledged at once and answered in a spawned task: a placeholder in
//! the thread, then the same message updated with the answer, then the chart and (for long
//! tables) the CSV as files in the thread (in a DM: in the conversation, beside the answer).
//! Failures reach the thread as a friendly message.
//!
//! - Replies in a thread the bot answered in are follow-ups, with or without a mention; a
//!   mention arrives twice (`app_mention` and `message`) and is answered once.
//! - `/cortex` in a channel the bot is not in answers the asker alone through the command's
//!   `response_url`, with a hint to invite the bot.
//! - Used buttons (a clarifying choice, feedback) are replaced by a line saying what was done;
//!   a choice is acted on once per answer. Link buttons are acknowledged and nothing else.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tracing::{debug, info, warn};

use serde_json::{json, Value};

use super::buttons;
use super::help::command_reply;
pub use super::incoming::{
    incoming_from_actions, incoming_from_event, strip_mentions, Click, Incoming,
};
use super::modal;
use super::names;
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
    /// question is answered in the background, in the channel (or, when the bot is not in
    /// it, to the asker alone through the command's `response_url`).
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
            response_url: Some(cmd.response_url.clone()),
        });
        "Looking into it...".to_string()
    }

    /// An interaction from either transport: button clicks are handled in the background.
    pub fn on_interaction(self: &Arc<Self>, ev: &SlackInteractionEvent) {
        match ev {
            SlackInteractionEvent::BlockActions(a) => {
                if let Some(inc) = incoming_from_actions(a) {
                    self.spawn(inc);
                }
            }
            SlackInteractionEvent::ViewSubmission(v) => {
                // Slack closes the modal on the empty acknowledgement; the filing goes on.
                if let Some(sub) = modal::submission(v) {
                    let bot = Arc::clone(self);
                    self.track(async move { bot.file_task(sub).await });
                }
            }
            _ => {}
        }
    }

    /// Handles an input in the background and returns at once (Slack wants an
    /// acknowledgement within 3 seconds).
    pub fn spawn(self: &Arc<Self>, inc: Incoming) -> tokio::task::JoinHandle<()> {
        let bot = Arc::clone(self);
        self.track(async move { bot.handle(inc).await })
    }

    /// Runs `work` in the background, counted until it ends (see [`Bot::idle`]).
    fn track(
        &self,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        use std::sync::atomic::Ordering;
        let inflight = Arc::clone(&self.inflight);
        inflight.n.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            // Counted down even if the handler panics.
            let _done = Done(inflight);
            work.await;
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

    /// True when the bot has answered in this channel thread before.
    fn knows_thread(&self, channel: &str, thread_ts: &str) -> bool {
        match self.svc.state.thread(channel, thread_ts) {
            Ok(known) => known.is_some(),
            Err(e) => {
                warn!(error = %e, "could not read the thread; ignoring the reply");
                false
            }
        }
    }

    /// Handles one input to the end: the answer is in Slack when this returns.
    pub async fn handle(&self, inc: Incoming) {
        // A reply in someone else's thread is none of the bot's business: not even a
        // refusal is posted there.
        if let Incoming::ThreadReply {
            channel, thread_ts, ..
        } = &inc
        {
            if !self.knows_thread(channel, thread_ts) {
                debug!(
                    channel,
                    thread_ts, "a reply in a thread the bot has not answered in"
                );
                return;
            }
        }
        if let Incoming::Action(c) = &inc {
            if c.link {
                // Slack opens the link; the click only needs its acknowledgement.
                debug!(action = %c.action_id, "link button clicked");
                return;
            }
        }
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
            Incoming::ThreadReply {
                text,
                user,
                channel,
                thread_ts,
            } => (text, user, channel, Some(thread_ts.clone())),
            Incoming::Command {
                text,
                user,
                channel,
                ..
            } => (text, user, channel, None),
            Incoming::Action(c) => (&c.value, &c.user, &c.channel, None),
        };
        if let Err(msg) = limits.check(text) {
            warn!(
                user = %user,
                chars = text.chars().count(),
                "refused a Slack question over the length limit"
            );
            match (&inc, thread) {
                (Incoming::Message { .. } | Incoming::ThreadReply { .. }, t) => {
                    self.post(channel, t.as_deref(), &msg).await;
                }
                (Incoming::Action(c), _) => self.tell(c, &msg).await,
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
            Incoming::ThreadReply {
                user,
                channel,
                thread_ts,
                text,
            } => {
                let req = request(&user, &channel, text, Some(&thread_ts), &thread_ts, None);
                self.answer_in(&channel, Some(&thread_ts), req).await;
            }
            Incoming::Command {
                user,
                channel,
                text,
                response_url,
            } => {
                let intro = format!("<@{user}> asked: _{}_", escape(text.trim()));
                let root = match self.try_post(&channel, None, &intro).await {
                    Ok(ts) => ts,
                    Err(e) => {
                        // Whatever stops the post, the asker still gets the answer.
                        let not_in = cannot_post_in(&e);
                        match response_url {
                            Some(url) => {
                                info!(channel, error = %e, not_in, "can't post in the channel; answering the asker alone");
                                let req = private_request(&user, &channel, text, None);
                                self.answer_privately(&url, req, false, not_in).await;
                            }
                            None => warn!(error = %e, channel, "chat.postMessage failed"),
                        }
                        return;
                    }
                };
                let req = request(&user, &channel, text, Some(&root), &root, None);
                self.answer_in(&channel, Some(&root), req).await;
            }
            Incoming::Action(click) => self.action(&click).await,
        }
    }

    /// "File Linear task": opens the modal prefilled from the answer's task (or says
    /// Linear is not connected).
    /// "Publish to Notion": one page per answer through the outbox; the page's link goes in
    /// the thread (or privately under a /cortex answer) once Notion confirms it.
    async fn publish_notion(&self, c: &Click, thread: Option<&str>) {
        use crate::actions::publish::{self, Published};
        let requester = format!("slack:{}", c.user);
        match publish::may_publish(&self.svc, &requester, &c.value) {
            Ok(true) => {}
            Ok(false) => {
                self.tell(c, "That answer has expired or isn't yours to publish.")
                    .await;
                return;
            }
            Err(e) => {
                warn!(error = %e, "could not read the answer to publish");
                self.tell(c, "Sorry, I couldn't publish that just now.")
                    .await;
                return;
            }
        }
        // Published already (a second click, a retried request): the thread has the link;
        // only the clicker is told again.
        if let Ok(Some(Published::Done { url })) = publish::status(&self.svc, &c.value) {
            self.tell(
                c,
                &format!(
                    "Already published to Notion: <{}|open the page>",
                    escape(&url)
                ),
            )
            .await;
            return;
        }
        match publish::publish(&self.svc, &c.value, Duration::from_secs(5)).await {
            Ok(Published::Done { url }) if !c.ephemeral => {
                self.post(
                    &c.channel,
                    thread,
                    &format!("Published to Notion: <{}|open the page>", escape(&url)),
                )
                .await;
            }
            Ok(Published::Done { url }) => {
                self.tell(
                    c,
                    &format!("Published to Notion: <{}|open the page>", escape(&url)),
                )
                .await;
            }
            Ok(Published::Queued) => {
                self.tell(
                    c,
                    "Queued: Notion hasn't confirmed the page yet. It will be created once; the audit page shows it.",
                )
                .await;
            }
            Ok(Published::Failed(e)) => {
                self.tell(c, &format!("Publishing failed: {}", escape(&e)))
                    .await;
            }
            Err(e) => self.tell(c, &e.to_string()).await,
        }
    }

    async fn open_task_modal(&self, c: &Click, reply_in: Option<String>) {
        let (answer_id, index) = modal::task_ref(&c.value);
        let draft = match crate::actions::task::draft(&self.svc, &answer_id, index) {
            Ok(d) => d,
            Err(e) => {
                self.tell(c, &e.to_string()).await;
                return;
            }
        };
        let Some(cfg) = self.svc.rt.engine.config.linear.as_ref() else {
            return;
        };
        let Some(trigger) = c.trigger_id.clone() else {
            warn!("a File Linear task click without a trigger id");
            return;
        };
        let meta = modal::Metadata {
            answer_id,
            index,
            channel: c.channel.clone(),
            thread_ts: reply_in,
        };
        let view = modal::task_view(&draft, &cfg.team_keys(), &meta);
        let view: SlackView = match serde_json::from_value(view) {
            Ok(v) => v,
            Err(e) => {
                warn!(error = %e, "the task modal is not a valid view");
                return;
            }
        };
        let session = self.client.open_session(&self.token);
        let req = SlackApiViewsOpenRequest::new(SlackTriggerId(trigger), view);
        if let Err(e) = with_retry("views.open", || session.views_open(&req)).await {
            warn!(error = %e, "views.open failed");
            self.tell(c, "Sorry, I couldn't open the task form just now.")
                .await;
        }
    }

    /// A submitted task modal: queued in the outbox (the same answer and task is the same
    /// issue, however often it is submitted). The deliverer posts the link in the
    /// thread once filed; here the thread hears only when it is queued or failed.
    async fn file_task(&self, sub: modal::Submission) {
        let m = &sub.meta;
        let Some(cfg) = self.svc.rt.engine.config.linear.as_ref() else {
            return;
        };
        let draft = match crate::actions::task::draft(&self.svc, &m.answer_id, m.index) {
            Ok(d) => sub.apply(d, &cfg.team_keys()),
            Err(e) => {
                self.ephemeral(&m.channel, &sub.user, &e.to_string()).await;
                return;
            }
        };
        let filed = crate::actions::task::file(
            &self.svc,
            &m.answer_id,
            m.index,
            &draft,
            Duration::from_secs(5),
        )
        .await;
        info!(answer = %m.answer_id, index = m.index, user = %sub.user, "Linear task submitted from Slack");
        use crate::actions::task::Filed;
        let note = match filed {
            Ok(Filed::Done { .. }) => None,
            Ok(Filed::Queued) => Some(
                "Linear isn't answering just now; the task is queued and its link will be posted here once it is filed."
                    .to_string(),
            ),
            Ok(Filed::Failed(e)) => Some(format!("Sorry, Linear refused the task: {}", escape(&e))),
            Err(e) => Some(e.to_string()),
        };
        if let Some(n) = note {
            self.post(&m.channel, m.thread_ts.as_deref(), &n).await;
        }
    }

    /// The answer's page on the web site. Answer ids are hex: nothing else reaches the link.
    fn answer_link(&self, answer_id: &str) -> String {
        let id: String = answer_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(64)
            .collect();
        format!("{}/a/{id}", self.public_url)
    }

    /// Where a button's follow-up goes: the answer's thread in channels, the conversation
    /// itself in a DM (unless the person used a thread there).
    fn reply_place(c: &Click) -> (Option<String>, String) {
        match (&c.thread_ts, is_dm(&c.channel)) {
            (Some(t), _) => (Some(t.clone()), t.clone()),
            (None, true) => (None, "dm".to_string()),
            (None, false) => (Some(c.message_ts.clone()), c.message_ts.clone()),
        }
    }

    async fn action(&self, c: &Click) {
        let (user, channel, value) = (c.user.as_str(), c.channel.as_str(), c.value.as_str());
        let (reply_in, key) = Self::reply_place(c);
        match c.action_id.as_str() {
            id if buttons::is_feedback(id) => {
                let helpful = id == actions::HELPFUL;
                // One vote per person and answer, however often the button is clicked.
                let first = self
                    .svc
                    .state
                    .first_delivery(&format!("feedback:{value}:{user}"))
                    .unwrap_or(true);
                if first {
                    if let Err(e) =
                        self.svc
                            .state
                            .record_feedback(value, &format!("slack:{user}"), helpful)
                    {
                        warn!(error = %e, "could not record feedback");
                        self.tell(c, "Sorry, I couldn't record your feedback just now.")
                            .await;
                        return;
                    }
                }
                self.replace_used(c, value, buttons::is_feedback, buttons::FEEDBACK_LINE)
                    .await;
            }
            actions::OPEN_HTML => {
                let link = self.answer_link(value);
                self.tell(c, &format!("Open this answer as a web page: <{link}>"))
                    .await;
            }
            actions::OPEN_PDF if c.ephemeral => {
                // An answer only the asker sees: the bot is not in the channel, so no file
                // can go there.
                let link = self.answer_link(value);
                self.tell(
                    c,
                    &format!(
                        "I can't attach files in a channel I'm not in. The answer is at <{link}>; {INVITE_HINT}"
                    ),
                )
                .await;
            }
            actions::OPEN_PDF => self.send_pdf(c, reply_in.as_deref()).await,
            actions::SIGNAL_MUTE | actions::SIGNAL_NOT_USEFUL => self.signal_button(c).await,
            id if modal::is_file_task(id) => self.open_task_modal(c, reply_in).await,
            actions::PUBLISH_NOTION => self.publish_notion(c, reply_in.as_deref()).await,
            id if buttons::is_choice(id) => {
                let Some((answer_id, choice)) = value.split_once('|') else {
                    return;
                };
                // A clarifying question is settled once: a second click (another person,
                // a stale client) asks nothing again.
                match self
                    .svc
                    .state
                    .first_delivery(&format!("choice:{answer_id}"))
                {
                    Ok(true) => {}
                    Ok(false) => {
                        info!(
                            answer_id,
                            "a clarifying question already answered; ignoring the click"
                        );
                        return;
                    }
                    Err(e) => warn!(error = %e, "could not check the choice; acting on it"),
                }
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
                        reply_in.as_deref(),
                        "That question has expired; please ask it again.",
                    )
                    .await;
                    return;
                };
                let label = self.choice_label(choice, c.label.as_deref());
                let choice = Some(choice.to_string());
                if c.ephemeral {
                    // Only the asker sees the question (the bot is not in the channel): the
                    // answer replaces it, for the asker alone.
                    if let Some(url) = &c.response_url {
                        let req = private_request(user, channel, original, choice);
                        self.answer_privately(url, req, true, true).await;
                    }
                    return;
                }
                self.replace_used(
                    c,
                    answer_id,
                    buttons::is_choice,
                    &buttons::chose_line(&label),
                )
                .await;
                let req = request(user, channel, original, reply_in.as_deref(), &key, choice);
                self.answer_in(channel, reply_in.as_deref(), req).await;
            }
            id if id.starts_with(actions::SUGGEST) => {
                // A suggested next question, asked as a new question (not a follow-up: it
                // is whole), where the answer was.
                let question = value.to_string();
                if c.ephemeral {
                    if let Some(url) = &c.response_url {
                        let req = private_request(user, channel, question, None);
                        self.answer_privately(url, req, false, true).await;
                    }
                    return;
                }
                let req = Request {
                    question,
                    asker: Some(user.to_string()),
                    requester: format!("slack:{user}"),
                    conversation: None,
                    choice: None,
                    place: Place {
                        channel: Some(channel.to_string()),
                        thread_ts: reply_in.clone(),
                    },
                };
                self.answer_in(channel, reply_in.as_deref(), req).await;
            }
            other => info!(action = other, "ignoring an unknown Slack action"),
        }
    }

    /// What a choice reads as: the metric's label, else the button's text as the person
    /// saw it, else the choice itself.
    fn choice_label(&self, choice: &str, button: Option<&str>) -> String {
        match self.svc.rt.engine.layer.metric(choice) {
            Some(m) => m.label.clone(),
            None => button.map_or_else(|| choice.replace('_', " "), str::to_string),
        }
    }

    /// An answer by id: a recent one from memory, an older one from the state database.
    fn stored_answer(&self, answer_id: &str) -> Option<Arc<Answer>> {
        self.svc
            .recent(answer_id)
            .or_else(|| match self.svc.state.load_answer(answer_id) {
                Ok(a) => a.map(Arc::new),
                Err(e) => {
                    warn!(error = %e, answer_id, "could not read an answer back");
                    None
                }
            })
    }

    /// Edits the message the click came from so the used buttons give way to `line`: its
    /// blocks as Slack sent them, or the answer rendered again when Slack sent none.
    async fn replace_used(&self, c: &Click, answer_id: &str, used: fn(&str) -> bool, line: &str) {
        let (current, text) = match &c.message_blocks {
            Some(b) => (b.clone(), c.message_text.clone()),
            None => match self.stored_answer(answer_id) {
                Some(a) => {
                    let mut b = self.render(&a, answer_id);
                    if c.ephemeral {
                        // The answer was given to the asker alone, with the hint under it.
                        b.push(buttons::context_line(INVITE_HINT));
                    }
                    (b, Some(fallback_text(&a)))
                }
                None => {
                    debug!(answer_id, "no blocks to edit after a click");
                    return;
                }
            },
        };
        let Some(edited) = buttons::replace_used(&current, used, line) else {
            return;
        };
        let text = text.unwrap_or_else(|| "Cortex answer".to_string());
        match (&c.response_url, c.ephemeral) {
            (Some(url), true) => {
                let body = json!({"replace_original": true, "response_type": "ephemeral",
                                  "text": text, "blocks": edited});
                self.respond(url, &body).await;
            }
            _ => {
                self.update(&c.channel, &c.message_ts, &text, edited).await;
            }
        }
    }

    /// Replaces a message's text and blocks (`chat.update`).
    async fn update(&self, channel: &str, ts: &str, text: &str, raw: Vec<Value>) -> bool {
        let parsed: Option<Vec<SlackBlock>> = match serde_json::from_value(Value::Array(raw)) {
            Ok(b) => Some(b),
            Err(e) => {
                warn!(error = %e, "blocks Slack's client can't carry; updating the text only");
                None
            }
        };
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_string()),
            SlackMessageContent::new()
                .with_text(text.to_string())
                .opt_blocks(parsed),
            SlackTs(ts.to_string()),
        );
        match with_retry("chat.update", || session.chat_update(&req)).await {
            Ok(_) => true,
            Err(e) => {
                warn!(error = %e, "chat.update failed");
                false
            }
        }
    }

    /// Posts JSON to an interaction's or command's `response_url`.
    async fn respond(&self, url: &SlackResponseUrl, body: &Value) {
        let span = tracing::debug_span!("slack response_url");
        let connector = &self.client.http_api.connector;
        let sent = with_retry("response_url", || {
            let context = slack_morphism::SlackClientApiCallContext {
                rate_control_params: None,
                token: None,
                tracing_span: &span,
                // The URL is a credential for the conversation: never logged.
                is_sensitive_url: true,
            };
            connector.http_post_uri::<Value, Value>(url.0.clone(), body, context)
        })
        .await;
        if let Err(e) = sent {
            warn!(error = %e, "posting to response_url failed");
        }
    }

    /// Answers the asker alone through `response_url` (the bot can't post in the channel):
    /// the answer's blocks, ephemeral, with the hint to invite the bot when `hint`.
    /// `replace` replaces the message the response_url belongs to (an ephemeral clarifying
    /// question).
    async fn answer_privately(
        &self,
        url: &SlackResponseUrl,
        req: Request,
        replace: bool,
        hint: bool,
    ) {
        let asked = self.svc.ask(req).await;
        let mut out = self.render(&asked.answer, &asked.id);
        if hint {
            out.push(buttons::context_line(INVITE_HINT));
        }
        let body = json!({
            "response_type": "ephemeral",
            "replace_original": replace,
            "text": fallback_text(&asked.answer),
            "blocks": out,
        });
        self.respond(url, &body).await;
    }

    /// Placeholder, answer, files.
    async fn answer_in(&self, channel: &str, thread: Option<&str>, req: Request) {
        let Some(placeholder) = self.post(channel, thread, PLACEHOLDER).await else {
            return;
        };
        let asked = self.svc.ask(req).await;
        self.deliver(channel, thread, &placeholder, &asked).await;
    }

    /// Replaces the placeholder with the answer, then attaches chart and CSV: in the thread,
    /// or (a DM outside threads) in the conversation, next to the answer.
    async fn deliver(&self, channel: &str, thread: Option<&str>, placeholder: &str, asked: &Asked) {
        let a: &Answer = &asked.answer;
        let fallback = fallback_text(a);
        if !self
            .update(channel, placeholder, &fallback, self.render(a, &asked.id))
            .await
        {
            warn!("posting the answer as a new message");
            self.post(channel, thread, &fallback).await;
        }
        let date = self.answer_date(a);
        if let Some(chart) = a.charts().first() {
            match crate::render::chart::svg(chart, 900, 480)
                .and_then(|s| crate::render::chart::png(&s, 2.0))
            {
                Ok(png) => {
                    let name = names::file_name(&chart.title, date, "png");
                    self.upload(channel, thread, &name, &chart.title, "image/png", png)
                        .await
                }
                Err(e) => warn!(error = %e, "chart rendering failed"),
            }
        }
        if blocks::table_is_cut(a) {
            let csv = blocks::csv(a).into_bytes();
            let name = names::answer_file_name(a, "csv");
            self.upload(channel, thread, &name, "Full result (CSV)", "text/csv", csv)
                .await;
        }
    }

    /// The answer's Block Kit: "Open as HTML" and "PDF" are link buttons when the site's
    /// public URL is configured (`[server] public_url`).
    fn render(&self, a: &Answer, answer_id: &str) -> Vec<Value> {
        let links = blocks::Links {
            base_url: self.svc.rt.engine.config.server.public_url.clone(),
        };
        blocks::blocks_linked(a, answer_id, &links)
    }

    /// The day the answer was given for (the injected clock in tests and demos).
    fn answer_date(&self, a: &Answer) -> chrono::NaiveDate {
        a.provenance.today.unwrap_or_else(|| self.svc.today())
    }

    /// "Mute for 7 days" and "Not useful" under a signal's message (value
    /// `<signal>|<scope>|<window>`): a mute keeps the signal's scope quiet, feedback is
    /// stored for the analysts; the clicker is told what was done.
    async fn signal_button(&self, c: &Click) {
        let mut parts = c.value.splitn(3, '|');
        let (Some(signal), Some(scope), Some(window)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let Some(log) = self.svc.rt.engine.warehouse.audit_log().cloned() else {
            return;
        };
        let now = chrono::Utc::now();
        let who = format!("slack:{}", c.user);
        let done = crate::schedule::Ledger::open(log).and_then(|l| {
            if c.action_id == actions::SIGNAL_MUTE {
                let until = now + chrono::Duration::days(7);
                l.mute(signal, scope, until, &who)?;
                Ok(format!(
                    "Muted: I won't send this signal{} again before {}.",
                    if scope.is_empty() {
                        String::new()
                    } else {
                        format!(" for {}", escape(scope))
                    },
                    until.format("%b %-d")
                ))
            } else {
                l.feedback(signal, scope, window, &who, "not_useful", now)?;
                Ok(
                    "Thanks: noted as not useful; the analysts who tune signals will see it."
                        .into(),
                )
            }
        });
        match done {
            Ok(text) => self.tell(c, &text).await,
            Err(e) => {
                warn!(error = %e, "could not record a signal button");
                self.tell(c, "Sorry, I couldn't record that just now.")
                    .await;
            }
        }
    }

    /// The answer's PDF, uploaded where the click was (its thread, or the DM).
    async fn send_pdf(&self, c: &Click, thread: Option<&str>) {
        let (channel, answer_id) = (c.channel.as_str(), c.value.as_str());
        let (name, pdf) = match self.svc.pdf(answer_id).await {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "PDF rendering failed");
                self.tell(
                    c,
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
        match self.try_post(channel, thread, text).await {
            Ok(ts) => Some(ts),
            Err(e) => {
                warn!(error = %e, channel, "chat.postMessage failed");
                None
            }
        }
    }

    /// Posts a message; returns its ts, or Slack's error.
    async fn try_post(
        &self,
        channel: &str,
        thread: Option<&str>,
        text: &str,
    ) -> ClientResult<String> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostMessageRequest::new(
            SlackChannelId(channel.to_string()),
            SlackMessageContent::new().with_text(text.to_string()),
        )
        .opt_thread_ts(thread.map(|t| SlackTs(t.to_string())));
        with_retry("chat.postMessage", || session.chat_post_message(&req))
            .await
            .map(|r| r.ts.0)
    }

    /// A note to the person who clicked, only they see it: through the click's
    /// `response_url` when the message itself is ephemeral (the bot may not be in the
    /// channel), else `chat.postEphemeral`.
    async fn tell(&self, c: &Click, text: &str) {
        match (&c.response_url, c.ephemeral) {
            (Some(url), true) => {
                let body =
                    json!({"response_type": "ephemeral", "replace_original": false, "text": text});
                self.respond(url, &body).await;
            }
            _ => self.ephemeral(&c.channel, &c.user, text).await,
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

    /// Uploads a file into the thread, or into the conversation when `thread` is `None`;
    /// failures are logged.
    async fn upload(
        &self,
        channel: &str,
        thread: Option<&str>,
        filename: &str,
        title: &str,
        content_type: &str,
        content: Vec<u8>,
    ) {
        let file = UploadFile {
            filename,
            title,
            content_type,
            content,
        };
        if let Err(e) = upload_file(&self.client, &self.token, channel, thread, file).await {
            warn!(error = %e, filename, "file upload failed");
        }
    }
}

/// A file to upload.
pub struct UploadFile<'a> {
    pub filename: &'a str,
    pub title: &'a str,
    pub content_type: &'a str,
    pub content: Vec<u8>,
}

/// Uploads a file into the thread, or into the conversation when `thread` is `None`
/// (files.getUploadURLExternal, upload, files.completeUploadExternal). Used by the bot and
/// by the Slack-post deliverer of the outbox.
pub async fn upload_file(
    client: &Client,
    token: &SlackApiToken,
    channel: &str,
    thread: Option<&str>,
    file: UploadFile<'_>,
) -> ClientResult<()> {
    let session = client.open_session(token);
    let get = SlackApiFilesGetUploadUrlExternalRequest::new(
        file.filename.to_string(),
        file.content.len(),
    );
    let url = with_retry("files.getUploadURLExternal", || {
        session.get_upload_url_external(&get)
    })
    .await?;
    let put = SlackApiFilesUploadViaUrlRequest::new(
        url.upload_url.clone(),
        file.content,
        file.content_type.to_string(),
    );
    with_retry("file upload", || session.files_upload_via_url(&put)).await?;
    let done = SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
        url.file_id.clone(),
    )
    .with_title(file.title.to_string())])
    .with_channel_id(SlackChannelId(channel.to_string()))
    .opt_thread_ts(thread.map(|t| SlackTs(t.to_string())));
    with_retry("files.completeUploadExternal", || {
        session.files_complete_upload_external(&done)
    })
    .await?;
    Ok(())
}

/// The hint under an answer given to the asker alone because the bot is not in the channel.
pub const INVITE_HINT: &str =
    "Invite me with `/invite @Cortex` to get answers in the channel and follow-ups in threads.";

/// True when Slack refused a post because the bot can't see or isn't in the channel.
fn cannot_post_in(e: &SlackClientError) -> bool {
    matches!(e, SlackClientError::ApiError(a)
        if matches!(a.code.as_str(), "not_in_channel" | "channel_not_found"))
}

/// True for a direct-message channel id (Slack's `D…` ids).
fn is_dm(channel: &str) -> bool {
    channel.starts_with('D')
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

/// A question answered to the asker alone (the bot is not in the channel): no thread to
/// follow up in.
fn private_request(user: &str, channel: &str, question: String, choice: Option<String>) -> Request {
    Request {
        question,
        asker: Some(user.to_string()),
        requester: format!("slack:{user}"),
        conversation: None,
        choice,
        place: Place {
            channel: Some(channel.to_string()),
            thread_ts: None,
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
