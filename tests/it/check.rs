//! `cortex check` and the two-phase loader: every problem reported at once, each with file,
//! line and key.

use std::path::Path;

use cortex::semantic::SemanticLayer;

use crate::helpers::project_dir;

#[test]
fn the_project_metrics_file_is_valid() {
    let layer = SemanticLayer::load(&project_dir().join("metrics.yaml")).expect("valid");
    for name in [
        "arr",
        "net_new_arr",
        "new_arr",
        "expansion_arr",
        "contraction_arr",
        "churned_arr",
        "merchants",
        "merchant_signups",
        "ai_adoption_rate",
        "tickets",
        "first_response_time",
        "resolution_time",
        "csat",
        "automation_rate",
        "conversation_orders",
        "ai_influenced_orders",
        "ai_only_orders",
        "influenced_revenue",
        "average_order_value",
        "opportunities",
        "pipeline_arr",
        "won_arr",
        "win_rate",
    ] {
        let m = layer
            .metric(name)
            .unwrap_or_else(|| panic!("metric {name}"));
        assert!(!m.description.is_empty() && !m.owner.is_empty(), "{name}");
    }
    // Every merchant attribute slices every table that has a merchant_id.
    for (i, model) in layer.models.iter().enumerate() {
        if model.name == "merchants" {
            continue;
        }
        for dim in [
            "vertical",
            "segment",
            "gmv_tier",
            "country",
            "platform",
            "plan",
            "csm_owner",
        ] {
            assert!(
                layer.resolve_dimension(i, dim).is_some(),
                "{dim} on {}",
                model.name
            );
        }
    }
}

const BROKEN: &str = "\
semantic_models:
  - name: tickets
    table: tickets
    default_time_dimension: created_on
    entities:
      - name: merchant
        type: foreign
        expr: merchant_id
    dimensions:
      - name: channel
        type: categorical
      - name: created_at
        type: time
    measures:
      - name: ticket_count
        agg: count
      - name: bad_expr
        agg: sum
        expr: \"1; DROP TABLE tickets\"
metrics:
  - name: tickets
    type: simple
    description: Tickets.
    owner: ops
    unit: count
    measure: ticket_cnt
  - name: csat
    type: simple
    description: CSAT.
    owner: ops
    unit: stars
    measure: ticket_count
    filter: [\"chanel = email\"]
  - name: rate
    type: ratio
    description: A ratio.
    owner: ops
    unit: ratio
    numerator: tickets
  - name: combo
    type: derived
    description: A formula.
    owner: ops
    unit: count
    expr: tickets + nonsense
  - name: typo
    type: simple
    descripton: misspelled key
    owner: ops
    unit: count
    measure: ticket_count
";

#[test]
fn a_broken_file_reports_every_error_with_line_and_key() {
    let err = SemanticLayer::from_source(Path::new("metrics.yaml"), BROKEN).expect_err("broken");
    let lines: Vec<String> = err.0.iter().map(|d| d.to_string()).collect();
    let all = lines.join("\n");
    let expect = [
        (
            "metrics.yaml:4: semantic_models.tickets.default_time_dimension",
            "did you mean created_at",
        ),
        (
            "metrics.yaml:17: semantic_models.tickets.measures.bad_expr",
            "single SQL expression",
        ),
        (
            "metrics.yaml:26: metrics.tickets.measure",
            "unknown measure \"ticket_cnt\"; did you mean ticket_count",
        ),
        (
            "metrics.yaml:31: metrics.csat.unit",
            "unknown unit \"stars\"",
        ),
        (
            "metrics.yaml:33: metrics.csat.filter",
            "unknown dimension \"chanel\"",
        ),
        (
            "metrics.yaml:34: metrics.rate.denominator",
            "needs `denominator:`",
        ),
        (
            "metrics.yaml:45: metrics.combo.expr",
            "unknown metric \"nonsense\"",
        ),
        (
            "metrics.yaml:48: metrics.typo.descripton",
            "unknown field `descripton`",
        ),
    ];
    for (prefix, text) in expect {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(prefix) && l.contains(text)),
            "missing {prefix} .. {text} in:\n{all}"
        );
    }
    assert!(lines.len() >= expect.len(), "{all}");
}

#[test]
fn invalid_yaml_reports_its_line() {
    let err = SemanticLayer::from_source(Path::new("m.yaml"), "metrics:\n  - name: [unclosed\n")
        .expect_err("bad yaml");
    assert_eq!(err.0.len(), 1);
    assert!(err.0[0].to_string().starts_with("m.yaml:"), "{}", err.0[0]);
    assert!(err.0[0].message.contains("not valid YAML"));
}

#[test]
fn unknown_sections_and_cycles_are_errors() {
    let src = "\
semantic_models:
  - name: t
    table: t
    measures:
      - name: n
        agg: count
metric:
  - name: x
metrics:
  - name: a
    type: derived
    description: a
    owner: o
    unit: count
    expr: b + 1
  - name: b
    type: derived
    description: b
    owner: o
    unit: count
    expr: a * 2
";
    let err = SemanticLayer::from_source(Path::new("m.yaml"), src).expect_err("bad");
    let all = err.to_string();
    assert!(
        all.contains("m.yaml:7: metric: unknown section; did you mean metrics"),
        "{all}"
    );
    assert!(all.contains("refers to itself"), "{all}");
}
