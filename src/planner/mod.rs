//! The offline planner: a plain-language question -> a `MetricQuery`, deterministically.
//!
//! Everything it recognises comes from metrics.yaml: metric names, labels and synonyms;
//! dimension names, labels and synonyms ("by segment"); dimension values and their synonyms
//! ("Enterprise", "chat tickets"); plus time expressions (`time.rs`). It never guesses: a
//! question with no governed metric is unanswerable, and a word that fits several metrics
//! equally gets one clarifying question.

pub mod followup;
pub mod time;

use chrono::NaiveDate;

use crate::fuzzy::{levenshtein, typo_budget};
use crate::semantic::model::{MetricKind, SemanticLayer};
use crate::semantic::query::{Condition, Grain, Literal, MetricQuery, Op, OrderBy};

/// The planner's decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A governed query, with how the period was read.
    Query {
        query: MetricQuery,
        period: Option<String>,
        notes: Vec<String>,
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

/// Words that carry no meaning for planning.
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "what",
    "whats",
    "what's",
    "is",
    "are",
    "was",
    "were",
    "our",
    "we",
    "us",
    "my",
    "me",
    "i",
    "how",
    "many",
    "much",
    "did",
    "do",
    "does",
    "have",
    "has",
    "had",
    "get",
    "got",
    "give",
    "show",
    "tell",
    "list",
    "of",
    "for",
    "in",
    "on",
    "at",
    "to",
    "and",
    "or",
    "with",
    "from",
    "by",
    "per",
    "each",
    "every",
    "across",
    "vs",
    "versus",
    "compared",
    "compare",
    "comparison",
    "between",
    "please",
    "can",
    "you",
    "could",
    "would",
    "be",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "there",
    "their",
    "all",
    "total",
    "overall",
    "current",
    "currently",
    "now",
    "so",
    "far",
    "which",
    "who",
    "where",
    "when",
    "why",
    "top",
    "bottom",
    "most",
    "least",
    "highest",
    "lowest",
    "largest",
    "smallest",
    "biggest",
    "best",
    "worst",
    "more",
    "less",
    "than",
    "as",
    "into",
    "up",
    "down",
    "broken",
    "split",
    "breakdown",
    "number",
    "count",
    "amount",
    "value",
    "level",
    "levels",
    "rate",
    "trend",
    "trends",
    "over",
    "time",
    "during",
    "since",
    "about",
    "look",
    "like",
    "looking",
    "doing",
    "performing",
    "see",
    "report",
    "summary",
    "during",
    "past",
    "last",
    "end",
    "date",
    "closing",
    "close",
    "due",
    "expected",
    "currently",
    "right",
    "any",
    "some",
    "been",
    "being",
    "will",
    "going",
    "out",
    "merchant",
    "customer",
    "company",
    "business",
    "data",
    "average",
    "avg",
    "mean",
    "median",
    "share",
    "percent",
    "percentage",
    "proportion",
    "fraction",
    "ratio",
    "enabled",
    "has",
];

/// A normalised word: lowercase, `&` as "and", plural folded.
pub fn stem(w: &str) -> String {
    let w = w.to_lowercase();
    if w.len() > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..w.len() - 3]);
    }
    if w.len() > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        return w[..w.len() - 1].to_string();
    }
    w
}

/// Splits text into lowercase words; ISO dates stay whole, other punctuation separates.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        let raw = raw.trim_matches(|c: char| ",.?!;:()\"“”".contains(c));
        if time::is_iso_date(raw) {
            out.push(raw.to_string());
            continue;
        }
        let cleaned: String = raw
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "$<+".contains(c) {
                    c
                } else if c == '\'' || c == '’' {
                    '\0'
                } else {
                    ' '
                }
            })
            .filter(|c| *c != '\0')
            .collect();
        for w in cleaned.split_whitespace() {
            out.push(if w == "&" {
                "and".into()
            } else {
                w.to_string()
            });
        }
        if raw.contains('&') && !raw.chars().any(char::is_alphanumeric) {
            out.push("and".into());
        }
    }
    out
}

/// The stemmed content words of a text (no stopwords), for retrieval and routing.
pub fn content_words(text: &str) -> std::collections::BTreeSet<String> {
    words(text)
        .iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()) && w.len() > 1)
        .map(|w| stem(w))
        .collect()
}

fn phrase(text: &str) -> Vec<String> {
    words(&text.replace('_', " "))
        .iter()
        .map(|w| stem(w))
        .collect()
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
}

/// Everything the planner can recognise, built from metrics.yaml.
pub struct Vocabulary {
    entries: Vec<Entry>,
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
                });
            }
        };
        for (i, m) in layer.metrics.iter().enumerate() {
            push(&m.name, Target::Metric(i), &mut entries);
            push(&m.label, Target::Metric(i), &mut entries);
            for s in &m.synonyms {
                push(s, Target::Metric(i), &mut entries);
            }
        }
        for (_, d) in layer.all_dimensions() {
            if d.is_time() {
                continue;
            }
            let dim = Target::Dimension(d.name.clone());
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
        // Longest phrases first, then declaration order.
        entries.sort_by(|a, b| b.words.len().cmp(&a.words.len()).then(a.rank.cmp(&b.rank)));
        Vocabulary { entries }
    }
}

fn word_matches(q: &str, p: &str) -> bool {
    if q == p {
        return true;
    }
    let n = q.chars().count().min(p.chars().count());
    n >= 5 && !q.chars().any(|c| c.is_ascii_digit()) && levenshtein(q, p) <= typo_budget(n).min(1)
}

struct State {
    stems: Vec<String>,
    lower: Vec<String>,
    used: Vec<bool>,
}

impl State {
    /// Finds `entry` in unused tokens from `start`; returns the first index.
    fn find(&self, entry: &Entry, start: usize) -> Option<usize> {
        let n = entry.words.len();
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

/// Semantic models a metric reads from.
pub fn metric_models(layer: &SemanticLayer, m: usize) -> Vec<usize> {
    match &layer.metrics[m].kind {
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => vec![i.model],
        MetricKind::Ratio { numerator, .. } => vec![numerator.model],
        MetricKind::Derived { deps, .. } => {
            deps.iter().flat_map(|d| metric_models(layer, *d)).collect()
        }
    }
}

fn reachable(layer: &SemanticLayer, metrics: &[usize], dim: &str) -> bool {
    metrics.iter().all(|&m| {
        metric_models(layer, m)
            .iter()
            .all(|&model| layer.resolve_dimension(model, dim).is_some())
    })
}

fn has_time(layer: &SemanticLayer, m: usize) -> bool {
    match &layer.metrics[m].kind {
        MetricKind::Simple(i) | MetricKind::Cumulative(i) => i.time_dimension.is_some(),
        MetricKind::Ratio { numerator, .. } => numerator.time_dimension.is_some(),
        MetricKind::Derived { deps, .. } => deps.iter().all(|d| has_time(layer, *d)),
    }
}

/// Plans a question against the semantic layer.
pub fn plan(layer: &SemanticLayer, vocab: &Vocabulary, question: &str, today: NaiveDate) -> Plan {
    let lower = words(question);
    let stems: Vec<String> = lower.iter().map(|w| stem(w)).collect();
    let mut st = State {
        used: vec![false; stems.len()],
        stems,
        lower,
    };
    let mut notes = Vec::new();

    // Questions, not commands: text that reads as SQL is refused outright.
    const SQL_WORDS: [&str; 12] = [
        "select", "drop", "delete", "insert", "update", "truncate", "alter", "create", "attach",
        "pragma", "copy", "union",
    ];
    let sql_like = st
        .lower
        .iter()
        .filter(|w| SQL_WORDS.contains(&w.as_str()))
        .count();
    let looks_like_sql = sql_like > 0
        && (question.contains(';')
            || question.contains("--")
            || (sql_like >= 2 && st.lower.iter().any(|w| w == "table" || w == "from")));
    if looks_like_sql {
        return Plan::Unanswerable {
            reason: "That looks like SQL. I answer questions about governed metrics in plain language, and never run SQL from a question.".into(),
            suggestions: Vec::new(),
        };
    }

    // 1. Time.
    let period = time::find_period(&st.lower, today);
    if let Some(p) = &period {
        for &i in &p.used {
            st.used[i] = true;
        }
    }

    // 2. Metrics: longest phrases first.
    let mut metrics: Vec<(usize, usize, bool)> = Vec::new(); // (metric, position, bare noun)
    for e in &vocab.entries {
        if let Target::Metric(m) = e.target {
            let mut start = 0;
            while let Some(i) = st.find(e, start) {
                st.mark(i, e.words.len());
                let bare =
                    e.words.len() == 1 && layer.metrics[m].unit == crate::semantic::Unit::Count;
                if !metrics.iter().any(|(x, _, _)| *x == m) {
                    metrics.push((m, i, bare));
                }
                start = i + e.words.len();
            }
        }
    }
    // A bare count noun ("merchants", "deals") next to another metric whose table joins to
    // its table names the subject ("tickets from UK merchants"), not a second metric.
    let found: Vec<usize> = metrics.iter().map(|(m, _, _)| *m).collect();
    metrics.retain(|(m, _, bare)| {
        !*bare
            || !found.iter().filter(|s| *s != m).any(|s| {
                metric_models(layer, *s).iter().any(|model| {
                    layer
                        .reachable_models(*model)
                        .iter()
                        .any(|(r, _)| metric_models(layer, *m).contains(r))
                })
            })
    });
    metrics.sort_by_key(|(_, pos, _)| *pos);
    // "revenue from AI-only orders": a filtered count metric after from/of/for another
    // metric on the same table scopes it, so its filter becomes the question's filter.
    let mut scoped: Vec<Condition> = Vec::new();
    if metrics.len() > 1 {
        let first = metrics[0].0;
        metrics.retain(|&(m, pos, _)| {
            let scope = m != first
                && pos > 0
                && matches!(st.word(pos - 1), "from" | "of" | "for" | "among" | "on")
                && match &layer.metrics[m].kind {
                    MetricKind::Simple(i) => {
                        !i.filter.is_empty()
                            && layer.metrics[m].unit == crate::semantic::Unit::Count
                            && metric_models(layer, first).contains(&i.model)
                    }
                    _ => false,
                };
            if scope {
                if let MetricKind::Simple(i) = &layer.metrics[m].kind {
                    scoped.extend(i.filter.iter().cloned());
                }
            }
            !scope
        });
    }
    let mut metric_ids: Vec<usize> = metrics.iter().map(|(m, _, _)| *m).collect();

    // "How many return requests did Shopify Plus merchants get": when the only metric is a
    // bare count noun and a value belongs to another table, count that table instead.
    // Only a phrase of two or more words that no reachable dimension explains counts.
    let value_hits = |st: &State| -> Vec<(Vec<String>, String)> {
        vocab
            .entries
            .iter()
            .filter_map(|e| match &e.target {
                Target::Value { dimension, .. } if st.find(e, 0).is_some() => {
                    Some((e.words.clone(), dimension.clone()))
                }
                _ => None,
            })
            .collect()
    };
    if !metrics.is_empty() && metrics.iter().all(|(_, _, bare)| *bare) {
        let hits = value_hits(&st);
        let base = hits.iter().find_map(|(words, dim)| {
            let explained = hits
                .iter()
                .any(|(w, d)| w == words && reachable(layer, &metric_ids, d));
            (words.len() >= 2 && !explained && !reachable(layer, &metric_ids, dim))
                .then(|| base_count_metric(layer, dim))
                .flatten()
        });
        if let Some(base) = base {
            metric_ids = vec![base];
        }
    }
    // "How many chats did we get yesterday": no metric, but the values all belong to one
    // table with a plain count: count that table.
    if metric_ids.is_empty() {
        let mut bases: Vec<usize> = value_hits(&st)
            .iter()
            .filter_map(|(_, d)| base_count_metric(layer, d))
            .collect();
        bases.dedup();
        if let [only] = bases.as_slice() {
            metric_ids = vec![*only];
        }
    }

    if metric_ids.is_empty() {
        return no_metric(layer, vocab, &st);
    }

    // 3. Grain.
    let mut grain = None;
    for i in 0..st.stems.len() {
        if st.used[i] {
            continue;
        }
        let w = st.word(i).to_string();
        let g = match w.as_str() {
            "daily" => Some(Grain::Day),
            "weekly" => Some(Grain::Week),
            "monthly" => Some(Grain::Month),
            "quarterly" => Some(Grain::Quarter),
            "yearly" | "annually" | "annual" => Some(Grain::Year),
            "by" | "per" | "each" | "every" => time::grain_word(&stem(st.word(i + 1))),
            _ => None,
        };
        if let Some(g) = g {
            grain = Some(g);
            st.used[i] = true;
            if matches!(w.as_str(), "by" | "per" | "each" | "every") {
                st.used[i + 1] = true;
            }
        }
    }
    if grain.is_none() {
        if let Some(i) = (0..st.lower.len())
            .find(|&i| !st.used[i] && matches!(st.word(i), "trend" | "trends" | "trending"))
        {
            grain = Some(Grain::Month);
            st.used[i] = true;
        }
    }

    // 4. Ranking words.
    let mut limit = None;
    let mut desc = None;
    for i in 0..st.lower.len() {
        match st.word(i) {
            "top" | "bottom" => {
                desc = Some(st.word(i) == "top");
                if let Ok(n) = st.word(i + 1).parse::<u64>() {
                    limit = Some(n);
                    st.used[i + 1] = true;
                } else {
                    limit = Some(5);
                }
            }
            "most" | "highest" | "largest" | "biggest" | "best" => desc = desc.or(Some(true)),
            "least" | "lowest" | "smallest" | "fewest" | "worst" => desc = desc.or(Some(false)),
            // For durations the slowest is the largest value.
            "fastest" | "quickest" | "slowest" => {
                let duration = metric_ids.first().is_some_and(|m| {
                    matches!(
                        layer.metrics[*m].unit,
                        crate::semantic::Unit::Seconds
                            | crate::semantic::Unit::Minutes
                            | crate::semantic::Unit::Hours
                            | crate::semantic::Unit::Days
                    )
                });
                let slow = st.word(i) == "slowest";
                desc = desc.or(Some(slow == duration));
            }
            _ => {}
        }
    }
    let which = st
        .lower
        .iter()
        .any(|w| matches!(w.as_str(), "which" | "what" | "whats" | "who"))
        && desc.is_some();

    // 5. Group-bys: dimension phrases, longest first, then read left to right so that
    // "by segment and vertical" groups by both.
    let mut group_by: Vec<String> = Vec::new();
    let mut filters: Vec<Condition> = scoped;
    let mut dim_hits: Vec<(usize, usize, String)> = Vec::new();
    let mut taken = vec![false; st.stems.len()];
    for e in &vocab.entries {
        let Target::Dimension(d) = &e.target else {
            continue;
        };
        if !reachable(layer, &metric_ids, d) {
            continue;
        }
        let mut start = 0;
        while let Some(i) = st.find(e, start) {
            start = i + e.words.len();
            if (i..i + e.words.len()).any(|k| taken[k]) {
                continue;
            }
            taken[i..i + e.words.len()].fill(true);
            dim_hits.push((i, e.words.len(), d.clone()));
        }
    }
    dim_hits.sort();
    for (i, n, d) in dim_hits {
        let prev = if i > 0 {
            st.word(i - 1).to_string()
        } else {
            String::new()
        };
        let prev = prev.as_str();
        let next = st.word(i + n).to_string();
        // "by X", "per X", "which X", "top 5 X", "X breakdown", or "and X" after one.
        let grouped = matches!(
            prev,
            "by" | "per" | "each" | "every" | "across" | "which" | "among"
        ) || (desc.is_some() && group_by.is_empty())
            || (i >= 2 && st.word(i - 2) == "top" && prev.parse::<u64>().is_ok())
            || prev == "top"
            || matches!(next.as_str(), "breakdown" | "split")
            || (prev == "and" && !group_by.is_empty());
        if grouped && !group_by.contains(&d) {
            group_by.push(d);
            st.mark(i, n);
            if i > 0 && matches!(prev, "by" | "per" | "each" | "every" | "across" | "which") {
                st.used[i - 1] = true;
            }
        }
    }
    // 6. Filter values on what is left.
    for e in &vocab.entries {
        let Target::Value { dimension, value } = &e.target else {
            continue;
        };
        if !reachable(layer, &metric_ids, dimension) {
            continue;
        }
        let mut start = 0;
        while let Some(i) = st.find(e, start) {
            start = i + e.words.len();
            st.mark(i, e.words.len());
            match filters.iter_mut().find(|c| &c.dimension == dimension) {
                Some(c) => {
                    let lit = Literal::Str(value.clone());
                    if !c.values.contains(&lit) {
                        c.values.push(lit);
                        c.op = Op::In;
                    }
                }
                None => filters.push(literal_condition(layer, dimension, value)),
            }
        }
    }
    // "A vs B" on one dimension: compare them side by side.
    let compare = st.lower.iter().any(|w| {
        matches!(
            w.as_str(),
            "vs" | "versus" | "compare" | "compared" | "against"
        )
    });
    for c in &filters {
        if c.values.len() > 1 && compare && !group_by.contains(&c.dimension) {
            group_by.push(c.dimension.clone());
        }
    }

    // A rate asked of a metric that is not one ("churn rate" -> churned ARR) is not answered
    // with an amount.
    let rate_word = (0..st.lower.len()).find(|&i| {
        !st.used[i]
            && matches!(
                st.word(i),
                "rate" | "percentage" | "percent" | "ratio" | "%"
            )
    });
    if let Some(i) = rate_word {
        let is_ratio = metric_ids.iter().all(|m| {
            matches!(
                layer.metrics[*m].unit,
                crate::semantic::Unit::Ratio | crate::semantic::Unit::Percent
            )
        });
        if !is_ratio {
            let names: Vec<String> = metric_ids
                .iter()
                .map(|m| layer.metrics[*m].name.clone())
                .collect();
            return Plan::Unanswerable {
                reason: format!(
                    "There is no governed metric for that {}; I won't compute one on the fly.",
                    st.word(i)
                ),
                suggestions: names,
            };
        }
    }

    // 7. Words nobody recognised that look like names: refuse rather than ignore a filter.
    let unknown: Vec<String> = question
        .split_whitespace()
        .enumerate()
        .skip(1)
        .filter(|(_, w)| w.chars().next().is_some_and(char::is_uppercase))
        .map(|(_, w)| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
        .filter(|w| {
            let parts = words(w);
            let known = |p: &String| {
                let s = stem(p);
                st.stems.iter().zip(&st.used).any(|(t, u)| *u && *t == s)
                    || STOPWORDS.contains(&p.as_str())
                    || time::find_period(std::slice::from_ref(p), today).is_some()
            };
            let looks_like_name = w.chars().any(char::is_lowercase)
                || (w.chars().filter(|c| c.is_alphabetic()).count() >= 3
                    && w.chars().all(|c| !c.is_lowercase()));
            !parts.is_empty() && looks_like_name && !parts.iter().all(known)
        })
        .collect();
    if !unknown.is_empty() {
        let names: Vec<String> = metric_ids
            .iter()
            .map(|m| layer.metrics[*m].label.clone())
            .collect();
        return Plan::Unanswerable {
            reason: format!(
                "I found {} in your question, but I don't know what \"{}\" refers to, so I won't guess a filter for it.",
                names.join(" and "),
                unknown.join(" ")
            ),
            suggestions: Vec::new(),
        };
    }

    // Snapshot metrics (no time axis) answer "now" only.
    let mut time_range = period.as_ref().map(|p| p.range);
    let mut period_label = period.as_ref().map(|p| p.label.clone());
    if let Some(&m) = metric_ids.iter().find(|m| !has_time(layer, **m)) {
        if grain.is_some() {
            return Plan::Unanswerable {
                reason: format!(
                    "{} is a current snapshot with no history in the warehouse, so I can't show it over time.",
                    layer.metrics[m].label
                ),
                suggestions: Vec::new(),
            };
        }
        if let Some(r) = time_range {
            if r.to < today {
                return Plan::Unanswerable {
                    reason: format!(
                        "{} is a current snapshot; the warehouse has no history of it for {}.",
                        layer.metrics[m].label,
                        period_label.unwrap_or_default()
                    ),
                    suggestions: Vec::new(),
                };
            }
            notes.push(format!(
                "{} is a current snapshot, as of today.",
                layer.metrics[m].label
            ));
            time_range = None;
            period_label = None;
        }
    }

    let mut order = Vec::new();
    if let (Some(d), false) = (desc, group_by.is_empty()) {
        order.push(OrderBy {
            field: layer.metrics[metric_ids[0]].name.clone(),
            desc: d,
        });
        if which && limit.is_none() {
            limit = Some(1);
        }
    } else {
        limit = None;
    }
    Plan::Query {
        query: MetricQuery {
            metrics: metric_ids
                .iter()
                .map(|m| layer.metrics[*m].name.clone())
                .collect(),
            group_by,
            grain,
            filters,
            time_range,
            order,
            limit,
        },
        period: period_label,
        notes,
    }
}

/// The plain count metric (no filter) of the model that declares `dimension`.
fn base_count_metric(layer: &SemanticLayer, dimension: &str) -> Option<usize> {
    let model = layer
        .models
        .iter()
        .position(|m| m.dimensions.iter().any(|d| d.name == dimension))?;
    layer.metrics.iter().position(|m| match &m.kind {
        MetricKind::Simple(i) => {
            i.model == model
                && i.filter.is_empty()
                && layer.models[model].measures[i.measure].agg == crate::semantic::raw::Agg::Count
                && layer.models[model].measures[i.measure].expr.is_none()
        }
        _ => false,
    })
}

fn literal_condition(layer: &SemanticLayer, dimension: &str, value: &str) -> Condition {
    let boolean = layer.all_dimensions().any(|(_, d)| {
        d.name == dimension && d.data_type == crate::semantic::raw::DataType::Boolean
    });
    let lit = match (boolean, value) {
        (true, "true") => Literal::Bool(true),
        (true, "false") => Literal::Bool(false),
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
    fn words_normalise_punctuation_and_keep_dates() {
        assert_eq!(
            words("What's ARR for Health & Beauty, 2026-01-01?"),
            [
                "whats",
                "arr",
                "for",
                "health",
                "and",
                "beauty",
                "2026-01-01"
            ]
        );
        assert_eq!(
            words("AI-influenced orders"),
            ["ai", "influenced", "orders"]
        );
        assert_eq!(words("<$1M tier"), ["<$1m", "tier"]);
    }

    #[test]
    fn stems_fold_plurals() {
        assert_eq!(stem("tickets"), "ticket");
        assert_eq!(stem("countries"), "country");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("sms"), "sms");
    }

    #[test]
    fn typos_match_long_words_only() {
        assert!(word_matches("tickt", "ticket"));
        assert!(!word_matches("arr", "ar"));
        assert!(!word_matches("2025", "2026"));
    }
}
