//! Text shared by every reader of a question: the tokenizer and stems ([`words`]), the
//! calendar ([`calendar`]: grains, periods, time expressions), the parsed [`Question`] that
//! is read once per ask and passed down, and the case helpers names are shown with.
//! Depends on nothing else in the crate.

pub mod calendar;
pub mod question;
pub mod words;

pub use question::Question;
pub use words::{content_words, stem, words, words_with_commas};

/// `chat` -> `Chat`: the first letter in upper case.
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// `opportunity_product` -> `Opportunity product`: a name as a heading.
pub fn title_case(name: &str) -> String {
    capitalize(&name.replace('_', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_helpers_capitalize_and_space_names() {
        assert_eq!(capitalize("chat"), "Chat");
        assert_eq!(capitalize("éclair"), "Éclair");
        assert_eq!(capitalize(""), "");
        assert_eq!(title_case("opportunity_product"), "Opportunity product");
    }
}
