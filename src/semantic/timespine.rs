//! Time-spine constructs of metrics.yaml (MetricFlow's semantics): the `time_spine:`
//! section (a table with one row per day), time offsets of derived-metric inputs
//! (`offset_window: 14 days`, `offset_to_grain: month`), cumulative windows
//! (`window: 2 months`, `grain_to_date: month`) and `join_to_time_spine` (every period
//! reported, NULL or `fill_nulls_with` where there is no data).
//!
//! This module holds their raw serde shape, parsing and validated types; the SQL they
//! compile to is in `compile/spine.rs`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::grain::TimeUnit;
use super::query::Grain;

/// `time_spine:` in metrics.yaml: the warehouse table with one row per day that offsets,
/// cumulative windows and `join_to_time_spine` read their days from (MetricFlow's
/// `time_spine_table_configurations`). Without it the compiler generates the days itself.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTimeSpine {
    /// The table, e.g. `mf_time_spine` or `analytics.dim_date`.
    pub table: String,
    /// Its date column (one row per day).
    pub column: String,
    /// Tables with one row per hour, minute, ... for metrics whose time is finer than a
    /// day (MetricFlow's sub-daily `time_spines`): offsets, windows and
    /// `join_to_time_spine` by `metric_time__hour` read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_daily: Vec<RawSubDailySpine>,
}

/// A time spine finer than a day: `{grain: hour, table: calendar_hours, column: ts}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawSubDailySpine {
    /// `hour`, `minute`, `second` or `millisecond`.
    pub grain: TimeUnit,
    /// The table, one row per period of the grain.
    pub table: String,
    /// Its timestamp column.
    pub column: String,
}

/// The validated time spine.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSpine {
    pub table: String,
    pub column: String,
    /// Sub-daily spines: (grain, table, column), each grain finer than a day.
    pub sub_daily: Vec<(TimeUnit, String, String)>,
}

/// One input of a derived metric as written under `inputs:`: the metric, the name the
/// formula uses for it and an optional time offset.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDerivedInput {
    /// The input metric.
    pub metric: String,
    /// The name the formula uses for it (needed when one metric is used twice, e.g.
    /// `bookings - bookings_2_weeks_ago`); defaults to the metric's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The value of the metric this long before each period: `14 days`, `1 month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_window: Option<String>,
    /// The value of the metric on the first day of the period of this grain that contains
    /// each day: `month` gives the month-start value (`hour` for a sub-daily metric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_to_grain: Option<TimeUnit>,
    /// Conditions the input metric is computed with here only, e.g.
    /// `listing__is_lux = true` (MetricFlow's input `filter`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<String>,
}

/// A validated derived-metric input.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedInput {
    /// The name in the formula (the alias, or the metric's name).
    pub name: String,
    /// The metric it reads.
    pub metric: String,
    pub offset: Option<Offset>,
    /// Conditions the input metric is computed with (`filter:`).
    pub filter: Vec<super::query::Condition>,
}

/// Day or a coarser calendar grain (the grains offsets and windows are counted in).
fn calendar(g: Grain) -> bool {
    matches!(
        g,
        Grain::Day | Grain::Week | Grain::Month | Grain::Quarter | Grain::Year
    )
}

/// A length of time: `14 days`, `2 months`, `1 week`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub count: u32,
    pub grain: Grain,
}

impl Span {
    /// Whether a bucket of `grain` moved by this span is a bucket again (months by
    /// months, quarters or years; weeks by weeks; days by days or weeks).
    pub fn whole_buckets_of(self, grain: Grain) -> bool {
        let months = match self.grain {
            Grain::Month => Some(self.count),
            Grain::Quarter => Some(self.count * 3),
            Grain::Year => Some(self.count * 12),
            _ => None,
        };
        let days = match self.grain {
            Grain::Day => Some(self.count),
            Grain::Week => Some(self.count * 7),
            _ => None,
        };
        match grain {
            Grain::Day => days.is_some(),
            Grain::Week => days.is_some_and(|d| d % 7 == 0),
            Grain::Month => months.is_some(),
            Grain::Quarter => months.is_some_and(|m| m % 3 == 0),
            Grain::Year => months.is_some_and(|m| m % 12 == 0),
        }
    }

    /// `day` moved back by this span (month ends clamp: Mar 31 - 1 month = Feb 28).
    pub fn back(self, day: chrono::NaiveDate) -> chrono::NaiveDate {
        let months = |n: u32| {
            day.checked_sub_months(chrono::Months::new(n))
                .unwrap_or(day)
        };
        match self.grain {
            Grain::Week => day
                .checked_sub_days(chrono::Days::new(u64::from(self.count) * 7))
                .unwrap_or(day),
            Grain::Month => months(self.count),
            Grain::Quarter => months(self.count * 3),
            Grain::Year => months(self.count * 12),
            _ => day
                .checked_sub_days(chrono::Days::new(u64::from(self.count)))
                .unwrap_or(day),
        }
    }

    /// Parses `14 days`, `1 month`, `2 weeks`, `1 year` (singular or plural).
    pub fn parse(text: &str) -> Result<Span, String> {
        let mut parts = text.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "{text:?} is not a span of time; write a count and a unit, e.g. `14 days` or `1 month`"
            ));
        };
        let count: u32 = n
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| format!("{text:?}: the count must be a whole number above 0"))?;
        let unit = unit.to_ascii_lowercase();
        let grain = Grain::parse(unit.strip_suffix('s').unwrap_or(&unit))
            .filter(|g| calendar(*g))
            .ok_or_else(|| {
                format!("{text:?}: the unit must be day, week, month, quarter or year")
            })?;
        Ok(Span { count, grain })
    }

    /// The DuckDB interval, e.g. `INTERVAL 14 DAY`.
    pub fn interval(self) -> String {
        let (n, unit) = match self.grain {
            Grain::Week => (self.count * 7, "DAY"),
            Grain::Month => (self.count, "MONTH"),
            Grain::Quarter => (self.count * 3, "MONTH"),
            Grain::Year => (self.count, "YEAR"),
            _ => (self.count, "DAY"),
        };
        format!("INTERVAL {n} {unit}")
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.count == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.count, self.grain)
    }
}

/// A length of time finer than a day: `3 hours`, `30 minutes` (sub-daily metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FineSpan {
    pub count: u32,
    pub unit: TimeUnit,
}

impl FineSpan {
    /// Parses `3 hours`, `1 minute`, `10 seconds`, `500 milliseconds`.
    pub fn parse(text: &str) -> Option<FineSpan> {
        let mut parts = text.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let count: u32 = n.parse().ok().filter(|c| *c > 0)?;
        let unit = unit.to_ascii_lowercase();
        let unit = TimeUnit::parse(unit.strip_suffix('s').unwrap_or(&unit))
            .filter(|u| u.is_sub_daily())?;
        Some(FineSpan { count, unit })
    }

    /// The DuckDB interval, e.g. `INTERVAL 3 HOUR`.
    pub fn interval(self) -> String {
        format!(
            "INTERVAL {} {}",
            self.count,
            self.unit.as_str().to_uppercase()
        )
    }
}

impl fmt::Display for FineSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.count == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.count, self.unit)
    }
}

/// Parses an offset or window length: a calendar span (`14 days`) or a sub-daily one
/// (`3 hours`); the calendar span's message when it is neither.
fn parse_length(text: &str) -> Result<Result<Span, FineSpan>, String> {
    match Span::parse(text) {
        Ok(s) => Ok(Ok(s)),
        Err(e) => FineSpan::parse(text).map(Err).ok_or_else(|| {
            e.replace(
                "day, week, month, quarter or year",
                "day, week, month, quarter or year (or hour, minute, second, millisecond)",
            )
        }),
    }
}

/// A time offset of a derived-metric input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// The value this long before (`offset_window`).
    Window(Span),
    /// The value at the start of the period of this unit (`offset_to_grain`).
    ToGrain(TimeUnit),
    /// The value this long before, finer than a day (`offset_window: 1 hour`).
    FineWindow(FineSpan),
    /// A query's period over period (`MetricQuery::prior`): the whole bucket (or range)
    /// that long before, not day by day.
    Prior(Span),
}

impl Offset {
    /// The day an offset input reads for the day `day` (a SQL DATE expression).
    pub fn apply(self, day: &str) -> String {
        match self {
            Offset::Window(span) => format!("CAST({day} - {} AS DATE)", span.interval()),
            Offset::ToGrain(g) => format!("CAST(date_trunc('{g}', {day}) AS DATE)"),
            Offset::Prior(span) => format!("CAST({day} - {} AS DATE)", span.interval()),
            Offset::FineWindow(span) => format!("{day} - {}", span.interval()),
        }
    }

    /// The time an offset input reads for the time `t` of a sub-daily spine (a SQL
    /// TIMESTAMP expression).
    pub fn apply_fine(self, t: &str) -> String {
        match self {
            Offset::Window(span) | Offset::Prior(span) => format!("{t} - {}", span.interval()),
            Offset::ToGrain(g) => format!("date_trunc('{g}', {t})"),
            Offset::FineWindow(span) => format!("{t} - {}", span.interval()),
        }
    }

    /// The sub-daily unit the offset is counted in, if any.
    pub fn fine_unit(self) -> Option<TimeUnit> {
        match self {
            Offset::FineWindow(s) => Some(s.unit),
            Offset::ToGrain(u) if u.is_sub_daily() => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offset::Window(s) => write!(f, "{s} before"),
            Offset::ToGrain(g) => write!(f, "at the start of the {g}"),
            Offset::Prior(s) => write!(f, "{s} before"),
            Offset::FineWindow(s) => write!(f, "{s} before"),
        }
    }
}

/// The rows a cumulative metric adds up for each day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CumulativeWindow {
    /// The trailing span ending that day (`window: 2 months`).
    Trailing(Span),
    /// From the start of that day's period of this grain (`grain_to_date: month`: MTD).
    GrainToDate(Grain),
    /// From the start of the period of a unit finer than a day (`grain_to_date: hour`).
    FineToDate(TimeUnit),
    /// The trailing span finer than a day (`window: 3 hours`).
    FineTrailing(FineSpan),
}

impl CumulativeWindow {
    /// Builds the window from a cumulative metric's `window` / `grain_to_date` keys.
    pub fn from_raw(
        window: Option<&str>,
        grain_to_date: Option<TimeUnit>,
    ) -> Result<Option<CumulativeWindow>, String> {
        match (window, grain_to_date) {
            (Some(_), Some(_)) => Err("`window:` and `grain_to_date:` exclude each other".into()),
            (Some(w), None) => Ok(Some(match parse_length(w)? {
                Ok(s) => CumulativeWindow::Trailing(s),
                Err(f) => CumulativeWindow::FineTrailing(f),
            })),
            (None, Some(u)) => Ok(Some(match Grain::parse(u.as_str()) {
                Some(g) => CumulativeWindow::GrainToDate(g),
                None => CumulativeWindow::FineToDate(u),
            })),
            (None, None) => Ok(None),
        }
    }

    /// The sub-daily unit the window is counted in, if any.
    pub fn fine_unit(self) -> Option<TimeUnit> {
        match self {
            CumulativeWindow::FineTrailing(s) => Some(s.unit),
            CumulativeWindow::FineToDate(u) => Some(u),
            _ => None,
        }
    }

    /// `contains` on a sub-daily spine: `row` and `t` are TIMESTAMP expressions.
    pub fn contains_fine(self, row: &str, t: &str) -> String {
        match self {
            CumulativeWindow::Trailing(s) => {
                format!("{row} <= {t} AND {row} > {t} - {}", s.interval())
            }
            CumulativeWindow::FineTrailing(s) => {
                format!("{row} <= {t} AND {row} > {t} - {}", s.interval())
            }
            CumulativeWindow::GrainToDate(g) => {
                format!("{row} <= {t} AND {row} >= date_trunc('{g}', {t})")
            }
            CumulativeWindow::FineToDate(u) => {
                format!("{row} <= {t} AND {row} >= date_trunc('{u}', {t})")
            }
        }
    }

    /// The condition that a row's day (`row`, a DATE expression) is in the window that
    /// ends on `day`.
    pub fn contains(self, row: &str, day: &str) -> String {
        match self {
            CumulativeWindow::Trailing(s) => format!(
                "{row} <= {day} AND {row} > CAST({day} - {} AS DATE)",
                s.interval()
            ),
            CumulativeWindow::GrainToDate(g) => {
                format!("{row} <= {day} AND {row} >= CAST(date_trunc('{g}', {day}) AS DATE)")
            }
            CumulativeWindow::FineTrailing(s) => {
                format!("{row} <= {day} AND {row} > {day} - {}", s.interval())
            }
            CumulativeWindow::FineToDate(u) => {
                format!("{row} <= {day} AND {row} >= date_trunc('{u}', {day})")
            }
        }
    }
}

impl fmt::Display for CumulativeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CumulativeWindow::Trailing(s) => write!(f, "trailing {s}"),
            CumulativeWindow::GrainToDate(g) => write!(f, "{g} to date"),
            CumulativeWindow::FineTrailing(s) => write!(f, "trailing {s}"),
            CumulativeWindow::FineToDate(u) => write!(f, "{u} to date"),
        }
    }
}

/// How a cumulative metric's daily values become one value per coarser period (a week, a
/// quarter, a custom grain) or per date part (MetricFlow's `period_agg`): the value of the
/// period's first or last day that has rows in its window, or the average over those days.
/// Cortex's default is `last` (the balance at the end of each period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodAgg {
    /// The value on the period's first day.
    First,
    /// The value on the period's last day (up to today).
    #[default]
    Last,
    /// The average of the daily values.
    Average,
}

impl PeriodAgg {
    /// MetricFlow's name: `first`, `last`, `average`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodAgg::First => "first",
            PeriodAgg::Last => "last",
            PeriodAgg::Average => "average",
        }
    }

    /// `"average"` -> `PeriodAgg::Average`.
    pub fn parse(s: &str) -> Option<PeriodAgg> {
        [PeriodAgg::First, PeriodAgg::Last, PeriodAgg::Average]
            .into_iter()
            .find(|p| p.as_str() == s)
    }

    /// The window function that picks a period's value from its daily values `v`.
    pub fn window_sql(self, v: &str) -> String {
        match self {
            PeriodAgg::First => format!("FIRST_VALUE({v})"),
            PeriodAgg::Last => format!("LAST_VALUE({v})"),
            PeriodAgg::Average => format!("AVG({v})"),
        }
    }
}

/// The grain of metric time for a query that names none: the coarsest `default_grain` of
/// `metrics` (MetricFlow's rule), day when none declares one.
pub fn default_grain(layer: &super::model::SemanticLayer, metrics: &[String]) -> Grain {
    let rank = |g: Grain| Grain::ALL.iter().position(|x| *x == g).unwrap_or(0);
    metrics
        .iter()
        .filter_map(|m| layer.metric(m).and_then(|m| m.default_grain))
        .filter_map(|u| Grain::parse(u.as_str()))
        .max_by_key(|g| rank(*g))
        .unwrap_or(Grain::Day)
}

/// Validates derived inputs: each names a metric of `known`, offsets parse, one offset
/// per input, names unique. Returns the inputs or one message per problem (key, text).
pub fn derived_inputs(
    raws: &[RawDerivedInput],
    known: &dyn Fn(&str) -> bool,
) -> (Vec<DerivedInput>, Vec<(String, String)>) {
    let mut out: Vec<DerivedInput> = Vec::new();
    let mut errors = Vec::new();
    for r in raws {
        let name = r.alias.clone().unwrap_or_else(|| r.metric.clone());
        if !known(&r.metric) {
            errors.push((
                "inputs".to_string(),
                format!("input {:?} is not a metric", r.metric),
            ));
            continue;
        }
        if out.iter().any(|i| i.name == name) {
            errors.push((
                "inputs".to_string(),
                format!("two inputs are called {name:?}; give one an `alias:`"),
            ));
            continue;
        }
        let offset = match (&r.offset_window, r.offset_to_grain) {
            (Some(_), Some(_)) => {
                errors.push((
                    "inputs".to_string(),
                    format!(
                        "input {name}: `offset_window:` and `offset_to_grain:` exclude each other"
                    ),
                ));
                continue;
            }
            (Some(w), None) => match parse_length(w) {
                Ok(Ok(s)) => Some(Offset::Window(s)),
                Ok(Err(f)) => Some(Offset::FineWindow(f)),
                Err(e) => {
                    errors.push(("offset_window".to_string(), format!("input {name}: {e}")));
                    continue;
                }
            },
            (None, Some(g)) => Some(Offset::ToGrain(g)),
            (None, None) => None,
        };
        let mut filter = Vec::new();
        for t in &r.filter {
            match super::query::Condition::parse(t) {
                Ok(c) => filter.push(c),
                Err(e) => errors.push(("filter".to_string(), format!("input {name}: {e}"))),
            }
        }
        out.push(DerivedInput {
            name,
            metric: r.metric.clone(),
            offset,
            filter,
        });
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_singular_and_plural() {
        assert_eq!(
            Span::parse("14 days").unwrap(),
            Span {
                count: 14,
                grain: Grain::Day
            }
        );
        assert_eq!(
            Span::parse("1 month").unwrap().interval(),
            "INTERVAL 1 MONTH"
        );
        assert_eq!(
            Span::parse("2 weeks").unwrap().interval(),
            "INTERVAL 14 DAY"
        );
        assert_eq!(
            Span::parse("1 Quarter").unwrap().interval(),
            "INTERVAL 3 MONTH"
        );
        assert!(Span::parse("0 days").is_err());
        assert!(Span::parse("days").is_err());
        assert!(Span::parse("2 fortnights").unwrap_err().contains("unit"));
    }

    #[test]
    fn windows_and_offsets_render() {
        let w = CumulativeWindow::from_raw(None, Some(TimeUnit::Month))
            .unwrap()
            .unwrap();
        assert_eq!(
            w.contains("r", "d"),
            "r <= d AND r >= CAST(date_trunc('month', d) AS DATE)"
        );
        assert!(CumulativeWindow::from_raw(Some("2 days"), Some(TimeUnit::Month)).is_err());
        assert_eq!(
            Offset::Window(Span::parse("5 days").unwrap()).apply("s.ds"),
            "CAST(s.ds - INTERVAL 5 DAY AS DATE)"
        );
    }

    #[test]
    fn derived_inputs_are_checked() {
        let raw = |metric: &str, alias: Option<&str>, w: Option<&str>| RawDerivedInput {
            metric: metric.into(),
            alias: alias.map(Into::into),
            offset_window: w.map(Into::into),
            offset_to_grain: None,
            filter: Vec::new(),
        };
        let known = |m: &str| m == "bookings";
        let (ok, errs) = derived_inputs(
            &[
                raw("bookings", None, None),
                raw("bookings", Some("ago"), Some("14 days")),
            ],
            &known,
        );
        assert!(errs.is_empty());
        assert_eq!(ok[1].name, "ago");
        let (_, errs) = derived_inputs(
            &[
                raw("bookings", None, None),
                raw("bookings", None, Some("2 days")),
                raw("nope", None, None),
                raw("bookings", Some("x"), Some("soon")),
            ],
            &known,
        );
        assert_eq!(errs.len(), 3, "{errs:?}");
    }
}
