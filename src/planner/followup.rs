//! Follow-ups in a conversation ("and by channel?", "same for last quarter"): the earlier
//! question supplies what the follow-up leaves out. Word-level and deterministic: the
//! combined question goes through the same planner and router as any other, and the answer
//! says how the follow-up was read.

use chrono::NaiveDate;

use super::{plan, Plan, Vocabulary};
use crate::semantic::SemanticLayer;
use crate::text::calendar::find_period;
use crate::text::words;

/// Words that open an elliptical follow-up; they are dropped from the combined question.
const CUES: &[&[&str]] = &[
    &["what", "about"],
    &["how", "about"],
    &["same", "for"],
    &["same", "but"],
    &["same", "thing", "for"],
    &["and", "what", "about"],
    &["and", "how", "about"],
    &["now", "do"],
    &["same"],
    &["and"],
    &["also"],
    &["now"],
    &["but"],
    &["ok"],
    &["then"],
    &["only"],
    &["just"],
];

/// Words that end a "by <dimension>" phrase.
const BY_ENDS: &[&str] = &[
    "for", "in", "over", "during", "since", "from", "and", "with", "last", "this", "next", "per",
    "where", "between", "of", "as", "to",
];

/// The follow-up as a question on its own, or combined with the earlier one when it leaves
/// things out. `None` when the follow-up stands alone.
pub fn combine(
    layer: &SemanticLayer,
    vocab: &Vocabulary,
    earlier: &str,
    follow_up: &str,
    today: NaiveDate,
) -> Option<String> {
    let mut follow = words(follow_up);
    let cue = CUES
        .iter()
        .find(|c| follow.len() >= c.len() && follow[..c.len()].iter().eq(c.iter()));
    let elliptical = match cue {
        Some(c) => {
            follow.drain(..c.len());
            true
        }
        None => {
            follow.len() <= 6 && !matches!(plan(layer, vocab, follow_up, today), Plan::Query { .. })
        }
    };
    if !elliptical || follow.is_empty() {
        return None;
    }
    let prev = words(earlier);
    let mut keep = vec![true; prev.len()];
    // A new period replaces the old one.
    if find_period(&follow, today).is_some() {
        if let Some(p) = find_period(&prev, today) {
            for i in p.used {
                keep[i] = false;
            }
        }
    }
    // A new breakdown replaces the old one.
    if follow.iter().any(|w| w == "by") {
        let mut i = 0;
        while i < prev.len() {
            if prev[i] == "by" && keep[i] {
                keep[i] = false;
                let mut j = i + 1;
                while j < prev.len() && !BY_ENDS.contains(&prev[j].as_str()) && keep[j] {
                    keep[j] = false;
                    j += 1;
                }
                i = j;
            } else {
                i += 1;
            }
        }
    }
    let mut out: Vec<String> = prev
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(w, _)| w)
        .collect();
    out.extend(follow);
    Some(out.join(" "))
}

#[cfg(test)]
mod tests {
    //! `combine` on pairs of questions in one thread, against the project's metrics.yaml:
    //! the combined question it writes, and the `MetricQuery` that question plans to.

    use super::combine;
    use crate::planner::plan_tests::{layer, planned, q, query_of, range, today};
    use crate::planner::{Plan, Vocabulary};
    use crate::semantic::query::{Condition, Grain, Literal, MetricQuery, Op, OrderBy};

    fn combined(earlier: &str, follow_up: &str) -> Option<String> {
        let layer = layer();
        combine(
            &layer,
            &Vocabulary::new(&layer),
            earlier,
            follow_up,
            today(),
        )
    }

    fn values(v: &[&str]) -> Vec<Literal> {
        v.iter().map(|s| Literal::Str(s.to_string())).collect()
    }

    fn mq(
        metrics: &[&str],
        group_by: &[&str],
        grain: Option<Grain>,
        filter: Option<(&str, Op, &[&str])>,
        period: Option<(&str, &str)>,
    ) -> MetricQuery {
        let mut query = q(metrics);
        query.group_by = group_by.iter().map(|d| d.to_string()).collect();
        query.grain = grain;
        query.filters = filter
            .map(|(dimension, op, v)| Condition {
                dimension: dimension.into(),
                op,
                values: values(v),
            })
            .into_iter()
            .collect();
        query.time_range = period.and_then(|(from, to)| range(from, to));
        query
    }

    const LAST_MONTH: Option<(&str, &str)> = Some(("2026-10-01", "2026-10-31"));

    /// Elliptical follow-ups take what they leave out from the earlier question: the
    /// combined text, and the query it plans to.
    #[test]
    fn follow_ups_combine_with_the_earlier_question() {
        let cases: Vec<(&str, &str, &str, MetricQuery)> = vec![
            // A new breakdown replaces the old one; the period stays.
            (
                "How many tickets did we get last month by channel?",
                "and by segment?",
                "how many tickets did we get last month by segment",
                mq(&["tickets"], &["segment"], None, None, LAST_MONTH),
            ),
            (
                "ARR by segment",
                "by vertical",
                "arr by vertical",
                mq(&["arr"], &["vertical"], None, None, None),
            ),
            // A new period replaces the old one; the breakdown stays.
            (
                "tickets by channel last month",
                "what about last quarter?",
                "tickets by channel last quarter",
                mq(
                    &["tickets"],
                    &["channel"],
                    None,
                    None,
                    Some(("2026-07-01", "2026-09-30")),
                ),
            ),
            (
                "tickets by channel last month",
                "same for 2025",
                "tickets by channel 2025",
                mq(
                    &["tickets"],
                    &["channel"],
                    None,
                    None,
                    Some(("2025-01-01", "2025-12-31")),
                ),
            ),
            (
                "net new ARR by month in 2025",
                "and 2024?",
                "net new arr by month in 2024",
                mq(
                    &["net_new_arr"],
                    &[],
                    Some(Grain::Month),
                    None,
                    Some(("2024-01-01", "2024-12-31")),
                ),
            ),
            (
                "CSAT by channel last month",
                "and this month?",
                "csat by channel this month",
                mq(
                    &["csat"],
                    &["channel"],
                    None,
                    None,
                    Some(("2026-11-01", "2026-11-20")),
                ),
            ),
            (
                "tickets by channel last month",
                "yesterday",
                "tickets by channel yesterday",
                mq(
                    &["tickets"],
                    &["channel"],
                    None,
                    None,
                    Some(("2026-11-19", "2026-11-19")),
                ),
            ),
            // A grain without a cue word: "by week" alone is no question.
            (
                "tickets last month",
                "by week",
                "tickets last month by week",
                mq(&["tickets"], &[], Some(Grain::Week), None, LAST_MONTH),
            ),
            // A grain and a period together replace the breakdown and add the period.
            (
                "ARR by segment",
                "also by month this year",
                "arr by month this year",
                mq(
                    &["arr"],
                    &[],
                    Some(Grain::Month),
                    None,
                    Some(("2026-01-01", "2026-11-20")),
                ),
            ),
            // A value narrows the earlier question.
            (
                "ARR by segment",
                "same for Germany",
                "arr by segment germany",
                mq(
                    &["arr"],
                    &["segment"],
                    None,
                    Some(("country", Op::Eq, &["Germany"])),
                    None,
                ),
            ),
            (
                "ARR by segment",
                "in the UK",
                "arr by segment in the uk",
                mq(
                    &["arr"],
                    &["segment"],
                    None,
                    Some(("country", Op::Eq, &["United Kingdom"])),
                    None,
                ),
            ),
            (
                "tickets by channel",
                "only email",
                "tickets by channel email",
                mq(
                    &["tickets"],
                    &["channel"],
                    None,
                    Some(("channel", Op::Eq, &["email"])),
                    None,
                ),
            ),
            // A second value of the same dimension adds to the first, split by it.
            (
                "CSAT for Enterprise merchants this year",
                "and SMB?",
                "csat for enterprise merchants this year smb",
                mq(
                    &["csat"],
                    &["segment"],
                    None,
                    Some(("segment", Op::In, &["Enterprise", "SMB"])),
                    Some(("2026-01-01", "2026-11-20")),
                ),
            ),
            (
                "tickets in apparel last month",
                "what about beauty",
                "tickets in apparel last month beauty",
                mq(
                    &["tickets"],
                    &["vertical"],
                    None,
                    Some((
                        "vertical",
                        Op::In,
                        &["Apparel & Accessories", "Health & Beauty"],
                    )),
                    LAST_MONTH,
                ),
            ),
            // Another metric over the same breakdown and period: the earlier metric word
            // becomes an attribute ("tickets' attributes filter"), the new metric is asked.
            (
                "tickets by channel last month",
                "now do CSAT",
                "tickets by channel last month csat",
                mq(&["csat"], &["channel"], None, None, LAST_MONTH),
            ),
        ];
        let layer = layer();
        let mut wrong = Vec::new();
        for (earlier, follow_up, text, expected) in &cases {
            match combined(earlier, follow_up) {
                Some(c) if c == *text => {
                    let got = query_of(&layer, &c);
                    if got != *expected {
                        wrong.push(format!(
                            "{earlier:?} + {follow_up:?} = {c:?}\n  expected {expected:?}\n  got      {got:?}"
                        ));
                    }
                }
                other => wrong.push(format!(
                    "{earlier:?} + {follow_up:?}: expected {text:?}, got {other:?}"
                )),
            }
        }
        assert!(
            wrong.is_empty(),
            "{} wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    /// A ranking cue alone ranks the earlier breakdown.
    #[test]
    fn a_ranking_follow_up_ranks_the_earlier_breakdown() {
        let c = combined("tickets by channel", "top 3").expect("combined");
        assert_eq!(c, "tickets by channel top 3");
        let mut expected = mq(&["tickets"], &["channel"], None, None, None);
        expected.order = vec![OrderBy {
            field: "tickets".into(),
            desc: true,
        }];
        expected.limit = Some(3);
        assert_eq!(query_of(&layer(), &c), expected);
    }

    /// A new question that stands on its own is not combined, even in the same thread and
    /// even when it shares a word with the earlier one.
    #[test]
    fn a_new_unrelated_question_is_not_combined() {
        for (earlier, follow_up) in [
            (
                "tickets by channel last month",
                "How many merchants are in the UK?",
            ),
            ("ARR by segment", "what's the CSAT by channel last month?"),
            ("ARR by segment", "Which merchants churned in October?"),
            (
                "tickets by channel last month",
                "automation rate by channel last month",
            ),
            ("ARR by segment", "net new ARR by month in 2025"),
            ("tickets by channel", "tickets excluding email"),
        ] {
            assert_eq!(
                combined(earlier, follow_up),
                None,
                "{earlier:?} + {follow_up:?}"
            );
            // ... and it plans on its own.
            assert!(
                matches!(planned(&layer(), follow_up), Plan::Query { .. }),
                "{follow_up:?}"
            );
        }
    }

    /// An unrelated short question is combined (it is not a query on its own), but the
    /// result is not answered with the earlier metric: the unknown word is asked about.
    #[test]
    fn an_unanswerable_short_question_is_asked_about_not_answered() {
        let c = combined("ARR by segment", "headcount by department").expect("combined");
        assert_eq!(c, "arr headcount by department");
        match planned(&layer(), &c) {
            Plan::Clarify { question, .. } => {
                assert!(question.contains("headcount"), "{question}")
            }
            other => panic!("{c:?}: expected a clarification, got {other:?}"),
        }
    }

    /// A follow-up with nothing but a cue word adds nothing: no combination.
    #[test]
    fn a_bare_cue_is_not_a_follow_up() {
        for cue in ["and", "what about", "same", "ok"] {
            assert_eq!(combined("ARR by segment", cue), None, "{cue:?}");
        }
    }
}
