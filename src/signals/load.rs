//! Compiles raw signal files into validated [`Signal`]s, reporting every problem at once
//! with file, line and key.

use std::path::{Path, PathBuf};

use chrono::NaiveTime;

use super::spec::{RawFile, RawPeak, RawSignal};
use super::{Baseline, Direction, Kind, Peak, QuietHours, Severity, Signal, SignalSet};
use crate::context::Context;
use crate::diagnostics::{Diagnostic, Diagnostics, Reporter};
use crate::fuzzy::did_you_mean;
use crate::semantic::graph;
use crate::semantic::raw::Better;
use crate::semantic::{Condition, Grain, SemanticLayer, Unit};

/// Loads every `*.yaml` in `dir` (a missing directory is an empty set).
pub fn load(dir: &Path, layer: &SemanticLayer, ctx: &Context) -> Result<SignalSet, Diagnostics> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    let mut all: Vec<Diagnostic> = Vec::new();
    let mut signals: Vec<Signal> = Vec::new();
    for file in files {
        let src = match std::fs::read_to_string(&file) {
            Ok(s) => s,
            Err(e) => {
                all.push(Diagnostic {
                    file: file.clone(),
                    line: None,
                    key: String::new(),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let raw: RawFile = match serde_norway::from_str(&src) {
            Ok(r) => r,
            Err(e) => {
                all.push(Diagnostic {
                    file: file.clone(),
                    line: e.location().map(|l| l.line()),
                    key: String::new(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let mut rep = Reporter::new(&file, &src);
        for r in raw.signals {
            if let Some(s) = compile(r, &file, layer, ctx, &mut rep) {
                if signals.iter().any(|x| x.name == s.name) {
                    rep.error(
                        &["signals", &s.name, "name"],
                        format!("duplicate signal name {:?}", s.name),
                    );
                }
                signals.push(s);
            }
        }
        all.extend(rep.diagnostics);
    }
    if all.is_empty() {
        Ok(SignalSet { signals })
    } else {
        Err(Diagnostics(all))
    }
}

/// The metric's good direction: `better:`, durations lower, else unknown (`Any`).
pub fn default_direction(layer: &SemanticLayer, metric: &str) -> Direction {
    let Some(m) = layer.metric(metric) else {
        return Direction::Any;
    };
    let duration = matches!(
        m.unit,
        Unit::Seconds | Unit::Minutes | Unit::Hours | Unit::Days
    );
    match m.better {
        Some(Better::Higher) => Direction::UpIsGood,
        Some(Better::Lower) => Direction::DownIsGood,
        None if duration => Direction::DownIsGood,
        None => Direction::Any,
    }
}

/// Parses "12h", "3d", "1w", "30m" (also "3 days").
pub fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = s[..split].parse().ok()?;
    let unit = s[split..].trim().to_ascii_lowercase();
    Some(match unit.as_str() {
        "m" | "min" | "mins" | "minute" | "minutes" => chrono::Duration::minutes(n),
        "h" | "hour" | "hours" => chrono::Duration::hours(n),
        "d" | "day" | "days" => chrono::Duration::days(n),
        "w" | "week" | "weeks" => chrono::Duration::weeks(n),
        _ => return None,
    })
}

const KINDS: [&str; 6] = [
    "threshold",
    "change",
    "anomaly",
    "okr_pace",
    "concentration",
    "new_events",
];

fn compile(
    r: RawSignal,
    file: &Path,
    layer: &SemanticLayer,
    ctx: &Context,
    rep: &mut Reporter,
) -> Option<Signal> {
    let name = r.name.clone();
    let at = |key: &str| -> Vec<String> { vec!["signals".into(), name.clone(), key.into()] };
    let err = |rep: &mut Reporter, key: &str, msg: String| {
        let p = at(key);
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        rep.error(&p, msg);
    };
    let before = rep.diagnostics.len();
    if !crate::semantic::model::is_identifier(&r.name) {
        err(
            rep,
            "name",
            format!("{:?} is not a lower_snake_case name", r.name),
        );
    }
    let metric = layer.metric_index(&r.metric);
    if metric.is_none() {
        err(
            rep,
            "metric",
            format!(
                "unknown metric {:?}{}",
                r.metric,
                did_you_mean(&r.metric, layer.metrics.iter().map(|m| m.name.as_str()))
            ),
        );
    }
    let reach = |dim: &str| metric.is_some_and(|m| graph::reachable(layer, &[m], dim));
    let dims: Vec<String> = metric
        .map(|m| graph::reachable_dimension_names(layer, &[m]))
        .unwrap_or_default();
    let check_dim = |rep: &mut Reporter, key: &str, d: &str| {
        if metric.is_some() && !reach(d) {
            let p = at(key);
            let p: Vec<&str> = p.iter().map(String::as_str).collect();
            rep.error(
                &p,
                format!(
                    "metric {:?} has no dimension {d:?}{}",
                    r.metric,
                    did_you_mean(d, dims.iter().map(String::as_str))
                ),
            );
        }
    };
    if let Some(s) = &r.scope {
        check_dim(rep, "scope", s);
    }
    let mut filters = Vec::new();
    for f in &r.filters {
        match Condition::parse(f) {
            Ok(c) => {
                check_dim(rep, "where", &c.dimension);
                filters.push(c);
            }
            Err(e) => err(rep, "where", e),
        }
    }
    let grain = match r.grain.as_deref().unwrap_or("day") {
        "day" => Grain::Day,
        "week" => Grain::Week,
        "month" => Grain::Month,
        g => {
            err(
                rep,
                "grain",
                format!("grain must be day, week or month, not {g:?}"),
            );
            Grain::Day
        }
    };
    if metric.is_some_and(|m| !graph::has_time(layer, m)) {
        err(
            rep,
            "metric",
            format!("metric {:?} has no time dimension to watch", r.metric),
        );
    }
    // Fields that only some kinds read: a field set for another kind is a mistake.
    let set: Vec<(&str, bool, &[&str])> = vec![
        ("above", r.above.is_some(), &["threshold"]),
        ("below", r.below.is_some(), &["threshold"]),
        ("against", r.against.is_some(), &["change"]),
        ("percent", r.percent.is_some(), &["change"]),
        ("absolute", r.absolute.is_some(), &["change"]),
        ("score", r.score.is_some(), &["anomaly"]),
        ("weeks", r.weeks.is_some(), &["anomaly"]),
        ("peaks", !r.peaks.is_empty(), &["anomaly"]),
        ("min_count", r.min_count.is_some(), &["anomaly"]),
        ("min_change", r.min_change.is_some(), &["anomaly"]),
        ("okr", r.okr.is_some(), &["okr_pace"]),
        ("margin", r.margin.is_some(), &["okr_pace"]),
        ("dimension", r.dimension.is_some(), &["concentration"]),
        ("share", r.share.is_some(), &["concentration"]),
        ("columns", !r.columns.is_empty(), &["new_events"]),
        ("min_metric", r.min_metric.is_some(), &["new_events"]),
    ];
    if KINDS.contains(&r.kind.as_str()) {
        for (key, present, kinds) in &set {
            if *present && !kinds.contains(&r.kind.as_str()) {
                err(
                    rep,
                    key,
                    format!("`{key}` applies to kind {}, not {}", kinds[0], r.kind),
                );
            }
        }
    }
    let kind = match r.kind.as_str() {
        "threshold" => {
            if r.above.is_none() && r.below.is_none() {
                err(
                    rep,
                    "kind",
                    "a threshold signal needs `above`, `below` or both".into(),
                );
            }
            Kind::Threshold {
                above: r.above,
                below: r.below,
            }
        }
        "change" => {
            if r.percent.is_none() && r.absolute.is_none() {
                err(
                    rep,
                    "kind",
                    "a change signal needs `percent`, `absolute` or both".into(),
                );
            }
            Kind::Change {
                against: r.against.unwrap_or(Baseline::PreviousPeriod),
                percent: r.percent.map(|p| p / 100.0),
                absolute: r.absolute,
            }
        }
        "anomaly" => {
            let mut peaks = Vec::new();
            for p in &r.peaks {
                match p {
                    RawPeak::Named(n) if n.eq_ignore_ascii_case("bfcm") => peaks.push(Peak::Bfcm),
                    RawPeak::Named(n) => match crate::text::calendar::month_of(&n.to_ascii_lowercase()) {
                        Some(m) => peaks.push(Peak::Month(m)),
                        None => err(
                            rep,
                            "peaks",
                            format!("unknown peak {n:?}: use bfcm, a month name (january) or {{from: YYYY-MM-DD, to: YYYY-MM-DD}}"),
                        ),
                    },
                    RawPeak::Dates { from, to } => peaks.push(Peak::Dates {
                        from: *from,
                        to: *to,
                    }),
                }
            }
            if r.score.is_some_and(|s| s <= 0.0) {
                err(rep, "score", "score must be above 0".into());
            }
            if r.weeks.is_some_and(|w| !(3..=52).contains(&w)) {
                err(rep, "weeks", "weeks must be between 3 and 52".into());
            }
            Kind::Anomaly {
                score: r.score.unwrap_or(4.0),
                weeks: r.weeks.unwrap_or(8),
                peaks,
                min_count: r.min_count.unwrap_or(20.0),
                min_change: r.min_change.unwrap_or(50.0) / 100.0,
            }
        }
        "okr_pace" => {
            let okr = r.okr.clone().unwrap_or_default();
            match ctx.okr(&okr) {
                None => err(
                    rep,
                    "okr",
                    format!(
                        "an okr_pace signal needs `okr`, an id from context/okrs.yaml{}",
                        if okr.is_empty() {
                            String::new()
                        } else {
                            format!(" (no OKR {okr:?})")
                        }
                    ),
                ),
                Some(o) if o.metric != r.metric => err(
                    rep,
                    "metric",
                    format!(
                        "OKR {okr:?} is measured by {:?}, not {:?}",
                        o.metric, r.metric
                    ),
                ),
                Some(_) => {}
            }
            Kind::OkrPace {
                okr,
                margin: r.margin.unwrap_or(0.0) / 100.0,
            }
        }
        "concentration" => {
            let dimension = r.dimension.clone().unwrap_or_default();
            if dimension.is_empty() {
                err(
                    rep,
                    "dimension",
                    "a concentration signal needs `dimension`".into(),
                );
            } else {
                check_dim(rep, "dimension", &dimension);
            }
            let share = r.share.unwrap_or(0.0);
            if !(share > 0.0 && share < 100.0) {
                err(
                    rep,
                    "share",
                    "a concentration signal needs `share`, a percent between 0 and 100".into(),
                );
            }
            if metric.is_some_and(|m| !graph::additive(layer, m)) {
                err(
                    rep,
                    "metric",
                    format!(
                        "concentration needs an additive metric (a sum or count); {:?} is not",
                        r.metric
                    ),
                );
            }
            Kind::Concentration {
                dimension,
                share: share / 100.0,
            }
        }
        "new_events" => {
            if r.columns.is_empty() {
                err(
                    rep,
                    "columns",
                    "a new_events signal needs `columns`, the dimensions listed for each new row"
                        .into(),
                );
            }
            for c in &r.columns {
                check_dim(rep, "columns", c);
            }
            let min_metric = r.min_metric.as_ref().map(|m| (m.metric.clone(), m.value));
            if let Some((m, _)) = &min_metric {
                if layer.metric(m).is_none() {
                    err(
                        rep,
                        "min_metric",
                        format!(
                            "unknown metric {m:?}{}",
                            did_you_mean(m, layer.metrics.iter().map(|m| m.name.as_str()))
                        ),
                    );
                }
                if r.scope.is_none() {
                    err(
                        rep,
                        "min_metric",
                        "min_metric needs `scope`, the entity the metric is read for (e.g. merchant_id)".into(),
                    );
                }
            }
            Kind::NewEvents {
                columns: r.columns.clone(),
                min_metric,
            }
        }
        k => {
            err(
                rep,
                "kind",
                format!(
                    "unknown kind {k:?}{}; kinds are {}",
                    did_you_mean(k, KINDS),
                    KINDS.join(", ")
                ),
            );
            return None;
        }
    };
    let a = &r.audience;
    if a.channels.is_empty() && a.people.is_empty() && a.team.is_none() {
        err(
            rep,
            "audience",
            "audience needs channels, people or a team".into(),
        );
    }
    if let Some(t) = &a.team {
        if ctx.team(t).is_none() {
            err(
                rep,
                "audience",
                format!(
                    "no team {t:?} in context/people.yaml{}",
                    did_you_mean(t, ctx.teams.iter().map(|t| t.name.as_str()))
                ),
            );
        }
    }
    for p in &a.people {
        if ctx.person(p).is_none() && ctx.person_by_email(p).is_none() {
            err(
                rep,
                "audience",
                format!("no person {p:?} (Slack id or email) in context/people.yaml"),
            );
        }
    }
    if let Some(d) = &a.owner_dimension {
        check_dim(rep, "audience", d);
    }
    let cooldown = match &r.cooldown {
        None => match grain {
            Grain::Week => chrono::Duration::weeks(1),
            Grain::Month => chrono::Duration::days(28),
            _ => chrono::Duration::days(1),
        },
        Some(c) => parse_duration(c).unwrap_or_else(|| {
            err(
                rep,
                "cooldown",
                format!("cooldown {c:?} is not a duration like 12h, 3d or 1w"),
            );
            chrono::Duration::zero()
        }),
    };
    let quiet_hours = r.quiet_hours.as_ref().and_then(|q| {
        let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
        match (t(&q.from), t(&q.to)) {
            (Some(from), Some(to)) => Some(QuietHours {
                from,
                to,
                tz: q.tz.clone(),
            }),
            _ => {
                err(
                    rep,
                    "quiet_hours",
                    "quiet_hours needs `from` and `to` as HH:MM".into(),
                );
                None
            }
        }
    });
    if rep.diagnostics.len() > before {
        return None;
    }
    let title = r.title.clone().unwrap_or_else(|| {
        layer
            .metric(&r.metric)
            .map_or(r.metric.clone(), |m| m.label.clone())
    });
    let direction = r
        .direction
        .unwrap_or_else(|| default_direction(layer, &r.metric));
    Some(Signal {
        name: r.name,
        title,
        file: file.to_path_buf(),
        metric: r.metric,
        scope: r.scope,
        filters,
        grain,
        kind,
        direction,
        severity: r.severity.unwrap_or(Severity::Warning),
        audience: r.audience,
        cooldown,
        quiet_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> (SemanticLayer, Context) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let layer = SemanticLayer::load(&root.join("metrics.yaml")).unwrap();
        let ctx = Context::load(&root.join("context"), &layer).unwrap();
        (layer, ctx)
    }

    fn problems(yaml: &str) -> Vec<String> {
        let (layer, ctx) = project();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.yaml"), yaml).unwrap();
        match load(dir.path(), &layer, &ctx) {
            Ok(_) => Vec::new(),
            Err(d) => d.0.iter().map(|x| x.to_string()).collect(),
        }
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("3d"), Some(chrono::Duration::days(3)));
        assert_eq!(
            parse_duration("12 hours"),
            Some(chrono::Duration::hours(12))
        );
        assert_eq!(parse_duration("1w"), Some(chrono::Duration::weeks(1)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn fields_of_another_kind_and_unknown_references_are_refused() {
        let p = problems(
            "signals:\n  - name: x\n    metric: tickets\n    kind: anomaly\n    above: 3\n    audience: {team: Nobody}\n  - name: y\n    metric: arr\n    kind: okr_pace\n    okr: \"99\"\n    audience: {channels: [\"#a\"]}\n    cooldown: soon\n",
        );
        let all = p.join("\n");
        assert!(
            all.contains("signals.x.above: `above` applies to kind threshold, not anomaly"),
            "{all}"
        );
        assert!(
            all.contains("signals.x.audience: no team \"Nobody\""),
            "{all}"
        );
        assert!(all.contains("signals.y.okr: an okr_pace signal needs `okr`, an id from context/okrs.yaml (no OKR \"99\")"), "{all}");
        assert!(
            all.contains("signals.y.cooldown: cooldown \"soon\""),
            "{all}"
        );
        assert_eq!(p.len(), 4, "{all}");
    }

    #[test]
    fn a_valid_signal_compiles_with_its_defaults() {
        let (layer, ctx) = project();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s.yaml"),
            "signals:\n  - name: frt\n    metric: first_response_time\n    where: [\"channel = chat\"]\n    scope: vertical\n    kind: anomaly\n    peaks: [bfcm, january]\n    audience: {channels: [\"#a\"]}\n",
        )
        .unwrap();
        let set = load(dir.path(), &layer, &ctx).unwrap();
        let s = &set.signals[0];
        assert_eq!(s.direction, Direction::DownIsGood);
        assert_eq!(s.grain, Grain::Day);
        assert_eq!(s.cooldown, chrono::Duration::days(1));
        assert_eq!(s.title, "First response time");
        match &s.kind {
            Kind::Anomaly {
                score,
                weeks,
                peaks,
                ..
            } => {
                assert_eq!((*score, *weeks), (4.0, 8));
                assert_eq!(peaks, &vec![Peak::Bfcm, Peak::Month(1)]);
            }
            k => panic!("{k:?}"),
        }
    }
}
