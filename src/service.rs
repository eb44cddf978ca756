//! The ask service shared by the long-running front ends (Slack, the web site): routes a
//! question (with the LLM when configured), runs it off the async threads, records the
//! answer in the state database, and keeps recent answers for their buttons.
//!
//! Every question is checked against the length limit before anything else, and every
//! answer has one deadline (`answer_deadline_secs`) covering the LLM, queries and rendering:
//! past it the asker gets a clear "took too long" answer and the late result is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use tracing::{error, info, warn};

use crate::answer::{Answer, Status};
use crate::llm::Llm;
use crate::render::html::{self, PageOptions};
use crate::skills::run::Runtime;
use crate::state::{Place, State};

/// Recent answers kept in memory for buttons (older ones are read back from the state DB).
const CACHE: usize = 256;

/// One question from a front end.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub question: String,
    /// Slack user id of the asker, looked up in context/people.yaml.
    pub asker: Option<String>,
    /// Who asked, for the audit log (`slack:U123`, `web:alice`).
    pub requester: String,
    /// The Slack thread (or DM) this question belongs to: its question is the context for
    /// follow-ups, and an answered question becomes the thread's question.
    pub conversation: Option<Conversation>,
    /// The option the asker picked from a clarifying question: a skill name runs that skill,
    /// a metric (or any other choice) is added to the question.
    pub choice: Option<String>,
    pub place: Place,
}

/// A conversation's key in the state database.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub channel: String,
    /// The thread's ts, or `dm` for a direct-message conversation outside threads.
    pub key: String,
}

/// An answer with its id.
#[derive(Debug, Clone)]
pub struct Asked {
    pub id: String,
    pub answer: Arc<Answer>,
    /// The body of the answer's web page (the permalink holds the whole page).
    pub body_html: String,
    /// The CSP nonce the page's scripts carry.
    pub nonce: String,
}

pub struct Service {
    pub rt: Arc<Runtime>,
    pub state: State,
    /// Every external write (Linear, Notion, Slack posts of briefings) goes through it.
    pub outbox: crate::outbox::Outbox,
    pub llm: Option<Llm>,
    /// Fixed "today" (tests, reproducible demos); the clock otherwise.
    pub today: Option<NaiveDate>,
    cache: Mutex<VecDeque<(String, Arc<Answer>)>>,
}

impl Service {
    pub fn new(rt: Runtime, llm: Option<Llm>, today: Option<NaiveDate>) -> anyhow::Result<Service> {
        let log = rt
            .engine
            .warehouse
            .audit_log()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the warehouse has no state database"))?;
        let outbox = crate::outbox::Outbox::open(log.clone())?
            .with_settings(rt.engine.config.outbox.clone())
            .with_secrets(rt.engine.config.secrets());
        Ok(Service {
            outbox,
            state: State::open(log)?,
            rt: Arc::new(rt),
            llm,
            today,
            cache: Mutex::new(VecDeque::new()),
        })
    }

    pub fn today(&self) -> NaiveDate {
        self.today
            .unwrap_or_else(|| chrono::Local::now().date_naive())
    }

    /// Answers a question. Never fails: errors become an answer with status `error`.
    /// Everything blocking (DuckDB, rendering, the state database) runs off the async threads.
    pub async fn ask(self: &Arc<Self>, req: Request) -> Asked {
        let limits = self.rt.engine.config.ask;
        let too_long = limits
            .check(&req.question)
            .and_then(|()| req.choice.as_deref().map_or(Ok(()), |c| limits.check(c)));
        if let Err(msg) = too_long {
            warn!(
                requester = %req.requester,
                chars = req.question.chars().count(),
                "refused a question over the length limit"
            );
            // Not planned, not recorded: only the refusal goes back.
            let short: String = req.question.chars().take(80).collect();
            return self.unrecorded(Answer::new(&short, Status::Unanswerable, msg));
        }
        let svc = Arc::clone(self);
        let handle = tokio::runtime::Handle::current();
        let question = req.question.clone();
        // Whoever sets this first owns the answer: the task (recording it) or the deadline.
        let claimed = Arc::new(AtomicBool::new(false));
        let task_claimed = Arc::clone(&claimed);
        let req2 = req.clone();
        let mut task =
            tokio::task::spawn_blocking(move || svc.answer_blocking(&req2, &handle, &task_claimed));
        let joined = match tokio::time::timeout(limits.deadline, &mut task).await {
            Ok(j) => j,
            Err(_) if !claimed.swap(true, Ordering::SeqCst) => {
                warn!(deadline = ?limits.deadline, question = %question, "the answer passed its deadline");
                let a = Answer::new(
                    &question,
                    Status::Error,
                    format!(
                        "That took too long (over {} s) and was stopped. Try a narrower question: a shorter period, fewer groups, or one metric.",
                        limits.deadline.as_secs_f64()
                    ),
                );
                // Rendering and recording run off the async threads, like every answer.
                let svc = Arc::clone(self);
                return match tokio::task::spawn_blocking(move || svc.finish(&req, a, None)).await {
                    Ok(asked) => asked,
                    Err(e) => {
                        error!(error = %e, "recording a too-long answer panicked");
                        self.unrecorded(Answer::new(
                            &question,
                            Status::Error,
                            "That took too long and was stopped.".into(),
                        ))
                    }
                };
            }
            // The answer was finished just as the deadline passed: it is being recorded.
            Err(_) => task.await,
        };
        match joined {
            Ok(asked) => asked,
            Err(e) => {
                error!(error = %e, question = %question, "answering panicked");
                let a = Answer::new(
                    &question,
                    Status::Error,
                    "Something went wrong on my side while answering. The error is logged; please try again, or ask the data team if it keeps happening.".into(),
                );
                self.unrecorded(a)
            }
        }
    }

    /// Finishes an answer for people (see [`crate::skills::complete`]).
    /// Answers that came through a skill or the planner are finished already: only their
    /// text is made again (the narrative or an error's wording may have changed since).
    pub fn complete(
        &self,
        a: &mut Answer,
        asker: Option<&crate::context::Person>,
        requester: &str,
    ) {
        if a.text.is_empty() {
            crate::skills::complete(&self.rt, a, asker, self.today(), requester);
        } else {
            a.text = crate::render::text::answer(a);
        }
    }

    /// An answer that is not stored (refusals, panics).
    fn unrecorded(&self, mut a: Answer) -> Asked {
        self.complete(&mut a, None, "");
        let id = crate::state::new_id(&a.question);
        let nonce = crate::web::security::random_token();
        let body_html = self.body(
            &a,
            &PageOptions {
                nonce: Some(nonce.clone()),
                ..PageOptions::default()
            },
        );
        self.remember(id, a, body_html, nonce)
    }

    fn answer_blocking(
        &self,
        r: &Request,
        handle: &tokio::runtime::Handle,
        claimed: &AtomicBool,
    ) -> Asked {
        let rt = &self.rt;
        let today = self.today();
        let earlier = r.conversation.as_ref().and_then(|c| {
            self.state.thread(&c.channel, &c.key).unwrap_or_else(|e| {
                warn!(error = %e, "could not read the conversation");
                None
            })
        });
        let effective = earlier
            .as_deref()
            .and_then(|e| {
                crate::planner::followup::combine(
                    &rt.engine.layer,
                    &rt.vocab,
                    e,
                    &r.question,
                    today,
                )
            })
            .unwrap_or_else(|| r.question.clone());
        let (effective, skill) = match r.choice.as_deref() {
            Some(c) if rt.skills.get(c).is_some() => (effective, Some(c)),
            Some(c) => {
                let label = rt.engine.layer.metric(c).map_or(c, |m| m.label.as_str());
                (format!("{effective} ({label})"), None)
            }
            None => (effective, None),
        };
        let asker = r.asker.as_deref().and_then(|id| rt.context.person(id));
        let mut a = if let Some(skill) = skill {
            crate::skills::answer_with_skill(rt, skill, &effective, asker, today, &r.requester)
                .unwrap_or_else(|| {
                    crate::skills::answer_question(rt, &effective, asker, today, &r.requester)
                })
        } else if let Some(llm) = &self.llm {
            handle.block_on(crate::skills::llm_route::answer(
                rt,
                llm,
                &effective,
                asker,
                today,
                &r.requester,
            ))
        } else {
            crate::skills::answer_question(rt, &effective, asker, today, &r.requester)
        };
        if effective != r.question {
            a.question = r.question.clone();
            a.provenance
                .notes
                .insert(0, format!("Read as a follow-up: \"{effective}\"."));
        }
        if claimed.swap(true, Ordering::SeqCst) {
            // The deadline passed and the asker was told; this late answer is dropped.
            info!(question = %r.question, "dropping an answer finished after its deadline");
            return self.unrecorded(a);
        }
        self.finish(r, a, Some(&effective))
    }

    /// Makes the answer safe to show (narrative, error text), renders its page once (its
    /// body for the ask page, the whole page stored for the permalink, which outlives this
    /// process), records it, and keeps it for its buttons.
    fn finish(&self, r: &Request, mut a: Answer, effective: Option<&str>) -> Asked {
        if let Some(n) = &a.narrative {
            if let Some(why) = crate::render::slack::unsafe_narrative(n) {
                warn!(why, "LLM narrative refused; answering with the plain text");
                a.narrative = None;
            }
        }
        if a.status == Status::Error {
            a.headline = redact_paths(&a.headline);
        }
        let asker = r.asker.as_deref().and_then(|id| self.rt.context.person(id));
        self.complete(&mut a, asker, &r.requester);
        let id = crate::state::new_id(&r.question);
        let nonce = crate::web::security::random_token();
        let opts = PageOptions {
            answer_id: Some(id.clone()),
            nav: true,
            user: None,
            generated: Some(generated_now()),
            nonce: Some(nonce.clone()),
        };
        let body_html = self.body(&a, &opts);
        let page = html::layout(&html::title_of(&a), "ask", &body_html, &opts);
        if let Err(e) =
            self.state
                .save_answer_page(&id, &r.requester, &a, &r.place, &page, Some(&nonce))
        {
            warn!(error = %e, "could not record the answer in the state database");
        }
        if let (Some(c), Status::Answered, Some(effective)) = (&r.conversation, a.status, effective)
        {
            if let Err(e) = self.state.set_thread(&c.channel, &c.key, effective, &id) {
                warn!(error = %e, "could not remember the conversation");
            }
        }
        self.remember(id, a, body_html, nonce)
    }

    /// Records an answer made outside [`Service::ask`] (a skill run with its parameters
    /// given, from the API or MCP) the way every answer is: made safe, rendered, stored.
    /// Blocking: call it off the async threads.
    pub fn record(&self, r: &Request, a: Answer) -> Asked {
        self.finish(r, a, None)
    }

    /// Keeps the answer for its buttons (the newest `CACHE` answers).
    fn remember(&self, id: String, a: Answer, body_html: String, nonce: String) -> Asked {
        let answer = Arc::new(a);
        if let Ok(mut c) = self.cache.lock() {
            c.push_back((id.clone(), Arc::clone(&answer)));
            while c.len() > CACHE {
                c.pop_front();
            }
        }
        Asked {
            id,
            answer,
            body_html,
            nonce,
        }
    }

    /// A recent answer by id, if this process still has it.
    pub fn recent(&self, id: &str) -> Option<Arc<Answer>> {
        self.cache
            .lock()
            .ok()?
            .iter()
            .rev()
            .find(|(k, _)| k == id)
            .map(|(_, a)| Arc::clone(a))
    }
}

impl Service {
    /// The skill's HTML body and PDF report templates, when it has them.
    pub fn templates(&self, skill: &str) -> (Option<&str>, Option<&str>) {
        match self.rt.skills.get(skill) {
            Some(s) => (s.html_template.as_deref(), s.pdf_template.as_deref()),
            None => (None, None),
        }
    }

    /// The body of the answer's web page: the skill's template, or the generic page when
    /// the skill has none or its template fails.
    pub fn body(&self, a: &Answer, opts: &PageOptions) -> String {
        let (t, _) = self.templates(&a.skill);
        html::body(a, opts, t).unwrap_or_else(|e| {
            warn!(error = %e, skill = %a.skill, "skill HTML template failed; using the default page");
            html::body(a, opts, None).unwrap_or_else(|e| format!("<p>{}</p>", html::escape(&e)))
        })
    }

    /// The answer as a PDF report: from memory, or read back from the state database
    /// (answers from before a restart, or from another process).
    pub async fn pdf(&self, id: &str) -> Result<(String, Vec<u8>), String> {
        let a = match self.recent(id) {
            Some(a) => a,
            None => match self.state.load_answer(id) {
                Ok(Some(a)) => Arc::new(a),
                Ok(None) => return Err("no answer has that id".to_string()),
                Err(e) => {
                    warn!(error = %e, id, "could not read an answer back for its PDF");
                    return Err("this answer could not be read back; please ask again".into());
                }
            },
        };
        let template = self.templates(&a.skill).1.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            crate::render::pdf::render(&a, template.as_deref(), &generated_now())
                .map(|pdf| (crate::render::pdf::file_name(&a), pdf))
        })
        .await
        .map_err(|e| {
            error!(error = %e, "PDF rendering panicked");
            "the PDF could not be made; the error is logged".to_string()
        })?
    }
}

/// Replaces absolute file paths in a message for users with `[path]` (server paths are
/// for the log, not for askers).
pub fn redact_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut first = true;
    for line in text.split('\n') {
        if !first {
            out.push('\n');
        }
        first = false;
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                let core = w.trim_start_matches(['(', '"', '\'', '`']);
                let is_path = (core.starts_with('/') && core[1..].contains('/'))
                    || core.starts_with("~/")
                    || core.get(1..3) == Some(":\\");
                if is_path {
                    format!("{}[path]", &w[..w.len() - core.len()])
                } else {
                    w.to_string()
                }
            })
            .collect();
        out.push_str(&words.join(" "));
    }
    out
}

/// "2026-11-22 10:31 UTC"
pub fn generated_now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_redacted_from_user_messages() {
        assert_eq!(
            redact_paths("no warehouse at /srv/cortex/data/warehouse.duckdb; run `cortex demo`"),
            "no warehouse at [path] run `cortex demo`"
        );
        assert_eq!(redact_paths("ARR / month is up"), "ARR / month is up");
        assert_eq!(redact_paths("open (\"/etc/passwd\")"), "open (\"[path]");
    }
}
