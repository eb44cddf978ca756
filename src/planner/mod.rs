//! The offline planner: a plain-language question -> a `MetricQuery`, deterministically.
//!
//! Everything it recognises comes from metrics.yaml: metric names, labels and synonyms;
//! dimension names, labels and synonyms ("by segment"); dimension values and their synonyms
//! ("Enterprise", "chat tickets"); plus time expressions (`time.rs`). It never guesses: a
//! question with no governed metric is unanswerable, and a word that fits several metrics
//! equally gets one clarifying question.

pub mod followup;
#[cfg(test)]
#[path = "tests.rs"]
mod plan_tests;
pub mod understood;

/// The calendar under its old path, for `skills/mod.rs`, `skills/run.rs` and `answer` (owned
/// elsewhere); new code uses `crate::text::calendar`.
pub use crate::text::calendar as time;
use crate::text::words::stem;
/// The tokenizer under its old path, for `skills/mod.rs`; new code uses `crate::text`.
pub use crate::text::words::words;

use understood::is_filler;
pub use understood::{Role, Understood};

use chrono::NaiveDate;

use crate::fuzzy::{levenshtein, typo_budget};
/// Semantic models a metric reads from, under its old path for `engine`, `policy` and
/// `web` (owned elsewhere); new code uses `crate::semantic::graph`.
pub use crate::semantic::graph::metric_models;
use crate::semantic::graph::{
    additive, base_count_metric, entity_column, has_time, is_average, is_median,
    linking_identifiers, own_time, own_time_dimension, point_in_time, quotient, reachable,
    reachable_dimension_names, simple_parts, split_dimensions, statistic, sum_leaves,
};
use crate::semantic::model::{MetricKind, SemanticLayer};
use crate::semantic::query::{Condition, Grain, Literal, MetricQuery, Op, OrderBy, TimeRange};
use crate::text::words::{phrase, STOPWORDS};
use crate::text::Question;

/// The planner's decision (made once per question, so its size doesn't matter).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Plan {
    /// A governed query, with how the period was read.
    Query {
        query: MetricQuery,
        period: Option<String>,
        notes: Vec<String>,
        /// How each phrase of the question was read.
        understood: Vec<Understood>,
        /// What the answer assembles from `query`.
        shape: Shape,
    },
    /// Two or more readings are plausible: ask one question.
    Clarify {
        question: String,
        choices: Vec<String>,
    },
    /// No governed metric fits.
    Unanswerable {
        reason: String,
        suggestions: Vec<String>,
    },
}

/// What a phrase in the vocabulary points at.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Metric(usize),
    /// A dimension name (may exist in several models).
    Dimension(String),
    /// A stored value of a dimension.
    Value {
        dimension: String,
        value: String,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    words: Vec<String>,
    target: Target,
    /// Declaration order, to break ties deterministically.
    rank: usize,
    /// Words a shortened dimension phrase leaves out ("open date" for "claim open date"):
    /// the entry matches only when the question names them elsewhere.
    implied: Vec<String>,
}

/// Everything the planner can recognise, built from metrics.yaml.
pub struct Vocabulary {
    entries: Vec<Entry>,
    /// Stored values of `entity_name` dimensions (merchant names), by first word; matched
    /// exactly, longest first.
    names: std::collections::HashMap<String, Vec<Entry>>,
}

impl Vocabulary {
    pub fn new(layer: &SemanticLayer) -> Vocabulary {
        let mut entries = Vec::new();
        let push = |text: &str, target: Target, entries: &mut Vec<Entry>| {
            let words = phrase(text);
            if !words.is_empty()
                && !entries
                    .iter()
                    .any(|e: &Entry| e.words == words && e.target == target)
            {
                let rank = entries.len();
                entries.push(Entry {
                    words,
                    target,
                    rank,
                    implied: Vec::new(),
                });
            }
        };
        // A dimension phrase of three or more words may drop its first word when the
        // question names that word elsewhere ("claims by open date" for "claim open date").
        let push_short = |text: &str, target: Target, entries: &mut Vec<Entry>| {
            let words = phrase(text);
            if words.len() < 3 {
                return;
            }
            let rest = words[1..].to_vec();
            if understood::is_common(&words[0])
                || entries.iter().any(|e: &Entry| {
                    e.words == rest && (e.implied.is_empty() || e.target == target)
                })
            {
                return;
            }
            let rank = entries.len();
            entries.push(Entry {
                words: rest,
                target,
                rank,
                implied: vec![words[0].clone()],
            });
        };
        for (i, m) in layer.metrics.iter().enumerate() {
            push(&m.name, Target::Metric(i), &mut entries);
            push(&m.label, Target::Metric(i), &mut entries);
            for s in &m.synonyms {
                push(s, Target::Metric(i), &mut entries);
            }
        }
        for (_, d) in layer.all_dimensions() {
            let dim = Target::Dimension(d.name.clone());
            if d.is_time() {
                // Dates are group-by columns ("by open date"), never periods; only phrases
                // of two or more words, so "date" alone stays filler.
                for text in std::iter::once(&d.name)
                    .chain(std::iter::once(&d.label))
                    .chain(&d.synonyms)
                {
                    if phrase(text).len() >= 2 {
                        push(text, dim.clone(), &mut entries);
                    }
                }
                continue;
            }
            push(&d.name, dim.clone(), &mut entries);
            push(&d.label, dim.clone(), &mut entries);
            for s in &d.synonyms {
                push(s, dim.clone(), &mut entries);
            }
            for v in &d.sample_values {
                let t = Target::Value {
                    dimension: d.name.clone(),
                    value: v.clone(),
                };
                push(v, t.clone(), &mut entries);
                for s in d.value_synonyms.get(v).into_iter().flatten() {
                    push(s, t.clone(), &mut entries);
                }
            }
        }
        for (_, d) in layer.all_dimensions() {
            let dim = Target::Dimension(d.name.clone());
            push_short(&d.label, dim.clone(), &mut entries);
            push_short(&d.name, dim, &mut entries);
        }
        // Longest phrases first, then declaration order.
        entries.sort_by(|a, b| b.words.len().cmp(&a.words.len()).then(a.rank.cmp(&b.rank)));
        Vocabulary {
            entries,
            names: Default::default(),
        }
    }

    /// The governed values a question names, longest first and without overlaps:
    /// (the words as written, dimension, value). Entity names count too.
    pub fn values_in(&self, question: &str) -> Vec<(String, String, String)> {
        self.values_read(State::of_text(question))
    }

    /// [`Vocabulary::values_in`] of a question already read.
    pub fn values_in_question(&self, q: &Question) -> Vec<(String, String, String)> {
        self.values_read(State::new(q))
    }

    fn values_read(&self, mut st: State) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for i in 0..st.stems.len() {
            for e in self.names.get(&st.stems[i]).into_iter().flatten() {
                let n = e.words.len();
                if i + n <= st.stems.len()
                    && (0..n).all(|k| !st.used[i + k] && st.stems[i + k] == e.words[k])
                {
                    if let Target::Value { dimension, value } = &e.target {
                        out.push((
                            st.lower[i..i + n].join(" "),
                            dimension.clone(),
                            value.clone(),
                        ));
                    }
                    st.mark(i, n);
                    break;
                }
            }
        }
        for e in &self.entries {
            let Target::Value { dimension, value } = &e.target else {
                continue;
            };
            let mut start = 0;
            while let Some(i) = st.find(e, start) {
                let n = e.words.len();
                out.push((
                    st.lower[i..i + n].join(" "),
                    dimension.clone(),
                    value.clone(),
                ));
                st.mark(i, n);
                start = i + n;
            }
        }
        out
    }

    /// The dimension phrases a question names ("by channel"): (the words, dimension).
    pub fn dimensions_in(&self, question: &str) -> Vec<(String, String)> {
        self.dimensions_read(State::of_text(question))
    }

    /// [`Vocabulary::dimensions_in`] of a question already read.
    pub fn dimensions_in_question(&self, q: &Question) -> Vec<(String, String)> {
        self.dimensions_read(State::new(q))
    }

    fn dimensions_read(&self, mut st: State) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for e in &self.entries {
            let Target::Dimension(d) = &e.target else {
                continue;
            };
            let mut start = 0;
            while let Some(i) = st.find(e, start) {
                let n = e.words.len();
                // Only a grouping ("by channel"), not a word that happens to name one.
                if i > 0 && matches!(st.word(i - 1), "by" | "per" | "each" | "across") {
                    out.push((st.lower[i..i + n].join(" "), d.clone()));
                }
                st.mark(i, n);
                start = i + n;
            }
        }
        out
    }

    /// Adds the stored values of a dimension marked `entity_name` ("Blue Fox Goods"), so a
    /// name in a question filters on it. Names of one word, or only of common words, are
    /// skipped: they would match ordinary English.
    pub fn add_entity_names(&mut self, dimension: &str, values: impl IntoIterator<Item = String>) {
        for v in values {
            let words = phrase(&v);
            // One word is an identifier only when it can't be an ordinary number or word:
            // letters and digits ("l3141592"), or six digits or more.
            let id_like = words.len() == 1 && {
                let w = &words[0];
                let digits = w.chars().filter(char::is_ascii_digit).count();
                (digits > 0 && digits < w.len() && w.len() >= 4)
                    || (digits == w.len() && digits >= 6)
            };
            if (words.len() < 2 && !id_like)
                || words
                    .iter()
                    .all(|w| understood::FILLER.contains(&w.as_str()))
            {
                continue;
            }
            let rank = self.entries.len();
            let list = self.names.entry(words[0].clone()).or_default();
            list.push(Entry {
                words,
                target: Target::Value {
                    dimension: dimension.to_string(),
                    value: v,
                },
                rank,
                implied: Vec::new(),
            });
        }
        for list in self.names.values_mut() {
            list.sort_by_key(|e| std::cmp::Reverse(e.words.len()));
        }
    }

    /// Loads every `entity_name` dimension's values through the warehouse (at most 50,000
    /// per dimension, paged under the warehouse's row cap); a failure leaves names
    /// unrecognised, never breaks planning.
    pub fn load_entity_names(&mut self, engine: &crate::engine::Engine) {
        const MAX: usize = 50_000;
        let page = engine.warehouse.limits().max_rows.max(1);
        for model in &engine.layer.models {
            // Names, and identifiers ("policy 31003000336", "listing l3141592").
            for d in model
                .dimensions
                .iter()
                .filter(|d| d.entity_name || d.identifier)
            {
                let ctx = crate::warehouse::AuditContext {
                    requester: "cortex".into(),
                    question: format!("entity names of {}", d.name),
                    query_json: None,
                };
                let mut values: Vec<String> = Vec::new();
                while values.len() < MAX {
                    let sql = format!(
                        "SELECT DISTINCT CAST({} AS VARCHAR) AS v FROM {} WHERE {} IS NOT NULL ORDER BY 1 LIMIT {page} OFFSET {}",
                        d.expr,
                        model.table,
                        d.expr,
                        values.len()
                    );
                    match engine.warehouse.query(&sql, &ctx) {
                        Ok(r) => {
                            let n = r.rows.len();
                            values.extend(
                                r.rows
                                    .iter()
                                    .filter_map(|row| row.first()?.as_str().map(str::to_string)),
                            );
                            if n < page {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, dimension = %d.name, "entity names not loaded");
                            break;
                        }
                    }
                }
                self.add_entity_names(&d.name, values);
            }
        }
    }
}

fn word_matches(q: &str, p: &str) -> bool {
    if q == p {
        return true;
    }
    let n = q.chars().count().min(p.chars().count());
    n >= 5
        && !q.chars().any(|c| c.is_ascii_digit())
        // A common English word is never a typo of a domain term ("looking" is not "booking").
        && !understood::is_common(q)
        && levenshtein(q, p) <= typo_budget(n).min(1)
}

struct State {
    stems: Vec<String>,
    lower: Vec<String>,
    used: Vec<bool>,
}

impl State {
    /// Every token of the question unused.
    fn new(q: &Question) -> State {
        State {
            stems: q.stems.clone(),
            lower: q.tokens.clone(),
            used: vec![false; q.tokens.len()],
        }
    }

    /// Every word of `text` unused (for entry points given text, not a read question).
    fn of_text(text: &str) -> State {
        let lower = words(text);
        State {
            stems: lower.iter().map(|w| stem(w)).collect(),
            used: vec![false; lower.len()],
            lower,
        }
    }

    /// Finds `entry` in unused tokens from `start`; returns the first index.
    fn find(&self, entry: &Entry, start: usize) -> Option<usize> {
        let n = entry.words.len();
        if !entry
            .implied
            .iter()
            .all(|w| self.stems.iter().any(|s| s == w))
        {
            return None;
        }
        (start..(self.stems.len() + 1).saturating_sub(n)).find(|&i| {
            (0..n).all(|k| !self.used[i + k] && word_matches(&self.stems[i + k], &entry.words[k]))
        })
    }

    fn mark(&mut self, i: usize, n: usize) {
        for k in i..i + n {
            self.used[k] = true;
        }
    }

    fn word(&self, i: usize) -> &str {
        self.lower.get(i).map(String::as_str).unwrap_or("")
    }
}

/// The metrics a question names, in question order (longest phrases first, as the
/// planner reads them), whether or not the rest of the question is understood.
pub fn metrics_named(layer: &SemanticLayer, vocab: &Vocabulary, question: &str) -> Vec<String> {
    metrics_named_read(layer, vocab, State::of_text(question))
}

/// [`metrics_named`] of a question already read.
pub fn metrics_named_in(layer: &SemanticLayer, vocab: &Vocabulary, q: &Question) -> Vec<String> {
    metrics_named_read(layer, vocab, State::new(q))
}

fn metrics_named_read(layer: &SemanticLayer, vocab: &Vocabulary, mut st: State) -> Vec<String> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    for e in &vocab.entries {
        if let Target::Metric(m) = e.target {
            let mut start = 0;
            while let Some(i) = st.find(e, start) {
                if longer_non_metric(vocab, &st, i, e.words.len()) {
                    start = i + 1;
                    continue;
                }
                st.mark(i, e.words.len());
                found.push((i, m));
                start = i + e.words.len();
            }
        }
    }
    found.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, m) in found {
        let name = layer.metrics[m].name.clone();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// True when a dimension or value phrase longer than `n` words covers tokens `i..i + n`.
fn longer_non_metric(vocab: &Vocabulary, st: &State, i: usize, n: usize) -> bool {
    vocab.entries.iter().any(|e| {
        let len = e.words.len();
        if len <= n
            || matches!(e.target, Target::Metric(_))
            || !e.implied.iter().all(|w| st.stems.contains(w))
        {
            return false;
        }
        ((i + n).saturating_sub(len)..=i).any(|s| {
            s + len <= st.stems.len()
                && (0..len).all(|k| !st.used[s + k] && word_matches(&st.stems[s + k], &e.words[k]))
        })
    })
}

/// A period of a comparison: its dates and how to say it.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub range: TimeRange,
    pub label: String,
}

/// What the answer assembles from the planned query (more than one query for all but
/// `Single`).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// The query's rows are the answer.
    Single,
    /// The query over two periods: one row per group with both values and the change. The
    /// query's `time_range` is the later period.
    Compare { earlier: Span, later: Span },
    /// The change between two periods plus the top contributors to it for each of
    /// `dimensions`. The query's `time_range` is the later period.
    Why {
        earlier: Span,
        later: Span,
        dimensions: Vec<String>,
    },
    /// The query (the numerator) divided by `denominator`, matched on the group-bys.
    Share {
        denominator: MetricQuery,
        label: String,
    },
    /// The query's metrics plus one column with their sum, named `label` (an inline
    /// definition from the question).
    Sum { label: String },
}

/// Recorded readings: (first token, token count, role, governed name).
type Readings = Vec<(usize, usize, Role, String)>;

fn record(r: &mut Readings, i: usize, n: usize, role: Role, as_: impl Into<String>) {
    if n > 0 && !r.iter().any(|(j, m, _, _)| *j <= i && i < j + m) {
        r.push((i, n, role, as_.into()));
    }
}

fn short_label(label: &str) -> String {
    label.split(" (").next().unwrap_or(label).to_string()
}

/// `range` moved back by one period of `grain` (whole months stay whole months).
fn back(range: TimeRange, grain: Grain) -> TimeRange {
    let from = time::shift(range.from, grain, -1);
    let to =
        time::shift(range.to + chrono::Duration::days(1), grain, -1) - chrono::Duration::days(1);
    TimeRange { from, to }
}

/// The period before `range` of the same kind: the previous month, quarter or year when
/// `range` is one, else the same number of days just before it.
fn previous(range: TimeRange) -> (TimeRange, Grain) {
    for g in [Grain::Year, Grain::Quarter, Grain::Month, Grain::Week] {
        if time::period_start(range.from, g) == range.from
            && time::whole(range.from, g).to == range.to
        {
            return (back(range, g), g);
        }
    }
    let days = (range.to - range.from).num_days() + 1;
    (
        TimeRange {
            from: range.from - chrono::Duration::days(days),
            to: range.from - chrono::Duration::days(1),
        },
        Grain::Day,
    )
}

/// A sensible series grain for a period.
fn trend_grain(range: Option<TimeRange>) -> Grain {
    match range.map(|r| (r.to - r.from).num_days() + 1) {
        Some(d) if d <= 31 => Grain::Day,
        Some(d) if d <= 186 => Grain::Week,
        _ => Grain::Month,
    }
}

fn same_conditions(a: &[Condition], b: &[Condition]) -> bool {
    let key = |c: &[Condition]| {
        let mut v: Vec<String> = c.iter().map(|x| x.to_string()).collect();
        v.sort();
        v
    };
    key(a) == key(b)
}

/// Plans a question against the semantic layer.
pub fn plan(layer: &SemanticLayer, vocab: &Vocabulary, question: &str, today: NaiveDate) -> Plan {
    plan_question(layer, vocab, &Question::new(question, today))
}

/// Plans a question already read, as of its `today`.
pub fn plan_question<'a>(layer: &'a SemanticLayer, vocab: &'a Vocabulary, q: &'a Question) -> Plan {
    let mut draft = Draft::new(layer, vocab, q);
    // The phases, in reading order: each reads part of the question into the draft, or
    // settles it (a refusal or a clarifying question).
    let phases: [fn(&mut Draft<'a>) -> Option<Plan>; 38] = [
        Draft::refuse_sql,
        Draft::why_words,
        Draft::definitions,
        Draft::periods,
        Draft::comparison_words,
        Draft::compared_periods,
        Draft::metrics,
        Draft::divided_by,
        Draft::subjects,
        Draft::shares,
        Draft::share_of_filtered,
        Draft::counted_table,
        Draft::grain,
        Draft::ranking,
        Draft::which_and_listing,
        Draft::group_phrases,
        Draft::entity_groups,
        Draft::group_order,
        Draft::filter_values,
        Draft::dimension_with_value,
        Draft::values_compared,
        Draft::rate_asked,
        Draft::metric_pairs,
        Draft::statistic_asked,
        Draft::unknown_names,
        Draft::listing_columns,
        Draft::entity_listing,
        Draft::only_and_event_dates,
        Draft::than_and_other_dates,
        Draft::per_and_unexplained,
        Draft::snapshot_and_entities,
        Draft::ranking_checks,
        Draft::order_and_range,
        Draft::compare_shape,
        Draft::share_shape,
        Draft::definition_shape,
        Draft::contradictions,
        Draft::final_notes,
    ];
    for phase in phases {
        if let Some(settled) = phase(&mut draft) {
            return settled;
        }
    }
    draft.finish()
}

/// A plan being read: the question, and what the phases have found so far.
struct Draft<'a> {
    layer: &'a SemanticLayer,
    vocab: &'a Vocabulary,
    /// The question as asked.
    question: &'a str,
    today: NaiveDate,
    /// For each token, whether a comma follows it.
    commas: &'a [bool],
    st: State,
    notes: Vec<String>,
    readings: Readings,
    /// "why did X change": a change between two periods and its contributors.
    why: bool,
    /// An inline definition: (label, first token of its parts).
    defined: Option<(String, usize)>,
    /// Where "divided by" is said.
    divided_at: Option<usize>,
    period: Option<time::FoundPeriod>,
    second: Option<time::FoundPeriod>,
    implied_compare: bool,
    shift_by: Option<Grain>,
    /// A series compared period over period ("by month YoY"): the query's `prior`.
    prior: Option<String>,
    /// "YTD by month": each bucket's running total from the start of its year.
    to_date: Option<Grain>,
    /// "At the end of Q3": a moment, which only balances have.
    at_end: bool,
    compare_word: bool,
    /// (earlier, later) when two periods are compared.
    compare: Option<(Span, Span)>,
    /// (metric, position, length, bare count noun), in question order.
    metrics: Vec<(usize, usize, usize, bool)>,
    /// Count nouns that name the subject: (metric, position, length).
    subjects: Vec<(usize, usize, usize)>,
    /// A share's base: (metric, position after it).
    share_base: Option<(usize, usize)>,
    /// A scoping metric's filter, which becomes the question's.
    scoped: Vec<Condition>,
    share_numerator: Option<usize>,
    metric_ids: Vec<usize>,
    grain: Option<Grain>,
    limit: Option<u64>,
    desc: Option<bool>,
    which_at: Option<usize>,
    which: bool,
    /// "return / list ...": rows, not a number.
    listing: bool,
    group_by: Vec<String>,
    ranked_list: bool,
    filters: Vec<Condition>,
    /// Dimension phrases found: (position, length, dimension).
    dim_hits: Vec<(usize, usize, String)>,
    /// Positions of the group-by phrases.
    group_pos: Vec<usize>,
    subject_models: Vec<usize>,
    counts_only: bool,
    time_range: Option<TimeRange>,
    period_label: Option<String>,
    order: Vec<OrderBy>,
    shape: Shape,
}

impl<'a> Draft<'a> {
    fn new(layer: &'a SemanticLayer, vocab: &'a Vocabulary, q: &'a Question) -> Draft<'a> {
        Draft {
            layer,
            vocab,
            question: q.raw.as_str(),
            today: q.today,
            commas: &q.commas,
            st: State::new(q),
            notes: Vec::new(),
            readings: Vec::new(),
            why: false,
            defined: None,
            divided_at: None,
            period: q.period.clone(),
            second: None,
            implied_compare: false,
            shift_by: None,
            prior: None,
            to_date: None,
            at_end: false,
            compare_word: false,
            compare: None,
            metrics: Vec::new(),
            subjects: Vec::new(),
            share_base: None,
            scoped: Vec::new(),
            share_numerator: None,
            metric_ids: Vec::new(),
            grain: None,
            limit: None,
            desc: None,
            which_at: None,
            which: false,
            listing: false,
            group_by: Vec::new(),
            ranked_list: false,
            filters: Vec::new(),
            dim_hits: Vec::new(),
            group_pos: Vec::new(),
            subject_models: Vec::new(),
            counts_only: false,
            time_range: None,
            period_label: None,
            order: Vec::new(),
            shape: Shape::Single,
        }
    }

    /// Text that reads as SQL is refused outright.
    fn refuse_sql(&mut self) -> Option<Plan> {
        // Questions, not commands: text that reads as SQL is refused outright.
        const SQL_WORDS: [&str; 12] = [
            "select", "drop", "delete", "insert", "update", "truncate", "alter", "create",
            "attach", "pragma", "copy", "union",
        ];
        let sql_like = self
            .st
            .lower
            .iter()
            .filter(|w| SQL_WORDS.contains(&w.as_str()))
            .count();
        let looks_like_sql = sql_like > 0
            && (self.question.contains(';')
                || self.question.contains("--")
                || (sql_like >= 2 && self.st.lower.iter().any(|w| w == "table" || w == "from")));
        if looks_like_sql {
            return Some(Plan::Unanswerable {
                reason: "That looks like SQL. I answer questions about governed metrics in plain language, and never run SQL from a question.".into(),
                suggestions: Vec::new(),
            });
        }

        None
    }

    /// "Why did X change": the change words are structure, not metrics.
    fn why_words(&mut self) -> Option<Plan> {
        // 0. "Why did X change", comparisons and inline definitions are read first: their
        // words are structure, not metrics.
        self.why = self.st.lower.iter().take(3).any(|w| w == "why");
        if self.why {
            for i in 0..self.st.lower.len() {
                if matches!(
                    self.st.word(i),
                    "why"
                        | "drop"
                        | "dropped"
                        | "drops"
                        | "fall"
                        | "fell"
                        | "falls"
                        | "rise"
                        | "rose"
                        | "increase"
                        | "increased"
                        | "decrease"
                        | "decreased"
                        | "change"
                        | "changed"
                        | "spike"
                        | "spiked"
                        | "dip"
                        | "dipped"
                        | "decline"
                        | "declined"
                        | "grow"
                        | "grew"
                        | "jump"
                        | "jumped"
                        | "go"
                        | "went"
                        | "up"
                        | "down"
                        | "so"
                        | "low"
                        | "high"
                ) {
                    self.st.used[i] = true;
                    record(
                        &mut self.readings,
                        i,
                        1,
                        Role::Comparison,
                        "change between two periods",
                    );
                }
            }
        }
        None
    }

    /// Inline definitions: "where total loss is the sum of A, B and C", "X which is A divided by B".
    fn definitions(&mut self) -> Option<Plan> {
        // Inline definition: "..., where total loss is the sum of A, B and C".
        self.defined = None; // (label, first token of the parts)
        if let Some(w) = (0..self.st.lower.len()).find(|&i| self.st.word(i) == "where") {
            if let Some(k) = (w + 1..self.st.lower.len()).find(|&k| {
                matches!(self.st.word(k), "is" | "are" | "means" | "equals")
                    && matches!(self.st.word(k + 1), "the" | "sum" | "total")
            }) {
                let mut j = k + 1;
                if self.st.word(j) == "the" {
                    j += 1;
                }
                if matches!(self.st.word(j), "sum" | "total")
                    && self.st.word(j + 1) == "of"
                    && k > w + 1
                {
                    let name: Vec<String> = self.st.lower[w + 1..k].to_vec();
                    let label = name.join(" ");
                    for i in w..j + 2 {
                        self.st.used[i] = true;
                    }
                    record(&mut self.readings, w, 1, Role::Filler, "");
                    record(
                        &mut self.readings,
                        w + 1,
                        k - w - 1,
                        Role::Metric,
                        "defined in the question",
                    );
                    record(
                        &mut self.readings,
                        k,
                        j + 2 - k,
                        Role::Metric,
                        "sum of the parts",
                    );
                    // Earlier mentions of the defined name.
                    let n = name.len();
                    for i in 0..w.saturating_sub(n - 1) {
                        if self.st.lower[i..i + n] == name[..]
                            && !self.st.used[i..i + n].iter().any(|u| *u)
                        {
                            self.st.mark(i, n);
                            record(
                                &mut self.readings,
                                i,
                                n,
                                Role::Metric,
                                format!("{label} (defined below)"),
                            );
                        }
                    }
                    self.defined = Some((label, j + 2));
                }
            }
        }
        // The same, named first: "the total loss, which is the sum of A, B and C".
        if self.defined.is_none() {
            if let Some(w) = (1..self.st.lower.len()).find(|&i| {
                matches!(self.st.word(i), "which" | "that")
                    && matches!(self.st.word(i + 1), "is" | "are" | "means" | "equals")
            }) {
                let k = w + 1;
                let mut j = k + 1;
                if self.st.word(j) == "the" {
                    j += 1;
                }
                let start = (0..w)
                    .rev()
                    .find(|&i| {
                        matches!(
                            self.st.word(i),
                            "the" | "is" | "are" | "what" | "was" | "were"
                        )
                    })
                    .map_or(0, |i| i + 1);
                if matches!(self.st.word(j), "sum" | "total")
                    && self.st.word(j + 1) == "of"
                    && start < w
                {
                    let label = self.st.lower[start..w].join(" ");
                    self.st.mark(start, w - start);
                    for i in w..j + 2 {
                        self.st.used[i] = true;
                    }
                    record(
                        &mut self.readings,
                        start,
                        w - start,
                        Role::Metric,
                        "defined in the question",
                    );
                    record(
                        &mut self.readings,
                        w,
                        j + 2 - w,
                        Role::Metric,
                        "sum of the parts",
                    );
                    self.defined = Some((label, j + 2));
                }
            }
        }

        // "X which is A divided by B": a definition, checked against the governed one below.
        self.divided_at = (0..self.st.lower.len().saturating_sub(1)).find(|&i| {
            !self.st.used[i] && self.st.word(i) == "divided" && self.st.word(i + 1) == "by"
        });
        if let Some(k) = self.divided_at {
            self.st.mark(k, 2);
            record(&mut self.readings, k, 2, Role::Metric, "divided by");
        }

        None
    }

    /// Time: up to two periods ("this quarter compared with Q2").
    fn periods(&mut self) -> Option<Plan> {
        // 1. Time: up to two periods ("this quarter compared with Q2").
        self.second = None;
        self.implied_compare = false;
        if let Some(p) = &self.period {
            for &i in &p.used {
                self.st.used[i] = true;
            }
            record_span(&mut self.readings, &p.used, Role::Time, &period_as(p));
            // "At the end of Q3": the period's last moment (months carry it in their label).
            let first = p.used.iter().min().copied().unwrap_or(0);
            if first >= 2
                && self.st.word(first - 2) == "end"
                && self.st.word(first - 1) == "of"
                && !self.st.used[first - 2]
            {
                self.st.used[first - 2] = true;
                self.st.used[first - 1] = true;
                record_span(
                    &mut self.readings,
                    &[first - 2, first - 1],
                    Role::Time,
                    &format!("the last day of the period ({})", p.range.to),
                );
                self.at_end = true;
            }
            self.at_end |= p.label.starts_with("at the end of");
            let masked: Vec<String> = self
                .st
                .lower
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if p.used.contains(&i) {
                        String::new()
                    } else {
                        w.clone()
                    }
                })
                .collect();
            self.second = time::find_period(&masked, self.today);
            // "last month compared to the month before", "vs the previous quarter": the period
            // just before the one found.
            if self.second.is_none() {
                let n = self.st.lower.len();
                let found = (0..n).find_map(|k| {
                    if self.st.used[k] {
                        return None;
                    }
                    let g = time::grain_word(&stem(self.st.word(k)))?;
                    if self.st.word(k + 1) == "before" {
                        // "the month before", "the 7 days before (that)"
                        let mut from = k;
                        if from > 0 && self.st.word(from - 1).parse::<u32>().is_ok() {
                            from -= 1;
                        }
                        if from > 0 && self.st.word(from - 1) == "the" {
                            from -= 1;
                        }
                        let to = if self.st.word(k + 2) == "that" {
                            k + 3
                        } else {
                            k + 2
                        };
                        Some((g, from, to))
                    } else if k > 0
                        && matches!(self.st.word(k - 1), "previous" | "prior" | "preceding")
                    {
                        let from = if k > 1 && self.st.word(k - 2) == "the" {
                            k - 2
                        } else {
                            k - 1
                        };
                        Some((g, from, k + 1))
                    } else {
                        None
                    }
                });
                if let Some((g, from, to)) = found {
                    let (range, kind) = previous(p.range);
                    if kind == g {
                        self.implied_compare = true;
                        let days = (range.to - range.from).num_days() + 1;
                        self.second = Some(time::FoundPeriod {
                            range,
                            label: if g == Grain::Day && days > 1 {
                                format!("the {days} days before")
                            } else {
                                format!("the {g} before")
                            },
                            used: (from..to).collect(),
                        });
                    }
                }
            }
            // "October vs the previous month": previous to October, not to today.
            if let Some(q) = &mut self.second {
                let first_tok = q.used.iter().min().copied().unwrap_or(0);
                let relative =
                    matches!(self.st.word(first_tok), "previous" | "prior" | "preceding")
                        || (self.st.word(first_tok) == "the"
                            && matches!(
                                self.st.word(first_tok + 1),
                                "previous" | "prior" | "preceding"
                            ));
                let (before, kind) = previous(p.range);
                let same_kind = [Grain::Year, Grain::Quarter, Grain::Month, Grain::Week]
                    .into_iter()
                    .find(|&g| {
                        time::period_start(q.range.from, g) == q.range.from
                            && time::whole(q.range.from, g).to == q.range.to
                    });
                let numbered =
                    (first_tok..first_tok + 3).any(|k| self.st.word(k).parse::<u32>().is_ok());
                if relative && (same_kind == Some(kind) || numbered) && q.range.from >= p.range.from
                {
                    let days = (before.to - before.from).num_days() + 1;
                    q.label = if kind == Grain::Day && days > 1 {
                        format!("the {days} days before")
                    } else {
                        format!("the {kind} before")
                    };
                    q.range = before;
                }
            }
            if let Some(q) = &self.second {
                for &i in &q.used {
                    self.st.used[i] = true;
                }
                record_span(&mut self.readings, &q.used, Role::Time, &period_as(q));
            }
        }
        None
    }

    /// Comparison words: "vs", "compared with", "MoM", "YoY".
    fn comparison_words(&mut self) -> Option<Plan> {
        // Comparison words: "vs", "compared with", "MoM", "YoY", "year over year".
        self.shift_by = None;
        self.compare_word = false;
        for i in 0..self.st.lower.len() {
            if self.st.used[i] {
                continue;
            }
            let w = self.st.word(i).to_string();
            let g = match w.as_str() {
                "yoy" => Some(Grain::Year),
                "mom" => Some(Grain::Month),
                "qoq" => Some(Grain::Quarter),
                "wow" => Some(Grain::Week),
                _ => None,
            };
            if let Some(g) = g {
                self.shift_by = Some(g);
                self.st.used[i] = true;
                record(
                    &mut self.readings,
                    i,
                    1,
                    Role::Comparison,
                    format!("{g} over {g}"),
                );
                continue;
            }
            if w == "year" && self.st.word(i + 1) == "over" && self.st.word(i + 2) == "year" {
                self.shift_by = Some(Grain::Year);
                self.st.mark(i, 3);
                record(&mut self.readings, i, 3, Role::Comparison, "year over year");
                continue;
            }
            if matches!(
                w.as_str(),
                "vs" | "versus" | "compared" | "compare" | "compares" | "comparing" | "against"
            ) {
                self.compare_word = true;
                self.st.used[i] = true;
                let n = if matches!(self.st.word(i + 1), "with" | "to") {
                    2
                } else {
                    1
                };
                if n == 2 {
                    self.st.used[i + 1] = true;
                }
                record(&mut self.readings, i, n, Role::Comparison, "compare");
            }
        }
        None
    }

    /// The two periods compared (like for like while one is still running).
    fn compared_periods(&mut self) -> Option<Plan> {
        self.compare = None;
        if let (Some(a), Some(b), true) = (
            &self.period,
            &self.second,
            self.compare_word || self.implied_compare,
        ) {
            let (e, l) = if a.range.from <= b.range.from {
                (a, b)
            } else {
                (b, a)
            };
            self.compare = Some((
                Span {
                    range: e.range,
                    label: short_label(&e.label),
                },
                Span {
                    range: l.range,
                    label: short_label(&l.label),
                },
            ));
        } else if let Some(g) = self.shift_by {
            let later = match &self.period {
                Some(p) => Span {
                    range: p.range,
                    label: short_label(&p.label),
                },
                None => {
                    let r = time::whole(time::period_start(self.today, g), g);
                    Span {
                        range: r,
                        label: format!("this {g}"),
                    }
                }
            };
            let r = back(later.range, g);
            self.compare = Some((
                Span {
                    range: r,
                    label: format!("{} to {}", r.from, r.to),
                },
                later,
            ));
        } else if self.why {
            let later = match &self.period {
                Some(p) => Span {
                    range: p.range,
                    label: short_label(&p.label),
                },
                None => {
                    let r = time::whole(
                        time::shift(
                            time::period_start(self.today, Grain::Month),
                            Grain::Month,
                            -1,
                        ),
                        Grain::Month,
                    );
                    Span {
                        range: r,
                        label: "last month".into(),
                    }
                }
            };
            let (r, _) = previous(later.range);
            self.compare = Some((
                Span {
                    range: r,
                    label: format!("{} to {}", r.from, r.to),
                },
                later,
            ));
        } else if self.second.is_some() {
            return Some(Plan::Clarify {
                question: "I found two periods in your question. Do you want them compared (\"A vs B\") or one of them?".into(),
                choices: Vec::new(),
            });
        }

        if let Some(c) = &mut self.compare {
            like_for_like(c, self.today, &mut self.notes);
        }

        None
    }

    /// Metrics: longest phrases first; a yes/no dimension's words and arithmetic "plus" are not.
    fn metrics(&mut self) -> Option<Plan> {
        // 2. Metrics: longest phrases first.
        self.metrics = Vec::new(); // (metric, position, len, bare noun)
        for e in &self.vocab.entries {
            if let Target::Metric(m) = e.target {
                let mut start = 0;
                while let Some(i) = self.st.find(e, start) {
                    // A longer dimension or value phrase over these words wins ("deal stage",
                    // "arr movement", "policy number" are not the metrics "deals", "arr", "policies").
                    // After "by", a dimension of the same words wins ("bookings by instant booking").
                    let after_by = i > 0 && matches!(self.st.word(i - 1), "by" | "per");
                    if longer_non_metric(self.vocab, &self.st, i, e.words.len())
                        || (after_by
                            && self.vocab.entries.iter().any(|d| {
                                matches!(d.target, Target::Dimension(_)) && d.words == e.words
                            }))
                    {
                        start = i + 1;
                        continue;
                    }
                    self.st.mark(i, e.words.len());
                    let bare = e.words.len() == 1
                        && self.layer.metrics[m].unit == crate::semantic::Unit::Count;
                    self.metrics.push((m, i, e.words.len(), bare));
                    start = i + e.words.len();
                }
            }
        }
        self.metrics.sort_by_key(|(_, pos, _, _)| *pos);
        // "merchants with the AI Agent enabled": words that are both a metric's synonym and a
        // yes/no dimension are the dimension when a count noun names what is counted.
        let share_words = self.st.lower.iter().any(|w| {
            matches!(
                w.as_str(),
                "share"
                    | "percent"
                    | "percentage"
                    | "proportion"
                    | "fraction"
                    | "%"
                    | "pct"
                    | "rate"
            )
        });
        if !share_words
            && self
                .metrics
                .iter()
                .any(|x| self.layer.metrics[x.0].unit == crate::semantic::Unit::Count)
        {
            let flags: Vec<(usize, usize)> = self.metrics
                .iter()
                .filter(|&&(m, pos, n, bare)| {
                    !bare
                        && self.layer.metrics[m].unit != crate::semantic::Unit::Count
                        && self.vocab.entries.iter().any(|e| {
                            matches!(&e.target, Target::Dimension(d) if self.layer.all_dimensions().any(|(_, x)| {
                                &x.name == d && x.data_type == crate::semantic::raw::DataType::Boolean
                            })) && e.words.as_slice() == &self.st.stems[pos..pos + n]
                        })
                })
                .map(|x| (x.1, x.2))
                .collect();
            for (pos, n) in flags {
                self.metrics.retain(|x| x.1 != pos);
                for k in pos..pos + n {
                    self.st.used[k] = false;
                }
            }
        }
        // "new ARR plus expansion ARR": the "plus" is arithmetic (read as a sum below), never
        // a value such as "Shopify Plus".
        for pair in self.metrics.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let gap: Vec<usize> = (a.1 + a.2..b.1)
                .filter(|&k| self.st.word(k) != "the")
                .collect();
            if let [k] = gap.as_slice() {
                if matches!(self.st.word(*k), "plus" | "minus") {
                    self.st.used[*k] = true;
                }
            }
        }
        None
    }

    /// "X which is A divided by B": used only when it is the governed definition.
    fn divided_by(&mut self) -> Option<Plan> {
        if let Some(k) = self.divided_at {
            // "D [which] is A divided by B".
            let is_at = (0..k)
                .rev()
                .find(|&i| matches!(self.st.word(i), "is" | "are" | "means" | "equals"))
                .unwrap_or(0);
            let defined_metric = self
                .metrics
                .iter()
                .find(|x| {
                    let end = x.1 + x.2;
                    end == is_at
                        || (end + 1 == is_at && matches!(self.st.word(end), "which" | "that"))
                })
                .or_else(|| self.metrics.first().filter(|x| x.1 < is_at))
                .map(|x| x.0);
            let a = self
                .metrics
                .iter()
                .rev()
                .find(|x| x.1 < k && x.1 > is_at)
                .copied();
            let b = self.metrics.iter().find(|x| x.1 > k + 1).copied();
            let (Some(d), Some(a), Some(b)) = (defined_metric, a, b) else {
                return Some(Plan::Clarify {
                    question: "The question divides one figure by another. I use such a definition only when both sides are governed metrics and the result is the governed metric it names. Which governed metric do you mean?".into(),
                    choices: Vec::new(),
                });
            };
            let same = |x: usize, y: usize| {
                x == y
                    || sum_leaves(self.layer, x)
                        .is_some_and(|l| Some(l) == sum_leaves(self.layer, y))
            };
            match quotient(self.layer, d) {
                Some((n, q)) if same(n, a.0) && same(q, b.0) => {
                    self.metrics.retain(|x| x.1 != a.1 && x.1 != b.1);
                    record(
                        &mut self.readings,
                        a.1,
                        a.2,
                        Role::Metric,
                        format!(
                            "{} (as in the governed definition)",
                            self.layer.metrics[a.0].name
                        ),
                    );
                    record(
                        &mut self.readings,
                        b.1,
                        b.2,
                        Role::Metric,
                        format!(
                            "{} (as in the governed definition)",
                            self.layer.metrics[b.0].name
                        ),
                    );
                    self.notes.push(format!(
                        "{} is {} divided by {}, as the question defines it.",
                        self.layer.metrics[d].label,
                        self.layer.metrics[a.0].label,
                        self.layer.metrics[b.0].label
                    ));
                }
                _ => {
                    return Some(Plan::Clarify {
                        question: format!(
                            "The question defines {} as {} divided by {}, which is not how metrics.yaml defines it ({}). Ask for the governed {}, or for {} and {} separately.",
                            self.layer.metrics[d].label.to_lowercase(),
                            self.layer.metrics[a.0].label.to_lowercase(),
                            self.layer.metrics[b.0].label.to_lowercase(),
                            self.layer.metrics[d].description,
                            self.layer.metrics[d].label.to_lowercase(),
                            self.layer.metrics[a.0].label.to_lowercase(),
                            self.layer.metrics[b.0].label.to_lowercase()
                        ),
                        choices: Vec::new(),
                    });
                }
            }
        }
        None
    }

    /// Bare count nouns that name the subject, not a second metric; a metric named twice counts once.
    fn subjects(&mut self) -> Option<Plan> {
        // A bare count noun ("merchants", "deals") next to another metric whose table joins to
        // its table names the subject ("tickets from UK merchants", "top 5 merchants by
        // pipeline"), not a second metric.
        let found: Vec<usize> = self.metrics.iter().map(|(m, _, _, _)| *m).collect();
        self.subjects = Vec::new(); // (metric, position, len)
        let starts: Vec<usize> = self.metrics.iter().map(|x| x.1).collect();
        let ends: Vec<usize> = self.metrics.iter().map(|x| x.1 + x.2).collect();
        self.metrics.retain(|&(m, pos, n, bare)| {
            // "number of claims", "policies and claims": asked for, not a subject.
            let asked = (pos >= 2
                && matches!(self.st.word(pos - 2), "number" | "count")
                && self.st.word(pos - 1) == "of")
                || (pos >= 1
                    && matches!(self.st.word(pos - 1), "and" | "vs" | "versus")
                    && ends.contains(&(pos - 1)))
                || (pos >= 2
                    && matches!(self.st.word(pos - 2), "compared" | "against")
                    && matches!(self.st.word(pos - 1), "with" | "to"))
                || (matches!(self.st.word(pos + n), "and" | "vs" | "versus")
                    && starts.contains(&(pos + n + 1)))
                || (matches!(self.st.word(pos + n), "compared" | "against")
                    && (starts.contains(&(pos + n + 1)) || starts.contains(&(pos + n + 2))))
                // "tickets, CSAT and automation rate"
                || (self.commas.get(pos + n - 1).copied().unwrap_or(false)
                    && starts.contains(&(pos + n)))
                || (pos >= 1
                    && self.commas.get(pos - 1).copied().unwrap_or(false)
                    && ends.contains(&pos));
            let subject = !asked
                && bare
                && found.iter().filter(|s| **s != m).any(|s| {
                    metric_models(self.layer, *s).iter().any(|model| {
                        self.layer
                            .reachable_models(*model)
                            .iter()
                            .any(|(r, _)| metric_models(self.layer, m).contains(r))
                    })
                });
            if subject {
                self.subjects.push((m, pos, n));
            }
            !subject
        });
        // The same metric named twice counts once.
        let mut seen_metrics: Vec<usize> = Vec::new();
        self.metrics.retain(|(m, pos, n, _)| {
            record(
                &mut self.readings,
                *pos,
                *n,
                Role::Metric,
                self.layer.metrics[*m].name.clone(),
            );
            if seen_metrics.contains(m) {
                return false;
            }
            seen_metrics.push(*m);
            true
        });
        None
    }

    /// Shares ("share of X") and a metric scoped by another on its table ("revenue from AI-only orders").
    fn shares(&mut self) -> Option<Plan> {
        // Shares: "share / % / percent / proportion of X [that are] Y".
        let share_at = (0..self.st.lower.len()).find(|&i| {
            matches!(
                self.st.word(i),
                "share" | "percent" | "percentage" | "proportion" | "fraction" | "%" | "pct"
            ) && !self.st.used[i]
        });
        self.share_base = None; // (metric, position after it)
        if let Some(s) = share_at {
            let all_ratio = !self.metrics.is_empty()
                && self.metrics.iter().all(|(m, _, _, _)| {
                    matches!(
                        self.layer.metrics[*m].unit,
                        crate::semantic::Unit::Ratio | crate::semantic::Unit::Percent
                    )
                });
            if !all_ratio {
                if let Some(&(b, pos, n, _)) = self.metrics.iter().find(|(_, pos, _, _)| *pos > s) {
                    self.st.used[s] = true;
                    record(&mut self.readings, s, 1, Role::Comparison, "share");
                    self.share_base = Some((b, pos + n));
                }
            }
        }
        // "revenue from AI-only orders": a filtered count metric after from/of/for another
        // metric on the same table scopes it, so its filter becomes the question's filter.
        self.scoped = Vec::new();
        self.share_numerator = None;
        if self.metrics.len() > 1 {
            let first = self.share_base.map(|(b, _)| b).unwrap_or(self.metrics[0].0);
            self.metrics.retain(|&(m, pos, _, _)| {
                let same_table = match &self.layer.metrics[m].kind {
                    MetricKind::Simple(i) => {
                        !i.filter.is_empty() && metric_models(self.layer, first).contains(&i.model)
                    }
                    _ => false,
                };
                // Share of X that are Y, Y a filtered version of X.
                if m != first
                    && same_table
                    && self.share_base.is_some()
                    && self.share_numerator.is_none()
                {
                    if let (Some((_, nm, _)), Some((_, bm, _))) =
                        (simple_parts(self.layer, m), simple_parts(self.layer, first))
                    {
                        if nm == bm {
                            self.share_numerator = Some(m);
                            return false;
                        }
                    }
                }
                let scope = m != first
                    && pos > 0
                    && matches!(
                        self.st.word(pos - 1),
                        "from" | "of" | "for" | "among" | "on"
                    )
                    && same_table
                    && self.layer.metrics[m].unit == crate::semantic::Unit::Count;
                if scope {
                    if let MetricKind::Simple(i) = &self.layer.metrics[m].kind {
                        self.scoped.extend(i.filter.iter().cloned());
                    }
                }
                !scope
            });
        }
        None
    }

    /// Share of X that are Y, Y the words of a filtered version of X ("AI-influenced").
    fn share_of_filtered(&mut self) -> Option<Plan> {
        // Share of X that are Y, Y the words of a filtered version of X ("AI-influenced").
        if let (Some((b, after)), None) = (self.share_base, self.share_numerator) {
            if let Some((_, bm, _)) = simple_parts(self.layer, b) {
                // The words the question used for X ("orders"): a version's other words must all
                // be in the question ("AI-only orders" needs "ai" and "only").
                let base_words: Vec<String> = self
                    .metrics
                    .iter()
                    .filter(|x| x.0 == b && x.1 + x.2 == after)
                    .flat_map(|x| self.st.stems[x.1..x.1 + x.2].to_vec())
                    .collect();
                let left: Vec<usize> = (after..self.st.stems.len())
                    .filter(|&i| !self.st.used[i])
                    .collect();
                // The filtered version whose words cover the most of what is left.
                let mut best: Option<(usize, Vec<usize>)> = None;
                'metric: for e in &self.vocab.entries {
                    let Target::Metric(m) = e.target else {
                        continue;
                    };
                    if m == b || simple_parts(self.layer, m).map(|p| p.1) != Some(bm) {
                        continue;
                    }
                    let need: Vec<&String> = e
                        .words
                        .iter()
                        .filter(|w| {
                            !base_words.contains(*w)
                                && !matches!(w.as_str(), "the" | "of" | "a" | "an" | "and" | "by")
                        })
                        .collect();
                    if need.is_empty() {
                        continue;
                    }
                    for w in need {
                        if !left.iter().any(|&i| word_matches(&self.st.stems[i], w)) {
                            continue 'metric;
                        }
                    }
                    let hits: Vec<usize> = left
                        .iter()
                        .copied()
                        .filter(|&i| {
                            !matches!(self.st.word(i), "the" | "of" | "a" | "an" | "and" | "by")
                                && e.words.iter().any(|w| word_matches(&self.st.stems[i], w))
                        })
                        .collect();
                    if best.as_ref().is_none_or(|(_, h)| hits.len() > h.len()) {
                        best = Some((m, hits));
                    }
                }
                if let Some((m, hits)) = best {
                    for &i in &hits {
                        self.st.used[i] = true;
                        record(
                            &mut self.readings,
                            i,
                            1,
                            Role::Value,
                            self.layer.metrics[m].name.clone(),
                        );
                    }
                    self.share_numerator = Some(m);
                }
            }
        }
        None
    }

    /// The metrics read; a bare count noun with another table's values counts that table.
    fn counted_table(&mut self) -> Option<Plan> {
        self.metric_ids = self.metrics.iter().map(|(m, _, _, _)| *m).collect();

        // "How many return requests did Shopify Plus merchants get": when the only metric is a
        // bare count noun and a value belongs to another table, count that table instead.
        // Only a phrase of two or more words that no reachable dimension explains counts.
        let value_hits = |state: &State| -> Vec<(Vec<String>, String)> {
            self.vocab
                .entries
                .iter()
                .filter_map(|e| match &e.target {
                    Target::Value { dimension, .. } if state.find(e, 0).is_some() => {
                        Some((e.words.clone(), dimension.clone()))
                    }
                    _ => None,
                })
                .collect()
        };
        // (Never the noun counted: "how many orders did the AI agent close" counts orders.)
        let counted_noun = self.metrics.iter().any(|&(_, pos, _, _)| {
            let mut p = pos;
            while p > 0 && matches!(self.st.word(p - 1), "the" | "our" | "all") {
                p -= 1;
            }
            p == 0
                || (p >= 2
                    && ((self.st.word(p - 2) == "how" && self.st.word(p - 1) == "many")
                        || (matches!(self.st.word(p - 2), "number" | "count")
                            && self.st.word(p - 1) == "of")))
                || matches!(self.st.word(p - 1), "list" | "show" | "which")
        });
        if !self.metrics.is_empty()
            && self.metrics.iter().all(|(_, _, _, bare)| *bare)
            && !counted_noun
        {
            let hits = value_hits(&self.st);
            let base = hits.iter().find_map(|(words, dim)| {
                let explained = hits
                    .iter()
                    .any(|(w, d)| w == words && reachable(self.layer, &self.metric_ids, d));
                (words.len() >= 2 && !explained && !reachable(self.layer, &self.metric_ids, dim))
                    .then(|| base_count_metric(self.layer, dim))
                    .flatten()
            });
            if let Some(base) = base {
                for (m, pos, n, _) in &self.metrics {
                    self.subjects.push((*m, *pos, *n));
                }
                self.metric_ids = vec![base];
            }
        }
        // "How many chats did we get yesterday": no metric, but the values all belong to one
        // table with a plain count: count that table.
        if self.metric_ids.is_empty() {
            let mut bases: Vec<usize> = value_hits(&self.st)
                .iter()
                .filter_map(|(_, d)| base_count_metric(self.layer, d))
                .collect();
            bases.dedup();
            if let [only] = bases.as_slice() {
                self.metric_ids = vec![*only];
            }
        }

        if self.metric_ids.is_empty() {
            return Some(no_metric(self.layer, self.vocab, &self.st));
        }

        None
    }

    /// Grain: "by month", "daily", a trend.
    fn grain(&mut self) -> Option<Plan> {
        // 3. Grain.
        self.grain = None;
        let mut trend = false;
        for i in 0..self.st.stems.len() {
            if self.st.used[i] {
                continue;
            }
            let w = self.st.word(i).to_string();
            let g = match w.as_str() {
                "daily" => Some(Grain::Day),
                "weekly" => Some(Grain::Week),
                "monthly" => Some(Grain::Month),
                "quarterly" => Some(Grain::Quarter),
                "yearly" | "annually" | "annual" => Some(Grain::Year),
                "by" | "per" | "each" | "every" => time::grain_word(&stem(self.st.word(i + 1))),
                _ => None,
            };
            // "monthly recurring revenue" is not ARR by month when ARR is "annual recurring revenue".
            if g.is_some() && !matches!(w.as_str(), "by" | "per" | "each" | "every") {
                if let Some(&(m, pos, n, _)) = self.metrics.iter().find(|x| x.1 == i + 1) {
                    let matched = &self.st.stems[pos..pos + n];
                    let other = self.vocab.entries.iter().any(|e| {
                        e.target == Target::Metric(m)
                            && e.words.len() == n + 1
                            && &e.words[1..] == matched
                            && e.words[0] != self.st.stems[i]
                            && time::grain_word(&e.words[0]).is_some()
                                | matches!(
                                    e.words[0].as_str(),
                                    "annual"
                                        | "monthly"
                                        | "weekly"
                                        | "daily"
                                        | "quarterly"
                                        | "yearly"
                                )
                    });
                    if other {
                        return Some(Plan::Unanswerable {
                            reason: format!(
                                "There is no governed \"{} {}\": {} is {}.",
                                w,
                                self.st.lower[pos..pos + n].join(" "),
                                self.layer.metrics[m].label,
                                self.layer.metrics[m]
                                    .description
                                    .trim_end_matches('.')
                                    .to_lowercase()
                            ),
                            suggestions: vec![self.layer.metrics[m].name.clone()],
                        });
                    }
                }
            }
            if let Some(g) = g {
                self.grain = Some(g);
                self.st.used[i] = true;
                let n = if matches!(w.as_str(), "by" | "per" | "each" | "every") {
                    self.st.used[i + 1] = true;
                    2
                } else {
                    1
                };
                record(&mut self.readings, i, n, Role::Grain, g.to_string());
                continue;
            }
            // "month over month" (a series), "over time".
            if let (Some(g), "over", Some(h)) = (
                time::grain_word(&w),
                self.st.word(i + 1),
                time::grain_word(self.st.word(i + 2)),
            ) {
                if g == h && !self.st.used[i + 2] {
                    self.grain = Some(g);
                    self.st.mark(i, 3);
                    record(&mut self.readings, i, 3, Role::Grain, g.to_string());
                    continue;
                }
            }
            if w == "over" && self.st.word(i + 1) == "time" && !self.st.used[i + 1] {
                trend = true;
                self.st.mark(i, 2);
                record(&mut self.readings, i, 2, Role::Grain, "a series");
                continue;
            }
            if matches!(w.as_str(), "trend" | "trends" | "trending" | "trended") {
                trend = true;
                self.st.used[i] = true;
                record(&mut self.readings, i, 1, Role::Grain, "a series");
            }
        }
        if trend && self.grain.is_none() {
            self.grain = Some(trend_grain(self.period.as_ref().map(|p| p.range)));
        }

        None
    }

    /// Ranking words: "top 5", "highest", "worst".
    fn ranking(&mut self) -> Option<Plan> {
        // 4. Ranking words.
        self.limit = None;
        self.desc = None;
        for i in 0..self.st.lower.len() {
            if self.st.used[i] {
                continue;
            }
            match self.st.word(i) {
                "top" | "bottom" => {
                    self.desc = Some(self.st.word(i) == "top");
                    self.st.used[i] = true;
                    if let Ok(n) = self.st.word(i + 1).parse::<u64>() {
                        self.limit = Some(n);
                        self.st.used[i + 1] = true;
                        record(
                            &mut self.readings,
                            i,
                            2,
                            Role::Ranking,
                            format!("{} {n}", self.st.word(i)),
                        );
                    } else {
                        self.limit = Some(5);
                        record(
                            &mut self.readings,
                            i,
                            1,
                            Role::Ranking,
                            format!("{} 5", self.st.word(i)),
                        );
                    }
                }
                // "best" / "worst" follow the metric's good direction (`better:`; durations
                // are better lower); unknown, they are asked about.
                "best" | "worst" => {
                    let m = self.metric_ids.first().copied();
                    let better = m.and_then(|m| {
                        self.layer.metrics[m].better.or(matches!(
                            self.layer.metrics[m].unit,
                            crate::semantic::Unit::Seconds
                                | crate::semantic::Unit::Minutes
                                | crate::semantic::Unit::Hours
                                | crate::semantic::Unit::Days
                        )
                        .then_some(crate::semantic::raw::Better::Lower))
                    });
                    let Some(better) = better else {
                        return Some(Plan::Clarify {
                            question: format!(
                                "Is a higher {} better or worse? Ask for the highest or the lowest.",
                                m.map(|m| self.layer.metrics[m].label.to_lowercase())
                                    .unwrap_or_default()
                            ),
                            choices: vec!["highest".into(), "lowest".into()],
                        });
                    };
                    let high = (self.st.word(i) == "best")
                        == (better == crate::semantic::raw::Better::Higher);
                    self.desc = self.desc.or(Some(high));
                    self.st.used[i] = true;
                    record(
                        &mut self.readings,
                        i,
                        1,
                        Role::Ranking,
                        if high {
                            "highest first"
                        } else {
                            "lowest first"
                        },
                    );
                }
                "most" | "highest" | "largest" | "biggest" | "more" => {
                    self.desc = self.desc.or(Some(true));
                    self.st.used[i] = true;
                    record(&mut self.readings, i, 1, Role::Ranking, "highest first");
                }
                "least" | "lowest" | "smallest" | "fewest" => {
                    self.desc = self.desc.or(Some(false));
                    self.st.used[i] = true;
                    record(&mut self.readings, i, 1, Role::Ranking, "lowest first");
                }
                // For durations the slowest is the largest value.
                "fastest" | "quickest" | "slowest" => {
                    let duration = self.metric_ids.first().is_some_and(|m| {
                        matches!(
                            self.layer.metrics[*m].unit,
                            crate::semantic::Unit::Seconds
                                | crate::semantic::Unit::Minutes
                                | crate::semantic::Unit::Hours
                                | crate::semantic::Unit::Days
                        )
                    });
                    let slow = self.st.word(i) == "slowest";
                    self.desc = self.desc.or(Some(slow == duration));
                    self.st.used[i] = true;
                    record(
                        &mut self.readings,
                        i,
                        1,
                        Role::Ranking,
                        if slow == duration {
                            "highest first"
                        } else {
                            "lowest first"
                        },
                    );
                }
                _ => {}
            }
        }
        None
    }

    /// "which 5 merchants", and listings ("return all the policies").
    fn which_and_listing(&mut self) -> Option<Plan> {
        self.which_at = self
            .st
            .lower
            .iter()
            .position(|w| matches!(w.as_str(), "which" | "what" | "whats" | "who"));
        self.which = self.which_at.is_some() && self.desc.is_some();
        // "which 5 merchants"
        if let Some(w) = self.which_at {
            if let Ok(n) = self.st.word(w + 1).parse::<u64>() {
                if self.desc.is_some() && self.limit.is_none() {
                    self.limit = Some(n);
                    self.st.used[w + 1] = true;
                    record(&mut self.readings, w, 2, Role::Ranking, format!("top {n}"));
                }
            }
        }

        // "Return all the policies ...", "all the premiums": a list of rows, not a number.
        self.listing = matches!(self.st.word(0), "return" | "list" | "enumerate")
            // "show me every merchant", "the list of merchants", "show all claims"
            || (0..self.st.lower.len()).any(|i| {
                (self.st.word(i) == "list" && self.st.word(i + 1) == "of")
                    || (matches!(self.st.word(i), "every" | "all")
                        && i > 0
                        && matches!(self.st.word(i - 1), "show" | "me" | "give" | "see" | "display"))
            })
            || (0..self.st.lower.len().saturating_sub(1)).any(|i| {
                self.st.word(i) == "all"
                    && matches!(self.st.word(i + 1), "the" | "our")
                    && self.metrics
                        .iter()
                        .chain(
                            self.subjects
                                .iter()
                                .map(|(m, p, n)| (*m, *p, *n, true))
                                .collect::<Vec<_>>()
                                .iter(),
                        )
                        .any(|(_, pos, _, _)| *pos == i + 2)
            });
        None
    }

    /// Group-bys: dimension phrases, longest first.
    fn group_phrases(&mut self) -> Option<Plan> {
        // 5. Group-bys: dimension phrases, longest first, then read left to right so that
        // "by segment and vertical" groups by both.
        self.group_by = Vec::new();
        self.ranked_list = false;
        self.filters = std::mem::take(&mut self.scoped);
        self.dim_hits = Vec::new();
        let mut taken = vec![false; self.st.stems.len()];
        for e in &self.vocab.entries {
            let Target::Dimension(d) = &e.target else {
                continue;
            };
            if !reachable(self.layer, &self.metric_ids, d) {
                continue;
            }
            let mut start = 0;
            while let Some(i) = self.st.find(e, start) {
                start = i + e.words.len();
                if (i..i + e.words.len()).any(|k| taken[k]) {
                    continue;
                }
                taken[i..i + e.words.len()].fill(true);
                self.dim_hits.push((i, e.words.len(), d.clone()));
            }
        }
        None
    }

    /// An entity noun in a grouping position ("top 5 merchants", "per merchant") groups by its name.
    fn entity_groups(&mut self) -> Option<Plan> {
        // An entity noun in a grouping position ("top 5 merchants", "per merchant") groups by
        // the entity's name dimension.
        for &(m, pos, n) in &self.subjects {
            let prev = if pos > 0 { self.st.word(pos - 1) } else { "" };
            // The entity's name; in a listing or after "by", its identifier ("by policy").
            let ranked_by_id = matches!(prev, "by" | "which" | "top" | "bottom")
                || (pos >= 2
                    && matches!(self.st.word(pos - 2), "top" | "bottom" | "which")
                    && prev.parse::<u64>().is_ok());
            let name_dim = entity_column(self.layer, m, self.listing || ranked_by_id);
            let grouping = self.listing
                || matches!(
                    prev,
                    "by" | "per" | "each" | "every" | "across" | "which" | "top" | "bottom"
                )
                || (pos >= 2
                    && matches!(self.st.word(pos - 2), "top" | "bottom" | "which")
                    && prev.parse::<u64>().is_ok());
            // "each claim by claim number": a group-by on the entity's own table names it.
            // (Only a column that names the entity: "top 5 merchants on the pro plan" ranks
            // merchants, not plans.)
            let own_dim = self.dim_hits.iter().find(|(_, _, d)| {
                metric_models(self.layer, m).iter().any(|&model| {
                    self.layer.models[model]
                        .dimensions
                        .iter()
                        .any(|x| &x.name == d && (x.identifier || x.entity_name))
                })
            });
            if let (Some((_, _, d)), true) = (own_dim, grouping) {
                record(&mut self.readings, pos, n, Role::Dimension, d.clone());
                continue;
            }
            match name_dim {
                Some(d) if grouping && reachable(self.layer, &self.metric_ids, &d) => {
                    self.dim_hits.push((pos, n, d));
                }
                _ if grouping => {
                    let label = self.layer.metrics[m].label.to_lowercase();
                    return Some(Plan::Clarify {
                        question: format!(
                            "I can't list {} one by one: metrics.yaml marks no name for them. {} can be broken down by {}.",
                            label,
                            self.layer.metrics[self.metric_ids[0]].label,
                            join_or(&reachable_dimension_names(self.layer, &self.metric_ids))
                        ),
                        choices: reachable_dimension_names(self.layer, &self.metric_ids).into_iter().take(5).collect(),
                    });
                }
                // "How many tickets has a merchant had": per merchant, or in total?
                // (An average is already per one: "average time to settle a claim".)
                _ if matches!(prev, "a" | "an" | "one" | "single")
                    && self.metric_ids.iter().all(|&x| additive(self.layer, x)) =>
                {
                    let entity = self.layer.metrics[m].label.to_lowercase();
                    let by = entity_column(self.layer, m, true)
                        .filter(|d| reachable(self.layer, &self.metric_ids, d));
                    return Some(Plan::Clarify {
                        question: match &by {
                            Some(d) => format!(
                                "For each of the {entity} (by {d}), or in total across them?"
                            ),
                            None => format!(
                                "Per one of the {entity}, or in total across them? I can answer the total; metrics.yaml has no column to list the {entity} one by one."
                            ),
                        },
                        choices: by.into_iter().chain(["in total".to_string()]).collect(),
                    });
                }
                _ => {
                    record(
                        &mut self.readings,
                        pos,
                        n,
                        Role::Dimension,
                        format!(
                            "{} (whose attributes filter)",
                            self.layer.metrics[m].label.to_lowercase()
                        ),
                    );
                }
            }
        }
        None
    }

    /// Group-bys read left to right; a list continues past commas and connectors.
    fn group_order(&mut self) -> Option<Plan> {
        self.dim_hits.sort();
        // End of the last grouped phrase: a list "by claim number, policy number" continues it
        // (commas are not words).
        let mut list_end: Option<usize> = None;
        // A grain after "by" is the list's first item ("by month and channel", "by week,
        // segment"): where each such grain phrase ends.
        let grain_ends: Vec<usize> = self
            .readings
            .iter()
            .filter(|(j, n, role, _)| {
                matches!(role, Role::Grain)
                    && *n == 2
                    && matches!(self.st.word(*j), "by" | "per" | "each" | "every")
            })
            .map(|(j, n, _, _)| j + n)
            .collect();
        self.group_pos = Vec::new();
        for (i, n, d) in std::mem::take(&mut self.dim_hits) {
            let prev = if i > 0 {
                self.st.word(i - 1).to_string()
            } else {
                String::new()
            };
            let prev = prev.as_str();
            // The word before, past connectors ("and the corresponding policy number").
            let mut p = i;
            while p > 0 && LIST_CONNECTORS.contains(&self.st.word(p - 1)) {
                p -= 1;
            }
            let prev_sig = if p > 0 { self.st.word(p - 1) } else { "" };
            // Right after a grain of the list, past "and" and connectors.
            let after_grain =
                grain_ends.contains(&p) || (prev_sig == "and" && grain_ends.contains(&(p - 1)));
            let next = self.st.word(i + n).to_string();
            let identifies = self
                .layer
                .all_dimensions()
                .any(|(_, x)| x.name == d && (x.identifier || x.entity_name));
            // "by X", "per X", "which X", "top 5 X", "X breakdown", "and X" or "X, Y" after
            // one, "that a policy holder has paid" (per holder), or any column of a listing.
            let numeric = self
                .layer
                .all_dimensions()
                .any(|(_, x)| x.name == d && x.data_type == crate::semantic::raw::DataType::Number);
            let grouped = matches!(
                prev,
                "by" | "per" | "each" | "every" | "across" | "which" | "among"
            ) || (self.listing && !value_next_to(self.vocab, &self.st, i, n, &d))
                || (list_end == Some(p) && !self.group_by.is_empty())
                || after_grain
                || (matches!(prev_sig, "and" | "by") && !self.group_by.is_empty())
                || (identifies
                    && matches!(prev, "a" | "an" | "each" | "every")
                    && matches!(next.as_str(), "has" | "have" | "had"))
                || (self.desc.is_some() && self.group_by.is_empty() && !numeric)
                || (i >= 2
                    && matches!(self.st.word(i - 2), "top" | "bottom" | "which")
                    && prev.parse::<u64>().is_ok())
                || prev == "top"
                || prev == "bottom"
                || matches!(next.as_str(), "breakdown" | "split")
                || (prev == "and" && !self.group_by.is_empty());
            if grouped && !self.group_by.contains(&d) {
                self.group_by.push(d.clone());
                self.group_pos.push(i);
                list_end = Some(i + n);
                self.st.mark(i, n);
                record(&mut self.readings, i, n, Role::Dimension, d.clone());
                // Plural after "which" ("which verticals") asks for the ranked list.
                if self.which
                    && prev == "which"
                    && self.st.lower[i + n - 1] != self.st.stems[i + n - 1]
                {
                    self.ranked_list = true;
                }
            }
        }
        self.subject_models = self
            .subjects
            .iter()
            .flat_map(|&(m, _, _)| metric_models(self.layer, m))
            .collect();
        None
    }

    /// Filter values on what is left: entity names (exact), then declared values.
    fn filter_values(&mut self) -> Option<Plan> {
        // 6. Filter values on what is left: entity names (exact), then declared values.
        for i in 0..self.st.stems.len() {
            let Some(list) = self.vocab.names.get(&self.st.stems[i]) else {
                continue;
            };
            for e in list {
                let Target::Value { dimension, value } = &e.target else {
                    continue;
                };
                let n = e.words.len();
                if i + n > self.st.stems.len()
                    || (0..n).any(|k| self.st.used[i + k] || self.st.stems[i + k] != e.words[k])
                    || !reachable(self.layer, &self.metric_ids, dimension)
                {
                    continue;
                }
                if let Err(plan) = add_value(
                    self.layer,
                    &mut self.st,
                    &mut self.readings,
                    &mut self.filters,
                    (i, n),
                    (dimension, value),
                    &self.subject_models,
                ) {
                    return Some(*plan);
                }
                break;
            }
        }
        // Declared values: found longest first, then read in question order, so a list after
        // a negation ("except voice and sms") reads left to right.
        let saved = self.st.used.clone();
        let mut hits: Vec<(usize, usize, &str, &str)> = Vec::new();
        for e in &self.vocab.entries {
            let Target::Value { dimension, value } = &e.target else {
                continue;
            };
            if !reachable(self.layer, &self.metric_ids, dimension) {
                continue;
            }
            let mut start = 0;
            while let Some(i) = self.st.find(e, start) {
                let n = e.words.len();
                start = i + n;
                // "enterprise plan": the same words are a value of several dimensions; the one
                // named next to it wins ("plan", not "segment").
                let named = |d: &str| {
                    self.vocab.entries.iter().any(|x| {
                        let len = x.words.len();
                        matches!(&x.target, Target::Dimension(y) if y == d)
                            && ((i + n + len <= self.st.stems.len()
                                && self.st.stems[i + n..i + n + len] == x.words[..])
                                || (i >= len && self.st.stems[i - len..i] == x.words[..]))
                    })
                };
                let chosen = if named(dimension) {
                    (dimension.as_str(), value.as_str())
                } else {
                    self.vocab
                        .entries
                        .iter()
                        .find_map(|x| match &x.target {
                            Target::Value {
                                dimension: d,
                                value: v,
                            } if x.words == e.words
                                && d != dimension
                                && named(d)
                                && reachable(self.layer, &self.metric_ids, d) =>
                            {
                                Some((d.as_str(), v.as_str()))
                            }
                            _ => None,
                        })
                        .unwrap_or((dimension.as_str(), value.as_str()))
                };
                hits.push((i, n, chosen.0, chosen.1));
                self.st.mark(i, n);
            }
        }
        self.st.used = saved;
        hits.sort_by_key(|h| h.0);
        for (i, n, dimension, value) in hits {
            if let Err(plan) = add_value(
                self.layer,
                &mut self.st,
                &mut self.readings,
                &mut self.filters,
                (i, n),
                (dimension, value),
                &self.subject_models,
            ) {
                return Some(*plan);
            }
        }
        None
    }

    /// A dimension named next to its own value ("handled by humans", "channel chat").
    fn dimension_with_value(&mut self) -> Option<Plan> {
        // A dimension named next to its own value ("handled by humans", "channel chat").
        for e in &self.vocab.entries {
            let Target::Dimension(d) = &e.target else {
                continue;
            };
            if !self.filters.iter().any(|c| &c.dimension == d) && !self.group_by.contains(d) {
                // A boolean dimension named alone is its true value ("AI Agent enabled").
                let boolean = self.layer.all_dimensions().any(|(_, x)| {
                    &x.name == d && x.data_type == crate::semantic::raw::DataType::Boolean
                });
                if !(boolean && reachable(self.layer, &self.metric_ids, d)) {
                    continue;
                }
                if let Some(i) = self.st.find(e, 0) {
                    self.st.mark(i, e.words.len());
                    // "merchants that don't have the AI agent enabled": false.
                    let negation = negation_before(self.layer, &self.st, i, &[]);
                    let mut cond = literal_condition(self.layer, d, "true");
                    if let Some(k) = negation {
                        self.st.used[k] = true;
                        record(&mut self.readings, k, 1, Role::Value, "not");
                        // Everything but true: false and unknown.
                        cond.op = Op::Excluding;
                    }
                    record(
                        &mut self.readings,
                        i,
                        e.words.len(),
                        Role::Value,
                        cond.to_string(),
                    );
                    self.filters.push(cond);
                }
                continue;
            }
            while let Some(i) = self.st.find(e, 0) {
                self.st.mark(i, e.words.len());
                record(
                    &mut self.readings,
                    i,
                    e.words.len(),
                    Role::Dimension,
                    d.clone(),
                );
            }
        }
        None
    }

    /// Several values of one dimension: one row each, their sum, or a comparison of them.
    fn values_compared(&mut self) -> Option<Plan> {
        // "A vs B", "split between A and B", "A and B each": several values of one dimension
        // are shown one row each (their sum is still the total of the rows).
        // ("... in total across email, chat and voice" asks for the sum, unless a split is
        // asked too: "total ARR split between Shopify and BigCommerce".)
        let split_asked = self.st.lower.iter().any(|w| {
            matches!(
                w.as_str(),
                "split"
                    | "broken"
                    | "breakdown"
                    | "each"
                    | "respectively"
                    | "vs"
                    | "versus"
                    | "compare"
                    | "compared"
                    | "comparing"
            )
        });
        let total_asked = (1..self.st.lower.len()).any(|k| {
            (self.st.word(k - 1) == "in" && self.st.word(k) == "total")
                || matches!(self.st.word(k), "combined" | "altogether" | "together")
        });
        for c in &self.filters {
            if c.values.len() > 1
                && c.op == Op::In
                && !self.group_by.contains(&c.dimension)
                && (split_asked || !total_asked)
            {
                self.group_by.push(c.dimension.clone());
            }
        }
        let values_compared = self.filters.iter().any(|c| c.values.len() > 1);
        // (Only when the period is what follows "compared to"/"vs", for one metric:
        // "compare CSAT by channel last month" compares channels.)
        let period_compared = self.period.as_ref().is_some_and(|p| {
            let first = p.used.iter().min().copied().unwrap_or(0);
            self.readings.iter().any(|(j, n, role, as_)| {
                *role == Role::Comparison
                    && as_ == "compare"
                    && (j + n == first || (j + n + 1 == first && self.st.word(j + n) == "the"))
            })
        });
        if let (true, Some(p), None, false, 1) = (
            self.compare_word && period_compared,
            &self.period,
            &self.compare,
            values_compared,
            self.metric_ids.len(),
        ) {
            // "FRT by channel compared to last quarter": the current period of the same kind
            // against the one named.
            let kind = [Grain::Year, Grain::Quarter, Grain::Month, Grain::Week]
                .into_iter()
                .find(|&g| {
                    time::period_start(p.range.from, g) == p.range.from
                        && time::whole(p.range.from, g).to == p.range.to
                });
            match kind {
                Some(g) if p.range.to < self.today => {
                    let r = time::whole(time::period_start(self.today, g), g);
                    let mut c = (
                        Span {
                            range: p.range,
                            label: short_label(&p.label),
                        },
                        Span {
                            range: r,
                            label: format!("this {g}"),
                        },
                    );
                    like_for_like(&mut c, self.today, &mut self.notes);
                    self.compare = Some(c);
                }
                _ => {
                    return Some(Plan::Clarify {
                        question: format!(
                            "Compared with what? Name both periods, e.g. \"{} vs the one before\".",
                            short_label(&p.label)
                        ),
                        choices: Vec::new(),
                    });
                }
            }
        }

        None
    }

    /// A rate asked of a metric that is not one ("churn rate") is asked about.
    fn rate_asked(&mut self) -> Option<Plan> {
        // A rate asked of a metric that is not one ("churn rate" -> churned ARR) is not answered
        // with an amount.
        let rate_word = (0..self.st.lower.len()).find(|&i| {
            !self.st.used[i]
                && matches!(
                    self.st.word(i),
                    "rate" | "percentage" | "percent" | "ratio" | "%" | "share" | "proportion"
                )
        });
        if let Some(i) = rate_word {
            let is_ratio = self.metric_ids.iter().all(|m| {
                matches!(
                    self.layer.metrics[*m].unit,
                    crate::semantic::Unit::Ratio | crate::semantic::Unit::Percent
                )
            });
            if !is_ratio {
                let names: Vec<String> = self
                    .metric_ids
                    .iter()
                    .map(|m| self.layer.metrics[*m].name.clone())
                    .collect();
                return Some(Plan::Unanswerable {
                    reason: format!(
                        "There is no governed metric for that {}; I won't compute one on the fly.",
                        self.st.word(i)
                    ),
                    suggestions: names,
                });
            }
            self.st.used[i] = true;
            record(&mut self.readings, i, 1, Role::Metric, "the ratio metric");
        }

        None
    }

    /// Two metrics must be a list, a sum or a comparison; anything else between them is asked about.
    fn metric_pairs(&mut self) -> Option<Plan> {
        // Two metrics must be a list ("tickets and CSAT"), a sum ("new ARR plus expansion
        // ARR") or a comparison; anything else between them is a qualifier of the first
        // ("ARR from customers who signed up in 2025") that no governed name carries.
        for pair in self.metrics.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if self.defined.as_ref().is_some_and(|(_, from)| b.1 >= *from) {
                continue;
            }
            let gap: Vec<usize> = (a.1 + a.2..b.1).collect();
            let words: Vec<&str> = gap.iter().map(|&k| self.st.word(k)).collect();
            let content: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| !matches!(*w, "the" | "our" | "total"))
                .collect();
            if content == ["minus"] {
                return Some(Plan::Clarify {
                    question: format!(
                        "I can add governed metrics in a question, but not subtract them. Do you want {} and {} side by side?",
                        self.layer.metrics[a.0].label,
                        self.layer.metrics[b.0].label
                    ),
                    choices: Vec::new(),
                });
            }
            if content == ["plus"] && self.defined.is_none() {
                let k = gap.iter().copied().find(|&k| self.st.word(k) == "plus");
                if let Some(k) = k {
                    self.st.used[k] = true;
                    record(&mut self.readings, k, 1, Role::Metric, "sum of the parts");
                }
                self.defined = Some((
                    format!(
                        "{} plus {}",
                        self.layer.metrics[a.0].label.to_lowercase(),
                        self.layer.metrics[b.0].label.to_lowercase()
                    ),
                    a.1,
                ));
                continue;
            }
            // A list needs a connector ("and", "vs") or a comma; "volume of orders" is one thing.
            // (Two metrics side by side need a comma: "order volume" is one thing.)
            let connected = (gap.is_empty()
                && self.commas.get(a.1 + a.2 - 1).copied().unwrap_or(false))
                || gap.iter().any(|&k| {
                    matches!(
                        self.st.word(k),
                        "and"
                            | "or"
                            | "vs"
                            | "versus"
                            | "compared"
                            | "against"
                            | "plus"
                            | "along"
                            | "together"
                            | "both"
                            | "also"
                    )
                });
            let fine = connected
                && gap.iter().all(|&k| {
                    GAP_OK.contains(&self.st.word(k))
                        || self.readings.iter().any(|(j, n, role, as_)| {
                            *j <= k
                                && k < j + n
                                && (matches!(
                                    role,
                                    Role::Time | Role::Grain | Role::Comparison | Role::Ranking
                                ) || (*role == Role::Dimension && self.group_by.contains(as_)))
                        })
                });
            if !fine {
                return Some(Plan::Clarify {
                    question: format!(
                        "I read two metrics, {} and {}, {}. Do you want both figures, or {} for a subset? A subset needs a governed value (for example a segment or a status) or a date.",
                        self.layer.metrics[a.0].label,
                        self.layer.metrics[b.0].label,
                        if words.is_empty() {
                            "side by side with no \"and\"".to_string()
                        } else {
                            format!("joined by \"{}\"", words.join(" "))
                        },
                        self.layer.metrics[a.0].label
                    ),
                    choices: vec![
                        format!(
                            "{} and {}",
                            self.layer.metrics[a.0].label,
                            self.layer.metrics[b.0].label
                        ),
                        self.layer.metrics[a.0].label.clone(),
                    ],
                });
            }
        }
        None
    }

    /// The statistic and unit asked for ("average", "how many") must be the metric's own.
    fn statistic_asked(&mut self) -> Option<Plan> {
        // "average", "median", "how much", "how many", "value": the statistic and the unit the
        // question asks for must be the metric's own.
        if self.defined.is_none() {
            let units: Vec<crate::semantic::Unit> = self
                .metric_ids
                .iter()
                .map(|m| self.layer.metrics[*m].unit)
                .collect();
            let counts = units.iter().all(|u| *u == crate::semantic::Unit::Count);
            let mut refuse: Option<String> = None;
            if let Some((k, w)) = said(
                &self.st,
                &["average", "avg", "mean", "typical", "typically"],
            ) {
                match self.metric_ids.iter().find(|&&m| !is_average(self.layer, m)) {
                    Some(&m) => {
                        refuse = Some(format!(
                            "You asked for the {w} of {}, but {} is {}; metrics.yaml has no {w} of it, and I won't compute one on the fly.",
                            self.layer.metrics[m].label.to_lowercase(),
                            self.layer.metrics[m].label,
                            statistic(self.layer, m)
                        ))
                    }
                    None => {
                        self.st.used[k] = true;
                        record(&mut self.readings, k, 1, Role::Metric, "the metric's own average");
                    }
                }
            }
            if let Some((k, w)) = said(&self.st, &["median"]) {
                match self.metric_ids.iter().find(|&&m| !is_median(self.layer, m)) {
                    Some(&m) => {
                        refuse = refuse.or(Some(format!(
                        "You asked for the {w} of {}, but {} is {}; metrics.yaml has no {w} of it.",
                        self.layer.metrics[m].label.to_lowercase(),
                        self.layer.metrics[m].label,
                        statistic(self.layer, m)
                    )))
                    }
                    None => {
                        self.st.used[k] = true;
                        record(
                            &mut self.readings,
                            k,
                            1,
                            Role::Metric,
                            "the metric's own median",
                        );
                    }
                }
            }
            let how = |w: &str| {
                (1..self.st.lower.len())
                    .any(|k| self.st.word(k - 1) == "how" && self.st.word(k) == w)
            };
            if how("much") && counts {
                refuse = refuse.or(Some(format!(
                    "\"How much\" asks for an amount, but {} is a count. Which amount do you mean?",
                    self.layer.metrics[self.metric_ids[0]].label
                )));
            }
            refuse = refuse.or_else(|| self.count_of_an_amount(counts, &units));
            if counts
                && said(
                    &self.st,
                    &[
                        "value", "amount", "worth", "revenue", "spend", "spent", "dollars", "$",
                    ],
                )
                .is_some()
            {
                refuse = refuse.or(Some(format!(
                    "You asked for an amount, but {} is a count. Which amount do you mean?",
                    self.layer.metrics[self.metric_ids[0]].label
                )));
            }
            if let Some(question) = refuse {
                return Some(Plan::Clarify {
                    question,
                    choices: Vec::new(),
                });
            }
        }

        None
    }

    /// "how many deals", "number of policies": the refusal when the noun counted is not a
    /// count metric of the answer but the subject of an amount.
    fn count_of_an_amount(&self, counts: bool, units: &[crate::semantic::Unit]) -> Option<String> {
        // "how many deals", "number of policies": the noun counted must be a count metric
        // of the answer, not a subject of an amount.
        for k in 1..self.st.lower.len() {
            let counted = (self.st.word(k - 1) == "how" && self.st.word(k) == "many")
                || (matches!(self.st.word(k - 1), "number" | "count") && self.st.word(k) == "of");
            if !counted {
                continue;
            }
            let mut t = k + 1;
            while matches!(self.st.word(t), "the" | "our" | "all") {
                t += 1;
            }
            let covers =
                |&(m, pos, n): &(usize, usize, usize)| (pos <= t && t < pos + n).then_some(m);
            let in_answer = self
                .metrics
                .iter()
                .map(|x| (x.0, x.1, x.2))
                .find_map(|x| covers(&x));
            let subject = self.subjects.iter().find_map(covers);
            let wrong_unit = match (in_answer, subject) {
                (Some(m), _) => {
                    self.metric_ids.contains(&m)
                        && self.layer.metrics[m].unit != crate::semantic::Unit::Count
                }
                (None, Some(_)) => !counts,
                _ => false,
            };
            if wrong_unit {
                return Some(format!(
                    "\"{} {}\" asks for a count, but {} is measured in {:?}. Which count do you mean?",
                    self.st.word(k - 1),
                    self.st.word(k),
                    self.layer.metrics[self.metric_ids[0]].label,
                    units[0]
                ));
            }
        }
        None
    }

    /// Words nobody recognised that look like names are refused; a metric's own words are its.
    fn unknown_names(&mut self) -> Option<Plan> {
        // 7. Words nobody recognised that look like names: refuse rather than ignore a filter.
        let unknown: Vec<String> = self
            .question
            .split_whitespace()
            .enumerate()
            .skip(1)
            .filter(|(_, w)| w.chars().next().is_some_and(char::is_uppercase))
            .map(|(_, w)| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
            .filter(|w| {
                let parts = words(w);
                let known = |p: &String| {
                    let s = stem(p);
                    self.st
                        .stems
                        .iter()
                        .zip(&self.st.used)
                        .any(|(t, u)| *u && *t == s)
                        || STOPWORDS.contains(&p.as_str())
                        || is_filler(p, &self.layer.ignore)
                        || time::find_period(std::slice::from_ref(p), self.today).is_some()
                };
                let looks_like_name = w.chars().any(char::is_lowercase)
                    || (w.chars().filter(|c| c.is_alphabetic()).count() >= 3
                        && w.chars().all(|c| !c.is_lowercase()));
                !parts.is_empty() && looks_like_name && !parts.iter().all(known)
            })
            .collect();
        if !unknown.is_empty() {
            let names: Vec<String> = self
                .metric_ids
                .iter()
                .map(|m| self.layer.metrics[*m].label.clone())
                .collect();
            return Some(Plan::Unanswerable {
                reason: format!(
                    "I found {} in your question, but I don't know what \"{}\" refers to, so I won't guess a filter for it.",
                    names.join(" and "),
                    unknown.join(" ")
                ),
                suggestions: Vec::new(),
            });
        }

        // A word from a found metric's own names ("revenue" for ARR, whose synonyms include
        // "annual recurring revenue") refers to that metric.
        for i in 0..self.st.stems.len() {
            // ("intent signals by signal": a word after "by" names a grouping, not the metric.)
            if self.st.used[i]
                || is_filler(self.st.word(i), &self.layer.ignore)
                || (i > 0 && matches!(self.st.word(i - 1), "by" | "per"))
                // ("net new ARR growth": a change asked for, not the metric's own word.)
                || matches!(
                    self.st.word(i),
                    "growth" | "grow" | "growing" | "change" | "changes" | "increase" | "decrease"
                        | "delta" | "difference"
                )
            {
                continue;
            }
            let owner = self.vocab.entries.iter().find_map(|e| match e.target {
                Target::Metric(m)
                    if self.metric_ids.contains(&m) && e.words.contains(&self.st.stems[i]) =>
                {
                    Some(m)
                }
                _ => None,
            });
            if let Some(m) = owner {
                self.st.used[i] = true;
                record(
                    &mut self.readings,
                    i,
                    1,
                    Role::Metric,
                    self.layer.metrics[m].name.clone(),
                );
            }
        }
        None
    }

    /// A list of entities by their columns: the distinct rows of the group-bys.
    fn listing_columns(&mut self) -> Option<Plan> {
        // A list of entities by their columns ("return all the policies and their agents by
        // policy number and agent id"): when every metric named is only the count of a listed
        // entity, the answer is the distinct rows of the group-bys, with no number.
        self.counts_only = !self.metric_ids.is_empty()
            && self
                .metric_ids
                .iter()
                .all(|&m| match &self.layer.metrics[m].kind {
                    MetricKind::Simple(i) => {
                        i.filter.is_empty()
                            && matches!(
                                self.layer.models[i.model].measures[i.measure].agg,
                                crate::semantic::raw::Agg::Count
                            )
                    }
                    _ => false,
                });
        if self.listing
            && self.counts_only
            && !self.group_by.is_empty()
            && self.filters.is_empty()
            && self.period.is_none()
            && self.grain.is_none()
            && self.compare.is_none()
            && self.share_base.is_none()
            && self.defined.is_none()
            && self.limit.is_none()
            && self.desc.is_none()
            && !self.why
        {
            // The counted entity is a column too ("return all the policies and their policy
            // holder": policy number and policy holder id).
            for (m, pos, n, _) in &self.metrics {
                if let Some(col) = entity_column(self.layer, *m, true) {
                    if !self.group_by.contains(&col) {
                        let at = self.group_pos.iter().filter(|p| **p < *pos).count();
                        self.group_by.insert(at, col.clone());
                        self.group_pos.insert(at, *pos);
                    }
                    record(
                        &mut self.readings,
                        *pos,
                        *n,
                        Role::Dimension,
                        format!("{col} (each one)"),
                    );
                }
            }
            // "by id": the identifiers just listed.
            for i in 0..self.st.lower.len() {
                if !self.st.used[i]
                    && matches!(self.st.word(i), "id" | "ids" | "identifier" | "identifiers")
                    && i > 0
                    && matches!(self.st.word(i - 1), "by" | "their" | "with" | "and")
                {
                    self.st.used[i] = true;
                    record(
                        &mut self.readings,
                        i,
                        1,
                        Role::Dimension,
                        "their identifiers",
                    );
                }
            }
            if let Some(plan) = unexplained(self.layer, self.vocab, &self.st, &self.metric_ids) {
                return Some(plan);
            }
            let mut notes = vec![
                "A list of rows: each distinct combination of the columns asked for.".to_string(),
            ];
            for col in linking_identifiers(self.layer, &self.group_by) {
                notes.push(format!(
                    "{col} is added: it links the entities listed, so each row says how they relate."
                ));
                self.group_by.push(col);
            }
            if self
                .group_by
                .iter()
                .all(|g| reachable(self.layer, &self.metric_ids, g))
            {
                let understood = understood_list(&self.st, &self.readings);
                return Some(Plan::Query {
                    query: MetricQuery {
                        metrics: Vec::new(),
                        group_by: std::mem::take(&mut self.group_by),
                        grain: None,
                        filters: Vec::new(),
                        where_exprs: Vec::new(),
                        time_range: None,
                        order: Vec::new(),
                        limit: None,
                        prior: None,
                        to_date: None,
                        listing: Default::default(),
                        scopes: Vec::new(),
                    },
                    period: None,
                    notes,
                    understood,
                    shape: Shape::Single,
                });
            }
        }
        None
    }

    /// "show me every merchant in the Pets vertical": one row per entity.
    fn entity_listing(&mut self) -> Option<Plan> {
        // "show me every merchant in the Pets vertical": one row per entity, with its count.
        let mut entity_rows = false;
        let simple_count = !self.metric_ids.is_empty()
            && self
                .metric_ids
                .iter()
                .all(|&m| match &self.layer.metrics[m].kind {
                    MetricKind::Simple(i) => matches!(
                        self.layer.models[i.model].measures[i.measure].agg,
                        crate::semantic::raw::Agg::Count
                    ),
                    _ => false,
                });
        if self.listing && simple_count && (self.group_by.is_empty() || !self.counts_only) {
            if let Some(&(m, pos, n, _)) = self.metrics.first() {
                if let Some(col) = entity_column(self.layer, m, true) {
                    record(
                        &mut self.readings,
                        pos,
                        n,
                        Role::Dimension,
                        format!("{col} (each one)"),
                    );
                    self.notes.push(format!("One row per {col}."));
                    if !self.group_by.contains(&col) {
                        self.group_by.insert(0, col);
                    }
                    entity_rows = true;
                }
            }
        }
        // A listing of a governed amount by columns is that amount per group ("return the
        // policies and their loss payment amount by policy number and claim number"); a list
        // of counted rows by columns ("list all the tickets by channel") is not answered.
        if self.listing && !entity_rows && (self.counts_only || self.group_by.is_empty()) {
            return Some(Plan::Clarify {
                question: "That asks for a list of rows, and I answer with governed numbers: a count or a total per group. Ask e.g. for a metric \"by\" the columns you want."
                    .into(),
                choices: Vec::new(),
            });
        }
        None
    }

    /// "only" next to a value; an event verb dated by a period needs that event's date.
    fn only_and_event_dates(&mut self) -> Option<Plan> {
        // "only" restricts a value next to it ("chat only", "only Enterprise"); anywhere else
        // it may carry a meaning no reading took ("influenced by AI only").
        if let Some((k, _)) = said(&self.st, &["only"]) {
            let next_to_value = self
                .readings
                .iter()
                .any(|(j, n, role, _)| *role == Role::Value && (j + n == k || *j == k + 1));
            if !next_to_value {
                return Some(Plan::Clarify {
                    question: format!(
                        "\"{}\": only which? Name the value, e.g. a channel or a segment.",
                        self.st.lower[k.saturating_sub(2)..(k + 2).min(self.st.lower.len())]
                            .join(" ")
                    ),
                    choices: Vec::new(),
                });
            }
        }
        // "how many tickets did Enterprise merchants open in October", "tickets closed
        // yesterday": an event verb dated by a period needs a date for that event; the metric
        // counts by its own date. Unless the metric has a date of that name, ask.
        if self.period.is_some() {
            let dates: Vec<String> = self
                .metric_ids
                .iter()
                .flat_map(|&m| metric_models(self.layer, m))
                .flat_map(|model| {
                    self.layer.models[model]
                        .dimensions
                        .iter()
                        .filter(|d| d.is_time())
                })
                .flat_map(|d| phrase(&d.name).into_iter().chain(phrase(&d.label)))
                .collect();
            let aux = (0..self.st.lower.len()).find(|&k| {
                matches!(
                    self.st.word(k),
                    "did" | "do" | "does" | "were" | "was" | "got" | "get"
                )
            });
            for k in 0..self.st.lower.len() {
                let w = self.st.word(k);
                let root = match w {
                    "open" | "opened" | "opens" => "open",
                    "close" | "closed" | "closes" => "close",
                    "resolve" | "resolved" | "resolves" => "resolv",
                    "cancel" | "cancelled" | "canceled" => "cancel",
                    "lose" | "lost" | "loses" => "los",
                    "finish" | "finished" => "finish",
                    _ => continue,
                };
                let then_period = self
                    .period
                    .as_ref()
                    .is_some_and(|p| p.used.contains(&(k + 1)))
                    || (matches!(self.st.word(k + 1), "in" | "on" | "during")
                        && self
                            .period
                            .as_ref()
                            .is_some_and(|p| p.used.contains(&(k + 2))));
                let verb = then_period && (aux.is_some_and(|a| a < k) || k > 0);
                let dated = dates.iter().any(|d| d.starts_with(root));
                let as_value = self
                    .readings
                    .iter()
                    .any(|(j, n, role, _)| *role == Role::Value && *j <= k && k < j + n);
                if verb && !dated && (as_value || !self.st.used[k]) {
                    return Some(Plan::Clarify {
                        question: format!(
                            "\"{w}\" in that period: I count {} by {}, and there is no date for when they were {w}. Ask for them by {} (\"created in October\"), or by their current status without a period.",
                            self.layer.metrics[self.metric_ids[0]].label.to_lowercase(),
                            own_time(self.layer, self.metric_ids[0]).unwrap_or_else(|| "their date".into()),
                            own_time(self.layer, self.metric_ids[0]).unwrap_or_else(|| "their date".into())
                        ),
                        choices: Vec::new(),
                    });
                }
            }
        }
        None
    }

    /// "more than Pets", "this time last year", a period read on another date column.
    fn than_and_other_dates(&mut self) -> Option<Plan> {
        // "more tickets than Pets": a comparison against one value is not a breakdown.
        if let Some((k, _)) = said(&self.st, &["than"]) {
            return Some(Plan::Clarify {
                question: format!(
                    "\"{}\": I can't compare against one value yet. Ask for {} by the dimension and compare the rows.",
                    self.st.lower[k.saturating_sub(2)..(k + 3).min(self.st.lower.len())].join(" "),
                    self.layer.metrics[self.metric_ids[0]].label
                ),
                choices: Vec::new(),
            });
        }
        // "this time last year": not the whole of last year.
        if (1..self.st.lower.len())
            .any(|k| self.st.word(k - 1) == "this" && self.st.word(k) == "time" && !self.st.used[k])
        {
            return Some(Plan::Clarify {
                question: "\"This time last year\": the same day, week or month last year? Name the period, e.g. \"November 2025\".".into(),
                choices: Vec::new(),
            });
        }
        // "booking value paid in May": a period read on another date column of the metric
        // ("paid" is the payment date's word) is asked about.
        if self.period.is_some() || self.grain.is_some() {
            let own: Vec<String> = self
                .metric_ids
                .iter()
                .filter_map(|m| own_time(self.layer, *m))
                .collect();
            // (A metric with no date of its own is refused for periods further on.)
            for &m in self.metric_ids.iter().filter(|_| !own.is_empty()) {
                for model in metric_models(self.layer, m) {
                    for d in self.layer.models[model]
                        .dimensions
                        .iter()
                        .filter(|d| d.is_time())
                    {
                        if own.contains(&d.name) {
                            continue;
                        }
                        let names: Vec<String> = std::iter::once(&d.name)
                            .chain(std::iter::once(&d.label))
                            .chain(&d.synonyms)
                            .flat_map(|t| phrase(t))
                            .filter(|w| {
                                !matches!(
                                    w.as_str(),
                                    "date" | "day" | "at" | "on" | "time" | "of" | "the"
                                )
                            })
                            .collect();
                        if let Some(k) = (0..self.st.stems.len())
                            .find(|&k| !self.st.used[k] && names.contains(&self.st.stems[k]))
                        {
                            return Some(Plan::Clarify {
                                question: format!(
                                    "\"{}\": the period counts {} by {}. Do you want it by {} instead? Ask for \"{} by {}\".",
                                    self.st.word(k),
                                    self.layer.metrics[m].label,
                                    own.first().cloned().unwrap_or_default(),
                                    d.name,
                                    self.layer.metrics[m].label,
                                    d.name
                                ),
                                choices: Vec::new(),
                            });
                        }
                    }
                }
            }
        }
        None
    }

    /// "per" no reading took, then every word accounted for.
    fn per_and_unexplained(&mut self) -> Option<Plan> {
        // "tickets per merchant", "views per listing": a rate per entity is not a governed
        // metric unless one is named; "per" that no reading took is asked about.
        let grouping_after = |k: usize| {
            self.readings.iter().any(|(j, n, role, as_)| {
                *j <= k + 1
                    && k + 1 < j + n
                    && (*role == Role::Grain
                        || (*role == Role::Dimension && self.group_by.contains(as_)))
            })
        };
        if let Some((k, _)) = said(&self.st, &["per"]).filter(|(k, _)| !grouping_after(*k)) {
            let what = self.st.lower[k + 1..(k + 3).min(self.st.lower.len())].join(" ");
            return Some(Plan::Clarify {
                question: format!(
                    "\"per {what}\": do you want {} broken down by it, or an average per one? There is no governed metric for the average; ask for a breakdown \"by\" it.",
                    self.layer.metrics[self.metric_ids[0]].label
                ),
                choices: Vec::new(),
            });
        }
        // 8. Every word accounted for: a content phrase left over is asked about, never dropped.
        if let Some(plan) = unexplained(self.layer, self.vocab, &self.st, &self.metric_ids) {
            return Some(plan);
        }

        None
    }

    /// Snapshot metrics answer "now" only; "which merchants churned" lists the entities.
    fn snapshot_and_entities(&mut self) -> Option<Plan> {
        // Snapshot metrics (no time axis) answer "now" only.
        self.time_range = self.period.as_ref().map(|p| p.range);
        self.period_label = self.period.as_ref().map(|p| p.label.clone());
        if let Some(&m) = self.metric_ids.iter().find(|m| !has_time(self.layer, **m)) {
            if self.grain.is_some() || self.compare.is_some() {
                return Some(Plan::Unanswerable {
                    reason: format!(
                        "{} is a current snapshot with no history in the warehouse, so I can't show it over time.",
                        self.layer.metrics[m].label
                    ),
                    suggestions: Vec::new(),
                });
            }
            if let Some(r) = self.time_range {
                // Only a short period around today reads as "now"; "this year" does not.
                if r.to < self.today || r.from < self.today - chrono::Duration::days(31) {
                    return Some(Plan::Unanswerable {
                        reason: format!(
                            "{} is a current snapshot; the warehouse has no history of it for {}.",
                            self.layer.metrics[m].label,
                            self.period_label.clone().unwrap_or_default()
                        ),
                        suggestions: Vec::new(),
                    });
                }
                self.notes.push(format!(
                    "{} is a current snapshot, as of today.",
                    self.layer.metrics[m].label
                ));
                self.time_range = None;
                self.period_label = None;
            }
        }

        // "which merchants churned last month": the entities, one row each.
        if self.desc.is_none()
            && self.group_by.is_empty()
            && self.filters.iter().all(|c| c.op != Op::In)
        {
            if let Some(&(m, pos, n, _)) = self.metrics.first() {
                let after_which = self.which_at.is_some_and(|w| w + 1 == pos);
                let plural = self.st.lower[pos] != self.st.stems[pos];
                if after_which
                    && plural
                    && self.layer.metrics[m].unit == crate::semantic::Unit::Count
                {
                    if let Some(col) = entity_column(self.layer, m, true) {
                        record(
                            &mut self.readings,
                            pos,
                            n,
                            Role::Dimension,
                            format!("{col} (each one)"),
                        );
                        self.notes.push(format!("One row per {col}."));
                        self.group_by.push(col);
                    }
                }
            }
        }
        // "top deals owned by Priya Shah": a group-by pinned to one value ranks nothing.
        if self.desc.is_some() || self.limit.is_some() {
            self.group_by.retain(|g| {
                !self
                    .filters
                    .iter()
                    .any(|c| &c.dimension == g && c.op == Op::Eq && c.values.len() == 1)
            });
        }
        None
    }

    /// Rankings within groups, over combinations or with nothing to rank are asked about.
    fn ranking_checks(&mut self) -> Option<Plan> {
        // "top 2 merchants in each vertical": a ranking within groups is not supported; one
        // over combinations is rarely meant. Ask.
        // ("highest ARR merchant per country", "top channel by tickets each month": a ranking
        // within each group or period.)
        let within_each = self.readings.iter().any(|(j, _, role, as_)| {
            *role == Role::Dimension
                && self.group_by.contains(as_)
                && *j > 0
                && matches!(self.st.word(j - 1), "each" | "per" | "every")
        }) || (self.grain.is_some() && !self.group_by.is_empty());
        if (self.desc.is_some() || self.limit.is_some()) && within_each && !self.group_by.is_empty()
        {
            let within = match self.grain {
                Some(g) => g.to_string(),
                None => self.group_by.last().cloned().unwrap_or_default(),
            };
            return Some(Plan::Clarify {
                question: format!(
                    "The highest or lowest within each {within}? I can rank one breakdown at a time: ask for {} by {} for one {within}.",
                    self.layer.metrics[self.metric_ids[0]].label,
                    self.group_by[0]
                ),
                choices: Vec::new(),
            });
        }
        if self.limit.is_some() && self.group_by.len() > 1 {
            return Some(Plan::Clarify {
                question: format!(
                    "A top {} over {} together, or within each {}? I can rank one breakdown at a time: ask for the top {} {} for one {}.",
                    self.limit.unwrap_or(5),
                    self.group_by.join(" and "),
                    self.group_by[1],
                    self.limit.unwrap_or(5),
                    self.group_by[0],
                    self.group_by[1]
                ),
                choices: Vec::new(),
            });
        }
        // A ranking with nothing to rank ("the ARR of our biggest customer"): by the entity
        // named, else asked about.
        if (self.desc.is_some() || self.limit.is_some())
            && self.group_by.is_empty()
            && self.compare.is_none()
            && !self.why
        {
            let entity = self.subjects.iter().find_map(|&(m, pos, n)| {
                let col = entity_column(self.layer, m, true)?;
                reachable(self.layer, &self.metric_ids, &col).then_some((col, pos, n))
            });
            match entity {
                Some((col, pos, n)) => {
                    let singular = self.st.lower[pos + n - 1] == self.st.stems[pos + n - 1];
                    if singular && self.limit.is_none() {
                        self.limit = Some(1);
                    }
                    record(&mut self.readings, pos, n, Role::Dimension, col.clone());
                    self.group_by.push(col);
                }
                None => {
                    return Some(Plan::Clarify {
                        question: format!(
                            "Highest or lowest among what? Name a breakdown, e.g. \"{} by {}\".",
                            self.layer.metrics[self.metric_ids[0]].label,
                            reachable_dimension_names(self.layer, &self.metric_ids)
                                .first()
                                .cloned()
                                .unwrap_or_else(|| "segment".into())
                        ),
                        choices: reachable_dimension_names(self.layer, &self.metric_ids)
                            .into_iter()
                            .take(5)
                            .collect(),
                    });
                }
            }
        }
        None
    }

    /// The sort order, and event dates that end today.
    fn order_and_range(&mut self) -> Option<Plan> {
        let today = self.today;
        self.order = Vec::new();
        if let (Some(d), false) = (self.desc, self.group_by.is_empty()) {
            self.order.push(OrderBy {
                field: self.layer.metrics[self.metric_ids[0]].name.clone(),
                desc: d,
            });
            if self.which && self.limit.is_none() && !self.ranked_list {
                self.limit = Some(1);
            }
        } else {
            self.limit = None;
        }

        // Event dates end today: a period still running is counted up to today ("tickets this
        // month" on the 20th is the 1st to the 20th), and one that hasn't started has nothing.
        // Dates marked `future: true` (a deal's close date) keep the whole period.
        if let Some(r) = self.time_range {
            // ("won ARR in 2026 so far": to date even on a future-capable date.)
            let so_far = (1..self.st.lower.len()).any(|k| {
                matches!(
                    (self.st.word(k - 1), self.st.word(k)),
                    ("so", "far")
                        | ("to", "date")
                        | ("until", "now")
                        | ("until", "today")
                        | ("till", "now")
                )
            });
            let future = !so_far
                && self
                    .metric_ids
                    .iter()
                    .any(|&m| own_time_dimension(self.layer, m).is_some_and(|d| d.future));
            if !future && r.from > self.today {
                return Some(Plan::Unanswerable {
                    reason: format!(
                        "That period ({} to {}) starts after today ({today}): {} has no data for it yet.",
                        r.from,
                        r.to,
                        self.layer.metrics[self.metric_ids[0]].label
                    ),
                    suggestions: Vec::new(),
                });
            }
            if !future && r.to > self.today && self.compare.is_none() && !self.why {
                self.time_range = Some(TimeRange {
                    from: r.from,
                    to: self.today,
                });
                if let Some(l) = &self.period_label {
                    self.period_label = Some(format!("{} to date", short_label(l)));
                }
            }
        }
        None
    }

    /// "Tickets by month YoY": a series whose every bucket is compared with the bucket one
    /// period (`shift_by`) before, as one governed query (`MetricQuery::prior`). `None`
    /// when the question is not that; `Some(None)` when planned.
    fn series_over_prior(&mut self, later: &Span) -> Option<Option<Plan>> {
        let (Some(g), Some(by)) = (self.grain, self.shift_by) else {
            return None;
        };
        let span = crate::semantic::timespine::Span {
            count: 1,
            grain: by,
        };
        if self.why || !span.whole_buckets_of(g) {
            return None;
        }
        self.prior = Some(span.to_string());
        self.compare = None;
        let to = later.range.to.min(self.today);
        self.time_range = Some(TimeRange {
            from: later.range.from,
            to,
        });
        self.period_label = Some(if to < later.range.to {
            format!("{} to date", short_label(&later.label))
        } else {
            short_label(&later.label)
        });
        let running = time::whole(time::period_start(to, g), g).to > to;
        self.notes.push(format!(
            "Each {g} is compared with the {g} {span} before (the `__prior` column){}.",
            if running {
                format!("; the {g} still running is compared with the whole {g} a {by} earlier")
            } else {
                String::new()
            }
        ));
        Some(None)
    }

    /// Shape: two periods compared, or why a metric changed.
    fn compare_shape(&mut self) -> Option<Plan> {
        // Shape: comparisons, why, shares and definitions need more than one query.
        self.shape = Shape::Single;
        self.prior = None;
        if let Some((earlier, later)) = self.compare.clone() {
            self.time_range = Some(later.range);
            self.period_label = Some(format!("{} vs {}", later.label, earlier.label));
            if let Some(plan) = self.series_over_prior(&later) {
                return plan;
            }
            if self.grain.is_some() {
                return Some(Plan::Clarify {
                    question: "Do you want the two periods compared, or a series over time?".into(),
                    choices: Vec::new(),
                });
            }
            if self.why {
                let m = self.metric_ids[0];
                if self.metric_ids.len() > 1 || !additive(self.layer, m) {
                    return Some(Plan::Clarify {
                        question: format!(
                            "{} is not a sum or a count, so its change doesn't split into contributions. Ask for it by a dimension and two periods instead, e.g. \"{} by {} this month vs last month\".",
                            self.layer.metrics[m].label,
                            self.layer.metrics[m].label,
                            split_dimensions(self.layer, m).first().cloned().unwrap_or_else(|| "segment".into())
                        ),
                        choices: Vec::new(),
                    });
                }
                let dimensions: Vec<String> = split_dimensions(self.layer, m)
                    .into_iter()
                    .filter(|d| {
                        !self.group_by.contains(d)
                            && !self.filters.iter().any(|c| &c.dimension == d)
                    })
                    .collect();
                if dimensions.is_empty() {
                    return Some(Plan::Clarify {
                        question: format!(
                            "{} has no dimension to explain its change by, so I can only show the two periods. Ask \"{} {} vs the period before\".",
                            self.layer.metrics[m].label, self.layer.metrics[m].label, later.label
                        ),
                        choices: Vec::new(),
                    });
                }
                self.shape = Shape::Why {
                    earlier,
                    later,
                    dimensions,
                };
            } else {
                self.shape = Shape::Compare { earlier, later };
            }
        }
        None
    }

    /// A share's numerator: (metric, the share's condition), the filtered version of the base
    /// metric `b` or the values named after it; a condition on several dimensions, or none,
    /// is asked about.
    fn share_condition(&self, b: usize) -> Result<(usize, Vec<Condition>), Box<Plan>> {
        match self.share_numerator {
            Some(m) => Ok((m, Vec::new())),
            None => {
                let after = self.share_base.map(|(_, a)| a).unwrap_or(0);
                let cond: Vec<Condition> = self
                    .filters
                    .iter()
                    .filter(|c| {
                        self.readings.iter().any(|(i, _, r, a)| {
                            *r == Role::Value
                                && *i >= after
                                && a.starts_with(&format!("{} ", c.dimension))
                        })
                    })
                    .cloned()
                    .collect();
                let mut cond_dims: Vec<&str> = cond.iter().map(|c| c.dimension.as_str()).collect();
                cond_dims.dedup();
                if cond_dims.len() > 1 {
                    return Err(Box::new(Plan::Clarify {
                            question: format!(
                                "A share of which {}? \"{}\" could be the share of all of them, or the share within one of {}.",
                                self.layer.metrics[b].label.to_lowercase(),
                                cond.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" and "),
                                cond_dims.join(" or ")
                            ),
                            choices: Vec::new(),
                        }));
                }
                if cond.is_empty() {
                    return Err(Box::new(Plan::Clarify {
                            question: format!(
                                "A share of {} that are what? Name a value, e.g. \"share of {} by {}\".",
                                self.layer.metrics[b].label.to_lowercase(),
                                self.layer.metrics[b].label.to_lowercase(),
                                join_or(&reachable_dimension_names(self.layer, &[b]).into_iter().take(3).collect::<Vec<_>>())
                            ),
                            choices: Vec::new(),
                        }));
                }
                Ok((b, cond))
            }
        }
    }

    /// Shape: a share, its denominator query.
    fn share_shape(&mut self) -> Option<Plan> {
        if let Some((b, _)) = self.share_base {
            let base_filters = self.filters.clone();
            // The share's condition: the filtered version of X, or the values after X.
            let (num_metric, cond) = match self.share_condition(b) {
                Ok(found) => found,
                Err(ask) => return Some(*ask),
            };
            let rest: Vec<Condition> = base_filters
                .iter()
                .filter(|c| !cond.contains(c))
                .cloned()
                .collect();
            // A governed ratio whose numerator is X filtered by Y and denominator X: use it.
            let ratio = simple_parts(self.layer, b).and_then(|(model, measure, bf)| {
                let mut nf = bf.clone();
                nf.extend(cond.iter().cloned());
                if let Some((_, _, f)) = simple_parts(self.layer, num_metric) {
                    if num_metric != b {
                        nf = f;
                    }
                }
                self.layer.metrics.iter().position(|r| match &r.kind {
                    MetricKind::Ratio {
                        numerator,
                        denominator,
                    } => {
                        numerator.model == model
                            && numerator.measure == measure
                            && denominator.model == model
                            && denominator.measure == measure
                            && same_conditions(&numerator.filter, &nf)
                            && same_conditions(&denominator.filter, &bf)
                    }
                    _ => false,
                })
            });
            match ratio {
                Some(r) => {
                    self.metric_ids = vec![r];
                    self.filters = rest;
                    if let Some(o) = self.order.first_mut() {
                        o.field = self.layer.metrics[r].name.clone();
                    }
                }
                None => {
                    let mut num_filters = rest.clone();
                    num_filters.extend(cond.iter().cloned());
                    let denominator = MetricQuery {
                        metrics: vec![self.layer.metrics[b].name.clone()],
                        group_by: self.group_by.clone(),
                        grain: self.grain,
                        filters: rest.clone(),
                        where_exprs: Vec::new(),
                        time_range: self.time_range,
                        order: Vec::new(),
                        limit: None,
                        prior: None,
                        to_date: None,
                        listing: Default::default(),
                        scopes: Vec::new(),
                    };
                    let what = if num_metric != b {
                        self.layer.metrics[num_metric].label.clone()
                    } else {
                        cond.iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    };
                    let label = if num_metric != b {
                        format!(
                            "{what} as a share of {}",
                            self.layer.metrics[b].label.to_lowercase()
                        )
                    } else {
                        format!(
                            "share of {} where {what}",
                            self.layer.metrics[b].label.to_lowercase()
                        )
                    };
                    self.notes.push(format!(
                        "No governed ratio for this share: computed as {} divided by {} over the same scope.",
                        if num_metric != b { self.layer.metrics[num_metric].label.clone() } else { format!("{} where {what}", self.layer.metrics[b].label) },
                        self.layer.metrics[b].label
                    ));
                    self.metric_ids = vec![num_metric];
                    self.filters = num_filters;
                    self.order.clear();
                    self.limit = None;
                    self.shape = Shape::Share { denominator, label };
                }
            }
        }
        None
    }

    /// Shape: an inline definition, the sum of its parts.
    fn definition_shape(&mut self) -> Option<Plan> {
        if let Some((label, parts_from)) = &self.defined {
            // "The average loss ... where loss is the sum of A, B and C": the governed average
            // of that sum, when exactly one metric is the sum divided by a count.
            let averaged = self
                .st
                .lower
                .iter()
                .any(|w| matches!(w.as_str(), "average" | "avg" | "mean"));
            if averaged {
                let parts_from = *parts_from;
                let mut parts: Vec<usize> = self
                    .metrics
                    .iter()
                    .filter(|x| x.1 >= parts_from)
                    .map(|x| x.0)
                    .collect();
                parts.sort();
                let averages: Vec<usize> = (0..self.layer.metrics.len())
                    .filter(|&g| {
                        quotient(self.layer, g).is_some_and(|(n, c)| {
                            sum_leaves(self.layer, n).as_ref() == Some(&parts)
                                && self.layer.metrics[c].unit == crate::semantic::Unit::Count
                        })
                    })
                    .collect();
                if let ([g], true) = (averages.as_slice(), parts.len() >= 2) {
                    let mut ids = vec![*g];
                    ids.extend(
                        self.metrics
                            .iter()
                            .filter(|x| x.1 < parts_from)
                            .map(|x| x.0),
                    );
                    if let Some((n, c)) = quotient(self.layer, *g) {
                        self.notes.push(format!(
                            "The average {label} is {}: {} divided by {}.",
                            self.layer.metrics[*g].label.to_lowercase(),
                            self.layer.metrics[n].label.to_lowercase(),
                            self.layer.metrics[c].label.to_lowercase()
                        ));
                    }
                    self.metric_ids = ids;
                    self.defined = None;
                }
            }
        }
        if let Some((label, parts_from)) = self.defined.clone() {
            let units: Vec<crate::semantic::Unit> = self
                .metric_ids
                .iter()
                .map(|m| self.layer.metrics[*m].unit)
                .collect();
            let outside = self.metrics.iter().any(|(_, pos, _, _)| *pos < parts_from);
            if self.metric_ids.len() < 2
                || outside
                || units.windows(2).any(|w| w[0] != w[1])
                || !self.metric_ids.iter().all(|m| additive(self.layer, *m))
            {
                return Some(Plan::Clarify {
                    question: format!(
                        "I can only use \"{label}\" if it is the sum of two or more governed metrics in the same unit. Which metrics make it up?"
                    ),
                    choices: Vec::new(),
                });
            }
            // "The average loss ... where loss is the sum of ...": the sum is defined, but not
            // what it is averaged over.
            if self
                .st
                .lower
                .iter()
                .any(|w| matches!(w.as_str(), "average" | "avg" | "mean" | "median" | "per"))
            {
                return Some(Plan::Clarify {
                    question: format!(
                        "I can add up \"{label}\" from its parts, but not average it: averaged over what (e.g. per claim or per policy)? Ask for the total {label} by the entity instead."
                    ),
                    choices: Vec::new(),
                });
            }
            self.shape = Shape::Sum { label };
        }

        None
    }

    /// A sum per id one level finer, and a filter that contradicts a metric's own definition, are asked about.
    fn contradictions(&mut self) -> Option<Plan> {
        // "Tickets at the end of Q3": a count over time has no value at a moment; only
        // balances (running totals, snapshots) do. Ask which one was meant.
        if self.at_end {
            let flows: Vec<&str> = self
                .metric_ids
                .iter()
                .filter(|m| !point_in_time(self.layer, **m))
                .map(|m| self.layer.metrics[*m].label.as_str())
                .collect();
            if let (false, Some(r)) = (flows.is_empty(), self.time_range) {
                return Some(Plan::Clarify {
                    question: format!(
                        "{} {} measured over a period, not at a moment. Do you want the whole period ({} to {}), or its last day ({})?",
                        flows.join(" and "),
                        if flows.len() == 1 { "is" } else { "are" },
                        r.from,
                        r.to,
                        r.to
                    ),
                    choices: Vec::new(),
                });
            }
            if let (Some(r), Some(l)) = (self.time_range, &self.period_label) {
                if !l.starts_with("at the end of") {
                    self.period_label =
                        Some(format!("at the end of {} ({})", short_label(l), r.to));
                }
            }
        }
        // "The premium of all policies by policy number": with no word asking for a total, a sum
        // per id whose facts sit one level finer (a premium per coverage period, several per
        // policy) could mean the total or each fact's row. Ask rather than pick.
        let asks_aggregate = self.st.lower.iter().enumerate().any(|(i, w)| {
            AGGREGATE_CUES.contains(&w.as_str())
                || (matches!(w.as_str(), "number" | "count") && self.st.word(i + 1) == "of")
        });
        if !asks_aggregate {
            if let Some(plan) = hidden_grain(self.layer, &self.metric_ids, &self.group_by) {
                return Some(plan);
            }
        }
        // "AI-only orders versus human orders": a filter on the dimension a metric is itself
        // defined by contradicts it.
        for &m in &self.metric_ids {
            // "AI automation rate": any filter on what a ratio's numerator is defined by makes
            // it 0 or 1.
            if let MetricKind::Ratio { numerator, .. } = &self.layer.metrics[m].kind {
                if let Some(c) = self
                    .filters
                    .iter()
                    .find(|c| numerator.filter.iter().any(|o| o.dimension == c.dimension))
                {
                    return Some(Plan::Clarify {
                        question: format!(
                            "{} is the share of {}; filtering on {} as well would make it 0 or 1. Do you want {} by {} instead?",
                            self.layer.metrics[m].label,
                            numerator
                                .filter
                                .iter()
                                .map(|o| o.to_string())
                                .collect::<Vec<_>>()
                                .join(" and "),
                            c,
                            self.layer.metrics[m].label,
                            c.dimension
                        ),
                        choices: Vec::new(),
                    });
                }
            }
            let own = match &self.layer.metrics[m].kind {
                MetricKind::Simple(i) => Some(i.filter.clone()),
                _ => None,
            };
            if let Some(own) = own {
                // (Narrowing is fine: "pipeline excluding negotiation" within open deals.)
                let contradicts = |c: &Condition| {
                    own.iter().filter(|o| o.dimension == c.dimension).any(|o| {
                        let asked = matches!(c.op, Op::Eq | Op::In);
                        match o.op {
                            Op::Eq | Op::In => {
                                asked && c.values.iter().any(|v| !o.values.contains(v))
                            }
                            Op::Ne | Op::NotIn | Op::Excluding => {
                                asked && c.values.iter().any(|v| o.values.contains(v))
                            }
                            _ => false,
                        }
                    })
                };
                if let Some(c) = self.filters.iter().find(|c| contradicts(c)) {
                    return Some(Plan::Clarify {
                        question: format!(
                            "{} already means {}; the question also asks for {}. Do you want them side by side (\"{} by {}\")?",
                            self.layer.metrics[m].label,
                            own.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(" and "),
                            c,
                            self.layer.metrics[base_count_metric(self.layer, &c.dimension).unwrap_or(m)].label,
                            c.dimension
                        ),
                        choices: Vec::new(),
                    });
                }
            }
        }
        None
    }

    /// Notes on dates, exclusions and future periods; a metric's own time axis as a daily series.
    fn final_notes(&mut self) -> Option<Plan> {
        let today = self.today;
        // A derived metric over a period whose parts count by different dates says so.
        if self.time_range.is_some() {
            for &m in &self.metric_ids {
                if let MetricKind::Derived { deps, .. } = &self.layer.metrics[m].kind {
                    let dates: Vec<String> = deps
                        .iter()
                        .filter_map(|d| own_time(self.layer, *d))
                        .collect();
                    if dates.windows(2).any(|w| w[0] != w[1]) {
                        self.notes.push(format!(
                            "{}'s parts are counted by their own dates ({}).",
                            self.layer.metrics[m].label,
                            deps.iter()
                                .zip(&dates)
                                .map(|(d, t)| format!("{} by {t}", self.layer.metrics[*d].name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
            }
        }
        for c in self.filters.iter().filter(|c| c.op == Op::Excluding) {
            self.notes.push(format!(
                "{}: rows with no {} are counted too (everything except those values).",
                c, c.dimension
            ));
        }
        if let Some(r) = self.time_range.filter(|r| r.from > self.today) {
            self.notes.push(format!(
                "That period starts after today ({today}): only rows already dated in it count (planned or forecast dates), from {} to {}.",
                r.from, r.to
            ));
        }
        // "YTD tickets by month": each bucket's running total from the start of its year.
        if let (Some(g), Some(td)) = (
            self.grain,
            self.period.as_ref().and_then(time::to_date_grain),
        ) {
            let rank = |x: Grain| Grain::ALL.iter().position(|y| *y == x);
            let not_summed: Vec<&str> = self
                .metric_ids
                .iter()
                .filter(|m| !additive(self.layer, **m))
                .map(|m| self.layer.metrics[*m].label.as_str())
                .collect();
            let series_in_period =
                rank(g) < rank(td) && self.shape == Shape::Single && self.prior.is_none();
            if !series_in_period {
                // A single figure: the period to date is the time range already.
            } else if g == Grain::Week {
                self.notes.push(format!(
                    "Weeks do not nest in a {td}: each week shows its own total, not a {td}-to-date running total."
                ));
            } else if !not_summed.is_empty() {
                self.notes.push(format!(
                    "{} {} not a running total: each {g} shows its own value.",
                    not_summed.join(", "),
                    if not_summed.len() == 1 { "is" } else { "are" }
                ));
            } else {
                self.to_date = Some(td);
                self.notes.push(format!(
                    "Each {g} shows the {td} to date: the running total from the start of its {td} to the {g}'s end."
                ));
            }
        }
        // "Claims by open date": a metric's own time axis is a daily series, not a column.
        if self.grain.is_none() && self.shape == Shape::Single {
            if let Some(at) = self.group_by.iter().position(|g| {
                self.metric_ids
                    .iter()
                    .any(|m| own_time(self.layer, *m).as_deref() == Some(g.as_str()))
            }) {
                let g = self.group_by.remove(at);
                self.grain = Some(Grain::Day);
                self.notes.push(format!(
                    "{g} is the time axis of the metric: a daily series."
                ));
            }
        }
        None
    }

    /// The query, as read.
    fn finish(self) -> Plan {
        let understood = understood_list(&self.st, &self.readings);
        Plan::Query {
            query: MetricQuery {
                metrics: self
                    .metric_ids
                    .iter()
                    .map(|m| self.layer.metrics[*m].name.clone())
                    .collect(),
                group_by: self.group_by,
                grain: self.grain,
                filters: self.filters,
                where_exprs: Vec::new(),
                time_range: self.time_range,
                order: self.order,
                limit: self.limit,
                prior: self.prior,
                to_date: self.to_date,
                listing: Default::default(),
                scopes: Vec::new(),
            },
            period: self.period_label,
            notes: self.notes,
            understood,
            shape: self.shape,
        }
    }
}

/// The unused negation word up to four words before token `i`, past filler and `own`
/// words (the dimension's own: "not handled by the AI agent"); "other" only as "other than".
fn negation_before(layer: &SemanticLayer, st: &State, i: usize, own: &[String]) -> Option<usize> {
    let mut j = i;
    while j > 0 && i - j < 4 {
        let w = st.word(j - 1);
        if NEGATIONS.contains(&w) && !st.used[j - 1] {
            return (w != "other" || st.word(j) == "than").then_some(j - 1);
        }
        if st.used[j - 1] || !(is_filler(w, &layer.ignore) || own.contains(&st.stems[j - 1])) {
            return None;
        }
        j -= 1;
    }
    None
}

/// Words that negate the value after them ("not in the US", "excluding chat").
const NEGATIONS: &[&str] = &[
    "not",
    "no",
    "non",
    "excluding",
    "exclude",
    "except",
    "without",
    "outside",
    "isnt",
    "arent",
    "wasnt",
    "werent",
    "dont",
    "doesnt",
    "didnt",
    "other",
];

/// Adds the value at tokens `at` (start, length) as a filter: `=`, or `!=` when a negation
/// comes just before it ("not handled by the AI agent"); several values of one dimension
/// are an IN list. Refuses a value right after "by" (a grouping by one value is a
/// different question) and a value both wanted and excluded.
fn add_value(
    layer: &SemanticLayer,
    st: &mut State,
    readings: &mut Readings,
    filters: &mut Vec<Condition>,
    at: (usize, usize),
    (dimension, value): (&str, &str),
    subject_models: &[usize],
) -> Result<(), Box<Plan>> {
    let (i, n) = at;
    if inside_attribute(layer, st, at, (dimension, value), subject_models)? {
        return Ok(());
    }
    let own: Vec<String> = layer
        .all_dimensions()
        .filter(|(_, d)| d.name == dimension)
        .flat_map(|(_, d)| phrase(&d.name).into_iter().chain(phrase(&d.label)))
        .collect();
    if not_a_filter_here(layer, st, readings, at, (dimension, value), &own)? {
        return Ok(());
    }
    let negation = negation_before(layer, st, i, &own);
    // "except voice and sms": a value listed right after an excluded one of its dimension
    // is excluded too.
    let mut k = i;
    if k > 0 && matches!(st.word(k - 1), "and" | "or" | "nor") {
        k -= 1;
    }
    let continues_exclusion = negation.is_none()
        && k > 0
        && readings.iter().any(|(j, m, role, as_)| {
            *role == Role::Value && j + m == k && as_.starts_with(&format!("{dimension} != "))
        });
    st.mark(i, n);
    let negated = negation.is_some() || continues_exclusion;
    if let Some(k) = negation {
        let len = if st.word(k) == "other" && st.word(k + 1) == "than" {
            2
        } else {
            1
        };
        st.mark(k, len);
        record(readings, k, len, Role::Value, "not");
    }
    record(
        readings,
        i,
        n,
        Role::Value,
        format!("{dimension} {} {value}", if negated { "!=" } else { "=" }),
    );
    let mut cond = literal_condition(layer, dimension, value);
    if negated {
        cond.op = Op::Excluding;
    }
    merge_condition(filters, cond, dimension, negated)
}

/// "merchants without the AI agent": the words of a value inside a yes/no attribute of the
/// entity named are asked about unless the value's own dimension is named. `Ok(true)`: the
/// attribute itself is named here, so the words are not this value.
fn inside_attribute(
    layer: &SemanticLayer,
    st: &State,
    (i, n): (usize, usize),
    (dimension, value): (&str, &str),
    subject_models: &[usize],
) -> Result<bool, Box<Plan>> {
    // "merchants without the AI agent": the words of a value ("ai agent", a ticket's
    // handler) inside a yes/no attribute of the entity named ("AI Agent enabled") are asked
    // about unless the value's own dimension is named ("handled by").
    let value_words = &st.stems[i..i + n];
    for &model in subject_models {
        for d in layer.models[model].dimensions.iter().filter(|d| {
            d.data_type == crate::semantic::raw::DataType::Boolean && d.name != dimension
        }) {
            let words = phrase(&d.label);
            // The attribute itself is named here ("AI Agent enabled"): not this value.
            let len = words.len();
            let named = (i + n).saturating_sub(len)..=i;
            if named
                .into_iter()
                .any(|s| s + len <= st.stems.len() && st.stems[s..s + len] == words[..])
            {
                return Ok(true);
            }
            let inside = value_words
                .iter()
                .filter(|w| !understood::is_common(w))
                .all(|w| words.contains(w));
            let own_named = layer
                .all_dimensions()
                .filter(|(_, x)| x.name == dimension)
                .flat_map(|(_, x)| phrase(&x.name).into_iter().chain(phrase(&x.label)))
                .filter(|w| !understood::is_common(w))
                .any(|w| (0..st.stems.len()).any(|k| (k < i || k >= i + n) && st.stems[k] == w));
            if inside && !own_named {
                return Err(Box::new(Plan::Clarify {
                    question: format!(
                        "\"{}\": do you mean {dimension} = {value}, or {} ({})?",
                        st.lower[i..i + n].join(" "),
                        d.label,
                        d.name
                    ),
                    choices: vec![format!("{dimension} = {value}"), d.name.clone()],
                }));
            }
        }
    }
    Ok(false)
}

/// A value's words that are no filter here: a grouping by one value ("by chat") is asked
/// about; a command ("return ..."), a word describing the question and a verb after an
/// entity's name are not values. `Ok(true)`: skip the value.
fn not_a_filter_here(
    layer: &SemanticLayer,
    st: &State,
    readings: &Readings,
    (i, n): (usize, usize),
    (dimension, value): (&str, &str),
    own: &[String],
) -> Result<bool, Box<Plan>> {
    // ("handled by humans": the "by" is the dimension's own word.)
    let participle = i >= 2 && {
        let w = st.word(i - 2);
        w.ends_with("ed")
            || matches!(
                w,
                "sold"
                    | "paid"
                    | "made"
                    | "run"
                    | "won"
                    | "lost"
                    | "brought"
                    | "taken"
                    | "done"
                    | "held"
                    | "kept"
                    | "bought"
                    | "led"
                    | "written"
            )
    };
    if i > 0
        && matches!(st.word(i - 1), "by" | "per")
        && !st.used[i - 1]
        && !participle
        && !(i >= 2 && own.contains(&st.stems[i - 2]))
    {
        return Err(Box::new(Plan::Clarify {
            question: format!(
                "\"{value}\" is one value of {dimension}. Do you want the figures by {dimension}, or only for {value}?"
            ),
            choices: vec![format!("by {dimension}"), format!("only {value}")],
        }));
    }
    // "return the CSAT for each channel": the command, not the value "return".
    if i == 0
        && matches!(
            st.word(0),
            "return" | "list" | "show" | "give" | "find" | "get"
        )
    {
        return Ok(true);
    }
    // "basic question: ...": a word describing the question, not a filter.
    if matches!(st.word(i + n), "question" | "questions") {
        return Ok(true);
    }
    // "did Amber Moon Outfitters open": a one-word value right after an entity's name is
    // likely a verb; ask rather than filter on it.
    let after_name = i > 0
        && st.used[i - 1]
        && readings.iter().any(|(j, m, role, as_)| {
            *role == Role::Value
                && *j < i
                && i - 1 < j + m
                && layer
                    .all_dimensions()
                    .any(|(_, d)| d.entity_name && as_.starts_with(&format!("{} ", d.name)))
        });
    if n == 1 && after_name {
        return Err(Box::new(Plan::Clarify {
            question: format!(
                "Does \"{}\" mean {dimension} = {value} here, or is it a verb? Ask e.g. \"{value} tickets\" for the filter.",
                st.word(i)
            ),
            choices: Vec::new(),
        }));
    }
    Ok(false)
}

/// Adds `cond` to the filters: a second value of a dimension makes an IN list (or a longer
/// exclusion); a value both wanted and excluded is asked about.
fn merge_condition(
    filters: &mut Vec<Condition>,
    cond: Condition,
    dimension: &str,
    negated: bool,
) -> Result<(), Box<Plan>> {
    match filters.iter_mut().find(|c| c.dimension == dimension) {
        Some(c) => {
            let was_negated = matches!(c.op, Op::Ne | Op::NotIn | Op::Excluding);
            if was_negated != negated {
                return Err(Box::new(Plan::Clarify {
                    question: format!(
                        "The question both asks for and excludes values of {dimension}. Which {dimension} values do you want?"
                    ),
                    choices: Vec::new(),
                }));
            }
            for lit in cond.values {
                if !c.values.contains(&lit) {
                    c.values.push(lit);
                }
            }
            if c.values.len() > 1 {
                c.op = if negated { Op::Excluding } else { Op::In };
            }
        }
        None => filters.push(cond),
    }
    Ok(())
}

/// The first of `ws` that the question uses and no reading has taken: (token, word).
fn said(st: &State, ws: &[&'static str]) -> Option<(usize, &'static str)> {
    ws.iter().find_map(|w| {
        (0..st.lower.len())
            .find(|&k| st.word(k) == *w && !st.used[k])
            .map(|k| (k, *w))
    })
}

/// True when a value of `dimension` sits right before or after tokens `i..i + n` ("the pro
/// plan", "plan pro"): the dimension is named with its value, not listed as a column.
fn value_next_to(vocab: &Vocabulary, st: &State, i: usize, n: usize, dimension: &str) -> bool {
    vocab.entries.iter().any(|e| {
        let Target::Value { dimension: d, .. } = &e.target else {
            return false;
        };
        let len = e.words.len();
        let at = |s: usize| {
            s + len <= st.stems.len()
                && (0..len).all(|k| word_matches(&st.stems[s + k], &e.words[k]))
        };
        d == dimension && ((i >= len && at(i - len)) || at(i + n))
    })
}

/// Words that may stand between two metrics of a list ("tickets and the CSAT").
const GAP_OK: &[&str] = &[
    "and", "or", "also", "as", "well", "both", "the", "our", "its", "their", "total", "number",
    "count", "of", "vs", "versus", "compared", "to", "against", "how", "many", "much", "what",
    "whats", "is", "are", "was", "were", "by", "along", "with", "together", "plus",
];

/// A period still running is compared like for like: up to today against the same number
/// of days of the other period ("this month vs last month" on the 20th is November 1-20
/// against October 1-20), never a partial month against a whole one.
fn like_for_like(c: &mut (Span, Span), today: NaiveDate, notes: &mut Vec<String>) {
    let (earlier, later) = c;
    if later.range.from <= today && later.range.to >= today {
        let days = (today - later.range.from).num_days();
        let running = later.range.to > today;
        later.range.to = today;
        if running && !later.label.contains("to date") {
            later.label = format!("{} to date", later.label);
        }
        let cut = earlier.range.from + chrono::Duration::days(days);
        if cut < earlier.range.to {
            earlier.range.to = cut;
            earlier.label = format!("{} (first {} days)", earlier.label, days + 1);
        }
        notes.push(format!(
            "Like for like: {} ({} to {}) against {} ({} to {}).",
            later.label,
            later.range.from,
            later.range.to,
            earlier.label,
            earlier.range.from,
            earlier.range.to
        ));
    }
}

/// Words between the items of a list of group-bys ("and the corresponding policy number").
const LIST_CONNECTORS: &[&str] = &[
    "the",
    "corresponding",
    "correspoinding",
    "their",
    "its",
    "respective",
    "associated",
    "related",
];

/// Words that ask for an aggregate (a total, a count, an average) rather than the rows.
const AGGREGATE_CUES: &[&str] = &[
    "total",
    "totals",
    "totalled",
    "sum",
    "summed",
    "overall",
    "combined",
    "aggregate",
    "altogether",
    "many",
    "much",
    "average",
    "avg",
    "mean",
    "median",
];

/// A sum grouped only by identifiers of one entity, whose facts link to a finer entity
/// (one the grouped entity has several of) that no group-by covers: the sum per id and the
/// list of fact rows differ, so the question is ambiguous. Returns the clarification.
fn hidden_grain(layer: &SemanticLayer, metric_ids: &[usize], group_by: &[String]) -> Option<Plan> {
    if group_by.is_empty() {
        return None;
    }
    for &m in metric_ids {
        let MetricKind::Simple(input) = &layer.metrics[m].kind else {
            continue;
        };
        let fact = &layer.models[input.model];
        if !matches!(
            fact.measures[input.measure].agg,
            crate::semantic::raw::Agg::Sum
        ) {
            continue;
        }
        // Every group-by an identifier; the entities they identify.
        let mut grouped = Vec::new();
        for g in group_by {
            let (gm, gd, _) = layer.resolve_dimension(input.model, g)?;
            if !layer.models[gm].dimensions[gd].identifier {
                return None;
            }
            grouped.extend(
                layer.models[gm]
                    .entities
                    .iter()
                    .filter(|e| e.kind == crate::semantic::raw::EntityKind::Primary)
                    .map(|e| e.name.clone()),
            );
        }
        for f in fact
            .entities
            .iter()
            .filter(|e| e.kind == crate::semantic::raw::EntityKind::Foreign)
        {
            if grouped.contains(&f.name) {
                continue;
            }
            // The finer entity's own models, from which every group-by is reached by a join.
            let finer: Vec<usize> = (0..layer.models.len())
                .filter(|&i| {
                    layer.models[i].entities.iter().any(|e| {
                        e.name == f.name && e.kind == crate::semantic::raw::EntityKind::Primary
                    })
                })
                .collect();
            let above = !finer.is_empty()
                && finer.iter().any(|&i| {
                    group_by.iter().all(|g| {
                        layer
                            .resolve_dimension(i, g)
                            .is_some_and(|(gm, _, path)| gm != i && path.is_some())
                    })
                });
            if !above {
                continue;
            }
            let label = &layer.metrics[m].label;
            let by = group_by.join(", ");
            let finer_dims: Vec<String> = finer
                .iter()
                .flat_map(|&i| layer.models[i].dimensions.iter().map(|d| d.name.clone()))
                .take(3)
                .collect();
            let extra = if finer_dims.is_empty() {
                String::new()
            } else {
                format!(" (add {})", join_or(&finer_dims))
            };
            return Some(Plan::Clarify {
                question: format!(
                    "{label} is recorded per {} and there can be several for each {by}. Do you want the total {} by {by}, or each {}'s amount{extra}?",
                    f.name.replace('_', " "),
                    label.to_lowercase(),
                    f.name.replace('_', " ")
                ),
                choices: Vec::new(),
            });
        }
    }
    None
}

/// A period as read: "last month (2026-10-01 to 2026-10-31)".
fn period_as(p: &time::FoundPeriod) -> String {
    format!(
        "{} ({} to {})",
        short_label(&p.label),
        p.range.from,
        p.range.to
    )
}

fn record_span(r: &mut Readings, used: &[usize], role: Role, as_: &str) {
    let (Some(&a), Some(&b)) = (used.iter().min(), used.iter().max()) else {
        return;
    };
    record(r, a, b + 1 - a, role, as_);
}

/// The readings in question order, with every other word as filler.
fn understood_list(st: &State, readings: &Readings) -> Vec<Understood> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < st.lower.len() {
        if let Some((_, n, role, as_)) = readings.iter().find(|(j, _, _, _)| *j == i) {
            out.push(Understood {
                phrase: st.lower[i..(i + n).min(st.lower.len())].join(" "),
                role: *role,
                as_: as_.clone(),
            });
            i += n.max(&1);
            continue;
        }
        out.push(Understood {
            phrase: st.lower[i].clone(),
            role: Role::Filler,
            as_: String::new(),
        });
        i += 1;
    }
    out
}

/// Content words no reading explains, grouped into phrases: a clarifying question naming
/// the first one and the closest governed names; `None` when every word is accounted for.
fn unexplained(
    layer: &SemanticLayer,
    vocab: &Vocabulary,
    st: &State,
    metric_ids: &[usize],
) -> Option<Plan> {
    // A filler word that is itself a governed dimension or value ("type", "status") is
    // not filler here: the metric just can't reach it.
    let governed = |i: usize| {
        // ("return the CSAT ...": the command, not the value.)
        if i == 0
            && matches!(
                st.word(0),
                "return" | "list" | "show" | "give" | "find" | "get"
            )
        {
            return false;
        }
        vocab.entries.iter().any(|e| {
            e.words.len() == 1
                && e.words[0] == st.stems[i]
                && !matches!(e.target, Target::Metric(_))
        })
    };
    let content = |i: usize| {
        let w = st.word(i);
        !st.used[i]
            && (governed(i)
                || !is_filler(w, &layer.ignore)
                || (i > 0 && matches!(st.word(i - 1), "by" | "per") && !st.used[i - 1]))
            && w.chars().any(char::is_alphanumeric)
    };
    let mut phrases: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < st.lower.len() {
        if content(i) {
            let start = i;
            while i < st.lower.len() && content(i) {
                i += 1;
            }
            phrases.push((start, i - start));
        } else {
            i += 1;
        }
    }
    let &(start, n) = phrases.first()?;
    let phrase = st.lower[start..start + n].join(" ");
    let label = layer.metrics[metric_ids[0]].label.clone();
    let reach = reachable_dimension_names(layer, metric_ids);
    // A governed dimension or value the metric cannot reach.
    for e in &vocab.entries {
        let (d, what) = match &e.target {
            Target::Dimension(d) => (d, d.clone()),
            Target::Value { dimension, value } => (dimension, format!("{dimension} = {value}")),
            Target::Metric(_) => continue,
        };
        if reach.contains(d) {
            continue;
        }
        let hit = (start..start + n).any(|k| {
            k + e.words.len() <= st.stems.len()
                && (0..e.words.len()).all(|x| st.stems[k + x] == e.words[x])
        });
        if hit {
            return Some(Plan::Clarify {
                question: format!(
                    "{label} can't be broken down or filtered by \"{phrase}\" ({what}): no join path reaches it. {label} can be split by {}.",
                    join_or(&reach.iter().take(8).cloned().collect::<Vec<_>>())
                ),
                choices: reach.into_iter().take(5).collect(),
            });
        }
    }
    // Closest governed names by spelling, else what the metric can be split by.
    let mut close: Vec<String> = Vec::new();
    let names: Vec<&str> = layer
        .all_dimensions()
        .filter(|(_, d)| reach.contains(&d.name))
        .flat_map(|(_, d)| {
            std::iter::once(d.name.as_str()).chain(d.synonyms.iter().map(String::as_str))
        })
        .collect();
    for k in start..start + n {
        for c in crate::fuzzy::closest(st.word(k), names.iter().copied()) {
            let dim = layer
                .all_dimensions()
                .find(|(_, d)| d.name == c || d.synonyms.contains(&c))
                .map(|(_, d)| d.name.clone())
                .unwrap_or(c);
            if !close.contains(&dim) {
                close.push(dim);
            }
        }
    }
    let question = if close.is_empty() {
        format!(
            "I don't know \"{phrase}\", and I won't answer without it. {label} can be split by {}.",
            join_or(&reach.iter().take(8).cloned().collect::<Vec<_>>())
        )
    } else if close.len() == 1 && close[0].replace('_', " ") == phrase {
        // The word is a column, but the question doesn't say how to use it.
        format!(
            "\"{phrase}\": by {} (one row each), or only some values of it? Ask e.g. \"{label} by {}\".",
            close[0], close[0]
        )
    } else {
        format!(
            "I don't know \"{phrase}\". Did you mean {}?",
            join_or(&close)
        )
    };
    let choices = if close.is_empty() {
        reach.into_iter().take(5).collect()
    } else {
        close
    };
    Some(Plan::Clarify { question, choices })
}

fn literal_condition(layer: &SemanticLayer, dimension: &str, value: &str) -> Condition {
    let data_type = layer
        .all_dimensions()
        .find(|(_, d)| d.name == dimension)
        .map(|(_, d)| d.data_type);
    let lit = match (data_type, value) {
        (Some(crate::semantic::raw::DataType::Boolean), "true") => Literal::Bool(true),
        (Some(crate::semantic::raw::DataType::Boolean), "false") => Literal::Bool(false),
        (Some(crate::semantic::raw::DataType::Number), v) if v.parse::<f64>().is_ok() => {
            Literal::Num(v.parse::<f64>().unwrap_or_default())
        }
        _ => Literal::Str(value.to_string()),
    };
    Condition {
        dimension: dimension.to_string(),
        op: Op::Eq,
        values: vec![lit],
    }
}

/// No full metric phrase: clarify when a word belongs to several metrics, else refuse.
fn no_metric(layer: &SemanticLayer, vocab: &Vocabulary, st: &State) -> Plan {
    let mut candidates: Vec<usize> = Vec::new();
    for (i, w) in st.stems.iter().enumerate() {
        if st.used[i] || STOPWORDS.contains(&st.word(i)) || w.len() < 3 {
            continue;
        }
        for e in &vocab.entries {
            if let Target::Metric(m) = e.target {
                if e.words.iter().any(|x| word_matches(w, x)) && !candidates.contains(&m) {
                    candidates.push(m);
                }
            }
        }
    }
    let label = |m: &usize| format!("{} ({})", layer.metrics[*m].label, layer.metrics[*m].name);
    match candidates.len() {
        0 => {
            let mut suggestions: Vec<String> = Vec::new();
            for (i, w) in st.stems.iter().enumerate() {
                if st.used[i] || STOPWORDS.contains(&st.word(i)) {
                    continue;
                }
                for c in crate::fuzzy::closest(w, layer.metrics.iter().map(|m| m.name.as_str())) {
                    if !suggestions.contains(&c) {
                        suggestions.push(c);
                    }
                }
            }
            if suggestions.is_empty() {
                suggestions = ["arr", "tickets", "csat", "automation_rate", "win_rate"]
                    .iter()
                    .filter(|n| layer.metric(n).is_some())
                    .map(|s| s.to_string())
                    .collect();
            }
            Plan::Unanswerable {
                reason: "I can't answer that from our governed metrics: no metric in metrics.yaml matches it.".into(),
                suggestions,
            }
        }
        1 => Plan::Clarify {
            question: format!("Did you mean {}?", label(&candidates[0])),
            choices: vec![layer.metrics[candidates[0]].name.clone()],
        },
        _ => {
            candidates.truncate(4);
            let labels: Vec<String> = candidates.iter().map(label).collect();
            Plan::Clarify {
                question: format!("Which metric did you mean: {}?", join_or(&labels)),
                choices: candidates
                    .iter()
                    .map(|m| layer.metrics[*m].name.clone())
                    .collect(),
            }
        }
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_match_long_words_only() {
        assert!(word_matches("tickt", "ticket"));
        assert!(!word_matches("arr", "ar"));
        assert!(!word_matches("2025", "2026"));
    }
}

#[cfg(test)]
mod grain_tests {
    use super::*;

    fn acme() -> SemanticLayer {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme/metrics.yaml");
        SemanticLayer::load(&path).expect("acme metrics.yaml")
    }

    fn planned(layer: &SemanticLayer, q: &str) -> Plan {
        let vocab = Vocabulary::new(layer);
        plan(
            layer,
            &vocab,
            q,
            NaiveDate::from_ymd_opt(2020, 12, 31).expect("date"),
        )
    }

    fn query_of(layer: &SemanticLayer, q: &str) -> MetricQuery {
        match planned(layer, q) {
            Plan::Query { query, .. } => query,
            other => panic!("{q}: expected a query, got {other:?}"),
        }
    }

    fn clarified(layer: &SemanticLayer, q: &str) -> String {
        match planned(layer, q) {
            Plan::Clarify { question, .. } => question,
            other => panic!("{q}: expected a clarification, got {other:?}"),
        }
    }

    #[test]
    fn a_list_of_group_bys_continues_past_commas_and_connectors() {
        let layer = acme();
        let q = query_of(
            &layer,
            "loss payments by claim number, catastrophe and the corresponding policy number",
        );
        assert_eq!(
            q.group_by,
            ["claim_number", "catastrophe_name", "policy_number"]
        );
        // A dimension named without "by" or a list before it is not a group-by.
        let q = clarified(&layer, "loss payments with catastrophe");
        assert!(q.contains("catastrophe"), "{q}");
    }

    #[test]
    fn a_grain_after_by_starts_the_list_of_group_bys() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("metrics.yaml");
        let layer = SemanticLayer::load(&path).expect("demo metrics.yaml");
        // The dimension reads as it does alone after "by" (the tickets' own channel).
        let alone = query_of(&layer, "tickets by channel by month");
        assert_eq!(alone.group_by, ["channel"]);
        for q in [
            "tickets by month and channel",
            "tickets by month, channel",
            "tickets by month and the channel",
            "tickets by month and by channel",
        ] {
            let got = query_of(&layer, q);
            assert_eq!(
                (got.grain, &got.group_by),
                (Some(Grain::Month), &alone.group_by),
                "{q}"
            );
        }
        let q = query_of(&layer, "ARR by week and segment");
        assert_eq!(
            (q.grain, q.group_by),
            (Some(Grain::Week), vec!["segment".to_string()])
        );
        let q = query_of(&layer, "ARR by quarter, vertical and plan");
        assert_eq!(
            (q.grain, q.group_by),
            (
                Some(Grain::Quarter),
                vec!["vertical".to_string(), "plan".to_string()]
            )
        );
    }

    #[test]
    fn a_date_column_is_a_group_by_and_may_drop_the_entity_word() {
        let layer = acme();
        let q = query_of(
            &layer,
            "Return all the claims by claim number and open date",
        );
        assert!(q.metrics.is_empty());
        assert_eq!(q.group_by, ["claim_number", "claim_open_date"]);
        // "effective date" belongs to the entity the question names.
        let q = query_of(
            &layer,
            "list all the policies by policy number and effective date",
        );
        assert_eq!(q.group_by, ["policy_number", "policy_effective_date"]);
        // A metric's own time axis is a daily series, not a column.
        let q = query_of(&layer, "claims in 2019 by claim open date");
        assert_eq!((q.grain, q.group_by.len()), (Some(Grain::Day), 0));
    }

    #[test]
    fn an_entity_with_has_reads_per_entity_and_a_bare_one_is_asked_about() {
        let layer = acme();
        let q = query_of(&layer, "total premium that a policy holder has paid");
        assert_eq!(q.group_by, ["policy_holder_id"]);
        let q = clarified(&layer, "How many claims has a policy had?");
        assert!(q.contains("in total"), "{q}");
    }

    #[test]
    fn a_definition_by_division_must_match_the_governed_one() {
        let layer = acme();
        let q = query_of(
            &layer,
            "average policy size, which is total premium divided by the number of policies",
        );
        assert_eq!(q.metrics, ["average_policy_size"]);
        // The question's own ratio differs from the governed one: asked, never answered.
        let q = clarified(
            &layer,
            "average policy size, which is total premium divided by the number of claims",
        );
        assert!(q.contains("not how metrics.yaml defines it"), "{q}");
    }

    #[test]
    fn the_average_of_a_defined_sum_is_the_governed_average_and_asked_counts_stay() {
        let layer = acme();
        let q = query_of(
            &layer,
            "average loss and number of claims by policy number where loss is the sum of loss payment, loss reserve, expense payment and expense reserve",
        );
        assert_eq!(q.metrics, ["average_incurred_per_claim", "claims"]);
        // A sum with no governed average over a count is asked about.
        let q = clarified(
            &layer,
            "average loss by policy number where loss is the sum of loss payment and loss reserve",
        );
        assert!(q.contains("averaged over what"), "{q}");
    }

    #[test]
    fn a_listing_of_related_entities_shows_the_identifier_that_links_them() {
        let layer = acme();
        let q = query_of(
            &layer,
            "Return policy holders and the claims they have made and the catastrophe",
        );
        let mut by = q.group_by.clone();
        by.sort();
        assert_eq!(
            by,
            [
                "catastrophe_name",
                "claim_number",
                "policy_holder_id",
                "policy_number"
            ]
        );
        assert!(q.metrics.is_empty());
    }

    #[test]
    fn a_sum_per_id_over_finer_facts_is_clarified_unless_a_total_is_asked() {
        let layer = acme();
        // Premium is recorded per coverage period, several per policy: total or each row?
        for q in [
            "What is the premium amount of all policies by policy number?",
            "premium by policy number",
            "loss payments by policy number",
        ] {
            match planned(&layer, q) {
                Plan::Clarify { question, .. } => {
                    assert!(
                        question.contains("Do you want the total"),
                        "{q}: {question}"
                    )
                }
                other => panic!("{q}: expected a clarification, got {other:?}"),
            }
        }
        // An explicit aggregate, or a group-by at the facts' own level, is unambiguous.
        for (q, by) in [
            ("total premium by policy number", vec!["policy_number"]),
            ("loss payments by claim number", vec!["claim_number"]),
            (
                "premium by policy number and coverage premium",
                vec!["policy_number", "coverage_premium"],
            ),
        ] {
            match planned(&layer, q) {
                Plan::Query { query, .. } => assert_eq!(query.group_by, by, "{q}"),
                other => panic!("{q}: expected a query, got {other:?}"),
            }
        }
    }
}
