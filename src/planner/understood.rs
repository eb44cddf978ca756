//! How the planner read each phrase of a question: the `understood` list every answer
//! carries, and the generic English it may treat as filler.

use serde::{Deserialize, Serialize};

/// What a phrase of the question was used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Metric,
    Dimension,
    Value,
    Time,
    Grain,
    Ranking,
    Comparison,
    Filler,
}

impl Role {
    /// The lowercase name, as in the JSON answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Metric => "metric",
            Role::Dimension => "dimension",
            Role::Value => "value",
            Role::Time => "time",
            Role::Grain => "grain",
            Role::Ranking => "ranking",
            Role::Comparison => "comparison",
            Role::Filler => "filler",
        }
    }
}

/// One phrase of the question and what it became.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Understood {
    /// The words as asked (lowercased).
    pub phrase: String,
    pub role: Role,
    /// The governed name or reading it maps to ("channel", "2026-10-01 to 2026-10-31").
    #[serde(rename = "as", default)]
    pub as_: String,
}

/// The one-line "Read as: ..." summary of the content phrases (filler left out).
pub fn read_as(items: &[Understood]) -> Option<String> {
    let parts: Vec<String> = items
        .iter()
        .filter(|u| u.role != Role::Filler)
        .map(|u| {
            if u.as_.is_empty() || u.as_.eq_ignore_ascii_case(&u.phrase) {
                format!("\"{}\" ({})", u.phrase, u.role.as_str())
            } else {
                format!("\"{}\" = {} ({})", u.phrase, u.as_, u.role.as_str())
            }
        })
        .collect();
    (!parts.is_empty()).then(|| format!("Read as: {}.", parts.join("; ")))
}

/// Generic English a question may contain without it meaning anything to the planner.
/// Never domain nouns: those must match metrics.yaml or the question is refused.
pub const FILLER: &[&str] = &[
    "a", "an", "the", "what", "whats", "what's", "is", "are", "was", "were", "our", "we", "us",
    "my", "me", "i", "how", "many", "much", "did", "do", "does", "done", "have", "has", "had",
    "get", "got", "gets", "getting", "give", "show", "tell", "list", "of", "for", "in", "on",
    "at", "to", "and", "or", "with", "from", "by", "per", "each", "every", "across", "please",
    "can", "you", "could", "would", "should", "be", "it", "its", "this", "that", "these",
    "those", "there", "their", "them", "they", "all", "total", "overall", "current",
    "currently", "now", "so", "far", "which", "who", "whom", "whose", "where", "when", "as",
    "into", "than", "about", "look", "looks", "looked", "like", "looking", "doing", "going",
    "see", "seeing", "been", "being", "will", "any", "some", "right", "number", "numbers",
    "count", "amount", "figure", "figures", "stats", "statistics", "metric", "metrics",
    "level", "levels", "value", "values", "report", "summary", "breakdown", "broken", "split",
    "out", "up", "down", "during", "since", "past", "end", "date", "closing", "close", "due",
    "expected", "kpi", "kpis", "data", "hi", "hey", "thanks", "thank", "quick", "question",
    "know", "want", "need", "wanted", "needed", "like", "curious", "wondering", "check",
    "find", "pull", "run", "compute", "calculate", "come", "comes", "came", "coming", "via",
    "through", "under", "within", "among", "via", "make", "made", "making", "take", "took",
    "happen", "happened", "happening", "handle", "see", "saw", "seen", "just", "only",
    "also", "too", "very", "really", "roughly", "approximately", "about", "exactly", "same",
    "again", "still", "yet", "already", "ever", "overall", "whole", "entire", "versus",
    "vs", "against", "compare", "compared", "comparison", "comparing", "between", "here",
    "then", "if", "not", "no", "yes", "one", "ones", "thing", "things", "stuff", "lot",
    "lots", "bit", "kind", "sort", "type", "types", "term", "terms", "mean", "means",
    "average", "avg", "median", "typical", "typically", "usually", "generally", "got",
    "having", "gotten", "say", "said", "tell", "told", "shown", "showing", "table",
    "chart", "graph", "view", "dashboard", "latest", "recent", "recently", "far", "yet",
    "today's", "todays", "s", "t", "don't", "dont", "it's", "we've", "weve", "let", "lets",
    "let's", "receive", "received", "receiving", "generate", "generated", "bring",
    "brought", "stand", "stands", "standing", "sitting", "sit", "been", "tracking",
    "track", "trending", "over", "time", "most", "least", "more", "less", "fewer", "highest",
    "lowest", "largest", "smallest", "biggest", "best", "worst", "top", "bottom", "why",
];

/// True for a word the planner may leave unexplained.
pub fn is_filler(word: &str, project: &[String]) -> bool {
    FILLER.contains(&word) || project.iter().any(|p| p.eq_ignore_ascii_case(word))
}
