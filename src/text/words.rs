//! Words: the tokenizer every reader of a question shares (`words`), the plural-folding
//! `stem`, stopwords and number words. Depends on nothing else in the crate but the
//! calendar's ISO-date check.

use std::collections::BTreeSet;

use super::calendar::is_iso_date;

/// Words that carry no meaning for planning.
pub const STOPWORDS: &[&str] = &[
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
    words_with_commas(text).0
}

/// `words`, plus for each word whether a comma (or semicolon) follows it ("tickets, CSAT").
pub fn words_with_commas(text: &str) -> (Vec<String>, Vec<bool>) {
    let mut out = Vec::new();
    let mut commas: Vec<bool> = Vec::new();
    // "%" is a word of its own ("what % of orders").
    let text = text.replace('%', " % ");
    for token in text.split_whitespace() {
        'token: {
            let raw = token;
            if raw == "%" {
                out.push(raw.to_string());
                break 'token;
            }
            let raw = raw.trim_matches(|c: char| ",.?!;:()\"“”".contains(c));
            if is_iso_date(raw) {
                out.push(raw.to_string());
                break 'token;
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
        commas.resize(out.len(), false);
        let end = token.trim_end_matches(|c: char| ".?!)\"”".contains(c));
        if end.ends_with([',', ';']) {
            if let Some(last) = commas.last_mut() {
                *last = true;
            }
        }
    }
    commas.resize(out.len(), false);
    (out, commas)
}

/// The stemmed content words of a text (no stopwords), for retrieval and routing.
pub fn content_words(text: &str) -> BTreeSet<String> {
    words(text)
        .iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()) && w.len() > 1)
        .map(|w| stem(w))
        .collect()
}

/// True for a word `content_words` keeps: not a stopword, longer than one character.
pub fn is_content(w: &str) -> bool {
    !STOPWORDS.contains(&w) && w.len() > 1
}

/// The words of a name or phrase as the vocabulary stores them: `_` as a space, stemmed.
pub fn phrase(text: &str) -> Vec<String> {
    words(&text.replace('_', " "))
        .iter()
        .map(|w| stem(w))
        .collect()
}

/// Number words up to twelve ("six months"), by value minus one.
const NUMBER_WORDS: [&str; 12] = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve",
];

/// A count written as digits or as a word up to twelve: "6", "six".
pub fn number(tok: &str) -> Option<u32> {
    tok.parse().ok().or_else(|| {
        NUMBER_WORDS
            .iter()
            .position(|w| *w == tok)
            .map(|i| i as u32 + 1)
    })
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
    fn commas_mark_the_word_before_them() {
        let (w, c) = words_with_commas("tickets, CSAT; and ARR.");
        assert_eq!(w, ["tickets", "csat", "and", "arr"]);
        assert_eq!(c, [true, true, false, false]);
    }

    #[test]
    fn stems_fold_plurals() {
        assert_eq!(stem("tickets"), "ticket");
        assert_eq!(stem("countries"), "country");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("sms"), "sms");
    }

    #[test]
    fn content_words_drop_stopwords_and_stem() {
        let c = content_words("What is the ARR of our merchants?");
        assert_eq!(c.into_iter().collect::<Vec<_>>(), ["arr", "merchant"]);
    }

    #[test]
    fn numbers_read_digits_and_words() {
        assert_eq!(number("6"), Some(6));
        assert_eq!(number("six"), Some(6));
        assert_eq!(number("twelve"), Some(12));
        assert_eq!(number("thirteen"), None);
    }
}
