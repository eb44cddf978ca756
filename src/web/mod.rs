//! The internal web site (axum): the ask page with a thread-like history, answer permalinks
//! (HTML and PDF), the metric catalog from metrics.yaml, the skill catalog from skills/, and
//! the audit log for analysts. The asker's identity comes from a header set by the
//! company's auth proxy (`[server] user_header`), or a local default.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::render::html::{self, escape, PageOptions};
use crate::service::{Conversation, Request, Service};

#[derive(Clone)]
struct Web {
    svc: Arc<Service>,
    user_header: String,
    default_user: String,
}

pub fn routes(svc: Arc<Service>) -> Router {
    let server = svc.rt.engine.config.server.clone();
    let web = Web {
        svc,
        user_header: server.user_header,
        default_user: server.default_user,
    };
    Router::new()
        .route("/", get(ask_page))
        .route("/a/{id}", get(permalink))
        .route("/metrics", get(metrics_page))
        .route("/skills", get(skills_page))
        .route("/audit", get(audit_page))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(web)
}

impl Web {
    fn user(&self, headers: &HeaderMap) -> String {
        headers
            .get(self.user_header.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| format!("web:{v}"))
            .unwrap_or_else(|| self.default_user.clone())
    }

    fn opts(&self, user: &str) -> PageOptions {
        PageOptions {
            answer_id: None,
            nav: true,
            user: Some(user.trim_start_matches("web:").to_string()),
            generated: None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
struct AskQuery {
    q: Option<String>,
    /// The option picked from a clarifying question.
    choice: Option<String>,
}

async fn ask_page(State(w): State<Web>, headers: HeaderMap, Query(q): Query<AskQuery>) -> Response {
    let user = w.user(&headers);
    let mut body = String::new();
    let question = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut current_id = None;
    body.push_str("<h1>Ask Cortex</h1><p class=\"question\">Plain-language questions, answered from governed metric definitions.</p>");
    let answer_html = match question {
        Some(text) if text.chars().count() > 500 => Some(
            "<div class=\"card\"><div class=\"headline\">That question is too long; please keep it under 500 characters.</div></div>".to_string(),
        ),
        Some(text) => {
            // Like a DM: the person's conversation continues across questions.
            let asked = w
                .svc
                .ask(Request {
                    question: text.to_string(),
                    // "My team" works when the proxy's user id is a Slack id in people.yaml.
                    asker: Some(user.trim_start_matches("web:").to_string()),
                    requester: user.clone(),
                    conversation: Some(Conversation {
                        channel: user.clone(),
                        key: "web".into(),
                    }),
                    choice: q.choice.clone(),
                    ..Request::default()
                })
                .await;
            current_id = Some(asked.id.clone());
            Some(asked.body_html)
        }
        None => None,
    };
    body.push_str(&format!(
        "<form class=\"ask\" method=\"get\" action=\"/\"><input type=\"text\" name=\"q\" id=\"q\" autofocus maxlength=\"500\" placeholder=\"{}\" aria-label=\"Question\"><button type=\"submit\" id=\"ask\">Ask</button></form>",
        if current_id.is_some() { "Follow up, or ask something new" } else { "e.g. What's our ARR by segment?" },
    ));
    match answer_html {
        Some(a) => body.push_str(&a),
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
    if let Ok(history) = w.svc.state.recent_answers(Some(&user), 20) {
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
    Html(html::layout("Ask", "ask", &body, &w.opts(&user))).into_response()
}

async fn permalink(State(w): State<Web>, Path(id): Path<String>) -> Response {
    if let Some(id) = id.strip_suffix(".pdf") {
        return match w.svc.pdf(id).await {
            Ok(pdf) => (
                [
                    (header::CONTENT_TYPE, "application/pdf".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"cortex-{id}.pdf\""),
                    ),
                ],
                pdf,
            )
                .into_response(),
            Err(e) => not_found(&e),
        };
    }
    match w.svc.state.answer(&id) {
        Ok(Some(a)) => match a.html {
            Some(h) => Html(h).into_response(),
            None => not_found("this answer has no page"),
        },
        Ok(None) => not_found("no answer has that id"),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("state database error: {e}"),
        )
            .into_response(),
    }
}

fn not_found(msg: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(html::layout(
            "Not found",
            "",
            &format!(
                "<h1>Not found</h1><p>{}</p><p><a href=\"/\">Ask a question</a></p>",
                escape(msg)
            ),
            &PageOptions {
                nav: true,
                ..Default::default()
            },
        )),
    )
        .into_response()
}

async fn metrics_page(State(w): State<Web>, headers: HeaderMap) -> Response {
    let layer = &w.svc.rt.engine.layer;
    let mut body = format!(
        "<h1>Metric catalog</h1><p class=\"question\">{} governed metrics from metrics.yaml. Every answer computes its numbers from these definitions.</p>",
        layer.metrics.len()
    );
    for (i, m) in layer.metrics.iter().enumerate() {
        let mut dims: Vec<String> = Vec::new();
        let mut samples: Vec<String> = Vec::new();
        for model in crate::planner::metric_models(layer, i) {
            for (r, _) in layer.reachable_models(model) {
                for d in &layer.models[r].dimensions {
                    if !dims.contains(&d.name) {
                        dims.push(d.name.clone());
                        if !d.sample_values.is_empty() {
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
    let user = w.user(&headers);
    Html(html::layout("Metrics", "metrics", &body, &w.opts(&user))).into_response()
}

async fn skills_page(State(w): State<Web>, headers: HeaderMap) -> Response {
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
    let user = w.user(&headers);
    Html(html::layout("Skills", "skills", &body, &w.opts(&user))).into_response()
}

async fn audit_page(State(w): State<Web>, headers: HeaderMap) -> Response {
    let user = w.user(&headers);
    let mut body = String::from("<h1>Audit log</h1><p class=\"question\">Every answer and every warehouse query, newest first.</p>");
    if let Ok(answers) = w.svc.state.recent_answers(None, 100) {
        body.push_str("<h2>Answers</h2><div class=\"card scroll\"><table class=\"data\"><thead><tr><th>When</th><th>Asker</th><th>Question</th><th>Skill</th><th>Status</th><th class=\"num\">Helpful</th><th class=\"num\">Not helpful</th></tr></thead><tbody>");
        for a in answers {
            body.push_str(&format!(
                "<tr><td data-sort=\"{t}\">{t}</td><td data-sort=\"{r}\">{r}</td><td data-sort=\"{q}\"><a href=\"/a/{id}\">{q}</a></td><td data-sort=\"{s}\">{s}</td><td data-sort=\"{st}\">{st}</td><td class=\"num\" data-sort=\"{h}\">{h}</td><td class=\"num\" data-sort=\"{n}\">{n}</td></tr>",
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
                    "<tr><td data-sort=\"{r}\">{r}</td><td data-sort=\"{q}\">{q}</td><td data-sort=\"{s}\">{s}</td><td class=\"num\" data-sort=\"{n}\">{n}</td><td class=\"num\" data-sort=\"{d}\">{d:.1}</td><td><details><summary>SQL</summary><pre class=\"sql\">{sql}</pre></details></td></tr>",
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
    Html(html::layout("Audit log", "audit", &body, &w.opts(&user))).into_response()
}
