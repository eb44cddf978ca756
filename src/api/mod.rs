//! The versioned JSON API on `cortex serve`, under `/api/v1`: ask, structured queries, the
//! metric and skill catalogs, skill runs and recorded answers, described by an OpenAPI 3.1
//! document generated from the Rust types ([`schema`]).
//!
//! Every call names a person: a bearer token (`cortex token create`, [`tokens`]) or the
//! company's sign-in proxy (the web site's trusted identity header). That person drives
//! the access policy and the audit log, as on the web site. Calls are rate-limited per
//! token ([`ratelimit`]); only the browser extension's origin (`[api] extension_origin`)
//! gets CORS headers. Errors are `{"error": {"code", "message"}}` with a stable code.

pub mod calls;
pub mod extension;
pub mod ops;
pub mod ratelimit;
pub mod schema;
pub mod tokens;
pub mod types;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use tracing::{info, warn};

use crate::render::html::{self, PageOptions};
use crate::service::Service;
use crate::web::security::{self, Identity, IdentityPolicy};
pub use ops::{ApiError, Caller};
use ratelimit::RateLimiter;
use tokens::{TokenError, Tokens};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// What the API's handlers and middleware share.
pub struct Api {
    pub svc: Arc<Service>,
    identity: IdentityPolicy,
    pub tokens: Tokens,
    /// Every call, audited.
    pub calls: calls::CallLog,
    limiter: RateLimiter,
    extension_origin: Option<String>,
    public_url: Option<String>,
    openapi: serde_json::Value,
}

impl Api {
    /// From the service's configuration; fails on a malformed `[server] trusted_proxies`
    /// or when the state database cannot hold tokens.
    pub fn new(svc: Arc<Service>) -> anyhow::Result<Api> {
        let server = svc.rt.engine.config.server.clone();
        let log = svc
            .rt
            .engine
            .warehouse
            .audit_log()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the warehouse has no state database"))?;
        Ok(Api {
            identity: IdentityPolicy::new(&server)?,
            tokens: Tokens::open(log.clone())?,
            calls: calls::CallLog::open(log)?,
            limiter: RateLimiter::new(server.api.rate_per_minute),
            extension_origin: server.api.extension_origin.clone(),
            public_url: server.public_url.clone(),
            openapi: schema::openapi(&server.base_url()),
            svc,
        })
    }

    /// The person behind a request: its bearer token, else the trusted identity header.
    pub fn caller(
        &self,
        peer: Option<std::net::IpAddr>,
        headers: &HeaderMap,
    ) -> Result<Caller, ApiError> {
        let base = self.public_url.clone().unwrap_or_else(|| {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        });
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            let secret = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "invalid_token",
                        "The Authorization header must be `Bearer <token>`.",
                    )
                })?;
            return match self.tokens.verify(secret) {
                Ok((id, user)) => Ok(Caller::person(&user, Some(id), &base)),
                Err(TokenError::Invalid) => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "That API token is not valid. Create one with `cortex token create`.",
                )),
                Err(TokenError::Revoked) => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "token_revoked",
                    "That API token was revoked. Ask for a new one.",
                )),
                Err(e @ TokenError::Store(_)) => {
                    warn!(error = %e, "token check failed");
                    Err(ApiError::internal(
                        "the token could not be checked just now",
                    ))
                }
            };
        }
        match self
            .identity
            .identify(peer, headers, chrono::Utc::now().timestamp())
        {
            Identity::User(user) => Ok(Caller::person(&user, None, &base)),
            Identity::Anonymous(_) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Send `Authorization: Bearer <token>` (create one with `cortex token create`), or call through the company's sign-in.",
            )),
        }
    }

    /// Takes one request from the caller's bucket.
    pub fn rate_check(&self, caller: &Caller) -> Result<(), Box<Response>> {
        self.limiter
            .check(&caller.limit_key(), Instant::now())
            .map_err(|wait| {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                let mut res = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("Too many requests for this token; try again in {secs} s."),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                Box::new(res)
            })
    }

    /// True when `origin` is the configured extension's.
    fn allowed_origin(&self, origin: &str) -> bool {
        self.extension_origin
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// `/api/v1/...`, with authentication, rate limiting and CORS.
pub fn routes(svc: Arc<Service>) -> anyhow::Result<Router> {
    let api = Arc::new(Api::new(svc)?);
    Ok(routes_for(api))
}

/// [`routes`] for an [`Api`] already built (the MCP endpoint shares it).
pub fn routes_for(api: Arc<Api>) -> Router {
    let v1 = Router::new()
        .route("/ask", post(ask))
        .route("/query", post(query))
        .route("/metrics", get(list_metrics))
        .route("/metrics/{name}", get(describe_metric))
        .route("/skills", get(list_skills))
        .route("/skills/{name}/run", post(run_skill))
        .route("/answers/{id}", get(get_answer))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&api),
            authenticate,
        ))
        .route("/openapi.json", get(openapi))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "There is no API endpoint at this address (see /api/v1/openapi.json).",
            )
        })
        .layer(middleware::from_fn_with_state(Arc::clone(&api), cors))
        .with_state(api);
    Router::new().nest("/api/v1", v1)
}

/// Names the caller (401 otherwise), takes a request from their rate bucket (429), and
/// refuses state changes from other sites' pages.
pub async fn authenticate(State(api): State<Arc<Api>>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let caller = match api.caller(peer, req.headers()) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Err(res) = api.rate_check(&caller) {
        warn!(requester = %caller.requester, token = ?caller.token_id, "API rate limit reached");
        return *res;
    }
    let surface = if req.uri().path().starts_with("/mcp") {
        "mcp"
    } else {
        "api"
    };
    let operation = format!("{} {}", req.method(), req.uri().path());
    info!(requester = %caller.requester, token = ?caller.token_id, %operation, "API call");
    req.extensions_mut().insert(caller.clone());
    let res = next.run(req).await;
    // MCP calls are audited per tool call by the MCP server; here only the API's.
    if surface == "api" {
        let outcome = if res.status().is_success() {
            "ok".to_string()
        } else {
            res.status().as_u16().to_string()
        };
        api.calls.record(&caller, surface, &operation, &outcome);
    }
    res
}

/// CORS for the extension's origin only: preflights answered, its responses readable.
/// A request from any other site's page (an `Origin` that is neither the extension nor
/// this site) is refused, so a signed-in browser cannot be made to call the API.
async fn cors(State(api): State<Arc<Api>>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allowed = origin.as_deref().is_some_and(|o| api.allowed_origin(o));
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cors_refused",
            "This origin may not call the Cortex API.",
        )
        .into_response()
    };
    let mut res = if req.method() == Method::OPTIONS {
        if !allowed {
            return with_headers(refused());
        }
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        res
    } else {
        let same_site = security::same_origin(req.headers(), api.public_url.as_deref());
        if origin.is_some() && !allowed && !same_site {
            return with_headers(refused());
        }
        next.run(req).await
    };
    if let (true, Some(o)) = (allowed, origin) {
        if let Ok(v) = HeaderValue::from_str(&o) {
            let h = res.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("retry-after"),
            );
        }
    }
    res.headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
    with_headers(res)
}

fn with_headers(mut res: Response) -> Response {
    security::add_headers(res.headers_mut());
    res
}

/// A JSON body of type `T`, or a 400 that says what is wrong with it.
fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send the body as JSON with `Content-Type: application/json`.",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("The body is not a valid request: {e}"),
        )
    })
}

fn json_or_error<T: serde::Serialize>(r: Result<T, ApiError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn openapi(State(api): State<Arc<Api>>) -> Response {
    Json(api.openapi.clone()).into_response()
}

async fn ask(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let req = match body(&headers, &bytes) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    json_or_error(ops::ask(&api.svc, &caller, req).await)
}

async fn query(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let q = match body(&headers, &bytes) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    json_or_error(ops::query(&api.svc, &caller, q).await)
}

async fn list_metrics(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    json_or_error(ops::list_metrics(&api.svc, &caller))
}

async fn describe_metric(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    json_or_error(ops::describe_metric(&api.svc, &caller, &name))
}

async fn list_skills(State(api): State<Arc<Api>>) -> Response {
    Json(ops::list_skills(&api.svc)).into_response()
}

async fn run_skill(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    // An empty body runs the skill with its defaults.
    let req = if bytes.is_empty() {
        Ok(types::RunSkillRequest::default())
    } else {
        body(&headers, &bytes)
    };
    match req {
        Ok(r) => json_or_error(ops::run_skill(&api.svc, &caller, &name, r).await),
        Err(e) => e.into_response(),
    }
}

async fn get_answer(
    State(api): State<Arc<Api>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    if let Some(bare) = id.strip_suffix(".pdf") {
        if let Err(e) = ops::get_answer(&api.svc, &caller, bare) {
            return e.into_response();
        }
        return match api.svc.pdf(bare).await {
            Ok((name, pdf)) => crate::web::pdf_response(&name, pdf),
            Err(e) => ApiError::new(StatusCode::NOT_FOUND, "not_found", e).into_response(),
        };
    }
    if let Some(bare) = id.strip_suffix(".html") {
        return match ops::get_answer(&api.svc, &caller, bare) {
            Ok((stored, a)) => {
                let opts = PageOptions {
                    answer_id: Some(stored.id.clone()),
                    generated: Some(stored.created_at.clone()),
                    ..PageOptions::default()
                };
                let page =
                    html::layout(&html::title_of(&a), "ask", &api.svc.body(&a, &opts), &opts);
                axum::response::Html(page).into_response()
            }
            Err(e) => e.into_response(),
        };
    }
    json_or_error(ops::answer_response(&api.svc, &caller, &id))
}
