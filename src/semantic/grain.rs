//! Time at a grain, as group-by and filter names: `metric_time__month`, `booking__ds__quarter`
//! (a time dimension other than the metric's own time, truncated), `user__last_login_ts__minute`
//! (sub-daily), `metric_time__extract_dow` (a date part) and `metric_time__alien_day` (a custom
//! grain read from a calendar table declared under `custom_grains:`). MetricFlow's names.
//!
//! The query's single `grain` (the time axis the planner and renderers know) stays a
//! [`Grain`](crate::text::calendar::Grain); everything here is a named group-by or filter
//! the compiler resolves, so natural-language answers are unaffected.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A truncation unit of a timestamp, finest first. A time dimension declares the finest one
/// its values carry (`granularity:` in metrics.yaml; day unless said).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl TimeUnit {
    /// Every unit, finest first.
    pub const ALL: [TimeUnit; 9] = [
        TimeUnit::Millisecond,
        TimeUnit::Second,
        TimeUnit::Minute,
        TimeUnit::Hour,
        TimeUnit::Day,
        TimeUnit::Week,
        TimeUnit::Month,
        TimeUnit::Quarter,
        TimeUnit::Year,
    ];

    /// The name in metrics.yaml, in group-by suffixes and DuckDB's `date_trunc`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Millisecond => "millisecond",
            TimeUnit::Second => "second",
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Year => "year",
        }
    }

    /// `"hour"` -> `TimeUnit::Hour`.
    pub fn parse(s: &str) -> Option<TimeUnit> {
        TimeUnit::ALL.into_iter().find(|u| u.as_str() == s)
    }

    /// Finer than a day: values are timestamps, not dates.
    pub fn is_sub_daily(self) -> bool {
        self < TimeUnit::Day
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A part of a date (MetricFlow's `date_part`), as a number: `extract_year`, `extract_dow`
/// (ISO: Monday = 1 … Sunday = 7), `extract_doy` (day of the year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatePart {
    Year,
    Quarter,
    Month,
    Day,
    Dow,
    Doy,
}

impl DatePart {
    /// Every part.
    pub const ALL: [DatePart; 6] = [
        DatePart::Year,
        DatePart::Quarter,
        DatePart::Month,
        DatePart::Day,
        DatePart::Dow,
        DatePart::Doy,
    ];

    /// MetricFlow's name (`dow`), used after `extract_` in a group-by name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatePart::Year => "year",
            DatePart::Quarter => "quarter",
            DatePart::Month => "month",
            DatePart::Day => "day",
            DatePart::Dow => "dow",
            DatePart::Doy => "doy",
        }
    }

    /// `"dow"` -> `DatePart::Dow`.
    pub fn parse(s: &str) -> Option<DatePart> {
        DatePart::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The DuckDB `EXTRACT` field.
    fn sql_field(self) -> &'static str {
        match self {
            DatePart::Dow => "isodow",
            other => other.as_str(),
        }
    }

    /// The coarsest unit a dimension may have for this part to mean something (the day of
    /// the month of a monthly date is always 1).
    pub fn needs(self) -> TimeUnit {
        match self {
            DatePart::Year => TimeUnit::Year,
            DatePart::Quarter => TimeUnit::Quarter,
            DatePart::Month => TimeUnit::Month,
            DatePart::Day | DatePart::Dow | DatePart::Doy => TimeUnit::Day,
        }
    }
}

/// A custom grain: each date's period is read from a calendar table (one row per date),
/// e.g. a fiscal week or MetricFlow's `alien_day`. Declared under `custom_grains:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomGrain {
    /// The grain's name, used as a group-by suffix: `metric_time__fiscal_week`.
    pub name: String,
    /// The calendar table: one row per date.
    pub table: String,
    /// Its date column (a date or a midnight timestamp).
    pub date_column: String,
    /// The column holding each date's period (typically the period's first date); defaults
    /// to the grain's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl CustomGrain {
    /// The column holding each date's period.
    pub fn period_column(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }
}

/// How a time value is bucketed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    /// `date_trunc` to a unit.
    Trunc(TimeUnit),
    /// A custom grain: index into the layer's `custom_grains`.
    Custom(usize),
    /// A date part, as a number.
    Part(DatePart),
}

impl Bucket {
    /// The group-by suffix: `month`, `extract_dow`, `alien_day`.
    pub fn suffix(&self, customs: &[CustomGrain]) -> String {
        match self {
            Bucket::Trunc(u) => u.as_str().to_string(),
            Bucket::Custom(i) => customs.get(*i).map_or(String::new(), |c| c.name.clone()),
            Bucket::Part(p) => format!("extract_{}", p.as_str()),
        }
    }

    /// The SQL of `col` bucketed. Day and coarser units are dates, finer ones timestamps,
    /// parts numbers, custom grains the calendar's period value (as a date).
    pub fn sql(&self, col: &str, customs: &[CustomGrain]) -> String {
        match self {
            Bucket::Trunc(u) if u.is_sub_daily() => {
                format!("date_trunc('{}', CAST({col} AS TIMESTAMP))", u.as_str())
            }
            Bucket::Trunc(TimeUnit::Day) => format!("CAST({col} AS DATE)"),
            Bucket::Trunc(u) => format!(
                "CAST(date_trunc('{}', CAST({col} AS TIMESTAMP)) AS DATE)",
                u.as_str()
            ),
            Bucket::Part(p) => format!(
                "CAST(EXTRACT({} FROM CAST({col} AS TIMESTAMP)) AS BIGINT)",
                p.sql_field()
            ),
            Bucket::Custom(i) => match customs.get(*i) {
                Some(c) => format!(
                    "(SELECT CAST(cg.{period} AS DATE) FROM {table} AS cg WHERE CAST(cg.{date} AS DATE) = CAST({col} AS DATE))",
                    period = quote(c.period_column()),
                    table = c.table,
                    date = quote(&c.date_column),
                ),
                None => "NULL".into(),
            },
        }
    }

    /// Checks the bucket against the dimension's own unit: no truncation finer than the
    /// values carry, no date part they cannot have.
    pub fn check(&self, dim: &str, unit: TimeUnit) -> Result<(), String> {
        match self {
            Bucket::Trunc(u) if *u < unit => Err(format!(
                "{dim} is recorded by the {unit}, so it cannot be grouped by the {u}"
            )),
            Bucket::Part(p) if p.needs() < unit => Err(format!(
                "{dim} is recorded by the {unit}, so it has no {} part",
                p.as_str()
            )),
            Bucket::Custom(_) if unit > TimeUnit::Day => Err(format!(
                "{dim} is recorded by the {unit}; custom grains read a date"
            )),
            _ => Ok(()),
        }
    }

    /// True when the bucketed value is a number (a date part), not a time.
    pub fn is_number(&self) -> bool {
        matches!(self, Bucket::Part(_))
    }
}

/// A name split into the time it reads and how it is bucketed: `booking__ds__month` ->
/// (`booking__ds`, month); `metric_time__extract_dow` -> (`metric_time`, dow). `None` when
/// the last `__` part is not a unit, a part or a custom grain.
pub fn split_time_name<'a>(name: &'a str, customs: &[CustomGrain]) -> Option<(&'a str, Bucket)> {
    let (base, suffix) = name.rsplit_once("__")?;
    if base.is_empty() {
        return None;
    }
    let bucket = if let Some(u) = TimeUnit::parse(suffix) {
        Bucket::Trunc(u)
    } else if let Some(p) = suffix.strip_prefix("extract_").and_then(DatePart::parse) {
        Bucket::Part(p)
    } else {
        Bucket::Custom(customs.iter().position(|c| c.name == suffix)?)
    };
    Some((base, bucket))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alien() -> Vec<CustomGrain> {
        vec![CustomGrain {
            name: "alien_day".into(),
            table: "mf_time_spine".into(),
            date_column: "ds".into(),
            column: None,
        }]
    }

    #[test]
    fn names_split_into_base_and_bucket() {
        let c = alien();
        assert_eq!(
            split_time_name("booking__ds__month", &c),
            Some(("booking__ds", Bucket::Trunc(TimeUnit::Month)))
        );
        assert_eq!(
            split_time_name("metric_time__extract_dow", &c),
            Some(("metric_time", Bucket::Part(DatePart::Dow)))
        );
        assert_eq!(
            split_time_name("listing__user__ds__alien_day", &c),
            Some(("listing__user__ds", Bucket::Custom(0)))
        );
        assert_eq!(split_time_name("booking__is_instant", &c), None);
        assert_eq!(split_time_name("metric_time__extract_week", &c), None);
        assert_eq!(split_time_name("__month", &c), None);
    }

    #[test]
    fn buckets_check_the_dimension_unit() {
        let month = Bucket::Trunc(TimeUnit::Month);
        assert!(month.check("ds", TimeUnit::Day).is_ok());
        assert!(Bucket::Trunc(TimeUnit::Day)
            .check("ds_month", TimeUnit::Month)
            .is_err());
        assert!(Bucket::Part(DatePart::Year)
            .check("ds_month", TimeUnit::Month)
            .is_ok());
        assert!(Bucket::Part(DatePart::Doy)
            .check("ds_month", TimeUnit::Month)
            .is_err());
        assert!(Bucket::Custom(0).check("ts", TimeUnit::Hour).is_ok());
    }

    #[test]
    fn bucket_sql_keeps_dates_dates_and_timestamps_timestamps() {
        let c = alien();
        assert_eq!(
            Bucket::Trunc(TimeUnit::Hour).sql("t0.x", &c),
            "date_trunc('hour', CAST(t0.x AS TIMESTAMP))"
        );
        assert_eq!(
            Bucket::Trunc(TimeUnit::Quarter).sql("t0.x", &c),
            "CAST(date_trunc('quarter', CAST(t0.x AS TIMESTAMP)) AS DATE)"
        );
        assert!(Bucket::Part(DatePart::Dow)
            .sql("t0.x", &c)
            .contains("EXTRACT(isodow"));
        assert!(Bucket::Custom(0)
            .sql("t0.x", &c)
            .contains("FROM mf_time_spine AS cg"));
    }
}
