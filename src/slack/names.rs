//! File names for what the bot uploads: named from the answer, so a downloads folder reads
//! `merchant-brief-blue-fox-goods-2026-11-20.pdf` and `arr-by-segment-2026-11-20.csv`, not
//! `cortex-report.pdf`. The slug itself is [`crate::format::slug`].

use chrono::NaiveDate;

use crate::answer::Answer;
use crate::format::slug;

/// The longest slug kept, in characters (ASCII), before the date.
pub const MAX_SLUG: usize = 60;

/// The file name for an upload: the slug of `title`, the date, the extension. Falls back
/// to `cortex-answer` when the title has nothing to slug.
pub fn file_name(title: &str, date: NaiveDate, ext: &str) -> String {
    let s = slug(title, MAX_SLUG);
    let stem = if s.is_empty() { "cortex-answer" } else { &s };
    format!("{stem}-{}.{ext}", date.format("%Y-%m-%d"))
}

/// The answer's own file name with another extension: its CSV is named like its PDF
/// (`render::pdf::file_name`), so the two sort together.
pub fn answer_file_name(a: &Answer, ext: &str) -> String {
    let pdf = crate::render::pdf::file_name(a);
    let stem = pdf.strip_suffix(".pdf").unwrap_or(&pdf);
    format!("{stem}.{ext}")
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
        let s = |t: &str| slug(t, MAX_SLUG);
        assert_eq!(s("What's our ARR by segment?"), "whats-our-arr-by-segment");
        assert_eq!(
            s("  Tickets -- per   day (Q3/2026)!! "),
            "tickets-per-day-q3-2026"
        );
        assert_eq!(s("Sales & Marketing"), "sales-and-marketing");
        assert_eq!(s("net_revenue.by-plan"), "net-revenue-by-plan");
    }

    #[test]
    fn unicode_is_folded_to_ascii_or_dropped() {
        let s = |t: &str| slug(t, MAX_SLUG);
        assert_eq!(s("Café Zürich Straße"), "cafe-zurich-strasse");
        assert_eq!(s("ÉCOLE Ørsted Łódź"), "ecole-orsted-lodz");
        assert_eq!(s("收入 by 地区 📈"), "by");
        assert!(s("收入 📈").is_empty());
        assert_eq!(
            file_name("收入 📈", day(), "png"),
            "cortex-answer-2026-11-20.png"
        );
        let u = s("Ünïcödé – “quoted” — dash");
        assert!(u.is_ascii(), "{u}");
        assert_eq!(u, "unicode-quoted-dash");
    }

    #[test]
    fn long_titles_are_cut_at_a_word_boundary() {
        let title = "How did net revenue retention develop for enterprise merchants in the \
                     European region over the last eight quarters compared with the plan";
        let s = slug(title, MAX_SLUG);
        assert!(s.len() <= MAX_SLUG, "{} chars: {s}", s.len());
        assert_eq!(s, "how-did-net-revenue-retention-develop-for-enterprise");
        assert!(!s.ends_with('-'));
        // One enormous word is cut inside the word.
        assert_eq!(slug(&"a".repeat(200), MAX_SLUG).len(), MAX_SLUG);
        let name = file_name(title, day(), "pdf");
        assert!(name.ends_with("-2026-11-20.pdf") && name.len() <= MAX_SLUG + 15);
    }
}
