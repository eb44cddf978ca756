//! The flagship skills on the demo warehouse, against SQL written by hand; routing;
//! a new skill with no Rust; and `cortex check` on broken skills and context.

use std::path::Path;

use cortex::answer::Status;
use cortex::skills::answer_question;
use serde_json::{json, Value as Json};

use crate::helpers::{assert_json_close, demo_runtime, demo_sql, demo_today, project_dir};

fn ask(rt: &cortex::skills::run::Runtime, q: &str, asker: Option<&str>) -> cortex::answer::Answer {
    let person = asker.map(|id| rt.context.person(id).expect("person in people.yaml"));
    answer_question(rt, q, person, demo_today(), "cli:test")
}

fn rows(a: &cortex::answer::Answer) -> Json {
    serde_json::to_value(&a.rows).expect("rows")
}

fn sorted(v: Json) -> Json {
    let mut a = v.as_array().cloned().unwrap_or_default();
    a.sort_by_key(|r| r.to_string());
    Json::Array(a)
}

#[test]
fn every_skill_passes_its_own_tests() {
    let (_s, rt) = demo_runtime(&project_dir());
    let report = cortex::skills::testing::run_tests(&rt, demo_today(), &mut |_| {});
    crate::helpers::assert_no_misses(&report);
    assert!(report.total >= 13);
}

#[test]
fn okr_progress_reports_current_value_segments_and_team_actions() {
    let (_s, rt) = demo_runtime(&project_dir());
    let a = ask(
        &rt,
        "How are we performing against OKR #1, and what can my team do to help accelerate it?",
        Some("U01REV0002"),
    );
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    assert_eq!(a.skill, "okr_progress");
    assert_eq!(a.params.get("okr").map(String::as_str), Some("1"));
    assert_eq!(a.params.get("team").map(String::as_str), Some("Revenue"));
    // The table is ARR by segment on today's date.
    let expected = demo_sql(
        "SELECT m.segment, sum(a.arr_delta_usd) FROM arr_movements a JOIN merchants m USING (merchant_id)
         WHERE a.movement_date <= DATE '2026-11-20' GROUP BY 1",
    );
    assert_json_close(&sorted(rows(&a)), &sorted(expected));
    let total = demo_sql(
        "SELECT sum(arr_delta_usd) FROM arr_movements WHERE movement_date <= DATE '2026-11-20'",
    );
    let total = total[0][0].as_f64().expect("total");
    let shown = cortex::format::figure(total, cortex::semantic::Unit::Usd);
    assert!(
        a.headline.contains(&format!("ARR is {shown}")),
        "{}\n{shown}",
        a.headline
    );
    let okr = a
        .sections
        .iter()
        .find_map(|s| match s {
            cortex::answer::Section::Okr(o) => Some(o),
            _ => None,
        })
        .expect("an OKR block");
    assert!((okr.current.expect("current") - total).abs() < 0.01);
    assert_eq!(okr.segments.len(), 3, "{:?}", okr.segments);
    let chart = okr.chart.as_ref().expect("a trend chart");
    assert_eq!(chart.references[0].value, okr.target, "the target line");
    assert!(chart.series.iter().any(|s| s.projected), "a projection");
    assert!(a.text.contains("What Revenue can do:"), "{}", a.text);
    assert!(a.text.contains("Move upmarket"), "{}", a.text);
    assert!(!a.findings.is_empty());
    // Every recommendation names the segment and carries a number.
    assert!(!a.recommendations.is_empty(), "{}", a.text);
    for r in &a.recommendations {
        assert!(r.contains('$'), "{r}");
    }
    // Personalised: the same question from Support gets Support's view.
    let b = ask(
        &rt,
        "How are we performing against OKR #1, and what can my team do?",
        Some("U01SUP0001"),
    );
    assert_eq!(
        b.params.get("team").map(String::as_str),
        Some("Support Operations")
    );
    assert!(
        b.text.contains("What Support Operations can do:"),
        "{}",
        b.text
    );
    // Without an OKR number the skill asks which one.
    let c = ask(&rt, "Are we on track for our OKR?", None);
    assert_eq!(c.status, Status::Clarify, "{}", c.text);
    assert!(
        c.choices.iter().any(|x| x.starts_with("OKR #1")),
        "{:?}",
        c.choices
    );
}

#[test]
fn okr_on_a_snapshot_metric_uses_the_current_value() {
    let (_s, rt) = demo_runtime(&project_dir());
    let a = ask(&rt, "Are we on track for OKR 3?", Some("U01PRD0001"));
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    let rate = demo_sql(
        "SELECT avg(CASE WHEN ai_agent_enabled THEN 1.0 ELSE 0.0 END) FROM merchants WHERE churned_date IS NULL",
    )[0][0]
        .as_f64()
        .expect("rate");
    let shown = cortex::format::figure(rate, cortex::semantic::Unit::Ratio);
    assert!(
        a.text.contains(&format!("AI adoption rate is {shown}")),
        "{}\n{shown}",
        a.text
    );
}

#[test]
fn merchant_brief_matches_hand_sql() {
    let (_s, rt) = demo_runtime(&project_dir());
    let a = ask(&rt, "Give me the full picture of Blue Fox Goods", None);
    assert_eq!(a.skill, "merchant_brief", "{}", a.text);
    assert_eq!(a.status, Status::Answered, "{}", a.text);
    let id =
        demo_sql("SELECT merchant_id FROM merchants WHERE name = 'Blue Fox Goods'")[0][0].clone();
    let id = id.as_str().expect("id");
    let by_product = demo_sql(&format!(
        "SELECT product, sum(arr_delta_usd) FROM arr_movements WHERE merchant_id = '{id}' AND movement_date <= DATE '2026-11-20' GROUP BY 1"
    ));
    assert_json_close(&sorted(rows(&a)), &sorted(by_product));
    let tickets = demo_sql(&format!(
        "SELECT count(*) FROM tickets WHERE merchant_id = '{id}' AND created_at >= DATE '2026-10-01' AND created_at < DATE '2026-11-21'"
    ))[0][0]
        .as_i64()
        .expect("tickets");
    assert_eq!(
        kpi(&a, "Tickets this quarter"),
        Some(tickets as f64),
        "{}",
        a.text
    );
    let vertical_median = demo_sql(&format!(
        "SELECT median(frt) FROM (SELECT t.merchant_id, median(t.first_response_seconds) / 60.0 frt
           FROM tickets t JOIN merchants m USING (merchant_id)
           WHERE m.vertical = (SELECT vertical FROM merchants WHERE merchant_id = '{id}') AND t.created_at >= DATE '2026-10-01'
           GROUP BY 1)"
    ))[0][0]
        .as_f64()
        .expect("median");
    let support = table(&a, "Support this quarter");
    let shown = support.rows[1][2]
        .as_f64()
        .expect("the vertical's first response");
    assert!(
        (shown - vertical_median).abs() < 1e-6,
        "{shown} vs {vertical_median}"
    );
    // A typo still finds the merchant; an unknown name asks instead of guessing.
    let b = ask(&rt, "Give me the full picture of Blue Fxo Goods", None);
    assert_eq!(
        b.params.get("merchant").map(String::as_str),
        Some("Blue Fox Goods")
    );
    let c = ask(&rt, "Give me the full picture of Acme Widgets", None);
    assert_eq!(c.status, Status::Clarify, "{}", c.text);
    assert!(c.rows.is_empty());
}

#[test]
fn support_benchmark_is_by_vertical_not_the_overall_average() {
    let (_s, rt) = demo_runtime(&project_dir());
    let a = ask(
        &rt,
        "How do our first response times compare with our vertical?",
        None,
    );
    assert_eq!(a.skill, "support_benchmark", "{}", a.text);
    // "last 3 months" on 2026-11-20: September 1 to today.
    let expected = demo_sql(
        "SELECT m.vertical, median(t.first_response_seconds / 60.0) FROM tickets t JOIN merchants m USING (merchant_id)
         WHERE t.created_at >= DATE '2026-09-01' AND t.created_at < DATE '2026-11-21' GROUP BY 1",
    );
    assert_json_close(&sorted(rows(&a)), &sorted(expected));
    let b = ask(&rt, "Benchmark CSAT for Jewelry merchants", None);
    let by_tier = table(&b, "Jewelry by GMV tier");
    let tiers = demo_sql(
        "SELECT count(DISTINCT m.gmv_tier) FROM tickets t JOIN merchants m USING (merchant_id)
         WHERE m.vertical = 'Jewelry' AND t.csat_score IS NOT NULL AND t.created_at >= DATE '2026-09-01'",
    )[0][0]
        .as_i64()
        .expect("tiers");
    assert_eq!(by_tier.rows.len() as i64, tiers, "{}", b.text);
}

#[test]
fn pipeline_overview_matches_hand_sql() {
    let (_s, rt) = demo_runtime(&project_dir());
    let a = ask(
        &rt,
        "Build me a dashboard for this quarter's pipeline",
        None,
    );
    assert_eq!(a.skill, "pipeline_overview", "{}", a.text);
    let expected = demo_sql(
        "SELECT stage, sum(amount_usd), count(*) FROM opportunities WHERE stage NOT IN ('closed_won', 'closed_lost')
         AND close_date BETWEEN DATE '2026-10-01' AND DATE '2026-12-31' GROUP BY 1",
    );
    assert_json_close(&sorted(rows(&a)), &sorted(expected));
    let top = demo_sql(
        "SELECT max(amount_usd) FROM opportunities WHERE stage NOT IN ('closed_won', 'closed_lost')
         AND close_date BETWEEN DATE '2026-10-01' AND DATE '2026-12-31'",
    )[0][0]
        .as_f64()
        .expect("top");
    let deals = table(&a, "Open deals");
    let amount = deals
        .columns
        .iter()
        .position(|c| c.name == "amount_usd")
        .expect("amount column");
    assert_eq!(
        deals.rows[0][amount].as_f64(),
        Some(top),
        "the largest deal first"
    );
}

/// A KPI tile's value by its label.
fn kpi(a: &cortex::answer::Answer, label: &str) -> Option<f64> {
    a.sections.iter().find_map(|s| match s {
        cortex::answer::Section::Kpis { tiles } => tiles
            .iter()
            .find(|t| t.label == label)
            .and_then(|t| t.value),
        _ => None,
    })
}

/// The table section whose title starts with `title`.
fn table<'a>(a: &'a cortex::answer::Answer, title: &str) -> &'a cortex::answer::Table {
    a.sections
        .iter()
        .find_map(|s| match s {
            cortex::answer::Section::Table(t)
                if t.title.as_deref().is_some_and(|x| x.starts_with(title)) =>
            {
                Some(t)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no table {title:?} in {}", a.text))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

fn project_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        project_dir().join("metrics.yaml"),
        dir.path().join("metrics.yaml"),
    )
    .expect("copy");
    copy_dir(&project_dir().join("skills"), &dir.path().join("skills"));
    copy_dir(&project_dir().join("context"), &dir.path().join("context"));
    dir
}

/// A skill dropped into skills/ is routable and testable with no Rust change.
#[test]
fn a_new_skill_file_is_routable_and_testable() {
    let project = project_copy();
    let dir = project.path().join("skills/refund_watch");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("skill.yaml"),
        r#"name: refund_watch
description: Watches refund requests by channel for a period.
examples: ["Give me the refund watch for last month"]
keywords: [refund watch]
params:
  - {name: period, type: period, default: last month}
steps:
  - id: refunds
    kind: metric
    query:
      metrics: [tickets]
      group_by: [channel]
      filters: [{dimension: intent, op: "=", values: [refund]}]
      time_range: {from: "{{period.from}}", to: "{{period.to}}"}
  - id: findings
    kind: findings
    rules:
      - when: steps.refunds.total > 0
        say: "{{num steps.refunds.total}} refund requests, most on {{steps.refunds.rows.[0].channel}}."
outputs:
  text: answer.hbs
  table: refunds
tests:
  - question: Give me the refund watch for last month
    params: {period: 2026-10-01 to 2026-10-31}
    contains: ["refund requests"]
"#,
    )
    .expect("write");
    std::fs::write(
        dir.join("answer.hbs"),
        "Refund watch, {{period.label}}: {{#each steps.findings.findings}}{{this}}{{/each}}\n",
    )
    .expect("write");
    let (_s, rt) = demo_runtime(project.path());
    let a = ask(&rt, "Give me the refund watch for last month", None);
    assert_eq!(a.skill, "refund_watch", "{}", a.text);
    let expected = demo_sql(
        "SELECT channel, count(*) FROM tickets WHERE intent = 'refund'
         AND created_at >= DATE '2026-10-01' AND created_at < DATE '2026-11-01' GROUP BY 1",
    );
    assert_json_close(&sorted(rows(&a)), &sorted(expected));
    let report = cortex::skills::testing::run_tests(&rt, demo_today(), &mut |_| {});
    assert!(
        report.misses.is_empty(),
        "{:?}",
        report.misses.iter().map(|m| &m.why).collect::<Vec<_>>()
    );
}

#[test]
fn check_reports_every_broken_skill_and_context_problem() {
    let project = project_copy();
    let p = project.path();
    let skill = p.join("skills/okr_progress/skill.yaml");
    let text = std::fs::read_to_string(&skill)
        .expect("read")
        .replacen("metrics: [\"{{okr.metric}}\"]", "metrics: [arr_typo]", 1)
        .replace(
            "series: trend\n    at: \"{{okr.due}}\"",
            "series: nowhere\n    at: \"{{okr.due}}\"",
        )
        .replace(
            "when: steps.status.projected_attainment >= 1",
            "when: steps.status.projected_attainment >=",
        );
    std::fs::write(&skill, text).expect("write");
    let pipeline = p.join("skills/pipeline_overview/skill.yaml");
    let text = std::fs::read_to_string(&pipeline).expect("read").replace(
        "    Pipeline, {{period.label}}:",
        "    {{steps.no_such_step.value}} Pipeline:",
    );
    std::fs::write(&pipeline, text).expect("write");
    let bench = p.join("skills/support_benchmark/skill.yaml");
    let text = std::fs::read_to_string(&bench).expect("read").replace(
        "dimension: vertical\n  - name: period",
        "dimension: verticle\n  - name: period",
    );
    std::fs::write(&bench, text).expect("write");
    let okrs = std::fs::read_to_string(p.join("context/okrs.yaml"))
        .expect("read")
        .replace("metric: automation_rate", "metric: automaton_rate")
        .replace("owner_team: Product", "owner_team: Prodcut");
    std::fs::write(p.join("context/okrs.yaml"), okrs).expect("write");
    let out = std::process::Command::new(crate::helpers::cortex_bin())
        .args(["check", "--project"])
        .arg(p)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for expect in [
        "okr_progress/skill.yaml:17: steps.current: unknown metric \"arr_typo\"",
        "unknown metric \"arr_typo\"",
        "series \"nowhere\" is not an earlier step",
        "expression ends too early",
        "pipeline_overview/skill.yaml:87: outputs.headline: \"steps.no_such_step.value\" refers to step \"no_such_step\", which does not come before it",
        "support_benchmark/skill.yaml:",
        "params.vertical.dimension: unknown dimension \"verticle\"",
        "okrs.yaml:",
        "unknown metric \"automaton_rate\"; did you mean automation_rate?",
        "unknown team \"Prodcut\"; did you mean Product?",
    ] {
        assert!(text.contains(expect), "missing {expect:?} in:\n{text}");
    }
    let _ = json!(null);
}
