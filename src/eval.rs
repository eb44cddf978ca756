//! `cortex eval FILE`: runs a question set and reports correct, wrong and refused answers.
//!
//! Two formats:
//! - YAML (`tests/eval/questions.yaml`): each case names a question, the `today` to answer
//!   it on, and what is expected: a status, the structured query the planner should
//!   produce, and/or rows computed by hand-written SQL against the same warehouse (so the
//!   check holds at any demo scale).
//! - JSON lines with gold results (`acme_questions_gold.jsonl`): each line has a `question`
//!   and `gold_result_duckdb: {columns, rows}`. An answer is correct when its rows equal the
//!   gold rows as a multiset, ignoring column names and column order, with a numeric
//!   tolerance; numbers stored as text compare as numbers. A single-number answer matches a
//!   single-cell gold. A refusal (clarify, unanswerable, error) is never counted as wrong.

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
    /// The question was refused (clarify, unanswerable, error) rather than answered
    /// wrongly: no number was given.
    pub refused: bool,
}

pub struct Report {
    pub total: usize,
    pub misses: Vec<Miss>,
}

impl Report {
    /// Cases answered as expected.
    pub fn correct(&self) -> usize {
        self.total - self.misses.len()
    }

    /// Misses that gave an answer: a wrong number, rows or status.
    pub fn wrong(&self) -> usize {
        self.misses.iter().filter(|m| !m.refused).count()
    }

    /// Misses where no answer was given.
    pub fn refused(&self) -> usize {
        self.misses.iter().filter(|m| m.refused).count()
    }

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
    serde_norway::from_str(&text)
        .with_context(|| format!("{} is not a valid question set", path.display()))
}

fn normalise(q: &MetricQuery) -> MetricQuery {
    let mut q = q.clone();
    // An IN list is a set: its order is the question's, not a meaning.
    for c in &mut q.filters {
        if matches!(
            c.op,
            crate::semantic::query::Op::In
                | crate::semantic::query::Op::NotIn
                | crate::semantic::query::Op::Excluding
        ) {
            c.values.sort_by_key(|v| v.to_string());
        }
    }
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
        let a = crate::skills::answer_question(rt, &case.question, None, case.today, "cli:eval");
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
                requester: "cli:eval".into(),
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
                refused: a.status != Status::Answered,
            });
        }
    }
    Report {
        total: cases.len(),
        misses,
    }
}

/// One question of a gold-result file (JSON lines).
#[derive(Debug, Deserialize)]
pub struct GoldCase {
    pub question: String,
    pub gold_result_duckdb: GoldResult,
}

/// The gold answer: rows as JSON values; column names are not compared.
#[derive(Debug, Deserialize)]
pub struct GoldResult {
    #[serde(default)]
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// Reads a JSON-lines gold file; blank lines are skipped.
pub fn load_gold(path: &Path) -> Result<Vec<GoldCase>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a gold question", path.display(), i + 1))
        })
        .collect()
}

/// A cell reduced to what the comparison looks at.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Num(f64),
    Text(String),
}

impl Cell {
    fn from_text(s: &str) -> Cell {
        match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Cell::Num(n),
            _ => Cell::Text(s.to_string()),
        }
    }

    fn from_value(v: &Value) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Text(b.to_string()),
            Value::Int(i) => Cell::Num(*i as f64),
            Value::Float(f) => Cell::Num(*f),
            Value::Text(s) => Cell::from_text(s),
            Value::Date(d) => Cell::Text(d.format("%Y-%m-%d").to_string()),
            Value::Timestamp(t) => Cell::Text(t.format("%Y-%m-%d %H:%M:%S").to_string()),
        }
    }

    fn from_json(v: &serde_json::Value) -> Cell {
        match v {
            serde_json::Value::Null => Cell::Null,
            serde_json::Value::Number(n) => n.as_f64().map_or(Cell::Null, Cell::Num),
            serde_json::Value::String(s) => Cell::from_text(s),
            other => Cell::Text(other.to_string()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Cell::Null => 0,
            Cell::Num(_) => 1,
            Cell::Text(_) => 2,
        }
    }

    fn close(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Num(a), Cell::Num(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0),
            (a, b) => a == b,
        }
    }
}

/// A row as a sorted list of cells, so column order does not matter.
fn canonical(mut row: Vec<Cell>) -> Vec<Cell> {
    row.sort_by(|a, b| {
        a.rank().cmp(&b.rank()).then_with(|| match (a, b) {
            (Cell::Num(x), Cell::Num(y)) => x.total_cmp(y),
            (Cell::Text(x), Cell::Text(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        })
    });
    row
}

/// True when the answer's rows are the gold rows: same number of rows and columns, each
/// answer row matched to a distinct gold row with the same values in any column order.
pub fn matches_gold(answer: &[Vec<Value>], gold: &[Vec<serde_json::Value>]) -> bool {
    let a: Vec<Vec<Cell>> = answer
        .iter()
        .map(|r| canonical(r.iter().map(Cell::from_value).collect()))
        .collect();
    let g: Vec<Vec<Cell>> = gold
        .iter()
        .map(|r| canonical(r.iter().map(Cell::from_json).collect()))
        .collect();
    if a.len() != g.len() {
        return false;
    }
    let mut used = vec![false; g.len()];
    a.iter().all(|row| {
        let hit = g.iter().enumerate().position(|(i, gr)| {
            !used[i] && gr.len() == row.len() && gr.iter().zip(row).all(|(x, y)| x.close(y))
        });
        match hit {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

/// Runs every gold question through the skill router on `today`.
pub fn run_gold(
    rt: &Runtime,
    cases: &[GoldCase],
    today: NaiveDate,
    progress: &mut dyn FnMut(&str),
) -> Report {
    let mut misses = Vec::new();
    for case in cases {
        let a = crate::skills::answer_question(rt, &case.question, None, today, "eval");
        let verdict = match a.status {
            Status::Answered if matches_gold(&a.rows, &case.gold_result_duckdb.rows) => None,
            Status::Answered => Some(Miss {
                question: case.question.clone(),
                why: format!(
                    "wrong: rows {}, gold {} (query {})",
                    serde_json::to_string(&a.rows).unwrap_or_default(),
                    serde_json::to_string(&case.gold_result_duckdb.rows).unwrap_or_default(),
                    a.query
                        .as_ref()
                        .and_then(|q| serde_json::to_string(q).ok())
                        .unwrap_or_else(|| "none".into())
                ),
                refused: false,
            }),
            other => Some(Miss {
                question: case.question.clone(),
                why: format!(
                    "refused ({}): {}",
                    serde_json::to_value(other)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    a.headline
                ),
                refused: true,
            }),
        };
        progress(&format!(
            "{} {}",
            match &verdict {
                None => "correct",
                Some(m) if m.refused => "refused",
                Some(_) => "WRONG",
            },
            case.question.trim()
        ));
        misses.extend(verdict);
    }
    Report {
        total: cases.len(),
        misses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gold(v: serde_json::Value) -> Vec<Vec<serde_json::Value>> {
        serde_json::from_value(v).expect("rows")
    }

    #[test]
    fn gold_rows_match_in_any_row_and_column_order() {
        let answer = vec![
            vec![Value::Int(2200), Value::Text("12312701".into())],
            vec![Value::Float(4400.0), Value::Text("12312702".into())],
        ];
        assert!(matches_gold(
            &answer,
            &gold(json!([[12312702, 4400], [12312701, 2200]]))
        ));
        assert!(!matches_gold(
            &answer,
            &gold(json!([[12312702, 4400], [12312701, 2201]]))
        ));
        // A missing or extra row, or an extra column, is not the gold.
        assert!(!matches_gold(&answer, &gold(json!([[12312702, 4400]]))));
        assert!(!matches_gold(
            &answer,
            &gold(json!([[12312702, 4400, 1], [12312701, 2200, 1]]))
        ));
    }

    #[test]
    fn single_numbers_dates_and_tolerance() {
        assert!(matches_gold(&[vec![Value::Int(2)]], &gold(json!([[2]]))));
        assert!(matches_gold(
            &[vec![Value::Float(0.680_000_000_1)]],
            &gold(json!([[0.68]]))
        ));
        assert!(!matches_gold(
            &[vec![Value::Float(0.69)]],
            &gold(json!([[0.68]]))
        ));
        let d = NaiveDate::from_ymd_opt(2019, 1, 15).expect("date");
        assert!(matches_gold(
            &[vec![Value::Date(d), Value::Null]],
            &gold(json!([[null, "2019-01-15"]]))
        ));
        // The same values twice must match two gold rows, not one.
        assert!(!matches_gold(
            &[vec![Value::Int(1)], vec![Value::Int(1)]],
            &gold(json!([[1], [2]]))
        ));
    }
}
