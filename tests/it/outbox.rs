//! The outbox as people see it: a failed external write is listed on the audit page with
//! its error (secrets redacted), only admins see it, and an admin's retry (same-origin, with
//! the form's CSRF token) queues it again.

use std::sync::Arc;

use cortex::outbox::{BoxFuture, Deliverer, Deliverers, DeliveryError, WriteState};
use serde_json::{json, Value};

const SECRET: &str = "identity-secret-7f3a9c";

/// Fails every write with a validation error that (carelessly) quotes the secret.
struct Rejects;

impl Deliverer for Rejects {
    fn kind(&self) -> &'static str {
        "test.rejects"
    }

    fn deliver<'a>(
        &'a self,
        _key: &'a str,
        _payload: &'a Value,
    ) -> BoxFuture<'a, Result<Value, DeliveryError>> {
        Box::pin(async {
            Err(DeliveryError::permanent(format!(
                "title must not be empty (sent with {SECRET})"
            )))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_shown_to_admins_and_retried_from_the_audit_page() {
    let state = tempfile::tempdir().expect("tmp");
    let mut config = crate::websec::demo_config(&state);
    config.server.default_user = "local".into();
    config.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    config.server.identity_secret = Some(cortex::config::Secret::new(SECRET));
    let site = crate::websec::start(config, Some(state)).await;
    let outbox = &site.server.svc.outbox;
    let queued = outbox
        .enqueue("test.rejects", "answer:abc:task:0", &json!({"title": ""}))
        .expect("enqueue");
    let ds = Deliverers::new().with(Arc::new(Rejects));
    assert_eq!(
        outbox
            .deliver_due(&ds, chrono::Utc::now())
            .await
            .expect("pass"),
        1
    );
    let rec = outbox.get("answer:abc:task:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Dead);

    let as_user = |email: &str| vec![("x-forwarded-user".to_string(), email.to_string())];
    let (s, _, page) = site
        .get("/audit", &as_user("noor.haddad@example.com"))
        .await;
    assert_eq!(s, 200);
    assert!(page.contains("1 failed"), "{page}");
    assert!(page.contains("answer:abc:task:0"), "{page}");
    assert!(page.contains("title must not be empty"), "{page}");
    assert!(!page.contains(SECRET), "the secret leaked onto the page");
    let form = format!("/audit/outbox/{}/retry", queued.id);
    assert!(page.contains(&form), "no retry button: {page}");

    // A CSM may neither see nor retry it.
    let csm = site.browser(as_user("ava.thompson@example.com")).await;
    let (s, _) = post(&site, &form, &csm, true).await;
    assert_eq!(s, 403);
    // Without the CSRF token, an admin's browser is refused too.
    let admin = site.browser(as_user("noor.haddad@example.com")).await;
    let (s, _) = post(&site, &form, &admin, false).await;
    assert_eq!(s, 403);
    assert_eq!(
        outbox
            .get("answer:abc:task:0")
            .expect("get")
            .expect("row")
            .state,
        WriteState::Dead
    );
    // With it, the write is queued again from scratch.
    let (s, location) = post(&site, &form, &admin, true).await;
    assert_eq!(s, 303);
    assert_eq!(location.as_deref(), Some("/audit#outbox"));
    let rec = outbox.get("answer:abc:task:0").expect("get").expect("row");
    assert_eq!(rec.state, WriteState::Pending);
    assert_eq!(rec.attempts, 0);
    // A second retry of a write that is no longer dead is refused, not repeated.
    let (s, _) = post(&site, &form, &admin, true).await;
    assert_eq!(s, 409);
}

async fn post(
    site: &crate::websec::Site,
    path: &str,
    b: &crate::websec::Browser,
    with_token: bool,
) -> (u16, Option<String>) {
    let token = if with_token { b.token.as_str() } else { "" };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut r = http
        .post(format!("{}{path}", site.url))
        .header("cookie", &b.cookie)
        .header("origin", &site.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}"));
    for (k, v) in &b.headers {
        r = r.header(k, v);
    }
    let r = r.send().await.expect("post");
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (r.status().as_u16(), location)
}
