//! The demo generator: deterministic, internally consistent, and telling the stories the
//! README promises.

use chrono::NaiveDate;
use cortex::demo::{build, DemoOptions};
use duckdb::Connection;

fn build_small(dir: &std::path::Path, name: &str, seed: u64) -> std::path::PathBuf {
    let out = dir.join(name);
    build(
        &DemoOptions {
            out: out.clone(),
            scale: 0.05,
            end_date: NaiveDate::from_ymd_opt(2026, 11, 20).expect("date"),
            seed,
        },
        &mut |_| {},
    )
    .expect("demo builds");
    out
}

fn one<T: duckdb::types::FromSql>(c: &Connection, sql: &str) -> T {
    c.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A digest of every table's rows in key order (text form, so NULLs hash the same way).
const FINGERPRINT: &str =
    "SELECT (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY merchant_id)) FROM merchants t)
    || (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR)) FROM arr_movements t)
    || (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY ticket_id)) FROM tickets t)
    || (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY order_id)) FROM conversation_orders t)
    || (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY opportunity_id)) FROM opportunities t)
    || (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR)) FROM product_usage t)
    || (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY signal_id)) FROM intent_signals t)";

#[test]
fn the_demo_is_deterministic_and_consistent() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Connection::open(build_small(dir.path(), "a.duckdb", 7)).expect("open");
    let b = Connection::open(build_small(dir.path(), "b.duckdb", 7)).expect("open");
    let c = Connection::open(build_small(dir.path(), "c.duckdb", 8)).expect("open");
    let fa: String = one(&a, FINGERPRINT);
    assert_eq!(fa, one::<String>(&b, FINGERPRINT), "same seed, same data");
    assert_ne!(
        fa,
        one::<String>(&c, FINGERPRINT),
        "another seed, other data"
    );

    let c = a;
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM merchants"), 16_000);
    // ARR per merchant and product never goes negative, at any movement.
    let negative: i64 = one(
        &c,
        "SELECT count(*) FROM (SELECT sum(arr_delta_usd) OVER (PARTITION BY merchant_id, product ORDER BY movement_date,
           CASE movement_type WHEN 'new' THEN 0 WHEN 'expansion' THEN 1 WHEN 'contraction' THEN 2 ELSE 3 END) AS bal FROM arr_movements) WHERE bal < -1e-6",
    );
    assert_eq!(negative, 0);
    // Churned merchants end at zero ARR; contraction and churn are negative.
    let churned_left: f64 = one(
        &c,
        "SELECT coalesce(sum(abs(b)), 0) FROM (SELECT sum(arr_delta_usd) b FROM arr_movements a JOIN merchants m USING (merchant_id)
           WHERE m.churned_date IS NOT NULL GROUP BY a.merchant_id, a.product)",
    );
    assert!(churned_left < 1e-3, "{churned_left}");
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM arr_movements WHERE movement_type IN ('contraction', 'churn') AND arr_delta_usd >= 0"), 0);
    // Nothing is dated after the end date except open opportunities' expected close.
    for sql in [
        "SELECT count(*) FROM tickets WHERE created_at >= DATE '2026-11-21'",
        "SELECT count(*) FROM conversation_orders WHERE ordered_at >= DATE '2026-11-21'",
        "SELECT count(*) FROM arr_movements WHERE movement_date > DATE '2026-11-20'",
        "SELECT count(*) FROM merchants WHERE signup_date > DATE '2026-11-20' OR churned_date > DATE '2026-11-20'",
        "SELECT count(*) FROM opportunities WHERE created_date > DATE '2026-11-20'",
        "SELECT count(*) FROM opportunities WHERE close_date > DATE '2026-11-20' AND stage IN ('closed_won', 'closed_lost')",
        "SELECT count(*) FROM intent_signals WHERE signal_date > DATE '2026-11-20'",
        "SELECT count(*) FROM tickets t JOIN merchants m USING (merchant_id) WHERE t.created_at < m.signup_date OR t.created_at >= m.churned_date",
        "SELECT count(*) FROM tickets WHERE csat_score NOT BETWEEN 1 AND 5",
        "SELECT count(*) FROM tickets WHERE handled_by = 'ai_agent' AND merchant_id IN (SELECT merchant_id FROM merchants WHERE NOT ai_agent_enabled)",
    ] {
        assert_eq!(one::<i64>(&c, sql), 0, "{sql}");
    }
}

#[test]
fn the_demo_tells_true_to_life_stories() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Connection::open(build_small(dir.path(), "s.duckdb", 42)).expect("open");
    // Email is the largest channel; chat grows fastest (first vs last full quarter).
    let top: String = one(
        &c,
        "SELECT channel FROM tickets GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
    );
    assert_eq!(top, "email");
    let fastest: String = one(
        &c,
        "SELECT channel FROM tickets GROUP BY 1 ORDER BY
           count(*) FILTER (WHERE created_at >= DATE '2026-08-01' AND created_at < DATE '2026-11-01')::DOUBLE
           / count(*) FILTER (WHERE created_at >= DATE '2024-12-01' AND created_at < DATE '2025-03-01') DESC LIMIT 1",
    );
    assert_eq!(fastest, "chat");
    // About 1 in 5 active merchants have the AI Agent.
    let adoption: f64 = one(
        &c,
        "SELECT avg(ai_agent_enabled::INT) FROM merchants WHERE churned_date IS NULL",
    );
    assert!((0.15..0.27).contains(&adoption), "{adoption}");
    // The AI Agent resolves up to ~60% of tickets where enabled (last 3 months).
    let auto: f64 = one(
        &c,
        "SELECT avg((handled_by = 'ai_agent')::INT) FROM tickets JOIN merchants USING (merchant_id)
           WHERE ai_agent_enabled AND created_at >= DATE '2026-08-20'",
    );
    assert!((0.35..0.65).contains(&auto), "{auto}");
    // Humans answer in hours, the AI agent in seconds; voice is faster than email.
    let human: f64 = one(
        &c,
        "SELECT median(first_response_seconds) FROM tickets WHERE handled_by = 'human'",
    );
    let ai: f64 = one(
        &c,
        "SELECT median(first_response_seconds) FROM tickets WHERE handled_by = 'ai_agent'",
    );
    assert!(human >= 3600.0, "{human}");
    assert!(ai < 60.0, "{ai}");
    let voice: f64 = one(&c, "SELECT median(first_response_seconds) FROM tickets WHERE channel = 'voice' AND handled_by = 'human'");
    let email: f64 = one(&c, "SELECT median(first_response_seconds) FROM tickets WHERE channel = 'email' AND handled_by = 'human'");
    assert!(voice < email / 10.0);
    let csat: f64 = one(&c, "SELECT avg(csat_score) FROM tickets");
    assert!((4.1..4.5).contains(&csat), "{csat}");
    // BFCM: the Thanksgiving-to-Cyber-Monday days are the busiest of the year (2025: Nov 27 - Dec 1).
    let peak: f64 = one(
        &c,
        "SELECT avg(n) FILTER (WHERE d BETWEEN DATE '2025-11-27' AND DATE '2025-12-01') / avg(n) FILTER (WHERE d BETWEEN DATE '2025-09-01' AND DATE '2025-10-31')
         FROM (SELECT CAST(created_at AS DATE) d, count(*) n FROM tickets GROUP BY 1)",
    );
    assert!(peak > 2.0, "{peak}");
    // ARR is skewed to Enterprise; AI-influenced orders grow through the year.
    let ent_share: f64 = one(
        &c,
        "SELECT sum(arr_delta_usd) FILTER (WHERE segment = 'Enterprise') / sum(arr_delta_usd) FROM arr_movements JOIN merchants USING (merchant_id)",
    );
    assert!(ent_share > 0.5, "{ent_share}");
    let growth: f64 = one(
        &c,
        "SELECT count(*) FILTER (WHERE ordered_at >= DATE '2026-08-01' AND ordered_at < DATE '2026-11-01')::DOUBLE
           / count(*) FILTER (WHERE ordered_at >= DATE '2026-01-01' AND ordered_at < DATE '2026-04-01')
         FROM conversation_orders WHERE influence <> 'human'",
    );
    assert!(growth > 1.3, "{growth}");
    // Verticals differ: the fastest vertical answers at least twice as fast as the slowest.
    let spread: f64 = one(
        &c,
        "SELECT max(m) / min(m) FROM (SELECT median(first_response_seconds) m FROM tickets JOIN merchants USING (merchant_id)
           WHERE handled_by = 'human' GROUP BY vertical)",
    );
    assert!(spread > 2.0, "{spread}");
    // January churn is seasonal.
    let jan: f64 = one(
        &c,
        "SELECT count(*) FILTER (WHERE month(churned_date) = 1)::DOUBLE / (count(*) FILTER (WHERE month(churned_date) <> 1) / 11.0) FROM merchants WHERE churned_date IS NOT NULL",
    );
    assert!(jan > 2.0, "{jan}");
}
