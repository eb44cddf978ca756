//! The engine: the semantic layer and the governed warehouse, opened once and shared by
//! every front end (CLI, Slack, web).

use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;

use crate::config::Config;
use crate::semantic::{compile, CompileOptions, CompiledQuery, MetricQuery, SemanticLayer};
use crate::warehouse::{AuditContext, AuditLog, QueryResult, Warehouse};

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
}

pub struct Engine {
    pub config: Config,
    pub layer: SemanticLayer,
    pub warehouse: Warehouse,
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
        let warehouse = Warehouse::open(
            &config.warehouse,
            layer.tables(),
            config.limits,
            Some(audit),
        )?;
        Ok(Engine {
            config,
            layer,
            warehouse,
        })
    }

    /// Compiles and runs a structured query.
    pub fn query(
        &self,
        query: &MetricQuery,
        today: NaiveDate,
        ctx: &AuditContext,
    ) -> Result<QueryOutcome, QueryError> {
        let compiled = compile(&self.layer, query, &CompileOptions { today })?;
        let mut ctx = ctx.clone();
        if ctx.query_json.is_none() {
            ctx.query_json = serde_json::to_string(query).ok();
        }
        let result = self.warehouse.query(&compiled.sql, &ctx)?;
        Ok(QueryOutcome { compiled, result })
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
