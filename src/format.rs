//! How numbers, dates and names read to people, on every surface (Slack, web, PDF, text,
//! charts). One module, so "$145.6M" in a Slack headline is "$145.6M" in the PDF too.
//!
//! Two registers:
//! - **compact** ([`figure`]) for tiles, headlines and sentences: `$145.6M`, `32.7K`, `23.1%`,
//!   `18 s`, `1.2 h`;
//! - **exact** ([`cell`]) for tables: `$156,180,066`, `32,704`, `23.1%`, `59.6 min`.
//!
//! Durations are shown in the unit that reads best for the value (s, min or h), so "0.3 min"
//! beside "59.57 min" cannot happen. Names are never shown in snake_case ([`humanize`]).

use chrono::{Datelike, NaiveDate};
use handlebars::{handlebars_helper, Handlebars};

use crate::semantic::{ColumnRole, Grain, Unit};
use crate::warehouse::Value;

/// A number in its unit, compact: `$145.6M`, `$245K`, `1.2M`, `23.1%`, `4.21`, `18 s`.
pub fn figure(f: f64, unit: Unit) -> String {
    if !f.is_finite() {
        return "–".into();
    }
    match unit {
        Unit::Usd => {
            let sign = if f < 0.0 { "-" } else { "" };
            let a = f.abs();
            if a >= 1000.0 {
                format!("{sign}${}", scaled(a))
            } else if a.fract().abs() < 1e-9 {
                format!("{sign}${a:.0}")
            } else {
                format!("{sign}${a:.2}")
            }
        }
        Unit::Count => {
            if f.abs() >= 1e6 {
                scaled(f)
            } else {
                exact_plain(f)
            }
        }
        Unit::Ratio => percent(f * 100.0),
        Unit::Percent => percent(f),
        Unit::Score => format!("{f:.2}"),
        Unit::Seconds | Unit::Minutes | Unit::Hours => duration(to_seconds(f, unit)),
        Unit::Days => format!("{} d", one_decimal(f)),
    }
}

/// A number in its unit, exact as tables show it: `$156,180,066`, `$12.50`, `32,704`,
/// `23.1%`, `59.6 min`.
pub fn exact(f: f64, unit: Unit) -> String {
    if !f.is_finite() {
        return "–".into();
    }
    match unit {
        Unit::Usd => {
            let sign = if f < 0.0 { "-" } else { "" };
            let a = f.abs();
            if a >= 1000.0 || a.fract().abs() < 1e-9 {
                format!("{sign}${}", group_thousands(&format!("{a:.0}")))
            } else {
                format!("{sign}${a:.2}")
            }
        }
        Unit::Count => exact_plain(f),
        Unit::Ratio => percent(f * 100.0),
        Unit::Percent => percent(f),
        Unit::Score => format!("{f:.2}"),
        Unit::Seconds => format!("{} s", one_decimal(f)),
        Unit::Minutes => format!("{} min", one_decimal(f)),
        Unit::Hours => format!("{} h", one_decimal(f)),
        Unit::Days => format!("{} d", one_decimal(f)),
    }
}

fn to_seconds(f: f64, unit: Unit) -> f64 {
    match unit {
        Unit::Minutes => f * 60.0,
        Unit::Hours => f * 3600.0,
        _ => f,
    }
}

/// A duration in seconds, in the unit that reads best: `45 s`, `12.3 min`, `2.1 h`.
pub fn duration(seconds: f64) -> String {
    let a = seconds.abs();
    if a < 90.0 {
        format!("{:.0} s", seconds)
    } else if a < 90.0 * 60.0 {
        format!("{} min", one_decimal(seconds / 60.0))
    } else {
        format!("{} h", one_decimal(seconds / 3600.0))
    }
}

fn one_decimal(f: f64) -> String {
    group_thousands(&format!("{f:.1}"))
}

fn percent(p: f64) -> String {
    format!("{p:.1}%")
}

/// `145_600_000` -> `145.6M`, `245_000` -> `245K`, `2_450` -> `2.5K`.
fn scaled(x: f64) -> String {
    let a = x.abs();
    let (d, s) = if a >= 1e9 {
        (1e9, "B")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "K")
    } else {
        return exact_plain(x);
    };
    let n = x / d;
    let t = if s == "K" && n.abs() >= 100.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    };
    format!("{}{s}", t.strip_suffix(".0").unwrap_or(&t))
}

/// Short numbers for chart axes: `$1.2M`, `340K`, `23%`.
pub fn axis(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Usd => {
            if v < 0.0 {
                format!("-${}", scaled(-v))
            } else if v.abs() < 1000.0 {
                format!("${v:.0}")
            } else {
                format!("${}", scaled(v))
            }
        }
        Unit::Ratio => format!("{:.0}%", v * 100.0),
        Unit::Percent => format!("{v:.0}%"),
        Unit::Count => scaled(v),
        Unit::Score => format!("{v:.1}"),
        other => exact(v, other),
    }
}

/// A plain number: integers grouped (`32,704`), fractions to 2 decimals.
fn exact_plain(f: f64) -> String {
    if (f.fract().abs() < 1e-9 || f.abs() >= 100.0) && f.abs() < 1e15 {
        group_thousands(&format!("{f:.0}"))
    } else {
        format!("{f:.2}")
    }
}

/// A number with no unit, for sentences: `1,204`, `4.21`.
pub fn plain(f: f64) -> String {
    if !f.is_finite() {
        return "–".into();
    }
    exact_plain(f)
}

/// A date as people read it: `Jan 15, 2026`.
pub fn date(d: NaiveDate) -> String {
    d.format("%b %-d, %Y").to_string()
}

/// A time bucket by its grain: `2026`, `Q1 2026`, `Jan 2026`, `Week of Jan 5, 2026`,
/// `Jan 5, 2026`.
pub fn period(d: NaiveDate, grain: Grain) -> String {
    match grain {
        Grain::Year => d.format("%Y").to_string(),
        Grain::Quarter => format!("Q{} {}", (d.month() - 1) / 3 + 1, d.year()),
        Grain::Month => d.format("%b %Y").to_string(),
        Grain::Week => format!("Week of {}", date(d)),
        Grain::Day => date(d),
    }
}

/// A time bucket for a chart axis (shorter; the year shown at least once per year).
pub fn axis_period(d: NaiveDate, grain: Grain) -> String {
    match grain {
        Grain::Year => d.format("%Y").to_string(),
        Grain::Quarter => format!("Q{} {}", (d.month() - 1) / 3 + 1, d.format("%y")),
        Grain::Month => d.format("%b %y").to_string(),
        Grain::Week | Grain::Day => d.format("%b %-d %y").to_string(),
    }
}

/// One cell for a table: identifiers as stored, metrics exact in their unit, time buckets by
/// their grain, dates as dates.
pub fn cell(v: &Value, role: Option<&ColumnRole>) -> String {
    match (role, v) {
        (_, Value::Null) => "–".into(),
        (Some(ColumnRole::Identifier), Value::Int(i)) => i.to_string(),
        (Some(ColumnRole::Identifier), Value::Float(f)) => format!("{f}"),
        (Some(ColumnRole::Metric { unit }), _) => match v.as_f64() {
            Some(f) => exact(f, *unit),
            None => value(v),
        },
        (Some(ColumnRole::Time { grain }), Value::Date(d)) => period(*d, *grain),
        _ => value(v),
    }
}

/// A value with no known role: numbers grouped, dates as dates, `true` as "yes".
pub fn value(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Int(i) => group_thousands(&i.to_string()),
        Value::Float(f) => plain(*f),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Text(s) => s.clone(),
        Value::Date(d) => date(*d),
        Value::Timestamp(t) => t.format("%b %-d, %Y %H:%M").to_string(),
    }
}

pub use crate::text::capitalize;

/// `opportunity_product` -> `Opportunity product`: a name as people read it.
pub fn humanize(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let words: Vec<String> = spaced
        .split_whitespace()
        .map(|w| match w {
            "id" => "ID".to_string(),
            "arr" => "ARR".to_string(),
            "gmv" => "GMV".to_string(),
            "csat" => "CSAT".to_string(),
            "okr" => "OKR".to_string(),
            "ai" => "AI".to_string(),
            "csm" => "CSM".to_string(),
            "mrr" => "MRR".to_string(),
            other => other.to_string(),
        })
        .collect();
    capitalize(&words.join(" "))
}

/// Inserts commas into the integer part of a decimal string.
pub fn group_thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(a, b)| (a, Some(b)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// A URL- and file-name-safe slug: `Merchant brief: Blue Fox Goods` -> `merchant-brief-blue-fox-goods`.
/// Lower-case ASCII letters and digits joined by single hyphens, at most `max` characters,
/// cut at a word boundary when it can be. Accented Latin letters lose their accents (`é` ->
/// `e`, `ß` -> `ss`); apostrophes join (`what's` -> `whats`); `&` reads `and`; anything else
/// separates words. Empty when nothing is left.
pub fn slug(s: &str, max: usize) -> String {
    fn flush(word: &mut String, words: &mut Vec<String>) {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    }
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if matches!(c, '\'' | '\u{2019}' | '\u{2018}') {
            // Part of the word: "what's" is one word.
        } else if c == '&' {
            flush(&mut word, &mut words);
            words.push("and".to_string());
        } else if let Some(ascii) = fold_latin(c) {
            word.push_str(ascii);
        } else {
            flush(&mut word, &mut words);
        }
    }
    flush(&mut word, &mut words);
    let mut out = String::new();
    for w in words {
        let extra = usize::from(!out.is_empty()) + w.len();
        if out.len() + extra > max {
            if out.is_empty() {
                // One word longer than the limit: cut the word itself (ASCII, so any index
                // is a char boundary).
                out = w[..max.min(w.len())].to_string();
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

/// ASCII for a common accented Latin letter, if it is one.
fn fold_latin(c: char) -> Option<&'static str> {
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

handlebars_helper!(hb_money: |v: Json| v.as_f64().map_or("–".to_string(), |f| figure(f, Unit::Usd)));
handlebars_helper!(hb_pct: |v: Json| v.as_f64().map_or("–".to_string(), |f| figure(f, Unit::Ratio)));
handlebars_helper!(hb_num: |v: Json| v.as_f64().map_or_else(|| v.as_str().unwrap_or("–").to_string(), plain));
handlebars_helper!(hb_fmt: |v: Json, unit: Json| {
    let u: Option<Unit> = serde_json::from_value(unit.clone()).ok();
    match (v.as_f64(), u) {
        (Some(f), Some(u)) => figure(f, u),
        (Some(f), None) => plain(f),
        _ => v.as_str().unwrap_or("–").to_string(),
    }
});
handlebars_helper!(hb_signed: |v: Json| v.as_f64().map_or("–".to_string(), |f| format!("{}{}", if f >= 0.0 { "+" } else { "-" }, figure(f.abs(), Unit::Usd))));
handlebars_helper!(hb_date: |v: Json| match v.as_str().and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()) {
    Some(d) => date(d),
    None => v.as_str().unwrap_or("–").to_string(),
});
handlebars_helper!(hb_plural: |n: Json, word: str| {
    let n = n.as_f64().unwrap_or(0.0);
    format!("{} {word}{}", plain(n), if n == 1.0 { "" } else { "s" })
});
handlebars_helper!(hb_round: |v: Json| v.as_f64().map_or("–".to_string(), |f| plain(f.round())));
handlebars_helper!(hb_humanize: |v: Json| humanize(v.as_str().unwrap_or_default()));

/// The formatting helpers every template can use: `money`, `pct`, `num`, `fmt` (a value and
/// a unit), `signed`, `date`, `humanize`, `plural` (`{{plural n 'deal'}}`: "1 deal", "3 deals"), `round` (a whole number).
pub fn register_helpers(hb: &mut Handlebars<'_>) {
    hb.register_helper("money", Box::new(hb_money));
    hb.register_helper("pct", Box::new(hb_pct));
    hb.register_helper("num", Box::new(hb_num));
    hb.register_helper("fmt", Box::new(hb_fmt));
    hb.register_helper("signed", Box::new(hb_signed));
    hb.register_helper("date", Box::new(hb_date));
    hb.register_helper("humanize", Box::new(hb_humanize));
    hb.register_helper("plural", Box::new(hb_plural));
    hb.register_helper("round", Box::new(hb_round));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_figures_read_like_a_person_wrote_them() {
        assert_eq!(figure(156_180_066.0, Unit::Usd), "$156.2M");
        assert_eq!(figure(145_612_000.0, Unit::Usd), "$145.6M");
        assert_eq!(figure(2_000_000.0, Unit::Usd), "$2M");
        assert_eq!(figure(14_561_200.0, Unit::Usd), "$14.6M");
        assert_eq!(figure(245_000.0, Unit::Usd), "$245K");
        assert_eq!(figure(2_450.0, Unit::Usd), "$2.5K");
        assert_eq!(figure(12.5, Unit::Usd), "$12.50");
        assert_eq!(figure(-92_400.0, Unit::Usd), "-$92.4K");
        assert_eq!(figure(32_704.0, Unit::Count), "32,704");
        assert_eq!(figure(1_260_000.0, Unit::Count), "1.3M");
        assert_eq!(figure(0.2314, Unit::Ratio), "23.1%");
        assert_eq!(figure(4.236, Unit::Score), "4.24");
    }

    #[test]
    fn durations_pick_the_unit_that_reads_best() {
        assert_eq!(figure(0.3, Unit::Minutes), "18 s");
        assert_eq!(figure(59.57, Unit::Minutes), "59.6 min");
        assert_eq!(figure(150.0, Unit::Minutes), "2.5 h");
        assert_eq!(figure(45.0, Unit::Seconds), "45 s");
        assert_eq!(figure(600.0, Unit::Seconds), "10.0 min");
    }

    #[test]
    fn tables_are_exact() {
        assert_eq!(exact(156_180_066.4, Unit::Usd), "$156,180,066");
        assert_eq!(exact(12.5, Unit::Usd), "$12.50");
        assert_eq!(exact(59.57, Unit::Minutes), "59.6 min");
        assert_eq!(exact(1234.0, Unit::Count), "1,234");
    }

    #[test]
    fn periods_and_names_are_words() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        assert_eq!(period(d, Grain::Month), "Jan 2026");
        assert_eq!(period(d, Grain::Quarter), "Q1 2026");
        assert_eq!(period(d, Grain::Week), "Week of Jan 1, 2026");
        assert_eq!(axis_period(d, Grain::Month), "Jan 26");
        assert_eq!(humanize("first_response_time"), "First response time");
        assert_eq!(humanize("merchant_id"), "Merchant ID");
        assert_eq!(humanize("okr_progress"), "OKR progress");
        assert_eq!(
            slug("Merchant brief: Blue Fox Goods!", 60),
            "merchant-brief-blue-fox-goods"
        );
        assert_eq!(slug("Café — 2026", 60), "cafe-2026");
    }
}
