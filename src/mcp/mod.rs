//! The MCP server (rmcp, the official Rust SDK): Cortex's governed metrics for any LLM
//! client. Two transports: `cortex mcp` over stdio for desktop clients (the person is
//! `--user` or `[server] default_user`), and streamable HTTP at `/mcp` on `cortex serve`
//! (the person is the bearer token's or the sign-in proxy's, as for `/api/v1`).
//!
//! Tools: `list_metrics`, `describe_metric`, `query_metrics` (the structured query, never
//! SQL), `ask`, `run_skill`, `get_answer`. They are the API's operations ([`crate::api::ops`])
//! and their input schemas are generated from the same Rust types the API reads, so the two
//! cannot drift. Results carry provenance. Resources: the metric catalog, the context files
//! and the caller's answers (permalinks). Prompts: one per skill. Every call is audited
//! (`api_calls`) and the access policy applies to each.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, Prompt, PromptArgument, PromptMessage,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use tracing::info;

use crate::api::ops::{self, ApiError, Caller};
use crate::api::schema::inline_schema;
use crate::api::types::{AskRequest, RunSkillRequest};
use crate::api::Api;
use crate::semantic::MetricQuery;

/// `list_metrics` takes nothing.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `describe_metric`: one metric by name.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricArgs {
    /// The metric's name (from list_metrics).
    pub name: String,
}

/// `run_skill`: a skill and its parameters by name.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSkillArgs {
    /// The skill's name (see the prompts, one per skill).
    pub skill: String,
    /// Parameter values by name, each read as the skill declares it.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The question to record the run under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

/// `get_answer`: a recorded answer by id.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerArgs {
    /// The answer's id (from ask, run_skill or a permalink).
    pub id: String,
}

/// The tools, each with its input schema generated from the type its arguments are read as.
pub fn tools() -> Vec<Tool> {
    let tool = |name: &'static str, desc: &'static str, schema: serde_json::Map<String, Json>| {
        Tool::new(name, desc, Arc::new(schema))
    };
    vec![
        tool(
            "list_metrics",
            "The governed metrics you may query: name, label, description, owner and unit.",
            inline_schema::<NoArgs>(),
        ),
        tool(
            "describe_metric",
            "One metric's definition and the dimensions it can be grouped or filtered by.",
            inline_schema::<MetricArgs>(),
        ),
        tool(
            "query_metrics",
            "Run a structured metric query (metrics, group_by, grain, filters, time_range, order, limit; never SQL). Returns rows, the compiled SQL and provenance; the access policy applies.",
            inline_schema::<MetricQuery>(),
        ),
        tool(
            "ask",
            "Ask Cortex a business question in plain language. Returns the answer (headline, sections, rows) with provenance and a permalink.",
            inline_schema::<AskRequest>(),
        ),
        tool(
            "run_skill",
            "Run one of Cortex's skills (see prompts) with its parameters given by name.",
            inline_schema::<RunSkillArgs>(),
        ),
        tool(
            "get_answer",
            "A recorded answer by id, if you may see it.",
            inline_schema::<AnswerArgs>(),
        ),
    ]
}

/// The MCP server: the API's operations for one person (stdio) or for each HTTP
/// request's person.
#[derive(Clone)]
pub struct CortexMcp {
    api: Arc<Api>,
    /// The person for stdio; `None` on HTTP, where each request names its own.
    fixed: Option<Caller>,
}

impl CortexMcp {
    /// The server for HTTP (`/mcp`): callers come from the authentication middleware.
    pub fn http(api: Arc<Api>) -> CortexMcp {
        CortexMcp { api, fixed: None }
    }

    /// The server for one configured person (stdio).
    pub fn for_person(api: Arc<Api>, caller: Caller) -> CortexMcp {
        CortexMcp {
            api,
            fixed: Some(caller),
        }
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        if let Some(c) = &self.fixed {
            return Ok(c.clone());
        }
        ctx.extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| ErrorData::invalid_request("no identity on this request", None))
    }

    /// Runs a tool: `Ok((structured result, text))` or the API's error.
    async fn run(
        &self,
        caller: &Caller,
        name: &str,
        args: Json,
    ) -> Result<(Json, String), ApiError> {
        let svc = &self.api.svc;
        match name {
            "list_metrics" => {
                parse::<NoArgs>(args)?;
                let r = ops::list_metrics(svc, caller)?;
                let text = r
                    .metrics
                    .iter()
                    .map(|m| format!("{} ({}): {}", m.name, m.label, m.description))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok((to_json(&r), text))
            }
            "describe_metric" => {
                let a = parse::<MetricArgs>(args)?;
                let r = ops::describe_metric(svc, caller, &a.name)?;
                let v = to_json(&r);
                Ok((v.clone(), v.to_string()))
            }
            "query_metrics" => {
                let q = parse::<MetricQuery>(args)?;
                let r = ops::query(svc, caller, q).await?;
                let v = to_json(&r);
                Ok((v.clone(), v.to_string()))
            }
            "ask" => {
                let a = parse::<AskRequest>(args)?;
                let r = ops::ask(svc, caller, a).await?;
                let text = format!("{}\n\nPermalink: {}", r.answer.text, r.permalink);
                Ok((to_json(&r), text))
            }
            "run_skill" => {
                let a = parse::<RunSkillArgs>(args)?;
                let r = ops::run_skill(
                    svc,
                    caller,
                    &a.skill,
                    RunSkillRequest {
                        params: a.params,
                        question: a.question,
                    },
                )
                .await?;
                let text = format!("{}\n\nPermalink: {}", r.answer.text, r.permalink);
                Ok((to_json(&r), text))
            }
            "get_answer" => {
                let a = parse::<AnswerArgs>(args)?;
                let r = ops::answer_response(svc, caller, &a.id)?;
                let text = format!("{}\n\nPermalink: {}", r.answer.text, r.permalink);
                Ok((to_json(&r), text))
            }
            other => Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "unknown_tool",
                format!("There is no tool named {other:?}."),
            )),
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> Json {
    serde_json::to_value(v).unwrap_or_default()
}

/// A tool's arguments as their type, or `invalid_request` saying what is wrong.
fn parse<T: DeserializeOwned>(args: Json) -> Result<T, ApiError> {
    serde_json::from_value(args).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("The arguments are not valid: {e}"),
        )
    })
}

/// Context files offered as resources (people.yaml and policy.yaml are not: they are
/// about people and access, not the business).
fn context_files(project: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(dir) = std::fs::read_dir(project.join("context")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "md" || e == "yaml" || e == "yml")
                && !p
                    .file_name()
                    .is_some_and(|n| n == "people.yaml" || n == "policy.yaml")
        })
        .collect();
    files.sort();
    files
}

const CATALOG_URI: &str = "cortex://metrics";
const CONTEXT_PREFIX: &str = "cortex://context/";
const ANSWER_PREFIX: &str = "cortex://answers/";

impl ServerHandler for CortexMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("cortex", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Cortex answers business questions from governed metric definitions. Prefer query_metrics (structured, never SQL) when you know the metrics; use ask for plain-language questions. Cite the provenance and permalink of every number.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let name = request.name.to_string();
        if !tools().iter().any(|t| t.name == name) {
            self.api.calls.record(&caller, "mcp", &name, "unknown_tool");
            return Err(ErrorData::invalid_params(
                format!("there is no tool named {name:?}"),
                None,
            ));
        }
        let args = Json::Object(request.arguments.unwrap_or_default());
        let outcome = self.run(&caller, &name, args).await;
        let code = match &outcome {
            Ok(_) => "ok",
            Err(e) => e.code,
        };
        self.api.calls.record(&caller, "mcp", &name, code);
        info!(requester = %caller.requester, tool = %name, outcome = code, "MCP tool call");
        let result = match outcome {
            Ok((value, text)) => {
                let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
                r.structured_content = Some(value);
                r
            }
            Err(e) => {
                let mut r = CallToolResult::error(vec![ContentBlock::text(format!(
                    "{}: {}",
                    e.code, e.message
                ))]);
                r.structured_content = serde_json::to_value(e.body()).ok();
                r
            }
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let caller = self.caller(&context)?;
        let svc = &self.api.svc;
        let mut out = vec![Resource::new(CATALOG_URI, "metric catalog")
            .with_description("The governed metrics you may query (metrics.yaml, as the access policy shows it to you)")
            .with_mime_type("application/json")];
        for f in context_files(&svc.rt.engine.config.project) {
            if let Some(name) = f.file_name().and_then(|n| n.to_str()) {
                out.push(
                    Resource::new(format!("{CONTEXT_PREFIX}{name}"), name)
                        .with_description("Curated context: OKRs, strategy, glossary")
                        .with_mime_type(if name.ends_with(".md") {
                            "text/markdown"
                        } else {
                            "application/yaml"
                        }),
                );
            }
        }
        if let Ok(answers) = svc.state.recent_answers(Some(&caller.requester), 20) {
            for a in answers {
                out.push(
                    Resource::new(format!("{ANSWER_PREFIX}{}", a.id), a.question.clone())
                        .with_description(format!(
                            "Your answer of {} ({}): {}/a/{}",
                            a.created_at, a.skill, caller.base_url, a.id
                        ))
                        .with_mime_type("application/json"),
                );
            }
        }
        self.api
            .calls
            .record(&caller, "mcp", "resources/list", "ok");
        Ok(ListResourcesResult::with_all_items(out))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let svc = &self.api.svc;
        let uri = request.uri.clone();
        let refused =
            |e: ApiError| ErrorData::resource_not_found(format!("{}: {}", e.code, e.message), None);
        let text = if uri == CATALOG_URI {
            let r = ops::list_metrics(svc, &caller).map_err(refused)?;
            serde_json::to_string_pretty(&r).unwrap_or_default()
        } else if let Some(name) = uri.strip_prefix(CONTEXT_PREFIX) {
            let file = context_files(&svc.rt.engine.config.project)
                .into_iter()
                .find(|f| f.file_name().and_then(|n| n.to_str()) == Some(name))
                .ok_or_else(|| {
                    ErrorData::resource_not_found(format!("no context file {name:?}"), None)
                })?;
            std::fs::read_to_string(&file).map_err(|_| {
                ErrorData::resource_not_found("the context file could not be read", None)
            })?
        } else if let Some(id) = uri.strip_prefix(ANSWER_PREFIX) {
            let r = ops::answer_response(svc, &caller, id).map_err(refused)?;
            serde_json::to_string_pretty(&r).unwrap_or_default()
        } else {
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri:?}"),
                None,
            ));
        };
        self.api
            .calls
            .record(&caller, "mcp", &format!("resources/read {uri}"), "ok");
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = ops::list_skills(&self.api.svc)
            .skills
            .into_iter()
            .map(|s| {
                let args: Vec<PromptArgument> = s
                    .params
                    .iter()
                    .map(|p| {
                        PromptArgument::new(p.name.clone())
                            .with_description(format!("{} ({})", p.description, p.kind))
                            .with_required(p.required)
                    })
                    .collect();
                Prompt::new(s.name, Some(s.description), Some(args))
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let skills = ops::list_skills(&self.api.svc);
        let Some(s) = skills.skills.iter().find(|s| s.name == request.name) else {
            return Err(ErrorData::invalid_params(
                format!("there is no prompt named {:?}", request.name),
                None,
            ));
        };
        let given: BTreeMap<String, String> = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| match v {
                Json::String(s) => Some((k, s)),
                Json::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect();
        let text = format!(
            "Use Cortex's run_skill tool with {}. {} Then answer from its result, citing the provenance and the permalink.",
            json!({"skill": s.name, "params": given}),
            s.description
        );
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(s.description.clone())
                .into(),
        )
    }
}

/// `/mcp` on `cortex serve`: streamable HTTP, behind the API's authentication and rate
/// limit.
pub fn routes(api: Arc<Api>) -> axum::Router {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    let server = &api.svc.rt.engine.config.server;
    // Host checks (against DNS rebinding) admit the configured addresses and loopback.
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for url in [Some(server.base_url()), server.public_url.clone()]
        .into_iter()
        .flatten()
    {
        if let Some(host) = url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        {
            hosts.push(host.to_string());
        }
    }
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts);
    let handler = CortexMcp::http(Arc::clone(&api));
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(
            api,
            crate::api::authenticate,
        ))
}

/// `cortex mcp`: serves MCP on stdin/stdout as `user` until the client disconnects.
pub async fn serve_stdio(
    config: crate::config::Config,
    user: &str,
    today: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use rmcp::ServiceExt as _;
    let base = config.server.base_url();
    let llm = match &config.llm {
        Some(c) => Some(crate::llm::Llm::new(c).context("the LLM settings are invalid")?),
        None => None,
    };
    let rt = tokio::task::spawn_blocking(move || crate::skills::run::Runtime::open(config))
        .await
        .context("startup panicked")??;
    let svc = Arc::new(crate::service::Service::new(rt, llm, today)?);
    let api = Arc::new(Api::new(svc)?);
    let caller = Caller::person(user, None, &base);
    info!(requester = %caller.requester, "MCP over stdio");
    let running = CortexMcp::for_person(api, caller)
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP client did not initialise")?;
    running.waiting().await.context("the MCP session failed")?;
    Ok(())
}
