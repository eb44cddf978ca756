//! The engine: the semantic layer and the governed warehouse, opened once and shared by
//! every front end (CLI, Slack, web).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::NaiveDate;

use crate::config::Config;
use crate::policy::Governance;
use crate::semantic::{compile, CompileOptions, CompiledQuery, MetricQuery, SemanticLayer};
use crate::warehouse::{AuditContext, AuditLog, QueryResult, Warehouse};

type FreshnessKey = (usize, NaiveDate, Option<crate::warehouse::cache::Version>);

/// A compiled query and its result.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    pub compiled: CompiledQuery,
    pub result: QueryResult,
}

/// Why a structured query produced no result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Compile(#[from] crate::semantic::CompileError),
    #[error(transparent)]
    Warehouse(#[from] crate::warehouse::WarehouseError),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
}

pub struct Engine {
    pub config: Config,
    pub layer: SemanticLayer,
    pub warehouse: Warehouse,
    /// The access policy (context/policy.yaml): enforced in [`Engine::query`] and, through
    /// per-scope views, in every warehouse query.
    pub governance: Arc<Governance>,
    /// Latest date per semantic model, looked up once per warehouse version.
    freshness: Mutex<HashMap<FreshnessKey, Option<NaiveDate>>>,
}

impl Engine {
    /// Loads metrics.yaml and opens the warehouse read-only, with the audit log.
    pub fn open(config: Config) -> Result<Engine> {
        let layer = load_layer(&config.metrics_file())?;
        let audit = AuditLog::open(&config.state_db).with_context(|| {
            format!(
                "cannot open the state database at {}",
                config.state_db.display()
            )
        })?;
        let shared = Arc::new(layer.clone());
        let context_dir = config.project.join("context");
        let governance = if context_dir.join("policy.yaml").exists() {
            let people = crate::context::Context::load(&context_dir, &layer)
                .map_err(|d| anyhow::anyhow!("context/ has problems:\n{d}"))?
                .people;
            Governance::load(&context_dir, people, shared)
                .map_err(|d| anyhow::anyhow!("context/policy.yaml has problems:\n{d}"))?
        } else {
            Governance::open(shared)
        };
        let governance = Arc::new(governance);
        let mut warehouse = Warehouse::open_with_scopes(
            &config.warehouse,
            layer.tables(),
            config.limits,
            Some(audit),
            &governance.all_scopes(),
        )?;
        if governance.is_active() {
            warehouse = warehouse.with_scopes(governance.resolver());
        }
        Ok(Engine {
            config,
            layer,
            warehouse,
            governance,
            freshness: Mutex::new(HashMap::new()),
        })
    }

    /// Compiles and runs a structured query.
    pub fn query(
        &self,
        query: &MetricQuery,
        today: NaiveDate,
        ctx: &AuditContext,
    ) -> Result<QueryOutcome, QueryError> {
        let mut query = query.clone();
        self.governance
            .access(&ctx.requester)
            .apply(&self.layer, &mut query)?;
        let query = &query;
        let compiled = compile(&self.layer, query, &CompileOptions { today })?;
        let mut ctx = ctx.clone();
        if ctx.query_json.is_none() {
            ctx.query_json = serde_json::to_string(query).ok();
        }
        let result = self.warehouse.query(&compiled.sql, &ctx)?;
        Ok(QueryOutcome { compiled, result })
    }
}

impl Engine {
    /// The latest date (up to `today`) in the data the given metrics read: the oldest of
    /// their tables' latest dates, so no metric is claimed fresher than it is.
    pub fn data_freshness(&self, metrics: &[String], today: NaiveDate) -> Option<NaiveDate> {
        let models: std::collections::BTreeSet<usize> = metrics
            .iter()
            .filter_map(|m| self.layer.metric_index(m))
            .flat_map(|i| crate::planner::metric_models(&self.layer, i))
            .collect();
        let mut dates = Vec::new();
        let version = crate::warehouse::cache::Version::of(self.warehouse.path());
        for model in models {
            let key = (model, today, version.clone());
            let cached = self
                .freshness
                .lock()
                .ok()
                .and_then(|c| c.get(&key).copied());
            let date = match cached {
                Some(d) => d,
                None => {
                    let m = &self.layer.models[model];
                    let d = m.default_time_dimension.and_then(|t| {
                        let sql = format!(
                            "SELECT CAST(MAX({e}) AS DATE) FROM {} WHERE CAST({e} AS DATE) <= DATE '{today}'",
                            m.table,
                            e = m.dimensions[t].expr
                        );
                        let ctx = AuditContext {
                            requester: "cortex".into(),
                            question: format!("data freshness of {}", m.name),
                            query_json: None,
                        };
                        let r = self.warehouse.query(&sql, &ctx).ok()?;
                        r.rows.first()?.first()?.as_date()
                    });
                    if let Ok(mut c) = self.freshness.lock() {
                        c.insert(key, d);
                    }
                    d
                }
            };
            dates.extend(date);
        }
        dates.into_iter().min()
    }
}

/// Loads metrics.yaml with every problem listed in the error.
pub fn load_layer(path: &Path) -> Result<SemanticLayer> {
    SemanticLayer::load(path).map_err(|d| {
        anyhow::anyhow!(
            "{} has {} problem{}:\n{d}",
            path.display(),
            d.0.len(),
            if d.0.len() == 1 { "" } else { "s" }
        )
    })
}
