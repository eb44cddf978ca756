//! `cortex serve`: one long-running process with the internal web site, the Slack HTTP
//! Events API endpoints and Slack Socket Mode. Each part runs only when configured, and the
//! log says which are off and how to turn them on.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use tracing::{info, warn};

use crate::config::Config;
use crate::service::Service;
use crate::slack;

/// What is running, for the log and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transports {
    pub http_events: bool,
    pub socket_mode: bool,
}

/// The pieces of a running server, built but not yet listening.
pub struct Server {
    pub svc: Arc<Service>,
    pub bot: Option<Arc<slack::bot::Bot>>,
    pub router: Router,
    pub transports: Transports,
}

/// Builds the service, the bot (when a bot token is set) and the router.
pub async fn build(config: Config, today: Option<chrono::NaiveDate>) -> anyhow::Result<Server> {
    let slack_cfg = config.slack.clone();
    let server_cfg = config.server.clone();
    let llm = match &config.llm {
        Some(c) => Some(crate::llm::Llm::new(c).context("the LLM settings are invalid")?),
        None => None,
    };
    let rt = tokio::task::spawn_blocking(move || crate::skills::run::Runtime::open(config))
        .await
        .context("startup panicked")??;
    let svc = Arc::new(Service::new(rt, llm, today)?);
    let mut router = crate::web::routes(Arc::clone(&svc));
    let mut transports = Transports {
        http_events: false,
        socket_mode: false,
    };
    let bot = match &slack_cfg.bot_token {
        Some(token) => {
            let client = Arc::new(slack::bot::client(&slack_cfg.api_url));
            let mut bot = slack::bot::Bot::new(
                Arc::clone(&svc),
                client,
                token.expose(),
                &server_cfg.base_url(),
            );
            bot.identify().await;
            Some(Arc::new(bot))
        }
        None => None,
    };
    match (&bot, &slack_cfg.signing_secret) {
        (Some(bot), Some(secret)) => {
            router = router.merge(slack::http::routes(Arc::new(slack::http::Endpoints {
                bot: Arc::clone(bot),
                signing_secret: secret.clone(),
                clock: slack::http::now_unix,
            })));
            transports.http_events = true;
        }
        (None, Some(_)) => warn!("Slack HTTP Events API is off: a signing secret is set but no bot token (CORTEX_SLACK_BOT_TOKEN)"),
        _ => {}
    }
    transports.socket_mode = bot.is_some() && slack_cfg.app_token.is_some();
    Ok(Server {
        svc,
        bot,
        router,
        transports,
    })
}

/// Runs until Ctrl-C.
pub async fn serve(config: Config, today: Option<chrono::NaiveDate>) -> anyhow::Result<()> {
    let listen = config.server.listen.clone();
    let public = config.server.base_url();
    let app_token = config.slack.app_token.clone();
    let server = build(config, today).await?;
    let t = &server.transports;
    if server.bot.is_none() {
        warn!("Slack is off: set CORTEX_SLACK_BOT_TOKEN (xoxb-...) and either CORTEX_SLACK_APP_TOKEN (xapp-..., Socket Mode) or CORTEX_SLACK_SIGNING_SECRET (HTTP Events API). See README, \"Connect Slack\".");
    } else {
        if !t.socket_mode {
            info!("Slack Socket Mode is off: set CORTEX_SLACK_APP_TOKEN (xapp-...) to use it");
        }
        if !t.http_events {
            info!("Slack HTTP Events API is off: set CORTEX_SLACK_SIGNING_SECRET to use it");
        }
    }
    // A failed Socket Mode connection is logged; the web site and HTTP endpoints still run.
    let socket = match (t.socket_mode, &server.bot, app_token) {
        (true, Some(bot), Some(token)) => slack::socket::connect(Arc::clone(bot), token.expose())
            .await
            .map_err(|e| warn!(error = %e, "Socket Mode is off"))
            .ok(),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    info!(
        address = %listener.local_addr()?,
        site = %public,
        slack_http = t.http_events,
        slack_socket_mode = t.socket_mode,
        "cortex serve is up"
    );
    eprintln!("Cortex is serving on {public} (Ctrl-C to stop)");
    let bot = server.bot.clone();
    axum::serve(listener, server.router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    if let Some(s) = socket {
        s.shutdown().await;
    }
    if let Some(bot) = bot {
        info!("waiting for answers in progress");
        bot.idle().await;
    }
    Ok(())
}
