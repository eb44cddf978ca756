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

#[test]
fn a_foreign_entity_problem_is_reported_at_its_own_line() {
    // A list written at its key's indent, as converters and yaml.dump write it.
    let src = "\
semantic_models:
- name: claims
  table: claim
  entities:
  - name: claim
    type: primary
  - name: policy
    type: foreign
- name: payments
  table: payment
  entities:
  - name: adjuster
    type: foreign
";
    let err = SemanticLayer::from_source(Path::new("m.yaml"), src).expect_err("dangling");
    let lines: Vec<Option<usize>> = err.0.iter().map(|d| d.line).collect();
    assert_eq!(lines, [Some(7), Some(12)], "{err}");
    assert!(err.0[0].key.ends_with("claims.entities.policy"), "{err}");
}

const WAREHOUSE_YAML: &str = "
semantic_models:
  - name: claims
    table: Claim
    default_time_dimension: opened
    entities: [{name: claim, type: primary, expr: claim_id}]
    dimensions:
      - {name: opened, type: time}
      - {name: closed, type: time}
      - {name: claim_no, type: categorical, data_type: number}
      - {name: adjuster, type: categorical}
    measures:
      - {name: reserve, agg: sum, expr: reserve_note}
  - name: roles
    table: Party_Role
    entities: [{name: policy, type: primary, expr: agreement_id}]
    dimensions: [{name: role, type: categorical}]
  - name: holders
    table: party_role
    filter: \"role = 'PH'\"
    entities: [{name: holder_policy, type: primary, expr: agreement_id}]
  - name: ghosts
    table: Ghost
    entities: [{name: ghost, type: primary, expr: id}]
metrics:
  - {name: reserves, type: simple, description: R., owner: o, unit: usd, measure: reserve}
";

#[test]
fn check_against_the_warehouse_finds_missing_tables_columns_bad_types_and_duplicate_keys() {
    let dir = tempfile::tempdir().expect("tmp");
    let wh_path = dir.path().join("w.duckdb");
    let conn = duckdb::Connection::open(&wh_path).expect("create");
    conn.execute_batch(
        "CREATE TABLE Claim (claim_id INTEGER, opened DATE, closed VARCHAR, claim_no BIGINT, reserve_note VARCHAR);
         INSERT INTO Claim VALUES (1, '2024-01-01', 'soon', 5001, 'n/a');
         CREATE TABLE Party_Role (agreement_id INTEGER, party_id INTEGER, role VARCHAR);
         INSERT INTO Party_Role VALUES (1, 10, 'PH'), (1, 20, 'AG');",
    )
    .expect("load");
    drop(conn);
    let path = Path::new("metrics.yaml");
    let layer = SemanticLayer::from_source(path, WAREHOUSE_YAML).expect("valid yaml");
    // `table: Claim` and `table: party_role` both name tables the guard admits.
    assert!(layer.tables().contains("claim") && layer.tables().contains("party_role"));
    let wh = cortex::warehouse::Warehouse::open(
        &wh_path,
        layer.tables(),
        cortex::warehouse::Limits {
            timeout: std::time::Duration::from_secs(10),
            max_rows: 100,
        },
        None,
    )
    .expect("open");
    let problems = cortex::semantic::verify::check_warehouse(&layer, path, WAREHOUSE_YAML, &wh);
    let text: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
    let has = |key: &str, needle: &str| text.iter().any(|t| t.contains(key) && t.contains(needle));
    assert!(
        has(
            "claims.dimensions.closed",
            "is VARCHAR; a time dimension needs a DATE"
        ),
        "{text:#?}"
    );
    assert!(has("claims.dimensions.adjuster", "adjuster"), "{text:#?}");
    assert!(
        has(
            "claims.measures.reserve",
            "is VARCHAR; this aggregation needs a number"
        ),
        "{text:#?}"
    );
    // The unfiltered role table has two rows per policy; the filtered role is unique.
    assert!(
        has(
            "roles.entities.policy",
            "is not unique in Party_Role: 1 duplicate"
        ),
        "{text:#?}"
    );
    assert!(!text.iter().any(|t| t.contains("holders.")), "{text:#?}");
    assert!(
        has("ghosts.table", "table Ghost cannot be read"),
        "{text:#?}"
    );
    // Each problem is located on its line in metrics.yaml.
    assert!(problems.iter().all(|d| d.line.is_some()), "{text:#?}");
    assert_eq!(problems.len(), 5, "{text:#?}");
}
