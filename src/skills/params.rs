//! Resolving a skill's typed parameters from the question and the asker.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::{Param, ParamKind};
use crate::context::{Context, Person};
use crate::engine::Engine;
use crate::fuzzy::levenshtein;
use crate::planner::{self, Plan, Vocabulary};
use crate::text::calendar::find_period;
use crate::text::{words, Question};
use crate::warehouse::AuditContext;

/// Every merchant's name, indexed by its first word for the typo-tolerant lookup.
#[derive(Debug, Default)]
struct NameList {
    /// (merchant id, name words, the words joined by spaces), in merchant id order.
    names: Vec<(String, Vec<String>, String)>,
    /// Distinct first words -> indexes into `names`, in order.
    by_first: Vec<(String, Vec<usize>)>,
}

impl NameList {
    fn new(rows: Vec<(String, Vec<String>)>) -> NameList {
        let mut first: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut names = Vec::with_capacity(rows.len());
        for (i, (id, words)) in rows.into_iter().enumerate() {
            if let Some(w) = words.first() {
                first.entry(w.clone()).or_default().push(i);
            }
            let joined = words.join(" ");
            names.push((id, words, joined));
        }
        NameList {
            names,
            by_first: first.into_iter().collect(),
        }
    }
}

/// Merchant names, loaded once through the governed warehouse.
#[derive(Default)]
pub struct MerchantIndex {
    names: Mutex<Option<Arc<NameList>>>,
}

impl MerchantIndex {
    fn load(&self, engine: &Engine) -> Arc<NameList> {
        let mut guard = match self.names.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(names) = guard.as_ref() {
            return Arc::clone(names);
        }
        let ctx = AuditContext {
            requester: "cortex".into(),
            question: "merchant name index".into(),
            query_json: None,
        };
        // Page through: the warehouse caps every result at `max_rows`.
        let page = engine.warehouse.limits().max_rows.max(1);
        let mut rows = Vec::new();
        loop {
            let sql = format!(
                "SELECT merchant_id, name FROM merchants ORDER BY merchant_id LIMIT {page} OFFSET {}",
                rows.len()
            );
            let batch = engine
                .warehouse
                .query(&sql, &ctx)
                .map(|r| r.rows)
                .unwrap_or_default();
            let done = batch.len() < page;
            rows.extend(batch);
            if done {
                break;
            }
        }
        let names = Arc::new(NameList::new(
            rows.into_iter()
                .filter_map(|r| {
                    Some((r.first()?.as_str()?.to_string(), words(r.get(1)?.as_str()?)))
                })
                .collect(),
        ));
        *guard = Some(Arc::clone(&names));
        names
    }

    /// The merchant whose name best matches a run of words in the question (allowing
    /// small typos), with a similarity of at least 0.85. Ties go to the lowest merchant id,
    /// then the earliest position in the question.
    pub fn find(&self, engine: &Engine, question: &str) -> Option<String> {
        self.find_in(engine, &words(question))
    }

    /// [`MerchantIndex::find`] over a question's tokens.
    pub fn find_in(&self, engine: &Engine, q: &[String]) -> Option<String> {
        let list = self.load(engine);
        // (similarity, name index, start): the best, first in (name, start) order on ties.
        let mut best: Option<(f64, usize, usize)> = None;
        for (start, qw) in q.iter().enumerate() {
            for (first, idxs) in &list.by_first {
                if !within_one_edit(qw, first) {
                    continue;
                }
                for &i in idxs {
                    let (_, name, target) = &list.names[i];
                    let k = name.len();
                    if k == 0 || start + k > q.len() {
                        continue;
                    }
                    let window = q[start..start + k].join(" ");
                    let d = levenshtein(&window, target) as f64;
                    let sim = 1.0 - d / window.len().max(target.len()) as f64;
                    let better = match best {
                        None => true,
                        Some((b, bi, bs)) => sim > b || (sim == b && (i, start) < (bi, bs)),
                    };
                    if sim >= 0.85 && better {
                        best = Some((sim, i, start));
                    }
                }
            }
        }
        best.map(|(_, i, _)| list.names[i].0.clone())
    }
}

/// `levenshtein(a, b) <= 1` (over characters), without allocating.
fn within_one_edit(a: &str, b: &str) -> bool {
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    // After the common prefix, one edit must make the rests equal.
    let p: usize = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    let (ra, rb) = (&a[p..], &b[p..]);
    fn skip(s: &str) -> &str {
        s.chars().next().map_or(s, |c| &s[c.len_utf8()..])
    }
    match la.cmp(&lb) {
        std::cmp::Ordering::Equal => skip(ra) == skip(rb),
        std::cmp::Ordering::Greater => skip(ra) == rb,
        std::cmp::Ordering::Less => ra == skip(rb),
    }
}

/// Parameters resolved for one question.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Parameter values as data for steps and templates.
    pub values: BTreeMap<String, Value>,
    /// Short text of each value, for the JSON answer's `params` and tests.
    pub display: BTreeMap<String, String>,
    /// Required parameters the question did not give.
    pub missing: Vec<Param>,
}

/// Inputs shared by every resolution.
pub struct ResolveInput<'a> {
    pub engine: &'a Engine,
    pub vocab: &'a Vocabulary,
    pub context: &'a Context,
    pub merchants: &'a MerchantIndex,
    pub asker: Option<&'a Person>,
    pub today: NaiveDate,
}

/// Resolves `params` from the question text (read here) and the asker.
pub fn resolve(params: &[Param], question: &str, inp: &ResolveInput) -> Resolved {
    resolve_question(params, &Question::new(question, inp.today), inp, None)
}

/// Resolves `params` from a question already read (periods as of its `today`) and the
/// asker. `planned` is the question's plan when the caller has one (a metric parameter
/// takes the planned query's first metric); otherwise it is planned here when needed.
pub fn resolve_question(
    params: &[Param],
    q: &Question,
    inp: &ResolveInput,
    planned: Option<&Plan>,
) -> Resolved {
    let mut out = Resolved::default();
    let question = q.raw.as_str();
    let lower = &q.tokens;
    for p in params {
        let found: Option<(Value, String)> = match p.kind {
            ParamKind::Text => Some((json!(question), question.to_string())),
            ParamKind::Period => q
                .period
                .clone()
                .or_else(|| {
                    p.default
                        .as_deref()
                        .and_then(|d| find_period(&words(d), inp.today))
                })
                .map(|f| {
                    (
                        json!({"from": f.range.from, "to": f.range.to, "label": f.label}),
                        format!("{} to {}", f.range.from, f.range.to),
                    )
                }),
            ParamKind::Metric => {
                let own;
                let planned = match planned {
                    Some(p) => p,
                    None => {
                        own = planner::plan_question(&inp.engine.layer, inp.vocab, q);
                        &own
                    }
                };
                let from_question = match planned {
                    Plan::Query { query, .. } => query.metrics.first().cloned(),
                    _ => planner::metrics_named_in(&inp.engine.layer, inp.vocab, q)
                        .first()
                        .cloned(),
                };
                from_question
                    .or_else(|| p.default.clone())
                    .and_then(|m| inp.engine.layer.metric(&m))
                    .map(|m| {
                        (
                            json!({"name": m.name, "label": m.label, "unit": m.unit, "description": m.description}),
                            m.name.clone(),
                        )
                    })
            }
            ParamKind::DimensionValue => {
                let dim = p.dimension.as_deref().unwrap_or("");
                inp.engine
                    .layer
                    .all_dimensions()
                    .filter(|(_, d)| d.name == dim)
                    .flat_map(|(_, d)| {
                        d.sample_values.iter().flat_map(move |v| {
                            std::iter::once((v.clone(), v.clone())).chain(
                                d.value_synonyms
                                    .get(v)
                                    .into_iter()
                                    .flatten()
                                    .map(move |s| (s.clone(), v.clone())),
                            )
                        })
                    })
                    .filter(|(phrase, _)| contains_words(lower, &words(phrase)))
                    .max_by_key(|(phrase, _)| phrase.len())
                    .map(|(_, v)| (json!(v), v))
                    .or_else(|| p.default.clone().map(|d| (json!(d), d)))
            }
            ParamKind::Okr => find_okr(lower, inp.context)
                .or_else(|| p.default.clone())
                .and_then(|id| inp.context.okr(&id))
                .map(|o| (okr_value(o, inp), o.id.clone())),
            ParamKind::Team => {
                let named = inp
                    .context
                    .teams
                    .iter()
                    .find(|t| contains_words(lower, &words(&t.name)))
                    .map(|t| t.name.clone());
                named
                    .or_else(|| inp.asker.map(|a| a.team.clone()))
                    .or_else(|| p.default.clone())
                    .and_then(|n| inp.context.team(&n))
                    .map(|t| (serde_json::to_value(t).unwrap_or_default(), t.name.clone()))
            }
            ParamKind::Merchant => inp
                .merchants
                .find_in(inp.engine, lower)
                .and_then(|id| merchant_row(inp.engine, &id))
                .map(|v| {
                    let name = v["name"].as_str().unwrap_or_default().to_string();
                    (v, name)
                }),
        };
        match found {
            Some((v, d)) => {
                out.values.insert(p.name.clone(), v);
                out.display.insert(p.name.clone(), d);
            }
            None if p.required => out.missing.push(p.clone()),
            None => {
                out.values.insert(p.name.clone(), Value::Null);
            }
        }
    }
    out
}

/// An OKR as data for steps and templates: the OKR, its metric's label and unit, the days
/// left and elapsed as of `inp.today`, and its strategies in full.
fn okr_value(o: &crate::context::Okr, inp: &ResolveInput) -> Value {
    let m = inp.engine.layer.metric(&o.metric);
    let mut v = serde_json::to_value(o).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        if let Some(m) = m {
            obj.insert("metric_label".into(), json!(m.label));
            obj.insert("unit".into(), json!(m.unit));
        }
        obj.insert(
            "days_left".into(),
            json!((o.due - inp.today).num_days().max(0)),
        );
        obj.insert(
            "days_elapsed".into(),
            json!((inp.today - o.start).num_days().max(0)),
        );
        let strategies: Vec<_> = o
            .strategies
            .iter()
            .filter_map(|s| inp.context.strategy(s))
            .collect();
        obj.insert("strategy_details".into(), json!(strategies));
    }
    v
}

fn contains_words(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// "OKR #1", "okr 2", "objective 3", "KR1".
fn find_okr(lower: &[String], ctx: &Context) -> Option<String> {
    for (i, w) in lower.iter().enumerate() {
        let rest = w
            .strip_prefix("okr")
            .or_else(|| w.strip_prefix("kr"))
            .or_else(|| w.strip_prefix("objective"));
        match rest {
            Some("") => {
                if let Some(n) = lower.get(i + 1) {
                    if ctx.okr(n).is_some() {
                        return Some(n.clone());
                    }
                }
            }
            Some(n) if ctx.okr(n).is_some() => return Some(n.to_string()),
            _ => {}
        }
    }
    None
}

/// A merchant's row as an object, through the governed warehouse with a bound id.
pub fn merchant_row(engine: &Engine, id: &str) -> Option<Value> {
    merchant_row_as(engine, id, "cortex")
}

/// [`merchant_row`] as `requester` sees it: `None` when their access scope hides the row.
pub fn merchant_row_as(engine: &Engine, id: &str, requester: &str) -> Option<Value> {
    let ctx = AuditContext {
        requester: requester.into(),
        question: format!("merchant profile {id}"),
        query_json: None,
    };
    let r = engine
        .warehouse
        .query_with_params(
            "SELECT * FROM merchants WHERE merchant_id = $id",
            &[("id".to_string(), json!(id))],
            &ctx,
        )
        .ok()?;
    let row = r.rows.first()?;
    Some(Value::Object(
        r.columns
            .iter()
            .zip(row)
            .map(|(c, v)| (c.clone(), serde_json::to_value(v).unwrap_or_default()))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The allocation-free check agrees with the Levenshtein distance on every pair of a
    /// small alphabet's strings up to four letters (and on some non-ASCII ones).
    #[test]
    fn within_one_edit_agrees_with_levenshtein() {
        let mut all = vec![String::new()];
        let mut layer = vec![String::new()];
        for _ in 0..4 {
            layer = layer
                .iter()
                .flat_map(|s| ["a", "b", "é"].map(|c| format!("{s}{c}")))
                .collect();
            all.extend(layer.iter().cloned());
        }
        for a in &all {
            for b in &all {
                assert_eq!(
                    within_one_edit(a, b),
                    levenshtein(a, b) <= 1,
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn the_name_list_indexes_first_words_in_order() {
        let l = NameList::new(vec![
            ("M1".into(), vec!["alpha".into(), "goods".into()]),
            ("M2".into(), vec!["beta".into()]),
            ("M3".into(), vec!["alpha".into(), "shop".into()]),
        ]);
        assert_eq!(
            l.by_first,
            vec![
                ("alpha".to_string(), vec![0, 2]),
                ("beta".to_string(), vec![1])
            ]
        );
        assert_eq!(l.names[2].2, "alpha shop");
    }
}
