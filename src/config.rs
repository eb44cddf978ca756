//! Settings: `cortex.toml` in the project directory, overridden by `CORTEX_*` environment
//! variables, overridden by command-line flags. Relative paths are relative to the project.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::warehouse::Limits;

/// The file as written; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Path of the DuckDB warehouse (default `data/warehouse.duckdb`).
    warehouse: Option<PathBuf>,
    /// Path of the state database: audit log and everything the bot writes (default `data/state.duckdb`).
    state_db: Option<PathBuf>,
    /// Per-query timeout in seconds (default 10).
    query_timeout_secs: Option<f64>,
    /// Row cap per query (default 10000).
    max_rows: Option<usize>,
    /// The optional LLM (any OpenAI-compatible endpoint).
    llm: Option<RawLlm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLlm {
    base_url: Option<String>,
    model: Option<String>,
    api_key: Option<String>,
    timeout_secs: Option<f64>,
    retries: Option<u32>,
}

/// A secret (API key, token): never printed or logged.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<empty>"
        } else {
            "<redacted>"
        })
    }
}

/// LLM settings; present only when a base URL and model are configured.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1` (Ollama).
    pub base_url: String,
    pub model: String,
    pub api_key: Secret,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Extra attempts after a timeout (5xx and 429 answers are retried with backoff by
    /// async-openai itself).
    pub retries: u32,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub project: PathBuf,
    pub warehouse: PathBuf,
    pub state_db: PathBuf,
    pub limits: Limits,
    /// `None`: Cortex runs fully offline.
    pub llm: Option<LlmConfig>,
}

impl Config {
    /// Loads `cortex.toml` (if present) and the environment. `warehouse` is the
    /// `--warehouse` flag, which wins over both.
    pub fn load(project: &Path, warehouse: Option<&Path>) -> Result<Config> {
        let file = project.join("cortex.toml");
        let raw: RawConfig = if file.exists() {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            toml::from_str(&text).with_context(|| format!("{} is not valid", file.display()))?
        } else {
            RawConfig::default()
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let rel = |p: PathBuf| if p.is_absolute() { p } else { project.join(p) };
        let warehouse = warehouse
            .map(Path::to_path_buf)
            .or_else(|| env("CORTEX_WAREHOUSE").map(PathBuf::from))
            .or(raw.warehouse)
            .unwrap_or_else(|| PathBuf::from("data/warehouse.duckdb"));
        let state_db = env("CORTEX_STATE_DB")
            .map(PathBuf::from)
            .or(raw.state_db)
            .unwrap_or_else(|| PathBuf::from("data/state.duckdb"));
        let timeout = match env("CORTEX_QUERY_TIMEOUT_SECS") {
            Some(v) => Some(
                v.parse::<f64>()
                    .context("CORTEX_QUERY_TIMEOUT_SECS must be a number of seconds")?,
            ),
            None => raw.query_timeout_secs,
        }
        .unwrap_or(10.0);
        if !(timeout > 0.0 && timeout <= 3600.0) {
            anyhow::bail!("query timeout must be between 0 and 3600 seconds, got {timeout}");
        }
        let max_rows = match env("CORTEX_MAX_ROWS") {
            Some(v) => Some(
                v.parse()
                    .context("CORTEX_MAX_ROWS must be a whole number")?,
            ),
            None => raw.max_rows,
        }
        .unwrap_or(10_000);
        let raw_llm = raw.llm.unwrap_or_default();
        let base_url = env("CORTEX_LLM_BASE_URL").or(raw_llm.base_url);
        let model = env("CORTEX_LLM_MODEL").or(raw_llm.model);
        let llm = match (base_url, model) {
            (Some(base_url), Some(model)) => Some(LlmConfig {
                base_url,
                model,
                api_key: Secret::new(
                    env("CORTEX_LLM_API_KEY")
                        .or(raw_llm.api_key)
                        .unwrap_or_default(),
                ),
                timeout: Duration::from_secs_f64(
                    env("CORTEX_LLM_TIMEOUT_SECS")
                        .and_then(|v| v.parse().ok())
                        .or(raw_llm.timeout_secs)
                        .unwrap_or(20.0)
                        .clamp(0.05, 600.0),
                ),
                retries: raw_llm.retries.unwrap_or(1).min(5),
            }),
            _ => None,
        };
        Ok(Config {
            llm,
            project: project.to_path_buf(),
            warehouse: rel(warehouse),
            state_db: rel(state_db),
            limits: Limits {
                timeout: Duration::from_secs_f64(timeout),
                max_rows,
            },
        })
    }

    pub fn metrics_file(&self) -> PathBuf {
        self.project.join("metrics.yaml")
    }
}
