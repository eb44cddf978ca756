//! Linear: a small typed GraphQL client (team and user lookup, `issueCreate`, `issue`) and
//! the outbox deliverer of kind [`KIND`] that files a proposed task as one issue.
//!
//! Queries are constants; every value travels as a GraphQL variable. Exactly once: the
//! issue id is chosen by us from the outbox key ([`crate::outbox::uuid_from_key`]), so a
//! retry after a crash asks Linear to create the same id again; Linear refuses, and the
//! issue is read back with `issue(id)` instead.
//!
//! Errors are mapped once: HTTP 429 or Linear's `RATELIMITED` (with `Retry-After` or
//! `X-RateLimit-Requests-Reset`), 5xx, timeouts and refused connections are retried;
//! validation errors are permanent, with Linear's own message. The API key never appears in
//! an error.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::{info, instrument, warn};

use crate::config::LinearConfig;
use crate::outbox::{BoxFuture, Deliverer, DeliveryError};

/// The outbox kind of a Linear issue.
pub const KIND: &str = "linear.issue";

const TEAM_QUERY: &str =
    "query CortexTeam($key: String!) { teams(filter: {key: {eq: $key}}) { nodes { id key name } } }";
const USER_QUERY: &str = "query CortexUser($email: String!) { users(filter: {email: {eq: $email}}) { nodes { id email name } } }";
const ISSUE_CREATE: &str = "mutation CortexIssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier url title state { name } } } }";
const ISSUE_QUERY: &str =
    "query CortexIssue($id: String!) { issue(id: $id) { id identifier url title state { name } } }";

/// An issue as Linear returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Linear's id (a UUID; ours, chosen from the outbox key).
    pub id: String,
    /// `ENG-123`.
    pub identifier: String,
    pub url: String,
    #[serde(default)]
    pub title: String,
    /// The workflow state's name ("Todo"), when asked for.
    #[serde(default)]
    pub state: Option<String>,
}

/// What the deliverer files: the outbox payload of a [`KIND`] write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueDraft {
    /// The Linear team key (`ENG`).
    pub team_key: String,
    pub title: String,
    /// Markdown.
    pub description: String,
    /// 0 none, 1 urgent, 2 high, 3 medium, 4 low.
    pub priority: u8,
    /// The asker's email: the assignee when Linear knows it.
    #[serde(default)]
    pub assignee_email: Option<String>,
    /// Where to post the issue's link once filed (the answer's Slack thread).
    #[serde(default)]
    pub notify: Option<SlackThread>,
}

/// A Slack thread (or DM when `thread_ts` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackThread {
    pub channel: String,
    #[serde(default)]
    pub thread_ts: Option<String>,
}

/// A Linear GraphQL client.
#[derive(Debug, Clone)]
pub struct LinearClient {
    http: reqwest::Client,
    url: String,
    auth: String,
    timeout: Duration,
}

/// The `Authorization` header for a key: a personal API key (`lin_api_…`) as is; an OAuth
/// token as `Bearer <token>` (written `oauth:<token>`, `Bearer <token>`, or any key that is
/// not a personal one, such as Linear's `lin_oauth_…`).
pub fn authorization(key: &str) -> String {
    let key = key.trim();
    if key.starts_with("lin_api_") {
        key.to_string()
    } else if let Some(t) = key.strip_prefix("oauth:") {
        format!("Bearer {}", t.trim())
    } else if key.starts_with("Bearer ") {
        key.to_string()
    } else {
        format!("Bearer {key}")
    }
}

impl LinearClient {
    /// A client for the configured endpoint and key.
    pub fn new(cfg: &LinearConfig) -> Result<LinearClient, DeliveryError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.timeout)
            .build()
            .map_err(|e| DeliveryError::permanent(format!("cannot build the HTTP client: {e}")))?;
        Ok(LinearClient {
            http,
            url: cfg.base_url.clone(),
            auth: authorization(cfg.api_key.expose()),
            timeout: cfg.timeout,
        })
    }

    /// One GraphQL request; `data` on success, else the mapped error.
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value, GraphqlError> {
        let body = serde_json::to_vec(&json!({"query": query, "variables": variables}))
            .map_err(|e| GraphqlError::Other(DeliveryError::permanent(e.to_string())))?;
        let res = self
            .http
            .post(&self.url)
            .timeout(self.timeout)
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| GraphqlError::Other(transport_error(&e, self.timeout)))?;
        let status = res.status().as_u16();
        let wait = retry_after(res.headers());
        let bytes = res
            .bytes()
            .await
            .map_err(|e| GraphqlError::Other(transport_error(&e, self.timeout)))?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status == 429 {
            return Err(GraphqlError::Other(DeliveryError::Retry {
                message: "Linear rate limit (HTTP 429)".into(),
                retry_after: wait,
            }));
        }
        if status >= 500 {
            return Err(GraphqlError::Other(DeliveryError::retry(format!(
                "Linear answered HTTP {status}"
            ))));
        }
        if status == 401 || status == 403 {
            return Err(GraphqlError::Other(DeliveryError::permanent(format!(
                "Linear refused the API key (HTTP {status}); check [linear] api_key"
            ))));
        }
        let Some(v) = parsed else {
            return Err(GraphqlError::Other(DeliveryError::retry(format!(
                "Linear answered HTTP {status} without JSON"
            ))));
        };
        if let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) {
            let limited = errors.iter().any(|e| {
                e["extensions"]["code"].as_str() == Some("RATELIMITED")
                    || e["extensions"]["type"].as_str() == Some("ratelimited")
            });
            if limited {
                return Err(GraphqlError::Other(DeliveryError::Retry {
                    message: "Linear rate limit (RATELIMITED)".into(),
                    retry_after: wait,
                }));
            }
            let message = errors
                .iter()
                .map(|e| {
                    e["extensions"]["userPresentableMessage"]
                        .as_str()
                        .or(e["message"].as_str())
                        .unwrap_or("unknown error")
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(GraphqlError::Graphql(message));
        }
        if !(200..300).contains(&status) {
            return Err(GraphqlError::Other(DeliveryError::permanent(format!(
                "Linear answered HTTP {status}"
            ))));
        }
        Ok(v["data"].clone())
    }

    /// The id of the team with this key.
    pub async fn team_id(&self, key: &str) -> Result<Option<String>, DeliveryError> {
        let data = self
            .graphql(TEAM_QUERY, json!({"key": key}))
            .await
            .map_err(GraphqlError::permanent)?;
        Ok(data["teams"]["nodes"][0]["id"].as_str().map(str::to_string))
    }

    /// The id of the user with this email.
    pub async fn user_id(&self, email: &str) -> Result<Option<String>, DeliveryError> {
        let data = self
            .graphql(USER_QUERY, json!({"email": email}))
            .await
            .map_err(GraphqlError::permanent)?;
        Ok(data["users"]["nodes"][0]["id"].as_str().map(str::to_string))
    }

    /// The issue with this id, if it exists.
    pub async fn issue(&self, id: &str) -> Result<Option<Issue>, DeliveryError> {
        match self.graphql(ISSUE_QUERY, json!({"id": id})).await {
            Ok(data) => Ok(issue_of(&data["issue"])),
            // Linear answers an unknown id with an "Entity not found" error.
            Err(GraphqlError::Graphql(_)) => Ok(None),
            Err(GraphqlError::Other(e)) => Err(e),
        }
    }

    /// Creates an issue with a client-chosen `id`; when Linear refuses because that id
    /// exists (a retry after a crash), returns the existing issue.
    pub async fn create_issue(&self, id: &str, input: Value) -> Result<Issue, DeliveryError> {
        let mut input = input;
        input["id"] = json!(id);
        match self.graphql(ISSUE_CREATE, json!({"input": input})).await {
            Ok(data) => match issue_of(&data["issueCreate"]["issue"]) {
                Some(i) if data["issueCreate"]["success"] != false => Ok(i),
                _ => Err(DeliveryError::permanent(
                    "Linear did not create the issue (success: false)",
                )),
            },
            Err(GraphqlError::Graphql(message)) => match self.issue(id).await? {
                Some(existing) => {
                    info!(id, identifier = %existing.identifier, "Linear issue already exists; read back");
                    Ok(existing)
                }
                None => Err(DeliveryError::permanent(format!(
                    "Linear refused the issue: {message}"
                ))),
            },
            Err(GraphqlError::Other(e)) => Err(e),
        }
    }
}

/// A GraphQL error (Linear's message, usually a validation error) or a transport failure
/// already mapped.
enum GraphqlError {
    Graphql(String),
    Other(DeliveryError),
}

impl GraphqlError {
    fn permanent(self) -> DeliveryError {
        match self {
            GraphqlError::Graphql(m) => DeliveryError::permanent(format!("Linear: {m}")),
            GraphqlError::Other(e) => e,
        }
    }
}

fn issue_of(v: &Value) -> Option<Issue> {
    Some(Issue {
        id: v["id"].as_str()?.to_string(),
        identifier: v["identifier"].as_str()?.to_string(),
        url: v["url"].as_str()?.to_string(),
        title: v["title"].as_str().unwrap_or_default().to_string(),
        state: v["state"]["name"].as_str().map(str::to_string),
    })
}

/// A failed request, with no URL or header in the message.
fn transport_error(e: &reqwest::Error, timeout: Duration) -> DeliveryError {
    if e.is_timeout() {
        DeliveryError::retry(format!(
            "Linear did not answer within {}",
            crate::format::duration(timeout.as_secs_f64())
        ))
    } else if e.is_connect() {
        DeliveryError::retry("could not connect to Linear")
    } else {
        DeliveryError::retry("the request to Linear failed")
    }
}

/// How long Linear asked us to wait: `Retry-After` (seconds), else
/// `X-RateLimit-Requests-Reset` (a UTC epoch in milliseconds).
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(s) = text("retry-after").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(s.clamp(0.0, 86_400.0)));
    }
    let reset_ms = text("x-ratelimit-requests-reset").and_then(|v| v.parse::<i64>().ok())?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(
        (reset_ms - now_ms).clamp(0, 86_400_000) as u64,
    ))
}

/// Posts a filed issue's link in the answer's Slack thread.
pub struct SlackNotifier {
    client: Arc<crate::slack::bot::Client>,
    token: slack_morphism::SlackApiToken,
}

impl SlackNotifier {
    /// A notifier with the bot's token against `api_url`.
    pub fn new(api_url: &str, bot_token: &str) -> SlackNotifier {
        SlackNotifier {
            client: Arc::new(crate::slack::bot::client(api_url)),
            token: slack_morphism::SlackApiToken::new(slack_morphism::SlackApiTokenValue(
                bot_token.to_string(),
            )),
        }
    }

    async fn post(&self, to: &SlackThread, text: &str) -> Result<(), String> {
        use slack_morphism::prelude::*;
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostMessageRequest::new(
            SlackChannelId(to.channel.clone()),
            SlackMessageContent::new().with_text(text.to_string()),
        )
        .opt_thread_ts(to.thread_ts.clone().map(SlackTs));
        crate::slack::bot::with_retry("chat.postMessage", || session.chat_post_message(&req))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The line posted in the thread once the issue exists.
pub fn filed_line(issue: &Issue) -> String {
    format!(
        "Filed {} <{}|{}>",
        issue.identifier,
        issue.url,
        crate::render::slack::escape(&issue.title)
    )
}

/// The outbox deliverer of [`KIND`] writes.
pub struct LinearDeliverer {
    client: LinearClient,
    notifier: Option<SlackNotifier>,
}

impl LinearDeliverer {
    /// A deliverer with the configured client; `notifier` posts links in Slack threads.
    pub fn new(cfg: &LinearConfig, notifier: Option<SlackNotifier>) -> anyhow::Result<Self> {
        Ok(LinearDeliverer {
            client: LinearClient::new(cfg).map_err(|e| anyhow::anyhow!("{e}"))?,
            notifier,
        })
    }

    #[instrument(skip_all, fields(key = %key))]
    async fn file(&self, key: &str, payload: &Value) -> Result<Value, DeliveryError> {
        let draft: IssueDraft = serde_json::from_value(payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("not a Linear issue draft: {e}")))?;
        let team = self.client.team_id(&draft.team_key).await?.ok_or_else(|| {
            DeliveryError::permanent(format!(
                "Linear has no team with key {}; check [linear] teams and default_team",
                draft.team_key
            ))
        })?;
        let assignee = match &draft.assignee_email {
            Some(email) => self.client.user_id(email).await?,
            None => None,
        };
        let mut input = json!({
            "teamId": team,
            "title": draft.title,
            "description": draft.description,
            "priority": draft.priority,
        });
        if let Some(a) = assignee {
            input["assigneeId"] = json!(a);
        }
        let id = crate::outbox::uuid_from_key(key);
        let issue = self.client.create_issue(&id, input).await?;
        info!(identifier = %issue.identifier, "Linear issue filed");
        if let (Some(n), Some(to)) = (&self.notifier, &draft.notify) {
            // The issue exists: a failed post is logged, not retried (that would only
            // repeat the post; the link is also on the answer's page and the audit page).
            if let Err(e) = n.post(to, &filed_line(&issue)).await {
                warn!(error = %e, "could not post the Linear link in the thread");
            }
        }
        Ok(
            json!({"identifier": issue.identifier, "url": issue.url, "id": issue.id, "title": issue.title}),
        )
    }
}

impl Deliverer for LinearDeliverer {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn deliver<'a>(
        &'a self,
        key: &'a str,
        payload: &'a Value,
    ) -> BoxFuture<'a, Result<Value, DeliveryError>> {
        Box::pin(self.file(key, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_keys_go_as_is_and_oauth_tokens_as_bearer() {
        assert_eq!(authorization("lin_api_abc"), "lin_api_abc");
        assert_eq!(authorization("oauth:tok"), "Bearer tok");
        assert_eq!(authorization("Bearer tok"), "Bearer tok");
        assert_eq!(authorization("lin_oauth_x"), "Bearer lin_oauth_x");
    }

    #[test]
    fn retry_after_reads_seconds_or_the_reset_epoch() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = reqwest::header::HeaderMap::new();
        let reset = chrono::Utc::now().timestamp_millis() + 60_000;
        h.insert(
            "x-ratelimit-requests-reset",
            reset.to_string().parse().expect("header"),
        );
        let d = retry_after(&h).expect("a wait");
        assert!(
            d > Duration::from_secs(50) && d <= Duration::from_secs(60),
            "{d:?}"
        );
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
    }
}
