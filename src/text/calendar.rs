//! Time expressions in questions: "last quarter", "Q3 2025", "in October", "since March",
//! "between 2026-01-01 and 2026-03-31", "over the last 6 months", "at the end of June".
//! Calendar periods cover the whole period; weeks start on Monday; relative dates resolve
//! against the injected `today`.

use std::fmt;

use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// Time grain of a bucketed query. Weeks start on Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Grain {
    /// Every grain, finest first.
    pub const ALL: [Grain; 5] = [
        Grain::Day,
        Grain::Week,
        Grain::Month,
        Grain::Quarter,
        Grain::Year,
    ];

    /// The DuckDB `date_trunc` part and column name.
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    /// The DuckDB interval of one bucket.
    pub fn interval(self) -> &'static str {
        match self {
            Grain::Day => "INTERVAL 1 DAY",
            Grain::Week => "INTERVAL 7 DAY",
            Grain::Month => "INTERVAL 1 MONTH",
            Grain::Quarter => "INTERVAL 3 MONTH",
            Grain::Year => "INTERVAL 1 YEAR",
        }
    }

    /// "month", "Month " -> `Grain::Month`.
    pub fn parse(s: &str) -> Option<Grain> {
        Grain::ALL
            .into_iter()
            .find(|g| g.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive range of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// The first day.
    pub from: NaiveDate,
    /// The last day (included).
    pub to: NaiveDate,
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.from, self.to)
    }
}

/// A period found in a question, with the tokens it used.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundPeriod {
    pub range: TimeRange,
    /// How to say it in an answer: "last quarter (2026-07-01 to 2026-09-30)".
    pub label: String,
    /// Token indices consumed.
    pub used: Vec<usize>,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The month (1-12) a lowercase word names: `january`, `jan`, `sept`.
pub fn month_of(tok: &str) -> Option<u32> {
    let t = tok.trim_end_matches('.');
    if t == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| *m == t || (t.len() == 3 && m.starts_with(t)))
        .map(|i| i as u32 + 1)
}

fn year_of(tok: &str) -> Option<i32> {
    let y: i32 = tok.trim_start_matches("fy").parse().ok()?;
    (2000..=2099).contains(&y).then_some(y)
}

fn quarter_of(tok: &str) -> Option<u32> {
    match tok {
        "q1" => Some(1),
        "q2" => Some(2),
        "q3" => Some(3),
        "q4" => Some(4),
        _ => None,
    }
}

fn date_of(tok: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(tok, "%Y-%m-%d").ok()
}

/// First day of the period of `grain` containing `d`.
pub fn period_start(d: NaiveDate, grain: Grain) -> NaiveDate {
    match grain {
        Grain::Day => d,
        Grain::Week => d - Duration::days(d.weekday().num_days_from_monday().into()),
        Grain::Month => d.with_day(1).unwrap_or(d),
        Grain::Quarter => {
            NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1).unwrap_or(d)
        }
        Grain::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d),
    }
}

/// `start` moved by `n` periods of `grain` (negative = back).
pub fn shift(start: NaiveDate, grain: Grain, n: i32) -> NaiveDate {
    let months = |m: i32| {
        if m >= 0 {
            start.checked_add_months(Months::new(m as u32))
        } else {
            start.checked_sub_months(Months::new((-m) as u32))
        }
        .unwrap_or(start)
    };
    match grain {
        Grain::Day => start + Duration::days(n.into()),
        Grain::Week => start + Duration::days(7 * i64::from(n)),
        Grain::Month => months(n),
        Grain::Quarter => months(3 * n),
        Grain::Year => months(12 * n),
    }
}

/// The whole period of `grain` starting at `start`.
pub fn whole(start: NaiveDate, grain: Grain) -> TimeRange {
    TimeRange {
        from: start,
        to: shift(start, grain, 1) - Duration::days(1),
    }
}

/// "day", "weeks", ... as a grain.
pub fn grain_word(tok: &str) -> Option<Grain> {
    match tok.trim_end_matches('s') {
        "day" => Some(Grain::Day),
        "week" => Some(Grain::Week),
        "month" => Some(Grain::Month),
        "quarter" => Some(Grain::Quarter),
        "year" => Some(Grain::Year),
        _ => None,
    }
}

fn month_label(d: NaiveDate) -> String {
    format!(
        "{} {}",
        super::capitalize(MONTHS[d.month0() as usize]),
        d.year()
    )
}

/// Finds the first time expression in `toks` (lowercased words).
pub fn find_period(toks: &[String], today: NaiveDate) -> Option<FoundPeriod> {
    (0..toks.len()).find_map(|i| period_at(toks, i, today))
}

/// The time expression that starts at token `i`, if any: each kind in turn.
fn period_at(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    between_dates(toks, i)
        .or_else(|| on_date(toks, i, today))
        .or_else(|| named_day(toks, i, today))
        .or_else(|| half_year(toks, i, today))
        .or_else(|| bfcm(toks, i, today))
        .or_else(|| to_date(toks, i, today))
        .or_else(|| relative(toks, i, today))
        .or_else(|| quarter(toks, i, today))
        .or_else(|| month(toks, i, today))
        .or_else(|| year(toks, i, today))
}

/// Token `k`, or "" past either end.
fn tok(toks: &[String], k: usize) -> &str {
    toks.get(k).map(String::as_str).unwrap_or("")
}

/// "2026-01-01 to 2026-03-31".
fn range_label(r: TimeRange) -> String {
    format!("{} to {}", r.from, r.to)
}

/// "between D and D", "from D to D".
fn between_dates(toks: &[String], i: usize) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    // between D and D / from D to D
    if (w == "between" || w == "from") && date_of(t(i + 1)).is_some() {
        if let (Some(a), Some(b)) = (date_of(t(i + 1)), date_of(t(i + 3))) {
            if matches!(t(i + 2), "and" | "to" | "until" | "through") {
                let range = TimeRange { from: a, to: b };
                return Some(FoundPeriod {
                    label: range_label(range),
                    range,
                    used: vec![i, i + 1, i + 2, i + 3],
                });
            }
        }
    }
    None
}

/// A date: "on 2026-01-05", "since 2026-01-05".
fn on_date(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    if let Some(d) = date_of(w) {
        let (from, used, label) = if matches!(t(i.wrapping_sub(1)), "since" | "after") {
            (d, vec![i - 1, i], format!("since {d}"))
        } else {
            let range = TimeRange { from: d, to: d };
            return Some(FoundPeriod {
                label: format!("on {d}"),
                range,
                used: vec![i],
            });
        };
        return Some(FoundPeriod {
            range: TimeRange { from, to: today },
            label,
            used,
        });
    }
    None
}

/// "today", "yesterday", "ytd", "mtd", "qtd", "wtd".
fn named_day(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    match w {
        "today" => {
            return Some(FoundPeriod {
                range: TimeRange {
                    from: today,
                    to: today,
                },
                label: format!("today ({today})"),
                used: vec![i],
            })
        }
        "yesterday" => {
            let d = today - Duration::days(1);
            return Some(FoundPeriod {
                range: TimeRange { from: d, to: d },
                label: format!("yesterday ({d})"),
                used: vec![i],
            });
        }
        "ytd" | "mtd" | "qtd" | "wtd" => {
            let g = match w {
                "ytd" => Grain::Year,
                "mtd" => Grain::Month,
                "qtd" => Grain::Quarter,
                _ => Grain::Week,
            };
            let range = TimeRange {
                from: period_start(today, g),
                to: today,
            };
            return Some(FoundPeriod {
                label: format!("{g} to date ({})", range_label(range)),
                range,
                used: vec![i],
            });
        }
        _ => {}
    }
    None
}

/// The grain of a "year to date" / "MTD" period (its label says so), if it is one.
pub fn to_date_grain(p: &FoundPeriod) -> Option<Grain> {
    let (g, rest) = p.label.split_once(' ')?;
    rest.starts_with("to date")
        .then(|| Grain::parse(g))
        .flatten()
}

/// Halves: "H1", "h2 2025", "first half of 2026", "the second half".
fn half_year(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    // Halves: "H1", "h2 2025", "first half of 2026", "the second half".
    let half = match (w, t(i + 1)) {
        ("h1", _) => Some((1, 1)),
        ("h2", _) => Some((2, 1)),
        ("first", "half") => Some((1, 2)),
        ("second", "half") => Some((2, 2)),
        _ => None,
    };
    if let Some((h, n)) = half {
        let mut used: Vec<usize> = (i..i + n).collect();
        let mut next = i + n;
        if t(next) == "of" && year_of(t(next + 1)).is_some() {
            used.push(next);
            next += 1;
        }
        let year = match year_of(t(next)) {
            Some(y) => {
                used.push(next);
                y
            }
            // The latest half of that name that has started.
            None if h == 1 || today.month() >= 7 => today.year(),
            None => today.year() - 1,
        };
        let (from, to) = if h == 1 {
            (
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year, 6, 30)?,
            )
        } else {
            (
                NaiveDate::from_ymd_opt(year, 7, 1)?,
                NaiveDate::from_ymd_opt(year, 12, 31)?,
            )
        };
        let range = TimeRange { from, to };
        return Some(FoundPeriod {
            label: format!("H{h} {year} ({})", range_label(range)),
            range,
            used,
        });
    }
    None
}

/// BFCM: Thanksgiving (fourth Thursday of November) to Cyber Monday.
fn bfcm(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    // BFCM: Thanksgiving (fourth Thursday of November) to Cyber Monday.
    let bfcm = match (w, t(i + 1)) {
        ("bfcm", _) | ("cyber", "week") => Some(1),
        ("black", "friday") | ("cyber", "monday") => Some(2),
        _ => None,
    };
    if let Some(n) = bfcm {
        let thanksgiving = |y: i32| {
            let nov1 = NaiveDate::from_ymd_opt(y, 11, 1)?;
            let first_thu = (4 + 7 - nov1.weekday().num_days_from_sunday()) % 7;
            nov1.checked_add_signed(Duration::days(i64::from(first_thu) + 21))
        };
        let mut used: Vec<usize> = (i..i + n).collect();
        let year = match year_of(t(i + n)) {
            Some(y) => {
                used.push(i + n);
                y
            }
            None if thanksgiving(today.year()).is_some_and(|d| d <= today) => today.year(),
            None => today.year() - 1,
        };
        let start = thanksgiving(year)?;
        let range = TimeRange {
            from: start,
            to: start + Duration::days(4),
        };
        return Some(FoundPeriod {
            label: format!("BFCM {year} ({})", range_label(range)),
            range,
            used,
        });
    }
    None
}

/// "year to date".
fn to_date(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    // "year to date"
    if let (Some(g), "to", "date") = (grain_word(w), t(i + 1), t(i + 2)) {
        let range = TimeRange {
            from: period_start(today, g),
            to: today,
        };
        return Some(FoundPeriod {
            label: format!("{g} to date ({})", range_label(range)),
            range,
            used: vec![i, i + 1, i + 2],
        });
    }
    None
}

/// this / current / last / previous / past / next + [N] + grain.
fn relative(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    // this/current/last/previous/past/next + [N] + grain
    if matches!(
        w,
        "this" | "current" | "last" | "previous" | "past" | "prior" | "next"
    ) {
        let (n, gi) = match super::words::number(t(i + 1)) {
            Some(n) if grain_word(t(i + 2)).is_some() => (Some(n), i + 2),
            _ => (None, i + 1),
        };
        if let Some(g) = grain_word(t(gi)) {
            let cur = period_start(today, g);
            let mut used: Vec<usize> = (i..=gi).collect();
            if i > 0 && matches!(t(i - 1), "over" | "in" | "during" | "for") {
                used.insert(0, i - 1);
            }
            if i > 1 && t(i - 1) == "the" && matches!(t(i - 2), "over" | "in" | "during" | "for") {
                used.splice(0..0, [i - 2, i - 1]);
            }
            let (range, label) = match (w, n) {
                ("this" | "current", _) => {
                    let r = whole(cur, g);
                    (r, format!("this {g} ({})", range_label(r)))
                }
                ("next", None) => {
                    let r = whole(shift(cur, g, 1), g);
                    (r, format!("next {g} ({})", range_label(r)))
                }
                ("next", Some(n)) => {
                    let r = TimeRange {
                        from: today,
                        to: shift(today, g, n as i32),
                    };
                    (r, format!("the next {n} {g}s ({})", range_label(r)))
                }
                (_, None) => {
                    let r = whole(shift(cur, g, -1), g);
                    (r, format!("last {g} ({})", range_label(r)))
                }
                (_, Some(n)) => {
                    // The current period and the n-1 before it.
                    let r = TimeRange {
                        from: if g == Grain::Day {
                            today - Duration::days(i64::from(n) - 1)
                        } else {
                            shift(cur, g, -(n as i32 - 1))
                        },
                        to: today,
                    };
                    (r, format!("the last {n} {g}s ({})", range_label(r)))
                }
            };
            return Some(FoundPeriod { range, label, used });
        }
    }
    None
}

/// "Q3 [2025]", "2025 Q3", "since Q3".
fn quarter(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    // Q3 [2025] / 2025 Q3
    if let Some(q) = quarter_of(w) {
        let (year, mut used) = match (year_of(t(i + 1)), year_of(t(i.wrapping_sub(1)))) {
            (Some(y), _) => (y, vec![i, i + 1]),
            (None, Some(y)) if i > 0 => (y, vec![i - 1, i]),
            _ => {
                let y = if q > (today.month() - 1) / 3 + 1 {
                    today.year() - 1
                } else {
                    today.year()
                };
                (y, vec![i])
            }
        };
        let start = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1)?;
        let since = i > 0 && t(i - 1) == "since";
        if since {
            used.insert(0, i - 1);
        }
        let r = if since {
            TimeRange {
                from: start,
                to: today,
            }
        } else {
            whole(start, Grain::Quarter)
        };
        return Some(FoundPeriod {
            label: if since {
                format!("since Q{q} {year}")
            } else {
                format!("Q{q} {year}")
            },
            range: r,
            used,
        });
    }
    None
}

/// "[end of | in | since] month [year]" ("may" only with a year or a preposition).
fn month(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    // [end of|in|since] month [year]
    if let Some(m) = month_of(w) {
        // "may" is also a verb: only take it with a year or a preposition.
        let prep = t(i.wrapping_sub(1));
        let explicit_year = year_of(t(i + 1));
        if w == "may"
            && explicit_year.is_none()
            && !matches!(prep, "in" | "of" | "since" | "during")
        {
            return None;
        }
        let year = explicit_year.unwrap_or(if m > today.month() {
            today.year() - 1
        } else {
            today.year()
        });
        let start = NaiveDate::from_ymd_opt(year, m, 1)?;
        let mut used = vec![i];
        if explicit_year.is_some() {
            used.push(i + 1);
        }
        if prep == "since" {
            used.insert(0, i - 1);
            return Some(FoundPeriod {
                range: TimeRange {
                    from: start,
                    to: today,
                },
                label: format!("since {}", month_label(start)),
                used,
            });
        }
        let r = whole(start, Grain::Month);
        let end_of = i >= 2 && t(i - 1) == "of" && t(i - 2) == "end";
        if end_of {
            used.splice(0..0, [i - 2, i - 1]);
        }
        return Some(FoundPeriod {
            label: if end_of {
                format!("at the end of {} ({})", month_label(start), r.to)
            } else {
                month_label(start)
            },
            range: r,
            used,
        });
    }
    None
}

/// "[in | since] 2025".
fn year(toks: &[String], i: usize, today: NaiveDate) -> Option<FoundPeriod> {
    let t = |k: usize| tok(toks, k);
    let w = t(i);
    // [in|since] 2025
    if let Some(y) = year_of(w) {
        let start = NaiveDate::from_ymd_opt(y, 1, 1)?;
        if i > 0 && t(i - 1) == "since" {
            return Some(FoundPeriod {
                range: TimeRange {
                    from: start,
                    to: today,
                },
                label: format!("since {y}"),
                used: vec![i - 1, i],
            });
        }
        return Some(FoundPeriod {
            range: whole(start, Grain::Year),
            label: y.to_string(),
            used: vec![i],
        });
    }
    None
}

/// True for `YYYY-MM-DD`.
pub fn is_iso_date(s: &str) -> bool {
    s.len() == 10 && date_of(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn find(q: &str) -> (String, String) {
        let toks: Vec<String> = q.split_whitespace().map(str::to_string).collect();
        let p = find_period(&toks, d("2026-11-21")).expect(q);
        (p.range.from.to_string(), p.range.to.to_string())
    }

    fn r(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn relative_periods_are_whole_calendar_periods() {
        assert_eq!(find("today"), r("2026-11-21", "2026-11-21"));
        assert_eq!(find("yesterday"), r("2026-11-20", "2026-11-20"));
        assert_eq!(find("this week"), r("2026-11-16", "2026-11-22"));
        assert_eq!(find("last week"), r("2026-11-09", "2026-11-15"));
        assert_eq!(find("this month"), r("2026-11-01", "2026-11-30"));
        assert_eq!(find("last month"), r("2026-10-01", "2026-10-31"));
        assert_eq!(find("this quarter"), r("2026-10-01", "2026-12-31"));
        assert_eq!(find("last quarter"), r("2026-07-01", "2026-09-30"));
        assert_eq!(find("this year"), r("2026-01-01", "2026-12-31"));
        assert_eq!(find("last year"), r("2025-01-01", "2025-12-31"));
        assert_eq!(
            find("over the last 6 months"),
            r("2026-06-01", "2026-11-21")
        );
        assert_eq!(find("past 30 days"), r("2026-10-23", "2026-11-21"));
        assert_eq!(find("ytd"), r("2026-01-01", "2026-11-21"));
        assert_eq!(find("year to date"), r("2026-01-01", "2026-11-21"));
    }

    #[test]
    fn halves_of_a_year() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
        for (q, from, to) in [
            ("tickets in h1", "2026-01-01", "2026-06-30"),
            ("arr for the first half of 2025", "2025-01-01", "2025-06-30"),
            ("second half 2025", "2025-07-01", "2025-12-31"),
            ("h2", "2026-07-01", "2026-12-31"),
        ] {
            let toks = crate::text::words(q);
            let p = find_period(&toks, today).expect(q);
            assert_eq!(
                (p.range.from.to_string(), p.range.to.to_string()),
                (from.to_string(), to.to_string()),
                "{q}"
            );
        }
    }

    #[test]
    fn named_periods_resolve_to_the_latest_started_one() {
        assert_eq!(find("q3"), r("2026-07-01", "2026-09-30"));
        assert_eq!(find("q4"), r("2026-10-01", "2026-12-31"));
        assert_eq!(find("q3 2025"), r("2025-07-01", "2025-09-30"));
        assert_eq!(find("in october"), r("2026-10-01", "2026-10-31"));
        assert_eq!(find("in december"), r("2025-12-01", "2025-12-31"));
        assert_eq!(find("sept 2025"), r("2025-09-01", "2025-09-30"));
        assert_eq!(find("in 2025"), r("2025-01-01", "2025-12-31"));
        assert_eq!(find("since march"), r("2026-03-01", "2026-11-21"));
        assert_eq!(find("at the end of june"), r("2026-06-01", "2026-06-30"));
        assert_eq!(
            find("between 2026-01-01 and 2026-03-31"),
            r("2026-01-01", "2026-03-31")
        );
        assert_eq!(find("on 2026-02-03"), r("2026-02-03", "2026-02-03"));
        // Today (2026-11-21) is before this year's Thanksgiving: the latest BFCM is 2025's.
        assert_eq!(find("during bfcm"), r("2025-11-27", "2025-12-01"));
        assert_eq!(find("bfcm 2026"), r("2026-11-26", "2026-11-30"));
        assert_eq!(find("over black friday"), r("2025-11-27", "2025-12-01"));
        assert!(find_period(&["may".into(), "i".into()], d("2026-11-21")).is_none());
        assert_eq!(d("2026-11-16").weekday(), Weekday::Mon);
    }
}
