//! `cortex eval FILE`: runs a question set and reports accuracy and every miss.
//!
//! Each case names a question, the `today` to answer it on, and what is expected: a status,
//! the structured query the planner should produce, and/or rows computed by hand-written
//! SQL against the same warehouse (so the check holds at any demo scale).

use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::answer::Status;
use crate::semantic::MetricQuery;
use crate::skills::run::Runtime;
use crate::warehouse::{AuditContext, Value};

/// One question with its expected outcome.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub question: String,
    pub today: NaiveDate,
    /// answered (default), clarify or unanswerable.
    #[serde(default = "answered")]
    pub status: String,
    /// The structured query the planner must produce (filters compared as a set).
    #[serde(default)]
    pub query: Option<MetricQuery>,
    /// Hand-written SQL whose rows the answer must equal (order-insensitive unless `ordered`).
    #[serde(default)]
    pub rows_sql: Option<String>,
    #[serde(default)]
    pub ordered: bool,
    /// The skill that must answer (default: any).
    #[serde(default)]
    pub skill: Option<String>,
    /// The answer's first columns, in order (a prefix of its `columns`).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
}

fn answered() -> String {
    "answered".into()
}

/// A case that did not pass, and why.
#[derive(Debug)]
pub struct Miss {
    pub question: String,
    pub why: String,
}

pub struct Report {
    pub total: usize,
    pub misses: Vec<Miss>,
}

impl Report {
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        (self.total - self.misses.len()) as f64 / self.total as f64
    }
}

pub fn load(path: &Path) -> Result<Vec<Case>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not a valid question set", path.display()))
}

fn normalise(q: &MetricQuery) -> MetricQuery {
    let mut q = q.clone();
    q.filters.sort_by_key(|c| c.to_string());
    q
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0),
        _ => a == b || (a.as_date().is_some() && a.as_date() == b.as_date()),
    }
}

fn rows_equal(a: &[Vec<Value>], b: &[Vec<Value>], ordered: bool) -> bool {
    let key = |r: &Vec<Value>| serde_json::to_string(r).unwrap_or_default();
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    if !ordered {
        a.sort_by_key(key);
        b.sort_by_key(key);
    }
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q)))
}

/// Runs every case through the skill router; `progress` gets one line per case.
pub fn run(rt: &Runtime, cases: &[Case], progress: &mut dyn FnMut(&str)) -> Report {
    let engine = &rt.engine;
    let mut misses = Vec::new();
    for case in cases {
        let a = crate::skills::answer_question(rt, &case.question, None, case.today, "eval");
        let status = serde_json::to_value(a.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut why = Vec::new();
        if status != case.status {
            why.push(format!(
                "status {status}, expected {} ({})",
                case.status, a.headline
            ));
        }
        if let Some(skill) = &case.skill {
            if &a.skill != skill {
                why.push(format!("skill {}, expected {skill}", a.skill));
            }
        }
        if let Some(cols) = &case.columns {
            if !a.columns.starts_with(cols) {
                why.push(format!(
                    "columns {:?}, expected to start with {cols:?}",
                    a.columns
                ));
            }
        }
        if let Some(expected) = &case.query {
            match &a.query {
                Some(q) if normalise(q) == normalise(expected) => {}
                Some(q) => why.push(format!(
                    "query {}, expected {}",
                    serde_json::to_string(q).unwrap_or_default(),
                    serde_json::to_string(expected).unwrap_or_default()
                )),
                None => why.push("no query".into()),
            }
        }
        if let (Some(sql), Status::Answered) = (&case.rows_sql, a.status) {
            let ctx = AuditContext {
                requester: "eval".into(),
                question: format!("expected rows for: {}", case.question),
                query_json: None,
            };
            match engine.warehouse.query(sql, &ctx) {
                Ok(r) if rows_equal(&a.rows, &r.rows, case.ordered) => {}
                Ok(r) => why.push(format!(
                    "rows {}, expected {}",
                    serde_json::to_string(&a.rows).unwrap_or_default(),
                    serde_json::to_string(&r.rows).unwrap_or_default()
                )),
                Err(e) => why.push(format!("the expected-rows SQL failed: {e}")),
            }
        }
        if case.status != "answered" && !a.rows.is_empty() {
            why.push("returned rows without an answer".into());
        }
        let ok = why.is_empty();
        progress(&format!(
            "{} {}",
            if ok { "pass" } else { "MISS" },
            case.question
        ));
        if !ok {
            misses.push(Miss {
                question: case.question.clone(),
                why: why.join("; "),
            });
        }
    }
    Report {
        total: cases.len(),
        misses,
    }
}
