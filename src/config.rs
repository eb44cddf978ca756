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
    /// Path of the state database (SQLite): audit log and everything the bot writes (default `data/state.sqlite`).
    state_db: Option<PathBuf>,
    /// Per-query timeout in seconds (default 10).
    query_timeout_secs: Option<f64>,
    /// Row cap per query (default 10000).
    max_rows: Option<usize>,
    /// Warehouse connections, i.e. queries that run at once (default 8).
    pool_size: Option<usize>,
    /// Connections one asker may hold at once (default 2).
    per_requester: Option<usize>,
    /// DuckDB threads for the process (default: one per core).
    duckdb_threads: Option<usize>,
    /// DuckDB memory limit in MiB (default 4096); larger intermediates spill to disk.
    memory_limit_mb: Option<u64>,
    /// Cap on DuckDB's spill files in MiB (default 8192).
    temp_limit_mb: Option<u64>,
    /// Query results kept in the result cache (default 512; 0 turns it off).
    result_cache_entries: Option<usize>,
    /// Longest question accepted on every path (web, Slack, CLI), in characters (default 500).
    max_question_chars: Option<usize>,
    /// One deadline per answer covering the LLM, queries and rendering, in seconds (default 60).
    answer_deadline_secs: Option<f64>,
    /// The optional LLM (any OpenAI-compatible endpoint).
    llm: Option<RawLlm>,
    /// Slack credentials and API address.
    slack: Option<RawSlack>,
    /// The `cortex serve` process: web site address and public URL.
    server: Option<RawServer>,
    /// Notion: pages and databases to sync into context, and where answers are published.
    notion: Option<RawNotion>,
    /// Retries of external writes (Linear, Notion, Slack posts of briefings).
    outbox: Option<RawOutbox>,
    /// The scheduler of briefings and signals.
    schedule: Option<RawSchedule>,
    /// Linear: where "File Linear task" files issues.
    linear: Option<RawLinear>,
    /// The JSON API (`/api/v1`) and the MCP endpoint: rate limit and the extension's origin.
    api: Option<RawApi>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    /// Requests a minute per token (or per signed-in person), in bursts of that many
    /// (default 60; 0 turns the limit off).
    rate_per_minute: Option<u32>,
    /// The browser extension's origin (`chrome-extension://<id>`): the only origin that
    /// gets CORS headers.
    extension_origin: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    /// How often `serve` looks for due slots, in seconds (default 30).
    tick_secs: Option<f64>,
    /// A slot sent this many minutes after its time is marked late (default 10).
    late_after_mins: Option<i64>,
    /// When signals are evaluated each day, "HH:MM" (default 07:00) ...
    signals_at: Option<String>,
    /// ... in this IANA zone (default UTC).
    signals_tz: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinear {
    api_key: Option<String>,
    base_url: Option<String>,
    default_team: Option<String>,
    #[serde(default)]
    teams: std::collections::BTreeMap<String, String>,
    timeout_secs: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotion {
    token: Option<String>,
    #[serde(default)]
    pages: Vec<String>,
    #[serde(default)]
    databases: Vec<String>,
    okr_database: Option<crate::notion::OkrDatabase>,
    publish_database: Option<String>,
    timeout_secs: Option<f64>,
    max_retries: Option<u32>,
    api_addr: Option<std::net::SocketAddr>,
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbox {
    max_attempts: Option<u32>,
    base_delay_secs: Option<f64>,
    max_delay_secs: Option<f64>,
    lease_secs: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    bot_token: Option<String>,
    app_token: Option<String>,
    signing_secret: Option<String>,
    api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    public_url: Option<String>,
    user_header: Option<String>,
    default_user: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    identity_secret: Option<String>,
    slack_listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLlm {
    base_url: Option<String>,
    model: Option<String>,
    api_key: Option<String>,
    timeout_secs: Option<f64>,
    retries: Option<u32>,
    cooldown_secs: Option<f64>,
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
    /// After a timeout or connection failure the LLM is skipped for this long (the circuit
    /// breaker), and answers come from the offline path at once.
    pub cooldown: Duration,
}

/// Linear settings; present only when an API key is configured (`[linear] api_key` or
/// `CORTEX_LINEAR_API_KEY`).
#[derive(Debug, Clone)]
pub struct LinearConfig {
    /// A personal API key (`lin_api_…`, sent as is) or an OAuth access token (sent as
    /// `Bearer`; write it as `oauth:<token>` or with the `Bearer ` prefix).
    pub api_key: Secret,
    /// The GraphQL endpoint (default `https://api.linear.app/graphql`).
    pub base_url: String,
    /// The Linear team key (e.g. `ENG`) for askers whose team has no mapping.
    pub default_team: String,
    /// Cortex team name (context/people.yaml) -> Linear team key.
    pub teams: std::collections::BTreeMap<String, String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl LinearConfig {
    /// The Linear team key for a Cortex team (the asker's), else the default team.
    pub fn team_key(&self, cortex_team: Option<&str>) -> String {
        cortex_team
            .and_then(|t| self.teams.get(t))
            .cloned()
            .unwrap_or_else(|| self.default_team.clone())
    }

    /// Every Linear team key a task may go to (the mapped ones and the default), sorted.
    pub fn team_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .teams
            .values()
            .chain(std::iter::once(&self.default_team))
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// Limits on every question, whatever front end it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AskLimits {
    /// Longest question (and clarifying choice) accepted, in characters.
    pub max_question_chars: usize,
    /// One deadline per answer: LLM, queries and rendering together.
    pub deadline: Duration,
}

impl Default for AskLimits {
    fn default() -> Self {
        AskLimits {
            max_question_chars: 500,
            deadline: Duration::from_secs(60),
        }
    }
}

impl AskLimits {
    /// Refuses a question (or choice) longer than the limit, with a message for the asker.
    pub fn check(&self, text: &str) -> Result<(), String> {
        let n = text.chars().count();
        if n > self.max_question_chars {
            Err(format!(
                "That question is too long ({n} characters); please keep it under {} characters.",
                self.max_question_chars
            ))
        } else {
            Ok(())
        }
    }
}

/// Slack settings. Each transport is on only when its credentials are present.
#[derive(Debug, Clone, Default)]
pub struct SlackConfig {
    /// `xoxb-…`: posts answers (Web API). Needed by both transports.
    pub bot_token: Option<Secret>,
    /// `xapp-…`: Socket Mode (no public URL needed).
    pub app_token: Option<Secret>,
    /// Verifies requests on the HTTP Events API endpoints.
    pub signing_secret: Option<Secret>,
    /// Web API base, `https://slack.com/api` unless pointed elsewhere (tests).
    pub api_url: String,
}

/// The long-running process's own settings.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Address of the web site and the Slack HTTP endpoints (default `127.0.0.1:8080`).
    pub listen: String,
    /// How people reach the site, for links in Slack; `http://<listen>` when unset.
    pub public_url: Option<String>,
    /// Header carrying the asker's identity, set by the company's auth proxy.
    pub user_header: String,
    /// Identity used when the header is absent or not trusted (local use).
    pub default_user: String,
    /// Peers (IPs or CIDRs, e.g. `10.0.0.0/8`) whose identity header is trusted as is.
    pub trusted_proxies: Vec<String>,
    /// When set, an identity header is also trusted when signed with this secret: the
    /// `<user_header>-signature` header holds `<unix ts>:<hex HMAC-SHA256(secret, "<ts>:<value>")>`.
    pub identity_secret: Option<Secret>,
    /// Serve the Slack endpoints on this separate address instead of the web site's.
    pub slack_listen: Option<String>,
    /// The JSON API and MCP endpoint (`[api]`).
    pub api: ApiSettings,
}

/// `[api]`: the JSON API's rate limit and the one origin allowed to call it from a browser.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// Requests a minute per token or person (0: no limit).
    pub rate_per_minute: u32,
    /// The browser extension's origin (`chrome-extension://<id>`); no CORS when unset.
    pub extension_origin: Option<String>,
}

impl ServerConfig {
    /// The site's base URL for links: `public_url`, or the listen address.
    pub fn base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

/// Notion settings; present only when a token is configured.
#[derive(Debug, Clone)]
pub struct NotionConfig {
    /// Internal integration secret (`ntn_…`/`secret_…`), env `CORTEX_NOTION_TOKEN`.
    pub token: Secret,
    /// Page ids synced into `context/notion/` (32 hex characters, dashes optional).
    pub pages: Vec<String>,
    /// Database ids whose rows are synced into `context/notion/`, one file per row.
    pub databases: Vec<String>,
    /// A database of OKRs, mapped onto okrs.yaml's fields.
    pub okr_database: Option<crate::notion::OkrDatabase>,
    /// The database answers are published to.
    pub publish_database: Option<String>,
    /// Per-request timeout (default 30 s).
    pub timeout: Duration,
    /// Retries of a read after 429 (honouring `Retry-After`), 409 and 5xx (default 3).
    pub max_retries: u32,
    /// Connect to this address for `api.notion.com` instead of DNS (for proxies and tests).
    pub api_addr: Option<std::net::SocketAddr>,
    /// An extra PEM root certificate to trust (for TLS-intercepting proxies and tests).
    pub ca_file: Option<PathBuf>,
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
    pub slack: SlackConfig,
    pub server: ServerConfig,
    /// Question length and the per-answer deadline.
    pub ask: AskLimits,
    /// `None`: Notion is not connected.
    pub notion: Option<NotionConfig>,
    /// Retries, backoff and leases of the outbox.
    pub outbox: crate::outbox::OutboxSettings,
    /// The scheduler's tick, lateness and daily signal time (`[schedule]`).
    pub schedule: crate::schedule::Settings,
    /// `None`: Linear is not connected ("File Linear task" says so).
    pub linear: Option<LinearConfig>,
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
            .unwrap_or_else(|| PathBuf::from("data/state.sqlite"));
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
                cooldown: Duration::from_secs_f64(
                    env("CORTEX_LLM_COOLDOWN_SECS")
                        .and_then(|v| v.parse().ok())
                        .or(raw_llm.cooldown_secs)
                        .unwrap_or(60.0)
                        .clamp(0.0, 86_400.0),
                ),
            }),
            _ => None,
        };
        let raw_slack = raw.slack.unwrap_or_default();
        let secret = |keys: &[&str], file: Option<String>| {
            keys.iter().find_map(|k| env(k)).or(file).map(Secret::new)
        };
        let slack = SlackConfig {
            bot_token: secret(
                &["CORTEX_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"],
                raw_slack.bot_token,
            ),
            app_token: secret(
                &["CORTEX_SLACK_APP_TOKEN", "SLACK_APP_TOKEN"],
                raw_slack.app_token,
            ),
            signing_secret: secret(
                &["CORTEX_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"],
                raw_slack.signing_secret,
            ),
            api_url: env("CORTEX_SLACK_API_URL")
                .or(raw_slack.api_url)
                .unwrap_or_else(|| "https://slack.com/api".into())
                .trim_end_matches('/')
                .to_string(),
        };
        let raw_server = raw.server.unwrap_or_default();
        let listen = env("CORTEX_LISTEN")
            .or(raw_server.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let server = ServerConfig {
            public_url: env("CORTEX_PUBLIC_URL")
                .or(raw_server.public_url)
                .map(|u| u.trim_end_matches('/').to_string()),
            listen,
            user_header: raw_server
                .user_header
                .unwrap_or_else(|| "x-forwarded-user".into())
                .to_ascii_lowercase(),
            default_user: raw_server.default_user.unwrap_or_else(|| "local".into()),
            trusted_proxies: raw_server.trusted_proxies.unwrap_or_default(),
            identity_secret: env("CORTEX_IDENTITY_SECRET")
                .or(raw_server.identity_secret)
                .map(Secret::new),
            slack_listen: env("CORTEX_SLACK_LISTEN").or(raw_server.slack_listen),
            api: {
                let raw_api = raw.api.unwrap_or_default();
                ApiSettings {
                    rate_per_minute: raw_api.rate_per_minute.unwrap_or(60),
                    extension_origin: env("CORTEX_EXTENSION_ORIGIN")
                        .or(raw_api.extension_origin)
                        .map(|o| o.trim_end_matches('/').to_string()),
                }
            },
        };
        let raw_notion = raw.notion.unwrap_or_default();
        let notion = env("CORTEX_NOTION_TOKEN")
            .or(raw_notion.token)
            .map(|token| NotionConfig {
                token: Secret::new(token),
                pages: raw_notion.pages,
                databases: raw_notion.databases,
                okr_database: raw_notion.okr_database,
                publish_database: raw_notion.publish_database,
                timeout: Duration::from_secs_f64(
                    raw_notion.timeout_secs.unwrap_or(30.0).clamp(0.05, 600.0),
                ),
                max_retries: raw_notion.max_retries.unwrap_or(3).min(10),
                api_addr: raw_notion.api_addr,
                ca_file: raw_notion.ca_file.map(rel),
            });
        let defaults = AskLimits::default();
        let deadline = match env("CORTEX_ANSWER_DEADLINE_SECS") {
            Some(v) => Some(
                v.parse::<f64>()
                    .context("CORTEX_ANSWER_DEADLINE_SECS must be a number of seconds")?,
            ),
            None => raw.answer_deadline_secs,
        }
        .unwrap_or(defaults.deadline.as_secs_f64());
        if !(deadline > 0.0 && deadline <= 3600.0) {
            anyhow::bail!("answer_deadline_secs must be between 0 and 3600, got {deadline}");
        }
        let ask = AskLimits {
            max_question_chars: raw
                .max_question_chars
                .unwrap_or(defaults.max_question_chars)
                .max(1),
            deadline: Duration::from_secs_f64(deadline),
        };
        let outbox = outbox_settings(raw.outbox.unwrap_or_default())?;
        let schedule = schedule_settings(raw.schedule.unwrap_or_default())?;
        let raw_linear = raw.linear.unwrap_or_default();
        let linear = match env("CORTEX_LINEAR_API_KEY").or(raw_linear.api_key) {
            Some(key) => Some(LinearConfig {
                api_key: Secret::new(key),
                base_url: env("CORTEX_LINEAR_BASE_URL")
                    .or(raw_linear.base_url)
                    .unwrap_or_else(|| "https://api.linear.app/graphql".into()),
                default_team: raw_linear
                    .default_team
                    .filter(|t| !t.trim().is_empty())
                    .context("[linear] default_team (a Linear team key such as ENG) is required with an API key")?,
                teams: raw_linear.teams,
                timeout: Duration::from_secs_f64(
                    raw_linear.timeout_secs.unwrap_or(15.0).clamp(0.05, 600.0),
                ),
            }),
            None => None,
        };
        Ok(Config {
            linear,
            notion,
            outbox,
            schedule,
            ask,
            llm,
            slack,
            server,
            project: project.to_path_buf(),
            warehouse: rel(warehouse),
            state_db: rel(state_db),
            limits: {
                let d = Limits::default();
                let num = |k: &str| env(k).and_then(|v| v.parse::<u64>().ok());
                Limits {
                    timeout: Duration::from_secs_f64(timeout),
                    max_rows,
                    pool_size: raw.pool_size.unwrap_or(d.pool_size).clamp(1, 64),
                    per_requester: raw.per_requester.unwrap_or(d.per_requester).max(1),
                    threads: raw.duckdb_threads.unwrap_or(d.threads),
                    memory_limit_mb: num("CORTEX_MEMORY_LIMIT_MB")
                        .or(raw.memory_limit_mb)
                        .unwrap_or(d.memory_limit_mb),
                    temp_limit_mb: raw.temp_limit_mb.unwrap_or(d.temp_limit_mb),
                    cache_entries: raw.result_cache_entries.unwrap_or(d.cache_entries),
                }
            },
        })
    }

    pub fn metrics_file(&self) -> PathBuf {
        self.project.join("metrics.yaml")
    }

    /// Every configured secret, for redacting error messages that are stored or shown.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |s: Option<&Secret>| {
            if let Some(s) = s {
                out.push(s.expose().to_string());
            }
        };
        add(self.slack.bot_token.as_ref());
        add(self.slack.app_token.as_ref());
        add(self.slack.signing_secret.as_ref());
        add(self.server.identity_secret.as_ref());
        add(self.llm.as_ref().map(|l| &l.api_key));
        add(self.linear.as_ref().map(|l| &l.api_key));
        add(self.notion.as_ref().map(|n| &n.token));
        out
    }
}

fn schedule_settings(raw: RawSchedule) -> Result<crate::schedule::Settings> {
    let d = crate::schedule::Settings::default();
    let tick = match std::env::var("CORTEX_SCHEDULE_TICK_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .or(raw.tick_secs)
    {
        None => d.tick,
        Some(x) if x > 0.0 && x <= 3600.0 => Duration::from_secs_f64(x),
        Some(x) => anyhow::bail!("[schedule] tick_secs must be between 0 and 3600, got {x}"),
    };
    let signals_at = match raw.signals_at {
        None => d.signals_at,
        Some(s) => chrono::NaiveTime::parse_from_str(&s, "%H:%M")
            .with_context(|| format!("[schedule] signals_at must be HH:MM, got {s:?}"))?,
    };
    let signals_tz = match raw.signals_tz {
        None => d.signals_tz,
        Some(z) => crate::schedule::cron::zone(&z)
            .map_err(|e| anyhow::anyhow!("[schedule] signals_tz: {e}"))?,
    };
    Ok(crate::schedule::Settings {
        tick,
        late_after: raw
            .late_after_mins
            .map_or(d.late_after, |m| chrono::Duration::minutes(m.max(0))),
        signals_at,
        signals_tz,
        ..d
    })
}

fn outbox_settings(raw: RawOutbox) -> Result<crate::outbox::OutboxSettings> {
    let d = crate::outbox::OutboxSettings::default();
    let secs = |v: Option<f64>, name: &str, default: Duration| -> Result<Duration> {
        match v {
            None => Ok(default),
            Some(x) if x > 0.0 && x <= 86_400.0 => Ok(Duration::from_secs_f64(x)),
            Some(x) => {
                anyhow::bail!("[outbox] {name} must be between 0 and 86400 seconds, got {x}")
            }
        }
    };
    let max_attempts = raw.max_attempts.unwrap_or(d.max_attempts);
    if !(1..=100).contains(&max_attempts) {
        anyhow::bail!("[outbox] max_attempts must be between 1 and 100, got {max_attempts}");
    }
    Ok(crate::outbox::OutboxSettings {
        max_attempts,
        base_delay: secs(raw.base_delay_secs, "base_delay_secs", d.base_delay)?,
        max_delay: secs(raw.max_delay_secs, "max_delay_secs", d.max_delay)?,
        lease: secs(raw.lease_secs, "lease_secs", d.lease)?,
        poll: d.poll,
    })
}
