//! The governed warehouse: DuckDB with the warehouse file attached read-only behind views.
//!
//! Layers, outermost first:
//! 1. the SQL guard (`guard.rs`): one SELECT over declared tables, CTE names resolved by scope,
//!    no system catalog names, no file readers; the admitted query is wrapped in
//!    `LIMIT max_rows + 1` so DuckDB stops early instead of building a huge result;
//! 2. the catalog: queries run in a small catalog database, opened read-only, whose schemas
//!    hold only views over the declared tables (one schema per access scope, with the scope's
//!    row filters inside the views). The warehouse file is attached read-only under a random
//!    name that no schema search reaches, so even a guard bug cannot name an undeclared table
//!    or replace a view;
//! 3. DuckDB's own settings: external access off (no files, no ATTACH), extension autoloading
//!    off, memory, threads and temp space capped, configuration locked;
//! 4. a pool of connections with a fair queue (`pool.rs`), a timeout that interrupts DuckDB,
//!    and an audit record for every execution.

pub mod audit;
pub mod cache;
pub mod guard;
pub mod pool;
pub mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use duckdb::{Config, Connection};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, instrument, warn};

pub use audit::{AuditContext, AuditEntry, AuditLog, AuditRecord};
pub use guard::GuardError;
pub use value::Value;

use pool::{Pool, PoolError};

/// A query still running after this long counts as heavy: it moves to the pool's heavy
/// budget so its asker's cheap questions are not held up by it.
const HEAVY_AFTER: Duration = Duration::from_millis(150);

/// The schema of unfiltered views over every declared table (the operator's scope).
pub const ALL_SCHEMA: &str = "cortex_all";

/// Limits applied to every execution, and the resources DuckDB may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_rows: usize,
    /// Connections in the pool (concurrent queries).
    pub pool_size: usize,
    /// Connections one requester may hold at once.
    pub per_requester: usize,
    /// DuckDB worker threads for the whole process (0: one per core).
    pub threads: usize,
    /// DuckDB memory limit in MiB for the whole process; bigger intermediates spill to disk.
    pub memory_limit_mb: u64,
    /// Cap on DuckDB's spill files in MiB.
    pub temp_limit_mb: u64,
    /// Results kept in the result cache (0: no cache).
    pub cache_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            max_rows: 10_000,
            pool_size: 8,
            per_requester: 2,
            threads: 0,
            memory_limit_mb: 4096,
            temp_limit_mb: 8192,
            cache_entries: 512,
        }
    }
}

/// A query's result.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// True when the row cap cut the result.
    pub truncated: bool,
    #[serde(skip)]
    pub elapsed: Duration,
    /// Hex SHA-256 of the columns and rows, as recorded in the audit log.
    pub result_hash: String,
    /// True when the result came from the result cache (`cache.rs`).
    #[serde(skip)]
    pub cached: bool,
}

/// What one access scope may see of the warehouse: tables it may not read at all, and row
/// filters on the tables it reads. Built by the access policy; the warehouse turns it into a
/// schema of views, so analyst SQL and compiled queries alike see only the allowed rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RowScope {
    /// A stable name for the scope (the same scope always gets the same key).
    pub key: String,
    /// Declared tables (lower case) this scope cannot read.
    pub hidden: BTreeSet<String>,
    /// Row filters: table (lower case) -> SQL predicate over that table's columns. Other
    /// tables are referenced as `cortex_all."table"` (the unfiltered views).
    pub filters: BTreeMap<String, String>,
    /// Columns this scope cannot read: table (lower case) -> column names.
    pub excluded: BTreeMap<String, Vec<String>>,
}

/// Why a query produced no result, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("no warehouse at {0}; run `cortex demo` to build the demo warehouse, or set CORTEX_WAREHOUSE")]
    Missing(PathBuf),
    #[error("could not open the warehouse at {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(transparent)]
    Refused(#[from] GuardError),
    #[error("the query took longer than {} s and was stopped; try a shorter period or fewer groups", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("the warehouse is busy with other questions; please try again in a moment")]
    Busy,
    #[error("the warehouse could not run the query: {0}")]
    Query(String),
}

/// A read-only, governed connection pool over the warehouse.
pub struct Warehouse {
    pool: Pool,
    path: PathBuf,
    /// The random name the warehouse file is attached under (never shown to users).
    alias: String,
    tables: BTreeSet<String>,
    limits: Limits,
    audit: Option<AuditLog>,
    /// Prepared scope schemas: scope key -> schema name.
    scopes: BTreeMap<String, String>,
    /// Holds the catalog file and DuckDB's spill files; removed on drop.
    work_dir: PathBuf,
    /// The access policy's answer to "what may this requester see?"; `None` for a
    /// requester who reads every declared table in full.
    scopes_for: Option<ScopeResolver>,
    /// Results of earlier queries (below the guard and the scopes: keyed by scope).
    cache: cache::ResultCache,
}

/// Maps a requester (the identity in [`AuditContext::requester`]) to its access scope.
pub type ScopeResolver = Arc<dyn Fn(&str) -> Option<RowScope> + Send + Sync>;

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("path", &self.path)
            .finish()
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn random_suffix() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

impl Warehouse {
    /// Opens `path` read-only. `tables` are the tables declared in metrics.yaml; nothing else
    /// can be queried.
    pub fn open(
        path: &Path,
        tables: BTreeSet<String>,
        limits: Limits,
        audit: Option<AuditLog>,
    ) -> Result<Warehouse, WarehouseError> {
        Warehouse::open_with_scopes(path, tables, limits, audit, &[])
    }

    /// Like [`Warehouse::open`], preparing a schema of views for each access scope. The
    /// views are written once into a small catalog file, which is then opened read-only:
    /// nothing that runs later, guarded or not, can create or replace a view.
    pub fn open_with_scopes(
        path: &Path,
        tables: BTreeSet<String>,
        limits: Limits,
        audit: Option<AuditLog>,
        scopes: &[RowScope],
    ) -> Result<Warehouse, WarehouseError> {
        if !path.exists() {
            return Err(WarehouseError::Missing(path.to_path_buf()));
        }
        let open_err = |e: duckdb::Error| WarehouseError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let io_err = |e: std::io::Error| WarehouseError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let suffix = random_suffix();
        let alias = format!("cortex_wh_{suffix}");
        let file = path.to_string_lossy().replace('\'', "''");
        let attach = format!("ATTACH '{file}' AS {alias} (READ_ONLY)");
        let work_dir = std::env::temp_dir().join(format!("cortex-{}-{suffix}", std::process::id()));
        std::fs::create_dir_all(&work_dir).map_err(io_err)?;
        let catalog = work_dir.join("catalog.duckdb");

        // 1. Write the catalog: unfiltered views in ALL_SCHEMA (never `main`: DuckDB falls
        //    back to the default schema for names a scope's schema lacks, so `main` stays
        //    empty), then one schema per scope.
        let mut present = BTreeSet::new();
        let mut schemas = BTreeMap::new();
        {
            let w = Connection::open(&catalog).map_err(open_err)?;
            w.execute_batch(&attach).map_err(open_err)?;
            w.execute_batch(&format!("CREATE SCHEMA {ALL_SCHEMA}"))
                .map_err(open_err)?;
            for t in &tables {
                let sql = format!(
                    "CREATE VIEW {ALL_SCHEMA}.{q} AS SELECT * FROM {alias}.main.{q}",
                    q = quote_ident(t)
                );
                match w.execute_batch(&sql) {
                    Ok(()) => {
                        present.insert(t.clone());
                    }
                    Err(e) => {
                        warn!(table = %t, error = %scrub(&e.to_string(), &alias), "declared table is not in the warehouse")
                    }
                }
            }
            for scope in scopes {
                if schemas.contains_key(&scope.key) {
                    continue;
                }
                let schema = scope_schema_name(&scope.key);
                w.execute_batch(&scope_ddl(&schema, scope, &present))
                    .map_err(|e| WarehouseError::Open {
                        path: path.to_path_buf(),
                        reason: format!(
                            "could not prepare an access scope: {}",
                            scrub(&first_line(&e.to_string()), &alias)
                        ),
                    })?;
                schemas.insert(scope.key.clone(), schema);
            }
            w.execute_batch(&format!("DETACH {alias}"))
                .map_err(open_err)?;
        }

        // 2. Open it read-only with the warehouse attached read-only, then lock DuckDB down.
        let spill = work_dir.join("spill");
        let mut config = Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .and_then(|c| c.enable_autoload_extension(false))
            .and_then(|c| c.with("autoinstall_known_extensions", "false"))
            .and_then(|c| {
                c.with(
                    "memory_limit",
                    format!("{}MB", limits.memory_limit_mb.max(64)),
                )
            })
            .and_then(|c| c.with("temp_directory", spill.to_string_lossy()))
            .and_then(|c| {
                c.with(
                    "max_temp_directory_size",
                    format!("{}MB", limits.temp_limit_mb.max(1)),
                )
            })
            .map_err(open_err)?;
        if limits.threads > 0 {
            config = config.threads(limits.threads as i64).map_err(open_err)?;
        }
        let first = Connection::open_with_flags(&catalog, config).map_err(open_err)?;
        first.execute_batch(&attach).map_err(open_err)?;
        first
            .execute_batch(&format!(
                "SET enable_external_access = false; SET lock_configuration = true; USE {ALL_SCHEMA};"
            ))
            .map_err(open_err)?;
        let mut conns = Vec::with_capacity(limits.pool_size.max(1));
        for _ in 1..limits.pool_size.max(1) {
            conns.push(first.try_clone().map_err(open_err)?);
        }
        conns.push(first);
        Ok(Warehouse {
            pool: Pool::new(conns, limits.per_requester),
            path: path.to_path_buf(),
            alias,
            tables,
            limits,
            audit,
            scopes: schemas,
            scopes_for: None,
            work_dir,
            cache: cache::ResultCache::new(limits.cache_entries),
        })
    }

    /// Applies an access policy: every later query runs in the scope `resolver` gives its
    /// requester (row filters and hidden tables, enforced by views below the guard). A scope
    /// that was not prepared when the warehouse was opened is refused (fail closed).
    pub fn with_scopes(mut self, resolver: ScopeResolver) -> Warehouse {
        self.scopes_for = Some(resolver);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Queries running right now (pooled connections on loan).
    pub fn in_flight(&self) -> usize {
        self.pool.in_use()
    }

    /// Guards, runs and audits one query (answered from the result cache when an identical
    /// query already ran in the same scope on the same warehouse version).
    #[instrument(skip_all, fields(requester = %ctx.requester))]
    pub fn query(&self, sql: &str, ctx: &AuditContext) -> Result<QueryResult, WarehouseError> {
        self.query_with_params(sql, &[], ctx)
    }

    /// Like [`Warehouse::query`], but always runs on DuckDB (the health check: a cached
    /// answer would not prove the warehouse still answers).
    #[instrument(skip_all, fields(requester = %ctx.requester))]
    pub fn query_fresh(
        &self,
        sql: &str,
        ctx: &AuditContext,
    ) -> Result<QueryResult, WarehouseError> {
        self.run_audited(sql, &[], ctx, false)
    }

    /// The result cache's counters.
    pub fn cache_stats(&self) -> cache::CacheStats {
        self.cache.stats()
    }

    /// Like [`Warehouse::query`], with `$name` placeholders bound to values (never spliced
    /// into the SQL text).
    #[instrument(skip_all, fields(requester = %ctx.requester))]
    pub fn query_with_params(
        &self,
        sql: &str,
        params: &[(String, serde_json::Value)],
        ctx: &AuditContext,
    ) -> Result<QueryResult, WarehouseError> {
        self.run_audited(sql, params, ctx, true)
    }

    fn run_audited(
        &self,
        sql: &str,
        params: &[(String, serde_json::Value)],
        ctx: &AuditContext,
        use_cache: bool,
    ) -> Result<QueryResult, WarehouseError> {
        let started = Instant::now();
        let mut lookup = cache::Lookup::Bypass;
        let outcome = guard::admit(sql, &self.tables, self.limits.max_rows)
            .map_err(WarehouseError::from)
            .and_then(|capped| {
                let scope = self.scopes_for.as_ref().and_then(|f| f(&ctx.requester));
                let schema = match &scope {
                    Some(s) => self.scope_schema(s)?,
                    None => ALL_SCHEMA.to_string(),
                };
                // Keyed by the scope's key (never the asker): the same views, the same rows.
                let key = use_cache
                    .then(|| {
                        cache::Key::new(
                            &capped,
                            params,
                            scope.as_ref().map(|s| s.key.as_str()),
                            &self.path,
                        )
                    })
                    .flatten();
                let (r, l) = self.cache.get_or_run(key, self.limits.timeout, || {
                    self.execute_bound(&capped, params, &schema, &ctx.requester)
                });
                lookup = l;
                r
            });
        let duration = started.elapsed();
        let (status, rows, hash, error) = match &outcome {
            Ok(r) => ("ok", r.rows.len(), Some(r.result_hash.clone()), None),
            Err(WarehouseError::Refused(e)) => ("refused", 0, None, Some(e.to_string())),
            Err(WarehouseError::Timeout(_)) => ("timeout", 0, None, Some("timeout".into())),
            Err(e) => ("error", 0, None, Some(e.to_string())),
        };
        info!(
            status,
            rows,
            cache = ?lookup,
            ms = duration.as_millis() as u64,
            "warehouse query"
        );
        if let Some(audit) = &self.audit {
            let rec = AuditRecord {
                ctx,
                sql,
                status,
                row_count: rows,
                duration,
                result_hash: hash,
                error,
            };
            if let Err(e) = audit.record(&rec) {
                warn!(error = %e, "could not write the audit record");
            }
        }
        outcome
    }

    /// The schema holding `scope`'s views; a scope nobody prepared is refused.
    fn scope_schema(&self, scope: &RowScope) -> Result<String, WarehouseError> {
        self.scopes.get(&scope.key).cloned().ok_or_else(|| {
            WarehouseError::Refused(GuardError(
                "your access scope is not set up on this server; ask an admin".into(),
            ))
        })
    }

    fn lease(&self, requester: &str) -> Result<pool::Lease<'_>, WarehouseError> {
        self.pool
            .lease(requester, self.limits.timeout)
            .map_err(|e| match e {
                PoolError::Busy => WarehouseError::Busy,
                PoolError::Poisoned => {
                    WarehouseError::Query("the connection pool is unavailable".into())
                }
            })
    }

    fn clean(&self, e: &duckdb::Error) -> String {
        scrub(&first_line(&e.to_string()), &self.alias)
    }

    /// Runs an admitted query on a pooled connection in `schema`: timeout, row cap, no audit.
    fn execute_bound(
        &self,
        sql: &str,
        params: &[(String, serde_json::Value)],
        schema: &str,
        requester: &str,
    ) -> Result<QueryResult, WarehouseError> {
        let conn = self.lease(requester)?;
        // A pooled connection is shared by everyone: never hand one over mid-transaction.
        // (`is_autocommit` does not see a transaction that a failed statement aborted.)
        let _ = conn.execute_batch("ROLLBACK");
        conn.execute_batch(&format!("USE {schema}"))
            .map_err(|e| WarehouseError::Query(self.clean(&e)))?;
        let started = Instant::now();
        let mut fired = false;
        let handle = conn.interrupt_handle();
        let timeout = self.limits.timeout;
        let max_rows = self.limits.max_rows;
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let (tid_tx, tid_rx) = mpsc::channel::<i64>();
        // The query thread marks itself finished under this lock, so the watchdog never
        // lowers the priority of a thread that has moved on (or whose id was reused).
        let running = std::sync::Mutex::new(true);
        let joined = std::thread::scope(|s| {
            // The query runs on a thread of its own, so lowering its priority when it turns
            // out heavy never touches a shared (tokio or DuckDB) thread.
            let running = &running;
            let query = s.spawn(move || {
                let _ = tid_tx.send(thread_id());
                let r = read_all(&conn, sql, params, max_rows);
                if let Ok(mut g) = running.lock() {
                    *g = false;
                }
                drop(done_tx);
                (r, conn)
            });
            // The watchdog: a query still running after HEAVY_AFTER moves to the pool's
            // heavy budget (its asker's next cheap question need not wait for it) and to a
            // lower CPU priority (cheap questions go first); at the timeout it is interrupted.
            let heavy_after = HEAVY_AFTER.min(timeout);
            let mut demoted = false;
            if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(heavy_after) {
                demoted = self.pool.demote(requester);
                if let (Ok(tid), Ok(g)) = (tid_rx.try_recv(), running.lock()) {
                    if *g {
                        lower_priority(tid);
                    }
                }
                if let Err(mpsc::RecvTimeoutError::Timeout) =
                    done_rx.recv_timeout(timeout - heavy_after)
                {
                    fired = true;
                    handle.interrupt();
                }
            }
            query.join().map(|(r, mut conn)| {
                if demoted {
                    conn.mark_demoted();
                }
                r
            })
        });
        let result = match joined {
            Ok(r) => r,
            Err(_) => return Err(WarehouseError::Query("the query thread panicked".into())),
        };
        let elapsed = started.elapsed();
        match result {
            Ok((columns, rows, truncated)) => {
                let result_hash = hash_result(&columns, &rows);
                Ok(QueryResult {
                    columns,
                    rows,
                    truncated,
                    elapsed,
                    result_hash,
                    cached: false,
                })
            }
            Err(_) if fired => Err(WarehouseError::Timeout(self.limits.timeout)),
            Err(e) => Err(WarehouseError::Query(self.clean(&e))),
        }
    }

    /// Runs SQL on a pooled connection with no guard (tests of the layers below the guard).
    #[doc(hidden)]
    pub fn unguarded_for_tests(
        &self,
        sql: &str,
        scope: Option<&RowScope>,
    ) -> Result<QueryResult, WarehouseError> {
        let schema = match scope {
            Some(s) => self.scope_schema(s)?,
            None => ALL_SCHEMA.into(),
        };
        self.execute_bound(sql, &[], &schema, "test")
    }
}

impl Drop for Warehouse {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

fn scope_schema_name(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    std::iter::once("scope_".to_string())
        .chain(digest.iter().take(8).map(|b| format!("{b:02x}")))
        .collect()
}

/// The views of one scope: every present table not hidden, with its row filter.
fn scope_ddl(schema: &str, scope: &RowScope, present: &BTreeSet<String>) -> String {
    let mut ddl = format!("CREATE SCHEMA {schema};\n");
    for t in present {
        if scope.hidden.contains(t) {
            continue;
        }
        let q = quote_ident(t);
        let filter = scope
            .filters
            .get(t)
            .map(|p| format!(" WHERE {p}"))
            .unwrap_or_default();
        let exclude = match scope.excluded.get(t) {
            Some(cols) if !cols.is_empty() => format!(
                " EXCLUDE ({})",
                cols.iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        };
        ddl.push_str(&format!(
            "CREATE VIEW {schema}.{q} AS SELECT *{exclude} FROM {ALL_SCHEMA}.{q}{filter};\n"
        ));
    }
    ddl
}

/// The calling thread's kernel id (0 where there is none to lower).
fn thread_id() -> i64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions and cannot fail.
        i64::from(unsafe { libc::gettid() })
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Lowers a query thread's CPU priority (nice 10): heavy queries yield the cores to cheap
/// questions. Best effort; the thread ends with its query, so nothing else inherits it.
fn lower_priority(tid: i64) {
    #[cfg(target_os = "linux")]
    if tid > 0 {
        // SAFETY: setpriority only reads its arguments; a thread id that no longer exists
        // makes it fail with ESRCH, which is ignored.
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = tid;
}

/// Replaces the attached warehouse's internal name in DuckDB's messages.
fn scrub(msg: &str, alias: &str) -> String {
    msg.replace(alias, "warehouse")
}

/// Runs a query on the given warehouse off the async runtime, keeping the tracing span.
pub async fn query_async(
    wh: Arc<Warehouse>,
    sql: String,
    ctx: AuditContext,
) -> Result<QueryResult, WarehouseError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| wh.query(&sql, &ctx)))
        .await
        .map_err(|e| WarehouseError::Query(format!("the query task failed: {e}")))?
}

type Table = (Vec<String>, Vec<Vec<Value>>, bool);

fn to_duckdb(v: &serde_json::Value) -> duckdb::types::Value {
    use duckdb::types::Value as D;
    match v {
        serde_json::Value::Null => D::Null,
        serde_json::Value::Bool(b) => D::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => D::BigInt(i),
            None => D::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => D::Text(s.clone()),
        other => D::Text(other.to_string()),
    }
}

fn read_all(
    conn: &Connection,
    sql: &str,
    params: &[(String, serde_json::Value)],
    max_rows: usize,
) -> duckdb::Result<Table> {
    let mut stmt = conn.prepare(sql)?;
    let values: Vec<(String, duckdb::types::Value)> = params
        .iter()
        .map(|(k, v)| (k.clone(), to_duckdb(v)))
        .collect();
    let bound: Vec<(&str, &dyn duckdb::ToSql)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v as &dyn duckdb::ToSql))
        .collect();
    let mut rows = if bound.is_empty() {
        stmt.query([])?
    } else {
        stmt.query(bound.as_slice())?
    };
    let mut out = Vec::new();
    let mut truncated = false;
    let mut ncols = None;
    while let Some(row) = rows.next()? {
        let n = *ncols.get_or_insert_with(|| row.as_ref().column_count());
        if out.len() == max_rows {
            truncated = true;
            break;
        }
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(Value::from_duckdb(row.get::<_, duckdb::types::Value>(i)?));
        }
        out.push(cells);
    }
    drop(rows);
    let columns = stmt.column_names();
    Ok((columns, out, truncated))
}

fn hash_result(columns: &[String], rows: &[Vec<Value>]) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(columns).unwrap_or_default());
    for r in rows {
        h.update(serde_json::to_vec(r).unwrap_or_default());
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Below the guard, DuckDB itself refuses writes, file access and setting changes.
    #[test]
    fn duckdb_is_read_only_without_external_access_and_locked() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("w.duckdb");
        {
            let c = Connection::open(&path).expect("create");
            c.execute_batch("CREATE TABLE t AS SELECT 1 AS x")
                .expect("seed");
        }
        let csv = dir.path().join("x.csv");
        std::fs::write(&csv, "a\n1\n").expect("csv");
        let wh = Warehouse::open(
            &path,
            BTreeSet::from(["t".to_string()]),
            Limits::default(),
            None,
        )
        .expect("open");
        for sql in [
            "ATTACH ':memory:' AS other".to_string(),
            "CREATE TABLE u (x INT)".to_string(),
            "CREATE OR REPLACE VIEW cortex_all.t AS SELECT 2 AS x".to_string(),
            "CREATE MACRO m() AS 1".to_string(),
            "CREATE SCHEMA s".to_string(),
            "INSERT INTO t VALUES (2)".to_string(),
            format!("SELECT * FROM read_csv('{}')", csv.display()),
            "SET enable_external_access = true".to_string(),
            "SET access_mode = 'READ_WRITE'".to_string(),
        ] {
            assert!(
                wh.unguarded_for_tests(&sql, None).is_err(),
                "DuckDB accepted: {sql}"
            );
        }
        assert_eq!(
            wh.unguarded_for_tests("SELECT x FROM t", None)
                .expect("read")
                .rows,
            vec![vec![Value::Int(1)]]
        );
    }
}
