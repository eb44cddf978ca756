//! The internal web site (axum): the ask page with a thread-like history, answer permalinks
//! (HTML and PDF), the metric catalog from metrics.yaml, the skill catalog from skills/, and
//! the audit log for analysts.
//!
//! Safe to expose (see [`security`]): asking is a POST from this site's own pages (Origin
//! check and a CSRF token bound to the browser session), every response carries a strict
//! Content-Security-Policy (scripts only with the response's nonce), `X-Frame-Options`,
//! `X-Content-Type-Options` and `Referrer-Policy`, and error pages say nothing about the
//! server. The asker's identity comes from the auth proxy's header (`[server] user_header`)
//! only when the request comes from a trusted proxy or the header is signed; otherwise the
//! request is the anonymous default identity.

pub mod security;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request as HttpRequest, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use tracing::{error, info, warn};

use crate::outbox::WriteState;
use crate::render::html::{self, escape, PageOptions};
use crate::service::{Conversation, Request, Service};
use security::{Csrf, Identity, IdentityPolicy, CSRF_FIELD, CSRF_PLACEHOLDER};

#[derive(Clone)]
struct Web {
    svc: Arc<Service>,
    identity: IdentityPolicy,
    csrf: Csrf,
    public_url: Option<String>,
}

/// Who is asking, and from which browser session (set for every request by a middleware).
#[derive(Debug, Clone)]
struct Visitor {
    identity: Identity,
    session: String,
}

/// The web site's routes, with the security middleware. Fails when `[server]
/// trusted_proxies` has an entry that is not an IP or CIDR.
pub fn routes(svc: Arc<Service>) -> anyhow::Result<Router> {
    let server = svc.rt.engine.config.server.clone();
    let web = Web {
        identity: IdentityPolicy::new(&server)?,
        svc,
        csrf: Csrf::default(),
        public_url: server.public_url.clone(),
    };
    Ok(Router::new()
        .route("/", get(ask_page).post(ask_post))
        .route("/a/{id}", get(permalink))
        .route("/a/{id}/tasks/{index}", post(file_task))
        .route("/a/{id}/notion", post(publish_notion))
        .route("/metrics", get(metrics_page))
        .route("/skills", get(skills_page))
        .route("/audit", get(audit_page))
        .route("/audit/outbox/{id}/retry", post(outbox_retry))
        .route("/healthz", get(healthz))
        .route("/healthz/cache", get(cache_stats))
        .fallback(|| async { not_found("There is no page at this address.") })
        .layer(middleware::from_fn_with_state(web.clone(), visitor))
        .with_state(web))
}

/// Headers every response carries, for routes outside the web site (the Slack endpoints).
pub async fn security_headers(req: HttpRequest, next: Next) -> Response {
    let mut res = next.run(req).await;
    security::add_headers(res.headers_mut());
    res
}

/// Identifies the visitor, gives a new browser a session cookie, and adds the security
/// headers to the response.
async fn visitor(State(w): State<Web>, mut req: HttpRequest, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let identity = w
        .identity
        .identify(peer, req.headers(), chrono::Utc::now().timestamp());
    let existing = security::cookie(req.headers(), security::SESSION_COOKIE);
    let session = existing.clone().unwrap_or_else(security::random_token);
    req.extensions_mut().insert(Visitor {
        identity,
        session: session.clone(),
    });
    let mut res = next.run(req).await;
    if existing.is_none() {
        let secure = w
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        if let Ok(v) = HeaderValue::from_str(&security::session_cookie(&session, secure)) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    security::add_headers(res.headers_mut());
    res
}

impl Web {
    /// May this visitor see a stored answer (context/policy.yaml)?
    fn may_view(&self, v: &Visitor, a: &crate::state::StoredAnswer) -> bool {
        self.svc.rt.engine.governance.may_view(
            &v.identity.requester(),
            &a.requester,
            &a.metric_names(),
        )
    }

    /// The form of an action on an answer (file a task, publish), or the refusal: it must
    /// come from this site with the session's CSRF token, and the visitor must be allowed
    /// to see the answer.
    fn answer_form(
        &self,
        v: &Visitor,
        id: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<TaskForm, Box<Response>> {
        if !security::same_origin(headers, self.public_url.as_deref()) {
            return Err(Box::new(refused(
                StatusCode::FORBIDDEN,
                "This form was sent from another site, so it was not run.",
            )));
        }
        let form = serde_urlencoded::from_bytes::<TaskForm>(body).unwrap_or_default();
        if !self.csrf.verify(
            &v.identity,
            &v.session,
            form.csrf.as_deref().unwrap_or_default(),
        ) {
            return Err(Box::new(refused(
                StatusCode::FORBIDDEN,
                "This form has expired. Reload the page and try again.",
            )));
        }
        match self.svc.state.answer(id) {
            Ok(Some(stored)) if self.may_view(v, &stored) => Ok(form),
            _ => Err(Box::new(not_found("no answer has that id"))),
        }
    }

    fn opts(&self, v: &Visitor, nonce: &str) -> PageOptions {
        PageOptions {
            answer_id: None,
            nav: true,
            user: Some(v.identity.display().to_string()),
            generated: None,
            nonce: Some(nonce.to_string()),
        }
    }

    /// A page in the site layout, its scripts allowed by a fresh nonce.
    fn page(&self, title: &str, section: &str, body: &str, v: &Visitor) -> Response {
        let nonce = security::random_token();
        let page = html::layout(title, section, body, &self.opts(v, &nonce));
        with_nonce(self.fill_csrf(&page, v), &nonce)
    }

    /// Fills the viewer's CSRF token into the forms of a (possibly stored) page.
    fn fill_csrf(&self, page: &str, v: &Visitor) -> String {
        page.replace(CSRF_PLACEHOLDER, &self.csrf.token(&v.identity, &v.session))
    }

    /// The person behind the identity in context/people.yaml (by email or Slack id), for
    /// "my team" questions.
    fn asker(&self, v: &Visitor) -> Option<String> {
        // The default user (no trusted identity) is a person only when `[server]
        // default_user` names one, as in a local demo; the policy reads it the same way.
        let (Identity::User(value) | Identity::Anonymous(value)) = &v.identity;
        let ctx = &self.svc.rt.context;
        ctx.person_by_email(value)
            .or_else(|| ctx.person(value))
            .map(|p| p.slack_id.clone())
    }
}

/// An HTML response whose scripts run only with `nonce`.
fn with_nonce(page: String, nonce: &str) -> Response {
    let mut res = Html(page).into_response();
    if let Ok(v) = HeaderValue::from_str(&security::csp(Some(nonce))) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

#[derive(Debug, Deserialize, Default)]
struct AskQuery {
    /// Prefills the question box (links from examples); asking needs the form's POST.
    q: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct AskForm {
    #[serde(default)]
    q: String,
    /// The option picked from a clarifying question.
    choice: Option<String>,
    csrf: Option<String>,
}

async fn ask_page(
    State(w): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<AskQuery>,
) -> Response {
    let prefill = q.q.as_deref().map(str::trim).unwrap_or_default();
    let prefill: String = prefill
        .chars()
        .take(w.svc.rt.engine.config.ask.max_question_chars)
        .collect();
    w.page("Ask", "ask", &ask_body(&w, &v, &prefill, None), &v)
}

async fn ask_post(
    State(w): State<Web>,
    Extension(v): Extension<Visitor>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !security::same_origin(&headers, w.public_url.as_deref()) {
        warn!("refused a cross-site ask (Origin/Referer not this site)");
        return refused(
            StatusCode::FORBIDDEN,
            "This form was sent from another site, so it was not run. Open Cortex and ask there.",
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<AskForm>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "That form could not be read.");
    };
    let token = form.csrf.as_deref().unwrap_or_default();
    if !w.csrf.verify(&v.identity, &v.session, token) {
        warn!("refused an ask with a missing or stale CSRF token");
        return refused(
            StatusCode::FORBIDDEN,
            "This form has expired. Reload the page and ask again.",
        );
    }
    let question = form.q.trim();
    if question.is_empty() {
        return w.page("Ask", "ask", &ask_body(&w, &v, "", None), &v);
    }
    // Like a DM: the person's conversation continues across questions in this browser.
    let asked = w
        .svc
        .ask(Request {
            question: question.to_string(),
            asker: w.asker(&v),
            requester: v.identity.requester(),
            conversation: Some(Conversation {
                channel: v.identity.requester(),
                key: format!("web:{}", &v.session[..v.session.len().min(16)]),
            }),
            choice: form.choice.filter(|c| !c.trim().is_empty()),
            ..Request::default()
        })
        .await;
    let body = ask_body(&w, &v, "", Some((&asked.id, &asked.body_html)));
    let page = html::layout("Ask", "ask", &body, &w.opts(&v, &asked.nonce));
    with_nonce(w.fill_csrf(&page, &v), &asked.nonce)
}

/// The ask page: the form, the answer (if one was just asked) or examples, and history.
fn ask_body(w: &Web, v: &Visitor, prefill: &str, answer: Option<(&str, &str)>) -> String {
    let mut body = String::from("<h1>Ask Cortex</h1><p class=\"question\">Plain-language questions, answered from governed metric definitions.</p>");
    body.push_str(&format!(
        "<form class=\"ask\" method=\"post\" action=\"/\"><input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{CSRF_PLACEHOLDER}\"><input type=\"text\" name=\"q\" id=\"q\" autofocus maxlength=\"{max}\" value=\"{value}\" placeholder=\"{ph}\" aria-label=\"Question\"><button type=\"submit\" id=\"ask\">Ask</button><span class=\"busy\" role=\"status\">Working on it…</span></form>",
        max = w.svc.rt.engine.config.ask.max_question_chars,
        value = escape(prefill),
        ph = if answer.is_some() { "Follow up, or ask something new" } else { "e.g. What's our ARR by segment?" },
    ));
    let current_id = answer.map(|(id, _)| id.to_string());
    match answer {
        Some((id, a)) => body.push_str(&format!(
            "<div class=\"answer\" data-answer-id=\"{}\">{a}</div>",
            escape(id)
        )),
        None => {
            body.push_str("<div class=\"chips\">");
            for s in w
                .svc
                .rt
                .skills
                .skills
                .iter()
                .filter_map(|s| s.examples.first())
            {
                body.push_str(&format!(
                    "<a class=\"chip\" href=\"/?q={}\">{}</a>",
                    html::urlencode(s),
                    escape(s)
                ));
            }
            body.push_str("</div>");
        }
    }
    // Thread-like history: this person's earlier questions.
    if let Ok(history) = w
        .svc
        .state
        .recent_answers(Some(&v.identity.requester()), 20)
    {
        let items: Vec<String> = history
            .iter()
            .filter(|h| Some(&h.id) != current_id.as_ref())
            .map(|h| {
                format!(
                    "<div class=\"item\"><a href=\"/a/{}\">{}</a> <span class=\"muted\">· {} · {}</span></div>",
                    escape(&h.id),
                    escape(&h.question),
                    escape(&h.skill),
                    escape(&h.created_at)
                )
            })
            .collect();
        if !items.is_empty() {
            body.push_str(&format!(
                "<section class=\"history\"><h2>Your earlier questions</h2>{}</section>",
                items.join("")
            ));
        }
    }
    body
}

async fn permalink(
    State(w): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(id): Path<String>,
) -> Response {
    let bare = id.strip_suffix(".pdf").unwrap_or(&id);
    // The access policy is checked on every view: the asker, an admin, or someone with the
    // same access. Others get the same "not found" as for an unknown id (no existence oracle).
    match w.svc.state.answer(bare) {
        Ok(Some(stored)) if !w.may_view(&v, &stored) => {
            return not_found("no answer has that id");
        }
        _ => {}
    }
    if let Some(id) = id.strip_suffix(".pdf") {
        return match w.svc.pdf(id).await {
            Ok((name, pdf)) => pdf_response(&name, pdf),
            Err(e) => not_found(&e),
        };
    }
    match w.svc.state.answer(&id) {
        Ok(Some(a)) => match (
            a.html
                .as_deref()
                .map(|h| with_publish(&w, &a, &with_tasks(&w, &a, h))),
            a.nonce,
        ) {
            (Some(h), Some(nonce)) => with_nonce(w.fill_csrf(&h, &v), &nonce),
            // Pages stored before nonces: served with no scripts allowed.
            (Some(h), None) => Html(w.fill_csrf(&h, &v)).into_response(),
            (None, _) => not_found("this answer has no page"),
        },
        Ok(None) => not_found("no answer has that id"),
        Err(e) => {
            error!(error = %e, "state database error reading a permalink");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The answer could not be read just now. The error is logged; please try again.",
            )
        }
    }
}

/// The stored page with "Publish to Notion" (when Notion publishing is configured): the
/// page's link once published, else the form.
fn with_publish(w: &Web, stored: &crate::state::StoredAnswer, page: &str) -> String {
    use crate::actions::publish;
    if !publish::configured(&w.svc) || stored.status != "answered" {
        return page.to_string();
    }
    let state = publish::status(&w.svc, &stored.id).ok().flatten();
    let mut out =
        String::from("<section class=\"card publish noprint\" id=\"notion\"><h2>Notion</h2>");
    out.push_str(&publish_state_html(state.as_ref()));
    if !matches!(
        state,
        Some(publish::Published::Done { .. } | publish::Published::Queued)
    ) {
        out.push_str(&format!(
            "<form class=\"publish-notion\" method=\"post\" action=\"/a/{id}/notion\"><input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{CSRF_PLACEHOLDER}\"><button type=\"submit\">Publish to Notion</button></form>",
            id = escape(&stored.id),
        ));
    }
    out.push_str("</section>");
    before_footer(page, &out)
}

/// The stored page with `card` added before its footer (cards added when served).
fn before_footer(page: &str, card: &str) -> String {
    match page.rfind("<footer class=\"page\">") {
        Some(at) => format!("{}{card}{}", &page[..at], &page[at..]),
        None => format!("{page}{card}"),
    }
}

fn publish_state_html(state: Option<&crate::actions::publish::Published>) -> String {
    use crate::actions::publish::Published;
    match state {
        Some(Published::Done { url }) => format!(
            "<p class=\"filed\">Published: <a href=\"{u}\">{u}</a></p>",
            u = escape(url)
        ),
        Some(Published::Queued) => "<p class=\"queued\">Queued: Notion has not confirmed the page yet; it will be created once, as soon as Notion answers.</p>".into(),
        Some(Published::Failed(e)) => format!("<p class=\"failed\">Publishing failed: {}</p>", escape(e)),
        None => String::new(),
    }
}

/// Publishes an answer to Notion (same-origin with a CSRF token, by someone who may see it).
async fn publish_notion(
    State(w): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = w.answer_form(&v, &id, &headers, &body) {
        return *refusal;
    }
    match crate::actions::publish::publish(&w.svc, &id, FILE_WAIT).await {
        Ok(state) => {
            info!(answer = %id, requester = %v.identity.requester(), "answer published to Notion from the web");
            let body = format!(
                "<h1>Publish to Notion</h1>{}<p><a href=\"/a/{}#notion\">Back to the answer</a></p>",
                publish_state_html(Some(&state)),
                escape(&id)
            );
            w.page("Publish to Notion", "ask", &body, &v)
        }
        Err(e) => refused(StatusCode::CONFLICT, &w.svc.outbox.redact(&e.to_string())),
    }
}

/// The stored page with its proposed tasks: each one's Linear issue when filed, else a
/// "File Linear task" form (added when served, so it shows where each filing stands).
fn with_tasks(w: &Web, stored: &crate::state::StoredAnswer, page: &str) -> String {
    let Ok(answer) = serde_json::from_str::<crate::answer::Answer>(&stored.answer_json) else {
        return page.to_string();
    };
    let linear = w.svc.rt.engine.config.linear.as_ref();
    // Without Linear only the skill's own proposals are shown (no form on every page).
    let tasks = match linear {
        Some(_) => answer.proposed_tasks(),
        None => answer.tasks.clone(),
    };
    if tasks.is_empty() {
        return page.to_string();
    }
    let mut out = String::from("<section class=\"card tasks noprint\" id=\"tasks\"><h2>Tasks</h2>");
    for (i, t) in tasks.iter().enumerate() {
        let state = crate::actions::task::status(&w.svc, &stored.id, i)
            .ok()
            .flatten();
        out.push_str(&format!("<div class=\"task\"><p>{}</p>", escape(&t.note)));
        out.push_str(&task_state_html(state.as_ref()));
        match (linear, state) {
            (
                _,
                Some(
                    crate::actions::task::Filed::Done { .. } | crate::actions::task::Filed::Queued,
                ),
            ) => {}
            (None, _) => out.push_str(
                "<p class=\"muted\">Filing Linear tasks isn't set up on this Cortex yet.</p>",
            ),
            (Some(cfg), _) => {
                let team = crate::actions::task::draft(&w.svc, &stored.id, i)
                    .map(|d| d.team_key)
                    .unwrap_or_else(|_| cfg.default_team.clone());
                let teams = cfg.team_keys();
                let options: String = teams
                    .iter()
                    .map(|k| {
                        format!(
                            "<option value=\"{k}\"{sel}>{k}</option>",
                            k = escape(k),
                            sel = if *k == team { " selected" } else { "" }
                        )
                    })
                    .collect();
                let prios: String = [(1, "Urgent"), (2, "High"), (3, "Medium"), (4, "Low")]
                    .iter()
                    .map(|(n, l)| {
                        format!(
                            "<option value=\"{n}\"{sel}>{l}</option>",
                            sel = if *n == t.priority { " selected" } else { "" }
                        )
                    })
                    .collect();
                out.push_str(&format!(
                    "<form class=\"file-task\" method=\"post\" action=\"/a/{id}/tasks/{i}\"><input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{CSRF_PLACEHOLDER}\"><input type=\"text\" name=\"title\" maxlength=\"250\" value=\"{title}\" aria-label=\"Title\"> <select name=\"team\" aria-label=\"Team\">{options}</select> <select name=\"priority\" aria-label=\"Priority\">{prios}</select> <button type=\"submit\">File Linear task</button></form>",
                    id = escape(&stored.id),
                    title = escape(&t.title),
                ));
            }
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
    before_footer(page, &out)
}

/// One line on where a task's filing stands.
fn task_state_html(state: Option<&crate::actions::task::Filed>) -> String {
    use crate::actions::task::Filed;
    match state {
        Some(Filed::Done { identifier, url, title }) => format!(
            "<p class=\"filed\">Filed <a href=\"{u}\">{i}</a> {t}</p>",
            u = escape(url),
            i = escape(identifier),
            t = escape(title)
        ),
        Some(Filed::Queued) => "<p class=\"queued\">Queued: Linear has not confirmed the issue yet; it will be filed once, as soon as Linear answers.</p>".into(),
        Some(Filed::Failed(e)) => format!("<p class=\"failed\">Filing failed: {}</p>", escape(e)),
        None => String::new(),
    }
}

#[derive(Debug, Deserialize, Default)]
struct TaskForm {
    csrf: Option<String>,
    title: Option<String>,
    team: Option<String>,
    priority: Option<u8>,
}

/// Files a proposed task (same-origin with a CSRF token, by someone who may see the
/// answer); shows the issue, or that it is queued.
async fn file_task(
    State(w): State<Web>,
    Extension(v): Extension<Visitor>,
    Path((id, index)): Path<(String, usize)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match w.answer_form(&v, &id, &headers, &body) {
        Ok(f) => f,
        Err(refusal) => return *refusal,
    };
    let mut draft = match crate::actions::task::draft(&w.svc, &id, index) {
        Ok(d) => d,
        Err(e @ crate::actions::task::TaskError::NoSuchTask) => return not_found(&e.to_string()),
        Err(e) => return refused(StatusCode::CONFLICT, &e.to_string()),
    };
    if let Some(t) = form
        .title
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        draft.title = t.chars().take(250).collect();
    }
    if let (Some(team), Some(cfg)) = (form.team, w.svc.rt.engine.config.linear.as_ref()) {
        // Only a configured team key is accepted.
        if cfg.team_keys().contains(&team) {
            draft.team_key = team;
        }
    }
    if let Some(p) = form.priority.filter(|p| (1..=4).contains(p)) {
        draft.priority = p;
    }
    let filed = crate::actions::task::file(&w.svc, &id, index, &draft, FILE_WAIT).await;
    let body = match filed {
        Ok(state) => {
            info!(answer = %id, index, requester = %v.identity.requester(), "Linear task filed from the web");
            format!(
                "<h1>Linear task</h1><p class=\"question\">{}</p>{}<p><a href=\"/a/{}#tasks\">Back to the answer</a></p>",
                escape(&draft.title),
                task_state_html(Some(&state)),
                escape(&id)
            )
        }
        Err(e) => return refused(StatusCode::CONFLICT, &w.svc.outbox.redact(&e.to_string())),
    };
    w.page("Linear task", "ask", &body, &v)
}

/// How long filing from the web waits for Linear before saying "queued".
const FILE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How long the health check waits for the warehouse.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs a trivial query on the warehouse (one row of a declared table): 200 `ok`, or 503
/// when it cannot answer.
async fn healthz(State(w): State<Web>) -> Response {
    let svc = Arc::clone(&w.svc);
    let check = tokio::task::spawn_blocking(move || {
        let ctx = crate::warehouse::AuditContext {
            requester: "cortex".into(),
            question: "health check".into(),
            query_json: None,
        };
        // The file must still be a DuckDB database (not deleted, truncated or replaced)...
        let path = svc.rt.engine.warehouse.path();
        let mut head = [0u8; 12];
        let readable = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok();
        if !readable || &head[8..12] != b"DUCK" {
            return Err(crate::warehouse::WarehouseError::Query(
                "the warehouse file is missing or not a DuckDB database".into(),
            ));
        }
        // ...and the connection must answer: one row of a declared table.
        let table = svc.rt.engine.layer.tables().into_iter().next();
        let sql = match table {
            Some(t) => format!("SELECT 1 AS ok FROM {t} LIMIT 1"),
            None => "SELECT 1 AS ok".to_string(),
        };
        svc.rt.engine.warehouse.query_fresh(&sql, &ctx)
    });
    let check = match tokio::time::timeout(HEALTH_TIMEOUT, check).await {
        Ok(c) => c,
        Err(_) => {
            error!("health check: the warehouse did not answer in time");
            return (StatusCode::SERVICE_UNAVAILABLE, "warehouse unavailable").into_response();
        }
    };
    match check {
        Ok(Ok(r)) if r.rows.len() <= 1 => (StatusCode::OK, "ok").into_response(),
        Ok(Ok(_)) => (StatusCode::SERVICE_UNAVAILABLE, "warehouse unavailable").into_response(),
        Ok(Err(e)) => {
            error!(error = %e, "health check: the warehouse query failed");
            (StatusCode::SERVICE_UNAVAILABLE, "warehouse unavailable").into_response()
        }
        Err(e) => {
            error!(error = %e, "health check panicked");
            (StatusCode::SERVICE_UNAVAILABLE, "warehouse unavailable").into_response()
        }
    }
}

/// The result cache's counters as JSON (hits, misses, coalesced, bypassed, entries): numbers
/// only, no query or result.
async fn cache_stats(State(w): State<Web>) -> Response {
    axum::Json(w.svc.rt.engine.warehouse.cache_stats()).into_response()
}

/// An error page with a status: the message only, never server details.
fn refused(status: StatusCode, msg: &str) -> Response {
    message_page(status, "Sorry", msg)
}

/// An answer's PDF, shown inline under its file name (the web page and the API).
pub fn pdf_response(name: &str, pdf: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        pdf,
    )
        .into_response()
}

fn not_found(msg: &str) -> Response {
    message_page(StatusCode::NOT_FOUND, "Not found", msg)
}

fn message_page(status: StatusCode, title: &str, msg: &str) -> Response {
    let nonce = security::random_token();
    let page = html::layout(
        title,
        "",
        &format!(
            "<h1>{}</h1><p>{}</p><p><a href=\"/\">Ask a question</a></p>",
            escape(title),
            escape(msg)
        ),
        &PageOptions {
            nav: true,
            nonce: Some(nonce.clone()),
            ..Default::default()
        },
    );
    let mut res = with_nonce(page, &nonce);
    *res.status_mut() = status;
    res
}

async fn metrics_page(State(w): State<Web>, Extension(v): Extension<Visitor>) -> Response {
    let layer = &w.svc.rt.engine.layer;
    // The catalog shows what this visitor may ask about: no restricted metric or dimension,
    // and no sample values of a dimension their rows are filtered on.
    let access = w.svc.rt.engine.governance.access(&v.identity.requester());
    if access.denied {
        let body = "<h1>Metric catalog</h1><p class=\"question\">Your identity is not known to Cortex, so the catalog is not shown.</p>";
        return w.page("Metrics", "metrics", body, &v);
    }
    let visible: Vec<usize> = (0..layer.metrics.len())
        .filter(|&i| !access.denied_metrics.contains(&layer.metrics[i].name))
        .collect();
    let mut body = format!(
        "<h1>Metric catalog</h1><p class=\"question\">{} governed metrics from metrics.yaml. Every answer computes its numbers from these definitions.</p>",
        visible.len()
    );
    for i in visible {
        let m = &layer.metrics[i];
        let mut dims: Vec<String> = Vec::new();
        let mut samples: Vec<String> = Vec::new();
        for model in crate::planner::metric_models(layer, i) {
            for (r, _) in layer.reachable_models(model) {
                for d in &layer.models[r].dimensions {
                    if access.denied_dimensions.contains(&d.name) {
                        continue;
                    }
                    if !dims.contains(&d.name) {
                        dims.push(d.name.clone());
                        let row_scoped = access.rows.iter().any(|(x, _)| x == &d.name);
                        if !d.sample_values.is_empty() && !row_scoped {
                            samples.push(format!(
                                "<b>{}</b>: {}",
                                escape(&d.name),
                                escape(&d.sample_values.join(", "))
                            ));
                        }
                    }
                }
            }
        }
        body.push_str(&format!(
            "<section class=\"card\" id=\"{name}\"><h2 style=\"margin-top:0\">{label} <span class=\"muted\">({name})</span></h2><p>{desc}</p>\
             <p class=\"provenance\">Owner: {owner} · Unit: {unit:?}{syn}</p>\
             <p class=\"provenance\">Dimensions: {dims}</p>{samples}</section>",
            name = escape(&m.name),
            label = escape(&m.label),
            desc = escape(&m.description),
            owner = escape(&m.owner),
            unit = m.unit,
            syn = if m.synonyms.is_empty() {
                String::new()
            } else {
                format!(" · Also called: {}", escape(&m.synonyms.join(", ")))
            },
            dims = escape(&dims.join(", ")),
            samples = if samples.is_empty() {
                String::new()
            } else {
                format!("<details><summary>Sample values</summary><p class=\"provenance\">{}</p></details>", samples.join("<br>"))
            },
        ));
    }
    w.page("Metrics", "metrics", &body, &v)
}

async fn skills_page(State(w): State<Web>, Extension(v): Extension<Visitor>) -> Response {
    let mut body = String::from("<h1>Skills</h1><p class=\"question\">What Cortex can do, from skills/. Analysts add skills as files (YAML plus templates).</p>");
    for s in &w.svc.rt.skills.skills {
        let examples: Vec<String> = s
            .examples
            .iter()
            .map(|e| {
                format!(
                    "<a class=\"chip\" href=\"/?q={}\">{}</a>",
                    html::urlencode(e),
                    escape(e)
                )
            })
            .collect();
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| {
                format!(
                    "{}{}",
                    escape(&p.name),
                    if p.required { " (required)" } else { "" }
                )
            })
            .collect();
        body.push_str(&format!(
            "<section class=\"card\" id=\"{n}\"><h2 style=\"margin-top:0\">{n}</h2><p>{d}</p><p class=\"provenance\">Parameters: {p} · Outputs: text, Slack{h}{pdf}</p><div class=\"chips\">{e}</div></section>",
            n = escape(&s.name),
            d = escape(&s.description),
            p = if params.is_empty() { "none".into() } else { params.join(", ") },
            h = if s.html_template.is_some() { ", custom web page" } else { ", web page" },
            pdf = if s.pdf_template.is_some() { ", custom PDF report" } else { ", PDF report" },
            e = examples.join(""),
        ));
    }
    w.page("Skills", "skills", &body, &v)
}

async fn audit_page(State(w): State<Web>, Extension(v): Extension<Visitor>) -> Response {
    if !w
        .svc
        .rt
        .engine
        .governance
        .may_audit(&v.identity.requester())
    {
        return refused(
            StatusCode::FORBIDDEN,
            "The audit log shows everyone's questions, so it is for admins (context/policy.yaml).",
        );
    }
    let mut body = String::from("<h1>Audit log</h1><p class=\"question\">Every answer and every warehouse query, newest first.</p>");
    if let Ok(answers) = w.svc.state.recent_answers(None, 100) {
        body.push_str("<h2>Answers</h2><div class=\"card scroll\"><table class=\"data\"><thead><tr><th>When</th><th>Asker</th><th>Question</th><th>Skill</th><th>Status</th><th class=\"num\">Helpful</th><th class=\"num\">Not helpful</th></tr></thead><tbody>");
        for a in answers {
            body.push_str(&format!(
                "<tr><td data-sort=\"{t}\">{t}</td><td data-sort=\"{r}\">{r}</td><td class=\"wrap\" data-sort=\"{q}\"><a href=\"/a/{id}\">{q}</a></td><td data-sort=\"{s}\">{s}</td><td data-sort=\"{st}\">{st}</td><td class=\"num\" data-sort=\"{h}\">{h}</td><td class=\"num\" data-sort=\"{n}\">{n}</td></tr>",
                t = escape(&a.created_at),
                r = escape(&a.requester),
                q = escape(&a.question),
                id = escape(&a.id),
                s = escape(&a.skill),
                st = escape(&a.status),
                h = a.feedback.0,
                n = a.feedback.1,
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    if let Some(log) = w.svc.rt.engine.warehouse.audit_log() {
        if let Ok(entries) = log.recent(200) {
            body.push_str("<h2>Warehouse queries</h2><div class=\"card scroll\"><table class=\"data\"><thead><tr><th>Requester</th><th>Question</th><th>Status</th><th class=\"num\">Rows</th><th class=\"num\">ms</th><th>SQL</th></tr></thead><tbody>");
            for e in entries {
                body.push_str(&format!(
                    "<tr><td data-sort=\"{r}\">{r}</td><td class=\"wrap\" data-sort=\"{q}\">{q}</td><td data-sort=\"{s}\">{s}</td><td class=\"num\" data-sort=\"{n}\">{n}</td><td class=\"num\" data-sort=\"{d}\">{d:.1}</td><td class=\"wrap sql\"><details><summary>SQL</summary><pre class=\"sql\">{sql}</pre></details></td></tr>",
                    r = escape(&e.requester),
                    q = escape(&e.question),
                    s = escape(&e.status),
                    n = e.row_count,
                    d = e.duration_ms,
                    sql = escape(&e.sql),
                ));
            }
            body.push_str("</tbody></table></div>");
        }
    }
    body.push_str(&outbox_section(&w));
    w.page("Audit log", "audit", &body, &v)
}

/// The outbox on the audit page: external writes, dead letters first, each with its last
/// error (secrets already redacted) and, for a dead letter, a retry button.
fn outbox_section(w: &Web) -> String {
    let Ok(writes) = w.svc.outbox.list(200) else {
        return String::new();
    };
    let (queued, done, dead) = w.svc.outbox.counts().unwrap_or_default();
    let mut body = format!(
        "<h2 id=\"outbox\">External writes</h2><p class=\"question\">Linear issues, Notion pages and Slack posts, delivered through the outbox: {queued} queued, {done} delivered, {dead} failed.</p>"
    );
    if writes.is_empty() {
        return body;
    }
    body.push_str("<div class=\"card scroll\"><table class=\"data\"><thead><tr><th>Queued</th><th>Kind</th><th>Key</th><th>State</th><th class=\"num\">Attempts</th><th>Last error</th><th>Result</th><th></th></tr></thead><tbody>");
    for r in writes {
        let state = match r.state {
            WriteState::Pending => "queued",
            WriteState::InFlight => "sending",
            WriteState::Done => "delivered",
            WriteState::Dead => "failed",
        };
        let action = if r.state == WriteState::Dead {
            format!(
                "<form method=\"post\" action=\"/audit/outbox/{id}/retry\"><input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{CSRF_PLACEHOLDER}\"><button type=\"submit\">Retry</button></form>",
                id = r.id
            )
        } else {
            String::new()
        };
        let result = r
            .result
            .as_ref()
            .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_string))
            .map(|u| format!("<a href=\"{u}\">{u}</a>", u = escape(&u)))
            .unwrap_or_default();
        body.push_str(&format!(
            "<tr class=\"outbox-{state}\"><td>{t}</td><td>{k}</td><td class=\"wrap\">{key}</td><td>{state}</td><td class=\"num\">{n}</td><td class=\"wrap\">{e}</td><td class=\"wrap\">{result}</td><td>{action}</td></tr>",
            t = escape(&r.created_at),
            k = escape(&r.kind),
            key = escape(&r.key),
            n = r.attempts,
            e = escape(r.last_error.as_deref().unwrap_or("")),
        ));
    }
    body.push_str("</tbody></table></div>");
    body
}

/// Retries a dead letter (admins only, same-origin with a CSRF token).
async fn outbox_retry(
    State(w): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !w
        .svc
        .rt
        .engine
        .governance
        .may_audit(&v.identity.requester())
    {
        return refused(
            StatusCode::FORBIDDEN,
            "Retrying external writes is for admins (context/policy.yaml).",
        );
    }
    if !security::same_origin(&headers, w.public_url.as_deref()) {
        return refused(
            StatusCode::FORBIDDEN,
            "This form was sent from another site, so it was not run.",
        );
    }
    let form: std::collections::HashMap<String, String> =
        serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let token = form.get(CSRF_FIELD).map(String::as_str).unwrap_or_default();
    if !w.csrf.verify(&v.identity, &v.session, token) {
        return refused(
            StatusCode::FORBIDDEN,
            "This form has expired. Reload the page and try again.",
        );
    }
    match w.svc.outbox.retry(id) {
        Ok(true) => {
            info!(id, requester = %v.identity.requester(), "dead letter retried from the audit page");
            Redirect::to("/audit#outbox").into_response()
        }
        Ok(false) => refused(
            StatusCode::CONFLICT,
            "That write is not a failed one (it may have been retried already).",
        ),
        Err(e) => {
            warn!(error = %w.svc.outbox.redact(&e.to_string()), "outbox retry failed");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The retry could not be recorded; try again.",
            )
        }
    }
}
