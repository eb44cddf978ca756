//! Detection: one grouped query per signal over its window (all days, all scope members),
//! then each kind's rule in memory. The rules are pure functions of the series, so the
//! benchmark replays two years day by day with a handful of queries per signal.
//!
//! The period a run evaluates is the last complete period before its day: yesterday, last
//! week (Monday to Sunday) or last month.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, Months, NaiveDate};

use super::{Baseline, Direction, Kind, Peak, Signal, SignalError};
use crate::engine::Engine;
use crate::semantic::{graph, Condition, Grain, Literal, MetricQuery, Op, OrderBy, TimeRange};
use crate::skills::run::Runtime;
use crate::warehouse::{AuditContext, Value};

/// The requester signals query as: the system (the operator's access). What a recipient may
/// see is checked when the firing is delivered.
pub const REQUESTER: &str = "cortex";

/// The smallest spread (in log units, about 10%) a baseline is assumed to have.
const MIN_LOG_SPREAD: f64 = 0.1;

/// One detection: a signal's rule held for a scope member in a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The period evaluated.
    pub period: TimeRange,
    /// The scope member (`None` for an unscoped signal).
    pub member: Option<String>,
    /// The period's value.
    pub value: Option<f64>,
    /// What it was compared with (the usual value, the baseline period's value, the
    /// threshold, the OKR target or the total).
    pub baseline: Option<f64>,
    /// What the baseline is, in words, `{}` standing for its value: "its usual {} for a
    /// Thursday", "{} the week before".
    pub basis: String,
    /// The period the drivers compare with, when there is one.
    pub baseline_period: Option<TimeRange>,
    /// Kind-specific strength: the robust score, the relative change, the share, the
    /// projected attainment.
    pub score: Option<f64>,
    /// The member holding the share (concentration).
    pub top_member: Option<String>,
    /// Record-level rows (new_events) and their column names.
    pub record_columns: Vec<String>,
    pub records: Vec<Vec<Value>>,
}

impl Hit {
    fn new(period: TimeRange, member: Option<String>) -> Hit {
        Hit {
            period,
            member,
            value: None,
            baseline: None,
            basis: String::new(),
            baseline_period: None,
            score: None,
            top_member: None,
            record_columns: Vec::new(),
            records: Vec::new(),
        }
    }
}

/// The first day of the bucket of `grain` holding `d` (weeks start on Monday).
pub fn bucket(grain: Grain, d: NaiveDate) -> NaiveDate {
    match grain {
        Grain::Day => d,
        Grain::Week => d - Duration::days(d.weekday().num_days_from_monday() as i64),
        Grain::Month => d.with_day(1).unwrap_or(d),
        Grain::Quarter => {
            NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1).unwrap_or(d)
        }
        Grain::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d),
    }
}

/// The period of `grain` starting at `start`.
pub fn period_at(grain: Grain, start: NaiveDate) -> TimeRange {
    let to = match grain {
        Grain::Day => start,
        Grain::Week => start + Duration::days(6),
        _ => {
            let months = match grain {
                Grain::Month => 1,
                Grain::Quarter => 3,
                _ => 12,
            };
            start
                .checked_add_months(Months::new(months))
                .map_or(start, |d| d - Duration::days(1))
        }
    };
    TimeRange { from: start, to }
}

/// The last complete period of `grain` before `today`.
pub fn period_for(grain: Grain, today: NaiveDate) -> TimeRange {
    let current = bucket(grain, today);
    period_at(grain, bucket(grain, current - Duration::days(1)))
}

/// The period a baseline compares with: the one before, or the same one a year earlier
/// (364 days for days and weeks, so weekdays line up).
pub fn shift(grain: Grain, p: TimeRange, against: Baseline) -> TimeRange {
    match (against, grain) {
        (Baseline::PreviousPeriod, _) => period_for(grain, p.from),
        (Baseline::YearAgo, Grain::Day | Grain::Week) => TimeRange {
            from: p.from - Duration::days(364),
            to: p.to - Duration::days(364),
        },
        (Baseline::YearAgo, _) => {
            let from = p.from.checked_sub_months(Months::new(12)).unwrap_or(p.from);
            period_at(grain, from)
        }
    }
}

/// The ledger's name of a period: `2026-11-19`, `2026-W47`, `2026-11`.
pub fn window_label(grain: Grain, p: TimeRange) -> String {
    match grain {
        Grain::Week => {
            let w = p.from.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        Grain::Month => p.from.format("%Y-%m").to_string(),
        Grain::Quarter => format!("{}-Q{}", p.from.year(), (p.from.month() - 1) / 3 + 1),
        Grain::Year => p.from.format("%Y").to_string(),
        Grain::Day => p.from.to_string(),
    }
}

/// Thanksgiving (the fourth Thursday of November) of a year.
pub fn thanksgiving(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 11, chrono::Weekday::Thu, 4)
}

/// Runs a governed query as the signals' requester; a result cut by the row cap is run
/// again in two halves of its time range.
pub fn query(
    engine: &Engine,
    signal: &str,
    q: &MetricQuery,
    today: NaiveDate,
) -> Result<Table, SignalError> {
    let ctx = AuditContext {
        requester: REQUESTER.into(),
        question: format!("signal {signal}"),
        query_json: None,
    };
    let out = engine
        .query(q, today, &ctx)
        .map_err(|source| SignalError::Query {
            signal: signal.to_string(),
            source,
        })?;
    match q.time_range {
        Some(r) if out.result.truncated && r.from < r.to => {
            let mid = r.from + Duration::days((r.to - r.from).num_days() / 2);
            let mut a = q.clone();
            a.time_range = Some(TimeRange {
                from: r.from,
                to: mid,
            });
            let mut b = q.clone();
            b.time_range = Some(TimeRange {
                from: mid + Duration::days(1),
                to: r.to,
            });
            let mut t = query(engine, signal, &a, today)?;
            let u = query(engine, signal, &b, today)?;
            t.rows.extend(u.rows);
            t.sql.extend(u.sql);
            Ok(t)
        }
        _ => Ok(Table {
            columns: out.result.columns,
            meta: out.compiled.columns,
            rows: out.result.rows,
            sql: vec![out.compiled.sql],
        }),
    }
}

/// A query's result with its column roles and the SQL that made it.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub meta: Vec<crate::semantic::Column>,
    pub rows: Vec<Vec<Value>>,
    pub sql: Vec<String>,
}

impl Table {
    fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// A metric's values per scope member and bucket, with the volume (row count) beside each.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub points: BTreeMap<Option<String>, BTreeMap<NaiveDate, Point>>,
    pub sql: Vec<String>,
}

impl Series {
    /// Adds another series' points (of other buckets) and SQL.
    pub fn merge(&mut self, other: Series) {
        for (m, pts) in other.points {
            self.points.entry(m).or_default().extend(pts);
        }
        self.sql.extend(other.sql);
    }
}

/// One bucket's value and volume.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Point {
    pub value: Option<f64>,
    pub volume: Option<f64>,
}

/// The metric that counts a signal's rows (for `min_count`): the metric itself when it is
/// an additive count, else the plain count of its model.
pub fn volume_metric(engine: &Engine, metric: &str) -> Option<String> {
    let layer = &engine.layer;
    let m = layer.metric_index(metric)?;
    if graph::additive(layer, m) {
        return None;
    }
    let time = graph::own_time(layer, m)?;
    graph::base_count_metric(layer, &time).map(|i| layer.metrics[i].name.clone())
}

/// The signal's metric (and its volume) by bucket and scope member over `range`: one query.
pub fn series(
    engine: &Engine,
    s: &Signal,
    range: TimeRange,
    today: NaiveDate,
) -> Result<Series, SignalError> {
    let volume = volume_metric(engine, &s.metric);
    let mut metrics = vec![s.metric.clone()];
    metrics.extend(volume.clone());
    let q = MetricQuery {
        metrics,
        group_by: s.scope.iter().cloned().collect(),
        grain: Some(s.grain),
        filters: s.filters.clone(),
        time_range: Some(range),
        ..MetricQuery::default()
    };
    let t = query(engine, &s.name, &q, today)?;
    let time = t
        .meta
        .iter()
        .position(|c| matches!(c.role, crate::semantic::ColumnRole::Time { .. }));
    let scope = s.scope.as_deref().and_then(|d| t.col(d));
    let value = t.col(&s.metric);
    let vol = volume.as_deref().and_then(|v| t.col(v));
    let mut out = Series {
        points: BTreeMap::new(),
        sql: t.sql.clone(),
    };
    let (Some(time), Some(value)) = (time, value) else {
        return Ok(out);
    };
    for r in &t.rows {
        let Some(d) = r[time].as_date() else { continue };
        let member = scope.map(|i| crate::format::value(&r[i]));
        let v = r[value].as_f64();
        let w = match vol {
            Some(i) => r[i].as_f64(),
            None => v,
        };
        out.points.entry(member).or_default().insert(
            d,
            Point {
                value: v,
                volume: w,
            },
        );
    }
    Ok(out)
}

/// Everything `signal` finds on each evaluation day from `first` to `last` (each day
/// evaluates the last complete period before it; a period is reported once).
pub fn detect(
    rt: &Runtime,
    s: &Signal,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<Hit>, SignalError> {
    let mut periods: Vec<TimeRange> = Vec::new();
    let mut d = first;
    while d <= last {
        let p = period_for(s.grain, d);
        if periods.last() != Some(&p) {
            periods.push(p);
        }
        d += Duration::days(1);
    }
    let (Some(&p0), Some(&pn)) = (periods.first(), periods.last()) else {
        return Ok(Vec::new());
    };
    let engine = &rt.engine;
    match &s.kind {
        Kind::Threshold { above, below } => {
            let ser = series(engine, s, span(p0, pn), last)?;
            Ok(threshold(s, &ser, &periods, *above, *below))
        }
        Kind::Change {
            against,
            percent,
            absolute,
        } => {
            let from = shift(s.grain, p0, *against).from;
            let ser = series(engine, s, span_from(from, pn), last)?;
            Ok(change(s, &ser, &periods, *against, *percent, *absolute))
        }
        Kind::Anomaly {
            score,
            weeks,
            peaks,
            min_count,
            min_change,
        } => {
            let history = match s.grain {
                Grain::Day => 7 * (*weeks as i64 + 1),
                Grain::Week => 7 * (*weeks as i64 + 1),
                _ => 31 * (*weeks as i64 + 1),
            };
            // The trailing weeks, and last year's weeks around the same day.
            let year = p0.from - Duration::days(371 + history);
            let ser = if (pn.to - p0.from).num_days() < 60 {
                let mut a = series(
                    engine,
                    s,
                    span_from(p0.from - Duration::days(history), pn),
                    last,
                )?;
                let b = series(
                    engine,
                    s,
                    TimeRange {
                        from: year,
                        to: pn.to - Duration::days(364 - history),
                    },
                    last,
                )?;
                a.merge(b);
                a
            } else {
                series(engine, s, span_from(year, pn), last)?
            };
            let rule = AnomalyRule {
                score: *score,
                weeks: *weeks,
                peaks,
                min_count: *min_count,
                min_change: *min_change,
                count: engine
                    .layer
                    .metric(&s.metric)
                    .is_some_and(|m| m.unit == crate::semantic::Unit::Count),
            };
            Ok(anomaly(s, &ser, &periods, &rule))
        }
        Kind::OkrPace { okr, margin } => okr_pace(rt, s, &periods, okr, *margin, last),
        Kind::Concentration { dimension, share } => {
            concentration(engine, s, &periods, dimension, *share, last)
        }
        Kind::NewEvents {
            columns,
            min_metric,
        } => new_events(engine, s, &periods, columns, min_metric.as_ref(), last),
    }
}

fn span(a: TimeRange, b: TimeRange) -> TimeRange {
    TimeRange {
        from: a.from,
        to: b.to,
    }
}

fn span_from(from: NaiveDate, b: TimeRange) -> TimeRange {
    TimeRange { from, to: b.to }
}

/// True when a move from `base` to `value` is in the bad direction (or any, for `Any`).
fn bad(direction: Direction, delta: f64) -> bool {
    match direction {
        Direction::UpIsGood => delta < 0.0,
        Direction::DownIsGood => delta > 0.0,
        Direction::Any => delta != 0.0,
    }
}

fn threshold(
    s: &Signal,
    ser: &Series,
    periods: &[TimeRange],
    above: Option<f64>,
    below: Option<f64>,
) -> Vec<Hit> {
    let mut out = Vec::new();
    for p in periods {
        for (member, pts) in &ser.points {
            let Some(v) = pts.get(&p.from).and_then(|x| x.value) else {
                continue;
            };
            let limit = match (above, below) {
                (Some(a), _) if v > a => Some((a, "above")),
                (_, Some(b)) if v < b => Some((b, "below")),
                _ => None,
            };
            if let Some((l, word)) = limit {
                let mut h = Hit::new(*p, member.clone());
                h.value = Some(v);
                h.baseline = Some(l);
                h.basis = format!("{word} the threshold of {{}}");
                h.baseline_period = Some(period_for(s.grain, p.from));
                h.score = Some(if l != 0.0 { v / l } else { 0.0 });
                out.push(h);
            }
        }
    }
    out
}

fn change(
    s: &Signal,
    ser: &Series,
    periods: &[TimeRange],
    against: Baseline,
    percent: Option<f64>,
    absolute: Option<f64>,
) -> Vec<Hit> {
    let mut out = Vec::new();
    for p in periods {
        let b = shift(s.grain, *p, against);
        for (member, pts) in &ser.points {
            let (Some(v), Some(base)) = (
                pts.get(&p.from).and_then(|x| x.value),
                pts.get(&b.from).and_then(|x| x.value),
            ) else {
                continue;
            };
            let delta = v - base;
            if !bad(s.direction, delta) {
                continue;
            }
            let rel = if base != 0.0 {
                delta / base.abs()
            } else {
                f64::INFINITY
            };
            let pct_ok = percent.is_none_or(|pc| rel.abs() >= pc);
            let abs_ok = absolute.is_none_or(|a| delta.abs() >= a);
            if pct_ok && abs_ok {
                let mut h = Hit::new(*p, member.clone());
                h.value = Some(v);
                h.baseline = Some(base);
                h.basis = match against {
                    Baseline::PreviousPeriod => format!("{{}} the {} before", grain_word(s.grain)),
                    Baseline::YearAgo => {
                        format!("{{}} the same {} a year earlier", grain_word(s.grain))
                    }
                };
                h.baseline_period = Some(b);
                h.score = Some(rel);
                out.push(h);
            }
        }
    }
    out
}

/// "day", "week", "month".
pub fn grain_word(g: Grain) -> &'static str {
    match g {
        Grain::Day => "day",
        Grain::Week => "week",
        Grain::Month => "month",
        Grain::Quarter => "quarter",
        Grain::Year => "year",
    }
}

struct AnomalyRule<'a> {
    score: f64,
    weeks: u32,
    peaks: &'a [Peak],
    min_count: f64,
    /// The smallest relative change that is an anomaly (0.5 = 50% up, or down to 1/1.5).
    min_change: f64,
    /// The metric counts rows (logs take +1).
    count: bool,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Log of a value; counts get +1 so a zero stays finite.
fn ln(v: f64, count: bool) -> f64 {
    if count {
        (v.max(0.0) + 1.0).ln()
    } else {
        v.max(1e-9).ln()
    }
}

/// A member's log values by bucket, zero-filled for counts from the first bucket of data.
struct Logs {
    x: BTreeMap<NaiveDate, f64>,
    first: NaiveDate,
    grain: Grain,
    count: bool,
}

impl Logs {
    fn new(pts: &BTreeMap<NaiveDate, Point>, first: NaiveDate, grain: Grain, count: bool) -> Logs {
        Logs {
            x: pts
                .iter()
                // A log needs a positive value; counts take +1.
                .filter_map(|(d, p)| Some((*d, p.value.filter(|v| count || *v > 0.0)?)))
                .map(|(d, v)| (d, ln(v, count)))
                .collect(),
            first,
            grain,
            count,
        }
    }

    /// The log value of bucket `d`: a missing count inside the data is a zero.
    fn get(&self, d: NaiveDate) -> Option<f64> {
        match self.x.get(&d) {
            Some(x) => Some(*x),
            None if self.count && d >= self.first => Some(0.0),
            None => None,
        }
    }

    /// Bucket `k` steps before `d` (weeks for days and weeks, months for months).
    fn back(&self, d: NaiveDate, k: u32) -> NaiveDate {
        match self.grain {
            Grain::Day | Grain::Week => d - Duration::days(7 * k as i64),
            _ => d
                .checked_sub_months(Months::new(k))
                .unwrap_or(d - Duration::days(30 * k as i64)),
        }
    }

    /// The robust baseline of bucket `at`: the median of the log values of the same
    /// weekday (days) or of the buckets `ks` steps back (negative: forward), and the
    /// spread: 1.4826 × the MAD of the residuals pooled over every weekday of those weeks
    /// (days), at least [`MIN_LOG_SPREAD`], and for counts at least the Poisson spread of
    /// the expected count. `None` when fewer than `need` of the buckets have data.
    fn robust(&self, at: NaiveDate, ks: &[i64], need: usize) -> Option<(f64, f64)> {
        let lane = |offset: i64| -> Vec<f64> {
            ks.iter()
                .filter_map(|&k| self.get(self.step(at, k) - Duration::days(offset)))
                .collect()
        };
        let same = lane(0);
        if same.len() < need {
            return None;
        }
        let med = median(&mut same.clone())?;
        let offsets: &[i64] = if self.grain == Grain::Day {
            &[0, 1, 2, 3, 4, 5, 6]
        } else {
            &[0]
        };
        let mut residuals = Vec::new();
        for &o in offsets {
            let mut l = if o == 0 { same.clone() } else { lane(o) };
            if let Some(m) = median(&mut l) {
                residuals.extend(l.iter().map(|x| (x - m).abs()));
            }
        }
        let mad = median(&mut residuals)? * 1.4826;
        let mut spread = mad.max(MIN_LOG_SPREAD);
        if self.count {
            // The spread of ln(c + 1) for a Poisson count c is about sqrt(c) / (c + 1).
            let c = (med.exp() - 1.0).max(1.0);
            spread = spread.max(c.sqrt() / (c + 1.0));
        }
        Some((med, spread))
    }

    /// `k` buckets before `d` (after, for negative `k`).
    fn step(&self, d: NaiveDate, k: i64) -> NaiveDate {
        match self.grain {
            Grain::Day | Grain::Week => d - Duration::days(7 * k),
            _ if k >= 0 => self.back(d, k as u32),
            _ => d
                .checked_add_months(Months::new((-k) as u32))
                .unwrap_or(d + Duration::days(-30 * k)),
        }
    }
}

/// The day a year earlier that plays the same part: the same offset from Thanksgiving in
/// BFCM season, else 364 days back (the same weekday).
fn year_ago_day(d: NaiveDate) -> NaiveDate {
    if let (Some(t), Some(t0)) = (thanksgiving(d.year()), thanksgiving(d.year() - 1)) {
        let off = (d - t).num_days();
        if (-7..=11).contains(&off) {
            return t0 + Duration::days(off);
        }
    }
    d - Duration::days(364)
}

fn in_peak(peaks: &[Peak], d: NaiveDate) -> bool {
    peaks.iter().any(|p| match p {
        Peak::Bfcm => thanksgiving(d.year()).is_some_and(|t| d >= t && d <= t + Duration::days(4)),
        Peak::Month(m) => d.month() == *m,
        Peak::Dates { from, to } => d >= *from && d <= *to,
    })
}

fn anomaly(s: &Signal, ser: &Series, periods: &[TimeRange], r: &AnomalyRule) -> Vec<Hit> {
    let grain = s.grain;
    let count = r.count;
    let first = ser
        .points
        .values()
        .filter_map(|p| p.keys().next().copied())
        .min();
    let Some(first) = first else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (member, pts) in &ser.points {
        let logs = Logs::new(pts, first, grain, count);
        for p in periods {
            let Some(pt) = pts.get(&p.from) else { continue };
            let Some(v) = pt.value else { continue };
            if pt.volume.unwrap_or(0.0) < r.min_count {
                continue;
            }
            // No verdict without a full baseline (the first weeks of the data).
            if logs.back(p.from, r.weeks) < first {
                continue;
            }
            let n = r.weeks as i64;
            let trailing: Vec<i64> = (1..=n).collect();
            let Some((med, spread)) = logs.robust(p.from, &trailing, trailing.len()) else {
                continue;
            };
            // Seasonality: when the same period last year stood out from its own trailing
            // baseline (BFCM, the December rush, January churn) or sits in a declared peak,
            // expect the same lift now.
            let y = match grain {
                Grain::Day => year_ago_day(p.from),
                _ => shift(grain, *p, Baseline::YearAgo).from,
            };
            // Last year's level around the same day (weeks before and after), so a trend
            // (growth) is not read as a seasonal lift.
            let around: Vec<i64> = (-(n / 2)..=n / 2).filter(|k| *k != 0).collect();
            let ya = logs
                .get(y)
                .zip(logs.robust(y, &around, around.len().div_ceil(2)));
            let peak = in_peak(r.peaks, p.from);
            let (expected, spread) = match ya {
                Some((xy, (my, sy))) => {
                    let lift = xy - my;
                    if peak || lift.abs() > 2.0 * sy {
                        (med + lift, (spread * spread + sy * sy).sqrt())
                    } else {
                        (med, spread)
                    }
                }
                // A declared peak without last year's data to compare with: no verdict.
                None if peak => continue,
                None => (med, spread),
            };
            let x = ln(v, count);
            let z = (x - expected) / spread;
            let fires = match s.direction {
                Direction::UpIsGood => z <= -r.score,
                Direction::DownIsGood => z >= r.score,
                Direction::Any => z.abs() >= r.score,
            };
            if !fires || (x - expected).abs() < (1.0 + r.min_change).ln() {
                continue;
            }
            let usual = if count {
                expected.exp() - 1.0
            } else {
                expected.exp()
            };
            let mut h = Hit::new(*p, member.clone());
            h.value = Some(v);
            h.baseline = Some(usual);
            h.basis = match grain {
                Grain::Day => format!("its usual {{}} for a {}", p.from.format("%A")),
                g => format!("its usual {{}} for a {}", grain_word(g)),
            };
            // Drivers compare with the week before (days), or the trailing periods.
            h.baseline_period = Some(TimeRange {
                from: match grain {
                    Grain::Day => p.from - Duration::days(7),
                    _ => logs.back(p.from, r.weeks.min(4)),
                },
                to: p.from - Duration::days(1),
            });
            h.score = Some(z);
            out.push(h);
        }
    }
    out
}

fn okr_pace(
    rt: &Runtime,
    s: &Signal,
    periods: &[TimeRange],
    okr_id: &str,
    margin: f64,
    today: NaiveDate,
) -> Result<Vec<Hit>, SignalError> {
    let Some(okr) = rt.context.okr(okr_id) else {
        return Err(SignalError::Invalid {
            signal: s.name.clone(),
            message: format!("no OKR {okr_id:?}"),
        });
    };
    let Some(last) = periods.last() else {
        return Ok(Vec::new());
    };
    let q = MetricQuery {
        metrics: vec![okr.metric.clone()],
        grain: Some(Grain::Week),
        filters: s.filters.clone(),
        time_range: Some(TimeRange {
            from: okr.start,
            to: last.to.min(okr.due),
        }),
        ..MetricQuery::default()
    };
    let t = query(&rt.engine, &s.name, &q, today)?;
    let (Some(tc), Some(vc)) = (
        t.meta
            .iter()
            .position(|c| matches!(c.role, crate::semantic::ColumnRole::Time { .. })),
        t.col(&okr.metric),
    ) else {
        return Ok(Vec::new());
    };
    let pts: Vec<(NaiveDate, f64)> = t
        .rows
        .iter()
        .filter_map(|r| Some((r[tc].as_date()?, r[vc].as_f64()?)))
        .collect();
    let up = s.direction != Direction::DownIsGood;
    let mut out = Vec::new();
    for p in periods {
        if p.to < okr.start || p.from > okr.due {
            continue;
        }
        // Whole weeks up to the end of the period.
        let known: Vec<(NaiveDate, f64)> = pts
            .iter()
            .copied()
            .filter(|(d, _)| *d + Duration::days(6) <= p.to)
            .collect();
        let Some(projected) = crate::skills::steps::project_points(&known, okr.due).map(|f| f.0)
        else {
            continue;
        };
        let short = if up {
            projected < okr.target * (1.0 - margin)
        } else {
            projected > okr.target * (1.0 + margin)
        };
        if short {
            let mut h = Hit::new(*p, None);
            h.value = Some(projected);
            h.baseline = Some(okr.target);
            h.basis = format!("its {{}} target for {}", crate::format::date(okr.due));
            h.score = Some(if okr.target != 0.0 {
                projected / okr.target
            } else {
                0.0
            });
            h.top_member = Some(okr.title.clone());
            out.push(h);
        }
    }
    Ok(out)
}

fn concentration(
    engine: &Engine,
    s: &Signal,
    periods: &[TimeRange],
    dimension: &str,
    share: f64,
    today: NaiveDate,
) -> Result<Vec<Hit>, SignalError> {
    let mut out = Vec::new();
    for p in periods {
        // The total per scope member, then the largest member of `dimension` per scope
        // member: two grouped queries per period.
        let totals = MetricQuery {
            metrics: vec![s.metric.clone()],
            group_by: s.scope.iter().cloned().collect(),
            filters: s.filters.clone(),
            time_range: Some(*p),
            ..MetricQuery::default()
        };
        let t = query(engine, &s.name, &totals, today)?;
        let vc = t.col(&s.metric);
        let sc = s.scope.as_deref().and_then(|d| t.col(d));
        for r in &t.rows {
            let Some(total) = vc.and_then(|i| r[i].as_f64()) else {
                continue;
            };
            if total <= 0.0 {
                continue;
            }
            let member = sc.map(|i| crate::format::value(&r[i]));
            let mut filters = s.filters.clone();
            if let (Some(d), Some(m)) = (&s.scope, &member) {
                filters.push(Condition::eq(d, m));
            }
            let top = MetricQuery {
                metrics: vec![s.metric.clone()],
                group_by: vec![dimension.to_string()],
                filters,
                time_range: Some(*p),
                order: vec![OrderBy {
                    field: s.metric.clone(),
                    desc: true,
                }],
                limit: Some(1),
                ..MetricQuery::default()
            };
            let u = query(engine, &s.name, &top, today)?;
            let (Some(dc), Some(uc)) = (u.col(dimension), u.col(&s.metric)) else {
                continue;
            };
            let Some(row) = u.rows.first() else { continue };
            let Some(v) = row[uc].as_f64() else { continue };
            if v / total > share {
                let mut h = Hit::new(*p, member);
                h.value = Some(v);
                h.baseline = Some(total);
                h.basis = "the total".into();
                h.score = Some(v / total);
                h.top_member = Some(crate::format::value(&row[dc]));
                h.baseline_period = Some(period_for(s.grain, p.from));
                out.push(h);
            }
        }
    }
    Ok(out)
}

fn new_events(
    engine: &Engine,
    s: &Signal,
    periods: &[TimeRange],
    columns: &[String],
    min_metric: Option<&(String, f64)>,
    today: NaiveDate,
) -> Result<Vec<Hit>, SignalError> {
    let (Some(p0), Some(pn)) = (periods.first(), periods.last()) else {
        return Ok(Vec::new());
    };
    let layer = &engine.layer;
    let time = layer
        .metric_index(&s.metric)
        .and_then(|m| graph::own_time(layer, m))
        .ok_or_else(|| SignalError::Invalid {
            signal: s.name.clone(),
            message: format!("metric {:?} has no time dimension", s.metric),
        })?;
    let mut group_by = vec![time.clone()];
    group_by.extend(s.scope.iter().cloned());
    for c in columns {
        if !group_by.contains(c) {
            group_by.push(c.clone());
        }
    }
    let q = MetricQuery {
        metrics: Vec::new(),
        group_by: group_by.clone(),
        filters: s.filters.clone(),
        time_range: Some(span(*p0, *pn)),
        ..MetricQuery::default()
    };
    let t = query(engine, &s.name, &q, today)?;
    let Some(tc) = t.col(&time) else {
        return Ok(Vec::new());
    };
    let sc = s.scope.as_deref().and_then(|d| t.col(d));
    // Entities at or above `min_metric`, as of the end of the window.
    let keep: Option<BTreeMap<String, f64>> = match (min_metric, &s.scope, sc) {
        (Some((metric, floor)), Some(scope), Some(sc)) => {
            let ids: Vec<Literal> = t
                .rows
                .iter()
                .map(|r| crate::format::value(&r[sc]))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(Literal::Str)
                .collect();
            if ids.is_empty() {
                Some(BTreeMap::new())
            } else {
                let q = MetricQuery {
                    metrics: vec![metric.clone()],
                    group_by: vec![scope.clone()],
                    filters: vec![Condition {
                        dimension: scope.clone(),
                        op: Op::In,
                        values: ids,
                    }],
                    time_range: Some(TimeRange {
                        from: NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(p0.from),
                        to: pn.to,
                    }),
                    ..MetricQuery::default()
                };
                let m = query(engine, &s.name, &q, today)?;
                let (Some(ic), Some(vc)) = (m.col(scope), m.col(metric)) else {
                    return Ok(Vec::new());
                };
                Some(
                    m.rows
                        .iter()
                        .filter_map(|r| Some((crate::format::value(&r[ic]), r[vc].as_f64()?)))
                        .filter(|(_, v)| *v >= *floor)
                        .collect(),
                )
            }
        }
        _ => None,
    };
    let mut out = Vec::new();
    for p in periods {
        let mut by_member: BTreeMap<Option<String>, Vec<Vec<Value>>> = BTreeMap::new();
        for r in &t.rows {
            let Some(d) = r[tc].as_date() else { continue };
            if d < p.from || d > p.to {
                continue;
            }
            let member = sc.map(|i| crate::format::value(&r[i]));
            if let (Some(keep), Some(m)) = (&keep, &member) {
                if !keep.contains_key(m) {
                    continue;
                }
            }
            by_member.entry(member).or_default().push(r.clone());
        }
        for (member, rows) in by_member {
            let mut h = Hit::new(*p, member.clone());
            h.value = Some(rows.len() as f64);
            h.baseline = member
                .as_ref()
                .and_then(|m| keep.as_ref().and_then(|k| k.get(m).copied()));
            h.basis = min_metric.map_or(String::new(), |(m, _)| m.clone());
            h.record_columns = t.columns.clone();
            h.records = rows;
            out.push(h);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_are_the_last_complete_one() {
        // Monday 2026-11-30.
        let t = d("2026-11-30");
        assert_eq!(period_for(Grain::Day, t).from, d("2026-11-29"));
        let w = period_for(Grain::Week, t);
        assert_eq!((w.from, w.to), (d("2026-11-23"), d("2026-11-29")));
        assert_eq!(window_label(Grain::Week, w), "2026-W48");
        // Any day of the next week evaluates the same week.
        assert_eq!(period_for(Grain::Week, d("2026-12-06")), w);
        let m = period_for(Grain::Month, t);
        assert_eq!((m.from, m.to), (d("2026-10-01"), d("2026-10-31")));
        assert_eq!(window_label(Grain::Month, m), "2026-10");
        let y = shift(Grain::Day, period_for(Grain::Day, t), Baseline::YearAgo);
        assert_eq!(y.from.weekday(), d("2026-11-29").weekday());
    }

    #[test]
    fn black_friday_compares_with_last_black_friday() {
        // Black Friday 2026 is Nov 27, 2025's was Nov 28.
        assert_eq!(year_ago_day(d("2026-11-27")), d("2025-11-28"));
        assert_eq!(year_ago_day(d("2026-06-10")), d("2025-06-11"));
    }
}
