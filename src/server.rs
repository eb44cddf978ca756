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
    /// The web site, with the Slack endpoints unless they have their own listener.
    pub router: Router,
    /// The Slack endpoints when `[server] slack_listen` puts them on a separate listener.
    pub slack_router: Option<Router>,
    pub transports: Transports,
    /// What the outbox can deliver in this process (Linear, Notion, Slack posts).
    pub deliverers: crate::outbox::Deliverers,
}

/// Serves `router` on `listener` with each request's peer address known (the web site
/// trusts the identity header only from configured proxies), until `shutdown` resolves.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Builds the service, the bot (when a bot token is set) and the router.
pub async fn build(config: Config, today: Option<chrono::NaiveDate>) -> anyhow::Result<Server> {
    let slack_cfg = config.slack.clone();
    let deliverers = crate::actions::deliverers(&config)?;
    let server_cfg = config.server.clone();
    let llm = match &config.llm {
        Some(c) => Some(crate::llm::Llm::new(c).context("the LLM settings are invalid")?),
        None => None,
    };
    let rt = tokio::task::spawn_blocking(move || crate::skills::run::Runtime::open(config))
        .await
        .context("startup panicked")??;
    let svc = Arc::new(Service::new(rt, llm, today)?);
    let mut router = crate::web::routes(Arc::clone(&svc))?;
    let api = Arc::new(crate::api::Api::new(Arc::clone(&svc))?);
    router = router
        .merge(crate::api::routes_for(Arc::clone(&api)))
        .merge(crate::mcp::routes(Arc::clone(&api)));
    let mut slack_router = None;
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
            let routes = slack::http::routes(Arc::new(slack::http::Endpoints {
                bot: Arc::clone(bot),
                signing_secret: secret.clone(),
                clock: slack::http::now_unix,
            }))
            .layer(axum::middleware::from_fn(crate::web::security_headers));
            if server_cfg.slack_listen.is_some() {
                slack_router = Some(routes);
            } else {
                router = router.merge(routes);
            }
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
        slack_router,
        transports,
        deliverers,
    })
}

/// Runs until Ctrl-C.
pub async fn serve(config: Config, today: Option<chrono::NaiveDate>) -> anyhow::Result<()> {
    serve_with(
        config,
        today,
        Arc::new(crate::schedule::SystemClock::default()),
    )
    .await
}

/// [`serve`], with the scheduler reading `clock` (`CORTEX_NOW` shifts it, for tests).
pub async fn serve_with(
    config: Config,
    today: Option<chrono::NaiveDate>,
    clock: Arc<dyn crate::schedule::Clock>,
) -> anyhow::Result<()> {
    let listen = config.server.listen.clone();
    let slack_listen = config.server.slack_listen.clone();
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
    // The bound address (port 0 picks one), unless a public URL is configured.
    let shown = if public.ends_with(":0") || !public.contains("://") {
        format!("http://{}", listener.local_addr()?)
    } else {
        public.clone()
    };
    // The start line is for the person who ran `cortex serve` (the log may be elsewhere).
    #[allow(clippy::print_stderr)]
    {
        eprintln!("Cortex is serving on {shown} (Ctrl-C to stop)");
    }
    let bot = server.bot.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let slack_task = match (server.slack_router, slack_listen) {
        (Some(r), Some(addr)) => {
            let l = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (slack_listen)"))?;
            info!(address = %l.local_addr()?, "Slack endpoints on their own listener");
            Some(tokio::spawn(serve_on(l, r, stopped(stop_rx.clone()))))
        }
        _ => None,
    };
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        info!("Ctrl-C: shutting down");
        let _ = stop_tx.send(true);
    });
    // External writes queued by answers, briefings and signals (and left over from before a
    // restart) are delivered in the background until shutdown.
    let outbox = tokio::spawn(
        server
            .svc
            .outbox
            .clone()
            .run(server.deliverers, stopped(stop_rx.clone())),
    );
    // Briefings and signals, due by the clock, queued through the ledger into the outbox.
    let settings = server.svc.rt.engine.config.schedule.clone();
    let scheduler = match crate::schedule::Scheduler::load(Arc::clone(&server.svc), clock, settings)
    {
        Ok(s) => Some(tokio::spawn(s.run(stopped(stop_rx.clone())))),
        Err(e) => {
            warn!(error = %format!("{e:#}"), "the scheduler is off");
            None
        }
    };
    serve_on(listener, server.router, stopped(stop_rx)).await?;
    outbox.await.context("the outbox task panicked")?;
    if let Some(s) = scheduler {
        s.await.context("the scheduler panicked")?;
    }
    if let Some(t) = slack_task {
        t.await.context("the Slack listener panicked")??;
    }
    if let Some(s) = socket {
        s.shutdown().await;
    }
    if let Some(bot) = bot {
        info!("waiting for answers in progress");
        bot.idle().await;
    }
    Ok(())
}
