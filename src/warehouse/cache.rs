//! The result cache: results of admitted queries, keyed by the exact SQL that ran, its bound
//! parameters, the access scope it ran in, and the warehouse file's version.
//!
//! It sits below the guard and the access policy (inside [`super::Warehouse`]), so every
//! path (planner, skills, analyst SQL, briefings) shares it and none can reach another
//! scope's rows through it:
//! - a different scope is a different key (the scope's key, not the asker, is in it);
//! - the warehouse version (size, modification time and inode of the file and of its WAL)
//!   is read at every lookup: rewriting the warehouse makes every older entry unreachable;
//! - SQL that calls a volatile function (`now()`, `current_date`, `random()`, ...) is never
//!   cached, and neither are errors, timeouts or results over the size cap;
//! - concurrent misses on one key run the query once: the others wait for its result
//!   (bounded by the query timeout) instead of taking pool connections.
//!
//! The cache holds at most `capacity` entries and `max_cells` cells in all; the least
//! recently used entries go first.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{QueryResult, WarehouseError};

/// Cells (rows × columns) kept in all, and the largest result kept.
const MAX_CELLS: usize = 2_000_000;
const MAX_RESULT_CELLS: usize = 200_000;

/// Functions whose result changes between calls: SQL naming any of them is never cached.
const VOLATILE: &[&str] = &[
    "now",
    "today",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_localtime",
    "current_localtimestamp",
    "localtime",
    "localtimestamp",
    "get_current_time",
    "get_current_timestamp",
    "transaction_timestamp",
    "statement_timestamp",
    "random",
    "setseed",
    "uuid",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "nextval",
    "currval",
    "current_setting",
    "current_query",
    "txid_current",
];

/// The warehouse file as it is now: any rewrite changes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    file: FileStamp,
    wal: Option<FileStamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    changed_ns: i64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let (inode, changed_ns) = {
            use std::os::unix::fs::MetadataExt;
            (
                m.ino(),
                m.ctime().saturating_mul(1_000_000_000) + m.ctime_nsec(),
            )
        };
        #[cfg(not(unix))]
        let (inode, changed_ns) = (0, 0);
        Some(FileStamp {
            len: m.len(),
            modified: m.modified().ok(),
            inode,
            changed_ns,
        })
    }
}

impl Version {
    /// The version of the warehouse file at `path`; `None` when it cannot be read (nothing
    /// is cached then).
    pub fn of(path: &Path) -> Option<Version> {
        let file = FileStamp::of(path)?;
        let mut wal = path.as_os_str().to_owned();
        wal.push(".wal");
        Some(Version {
            file,
            wal: FileStamp::of(Path::new(&wal)),
        })
    }
}

/// What a result is filed under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The admitted SQL, exactly as it runs (row cap included).
    sql: String,
    /// The bound parameters, as JSON.
    params: String,
    /// The access scope's key (`None`: the unfiltered views).
    scope: Option<String>,
    version: Version,
}

impl Key {
    /// The key of a query, or `None` when it must not be cached (volatile SQL, unreadable
    /// warehouse file).
    pub fn new(
        sql: &str,
        params: &[(String, serde_json::Value)],
        scope: Option<&str>,
        warehouse: &Path,
    ) -> Option<Key> {
        if is_volatile(sql) {
            return None;
        }
        Some(Key {
            sql: sql.to_string(),
            params: serde_json::to_string(params).ok()?,
            scope: scope.map(str::to_string),
            version: Version::of(warehouse)?,
        })
    }
}

/// True when the SQL names a function whose value changes from call to call.
pub fn is_volatile(sql: &str) -> bool {
    sql.to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| VOLATILE.contains(&w))
}

/// Counters since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Answered from the cache (including waits on an identical query in flight).
    pub hits: u64,
    /// Looked up and not found: the query ran.
    pub misses: u64,
    /// Of the hits, those that waited for an identical query already running.
    pub coalesced: u64,
    /// Not cacheable (volatile SQL, cache off, fresh reads such as the health check).
    pub bypassed: u64,
    /// Entries held now.
    pub entries: u64,
}

/// How a result was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Miss,
    Bypass,
}

/// The cache. Cheap to share: one lock held only for map operations, never while a query runs.
pub struct ResultCache {
    inner: Mutex<Inner>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    coalesced: AtomicU64,
    bypassed: AtomicU64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Slot>,
    tick: u64,
    cells: usize,
}

enum Slot {
    Ready {
        result: Arc<QueryResult>,
        used: u64,
        cells: usize,
    },
    Running(Arc<Flight>),
}

/// How a query in flight ended, for those waiting on it.
#[derive(Clone)]
enum Outcome {
    Done(Arc<QueryResult>),
    /// It ran out of time: an identical query would too.
    TimedOut,
    /// Any other failure (e.g. the pool was busy): waiters run the query themselves.
    Failed,
}

/// A query in flight that others wait for.
#[derive(Default)]
struct Flight {
    outcome: Mutex<Option<Outcome>>,
    done: Condvar,
}

impl Flight {
    fn finish(&self, result: Outcome) {
        if let Ok(mut o) = self.outcome.lock() {
            *o = Some(result);
        }
        self.done.notify_all();
    }

    /// Waits for the running query; `None` when it takes longer than `wait`.
    fn wait(&self, wait: Duration) -> Option<Outcome> {
        let deadline = Instant::now() + wait;
        let mut o = self.outcome.lock().ok()?;
        loop {
            if let Some(r) = o.as_ref() {
                return Some(r.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            o = self.done.wait_timeout(o, deadline - now).ok()?.0;
        }
    }
}

/// Removes a running slot (and wakes its waiters) however the query ends, panics included.
struct Running<'c> {
    cache: &'c ResultCache,
    key: Key,
    flight: Arc<Flight>,
    /// `Failed` until the query has ended otherwise (so a panic counts as a failure).
    outcome: Outcome,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let outcome = std::mem::replace(&mut self.outcome, Outcome::Failed);
        if let Ok(mut inner) = self.cache.inner.lock() {
            let ours = matches!(inner.map.get(&self.key), Some(Slot::Running(f)) if Arc::ptr_eq(f, &self.flight));
            if ours {
                inner.map.remove(&self.key);
                if let Outcome::Done(r) = &outcome {
                    inner.insert(self.key.clone(), Arc::clone(r), self.cache.capacity);
                }
            }
        }
        self.flight.finish(outcome);
    }
}

impl Inner {
    fn insert(&mut self, key: Key, result: Arc<QueryResult>, capacity: usize) {
        let cells = cells(&result);
        if cells > MAX_RESULT_CELLS || capacity == 0 {
            return;
        }
        while self.ready_count() >= capacity || self.cells + cells > MAX_CELLS {
            if !self.evict_one() {
                break;
            }
        }
        self.tick += 1;
        self.cells += cells;
        self.map.insert(
            key,
            Slot::Ready {
                result,
                used: self.tick,
                cells,
            },
        );
    }

    fn ready_count(&self) -> usize {
        self.map
            .values()
            .filter(|s| matches!(s, Slot::Ready { .. }))
            .count()
    }

    /// Drops the least recently used ready entry; false when there is none.
    fn evict_one(&mut self) -> bool {
        let oldest = self
            .map
            .iter()
            .filter_map(|(k, s)| match s {
                Slot::Ready { used, .. } => Some((*used, k)),
                Slot::Running(_) => None,
            })
            .min_by_key(|(used, _)| *used)
            .map(|(_, k)| k.clone());
        match oldest.and_then(|k| self.map.remove(&k)) {
            Some(Slot::Ready { cells, .. }) => {
                self.cells -= cells;
                true
            }
            _ => false,
        }
    }
}

fn cells(r: &QueryResult) -> usize {
    r.rows.len().max(1) * r.columns.len().max(1)
}

impl ResultCache {
    /// A cache of at most `capacity` results (0: nothing is kept, every lookup bypasses).
    pub fn new(capacity: usize) -> ResultCache {
        ResultCache {
            inner: Mutex::new(Inner::default()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
        }
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            bypassed: self.bypassed.load(Ordering::Relaxed),
            entries: self
                .inner
                .lock()
                .map(|i| i.ready_count() as u64)
                .unwrap_or(0),
        }
    }

    /// The cached result for `key`, or `run`'s (kept when it succeeds). An identical query
    /// already running is waited for (at most `wait`) rather than run twice. `key: None`
    /// always runs and keeps nothing.
    pub fn get_or_run(
        &self,
        key: Option<Key>,
        wait: Duration,
        run: impl FnOnce() -> Result<QueryResult, WarehouseError>,
    ) -> (Result<QueryResult, WarehouseError>, Lookup) {
        let key = match key {
            Some(k) if self.capacity > 0 => k,
            _ => {
                self.bypassed.fetch_add(1, Ordering::Relaxed);
                return (run(), Lookup::Bypass);
            }
        };
        let started = Instant::now();
        let flight = {
            let Ok(mut inner) = self.inner.lock() else {
                self.bypassed.fetch_add(1, Ordering::Relaxed);
                return (run(), Lookup::Bypass);
            };
            inner.tick += 1;
            let tick = inner.tick;
            match inner.map.get_mut(&key) {
                Some(Slot::Ready { result, used, .. }) => {
                    *used = tick;
                    let r = Arc::clone(result);
                    drop(inner);
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return (Ok(hit(&r, started)), Lookup::Hit);
                }
                Some(Slot::Running(f)) => Some(Arc::clone(f)),
                None => {
                    let f = Arc::new(Flight::default());
                    inner.map.insert(key.clone(), Slot::Running(Arc::clone(&f)));
                    drop(inner);
                    return self.run_as_leader(key, f, run);
                }
            }
        };
        if let Some(f) = flight {
            match f.wait(wait) {
                Some(Outcome::Done(r)) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    return (Ok(hit(&r, started)), Lookup::Hit);
                }
                // Running it again would only time out again.
                Some(Outcome::TimedOut) => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    return (Err(WarehouseError::Timeout(wait)), Lookup::Miss);
                }
                Some(Outcome::Failed) | None => {}
            }
        }
        // The query we waited for failed or is still running: run it ourselves.
        self.misses.fetch_add(1, Ordering::Relaxed);
        (run(), Lookup::Miss)
    }

    fn run_as_leader(
        &self,
        key: Key,
        flight: Arc<Flight>,
        run: impl FnOnce() -> Result<QueryResult, WarehouseError>,
    ) -> (Result<QueryResult, WarehouseError>, Lookup) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut running = Running {
            cache: self,
            key,
            flight,
            outcome: Outcome::Failed,
        };
        let out = run();
        running.outcome = match &out {
            Ok(r) => Outcome::Done(Arc::new(r.clone())),
            Err(WarehouseError::Timeout(_)) => Outcome::TimedOut,
            Err(_) => Outcome::Failed,
        };
        drop(running);
        (out, Lookup::Miss)
    }
}

/// A copy of a cached result, marked as such, with the lookup's own time.
fn hit(r: &QueryResult, started: Instant) -> QueryResult {
    QueryResult {
        elapsed: started.elapsed(),
        cached: true,
        ..r.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::Value;

    fn result(n: i64) -> QueryResult {
        QueryResult {
            columns: vec!["x".into()],
            rows: vec![vec![Value::Int(n)]],
            truncated: false,
            elapsed: Duration::ZERO,
            result_hash: format!("h{n}"),
            cached: false,
        }
    }

    fn key(dir: &Path, sql: &str, scope: Option<&str>) -> Option<Key> {
        Key::new(sql, &[], scope, &dir.join("w.duckdb"))
    }

    #[test]
    fn volatile_sql_is_never_keyed() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("w.duckdb"), b"x").expect("file");
        for sql in [
            "SELECT now()",
            "SELECT * FROM t WHERE d > CURRENT_DATE - 7",
            "SELECT random() AS r",
            "select get_current_timestamp()",
        ] {
            assert!(key(dir.path(), sql, None).is_none(), "{sql}");
        }
        assert!(key(dir.path(), "SELECT nowhere FROM t", None).is_some());
        // No warehouse file, no version: not cached.
        assert!(Key::new("SELECT 1", &[], None, &dir.path().join("none")).is_none());
    }

    #[test]
    fn keeps_results_and_evicts_the_least_recently_used() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("w.duckdb"), b"x").expect("file");
        let c = ResultCache::new(2);
        let run = |n| move || Ok::<_, WarehouseError>(result(n));
        let w = Duration::from_secs(1);
        assert_eq!(
            c.get_or_run(key(dir.path(), "a", None), w, run(1)).1,
            Lookup::Miss
        );
        assert_eq!(
            c.get_or_run(key(dir.path(), "b", None), w, run(2)).1,
            Lookup::Miss
        );
        let (r, l) = c.get_or_run(key(dir.path(), "a", None), w, run(99));
        assert_eq!(
            (r.expect("a").rows, l),
            (vec![vec![Value::Int(1)]], Lookup::Hit)
        );
        // "b" is now the least recently used: a third entry pushes it out.
        c.get_or_run(key(dir.path(), "c", None), w, run(3))
            .0
            .expect("c");
        assert_eq!(
            c.get_or_run(key(dir.path(), "a", None), w, run(9)).1,
            Lookup::Hit
        );
        assert_eq!(
            c.get_or_run(key(dir.path(), "b", None), w, run(2)).1,
            Lookup::Miss
        );
        // Errors are not kept.
        let e = c.get_or_run(key(dir.path(), "e", None), w, || {
            Err(WarehouseError::Query("no".into()))
        });
        assert_eq!(e.1, Lookup::Miss);
        assert_eq!(
            c.get_or_run(key(dir.path(), "e", None), w, run(5)).1,
            Lookup::Miss
        );
        let s = c.stats();
        assert_eq!((s.hits, s.entries), (2, 2));
    }

    #[test]
    fn concurrent_identical_queries_run_once() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("w.duckdb"), b"x").expect("file");
        let c = Arc::new(ResultCache::new(8));
        let runs = Arc::new(AtomicU64::new(0));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let leader = {
            let (c, runs, k) = (c.clone(), runs.clone(), key(dir.path(), "q", None));
            std::thread::spawn(move || {
                c.get_or_run(k, Duration::from_secs(5), || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    started_tx.send(()).expect("send");
                    release_rx.recv().expect("release");
                    Ok::<_, WarehouseError>(result(7))
                })
            })
        };
        started_rx.recv().expect("leader running");
        let follower = {
            let (c, runs, k) = (c.clone(), runs.clone(), key(dir.path(), "q", None));
            std::thread::spawn(move || {
                c.get_or_run(k, Duration::from_secs(5), || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, WarehouseError>(result(8))
                })
            })
        };
        // The follower either waits on the leader's flight or finds its stored result.
        release_tx.send(()).expect("release");
        let (l, f) = (leader.join().expect("leader"), follower.join().expect("f"));
        assert_eq!(l.0.expect("l").rows, vec![vec![Value::Int(7)]]);
        assert_eq!(f.0.expect("f").rows, vec![vec![Value::Int(7)]]);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_query_that_timed_out_is_not_run_again_by_its_waiters() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("w.duckdb"), b"x").expect("file");
        let c = Arc::new(ResultCache::new(8));
        let runs = Arc::new(AtomicU64::new(0));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let leader = {
            let (c, runs, k) = (c.clone(), runs.clone(), key(dir.path(), "slow", None));
            std::thread::spawn(move || {
                c.get_or_run(k, Duration::from_secs(30), || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    started_tx.send(()).expect("send");
                    release_rx.recv().expect("release");
                    Err(WarehouseError::Timeout(Duration::from_secs(1)))
                })
            })
        };
        started_rx.recv().expect("leader running");
        // The leader's slot is Running now: a follower waits on it.
        let follower = {
            let (c, runs, k) = (c.clone(), runs.clone(), key(dir.path(), "slow", None));
            std::thread::spawn(move || {
                c.get_or_run(k, Duration::from_secs(30), || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(result(1))
                })
            })
        };
        release_tx.send(()).expect("release");
        assert!(matches!(
            leader.join().expect("leader").0,
            Err(WarehouseError::Timeout(_))
        ));
        let f = follower.join().expect("follower").0;
        // Either it waited (and got the timeout without running) or it came after the
        // leader was gone (and ran: nothing was cached). Never a cached timeout.
        match f {
            Err(WarehouseError::Timeout(_)) => assert_eq!(runs.load(Ordering::SeqCst), 1),
            Ok(r) => {
                assert_eq!(r.rows, vec![vec![Value::Int(1)]]);
                assert_eq!(runs.load(Ordering::SeqCst), 2);
            }
            Err(e) => panic!("{e}"),
        }
        assert_eq!(
            c.stats().entries,
            u64::from(runs.load(Ordering::SeqCst) == 2)
        );
    }
}
