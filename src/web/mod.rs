//! The internal web site (axum): ask page, answer permalinks, metric and skill catalogs,
//! the audit log. Served by `cortex serve` alongside the Slack endpoints.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use crate::service::Service;

pub fn routes(svc: Arc<Service>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .with_state(svc)
}
