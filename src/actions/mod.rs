//! Actions: the external writes an answer, a briefing or a signal can lead to (a Linear
//! issue, a Notion page, a Slack post), each delivered through the [`crate::outbox`].
//!
//! [`deliverers`] builds the deliverers of every configured service; `cortex serve` runs the
//! outbox with them, and commands that write (`cortex ask --publish`) deliver once with them.

pub mod linear;
pub mod publish;
pub mod slack_post;
pub mod task;

use std::sync::Arc;

use crate::config::Config;
use crate::outbox::Deliverers;

/// The deliverers of every service configured in `config` (none configured: none).
pub fn deliverers(config: &Config) -> anyhow::Result<Deliverers> {
    let mut out = Deliverers::new();
    if let Some(l) = &config.linear {
        // Filed issues are linked in the answer's Slack thread when the bot can post.
        let notifier = config
            .slack
            .bot_token
            .as_ref()
            .map(|t| linear::SlackNotifier::new(&config.slack.api_url, t.expose()));
        out = out.with(Arc::new(linear::LinearDeliverer::new(l, notifier)?));
    }
    if let Some(n) = &config.notion {
        let client = crate::notion::NotionClient::new(n)?;
        out = out.with(Arc::new(crate::notion::publish::NotionPublisher::new(
            client,
        )));
    }
    if let Some(token) = &config.slack.bot_token {
        out = out.with(Arc::new(slack_post::SlackPost::new(
            &config.slack.api_url,
            token.expose(),
        )));
    }
    Ok(out)
}
