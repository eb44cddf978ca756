//! Proposed tasks become Linear issues: the one place that drafts an issue from an answer
//! (title, description with headline, key numbers, provenance, permalink and asker; the
//! asker's team and email), the idempotency key, and filing through the outbox.
//!
//! The key is `linear:{answer_id}:{task_index}`: a double click, a retried Slack request or
//! the same task filed from the web and from Slack is the same write, hence one issue.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::linear::{IssueDraft, SlackThread, KIND};
use crate::answer::{Answer, Section};
use crate::outbox::WriteState;
use crate::service::Service;

/// The outbox key of an answer's proposed task.
pub fn key(answer_id: &str, index: usize) -> String {
    format!("linear:{answer_id}:{index}")
}

/// Where a filing stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Filed {
    /// The issue exists: its identifier (`ENG-123`), URL and title.
    Done {
        identifier: String,
        url: String,
        title: String,
    },
    /// Queued or being sent (Linear slow or down): the outbox keeps trying.
    Queued,
    /// A dead letter, with its (redacted) error; retryable from the audit page.
    Failed(String),
}

/// Why a task cannot be filed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(
        "Filing Linear tasks isn't set up on this Cortex yet; ask the data team to connect Linear."
    )]
    NotConfigured,
    #[error("That answer has expired or proposes no such task.")]
    NoSuchTask,
    #[error("The task could not be queued just now; please try again.")]
    State(#[from] anyhow::Error),
}

/// The Linear team key, email and team name of the person behind a requester
/// (`slack:U123`, `web:alice@example.com`), from context/people.yaml.
fn person<'a>(svc: &'a Service, requester: &str) -> Option<&'a crate::context::Person> {
    let ctx = &svc.rt.context;
    let (_, who) = requester.split_once(':')?;
    ctx.person(who).or_else(|| ctx.person_by_email(who))
}

/// The issue a proposed task would be, prefilled from the stored answer: what the Slack
/// modal and the web form show, and what is filed unless the person edits it.
pub fn draft(svc: &Service, answer_id: &str, index: usize) -> Result<IssueDraft, TaskError> {
    let cfg = svc
        .rt
        .engine
        .config
        .linear
        .as_ref()
        .ok_or(TaskError::NotConfigured)?;
    let stored = svc.state.answer(answer_id)?.ok_or(TaskError::NoSuchTask)?;
    let answer: Answer = serde_json::from_str(&stored.answer_json).map_err(anyhow::Error::from)?;
    let tasks = answer.proposed_tasks();
    let task = tasks.get(index).ok_or(TaskError::NoSuchTask)?;
    let who = person(svc, &stored.requester);
    let public = svc.rt.engine.config.server.base_url();
    let asked_by = match who {
        Some(p) => format!("{} ({})", p.name, stored.requester),
        None => stored.requester.clone(),
    };
    let place = svc.state.place(answer_id)?;
    let notify = place.and_then(|p| {
        Some(SlackThread {
            channel: p.channel.filter(|c| !c.is_empty())?,
            thread_ts: p.thread_ts,
        })
    });
    // Only Slack answers have a thread to post in (web answers record no channel).
    let notify = notify.filter(|_| stored.requester.starts_with("slack:"));
    Ok(IssueDraft {
        team_key: cfg.team_key(who.map(|p| p.team.as_str())),
        title: task.title.clone(),
        description: description(&answer, &task.note, answer_id, &public, &asked_by),
        priority: task.priority,
        assignee_email: who.and_then(|p| p.email.clone()),
        notify,
    })
}

/// The issue description (markdown): the headline, the sentence behind the task, the key
/// numbers, the provenance (metrics, filters, period, SQL hash), the permalink and the asker.
pub fn description(
    a: &Answer,
    note: &str,
    answer_id: &str,
    public_url: &str,
    asked_by: &str,
) -> String {
    let mut out = format!("**{}**\n\n{}\n", a.lead().trim(), note.trim());
    let mut numbers = Vec::new();
    for s in &a.sections {
        match s {
            Section::Kpis { tiles } => {
                for k in tiles {
                    if let Some(v) = k.value {
                        numbers.push(format!(
                            "- {}: {}",
                            k.label,
                            crate::format::figure(v, k.unit)
                        ));
                    }
                }
            }
            Section::Okr(o) => {
                let fig = |v: Option<f64>| v.map(|v| crate::format::figure(v, o.unit));
                if let Some(c) = fig(o.current) {
                    numbers.push(format!("- {} now: {c}", o.metric_label));
                }
                if let Some(p) = fig(o.projected) {
                    numbers.push(format!("- Projected: {p}"));
                }
                numbers.push(format!(
                    "- Target: {}",
                    crate::format::figure(o.target, o.unit)
                ));
            }
            _ => {}
        }
    }
    if !numbers.is_empty() {
        out.push_str(&format!("\n**Key numbers**\n{}\n", numbers.join("\n")));
    }
    let p = &a.provenance;
    let mut prov = Vec::new();
    if !p.metrics.is_empty() {
        let names: Vec<String> = p
            .metrics
            .iter()
            .map(|m| format!("{} (`{}`)", m.label, m.name))
            .collect();
        prov.push(format!("- Metrics: {}", names.join(", ")));
    }
    if !p.filters.is_empty() {
        prov.push(format!("- Filters: {}", p.filters.join("; ")));
    }
    let period = p.period.clone().or_else(|| {
        p.time_range
            .map(|r| format!("{} to {}", r.from, r.to))
            .or_else(|| p.today.map(|t| format!("as of {t}")))
    });
    if let Some(period) = period {
        prov.push(format!("- Period: {period}"));
    }
    if let Some(h) = sql_hash(a) {
        prov.push(format!("- SQL hash: `{h}`"));
    }
    prov.push(format!("- Skill: {}", a.skill));
    out.push_str(&format!("\n**Provenance**\n{}\n", prov.join("\n")));
    out.push_str(&format!(
        "\n[Open the answer in Cortex]({}/a/{answer_id})\n\nAsked by {asked_by}: _{}_\n",
        public_url.trim_end_matches('/'),
        a.question.trim()
    ));
    out
}

/// A short hash of every SQL statement behind the answer (the main query first).
pub fn sql_hash(a: &Answer) -> Option<String> {
    let mut h = Sha256::new();
    let mut any = false;
    for sql in a
        .sql
        .iter()
        .chain(a.provenance.statements.iter().map(|s| &s.sql))
    {
        h.update(sql.as_bytes());
        h.update([0u8]);
        any = true;
    }
    any.then(|| {
        h.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// Queues the issue (a second call with the same answer and task is the same write) and
/// waits up to `wait` for it to be filed, for a prompt reply.
pub async fn file(
    svc: &Service,
    answer_id: &str,
    index: usize,
    draft: &IssueDraft,
    wait: Duration,
) -> Result<Filed, TaskError> {
    if svc.rt.engine.config.linear.is_none() {
        return Err(TaskError::NotConfigured);
    }
    let key = key(answer_id, index);
    let payload = serde_json::to_value(draft).map_err(anyhow::Error::from)?;
    let e = svc.outbox.enqueue(KIND, &key, &payload)?;
    tracing::info!(key, existing = e.existing, "Linear task queued");
    let rec = svc.outbox.wait_done(&key, wait).await?;
    Ok(rec.map(|r| filed_of(&r)).unwrap_or(Filed::Queued))
}

/// Where the task's filing stands, if it was ever filed.
pub fn status(svc: &Service, answer_id: &str, index: usize) -> anyhow::Result<Option<Filed>> {
    Ok(svc
        .outbox
        .get(&key(answer_id, index))?
        .map(|r| filed_of(&r)))
}

fn filed_of(r: &crate::outbox::WriteRecord) -> Filed {
    match r.state {
        WriteState::Done => {
            let s = |k: &str| {
                r.result
                    .as_ref()
                    .and_then(|v| v[k].as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            Filed::Done {
                identifier: s("identifier"),
                url: s("url"),
                title: s("title"),
            }
        }
        WriteState::Dead => Filed::Failed(r.last_error.clone().unwrap_or_default()),
        WriteState::Pending | WriteState::InFlight => Filed::Queued,
    }
}
