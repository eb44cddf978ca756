//! File names for what the bot uploads: named from the answer, so a downloads folder reads
//! `merchant-brief-blue-fox-goods-2026-11-20.pdf`, not `cortex-report.pdf`.

use chrono::NaiveDate;

/// The longest slug kept, in characters (ASCII), before the date.
pub const MAX_SLUG: usize = 60;

/// `text` as a file-name slug: lower-case ASCII letters and digits joined by single hyphens,
/// at most [`MAX_SLUG`] characters, cut at a word boundary when it can be. Accented Latin
/// letters lose their accents (`é` → `e`, `ß` → `ss`); apostrophes join (`what's` →
/// `whats`); `&` reads `and`; anything else that is not a letter or digit separates words.
/// Empty when nothing is left.
pub fn slug(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    fn flush(word: &mut String, words: &mut Vec<String>) {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    }
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if matches!(c, '\'' | '’' | '‘') {
            // Part of the word: "what's" is one word.
        } else if c == '&' {
            flush(&mut word, &mut words);
            words.push("and".to_string());
        } else if let Some(ascii) = fold(c) {
            word.push_str(ascii);
        } else {
            flush(&mut word, &mut words);
        }
    }
    flush(&mut word, &mut words);
    let mut out = String::new();
    for w in words {
        let extra = usize::from(!out.is_empty()) + w.len();
        if out.len() + extra > MAX_SLUG {
            if out.is_empty() {
                // One word longer than the limit: cut the word itself.
                out = w[..MAX_SLUG].to_string();
            }
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&w);
    }
    out
}

/// The file name for an upload: the slug of `title`, the answer's date, the extension.
/// Falls back to `cortex-answer` when the title has nothing to slug.
pub fn file_name(title: &str, date: NaiveDate, ext: &str) -> String {
    let s = slug(title);
    let stem = if s.is_empty() { "cortex-answer" } else { &s };
    format!("{stem}-{}.{ext}", date.format("%Y-%m-%d"))
}

/// ASCII for a common accented Latin letter (lower case), if it is one.
fn fold(c: char) -> Option<&'static str> {
    let lower = c.to_lowercase().next().unwrap_or(c);
    Some(match lower {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ț' | 'ţ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date")
    }

    #[test]
    fn titles_become_dated_file_names() {
        assert_eq!(
            file_name("Merchant Brief: Blue Fox Goods", day(), "pdf"),
            "merchant-brief-blue-fox-goods-2026-11-20.pdf"
        );
        assert_eq!(
            file_name("ARR by segment", day(), "csv"),
            "arr-by-segment-2026-11-20.csv"
        );
    }

    #[test]
    fn punctuation_separates_and_apostrophes_join() {
        assert_eq!(
            slug("What's our ARR by segment?"),
            "whats-our-arr-by-segment"
        );
        assert_eq!(
            slug("  Tickets -- per   day (Q3/2026)!! "),
            "tickets-per-day-q3-2026"
        );
        assert_eq!(slug("Sales & Marketing"), "sales-and-marketing");
        assert_eq!(slug("net_revenue.by-plan"), "net-revenue-by-plan");
    }

    #[test]
    fn unicode_is_folded_to_ascii_or_dropped() {
        assert_eq!(slug("Café Zürich Straße"), "cafe-zurich-strasse");
        assert_eq!(slug("ÉCOLE Ørsted Łódź"), "ecole-orsted-lodz");
        assert_eq!(slug("收入 by 地区 📈"), "by");
        assert!(slug("收入 📈").is_empty());
        assert_eq!(
            file_name("收入 📈", day(), "png"),
            "cortex-answer-2026-11-20.png"
        );
        let s = slug("Ünïcödé – “quoted” — dash");
        assert!(s.is_ascii(), "{s}");
        assert_eq!(s, "unicode-quoted-dash");
    }

    #[test]
    fn long_titles_are_cut_at_a_word_boundary() {
        let title = "How did net revenue retention develop for enterprise merchants in the \
                     European region over the last eight quarters compared with the plan";
        let s = slug(title);
        assert!(s.len() <= MAX_SLUG, "{} chars: {s}", s.len());
        assert_eq!(s, "how-did-net-revenue-retention-develop-for-enterprise");
        assert!(!s.ends_with('-'));
        // One enormous word is cut inside the word.
        let word = "a".repeat(200);
        assert_eq!(slug(&word).len(), MAX_SLUG);
        let name = file_name(title, day(), "pdf");
        assert!(name.ends_with("-2026-11-20.pdf") && name.len() <= MAX_SLUG + 15);
    }
}
