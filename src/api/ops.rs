//! What the API and the MCP server can do, once: each operation takes the caller (a person,
//! through a token, the sign-in proxy or the MCP configuration) and goes through the same
//! engine paths as the web site and Slack, so the access policy and the audit log apply.

use std::sync::Arc;

use axum::http::StatusCode;
use tracing::{error, info};

use super::types::*;
use crate::answer::{Answer, Status};
use crate::policy::PolicyError;
use crate::semantic::MetricQuery;
use crate::service::{Conversation, Request, Service};

/// Who is calling: the person the policy and the audit log see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The audit log's requester (`web:<email>`: the same person as on the web site).
    pub requester: String,
    /// Who the token or header names (an email or Slack id from context/people.yaml).
    pub user: String,
    /// The token's id, when a token was used.
    pub token_id: Option<i64>,
    /// Where permalinks point (`[server] public_url`, or the address the caller used).
    pub base_url: String,
}

impl Caller {
    /// A person by email or Slack id, with links under `base_url`.
    pub fn person(user: &str, token_id: Option<i64>, base_url: &str) -> Caller {
        Caller {
            requester: format!("web:{user}"),
            user: user.to_string(),
            token_id,
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// The rate limiter's key: the token, or the person.
    pub fn limit_key(&self) -> String {
        match self.token_id {
            Some(id) => format!("token:{id}"),
            None => format!("user:{}", self.user),
        }
    }

    fn permalink(&self, id: &str) -> String {
        format!("{}/a/{id}", self.base_url)
    }
}

/// An error with an HTTP status and a stable code (the API's JSON error, the MCP tool's
/// error result).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorResponse {
        ErrorResponse {
            error: ErrorBody {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> ApiError {
        let code = match e {
            PolicyError::UnknownIdentity => "unknown_identity",
            PolicyError::Metric(_) => "metric_forbidden",
            PolicyError::Dimension(_) => "dimension_forbidden",
            PolicyError::NoRows(_) => "rows_forbidden",
        };
        ApiError::new(StatusCode::FORBIDDEN, code, e.to_string())
    }
}

/// The caller's access, refused outright for an identity the policy does not know.
fn access(svc: &Service, caller: &Caller) -> Result<crate::policy::Access, ApiError> {
    let a = svc.rt.engine.governance.access(&caller.requester);
    if a.denied {
        return Err(PolicyError::UnknownIdentity.into());
    }
    Ok(a)
}

/// The caller's Slack id in context/people.yaml (for "my team"), as the web site reads it.
fn asker(svc: &Service, caller: &Caller) -> Option<String> {
    let ctx = &svc.rt.context;
    ctx.person_by_email(&caller.user)
        .or_else(|| ctx.person(&caller.user))
        .map(|p| p.slack_id.clone())
}

/// The metrics the caller may use.
pub fn list_metrics(svc: &Service, caller: &Caller) -> Result<MetricList, ApiError> {
    let access = access(svc, caller)?;
    Ok(MetricList {
        metrics: svc
            .rt
            .engine
            .layer
            .metrics
            .iter()
            .filter(|m| !access.denied_metrics.contains(&m.name))
            .map(MetricSummary::from)
            .collect(),
    })
}

/// One metric and the dimensions the caller may split it by.
pub fn describe_metric(
    svc: &Service,
    caller: &Caller,
    name: &str,
) -> Result<MetricDetail, ApiError> {
    let access = access(svc, caller)?;
    let layer = &svc.rt.engine.layer;
    let Some(i) = layer.metric_index(name) else {
        let hint = crate::fuzzy::did_you_mean(name, layer.metrics.iter().map(|m| m.name.as_str()));
        return Err(ApiError::not_found(
            "unknown_metric",
            format!("There is no metric named {name:?}{hint}."),
        ));
    };
    let m = &layer.metrics[i];
    if access.denied_metrics.contains(&m.name) {
        return Err(PolicyError::Metric(m.label.clone()).into());
    }
    let mut dimensions: Vec<DimensionInfo> = Vec::new();
    for model in crate::planner::metric_models(layer, i) {
        for (r, _) in layer.reachable_models(model) {
            for d in &layer.models[r].dimensions {
                if access.denied_dimensions.contains(&d.name)
                    || dimensions.iter().any(|x| x.name == d.name)
                {
                    continue;
                }
                let row_scoped = access.rows.iter().any(|(x, _)| x == &d.name);
                dimensions.push(DimensionInfo {
                    name: d.name.clone(),
                    sample_values: if row_scoped {
                        Vec::new()
                    } else {
                        d.sample_values.clone()
                    },
                });
            }
        }
    }
    Ok(MetricDetail {
        metric: MetricSummary::from(m),
        synonyms: m.synonyms.clone(),
        dimensions,
        better: m.better.map(|b| {
            serde_json::to_value(b)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        }),
    })
}

/// Runs a structured query: the policy refuses or scopes it, the semantic layer compiles
/// it, the governed warehouse runs it (and audits it under the caller).
pub async fn query(
    svc: &Arc<Service>,
    caller: &Caller,
    q: MetricQuery,
) -> Result<QueryResponse, ApiError> {
    let access = access(svc, caller)?;
    let layer = &svc.rt.engine.layer;
    let mut applied = q.clone();
    access.apply(layer, &mut applied)?;
    let today = svc.today();
    crate::semantic::compile(layer, &applied, &crate::semantic::CompileOptions { today })
        .map_err(|e| ApiError::bad("invalid_query", e.to_string()))?;
    let question = format!(
        "api query {}",
        serde_json::to_string(&q).unwrap_or_default()
    );
    let requester = caller.requester.clone();
    let s = Arc::clone(svc);
    let a = tokio::task::spawn_blocking(move || {
        crate::answer::run_query(
            &s.rt.engine,
            &question,
            q,
            None,
            Vec::new(),
            today,
            &requester,
        )
    })
    .await
    .map_err(|e| {
        error!(error = %e, "an API query panicked");
        ApiError::internal("the query failed on the server; the error is logged")
    })?;
    match a.status {
        Status::Answered => Ok(QueryResponse {
            query: applied,
            sql: a.sql.unwrap_or_default(),
            columns: a.columns,
            rows: a.rows,
            provenance: a.provenance,
        }),
        Status::Error => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "warehouse_error",
            crate::service::redact_paths(&a.headline),
        )),
        _ => Err(ApiError::bad("invalid_query", a.headline)),
    }
}

/// Largest conversation id accepted (letters, digits, `-`, `_`).
const MAX_CONVERSATION: usize = 64;

/// Answers a question through the same service as the web site and Slack.
pub async fn ask(
    svc: &Arc<Service>,
    caller: &Caller,
    req: AskRequest,
) -> Result<AnswerResponse, ApiError> {
    access(svc, caller)?;
    let question = req.question.trim().to_string();
    if question.is_empty() {
        return Err(ApiError::bad("invalid_request", "The question is empty."));
    }
    let conversation = match req.conversation {
        Some(c)
            if c.is_empty()
                || c.len() > MAX_CONVERSATION
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') =>
        {
            return Err(ApiError::bad(
                "invalid_request",
                "A conversation id is 1 to 64 letters, digits, '-' or '_'.",
            ))
        }
        Some(c) => c,
        None => crate::web::security::random_token(),
    };
    let asked = svc
        .ask(Request {
            question,
            asker: asker(svc, caller),
            requester: caller.requester.clone(),
            conversation: Some(Conversation {
                channel: caller.requester.clone(),
                key: format!("api:{conversation}"),
            }),
            ..Request::default()
        })
        .await;
    info!(requester = %caller.requester, answer = %asked.id, status = ?asked.answer.status, "answered through the API");
    Ok(AnswerResponse {
        permalink: caller.permalink(&asked.id),
        id: asked.id,
        conversation: Some(conversation),
        created_at: None,
        answer: (*asked.answer).clone(),
    })
}

/// The installed skills with their typed parameters.
pub fn list_skills(svc: &Service) -> SkillList {
    SkillList {
        skills: svc
            .rt
            .skills
            .skills
            .iter()
            .map(|s| SkillSummary {
                name: s.name.clone(),
                description: s.description.clone(),
                examples: s.examples.clone(),
                params: s
                    .params
                    .iter()
                    .map(|p| SkillParam {
                        name: p.name.clone(),
                        kind: serde_json::to_value(p.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        description: p.description.clone(),
                        required: p.required,
                        default: p.default.clone(),
                        dimension: p.dimension.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Runs a skill with its parameters given by name (each read as its declared type), and
/// records the answer like any other.
pub async fn run_skill(
    svc: &Arc<Service>,
    caller: &Caller,
    name: &str,
    req: RunSkillRequest,
) -> Result<AnswerResponse, ApiError> {
    access(svc, caller)?;
    let Some(skill) = svc.rt.skills.get(name) else {
        return Err(ApiError::not_found(
            "unknown_skill",
            format!("There is no skill named {name:?} (see GET /api/v1/skills)."),
        ));
    };
    if let Some(k) = req
        .params
        .keys()
        .find(|k| !skill.params.iter().any(|p| &p.name == *k))
    {
        let known: Vec<&str> = skill.params.iter().map(|p| p.name.as_str()).collect();
        return Err(ApiError::bad(
            "unknown_param",
            format!(
                "{name} has no parameter {k:?}; it takes: {}.",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    }
    let s = Arc::clone(svc);
    let caller2 = caller.clone();
    let name = name.to_string();
    let asker_id = asker(svc, caller);
    let deadline = svc.rt.engine.config.ask.deadline;
    let task = tokio::task::spawn_blocking(move || -> Result<crate::service::Asked, ApiError> {
        let rt = &s.rt;
        let today = s.today();
        let skill = rt
            .skills
            .get(&name)
            .ok_or_else(|| ApiError::internal("the skill disappeared"))?;
        let asker = asker_id.as_deref().and_then(|id| rt.context.person(id));
        let resolved = resolve_params(rt, skill, &req, asker, today)?;
        let question = req.question.clone().unwrap_or_else(|| {
            let given: Vec<String> = resolved
                .display
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            format!(
                "{} ({})",
                crate::format::humanize(&skill.name),
                given.join(", ")
            )
        });
        let q = crate::text::Question::new(&question, today);
        let a: Answer =
            crate::skills::run::run(rt, skill, &q, &resolved, asker, &caller2.requester);
        let r = Request {
            question,
            asker: asker_id.clone(),
            requester: caller2.requester.clone(),
            ..Request::default()
        };
        Ok(s.record(&r, a))
    });
    let asked = match tokio::time::timeout(deadline, task).await {
        Ok(Ok(r)) => r?,
        Ok(Err(e)) => {
            error!(error = %e, "a skill run panicked");
            return Err(ApiError::internal(
                "the skill failed on the server; the error is logged",
            ));
        }
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "The skill took longer than {} s and its answer was dropped.",
                    deadline.as_secs_f64()
                ),
            ))
        }
    };
    info!(requester = %caller.requester, answer = %asked.id, skill = %asked.answer.skill, "skill run through the API");
    Ok(AnswerResponse {
        permalink: caller.permalink(&asked.id),
        id: asked.id,
        conversation: None,
        created_at: None,
        answer: (*asked.answer).clone(),
    })
}

/// Each parameter read from its given value (as its type says), else from the question,
/// its default or the asker.
fn resolve_params(
    rt: &crate::skills::run::Runtime,
    skill: &crate::skills::Skill,
    req: &RunSkillRequest,
    asker: Option<&crate::context::Person>,
    today: chrono::NaiveDate,
) -> Result<crate::skills::params::Resolved, ApiError> {
    use crate::skills::params::{resolve_question, Resolved};
    use crate::skills::ParamKind;
    let inp = rt.resolve_input(asker, today);
    let base = crate::text::Question::new(req.question.as_deref().unwrap_or(""), today);
    let mut out = Resolved::default();
    for p in &skill.params {
        let one = std::slice::from_ref(p);
        let r = match req.params.get(&p.name).map(|v| v.trim()) {
            Some(v) => {
                let text = if p.kind == ParamKind::Okr && v.chars().all(|c| c.is_ascii_digit()) {
                    format!("OKR #{v}")
                } else {
                    v.to_string()
                };
                let r =
                    resolve_question(one, &crate::text::Question::new(&text, today), &inp, None);
                if !r.values.contains_key(&p.name) {
                    let kind = serde_json::to_value(p.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    return Err(ApiError::bad(
                        "invalid_param",
                        format!(
                            "{:?} could not be read as the {kind} parameter {}.",
                            v, p.name
                        ),
                    ));
                }
                r
            }
            None => resolve_question(one, &base, &inp, None),
        };
        match (r.values.get(&p.name), r.display.get(&p.name)) {
            (Some(v), d) => {
                out.values.insert(p.name.clone(), v.clone());
                if let Some(d) = d {
                    out.display.insert(p.name.clone(), d.clone());
                }
            }
            (None, _) if p.required => {
                return Err(ApiError::bad(
                    "missing_param",
                    format!(
                        "{} needs the parameter {}: {}",
                        skill.name, p.name, p.description
                    ),
                ))
            }
            (None, _) => {}
        }
    }
    Ok(out)
}

/// A recorded answer, for someone the policy lets see it (others: not found, as for an
/// unknown id).
pub fn get_answer(
    svc: &Service,
    caller: &Caller,
    id: &str,
) -> Result<(crate::state::StoredAnswer, Answer), ApiError> {
    let gone = || ApiError::not_found("not_found", "No answer has that id.");
    let stored = svc
        .state
        .answer(id)
        .map_err(|e| {
            error!(error = %e, "state database error reading an answer");
            ApiError::internal("the answer could not be read just now")
        })?
        .ok_or_else(gone)?;
    if !svc.rt.engine.governance.may_view(
        &caller.requester,
        &stored.requester,
        &stored.metric_names(),
    ) {
        return Err(gone());
    }
    let answer = svc
        .state
        .load_answer(id)
        .map_err(|e| {
            error!(error = %e, "state database error reading an answer");
            ApiError::internal("the answer could not be read just now")
        })?
        .ok_or_else(gone)?;
    Ok((stored, answer))
}

/// [`get_answer`] as the API's JSON.
pub fn answer_response(
    svc: &Service,
    caller: &Caller,
    id: &str,
) -> Result<AnswerResponse, ApiError> {
    let (stored, answer) = get_answer(svc, caller, id)?;
    Ok(AnswerResponse {
        permalink: caller.permalink(&stored.id),
        id: stored.id,
        conversation: None,
        created_at: Some(stored.created_at),
        answer,
    })
}
