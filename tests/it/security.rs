//! Trust II: the guard has no way around it, resources are bounded, and the access policy
//! decides who sees which metrics and rows, on every path.

use std::collections::BTreeSet;
use std::time::Duration;

use cortex::semantic::MetricQuery;
use cortex::warehouse::{AuditContext, Limits, Value, Warehouse, WarehouseError};
use serde_json::json;

use crate::helpers::{fixture, fixture_today, project_dir};

fn tables() -> BTreeSet<String> {
    cortex::engine::load_layer(&project_dir().join("metrics.yaml"))
        .expect("layer")
        .tables()
}

fn hostile_corpus() -> Vec<String> {
    std::fs::read_to_string(project_dir().join("tests/fixtures/hostile_sql.txt"))
        .expect("corpus")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

fn as_who(requester: &str) -> AuditContext {
    AuditContext {
        requester: requester.into(),
        question: "security test".into(),
        query_json: None,
    }
}

fn contains_salary(rows: &[Vec<Value>]) -> bool {
    rows.iter().flatten().any(|v| {
        let s = format!("{v:?}");
        s.contains("98765432") || s.contains("not in metrics.yaml")
    })
}

/// Every hostile query is refused by the guard, and, run below the guard on the same pooled
/// connections, none of them can read the undeclared tables either: the connection's catalog
/// only has views over declared tables.
#[test]
fn the_hostile_corpus_is_refused_and_leaks_nothing_even_below_the_guard() {
    let f = fixture();
    let wh = Warehouse::open(
        &f.warehouse,
        tables(),
        Limits {
            timeout: Duration::from_secs(2),
            max_rows: 50,
            ..Limits::default()
        },
        None,
    )
    .expect("open");
    let corpus = hostile_corpus();
    assert!(corpus.len() >= 120);
    for sql in &corpus {
        match wh.query(sql, &as_who("cli:attacker")) {
            Err(WarehouseError::Refused(_)) => {}
            other => panic!("not refused: {sql}\n{other:?}"),
        }
        // Below the guard, only what could read data: the resource-exhaustion entries
        // (300 M-element lists, 1.5 GB strings) read nothing, and DuckDB's memory limit does
        // not bound list and string vectors, so running them here would only eat the machine.
        let exhausts = ["resize(", "repeat(", "pad(", "range(", "generate_series("]
            .iter()
            .any(|f| sql.to_lowercase().contains(f));
        if exhausts {
            continue;
        }
        if let Ok(r) = wh.unguarded_for_tests(sql, None) {
            assert!(!contains_salary(&r.rows), "leaked below the guard: {sql}");
        }
    }
    // The undeclared tables are really there: the raw file has them.
    let raw = duckdb::Connection::open(&f.warehouse).expect("raw");
    let n: i64 = raw
        .query_row("SELECT count(*) FROM payroll", [], |r| r.get(0))
        .expect("payroll exists");
    assert_eq!(n, 2);
    // And declared tables work through the same connections.
    let r = wh
        .query("SELECT count(*) FROM merchants", &as_who("cli:x"))
        .expect("ok");
    assert_eq!(r.rows[0][0], Value::Int(3));
}

/// The row cap is pushed into DuckDB: a 300-million-row result under a 64 MiB memory limit
/// and a 1 MiB spill cap comes back cut at the cap instead of being built first (which could
/// not fit).
#[test]
fn the_row_cap_is_applied_inside_duckdb() {
    let f = fixture();
    let wh = Warehouse::open(
        &f.warehouse,
        tables(),
        Limits {
            timeout: Duration::from_secs(60),
            max_rows: 1000,
            memory_limit_mb: 64,
            temp_limit_mb: 1,
            ..Limits::default()
        },
        None,
    )
    .expect("open");
    let r = wh
        .query("SELECT * FROM range(300000000) t(x)", &as_who("cli:x"))
        .expect("capped query runs");
    assert_eq!(r.rows.len(), 1000);
    assert!(r.truncated);
    // A result at the cap exactly is not called truncated.
    let r = wh
        .query("SELECT * FROM range(1000) t(x)", &as_who("cli:x"))
        .expect("runs");
    assert_eq!(r.rows.len(), 1000);
    assert!(!r.truncated);
    // Ordering inside the capped query is kept.
    let r = wh
        .query(
            "SELECT x FROM range(5000) t(x) ORDER BY x DESC",
            &as_who("cli:x"),
        )
        .expect("runs");
    assert_eq!(r.rows[0][0], Value::Int(4999));
}

/// Three heavy queries hold three pooled connections; a cheap question from someone else is
/// answered while they are still running (with one shared connection it waited for all three).
#[test]
fn a_cheap_query_does_not_wait_behind_heavy_ones() {
    let f = fixture();
    let wh = std::sync::Arc::new(
        Warehouse::open(
            &f.warehouse,
            tables(),
            Limits {
                timeout: Duration::from_secs(8),
                max_rows: 100,
                pool_size: 4,
                ..Limits::default()
            },
            None,
        )
        .expect("open"),
    );
    let heavy: Vec<_> = (0..3)
        .map(|i| {
            let wh = wh.clone();
            std::thread::spawn(move || {
                // Three different queries: identical ones would run once (the result cache
                // makes the others wait for the first instead of taking connections).
                wh.query(
                    &format!("SELECT sum(x % {}) FROM range(100000000000) t(x)", 7 + i),
                    &as_who(&format!("cli:heavy{i}")),
                )
            })
        })
        .collect();
    while wh.in_flight() < 3 {
        std::thread::yield_now();
    }
    let r = wh
        .query("SELECT count(*) FROM merchants", &as_who("cli:cheap"))
        .expect("cheap query runs");
    assert_eq!(r.rows[0][0], Value::Int(3));
    assert!(
        heavy.iter().all(|h| !h.is_finished()),
        "the cheap query finished only after the heavy ones"
    );
    for h in heavy {
        let out = h.join().expect("thread");
        assert!(matches!(out, Err(WarehouseError::Timeout(_))), "{out:?}");
    }
}

// --- The access policy (context/policy.yaml) -----------------------------------------------

fn ask(
    e: &cortex::engine::Engine,
    who: &str,
    q: serde_json::Value,
) -> Result<Vec<Vec<Value>>, String> {
    let q: MetricQuery = serde_json::from_value(q).expect("query");
    e.query(&q, fixture_today(), &as_who(who))
        .map(|o| o.result.rows)
        .map_err(|e| e.to_string())
}

fn hand(f: &crate::helpers::Fixture, sql: &str) -> f64 {
    let c = duckdb::Connection::open(&f.warehouse).expect("raw");
    c.query_row(sql, [], |r| r.get::<_, Option<f64>>(0))
        .expect("hand sql")
        .unwrap_or(0.0)
}

fn single(rows: &[Vec<Value>]) -> f64 {
    match rows.first().and_then(|r| r.first()) {
        Some(Value::Int(i)) => *i as f64,
        Some(Value::Float(x)) => *x,
        None => 0.0,
        other => panic!("not a number: {other:?}"),
    }
}

/// users x metrics x rows: each person gets exactly the rows and metrics the policy grants,
/// checked against SQL written by hand on the raw tables.
#[test]
fn the_policy_matrix_holds() {
    let f = fixture();
    let e = f.engine();
    // (requester, the csm_owner rows they are limited to (None = all), may see pipeline)
    let people: [(&str, Option<&str>, bool); 6] = [
        ("cli:operator", None, true),
        ("U01DAT0001", None, true),                  // Data team: admin
        ("U01REV0001", None, true),                  // Revenue: pipeline allowed
        ("U01SUP0001", None, false),                 // Support: pipeline restricted
        ("U01CSM0001", Some("Ava Thompson"), false), // CSM: own book only
        ("web:U01CSM0002", Some("Liam Carter"), false),
    ];
    let metrics = [
        ("tickets", "SELECT count(*) FROM tickets t JOIN merchants m USING (merchant_id) WHERE {rows}"),
        ("arr", "SELECT sum(arr_delta_usd) FROM arr_movements a JOIN merchants m USING (merchant_id) WHERE movement_date <= DATE '2025-10-15' AND {rows}"),
        ("merchants", "SELECT count(*) FROM merchants m WHERE churned_date IS NULL AND {rows}"),
        ("pipeline_arr", "SELECT sum(amount_usd) FROM opportunities o JOIN merchants m USING (merchant_id) WHERE stage NOT IN ('closed_won', 'closed_lost') AND {rows}"),
    ];
    for (who, rows, pipeline) in people {
        let filter = match rows {
            Some(name) => format!("m.csm_owner = '{name}'"),
            None => "TRUE".into(),
        };
        for (metric, sql) in metrics {
            let got = ask(&e, who, json!({"metrics": [metric]}));
            if metric == "pipeline_arr" && !pipeline {
                let err = got.expect_err(&format!("{who} must not see {metric}"));
                assert!(err.contains("restricted"), "{who}: {err}");
                continue;
            }
            let rows = got.unwrap_or_else(|e| panic!("{who} {metric}: {e}"));
            let want = hand(&f, &sql.replace("{rows}", &filter));
            assert!(
                (single(&rows) - want).abs() < 1e-6,
                "{who} {metric}: got {rows:?}, hand SQL says {want}"
            );
        }
        // Grouping by a restricted dimension is refused the same way.
        let by_owner = ask(
            &e,
            who,
            json!({"metrics": ["tickets"], "group_by": ["owner"]}),
        );
        if !pipeline {
            assert!(by_owner.expect_err(who).contains("restricted"));
            // So is filtering on it, even inside a boolean filter.
            let hidden = ask(
                &e,
                who,
                json!({"metrics": ["tickets"], "where_exprs": [{"any": [
                    {"cond": {"dimension": "channel", "op": "=", "values": ["email"]}},
                    {"not": {"cond": {"dimension": "owner", "op": "is null", "values": []}}}
                ]}]}),
            );
            assert!(hidden.expect_err(who).contains("restricted"), "{who}");
        }
        // Analyst SQL (a skill step) sees the same rows: the scope is in the catalog.
        let r = e
            .warehouse
            .query("SELECT count(*) FROM tickets", &as_who(who))
            .expect("analyst sql");
        let want = hand(
            &f,
            &format!("SELECT count(*) FROM tickets t JOIN merchants m USING (merchant_id) WHERE {filter}"),
        );
        assert_eq!(single(&r.rows), want, "{who}: analyst SQL saw other rows");
    }
    // Someone who is not in people.yaml sees nothing, through either path.
    let err = ask(
        &e,
        "web:stranger@example.com",
        json!({"metrics": ["tickets"]}),
    )
    .expect_err("denied");
    assert!(err.contains("don't know who you are"), "{err}");
    assert!(e
        .warehouse
        .query(
            "SELECT count(*) FROM tickets",
            &as_who("web:stranger@example.com")
        )
        .is_err());
    // A refusal names what is restricted, never a value.
    let err = ask(&e, "U01SUP0001", json!({"metrics": ["pipeline_arr"]})).expect_err("refused");
    assert!(!err.contains("8000") && !err.contains("11000"), "{err}");
}

/// The row filter is also visible in the compiled query: the semantic layer injects it, so
/// the answer's provenance says whose rows it counted.
#[test]
fn row_scopes_are_injected_into_compiled_queries() {
    let f = fixture();
    let e = f.engine();
    let q: MetricQuery =
        serde_json::from_value(json!({"metrics": ["tickets"], "group_by": ["channel"]}))
            .expect("q");
    let out = e
        .query(&q, fixture_today(), &as_who("U01CSM0001"))
        .expect("runs");
    assert!(
        out.compiled.sql.contains("'Ava Thompson'"),
        "{}",
        out.compiled.sql
    );
    let out = e
        .query(&q, fixture_today(), &as_who("U01REV0001"))
        .expect("runs");
    assert!(
        !out.compiled.sql.contains("Ava Thompson"),
        "{}",
        out.compiled.sql
    );
}

/// On the web site, identity comes from the trusted proxy and the policy decides: the audit
/// log is for admins, a permalink is shown only to its asker, an admin or someone with the
/// same access, restricted metrics are refused, and a visitor nobody vouches for sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_site_enforces_the_policy_per_visitor() {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = crate::websec::demo_config(&state);
    config.server.default_user = "local".into();
    config.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    let site = crate::websec::start(config, Some(state)).await;
    let as_user = |email: &str| vec![("x-forwarded-user".to_string(), email.to_string())];
    let admin = site.browser(as_user("noor.haddad@example.com")).await;
    let csm = site.browser(as_user("ava.thompson@example.com")).await;
    let support = site.browser(as_user("riya.kapoor@example.com")).await;
    let nobody = site.browser(vec![]).await;

    let page = site.ask(&admin, "What's our ARR by segment?").await;
    assert!(page.contains("Enterprise"), "{page}");
    let id = site
        .server
        .svc
        .state
        .recent_answers(Some("web:noor.haddad@example.com"), 1)
        .expect("answers")
        .first()
        .expect("recorded")
        .id
        .clone();
    let (s, _, _) = site
        .get(&format!("/a/{id}"), &as_user("noor.haddad@example.com"))
        .await;
    assert_eq!(s, 200);
    for path in [format!("/a/{id}"), format!("/a/{id}.pdf")] {
        let (s, _, body) = site.get(&path, &as_user("ava.thompson@example.com")).await;
        assert_eq!(s, 404, "a CSM must not see an admin's answer: {path}");
        assert!(!body.contains("Enterprise"), "{body}");
    }
    let (s, _, _) = site
        .get("/audit", &as_user("ava.thompson@example.com"))
        .await;
    assert_eq!(s, 403);
    let (s, _, body) = site
        .get("/audit", &as_user("noor.haddad@example.com"))
        .await;
    assert_eq!(s, 200);
    assert!(body.contains("web:noor.haddad@example.com"), "{body}");

    let page = site.ask(&support, "What is our win rate this year?").await;
    assert!(page.contains("restricted"), "{page}");
    let page = site
        .ask(&nobody, "How many tickets did we get last month?")
        .await;
    assert!(page.contains("know who you are"), "{page}");
    // The CSM's own question is answered from her book only.
    let page = site.ask(&csm, "How many merchants do we have?").await;
    assert!(!page.contains("know who you are"), "{page}");

    // The metric catalog shows each visitor only what they may ask about.
    let (_, _, body) = site
        .get("/metrics", &as_user("noor.haddad@example.com"))
        .await;
    assert!(body.contains("id=\"win_rate\""), "{body}");
    assert!(
        body.contains("<b>csm_owner</b>"),
        "admins see the sample CSM names"
    );
    let (_, _, body) = site
        .get("/metrics", &as_user("riya.kapoor@example.com"))
        .await;
    assert!(body.contains("id=\"tickets\""), "{body}");
    assert!(
        !body.contains("id=\"win_rate\"") && !body.contains("id=\"pipeline_arr\""),
        "restricted metrics are not in support's catalog"
    );
    let (_, _, body) = site
        .get("/metrics", &as_user("ava.thompson@example.com"))
        .await;
    assert!(
        !body.contains("<b>csm_owner</b>"),
        "a CSM's rows are filtered on csm_owner: no sample names of other books"
    );
    let (_, _, body) = site.get("/metrics", &[]).await;
    assert!(!body.contains("id=\"tickets\""), "{body}");
}

/// A metric filter (`merchant__pipeline_arr > 0`: merchants with open pipeline) computes a
/// metric, so the policy covers it like a queried metric: refused to whoever may not see
/// the metric; and the filtered-by metric is computed with the asker's own row scope.
#[test]
fn metric_filters_follow_the_policy_of_the_metric_they_compute() {
    let f = fixture();
    let e = f.engine();
    let by_pipeline = json!({"metrics": ["tickets"],
        "filters": [{"dimension": "merchant__pipeline_arr", "op": ">", "values": [0]}]});
    let err = ask(&e, "U01SUP0001", by_pipeline.clone()).expect_err("support may not");
    assert!(err.contains("restricted"), "{err}");
    assert!(ask(&e, "U01CSM0001", by_pipeline.clone())
        .expect_err("a CSM may not")
        .contains("restricted"));
    let rows = ask(&e, "U01REV0001", by_pipeline).expect("revenue may");
    let want = hand(
        &f,
        "SELECT count(*) FROM tickets t WHERE (SELECT sum(amount_usd) FROM opportunities o
           WHERE o.merchant_id = t.merchant_id AND stage NOT IN ('closed_won', 'closed_lost')) > 0",
    );
    assert!(want > 0.0, "the oracle counts tickets");
    assert!((single(&rows) - want).abs() < 1e-6, "{rows:?} vs {want}");
    // A CSM's merchants with more than 3 tickets: the ticket counts are of their own book.
    let busy = json!({"metrics": ["merchants"],
        "filters": [{"dimension": "merchant__tickets", "op": ">", "values": [3]}]});
    for (who, rows_filter) in [
        ("U01CSM0001", "m.csm_owner = 'Ava Thompson'"),
        ("U01REV0001", "TRUE"),
    ] {
        let q: MetricQuery = serde_json::from_value(busy.clone()).expect("q");
        let out = e.query(&q, fixture_today(), &as_who(who)).expect("runs");
        let want = hand(
            &f,
            &format!(
                "SELECT count(*) FROM merchants m WHERE churned_date IS NULL AND {rows_filter}
                   AND (SELECT count(*) FROM tickets t WHERE t.merchant_id = m.merchant_id) > 3"
            ),
        );
        assert!(
            (single(&out.result.rows) - want).abs() < 1e-6,
            "{who}: {:?} vs {want}\n{}",
            out.result.rows,
            out.compiled.sql
        );
        if who == "U01CSM0001" {
            assert!(
                out.compiled.sql.matches("'Ava Thompson'").count() >= 2,
                "the scope applies to the merchants and inside the tickets subquery:\n{}",
                out.compiled.sql
            );
        }
    }
}
