//! The bot's own records in the state database (never the warehouse): every answer given
//! (for permalinks, buttons and the analysts' log), feedback on answers, Slack conversation
//! threads, and the Slack event ids already handled (Slack retries deliveries).
//!
//! It shares the audit log's connection: SQLite in WAL mode, where `cortex serve` and CLI
//! commands write at once (see [`crate::warehouse::audit`]).

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::answer::Answer;
use crate::warehouse::AuditLog;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    requester TEXT NOT NULL,
    question TEXT NOT NULL,
    skill TEXT NOT NULL,
    status TEXT NOT NULL,
    channel TEXT,
    thread_ts TEXT,
    answer_json TEXT NOT NULL,
    html TEXT,
    -- The CSP nonce of the stored page's scripts (random per page).
    nonce TEXT,
    -- What the JSON contract leaves out (headline, column roles, skill data), so the
    -- answer can be rendered again (PDFs after a restart).
    extra_json TEXT
);
CREATE INDEX IF NOT EXISTS answers_requester ON answers (requester, created_at);
CREATE INDEX IF NOT EXISTS answers_created ON answers (created_at);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL,
    requester TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    given_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback (answer_id);
CREATE TABLE IF NOT EXISTS slack_events (
    event_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS threads (
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    question TEXT NOT NULL,
    answer_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, thread_ts)
);
";

/// Where an answer was given.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub channel: Option<String>,
    pub thread_ts: Option<String>,
}

/// One stored answer, as listed for analysts.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub id: String,
    pub created_at: String,
    pub requester: String,
    pub question: String,
    pub skill: String,
    pub status: String,
    pub answer_json: String,
    pub html: Option<String>,
    /// The CSP nonce the stored page's scripts carry.
    pub nonce: Option<String>,
    /// Feedback counts: (helpful, not helpful).
    pub feedback: (i64, i64),
}

impl StoredAnswer {
    /// The names of the metrics the answer was computed from (its provenance), for the
    /// policy's "may this person see it" check.
    pub fn metric_names(&self) -> Vec<String> {
        serde_json::from_str::<serde_json::Value>(&self.answer_json)
            .ok()
            .and_then(|j| {
                j["provenance"]["metrics"].as_array().map(|ms| {
                    ms.iter()
                        .filter_map(|m| m["name"].as_str().map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default()
    }
}

/// The bot's records.
#[derive(Debug, Clone)]
pub struct State {
    log: AuditLog,
}

fn now() -> String {
    crate::warehouse::audit::now_text()
}

/// A short id, unique within the process and very likely across processes.
pub fn new_id(seed: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(
        chrono::Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_le_bytes(),
    );
    h.update(std::process::id().to_le_bytes());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl State {
    /// Creates the tables if missing.
    pub fn open(log: AuditLog) -> anyhow::Result<State> {
        log.with_conn(|c| Ok(c.execute_batch(SCHEMA)?))?;
        Ok(State { log })
    }

    /// Records an answer under `id` (see [`new_id`]) with its web page.
    pub fn save_answer(
        &self,
        id: &str,
        requester: &str,
        a: &Answer,
        place: &Place,
        html: &str,
    ) -> anyhow::Result<()> {
        self.save_answer_page(id, requester, a, place, html, None)
    }

    /// Records an answer with its web page, whose scripts carry the CSP `nonce`.
    pub fn save_answer_page(
        &self,
        id: &str,
        requester: &str,
        a: &Answer,
        place: &Place,
        html: &str,
        nonce: Option<&str>,
    ) -> anyhow::Result<()> {
        let json = serde_json::to_string(a)?;
        // The answer is stored whole; `extra_json` stays for answers from older versions.
        let extra = "{}".to_string();
        let status = serde_json::to_value(a.status)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.log.with_conn(|c| {
            c.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    id,
                    now(),
                    requester,
                    a.question,
                    a.skill,
                    status,
                    place.channel,
                    place.thread_ts,
                    json,
                    html,
                    nonce,
                    extra
                ],
            )?;
            Ok(())
        })
    }

    /// One stored answer by id.
    pub fn answer(&self, id: &str) -> anyhow::Result<Option<StoredAnswer>> {
        Ok(self
            .answers_where("WHERE a.id = ?", &[id], 1, true)?
            .into_iter()
            .next())
    }

    /// Where an answer was given (its Slack channel and thread), if it was stored.
    pub fn place(&self, id: &str) -> anyhow::Result<Option<Place>> {
        self.log.with_conn(|c| {
            Ok(c.query_row(
                "SELECT channel, thread_ts FROM answers WHERE id = ?",
                params![id],
                |r| {
                    Ok(Place {
                        channel: r.get(0)?,
                        thread_ts: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
    }

    /// A stored answer as the typed [`Answer`] (for PDFs and buttons after a restart).
    pub fn load_answer(&self, id: &str) -> anyhow::Result<Option<Answer>> {
        let Some(s) = self.answer(id)? else {
            return Ok(None);
        };
        let mut a: Answer = serde_json::from_str(&s.answer_json)?;
        let extra: Option<String> = self.log.with_conn(|c| {
            Ok(c.query_row(
                "SELECT extra_json FROM answers WHERE id = ?",
                params![id],
                |r| r.get(0),
            )?)
        })?;
        // Answers stored before the answer was stored whole kept these two beside it.
        if let Some(extra) = extra {
            let mut x: serde_json::Value = serde_json::from_str(&extra)?;
            if a.headline.is_empty() {
                a.headline = x["headline"].as_str().unwrap_or_default().to_string();
            }
            if a.column_meta.is_empty() {
                a.column_meta = serde_json::from_value(x["column_meta"].take()).unwrap_or_default();
            }
        }
        Ok(Some(a))
    }

    /// The newest answers first, as a listing: without their pages and JSON (`html` is
    /// `None`, `answer_json` empty; read one with [`State::answer`]). `requester` limits
    /// them to one person.
    pub fn recent_answers(
        &self,
        requester: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<StoredAnswer>> {
        match requester {
            Some(r) => self.answers_where("WHERE a.requester = ?", &[r], limit, false),
            None => self.answers_where("", &[], limit, false),
        }
    }

    fn answers_where(
        &self,
        filter: &str,
        args: &[&str],
        limit: usize,
        full: bool,
    ) -> anyhow::Result<Vec<StoredAnswer>> {
        let page = if full {
            "a.answer_json, a.html"
        } else {
            "'', NULL"
        };
        let sql = format!(
            "SELECT a.id, substr(a.created_at, 1, 19), a.requester, a.question,
                    a.skill, a.status, {page}, a.nonce,
                    (SELECT count(*) FROM feedback f WHERE f.answer_id = a.id AND f.helpful),
                    (SELECT count(*) FROM feedback f WHERE f.answer_id = a.id AND NOT f.helpful)
             FROM answers a
             {filter}
             ORDER BY a.created_at DESC, a.rowid DESC LIMIT {limit}"
        );
        self.log.with_conn(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok(StoredAnswer {
                    id: r.get(0)?,
                    created_at: r.get(1)?,
                    requester: r.get(2)?,
                    question: r.get(3)?,
                    skill: r.get(4)?,
                    status: r.get(5)?,
                    answer_json: r.get(6)?,
                    html: r.get(7)?,
                    nonce: r.get(8)?,
                    feedback: (r.get(9)?, r.get(10)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn record_feedback(
        &self,
        answer_id: &str,
        requester: &str,
        helpful: bool,
    ) -> anyhow::Result<()> {
        self.log.with_conn(|c| {
            c.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?)",
                params![answer_id, requester, helpful, now()],
            )?;
            Ok(())
        })
    }

    /// Feedback on one answer: (requester, helpful), oldest first.
    pub fn feedback(&self, answer_id: &str) -> anyhow::Result<Vec<(String, bool)>> {
        self.log.with_conn(|c| {
            let mut stmt = c.prepare(
                "SELECT requester, helpful FROM feedback WHERE answer_id = ? ORDER BY given_at, rowid",
            )?;
            let rows = stmt.query_map(params![answer_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// True the first time an event id is seen; false for Slack's retries of it.
    pub fn first_delivery(&self, event_id: &str) -> anyhow::Result<bool> {
        self.log.with_conn(|c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO slack_events VALUES (?, ?)",
                params![event_id, now()],
            )?;
            Ok(n == 1)
        })
    }

    /// Remembers the question a thread is about, for follow-ups.
    pub fn set_thread(
        &self,
        channel: &str,
        thread_ts: &str,
        question: &str,
        answer_id: &str,
    ) -> anyhow::Result<()> {
        self.log.with_conn(|c| {
            c.execute(
                "INSERT OR REPLACE INTO threads VALUES (?, ?, ?, ?, ?)",
                params![channel, thread_ts, question, answer_id, now()],
            )?;
            Ok(())
        })
    }

    /// The question a thread is about, if the bot answered in it before.
    pub fn thread(&self, channel: &str, thread_ts: &str) -> anyhow::Result<Option<String>> {
        self.log.with_conn(|c| {
            Ok(c.query_row(
                "SELECT question FROM threads WHERE channel = ? AND thread_ts = ?",
                params![channel, thread_ts],
                |r| r.get(0),
            )
            .optional()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::Status;

    fn state() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().expect("tmp");
        let log = AuditLog::open(&dir.path().join("state.sqlite")).expect("open");
        (dir, State::open(log).expect("state"))
    }

    #[test]
    fn answers_feedback_threads_and_events_round_trip() {
        let (_d, s) = state();
        let a = Answer::new("What's our ARR?", Status::Answered, "ARR $1".into());
        let id = new_id("What's our ARR?");
        s.save_answer(&id, "slack:U1", &a, &Place::default(), "<p>x</p>")
            .expect("save");
        let got = s.answer(&id).expect("read").expect("found");
        assert_eq!(got.question, "What's our ARR?");
        assert_eq!(got.status, "answered");
        assert_eq!(got.html.as_deref(), Some("<p>x</p>"));
        assert_eq!(got.feedback, (0, 0));
        s.record_feedback(&id, "slack:U2", true).expect("fb");
        s.record_feedback(&id, "slack:U3", false).expect("fb");
        assert_eq!(
            s.answer(&id).expect("read").expect("found").feedback,
            (1, 1)
        );
        assert!(s.answer("nope").expect("read").is_none());
        let back = s.load_answer(&id).expect("load").expect("found");
        assert_eq!(back.headline, a.headline);
        assert_eq!(
            s.recent_answers(Some("slack:U1"), 10).expect("list").len(),
            1
        );
        assert!(s
            .recent_answers(Some("slack:U9"), 10)
            .expect("list")
            .is_empty());

        assert!(s.first_delivery("Ev1").expect("ev"));
        assert!(!s.first_delivery("Ev1").expect("ev"));
        assert_eq!(s.thread("C1", "1.1").expect("t"), None);
        s.set_thread("C1", "1.1", "ARR by segment", &id).expect("t");
        s.set_thread("C1", "1.1", "ARR by plan", &id).expect("t");
        assert_eq!(
            s.thread("C1", "1.1").expect("t").as_deref(),
            Some("ARR by plan")
        );
    }
}
