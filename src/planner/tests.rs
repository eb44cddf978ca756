//! Unit tests of [`plan`] against the project's metrics.yaml: for each question, the exact
//! `MetricQuery` (metrics, group-bys, grain, filters, time range, order, limit) or the
//! clarification / refusal it must produce. `today` is fixed so periods are reproducible.

use chrono::NaiveDate;

use super::{plan, Plan, Vocabulary};
use crate::semantic::query::{Condition, Grain, Literal, MetricQuery, Op, OrderBy, TimeRange};
use crate::semantic::SemanticLayer;

/// Thursday, 2026-11-20 (the demo data's last day).
pub(super) fn today() -> NaiveDate {
    date("2026-11-20")
}

pub(super) fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test dates are valid")
}

/// The project's own metrics.yaml, loaded once per test.
pub(super) fn layer() -> SemanticLayer {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("metrics.yaml");
    SemanticLayer::load(&path).expect("metrics.yaml loads")
}

pub(super) fn range(from: &str, to: &str) -> Option<TimeRange> {
    Some(TimeRange {
        from: date(from),
        to: date(to),
    })
}

fn cond(dimension: &str, op: Op, values: &[&str]) -> Condition {
    Condition {
        dimension: dimension.into(),
        op,
        values: values.iter().map(|v| Literal::Str(v.to_string())).collect(),
    }
}

/// A query with only metrics set; cases fill in the rest.
pub(super) fn q(metrics: &[&str]) -> MetricQuery {
    MetricQuery {
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        group_by: Vec::new(),
        grain: None,
        filters: Vec::new(),
        where_exprs: Vec::new(),
        time_range: None,
        order: Vec::new(),
        limit: None,
        prior: None,
        to_date: None,
    }
}

fn by(mut query: MetricQuery, dims: &[&str]) -> MetricQuery {
    query.group_by = dims.iter().map(|d| d.to_string()).collect();
    query
}

fn during(mut query: MetricQuery, from: &str, to: &str) -> MetricQuery {
    query.time_range = range(from, to);
    query
}

fn grain(mut query: MetricQuery, g: Grain) -> MetricQuery {
    query.grain = Some(g);
    query
}

fn filter(mut query: MetricQuery, dimension: &str, op: Op, values: &[&str]) -> MetricQuery {
    query.filters.push(cond(dimension, op, values));
    query
}

fn top(mut query: MetricQuery, field: &str, desc: bool, limit: u64) -> MetricQuery {
    query.order = vec![OrderBy {
        field: field.into(),
        desc,
    }];
    query.limit = Some(limit);
    query
}

/// The plan for `question` with a vocabulary built from `layer` alone.
pub(super) fn planned(layer: &SemanticLayer, question: &str) -> Plan {
    plan(layer, &Vocabulary::new(layer), question, today())
}

/// The query `question` plans to, or a panic naming what it planned instead.
pub(super) fn query_of(layer: &SemanticLayer, question: &str) -> MetricQuery {
    match planned(layer, question) {
        Plan::Query { query, .. } => query,
        other => panic!("{question:?}: expected a query, got {other:?}"),
    }
}

#[test]
fn questions_plan_to_the_expected_metric_query() {
    let layer = layer();
    let cases: Vec<(&str, MetricQuery)> = vec![
        ("ARR by segment", by(q(&["arr"]), &["segment"])),
        (
            "How many tickets did we get last month by channel?",
            during(
                by(q(&["tickets"]), &["channel"]),
                "2026-10-01",
                "2026-10-31",
            ),
        ),
        (
            "tickets by channel last month",
            during(
                by(q(&["tickets"]), &["channel"]),
                "2026-10-01",
                "2026-10-31",
            ),
        ),
        ("tickts by channel", by(q(&["tickets"]), &["channel"])),
        (
            "tickets by channel and segment",
            by(q(&["tickets"]), &["channel", "segment"]),
        ),
        (
            "ARR and tickets by segment",
            by(q(&["arr", "tickets"]), &["segment"]),
        ),
        (
            "CSAT for Enterprise merchants this year",
            during(
                filter(q(&["csat"]), "segment", Op::Eq, &["Enterprise"]),
                "2026-01-01",
                "2026-11-20",
            ),
        ),
        (
            "net new ARR by month in 2025",
            during(
                grain(q(&["net_new_arr"]), Grain::Month),
                "2025-01-01",
                "2025-12-31",
            ),
        ),
        (
            "expansion ARR by quarter this year",
            during(
                grain(q(&["expansion_arr"]), Grain::Quarter),
                "2026-01-01",
                "2026-11-20",
            ),
        ),
        (
            "tickets per week in October 2026",
            during(
                grain(q(&["tickets"]), Grain::Week),
                "2026-10-01",
                "2026-10-31",
            ),
        ),
        (
            "top 5 verticals by ARR",
            top(by(q(&["arr"]), &["vertical"]), "arr", true, 5),
        ),
        (
            "bottom 3 countries by CSAT",
            top(by(q(&["csat"]), &["country"]), "csat", false, 3),
        ),
        (
            "tickets excluding email last quarter",
            during(
                filter(q(&["tickets"]), "channel", Op::Excluding, &["email"]),
                "2026-07-01",
                "2026-09-30",
            ),
        ),
        (
            "tickets not from email this year",
            during(
                filter(q(&["tickets"]), "channel", Op::Excluding, &["email"]),
                "2026-01-01",
                "2026-11-20",
            ),
        ),
        (
            "tickets in apparel",
            filter(
                q(&["tickets"]),
                "vertical",
                Op::Eq,
                &["Apparel & Accessories"],
            ),
        ),
        (
            "how many merchants in the UK",
            filter(q(&["merchants"]), "country", Op::Eq, &["United Kingdom"]),
        ),
        (
            "ARR in Germany by plan",
            filter(by(q(&["arr"]), &["plan"]), "country", Op::Eq, &["Germany"]),
        ),
        (
            "CSAT by channel for SMB last month",
            during(
                filter(by(q(&["csat"]), &["channel"]), "segment", Op::Eq, &["SMB"]),
                "2026-10-01",
                "2026-10-31",
            ),
        ),
        (
            "churned ARR in Q3 2026",
            during(q(&["churned_arr"]), "2026-07-01", "2026-09-30"),
        ),
        (
            "new ARR since 2026-06-01",
            during(q(&["new_arr"]), "2026-06-01", "2026-11-20"),
        ),
        (
            "tickets yesterday",
            during(q(&["tickets"]), "2026-11-19", "2026-11-19"),
        ),
        (
            "tickets in the last 7 days",
            during(q(&["tickets"]), "2026-11-14", "2026-11-20"),
        ),
        (
            "automation rate by channel last 30 days",
            during(
                by(q(&["automation_rate"]), &["channel"]),
                "2026-10-22",
                "2026-11-20",
            ),
        ),
        (
            "tickets between 2026-03-01 and 2026-03-31",
            during(q(&["tickets"]), "2026-03-01", "2026-03-31"),
        ),
        (
            "merchants by gmv tier",
            by(q(&["merchants"]), &["gmv_tier"]),
        ),
    ];
    let mut wrong = Vec::new();
    for (question, expected) in &cases {
        match planned(&layer, question) {
            Plan::Query { query, .. } if &query == expected => {}
            other => wrong.push(format!(
                "{question:?}\n  expected {expected:?}\n  got      {other:?}"
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn named_values_of_one_dimension_filter_and_split_by_it() {
    let layer = layer();
    let query = query_of(&layer, "tickets for chat or email");
    assert_eq!(
        query,
        filter(
            by(q(&["tickets"]), &["channel"]),
            "channel",
            Op::In,
            &["chat", "email"]
        )
    );
}

#[test]
fn every_phrase_of_an_answered_question_is_accounted_for() {
    let layer = layer();
    let Plan::Query { understood, .. } = planned(&layer, "tickets by channel last month") else {
        panic!("expected a query");
    };
    let roles: Vec<(&str, &str)> = understood
        .iter()
        .map(|u| (u.phrase.as_str(), u.role.as_str()))
        .collect();
    for (phrase, role) in [
        ("tickets", "metric"),
        ("channel", "dimension"),
        ("last month", "time"),
    ] {
        assert!(
            roles.iter().any(|(p, r)| p.contains(phrase) && *r == role),
            "{phrase} as {role}: {roles:?}"
        );
    }
}

#[test]
fn an_ambiguous_metric_word_asks_which_metric() {
    let layer = layer();
    let Plan::Clarify { question, choices } = planned(&layer, "revenue") else {
        panic!("expected a clarification");
    };
    assert!(question.contains("Which metric"), "{question}");
    let mut choices = choices;
    choices.sort();
    assert_eq!(
        choices,
        ["arr", "influenced_revenue", "net_new_arr", "new_arr"],
        "{question}"
    );
}

#[test]
fn a_question_no_governed_metric_fits_is_refused() {
    let layer = layer();
    for question in ["headcount by department", "what's the weather in Paris"] {
        match planned(&layer, question) {
            Plan::Unanswerable { reason, .. } => {
                assert!(reason.contains("metrics.yaml"), "{question}: {reason}")
            }
            other => panic!("{question:?}: expected a refusal, got {other:?}"),
        }
    }
}
