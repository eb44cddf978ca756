//! When a schedule fires: a cron expression read in an IANA time zone (croner for the
//! pattern, chrono-tz for the zone).
//!
//! Daylight saving, as croner resolves it and the tests pin down:
//! - a wall-clock time that happens twice (01:30 on a fall-back day) fires once, at its
//!   first occurrence;
//! - a wall-clock time that does not exist (02:30 on a spring-forward day) fires once, at
//!   the first real instant after the gap (03:00 local);
//! - every other day fires at the written local time, whatever the UTC offset.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// A parsed schedule: the pattern and the zone it is read in.
#[derive(Debug, Clone)]
pub struct When {
    cron: Cron,
    pub tz: Tz,
}

impl When {
    /// Parses `expr` (5 fields, minute first; `MON`-style names allowed) in `tz`.
    pub fn new(expr: &str, tz: Tz) -> Result<When, String> {
        let cron =
            Cron::from_str(expr).map_err(|e| format!("bad cron expression {expr:?}: {e}"))?;
        Ok(When { cron, tz })
    }

    /// The latest slot at or before `now` (UTC), if any within the past year.
    pub fn latest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.tz);
        let prev = self.cron.find_previous_occurrence(&local, true).ok()?;
        let prev = prev.with_timezone(&Utc);
        // A wall-clock time that happened twice resolves to its first occurrence only.
        let first = self.first_of(prev);
        (now - first <= chrono::Duration::days(366)).then_some(first)
    }

    /// The next slot strictly after `now` (UTC).
    pub fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut at = now;
        for _ in 0..4 {
            let local = at.with_timezone(&self.tz);
            let n = self.cron.find_next_occurrence(&local, false).ok()?;
            let n = n.with_timezone(&Utc);
            if self.first_of(n) == n {
                return Some(n);
            }
            // The repeat of an ambiguous wall time: not a slot of its own.
            at = n;
        }
        None
    }

    /// The first instant with the same local wall time as `t` (they differ on a fall-back day).
    fn first_of(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        use chrono::TimeZone;
        let wall = t.with_timezone(&self.tz).naive_local();
        match self.tz.from_local_datetime(&wall) {
            chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
            _ => t,
        }
    }
}

/// Parses an IANA zone name.
pub fn zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name)
        .map_err(|_| format!("unknown time zone {name:?} (an IANA name such as America/New_York)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Every slot in [from, to), walking `next`.
    fn slots(w: &When, from: &str, to: &str) -> Vec<DateTime<Utc>> {
        let (mut at, to) = (utc(from), utc(to));
        let mut out = Vec::new();
        while let Some(n) = w.next(at) {
            if n >= to {
                break;
            }
            out.push(n);
            at = n;
        }
        out
    }

    fn local(w: &When, t: DateTime<Utc>) -> String {
        t.with_timezone(&w.tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    #[test]
    fn eight_am_new_york_fires_once_a_day_at_eight_local_across_both_2026_transitions() {
        let w = When::new("0 8 * * *", zone("America/New_York").unwrap()).unwrap();
        for (from, to, utc_before, utc_after) in [
            ("2026-03-06T00:00:00Z", "2026-03-11T00:00:00Z", 13, 12),
            ("2026-10-30T00:00:00Z", "2026-11-04T00:00:00Z", 12, 13),
        ] {
            let s = slots(&w, from, to);
            assert_eq!(s.len(), 5, "{s:?}");
            for t in &s {
                assert_eq!(t.with_timezone(&w.tz).format("%H:%M").to_string(), "08:00");
            }
            // The UTC hour moves with the offset: the local hour does not.
            assert_eq!(s[0].format("%H").to_string(), format!("{utc_before}"));
            assert_eq!(s[4].format("%H").to_string(), format!("{utc_after}"));
        }
    }

    #[test]
    fn a_missing_0230_on_spring_forward_day_fires_once_at_0300() {
        let w = When::new("30 2 * * *", zone("America/New_York").unwrap()).unwrap();
        let s = slots(&w, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z");
        let l: Vec<String> = s.iter().map(|t| local(&w, *t)).collect();
        assert_eq!(
            l,
            [
                "2026-03-07 02:30 EST",
                "2026-03-08 03:00 EDT",
                "2026-03-09 02:30 EDT"
            ]
        );
        // `latest` agrees with `next` just after the gap.
        let after = utc("2026-03-08T07:05:00Z"); // 03:05 EDT
        assert_eq!(w.latest(after), Some(s[1]));
    }

    #[test]
    fn a_repeated_0130_on_fall_back_day_fires_once() {
        let w = When::new("30 1 * * *", zone("America/New_York").unwrap()).unwrap();
        let s = slots(&w, "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z");
        let l: Vec<String> = s.iter().map(|t| local(&w, *t)).collect();
        assert_eq!(
            l,
            [
                "2026-10-31 01:30 EDT",
                "2026-11-01 01:30 EDT",
                "2026-11-02 01:30 EST"
            ]
        );
        // During the second 01:30 (EST), the latest slot is still the first one.
        let second = w.tz.with_ymd_and_hms(2026, 11, 1, 1, 45, 0);
        let second = match second {
            chrono::LocalResult::Ambiguous(_, b) => b.with_timezone(&Utc),
            other => panic!("{other:?}"),
        };
        assert_eq!(w.latest(second), Some(s[1]));
    }

    #[test]
    fn weekly_monday_latest_slot() {
        let w = When::new("0 8 * * MON", zone("Europe/London").unwrap()).unwrap();
        // Wednesday 2026-11-25: the latest Monday 08:00 London was 2026-11-23.
        assert_eq!(
            w.latest(utc("2026-11-25T12:00:00Z")),
            Some(utc("2026-11-23T08:00:00Z"))
        );
        assert_eq!(
            w.latest(utc("2026-11-30T08:00:00Z")),
            Some(utc("2026-11-30T08:00:00Z"))
        );
        assert!(When::new("61 8 * * *", w.tz).is_err());
        assert!(zone("Mars/Olympus").is_err());
    }
}
