//! The message of a firing: an [`Answer`] with a headline (what changed, by how much,
//! against which baseline and period), KPIs, a drivers table over the governed dimensions,
//! a chart of the recent trend and provenance. Nothing Slack-specific: renderers and the
//! scheduler add buttons.

use chrono::{Duration, NaiveDate};

use super::detect::{self, grain_word, Hit};
use super::drivers::{drivers, DriverOptions, Drivers};
use super::{Firing, Kind, Signal, SignalError};
use crate::answer::{
    Answer, Fact, Kpi, MetricInfo, NoteKind, Provenance, Reference, Role, Section, Statement,
    Status, Table, TableColumn,
};
use crate::format;
use crate::semantic::{Condition, Grain, MetricQuery, TimeRange, Unit};
use crate::skills::run::Runtime;
use crate::warehouse::Value;

/// Options for building messages.
#[derive(Debug, Clone, Copy)]
pub struct MessageOptions {
    /// Compute the drivers table (the slow part: two queries per dimension).
    pub drivers: bool,
}

impl Default for MessageOptions {
    fn default() -> Self {
        MessageOptions { drivers: true }
    }
}

/// Builds the firing for one hit.
pub fn firing(
    rt: &Runtime,
    s: &Signal,
    hit: &Hit,
    today: NaiveDate,
) -> Result<Firing, SignalError> {
    firing_with(rt, s, hit, today, MessageOptions::default())
}

/// The period in a sentence: "on Nov 19, 2026", "in the week of Nov 16, 2026", "in Oct 2026".
pub fn period_phrase(grain: Grain, p: TimeRange) -> String {
    match grain {
        Grain::Day => format!("on {}", format::date(p.from)),
        Grain::Week => format!("in the week of {}", format::date(p.from)),
        g => format!("in {}", format::period(p.from, g)),
    }
}

/// [`firing`] with options (the benchmark times it with and without drivers).
pub fn firing_with(
    rt: &Runtime,
    s: &Signal,
    hit: &Hit,
    today: NaiveDate,
    opts: MessageOptions,
) -> Result<Firing, SignalError> {
    let engine = &rt.engine;
    let layer = &engine.layer;
    let metric = layer.metric(&s.metric);
    let unit = metric.map_or(Unit::Count, |m| m.unit);
    let label = metric.map_or(s.metric.clone(), |m| m.label.clone());
    let member_words = hit
        .member
        .as_deref()
        .map(|m| format!(" for {m}"))
        .unwrap_or_default();
    let when = period_phrase(s.grain, hit.period);
    let fig = |v: Option<f64>| v.map_or("–".to_string(), |v| format::figure(v, unit));
    let mut filters = s.filters.clone();
    if let (Some(d), Some(m)) = (&s.scope, &hit.member) {
        filters.push(Condition::eq(d, m));
    }
    // "First response time (chat)": equality filters by their value, others in full.
    let filter_words: Vec<String> = s
        .filters
        .iter()
        .map(|c| match (c.op, c.values.as_slice()) {
            (crate::semantic::Op::Eq, [crate::semantic::Literal::Str(v)]) => {
                format::humanize(v).to_lowercase()
            }
            _ => c.to_string(),
        })
        .collect();
    let subject = if filter_words.is_empty() {
        label.clone()
    } else {
        format!("{label} ({})", filter_words.join(", "))
    };
    let mut sections = Vec::new();
    let mut statements: Vec<Statement> = Vec::new();
    let mut findings = Vec::new();
    let headline = match &s.kind {
        Kind::Anomaly { .. } | Kind::Change { .. } | Kind::Threshold { .. } => {
            let (v, b) = (hit.value, hit.baseline);
            let basis = hit.basis.replace("{}", &fig(b));
            let compare = match (&s.kind, v, b) {
                (Kind::Threshold { .. }, _, _) => basis.clone(),
                (_, Some(v), Some(b)) if b > 0.0 && v / b >= 1.5 => {
                    format!("{:.1}× {basis}", v / b)
                }
                (_, Some(v), Some(b)) if b != 0.0 => {
                    let pct = (v - b) / b.abs() * 100.0;
                    let word = if pct >= 0.0 { "up" } else { "down" };
                    format!("{word} {:.0}% from {basis}", pct.abs())
                }
                _ => format!("against {basis}"),
            };
            sections.push(Section::Kpis {
                tiles: vec![
                    Kpi {
                        id: Some("value".into()),
                        label: format!("{label}{member_words}"),
                        value: v,
                        unit,
                        detail: Some(format::period(hit.period.from, s.grain)),
                    },
                    Kpi {
                        id: Some("baseline".into()),
                        label: match s.kind {
                            Kind::Threshold { .. } => "Threshold".into(),
                            Kind::Anomaly { .. } => "Usual".into(),
                            _ => "Before".into(),
                        },
                        value: b,
                        unit,
                        detail: Some(
                            hit.basis
                                .replace("{}", "")
                                .replace("  ", " ")
                                .trim()
                                .to_string(),
                        ),
                    },
                ],
            });
            format!("{subject}{member_words} was {} {when}, {compare}.", fig(v))
        }
        Kind::OkrPace { okr, .. } => {
            let title = hit.top_member.clone().unwrap_or_default();
            sections.push(Section::Kpis {
                tiles: vec![
                    Kpi {
                        id: Some("projected".into()),
                        label: "Projected".into(),
                        value: hit.value,
                        unit,
                        detail: None,
                    },
                    Kpi {
                        id: Some("target".into()),
                        label: "Target".into(),
                        value: hit.baseline,
                        unit,
                        detail: Some(title.clone()),
                    },
                ],
            });
            format!(
                "OKR #{okr} ({title}) is off pace: {label} is projected at {}, {:.0}% of {}.",
                fig(hit.value),
                hit.score.unwrap_or(0.0) * 100.0,
                hit.basis.replace("{}", &fig(hit.baseline))
            )
        }
        Kind::Concentration { dimension, .. } => {
            let top = hit.top_member.clone().unwrap_or_default();
            let share = hit.score.unwrap_or(0.0);
            // The leading members of the dimension, for the table.
            let q = MetricQuery {
                metrics: vec![s.metric.clone()],
                group_by: vec![dimension.clone()],
                filters: filters.clone(),
                time_range: Some(hit.period),
                order: vec![crate::semantic::OrderBy {
                    field: s.metric.clone(),
                    desc: true,
                }],
                limit: Some(5),
                ..MetricQuery::default()
            };
            let t = detect::query(engine, &s.name, &q, today)?;
            statements.extend(t.sql.iter().map(|sql| Statement {
                label: format!("largest {dimension} members"),
                sql: sql.clone(),
            }));
            let total = hit.baseline.unwrap_or(0.0);
            let rows: Vec<Vec<Value>> = t
                .rows
                .iter()
                .filter_map(|r| {
                    let v = r.get(1)?.as_f64()?;
                    Some(vec![
                        r[0].clone(),
                        Value::Float(v),
                        if total > 0.0 {
                            Value::Float(v / total)
                        } else {
                            Value::Null
                        },
                    ])
                })
                .collect();
            sections.push(Section::Table(Table {
                id: Some("largest".into()),
                title: Some(format!(
                    "Largest {}",
                    format::humanize(dimension).to_lowercase()
                )),
                columns: vec![
                    col(dimension, &format::humanize(dimension), Role::Dimension),
                    col(&s.metric, &label, Role::Metric { unit }),
                    col(
                        "share",
                        "Share of total",
                        Role::Metric { unit: Unit::Ratio },
                    ),
                ],
                rows,
                total_row: false,
                empty: None,
            }));
            format!(
                "{top} held {} of {}{member_words} {when} ({} of {}), above the {:.0}% limit.",
                format::figure(share, Unit::Ratio),
                subject.to_lowercase(),
                fig(hit.value),
                fig(hit.baseline),
                match s.kind {
                    Kind::Concentration { share, .. } => share * 100.0,
                    _ => 0.0,
                }
            )
        }
        Kind::NewEvents { .. } => {
            let n = hit.records.len();
            let cols: Vec<TableColumn> = hit
                .record_columns
                .iter()
                .map(|c| {
                    let time = layer
                        .all_dimensions()
                        .any(|(_, d)| d.name == *c && d.is_time());
                    col(
                        c,
                        &format::humanize(c),
                        if time {
                            Role::Time { grain: Grain::Day }
                        } else {
                            Role::Dimension
                        },
                    )
                })
                .collect();
            sections.push(Section::Table(Table {
                id: Some("records".into()),
                title: Some(format!("New {}", label.to_lowercase())),
                columns: cols,
                rows: hit.records.clone(),
                total_row: false,
                empty: None,
            }));
            let over = hit
                .baseline
                .map(|v| {
                    let m = layer.metric(&hit.basis);
                    format!(
                        " ({} {})",
                        m.map_or(hit.basis.clone(), |m| m.label.clone()),
                        format::figure(v, m.map_or(Unit::Count, |m| m.unit))
                    )
                })
                .unwrap_or_default();
            format!(
                "{n} new {} {when}{member_words}{over}.",
                if n == 1 {
                    format!("{subject} record")
                } else {
                    format!("{subject} records")
                }
                .to_lowercase()
            )
        }
    };
    // Drivers: what moved, by each governed dimension.
    let mut driver_data: Option<Drivers> = None;
    if opts.drivers
        && matches!(
            s.kind,
            Kind::Anomaly { .. } | Kind::Change { .. } | Kind::Threshold { .. }
        )
    {
        if let Some(bp) = hit.baseline_period {
            let d = drivers(
                engine,
                &s.metric,
                hit.period,
                bp,
                &filters,
                &DriverOptions {
                    today: Some(today),
                    ..DriverOptions::default()
                },
            )?;
            statements.extend(d.statements.iter().cloned());
            if let Some(t) = drivers_table(&d, unit) {
                if let Some((dim, m)) = d.dimensions.first().and_then(|x| {
                    let m = x.members.first()?;
                    Some((x.dimension.clone(), m.clone()))
                }) {
                    let share = m.share.unwrap_or(0.0);
                    findings.push(if m.excess() >= 0.25 {
                        format!(
                            "{} {} carries {} of the change against {} to {}, with {} of the volume.",
                            format::humanize(&dim),
                            m.member,
                            format::figure(share, Unit::Ratio),
                            format::date(bp.from),
                            format::date(bp.to),
                            format::figure(m.volume_share.unwrap_or(0.0), Unit::Ratio)
                        )
                    } else {
                        format!(
                            "The change is broad: against {} to {}, no member of any dimension carries much more of it than its share of the volume.",
                            format::date(bp.from),
                            format::date(bp.to)
                        )
                    });
                }
                sections.push(Section::Table(t));
            }
            driver_data = Some(d);
        }
    }
    // The recent trend, with the baseline as a reference line.
    let trend_from = match s.grain {
        Grain::Day => hit.period.from - Duration::days(55),
        Grain::Week => hit.period.from - Duration::days(7 * 25),
        _ => hit
            .period
            .from
            .checked_sub_months(chrono::Months::new(17))
            .unwrap_or(hit.period.from),
    };
    let trend_q = MetricQuery {
        metrics: vec![s.metric.clone()],
        grain: Some(s.grain),
        filters: filters.clone(),
        time_range: Some(TimeRange {
            from: trend_from,
            to: hit.period.to,
        }),
        ..MetricQuery::default()
    };
    let (mut columns, mut rows, mut meta) = (Vec::new(), Vec::new(), Vec::new());
    if !matches!(s.kind, Kind::NewEvents { .. } | Kind::OkrPace { .. }) {
        let t = detect::query(engine, &s.name, &trend_q, today)?;
        statements.extend(t.sql.iter().map(|sql| Statement {
            label: format!("{} by {}", s.metric, grain_word(s.grain)),
            sql: sql.clone(),
        }));
        let infos = MetricInfo::of(layer, std::slice::from_ref(&s.metric));
        if let Some(mut c) = crate::answer::build::chart(&t.meta, &t.rows, &infos) {
            c.title = format!("{label}{member_words}");
            if let (Some(b), false) = (hit.baseline, matches!(s.kind, Kind::Concentration { .. })) {
                c.references.push(Reference {
                    label: match s.kind {
                        Kind::Threshold { .. } => "Threshold".into(),
                        Kind::Anomaly { .. } => "Usual".into(),
                        _ => "Before".into(),
                    },
                    value: b,
                });
            }
            sections.push(Section::Chart(c));
        }
        columns = t.columns;
        rows = t.rows;
        meta = t.meta;
    }
    if !findings.is_empty() {
        sections.push(Section::Notes {
            kind: NoteKind::Finding,
            title: "Likely cause".into(),
            items: findings.clone(),
            empty: None,
        });
    }
    sections.push(Section::Facts {
        title: "Signal".into(),
        facts: vec![
            Fact {
                label: "Signal".into(),
                value: s.title.clone(),
            },
            Fact {
                label: "Rule".into(),
                value: rule_words(s),
            },
            Fact {
                label: "Period".into(),
                value: format!(
                    "{} ({} to {})",
                    format::period(hit.period.from, s.grain),
                    hit.period.from,
                    hit.period.to
                ),
            },
        ],
    });
    let question = format!("Signal: {}{member_words}", s.title);
    let mut a = Answer::new(&question, Status::Answered, headline);
    a.skill = "signal".into();
    a.title = s.title.clone();
    a.subtitle = Some(
        hit.member
            .iter()
            .cloned()
            .chain(std::iter::once(format::period(hit.period.from, s.grain)))
            .collect::<Vec<_>>()
            .join(" · "),
    );
    let mut query = trend_q.clone();
    query.time_range = Some(hit.period);
    a.query = Some(query);
    a.sql = statements.first().map(|s| s.sql.clone());
    a.columns = columns;
    a.rows = rows;
    a.column_meta = meta;
    a.sections = sections;
    a.findings = findings;
    let mut metrics = vec![s.metric.clone()];
    if let Kind::NewEvents {
        min_metric: Some((m, _)),
        ..
    } = &s.kind
    {
        metrics.push(m.clone());
    }
    a.provenance = Provenance {
        metrics: MetricInfo::of(layer, &metrics),
        filters: filters.iter().map(|c| c.to_string()).collect(),
        time_range: Some(hit.period),
        period: Some(format!(
            "{} ({} to {})",
            format::period(hit.period.from, s.grain),
            hit.period.from,
            hit.period.to
        )),
        grain: Some(s.grain),
        data_freshness: engine.data_freshness(&metrics, today),
        today: Some(today),
        notes: driver_data
            .as_ref()
            .map(|d| {
                vec![format!(
                    "Drivers compare {} to {} with {} to {}.",
                    d.period.from, d.period.to, d.baseline_period.from, d.baseline_period.to
                )]
            })
            .unwrap_or_default(),
        truncated: false,
        statements,
    };
    a.text = crate::render::text::answer(&a);
    Ok(Firing {
        signal: s.name.clone(),
        scope: hit
            .member
            .as_ref()
            .zip(s.scope.as_ref())
            .map(|(m, d)| format!("{d}={m}")),
        window: detect::window_label(s.grain, hit.period),
        severity: s.severity,
        audience: s.audience.clone(),
        answer: a,
    })
}

fn col(name: &str, label: &str, role: Role) -> TableColumn {
    TableColumn {
        name: name.to_string(),
        label: label.to_string(),
        role,
    }
}

/// The top member of each dimension: one row per dimension, the most explaining first.
pub fn drivers_table(d: &Drivers, unit: Unit) -> Option<Table> {
    let rows: Vec<Vec<Value>> = d
        .dimensions
        .iter()
        .filter_map(|x| {
            let m = x.members.first()?;
            Some(vec![
                Value::Text(format::humanize(&x.dimension)),
                Value::Text(m.member.clone()),
                m.current.map_or(Value::Null, Value::Float),
                m.baseline.map_or(Value::Null, Value::Float),
                Value::Float(m.contribution),
                m.share.map_or(Value::Null, Value::Float),
                m.volume_share.map_or(Value::Null, Value::Float),
            ])
        })
        .take(8)
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(Table {
        id: Some("drivers".into()),
        title: Some("Top contributors by dimension".into()),
        columns: vec![
            col("dimension", "Dimension", Role::Dimension),
            col("member", "Top contributor", Role::Dimension),
            col("current", "Now", Role::Metric { unit }),
            col("baseline", "Before", Role::Metric { unit }),
            col("contribution", "Contribution", Role::Metric { unit }),
            col(
                "share",
                "Share of change",
                Role::Metric { unit: Unit::Ratio },
            ),
            col(
                "volume_share",
                "Share of volume",
                Role::Metric { unit: Unit::Ratio },
            ),
        ],
        rows,
        total_row: false,
        empty: None,
    })
}

/// The rule in words: "robust score ≥ 4 against the same weekday over 8 weeks".
pub fn rule_words(s: &Signal) -> String {
    let per = grain_word(s.grain);
    match &s.kind {
        Kind::Threshold { above, below } => {
            let mut parts = Vec::new();
            if let Some(a) = above {
                parts.push(format!("above {a}"));
            }
            if let Some(b) = below {
                parts.push(format!("below {b}"));
            }
            format!("the {per}'s value is {}", parts.join(" or "))
        }
        Kind::Change {
            against,
            percent,
            absolute,
        } => {
            let mut parts = Vec::new();
            if let Some(p) = percent {
                parts.push(format!("{:.0}%", p * 100.0));
            }
            if let Some(a) = absolute {
                parts.push(format!("{a}"));
            }
            format!(
                "changes by at least {} against {}",
                parts.join(" and "),
                match against {
                    super::Baseline::PreviousPeriod => format!("the previous {per}"),
                    super::Baseline::YearAgo => format!("the same {per} a year earlier"),
                }
            )
        }
        Kind::Anomaly { score, weeks, .. } => format!(
            "robust score of {score} or more against {} over {weeks} {}, with last year's seasonal lift",
            if s.grain == Grain::Day {
                "the same weekday"
            } else {
                "the trailing periods"
            },
            if s.grain == Grain::Month { "months" } else { "weeks" }
        ),
        Kind::OkrPace { okr, margin } => format!(
            "OKR #{okr}'s projection falls short of target by more than {:.0}%",
            margin * 100.0
        ),
        Kind::Concentration { dimension, share } => format!(
            "one {} holds more than {:.0}% of the {per}'s total",
            format::humanize(dimension).to_lowercase(),
            share * 100.0
        ),
        Kind::NewEvents { min_metric, .. } => match min_metric {
            Some((m, v)) => format!("new records, for entities with {m} of at least {v}"),
            None => "new records".into(),
        },
    }
}
