//! A question read once: its words, stems, content words and the first period it names,
//! built once per ask and passed down (router -> parameters -> context -> planner) so no
//! stage tokenizes the text again.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::calendar::{find_period, FoundPeriod};
use super::words::{is_content, stem, words_with_commas};

/// A parsed question.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The text as asked.
    pub raw: String,
    /// Lowercase words (see [`super::words`]); ISO dates stay whole.
    pub tokens: Vec<String>,
    /// For each token, whether a comma or semicolon follows it.
    pub commas: Vec<bool>,
    /// [`stem`] of each token.
    pub stems: Vec<String>,
    /// The stemmed content words (no stopwords), for routing and context retrieval.
    pub content: BTreeSet<String>,
    /// The date relative periods were read against.
    pub today: NaiveDate,
    /// The first time expression in the question, if any.
    pub period: Option<FoundPeriod>,
}

impl Question {
    /// Reads `raw` once: tokens, stems, content words and the first period as of `today`.
    pub fn new(raw: &str, today: NaiveDate) -> Question {
        let (tokens, commas) = words_with_commas(raw);
        let stems: Vec<String> = tokens.iter().map(|w| stem(w)).collect();
        let content = tokens
            .iter()
            .zip(&stems)
            .filter(|(w, _)| is_content(w))
            .map(|(_, s)| s.clone())
            .collect();
        let period = find_period(&tokens, today);
        Question {
            raw: raw.to_string(),
            tokens,
            commas,
            stems,
            content,
            today,
            period,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{content_words, words};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).expect("a valid date")
    }

    /// Each field is what the separate passes it replaces compute.
    #[test]
    fn one_parse_equals_the_separate_passes() {
        for q in [
            "What's our ARR by segment, last quarter?",
            "tickets for Blue Fox Goods in October vs September",
            "What % of orders were AI-influenced last month?",
            "",
        ] {
            let p = Question::new(q, today());
            assert_eq!(p.raw, q);
            assert_eq!(p.tokens, words(q), "{q}");
            assert_eq!(p.commas, words_with_commas(q).1, "{q}");
            let stems: Vec<String> = words(q).iter().map(|w| stem(w)).collect();
            assert_eq!(p.stems, stems, "{q}");
            assert_eq!(p.content, content_words(q), "{q}");
            assert_eq!(p.period, find_period(&words(q), today()), "{q}");
        }
    }

    #[test]
    fn the_period_is_read_against_today() {
        let p = Question::new("tickets last month", today());
        let found = p.period.expect("a period");
        assert_eq!(found.range.from.to_string(), "2026-10-01");
        assert_eq!(found.range.to.to_string(), "2026-10-31");
        assert_eq!(found.used, vec![1, 2]);
    }
}
