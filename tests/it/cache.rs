//! The result cache below the guard: a hit returns what a miss returned, a scope never
//! receives another scope's entry, a new warehouse version is never answered from an older
//! one, and volatile SQL always runs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use cortex::warehouse::{AuditContext, AuditLog, Limits, RowScope, Warehouse};
use serde_json::json;

use crate::helpers::{fixture, Fixture};

fn tables() -> BTreeSet<String> {
    cortex::engine::load_layer(&crate::helpers::project_dir().join("metrics.yaml"))
        .expect("layer")
        .tables()
}

fn as_user(who: &str) -> AuditContext {
    AuditContext {
        requester: who.into(),
        question: "cache test".into(),
        query_json: None,
    }
}

fn scope(key: &str, merchant: &str) -> RowScope {
    RowScope {
        key: key.into(),
        filters: BTreeMap::from([
            (
                "merchants".to_string(),
                format!("merchant_id = '{merchant}'"),
            ),
            ("tickets".to_string(), format!("merchant_id = '{merchant}'")),
        ]),
        ..RowScope::default()
    }
}

/// A warehouse over the fixture where "a*" requesters see M1's rows, "b*" M2's, and
/// everybody else everything.
fn governed(f: &Fixture) -> (Warehouse, AuditLog) {
    let audit = AuditLog::open(&f.state_db).expect("audit");
    let (a, b) = (scope("csm-a", "M1"), scope("csm-b", "M2"));
    let wh = Warehouse::open_with_scopes(
        &f.warehouse,
        tables(),
        Limits {
            timeout: Duration::from_secs(10),
            max_rows: 100,
            ..Limits::default()
        },
        Some(audit.clone()),
        &[a.clone(), b.clone()],
    )
    .expect("open")
    .with_scopes(Arc::new(move |who: &str| {
        if who.starts_with('a') {
            Some(a.clone())
        } else if who.starts_with('b') {
            Some(b.clone())
        } else {
            None
        }
    }));
    (wh, audit)
}

/// Rows as JSON.
fn rows(r: &cortex::warehouse::QueryResult) -> serde_json::Value {
    serde_json::to_value(&r.rows).expect("json")
}

/// The oracle: the same (merchant, count) SQL straight on the fixture file, on a fresh
/// read-only connection.
fn oracle(f: &Fixture, sql: &str) -> serde_json::Value {
    let c = duckdb::Connection::open_with_flags(
        &f.warehouse,
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .expect("config"),
    )
    .expect("open oracle");
    let mut stmt = c.prepare(sql).expect("prepare");
    let out: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    json!(out.iter().map(|(m, n)| json!([m, n])).collect::<Vec<_>>())
}

const SQL: &str = "SELECT merchant_id, count(*) AS n FROM tickets GROUP BY 1 ORDER BY 1";

#[test]
fn a_hit_returns_the_rows_of_the_miss_and_is_audited() {
    let f = fixture();
    let (wh, audit) = governed(&f);
    let miss = wh.query(SQL, &as_user("ops")).expect("miss runs");
    assert!(!miss.cached);
    let hit = wh.query(SQL, &as_user("ops2")).expect("hit");
    assert!(
        hit.cached,
        "the same SQL in the same (unfiltered) scope is a hit"
    );
    assert_eq!(rows(&hit), rows(&miss));
    assert_eq!(hit.columns, miss.columns);
    assert_eq!(hit.result_hash, miss.result_hash);
    assert_eq!(rows(&hit), oracle(&f, SQL));
    assert_eq!(
        rows(&hit),
        json!([["M1", 2], ["M2", 3], ["M3", 1]]),
        "hand-counted from tests/fixtures/tiny.sql"
    );
    let s = wh.cache_stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 1, 1));
    // Every answer is audited, the cached one too, with the same result hash.
    let recent = audit.recent(2).expect("audit");
    assert_eq!(recent.len(), 2);
    assert!(recent
        .iter()
        .all(|r| r.status == "ok" && r.result_hash.as_deref() == Some(miss.result_hash.as_str())));
    // A fresh read (the health check) never comes from the cache.
    let fresh = wh.query_fresh(SQL, &as_user("ops")).expect("fresh");
    assert!(!fresh.cached);
    assert_eq!(wh.cache_stats().hits, 1);
}

#[test]
fn a_scope_never_gets_another_scopes_entry() {
    let f = fixture();
    let (wh, _) = governed(&f);
    // Fill the cache from the widest scope first: the narrower ones must not see it.
    let all = wh.query(SQL, &as_user("ops")).expect("all");
    let a = wh.query(SQL, &as_user("alice")).expect("a");
    let b = wh.query(SQL, &as_user("bob")).expect("b");
    assert!(!a.cached && !b.cached, "each scope misses once");
    assert_eq!(rows(&a), json!([["M1", 2]]));
    assert_eq!(rows(&b), json!([["M2", 3]]));
    assert_eq!(
        rows(&a),
        oracle(
            &f,
            "SELECT merchant_id, count(*) AS n FROM tickets WHERE merchant_id = 'M1' GROUP BY 1 ORDER BY 1"
        )
    );
    assert_ne!(rows(&all), rows(&a));
    // Someone else in scope A shares A's entry, and only A's.
    let a2 = wh.query(SQL, &as_user("anna")).expect("a2");
    assert!(a2.cached);
    assert_eq!(rows(&a2), rows(&a));
    let b2 = wh.query(SQL, &as_user("ben")).expect("b2");
    assert!(b2.cached);
    assert_eq!(rows(&b2), rows(&b));
    let s = wh.cache_stats();
    assert_eq!((s.misses, s.hits, s.entries), (3, 2, 3));
}

#[test]
fn a_new_warehouse_version_is_never_answered_from_the_old_one() {
    let f = fixture();
    let (wh, _) = governed(&f);
    let first = wh.query(SQL, &as_user("ops")).expect("first");
    assert!(wh.query(SQL, &as_user("ops")).expect("hit").cached);
    // The file changes (here: its modification time, as any rewrite does): the entry of the
    // old version is unreachable and the query runs again.
    let file = std::fs::File::options()
        .write(true)
        .open(&f.warehouse)
        .expect("open file");
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(60))
        .expect("touch");
    drop(file);
    let again = wh.query(SQL, &as_user("ops")).expect("again");
    assert!(!again.cached, "a new version must miss");
    assert_eq!(rows(&again), rows(&first));
    assert!(wh.query(SQL, &as_user("ops")).expect("hit").cached);
    let s = wh.cache_stats();
    assert_eq!((s.misses, s.hits), (2, 2));
}

#[test]
fn volatile_sql_and_errors_always_run() {
    let f = fixture();
    let (wh, _) = governed(&f);
    let sql = "SELECT count(*) AS n FROM tickets WHERE created_at < now()";
    for _ in 0..2 {
        let r = wh.query(sql, &as_user("ops")).expect("runs");
        assert!(!r.cached);
        assert_eq!(rows(&r), json!([[6]]));
    }
    let bad = "SELECT no_such_column FROM tickets";
    assert!(wh.query(bad, &as_user("ops")).is_err());
    assert!(wh.query(bad, &as_user("ops")).is_err());
    let s = wh.cache_stats();
    assert_eq!((s.hits, s.bypassed, s.entries), (0, 2, 0));
    assert_eq!(s.misses, 2, "errors are looked up but never kept");
}

#[test]
fn the_cache_can_be_turned_off() {
    let f = fixture();
    let wh = Warehouse::open(
        &f.warehouse,
        tables(),
        Limits {
            cache_entries: 0,
            ..Limits::default()
        },
        None,
    )
    .expect("open");
    for _ in 0..2 {
        assert!(!wh.query(SQL, &as_user("ops")).expect("runs").cached);
    }
    assert_eq!(wh.cache_stats().hits, 0);
}

/// A person's own slow questions don't hold up their next cheap one: a query still running
/// after a moment moves to a separate heavy budget, freeing the asker's cheap budget (before,
/// two heavy queries used up `per_requester = 2` and the cheap one waited for them).
#[test]
fn an_askers_cheap_query_does_not_wait_for_their_own_heavy_ones() {
    let f = fixture();
    let wh = Arc::new(
        Warehouse::open(
            &f.warehouse,
            tables(),
            Limits {
                timeout: Duration::from_secs(5),
                max_rows: 100,
                pool_size: 4,
                per_requester: 2,
                ..Limits::default()
            },
            None,
        )
        .expect("open"),
    );
    let heavy: Vec<_> = (0..2)
        .map(|i| {
            let wh = wh.clone();
            std::thread::spawn(move || {
                wh.query(
                    &format!("SELECT sum(x % {}) FROM range(100000000000) t(x)", 5 + i),
                    &as_user("alice"),
                )
            })
        })
        .collect();
    while wh.in_flight() < 2 {
        std::thread::yield_now();
    }
    let r = wh
        .query("SELECT count(*) AS n FROM merchants", &as_user("alice"))
        .expect("the cheap query runs");
    assert!(!r.cached);
    assert_eq!(rows(&r), json!([[3]]));
    assert!(
        heavy.iter().all(|h| !h.is_finished()),
        "the cheap query waited for the asker's heavy ones"
    );
    for h in heavy {
        let out = h.join().expect("thread");
        assert!(
            matches!(out, Err(cortex::warehouse::WarehouseError::Timeout(_))),
            "{out:?}"
        );
    }
    // Every connection came back to the pool, whichever budget it was counted in.
    assert_eq!(wh.in_flight(), 0);
}
