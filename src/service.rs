//! The ask service shared by the long-running front ends (Slack, the web site): routes a
//! question (with the LLM when configured), runs it off the async threads, records the
//! answer in the state database, and keeps recent answers for their buttons.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use tracing::{error, warn};

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
}

pub struct Service {
    pub rt: Arc<Runtime>,
    pub state: State,
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
        Ok(Service {
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
        let svc = Arc::clone(self);
        let handle = tokio::runtime::Handle::current();
        let question = req.question.clone();
        match tokio::task::spawn_blocking(move || svc.answer_blocking(&req, &handle)).await {
            Ok(asked) => asked,
            Err(e) => {
                error!(error = %e, question = %question, "answering panicked");
                let mut a = Answer::new(
                    &question,
                    Status::Error,
                    "Something went wrong on my side while answering. The error is logged; please try again, or ask the data team if it keeps happening.".into(),
                );
                a.text = crate::render::text::answer(&a);
                let id = crate::state::new_id(&question);
                let body_html = self.body(&a, &PageOptions::default());
                self.remember(id, a, body_html)
            }
        }
    }

    fn answer_blocking(&self, r: &Request, handle: &tokio::runtime::Handle) -> Asked {
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
        if a.text.is_empty() {
            a.text = crate::render::text::answer(&a);
        }
        // The page is rendered once: its body for the web site's ask page, the whole page
        // stored for the permalink (which outlives this process).
        let id = crate::state::new_id(&r.question);
        let opts = PageOptions {
            answer_id: Some(id.clone()),
            nav: true,
            user: None,
            generated: Some(generated_now()),
        };
        let body_html = self.body(&a, &opts);
        let page = html::layout(&html::title_of(&a), "ask", &body_html, &opts);
        if let Err(e) = self
            .state
            .save_answer(&id, &r.requester, &a, &r.place, &page)
        {
            warn!(error = %e, "could not record the answer in the state database");
        }
        if let (Some(c), Status::Answered) = (&r.conversation, a.status) {
            if let Err(e) = self.state.set_thread(&c.channel, &c.key, &effective, &id) {
                warn!(error = %e, "could not remember the conversation");
            }
        }
        self.remember(id, a, body_html)
    }

    /// Keeps the answer for its buttons (the newest `CACHE` answers).
    fn remember(&self, id: String, a: Answer, body_html: String) -> Asked {
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

    /// The answer as a PDF report.
    pub async fn pdf(&self, id: &str) -> Result<Vec<u8>, String> {
        let a = self.recent(id).ok_or_else(|| {
            "this answer is from before the last restart; ask the question again for a fresh report".to_string()
        })?;
        let template = self.templates(&a.skill).1.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            crate::render::pdf::render(&a, template.as_deref(), &generated_now())
        })
        .await
        .map_err(|e| format!("PDF rendering panicked: {e}"))?
    }
}

/// "2026-11-22 10:31 UTC"
pub fn generated_now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()
}
