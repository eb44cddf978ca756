//! Socket Mode: Slack pushes events over a WebSocket the bot opens with the app-level token,
//! so no public URL is needed. Events, commands and clicks go to the same [`Bot`] entry
//! points as the HTTP Events API.

use std::sync::Arc;

use slack_morphism::prelude::*;
use tracing::{info, warn};

use super::bot::{Bot, Client};

/// A connected Socket Mode listener; dropping it does not disconnect, `shutdown` does.
pub type Listener = SlackClientSocketModeListener<SlackClientHyperHttpsConnector>;

async fn bot_of(states: &SlackClientEventsUserState) -> Option<Arc<Bot>> {
    states.read().await.get_user_state::<Arc<Bot>>().cloned()
}

async fn on_push(
    ev: SlackPushEventCallback,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(bot) = bot_of(&states).await {
        bot.on_event(&ev);
    }
    Ok(())
}

async fn on_command(
    ev: SlackCommandEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let reply = match bot_of(&states).await {
        Some(bot) => bot.on_command(&ev),
        None => "Cortex is starting up; try again in a moment.".to_string(),
    };
    Ok(
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(reply))
            .with_response_type(SlackMessageResponseType::Ephemeral),
    )
}

async fn on_interaction(
    ev: SlackInteractionEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(bot) = bot_of(&states).await {
        bot.on_interaction(&ev);
    }
    Ok(())
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    warn!(error = %err, "Socket Mode error");
    HttpStatusCode::OK
}

/// Opens the Socket Mode connection with the app-level token (`apps.connections.open`,
/// then the WebSocket) and starts handling events.
pub async fn connect(bot: Arc<Bot>, app_token: &str) -> anyhow::Result<Listener> {
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(Arc::clone(bot.client()))
            .with_error_handler(on_error)
            .with_user_state(Arc::clone(&bot)),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_push_events(on_push)
        .with_command_events(on_command)
        .with_interaction_events(on_interaction);
    let listener =
        SlackClientSocketModeListener::new(&SlackClientSocketModeConfig::new(), env, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue(app_token.to_string()));
    listener
        .listen_for(&token)
        .await
        .map_err(|e| anyhow::anyhow!("Socket Mode connection failed: {e}"))?;
    listener.start().await;
    info!("Socket Mode connected");
    Ok(listener)
}
