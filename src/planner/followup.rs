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
