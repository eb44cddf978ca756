//! The HTTP Events API: `/slack/events`, `/slack/commands`, `/slack/interactive`. Every
//! request's signature is checked before anything else; work is spawned and the response
//! goes back at once (Slack gives up after 3 seconds and retries).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use slack_morphism::prelude::*;
use tracing::warn;

use super::bot::Bot;
use super::signature;
use crate::config::Secret;

/// What the endpoints need: the bot and the signing secret.
pub struct Endpoints {
    pub bot: Arc<Bot>,
    pub signing_secret: Secret,
    /// Unix seconds now (injected in tests to replay Slack's documented vectors).
    pub clock: fn() -> i64,
}

pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The Slack routes, to merge into the web site's router.
pub fn routes(e: Arc<Endpoints>) -> Router {
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/commands", post(commands))
        .route("/slack/interactive", post(interactive))
        .with_state(e)
}

fn check(e: &Endpoints, headers: &HeaderMap, body: &[u8]) -> Result<(), Box<Response>> {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    signature::verify(
        e.signing_secret.expose(),
        h("x-slack-request-timestamp"),
        body,
        h("x-slack-signature"),
        (e.clock)(),
    )
    .map_err(|err| {
        warn!(error = %err, "rejected a Slack request");
        Box::new((StatusCode::UNAUTHORIZED, err.to_string()).into_response())
    })
}

async fn events(State(e): State<Arc<Endpoints>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&e, &headers, &body) {
        return *r;
    }
    let event: SlackPushEvent = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(err) => {
            // Acknowledge anyway: a retry would not parse better.
            warn!(error = %err, "unrecognised Slack event payload");
            return StatusCode::OK.into_response();
        }
    };
    match event {
        SlackPushEvent::UrlVerification(v) => {
            Json(json!({"challenge": v.challenge})).into_response()
        }
        SlackPushEvent::EventCallback(cb) => {
            e.bot.on_event(&cb);
            StatusCode::OK.into_response()
        }
        SlackPushEvent::AppRateLimited(_) => {
            warn!("Slack says the app is rate limited for events");
            StatusCode::OK.into_response()
        }
    }
}

async fn commands(State(e): State<Arc<Endpoints>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&e, &headers, &body) {
        return *r;
    }
    match serde_urlencoded::from_bytes::<SlackCommandEvent>(&body) {
        Ok(cmd) => {
            let reply = e.bot.on_command(&cmd);
            Json(json!({"response_type": "ephemeral", "text": reply})).into_response()
        }
        // Slack's SSL check carries no command.
        Err(_) if is_ssl_check(&body) => StatusCode::OK.into_response(),
        Err(err) => {
            warn!(error = %err, "unrecognised slash command body");
            (StatusCode::BAD_REQUEST, "unrecognised slash command").into_response()
        }
    }
}

fn is_ssl_check(body: &[u8]) -> bool {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .is_ok_and(|form| form.iter().any(|(k, v)| k == "ssl_check" && v == "1"))
}

async fn interactive(State(e): State<Arc<Endpoints>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&e, &headers, &body) {
        return *r;
    }
    let payload = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|f| f.into_iter().find(|(k, _)| k == "payload").map(|(_, v)| v));
    let Some(payload) = payload else {
        return (StatusCode::BAD_REQUEST, "missing payload").into_response();
    };
    if clicked_a_link(&payload) {
        // A link button: Slack opens the URL and only wants the acknowledgement.
        return StatusCode::OK.into_response();
    }
    match serde_json::from_str::<SlackInteractionEvent>(&payload) {
        Ok(ev) => e.bot.on_interaction(&ev),
        Err(err) => warn!(error = %err, "unrecognised interaction payload"),
    }
    StatusCode::OK.into_response()
}

/// True when the interaction is a click on a link button (its action carries a `url`).
/// slack-morphism's model drops the field, so the raw payload is read.
fn clicked_a_link(payload: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(payload).is_ok_and(|v| {
        v["type"] == "block_actions"
            && v["actions"][0]["url"]
                .as_str()
                .is_some_and(|u| !u.is_empty())
    })
}
