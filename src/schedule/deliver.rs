//! The scheduler proper: due slots → messages (through the ask pipeline) → ledger →
//! outbox. See the module docs of [`crate::schedule`] for the guarantees.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use tracing::{info, warn};

use super::briefing::{Briefing, Recipient};
use super::cron::When;
use super::ledger::{Claim, Ledger};
use super::Clock;
use crate::answer::Answer;
use crate::service::{Request, Service};
use crate::signals::{Firing, Signal, SignalSet};
use crate::state::Place;

/// The outbox kind of a Slack post.
pub const SLACK_POST: &str = "slack.post";

/// Scheduler settings (`[schedule]` in cortex.toml).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// How often `serve` looks for due slots (default 30 s).
    pub tick: Duration,
    /// A slot delivered later than this after its time is marked late (default 10 min).
    pub late_after: chrono::Duration,
    /// How long the scheduler lease lasts without renewal (default 2 min).
    pub lease: chrono::Duration,
    /// When signals are evaluated each day (default 07:00) ...
    pub signals_at: NaiveTime,
    /// ... in this zone (default UTC).
    pub signals_tz: Tz,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tick: Duration::from_secs(30),
            late_after: chrono::Duration::minutes(10),
            lease: chrono::Duration::minutes(2),
            signals_at: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default(),
            signals_tz: chrono_tz::UTC,
        }
    }
}

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Claimed and queued (or held: `due_at` later than now, for quiet hours).
    Sent {
        key: String,
        recipient: String,
        late: bool,
        due_at: DateTime<Utc>,
    },
    /// `--dry-run`: what would be sent.
    DryRun {
        key: String,
        payload: Value,
    },
    /// Claimed before: nothing to do.
    Already {
        key: String,
    },
    Muted {
        key: String,
        until: DateTime<Utc>,
    },
    Cooldown {
        key: String,
        last: DateTime<Utc>,
    },
}

/// The scheduler of one process.
pub struct Scheduler {
    pub svc: Arc<Service>,
    pub briefings: Vec<Briefing>,
    pub signals: Arc<SignalSet>,
    pub ledger: Ledger,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    holder: String,
}

/// A slot a briefing is due for, for one recipient.
#[derive(Debug, Clone)]
struct Due {
    key: String,
    slot: DateTime<Utc>,
    late: bool,
}

impl Scheduler {
    /// A scheduler over `svc`'s state database.
    pub fn new(
        svc: Arc<Service>,
        briefings: Vec<Briefing>,
        signals: Arc<SignalSet>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> anyhow::Result<Scheduler> {
        let log = svc
            .rt
            .engine
            .warehouse
            .audit_log()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the warehouse has no state database"))?;
        Ok(Scheduler {
            svc,
            briefings,
            signals,
            ledger: Ledger::open(log)?,
            clock,
            settings,
            holder: crate::state::new_id("scheduler"),
        })
    }

    /// Loads the project's briefings and signals (errors: run `cortex check`).
    pub fn load(
        svc: Arc<Service>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> anyhow::Result<Scheduler> {
        let rt = &svc.rt;
        let project = rt.engine.config.project.clone();
        let briefings = super::briefing::load_dir(&project, &rt.context, &rt.skills)
            .map_err(|d| anyhow::anyhow!("briefings are invalid (run `cortex check`):\n{d}"))?;
        let signals = crate::signals::load_dir(&project, &rt.engine.layer, &rt.context)
            .map_err(|d| anyhow::anyhow!("signals are invalid (run `cortex check`):\n{d}"))?;
        Scheduler::new(svc, briefings, Arc::new(signals), clock, settings)
    }

    pub fn briefing(&self, name: &str) -> Option<&Briefing> {
        self.briefings.iter().find(|b| b.name == name)
    }

    /// One pass: takes (or renews) the lease, then delivers every due briefing slot and,
    /// once a day, the signals. Returns what was done; empty without the lease.
    pub async fn tick(&self) -> anyhow::Result<Vec<Outcome>> {
        let now = self.clock.now();
        if !self.ledger.lease(&self.holder, now, self.settings.lease)? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        self.flush(now)?;
        for b in &self.briefings {
            for r in &b.recipients {
                let Some(due) = self.due(b, r, now)? else {
                    continue;
                };
                out.push(self.send_briefing(b, r, &due, false).await?);
            }
        }
        out.extend(self.signals_if_due(now).await?);
        self.flush(self.clock.now())?;
        Ok(out)
    }

    /// Runs [`Scheduler::tick`] every `tick` until `shutdown`; releases the lease on the
    /// way out so another process can take over at once.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        info!(
            briefings = self.briefings.len(),
            signals = self.signals.signals.len(),
            "scheduler started"
        );
        loop {
            if let Err(e) = self.tick().await {
                warn!(error = %self.svc.outbox.redact(&format!("{e:#}")), "scheduler tick failed");
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(self.settings.tick) => {}
            }
        }
        if let Err(e) = self.ledger.release(&self.holder) {
            warn!(error = %e, "could not release the scheduler lease");
        }
        info!("scheduler stopped: shutdown");
    }

    /// The slot `b` is due for `r` at `now`, if any: the latest one, unless claimed or
    /// older than the job itself.
    fn due(&self, b: &Briefing, r: &Recipient, now: DateTime<Utc>) -> anyhow::Result<Option<Due>> {
        let Some(when) = b.when_for(r) else {
            return Ok(None);
        };
        let job = format!("{}:{}", b.job(), r.id());
        // A slot within a tick of the first sighting still counts (a start right at 08:00).
        let since = self.ledger.since(&job, now)?;
        let Some(slot) = when.latest(now) else {
            return Ok(None);
        };
        let grace = chrono::Duration::from_std(self.settings.tick).unwrap_or_default()
            + chrono::Duration::minutes(1);
        if slot + grace < since {
            return Ok(None);
        }
        let key = slot_key(b, r, slot);
        if self.ledger.claimed(&key)? {
            return Ok(None);
        }
        Ok(Some(Due {
            key,
            slot,
            late: now - slot > self.settings.late_after,
        }))
    }

    /// `cortex brief`: the briefing for each recipient (or only `to`) now. Without
    /// `ad_hoc` it is the latest scheduled slot (nothing when that was delivered); with it,
    /// a slot of its own at the current minute.
    pub async fn brief(
        &self,
        name: &str,
        to: Option<&str>,
        dry_run: bool,
        ad_hoc: bool,
    ) -> anyhow::Result<Vec<Outcome>> {
        let b = self
            .briefing(name)
            .ok_or_else(|| anyhow::anyhow!("no briefing named {name:?} in briefings/"))?;
        let now = self.clock.now();
        let recipients: Vec<&Recipient> = b
            .recipients
            .iter()
            .filter(|r| to.is_none_or(|t| r.id() == t))
            .collect();
        if recipients.is_empty() {
            anyhow::bail!(
                "{:?} is not in the audience of briefing {name}",
                to.unwrap_or("")
            );
        }
        let mut out = Vec::new();
        for r in recipients {
            let due = if ad_hoc {
                let slot = chrono::DurationRound::duration_trunc(now, chrono::Duration::minutes(1))
                    .unwrap_or(now);
                Due {
                    key: format!("{}:now", slot_key(b, r, slot)),
                    slot,
                    late: false,
                }
            } else {
                let Some(when) = b.when_for(r) else { continue };
                let Some(slot) = when.latest(now) else {
                    continue;
                };
                Due {
                    key: slot_key(b, r, slot),
                    slot,
                    late: now - slot > self.settings.late_after,
                }
            };
            if !dry_run && self.ledger.claimed(&due.key)? {
                out.push(Outcome::Already { key: due.key });
                continue;
            }
            out.push(self.send_briefing(b, r, &due, dry_run).await?);
        }
        if !dry_run {
            self.flush(self.clock.now())?;
        }
        Ok(out)
    }

    async fn send_briefing(
        &self,
        b: &Briefing,
        r: &Recipient,
        due: &Due,
        dry_run: bool,
    ) -> anyhow::Result<Outcome> {
        let combined = self.briefing_answer(b, r).await;
        let mut lead = Vec::new();
        if due.late {
            let local = match b.when_for(r) {
                Some(w) => due
                    .slot
                    .with_timezone(&w.tz)
                    .format("%a %Y-%m-%d %H:%M %Z")
                    .to_string(),
                None => due.slot.format("%Y-%m-%d %H:%M UTC").to_string(),
            };
            lead.push(format!(
                ":hourglass: Late: this briefing was due {local}; it is sent now, after the service was down."
            ));
        }
        let mut payload = self
            .payload(
                r,
                &combined,
                &format!("briefing:{}", b.name),
                b.pdf,
                &lead,
                None,
            )
            .await?;
        if b.notion {
            payload["notion"] = json!(true);
        }
        if dry_run {
            return Ok(Outcome::DryRun {
                key: due.key.clone(),
                payload,
            });
        }
        let now = self.clock.now();
        let claim = Claim {
            key: due.key.clone(),
            job: b.job(),
            scope: String::new(),
            slot: due.slot.to_rfc3339(),
            recipient: r.id().to_string(),
            late: due.late,
            payload,
            due_at: now,
        };
        if !self.ledger.claim(&claim, &self.holder, now)? {
            return Ok(Outcome::Already {
                key: due.key.clone(),
            });
        }
        info!(briefing = %b.name, recipient = %r.id(), slot = %due.slot, late = due.late, "briefing claimed");
        Ok(Outcome::Sent {
            key: due.key.clone(),
            recipient: r.id().to_string(),
            late: due.late,
            due_at: now,
        })
    }

    /// Every item of a briefing, asked as the recipient, as one answer.
    pub async fn briefing_answer(&self, b: &Briefing, r: &Recipient) -> Answer {
        let mut parts = Vec::new();
        for item in &b.contents {
            let req = Request {
                question: item.question.clone(),
                asker: match r {
                    Recipient::Person { slack_id, .. } => Some(slack_id.clone()),
                    Recipient::Channel(_) => None,
                },
                // Policy is the recipient's; a channel briefing has the operator's access
                // (like `cortex ask`): its file is written by the analysts.
                requester: match r {
                    Recipient::Person { slack_id, .. } => format!("slack:{slack_id}"),
                    Recipient::Channel(_) => "cortex".to_string(),
                },
                conversation: None,
                choice: item.skill.clone(),
                place: Place {
                    channel: Some(r.id().to_string()),
                    thread_ts: None,
                },
            };
            let asked = self.svc.ask(req).await;
            if asked.answer.status != crate::answer::Status::Answered {
                warn!(briefing = %b.name, recipient = %r.id(), question = %item.question, status = ?asked.answer.status, headline = %asked.answer.headline, "a briefing item was not answered");
            }
            parts.push((*asked.answer).clone());
        }
        let title = match r {
            Recipient::Person { name, .. } => format!("{} for {name}", b.title),
            Recipient::Channel(_) => b.title.clone(),
        };
        let mut a = crate::skills::combine::combine(&b.title, &title, "briefing", &parts);
        a.asker = match r {
            Recipient::Person { name, .. } => Some(name.clone()),
            Recipient::Channel(_) => None,
        };
        self.svc
            .complete(&mut a, None, &format!("briefing:{}", b.name));
        a
    }

    /// The outbox payload of a Slack post: where, the text and blocks, and the PDF.
    async fn payload(
        &self,
        r: &Recipient,
        a: &Answer,
        requester: &str,
        pdf: bool,
        lead: &[String],
        extra_actions: Option<Value>,
    ) -> anyhow::Result<Value> {
        let id = crate::state::new_id(requester);
        let place = Place {
            channel: Some(r.id().to_string()),
            thread_ts: None,
        };
        let html = self
            .svc
            .body(a, &crate::render::html::PageOptions::default());
        if let Err(e) = self.svc.state.save_answer(&id, requester, a, &place, &html) {
            warn!(error = %e, "could not record a scheduled answer");
        }
        let links = crate::render::slack::Links {
            base_url: self.svc.rt.engine.config.server.public_url.clone(),
        };
        let mut blocks: Vec<Value> = lead
            .iter()
            .map(|l| json!({"type": "context", "elements": [{"type": "mrkdwn", "text": l}]}))
            .collect();
        blocks.extend(crate::render::slack::blocks_linked(a, &id, &links));
        if let Some(x) = extra_actions {
            blocks.push(x);
        }
        let file = if pdf {
            let template = self.svc.templates(&a.skill).1.map(str::to_string);
            let a2 = a.clone();
            let bytes = tokio::task::spawn_blocking(move || {
                crate::render::pdf::render(
                    &a2,
                    template.as_deref(),
                    &crate::service::generated_now(),
                )
            })
            .await
            .context("PDF rendering panicked")?
            .map_err(|e| anyhow::anyhow!("PDF rendering failed: {e}"))?;
            json!({
                "name": crate::render::pdf::file_name(a),
                "title": format!("{} (PDF)", if a.title.is_empty() { "Report" } else { &a.title }),
                "content_type": "application/pdf",
                "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
            })
        } else {
            Value::Null
        };
        let (channel, user) = match r {
            Recipient::Person { slack_id, .. } => (Value::Null, json!(slack_id)),
            Recipient::Channel(c) => (json!(c), Value::Null),
        };
        // The notification text: the title once, then the headline (which may start with it).
        let text = if a.title.is_empty() || a.headline.starts_with(&a.title) {
            a.headline.clone()
        } else {
            format!("{}: {}", a.title, a.headline)
        };
        Ok(json!({
            "channel": channel,
            "user": user,
            "text": text,
            "blocks": blocks,
            "file": file,
            "answer_id": id,
        }))
    }

    /// Queues every claimed row that is due (held rows wait for their time).
    pub fn flush(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let rows = self.ledger.due(now)?;
        for row in &rows {
            self.svc
                .outbox
                .enqueue(SLACK_POST, &row.key, &row.payload)?;
            if row.payload["notion"] == json!(true) {
                self.publish_to_notion(&row.payload);
            }
            self.ledger.mark_enqueued(&row.key, now)?;
        }
        Ok(rows.len())
    }

    /// Queues the Notion page of a delivery (`format: {notion: true}`): keyed by the stored
    /// answer, so a restart that flushes the row again queues nothing new. Without Notion
    /// configured the Slack post still goes; the log says why the page did not.
    fn publish_to_notion(&self, payload: &Value) {
        let Some(id) = payload["answer_id"].as_str() else {
            return;
        };
        let queued = self.svc.state.load_answer(id).and_then(|a| {
            let a = a.context("the delivery's answer was not recorded")?;
            crate::notion::publish::enqueue_answer(
                &self.svc.outbox,
                &self.svc.rt.engine.config,
                &a,
                id,
                self.svc.today(),
            )
        });
        if let Err(e) = queued {
            warn!(answer = %id, error = %e, "a briefing's Notion page was not queued");
        }
    }

    /// Evaluates the signals when today's evaluation slot has come and is not done yet.
    async fn signals_if_due(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<Outcome>> {
        if self.signals.signals.is_empty() {
            return Ok(Vec::new());
        }
        let at = self.settings.signals_at;
        let expr = format!(
            "{} {} * * *",
            chrono::Timelike::minute(&at),
            chrono::Timelike::hour(&at)
        );
        let when = When::new(&expr, self.settings.signals_tz).map_err(anyhow::Error::msg)?;
        let Some(slot) = when.latest(now) else {
            return Ok(Vec::new());
        };
        let since = self.ledger.since("signals", now)?;
        let key = format!("signals:run:{}", slot.to_rfc3339());
        if slot + chrono::Duration::minutes(5) < since || self.ledger.claimed(&key)? {
            return Ok(Vec::new());
        }
        let today = slot.with_timezone(&self.settings.signals_tz).date_naive();
        let out = self.run_signals(today, false).await?;
        let done = Claim {
            key: key.clone(),
            job: "signals".into(),
            scope: String::new(),
            slot: slot.to_rfc3339(),
            recipient: String::new(),
            late: false,
            payload: json!({}),
            due_at: now,
        };
        self.ledger.claim(&done, &self.holder, now)?;
        self.ledger.mark_enqueued(&key, now)?;
        Ok(out)
    }

    /// `cortex signals run`: evaluates every signal for `today` and delivers what fired.
    pub async fn run_signals(
        &self,
        today: NaiveDate,
        dry_run: bool,
    ) -> anyhow::Result<Vec<Outcome>> {
        let firings =
            crate::signals::evaluate(Arc::clone(&self.svc.rt), Arc::clone(&self.signals), today)
                .await?;
        self.deliver_firings(&firings, dry_run).await
    }

    /// Delivers firings through the ledger: muted scopes stay quiet, a scope that fired
    /// within the signal's cooldown (for another window) is skipped, and quiet hours hold
    /// a message until they end.
    pub async fn deliver_firings(
        &self,
        firings: &[Firing],
        dry_run: bool,
    ) -> anyhow::Result<Vec<Outcome>> {
        let mut out = Vec::new();
        for f in firings {
            let signal = self.signals.signals.iter().find(|s| s.name == f.signal);
            let job = format!("signal:{}", f.signal);
            let scope = f.scope.clone().unwrap_or_default();
            let now = self.clock.now();
            let base_key = format!("{job}:{scope}:{}", f.window);
            let muted = self
                .ledger
                .muted(&f.signal, &scope, now)?
                .or(self.ledger.muted(&f.signal, "", now)?);
            if let Some(until) = muted {
                out.push(Outcome::Muted {
                    key: base_key,
                    until,
                });
                continue;
            }
            if let Some(s) = signal {
                if !self.ledger.window_fired(&job, &scope, &f.window)? {
                    if let Some(last) = self.ledger.last_fired(&job, &scope)? {
                        if now - last < s.cooldown {
                            out.push(Outcome::Cooldown {
                                key: base_key,
                                last,
                            });
                            continue;
                        }
                    }
                }
            }
            for r in self.firing_recipients(f) {
                let key = format!("{base_key}:{}", r.id());
                if !dry_run && self.ledger.claimed(&key)? {
                    out.push(Outcome::Already { key });
                    continue;
                }
                let due_at = signal.map(|s| quiet_until(s, &r, now)).unwrap_or(now);
                let value = format!("{}|{}|{}", f.signal, scope, f.window);
                let buttons = crate::render::slack::signal_actions(&value);
                let payload = self
                    .payload(&r, &f.answer, &job, false, &[], Some(buttons))
                    .await?;
                if dry_run {
                    out.push(Outcome::DryRun { key, payload });
                    continue;
                }
                let claim = Claim {
                    key: key.clone(),
                    job: job.clone(),
                    scope: scope.clone(),
                    slot: f.window.clone(),
                    recipient: r.id().to_string(),
                    late: false,
                    payload,
                    due_at,
                };
                if self.ledger.claim(&claim, &self.holder, now)? {
                    out.push(Outcome::Sent {
                        key,
                        recipient: r.id().to_string(),
                        late: false,
                        due_at,
                    });
                } else {
                    out.push(Outcome::Already { key });
                }
            }
        }
        if !dry_run {
            self.flush(self.clock.now())?;
        }
        Ok(out)
    }

    /// Who hears about a firing: its channels, people and team members.
    fn firing_recipients(&self, f: &Firing) -> Vec<Recipient> {
        let ctx = &self.svc.rt.context;
        let mut out: Vec<Recipient> = f
            .audience
            .channels
            .iter()
            .map(|c| Recipient::Channel(c.clone()))
            .collect();
        let person = |p: &crate::context::Person| Recipient::Person {
            slack_id: p.slack_id.clone(),
            name: p.name.clone(),
            tz: p.tz.as_deref().and_then(|t| super::cron::zone(t).ok()),
        };
        for id in &f.audience.people {
            if let Some(p) = ctx.person(id) {
                out.push(person(p));
            }
        }
        if let Some(team) = f.audience.team.as_deref().and_then(|t| ctx.team(t)) {
            out.extend(
                ctx.people
                    .iter()
                    .filter(|p| p.team == team.name)
                    .map(person),
            );
        }
        // The records' owners (`audience.owner_dimension`), by name in people.yaml.
        for name in f.owners() {
            match ctx.people.iter().find(|p| p.name == name) {
                Some(p) => out.push(person(p)),
                None => {
                    info!(signal = %f.signal, owner = %name, "a record owner is not in people.yaml; not notified")
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|r| seen.insert(r.id().to_string()));
        // A firing is computed with the operator's access: a person hears it only when
        // they may see everything in it (their policy: restricted metrics, row scope).
        // Channels are the analysts' choice in the signal file, as for channel briefings.
        let metrics: Vec<String> = f
            .answer
            .provenance
            .metrics
            .iter()
            .map(|m| m.name.clone())
            .collect();
        let gov = &self.svc.rt.engine.governance;
        out.retain(|r| match r {
            Recipient::Channel(_) => true,
            Recipient::Person { slack_id, .. } => {
                let ok = gov.may_view(&format!("slack:{slack_id}"), "cortex", &metrics);
                if !ok {
                    info!(signal = %f.signal, recipient = %slack_id, "not sent: the signal shows data beyond this person's access");
                }
                ok
            }
        });
        out
    }
}

/// The key of a briefing slot for one recipient.
fn slot_key(b: &Briefing, r: &Recipient, slot: DateTime<Utc>) -> String {
    format!("{}:{}:{}", b.job(), r.id(), slot.format("%Y-%m-%dT%H:%MZ"))
}

/// When a signal's message may go to `r`: now, or the end of its quiet hours (read in the
/// signal's zone, else the recipient's, else UTC).
pub fn quiet_until(s: &Signal, r: &Recipient, now: DateTime<Utc>) -> DateTime<Utc> {
    let Some(q) = &s.quiet_hours else {
        return now;
    };
    let tz =
        q.tz.as_deref()
            .and_then(|t| super::cron::zone(t).ok())
            .or(match r {
                Recipient::Person { tz, .. } => *tz,
                Recipient::Channel(_) => None,
            })
            .unwrap_or(chrono_tz::UTC);
    let local = now.with_timezone(&tz);
    let t = local.time();
    let inside = if q.from <= q.to {
        t >= q.from && t < q.to
    } else {
        t >= q.from || t < q.to
    };
    if !inside {
        return now;
    }
    let mut day = local.date_naive();
    if t >= q.to {
        day = day.succ_opt().unwrap_or(day);
    }
    match tz.from_local_datetime(&day.and_time(q.to)) {
        chrono::LocalResult::Single(x) | chrono::LocalResult::Ambiguous(x, _) => {
            x.with_timezone(&Utc)
        }
        chrono::LocalResult::None => now + chrono::Duration::hours(1),
    }
}
