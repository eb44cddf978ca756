//! A small pool of DuckDB connections with a fair queue.
//!
//! Every connection shares one in-memory database (the per-scope views over the attached,
//! read-only warehouse), so they share its buffer pool and thread budget. Waiting askers are
//! served first come, first served, except that nobody holds more than `per_requester`
//! connections at once: a person who fired off several heavy questions queues behind
//! everybody else's cheap ones instead of taking the whole pool.
//!
//! A query still running after a short while is *demoted* to a separate heavy budget (again
//! at most `per_requester` per person): it stops counting against its requester's cheap
//! budget, so that person's next cheap question does not wait for their slow one.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use duckdb::Connection;

/// The pool. Connections are handed out as [`Lease`]s and come back when dropped.
pub struct Pool {
    state: Mutex<PoolState>,
    freed: Condvar,
    per_requester: usize,
}

struct PoolState {
    idle: Vec<Connection>,
    /// Waiting askers in arrival order: (ticket, requester).
    queue: VecDeque<(u64, String)>,
    next_ticket: u64,
    /// Connections held by cheap (not demoted) queries, per requester.
    held: BTreeMap<String, usize>,
    /// Connections held by demoted (long-running) queries, per requester.
    heavy: BTreeMap<String, usize>,
}

/// Why no connection was handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolError {
    /// No connection came free within the wait limit.
    Busy,
    /// A thread panicked while holding the pool's lock.
    Poisoned,
}

impl Pool {
    /// A pool over `conns` (clones of one database).
    pub fn new(conns: Vec<Connection>, per_requester: usize) -> Pool {
        Pool {
            state: Mutex::new(PoolState {
                idle: conns,
                queue: VecDeque::new(),
                next_ticket: 0,
                held: BTreeMap::new(),
                heavy: BTreeMap::new(),
            }),
            freed: Condvar::new(),
            per_requester: per_requester.max(1),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, PoolState>, PoolError> {
        self.state.lock().map_err(|_| PoolError::Poisoned)
    }

    /// Waits (at most `wait`) for a connection for `requester`.
    pub fn lease(&self, requester: &str, wait: Duration) -> Result<Lease<'_>, PoolError> {
        let deadline = Instant::now() + wait;
        let mut st = self.lock()?;
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.queue.push_back((ticket, requester.to_string()));
        loop {
            if !st.idle.is_empty() && self.next_eligible(&st) == Some(ticket) {
                st.queue.retain(|(t, _)| *t != ticket);
                *st.held.entry(requester.to_string()).or_default() += 1;
                let conn = st.idle.pop();
                // Another waiter may be eligible too (more idle connections).
                self.freed.notify_all();
                return match conn {
                    Some(conn) => Ok(Lease {
                        pool: self,
                        requester: requester.to_string(),
                        conn: Some(conn),
                        demoted: false,
                    }),
                    None => Err(PoolError::Busy),
                };
            }
            let now = Instant::now();
            if now >= deadline {
                st.queue.retain(|(t, _)| *t != ticket);
                self.freed.notify_all();
                return Err(PoolError::Busy);
            }
            st = self
                .freed
                .wait_timeout(st, deadline - now)
                .map_err(|_| PoolError::Poisoned)?
                .0;
        }
    }

    /// Connections on loan right now.
    pub fn in_use(&self) -> usize {
        self.state
            .lock()
            .map(|st| st.held.values().sum::<usize>() + st.heavy.values().sum::<usize>())
            .unwrap_or(0)
    }

    /// Moves one of `requester`'s connections from the cheap budget to the heavy one, if
    /// the heavy budget has room; true when it did. The lease must then be marked with
    /// [`Lease::mark_demoted`] before it is dropped.
    pub fn demote(&self, requester: &str) -> bool {
        let Ok(mut st) = self.lock() else {
            return false;
        };
        let heavy = st.heavy.get(requester).copied().unwrap_or(0);
        let cheap = st.held.get(requester).copied().unwrap_or(0);
        if heavy >= self.per_requester || cheap == 0 {
            return false;
        }
        decrement(&mut st.held, requester);
        *st.heavy.entry(requester.to_string()).or_default() += 1;
        drop(st);
        // The requester may now be eligible for a waiting cheap question.
        self.freed.notify_all();
        true
    }

    /// The first waiter, in arrival order, still under its per-requester limit.
    fn next_eligible(&self, st: &PoolState) -> Option<u64> {
        st.queue
            .iter()
            .find(|(_, who)| st.held.get(who).copied().unwrap_or(0) < self.per_requester)
            .map(|(t, _)| *t)
    }

    fn give_back(&self, requester: &str, conn: Connection, demoted: bool) {
        if let Ok(mut st) = self.state.lock() {
            st.idle.push(conn);
            if demoted {
                decrement(&mut st.heavy, requester);
            } else {
                decrement(&mut st.held, requester);
            }
        }
        self.freed.notify_all();
    }
}

fn decrement(counts: &mut BTreeMap<String, usize>, requester: &str) {
    if let Some(n) = counts.get_mut(requester) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(requester);
        }
    }
}

/// A connection on loan; it returns to the pool when dropped.
pub struct Lease<'p> {
    pool: &'p Pool,
    requester: String,
    conn: Option<Connection>,
    /// Counted in the heavy budget (see [`Pool::demote`]).
    demoted: bool,
}

impl Lease<'_> {
    /// Records that [`Pool::demote`] moved this lease to the heavy budget.
    pub fn mark_demoted(&mut self) {
        self.demoted = true;
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = Connection;
    #[allow(clippy::expect_used)]
    fn deref(&self) -> &Connection {
        // Invariant: `conn` is Some from creation until drop.
        self.conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.give_back(&self.requester, c, self.demoted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pool(n: usize, per: usize) -> Arc<Pool> {
        let first = Connection::open_in_memory().expect("db");
        let mut conns = vec![];
        for _ in 1..n {
            conns.push(first.try_clone().expect("clone"));
        }
        conns.push(first);
        Arc::new(Pool::new(conns, per))
    }

    #[test]
    fn a_requester_never_holds_more_than_its_share() {
        let p = pool(3, 2);
        let a1 = p.lease("a", Duration::from_secs(1)).expect("a1");
        let _a2 = p.lease("a", Duration::from_secs(1)).expect("a2");
        // A third lease for "a" waits although a connection is idle...
        assert_eq!(
            p.lease("a", Duration::from_millis(50)).err(),
            Some(PoolError::Busy)
        );
        // ...and "b" gets it at once.
        let _b = p
            .lease("b", Duration::from_millis(50))
            .expect("b is served");
        drop(a1);
        assert!(p.lease("a", Duration::from_millis(50)).is_ok());
    }

    #[test]
    fn a_demoted_query_frees_its_requesters_cheap_budget() {
        let p = pool(4, 1);
        let mut slow = p.lease("a", Duration::from_secs(1)).expect("slow");
        // "a" is at its limit...
        assert_eq!(
            p.lease("a", Duration::from_millis(20)).err(),
            Some(PoolError::Busy)
        );
        // ...until the slow query is demoted: then a cheap one is served at once.
        assert!(p.demote("a"));
        slow.mark_demoted();
        let mut cheap = p.lease("a", Duration::from_millis(20)).expect("cheap");
        // The heavy budget is per requester too: a second demotion has no room.
        assert!(!p.demote("a"));
        assert_eq!(p.in_use(), 2);
        drop(slow);
        assert_eq!(p.in_use(), 1);
        // The heavy budget is free again.
        assert!(p.demote("a"));
        cheap.mark_demoted();
        drop(cheap);
        assert_eq!(p.in_use(), 0);
        assert!(p.lease("a", Duration::from_millis(20)).is_ok());
    }

    #[test]
    fn a_waiting_requester_is_served_when_a_connection_returns() {
        let p = pool(1, 1);
        let held = p.lease("a", Duration::from_secs(1)).expect("a");
        let (tx, rx) = std::sync::mpsc::channel();
        let p2 = p.clone();
        let t = std::thread::spawn(move || {
            tx.send(()).expect("send");
            p2.lease("b", Duration::from_secs(30)).map(|_| ())
        });
        rx.recv().expect("waiter started");
        drop(held);
        assert_eq!(t.join().expect("thread"), Ok(()));
    }
}
