//! Socket Mode: Slack pushes events over a WebSocket the bot opens with the app-level token,
//! so no public URL is needed. The same [`Incoming`] handling as the HTTP Events API.

use std::sync::Arc;

use slack_morphism::prelude::*;
use tracing::{debug, info, warn};

use super::bot::{
    command_reply, incoming_from_actions, incoming_from_event, Bot, Client, Incoming,
};

async fn bot_of(states: &SlackClientEventsUserState) -> Option<Arc<Bot>> {
    states.read().await.get_user_state::<Arc<Bot>>().cloned()
}

async fn on_push(
    ev: SlackPushEventCallback,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let Some(bot) = bot_of(&states).await else {
        return Ok(());
    };
    match bot.svc.state.first_delivery(&ev.event_id.0) {
        Ok(false) => {
            debug!(event_id = %ev.event_id.0, "event already handled");
            return Ok(());
        }
        Ok(true) => {}
        Err(e) => warn!(error = %e, "could not check the event id; handling it"),
    }
    if let Some(inc) = incoming_from_event(&ev.event, bot.bot_user.as_deref()) {
        bot.spawn(inc);
    }
    Ok(())
}

async fn on_command(
    ev: SlackCommandEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let text = ev.text.clone().unwrap_or_default();
    let reply = match bot_of(&states).await {
        Some(bot) => match command_reply(&bot.svc, &text) {
            Some(r) => r,
            None => {
                bot.spawn(Incoming::Command {
                    user: ev.user_id.0,
                    channel: ev.channel_id.0,
                    text,
                });
                "Looking into it; the answer will appear in this channel.".to_string()
            }
        },
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
    if let (SlackInteractionEvent::BlockActions(a), Some(bot)) = (ev, bot_of(&states).await) {
        if let Some(inc) = incoming_from_actions(&a) {
            bot.spawn(inc);
        }
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

/// Connects with the app-level token and handles events until the process stops.
pub async fn run(bot: Arc<Bot>, app_token: &str) -> anyhow::Result<()> {
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
    info!("Socket Mode connected");
    listener.start().await;
    // Runs until the process is stopped.
    std::future::pending::<()>().await;
    Ok(())
}
