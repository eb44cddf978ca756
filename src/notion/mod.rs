//! Notion, through the `notion-client` crate: pages and databases synced into
//! `context/notion/` ([`sync`]), and answers published as pages in a database ([`publish`]).
//!
//! [`NotionClient`] wraps `notion_client::endpoints::Client` with the policy every call
//! shares: a timeout, bounded retries of reads (429 honouring `Retry-After`, 409 conflicts,
//! 5xx and transport failures), and errors that name what was being read.

pub mod markdown;
pub mod publish;
pub mod sync;

use std::future::Future;
use std::time::Duration;

use notion_client::NotionClientError;
use serde::Deserialize;

use crate::config::NotionConfig;

/// An OKR database and how its properties map onto okrs.yaml's fields.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OkrDatabase {
    /// The database id (32 hex characters from its URL).
    pub id: String,
    /// Property names, by okrs.yaml field (defaults in [`OkrProperties`]).
    #[serde(default)]
    pub properties: OkrProperties,
}

/// Names of the OKR database's properties. Each defaults to the name in quotes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OkrProperties {
    /// "ID": what people call the OKR ("1" for "OKR #1"); text, number or the ID property.
    pub id: String,
    /// "Objective": the title.
    pub title: String,
    /// "Metric": a metric name from metrics.yaml (text or select).
    pub metric: String,
    /// "Target": the value to reach by `due`, in the metric's unit (number).
    pub target: String,
    /// "Start": the start date (date).
    pub start: String,
    /// "Due": the due date (date).
    pub due: String,
    /// "Owner team": a team from people.yaml (text or select).
    pub owner_team: String,
    /// "Strategies": strategy ids (multi-select or comma-separated text); optional.
    pub strategies: String,
    /// "Segment targets": `Enterprise: 112000000, SMB: 12000000` (text); optional.
    pub segment_targets: String,
}

impl Default for OkrProperties {
    fn default() -> Self {
        OkrProperties {
            id: "ID".into(),
            title: "Objective".into(),
            metric: "Metric".into(),
            target: "Target".into(),
            start: "Start".into(),
            due: "Due".into(),
            owner_team: "Owner team".into(),
            strategies: "Strategies".into(),
            segment_targets: "Segment targets".into(),
        }
    }
}

/// A failed Notion call, naming what was being read or written. Never carries the token.
#[derive(Debug, thiserror::Error)]
pub enum NotionError {
    /// 400: Notion refused the request; its message says why.
    #[error("Notion rejected {what}: {message}")]
    Validation { what: String, message: String },
    /// 429 after the retries ran out.
    #[error("Notion rate-limited {what}{}", retry_hint(*.retry_after))]
    RateLimited {
        what: String,
        retry_after: Option<Duration>,
    },
    /// Any other status (401 bad token, 404 not shared with the integration, 409, 5xx).
    #[error("Notion answered {status} ({code}) for {what}: {message}")]
    Api {
        what: String,
        status: u32,
        code: String,
        message: String,
    },
    /// Timeout, connection refused, TLS failure.
    #[error("cannot reach Notion for {what}: {message}")]
    Transport { what: String, message: String },
    /// A response the client could not read.
    #[error("unexpected Notion response for {what}: {message}")]
    Decode { what: String, message: String },
    /// Missing or bad settings.
    #[error("Notion is not set up: {0}")]
    Config(String),
    /// Writing the synced files.
    #[error("cannot write {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

fn retry_hint(d: Option<Duration>) -> String {
    d.map(|d| format!(" (retry after {} s)", d.as_secs()))
        .unwrap_or_default()
}

impl NotionError {
    /// True when trying again later may succeed (rate limit, conflict, 5xx, transport).
    pub fn is_retryable(&self) -> bool {
        match self {
            NotionError::RateLimited { .. } | NotionError::Transport { .. } => true,
            NotionError::Api { status, .. } => *status == 409 || *status >= 500,
            _ => false,
        }
    }

    /// How long Notion asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            NotionError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn from_client(what: &str, e: NotionClientError) -> NotionError {
        let what = what.to_string();
        match e {
            NotionClientError::InvalidStatusCode { error } => match error.status {
                400 => NotionError::Validation {
                    what,
                    message: error.message,
                },
                429 => NotionError::RateLimited {
                    what,
                    retry_after: error.retry_after.map(Duration::from_secs),
                },
                status => NotionError::Api {
                    what,
                    status,
                    code: error.code,
                    message: error.message,
                },
            },
            NotionClientError::FailedToRequest { source }
            | NotionClientError::FailedToText { source } => NotionError::Transport {
                what,
                message: transport_message(&source),
            },
            NotionClientError::FailedToDeserialize { source, .. } => NotionError::Decode {
                what,
                message: source.to_string(),
            },
            other => NotionError::Decode {
                what,
                message: other.to_string(),
            },
        }
    }
}

/// reqwest's error without its URL (ids only, but kept short) and with the cause chain.
fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// The Notion API client with Cortex's timeout, TLS and retry policy.
#[derive(Clone)]
pub struct NotionClient {
    inner: notion_client::endpoints::Client,
    max_retries: u32,
}

impl std::fmt::Debug for NotionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotionClient")
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl NotionClient {
    /// A client for these settings. `api_addr` and `ca_file` (for proxies and tests) pin
    /// `api.notion.com` to an address and trust an extra root certificate.
    pub fn new(cfg: &NotionConfig) -> Result<NotionClient, NotionError> {
        // One TLS provider for the process: ring (as the LLM client does).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)));
        if let Some(addr) = cfg.api_addr {
            builder = builder.resolve("api.notion.com", addr);
        }
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                NotionError::Config(format!("cannot read ca_file {}: {e}", path.display()))
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                NotionError::Config(format!("ca_file {} is not PEM: {e}", path.display()))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let inner =
            notion_client::endpoints::Client::new(cfg.token.expose().to_string(), Some(builder))
                .map_err(|e| match e {
                    // The token is not printed, only that it cannot be a header.
                    NotionClientError::InvalidHeader { .. } => {
                        NotionError::Config("the token has characters a header cannot carry".into())
                    }
                    other => NotionError::Config(format!("cannot build the client: {other}")),
                })?;
        Ok(NotionClient {
            inner,
            max_retries: cfg.max_retries,
        })
    }

    /// The underlying notion-client endpoints.
    pub fn api(&self) -> &notion_client::endpoints::Client {
        &self.inner
    }

    /// Runs a read, retrying rate limits (after `Retry-After`, else a backoff), conflicts,
    /// 5xx and transport failures up to `max_retries` times.
    pub async fn read<T, F, Fut>(&self, what: &str, call: F) -> Result<T, NotionError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, NotionClientError>>,
    {
        retrying(self.max_retries, what, call).await
    }

    /// Runs a call once (writes: the outbox retries them).
    pub async fn once<T, F, Fut>(&self, what: &str, call: F) -> Result<T, NotionError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, NotionClientError>>,
    {
        retrying(0, what, call).await
    }
}

async fn retrying<T, F, Fut>(max_retries: u32, what: &str, call: F) -> Result<T, NotionError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, NotionClientError>>,
{
    let mut attempt = 0u32;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let err = NotionError::from_client(what, e);
                if !err.is_retryable() || attempt >= max_retries {
                    return Err(err);
                }
                // Retry-After wins; otherwise 250 ms, 500 ms, 1 s, ... capped at 8 s.
                let wait = err.retry_after().unwrap_or_else(|| {
                    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(5)))
                        .min(Duration::from_secs(8))
                });
                tracing::warn!(what, attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying Notion call");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

/// A page or database id as Notion's API takes it: the 32 hex characters, dashes
/// optional; a full page URL is accepted too (the id is its last 32 hex characters).
pub fn normalize_id(raw: &str) -> Option<String> {
    let path = raw.trim().split(['?', '#']).next().unwrap_or("");
    let tail: Vec<char> = path
        .trim_end_matches('/')
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .filter(|c| *c != '-')
        .collect();
    if tail.len() < 32 {
        return None;
    }
    let candidate: String = tail[..32].iter().rev().collect();
    let h = candidate.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_hex_dashes_and_urls() {
        let want = "1429989f-e8ac-4eff-bc8f-57f56486db54";
        for raw in [
            "1429989fe8ac4effbc8f57f56486db54",
            "1429989f-e8ac-4eff-bc8f-57f56486db54",
            "https://www.notion.so/acme/Strategy-2026-1429989fe8ac4effbc8f57f56486db54",
            "https://www.notion.so/1429989fe8ac4effbc8f57f56486db54?v=abc",
        ] {
            assert_eq!(normalize_id(raw).as_deref(), Some(want), "{raw}");
        }
        assert_eq!(normalize_id("not an id"), None);
        assert_eq!(normalize_id("1234"), None);
    }

    #[test]
    fn statuses_map_to_retryable_or_not() {
        let err = |status: u32, retry_after: Option<u64>| {
            NotionError::from_client(
                "page X",
                NotionClientError::InvalidStatusCode {
                    error: notion_client::objects::error::Error {
                        object: "error".into(),
                        status,
                        code: "c".into(),
                        message: "m".into(),
                        request_id: None,
                        retry_after,
                    },
                },
            )
        };
        assert!(err(429, Some(2)).is_retryable());
        assert_eq!(
            err(429, Some(2)).retry_after(),
            Some(Duration::from_secs(2))
        );
        assert!(err(409, None).is_retryable());
        assert!(err(502, None).is_retryable());
        let v = err(400, None);
        assert!(!v.is_retryable());
        assert_eq!(v.to_string(), "Notion rejected page X: m");
        assert!(!err(404, None).is_retryable());
    }
}
