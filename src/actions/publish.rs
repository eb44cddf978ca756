//! "Publish to Notion": a recorded answer becomes a page in the `[notion] publish_database`,
//! through the outbox (one page per answer, however often it is clicked). The Slack button,
//! the web action and `cortex ask --publish notion` share this path; the page itself is
//! built by [`crate::notion::publish`].

use std::time::Duration;

use crate::answer::Answer;
use crate::outbox::{WriteRecord, WriteState};
use crate::service::Service;

/// Where a publication stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// The page exists.
    Done { url: String },
    /// Queued or being sent (Notion slow or down): the outbox keeps trying.
    Queued,
    /// A dead letter, with its (redacted) error; retryable from the audit page.
    Failed(String),
}

/// Why an answer cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("Publishing to Notion isn't set up on this Cortex yet; ask the data team to connect Notion (a token and [notion] publish_database).")]
    NotConfigured,
    #[error("That answer has expired, so it can't be published.")]
    NoSuchAnswer,
    #[error("The page could not be queued just now; please try again.")]
    State(#[from] anyhow::Error),
}

/// Whether Notion publishing is configured.
pub fn configured(svc: &Service) -> bool {
    svc.rt
        .engine
        .config
        .notion
        .as_ref()
        .is_some_and(|n| n.publish_database.is_some())
}

/// Whether `requester` may publish the answer: only someone who may see it (its asker, an
/// admin, or someone with the same access to its metrics), since the page is shared.
pub fn may_publish(svc: &Service, requester: &str, answer_id: &str) -> anyhow::Result<bool> {
    let Some(stored) = svc.state.answer(answer_id)? else {
        return Ok(false);
    };
    Ok(svc
        .rt
        .engine
        .governance
        .may_view(requester, &stored.requester, &stored.metric_names()))
}

/// Queues the answer's page and waits up to `wait` for Notion to confirm it.
pub async fn publish(
    svc: &Service,
    answer_id: &str,
    wait: Duration,
) -> Result<Published, PublishError> {
    if !configured(svc) {
        return Err(PublishError::NotConfigured);
    }
    let answer: Answer = svc
        .state
        .load_answer(answer_id)?
        .ok_or(PublishError::NoSuchAnswer)?;
    let key = crate::notion::publish::enqueue_answer(
        &svc.outbox,
        &svc.rt.engine.config,
        &answer,
        answer_id,
        svc.today(),
    )?;
    tracing::info!(key, "Notion page queued");
    let rec = svc.outbox.wait_done(&key, wait).await?;
    Ok(rec.map(|r| published_of(&r)).unwrap_or(Published::Queued))
}

/// Where the answer's publication stands, if it was ever published.
pub fn status(svc: &Service, answer_id: &str) -> anyhow::Result<Option<Published>> {
    Ok(svc
        .outbox
        .get(&crate::notion::publish::publish_key(answer_id))?
        .map(|r| published_of(&r)))
}

fn published_of(r: &WriteRecord) -> Published {
    match r.state {
        WriteState::Done => Published::Done {
            url: r
                .result
                .as_ref()
                .and_then(|v| v["url"].as_str())
                .unwrap_or_default()
                .to_string(),
        },
        WriteState::Dead => Published::Failed(r.last_error.clone().unwrap_or_default()),
        WriteState::Pending | WriteState::InFlight => Published::Queued,
    }
}
