//! The MCP server through rmcp's client, on both transports: streamable HTTP at `/mcp` on
//! a running `cortex serve` router (token auth), and `cortex mcp` over stdio (a child
//! process). Each: initialise, list tools (schemas from the API's types), call every tool,
//! an invalid argument, a refused metric, resources and prompts, and the audit of calls.

use std::process::Stdio;

use rmcp::model::{CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value as Json};

use crate::api::{api_site, token, AVA};
use crate::helpers::{cortex_bin, demo_sql, demo_today, demo_warehouse, project_dir};

type Client = RunningService<RoleClient, ()>;

async fn call(client: &Client, tool: &str, args: Json) -> (bool, Json, String) {
    let Json::Object(args) = args else {
        panic!("arguments are an object")
    };
    let r = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (
        r.is_error.unwrap_or(false),
        r.structured_content.unwrap_or(Json::Null),
        text,
    )
}

/// Everything a client does, as Ava (a CSM: her rows are her merchants', pipeline metrics
/// are refused).
async fn exercise(client: &Client) {
    let info = client.peer_info().expect("initialised");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("cortex")
    );
    assert!(info.capabilities.tools.is_some() && info.capabilities.prompts.is_some());

    let tools = client.list_all_tools().await.expect("tools");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "ask",
            "describe_metric",
            "get_answer",
            "list_metrics",
            "query_metrics",
            "run_skill"
        ]
    );
    let query_tool = tools
        .iter()
        .find(|t| t.name == "query_metrics")
        .expect("tool");
    assert_eq!(
        Json::Object((*query_tool.input_schema).clone()),
        Json::Object(cortex::api::schema::inline_schema::<
            cortex::semantic::MetricQuery,
        >()),
        "the tool's schema is the API's MetricQuery type"
    );
    assert!(query_tool.input_schema["properties"]["metrics"].is_object());

    let (err, list, _) = call(client, "list_metrics", json!({})).await;
    assert!(!err);
    let listed = list["metrics"].to_string();
    assert!(
        listed.contains("\"arr\"") && !listed.contains("pipeline_arr"),
        "{listed}"
    );

    let (err, d, _) = call(client, "describe_metric", json!({"name": "arr"})).await;
    assert!(!err, "{d}");
    assert!(d["dimensions"].to_string().contains("segment"));
    assert_eq!(d["owner"].as_str().map(|o| !o.is_empty()), Some(true));

    let (err, q, _) = call(
        client,
        "query_metrics",
        json!({"metrics": ["merchants"], "group_by": ["segment"], "order": [{"field": "segment"}]}),
    )
    .await;
    assert!(!err, "{q}");
    assert_eq!(
        q["rows"],
        demo_sql("SELECT segment, COUNT(merchant_id) FROM merchants WHERE churned_date IS NULL AND csm_owner = 'Ava Thompson' GROUP BY 1 ORDER BY 1")
    );
    assert_eq!(q["provenance"]["metrics"][0]["name"], "merchants");
    assert!(q["sql"].as_str().expect("sql").contains("merchants"));

    let (err, a, text) = call(
        client,
        "ask",
        json!({"question": "What's our ARR by segment?"}),
    )
    .await;
    assert!(!err, "{a}");
    assert_eq!(a["answer"]["status"], "answered");
    assert!(a["answer"]["provenance"]["metrics"]
        .to_string()
        .contains("arr"));
    let id = a["id"].as_str().expect("id").to_string();
    assert!(text.contains(&format!("/a/{id}")), "{text}");

    let (err, r, _) = call(
        client,
        "run_skill",
        json!({"skill": "okr_progress", "params": {"okr": "1"}}),
    )
    .await;
    assert!(!err, "{r}");
    assert_eq!(r["answer"]["skill"], "okr_progress");

    let (err, g, _) = call(client, "get_answer", json!({"id": id})).await;
    assert!(!err, "{g}");
    assert_eq!(g["answer"]["rows"], a["answer"]["rows"]);

    // Invalid arguments: a tool error with a code, not a protocol failure.
    let (err, e, _) = call(client, "query_metrics", json!({"metrics": "arr"})).await;
    assert!(err);
    assert_eq!(e["error"]["code"], "invalid_request", "{e}");
    let (err, e, _) = call(client, "describe_metric", json!({})).await;
    assert!(err);
    assert_eq!(e["error"]["code"], "invalid_request", "{e}");
    // A refused metric, by the same policy as every other path.
    let (err, e, text) = call(
        client,
        "query_metrics",
        json!({"metrics": ["pipeline_arr"]}),
    )
    .await;
    assert!(err);
    assert_eq!(e["error"]["code"], "metric_forbidden", "{e}");
    assert!(text.contains("restricted"), "{text}");
    let (err, e, _) = call(client, "describe_metric", json!({"name": "pipeline_arr"})).await;
    assert!(err);
    assert_eq!(e["error"]["code"], "metric_forbidden");

    // Resources: the catalog, context files (not people or policy), the caller's answers.
    let resources = client.list_all_resources().await.expect("resources");
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(uris.contains(&"cortex://metrics"), "{uris:?}");
    assert!(uris.contains(&"cortex://context/glossary.md"), "{uris:?}");
    assert!(!uris
        .iter()
        .any(|u| u.contains("people") || u.contains("policy")));
    assert!(
        uris.contains(&format!("cortex://answers/{id}").as_str()),
        "{uris:?}"
    );
    let catalog = client
        .read_resource(ReadResourceRequestParams::new("cortex://metrics"))
        .await
        .expect("read");
    let body = serde_json::to_string(&catalog.contents).expect("json");
    assert!(body.contains("arr") && !body.contains("pipeline_arr"));

    // Prompts: one per skill, with its parameters.
    let prompts = client.list_all_prompts().await.expect("prompts");
    let okr = prompts
        .iter()
        .find(|p| p.name == "okr_progress")
        .expect("prompt");
    assert!(okr
        .arguments
        .as_ref()
        .is_some_and(|a| a.iter().any(|x| x.name == "okr")));
    let Json::Object(args) = json!({"okr": "1"}) else {
        unreachable!()
    };
    let p = client
        .get_prompt(GetPromptRequestParams::new("okr_progress").with_arguments(args))
        .await
        .expect("prompt");
    let text = serde_json::to_string(&p.messages).expect("json");
    assert!(
        text.contains("run_skill") && text.contains("okr_progress"),
        "{text}"
    );
}

/// The calls the state database audited for Ava over MCP.
fn audited(state_db: &std::path::Path) -> Vec<(String, String)> {
    let log = cortex::warehouse::AuditLog::open(state_db).expect("log");
    cortex::api::calls::CallLog::open(log)
        .expect("calls")
        .recent(200)
        .expect("recent")
        .into_iter()
        .filter(|c| c.surface == "mcp" && c.requester == format!("web:{AVA}"))
        .map(|c| (c.operation, c.outcome))
        .collect()
}

fn assert_audited(calls: &[(String, String)]) {
    for tool in [
        "list_metrics",
        "describe_metric",
        "query_metrics",
        "ask",
        "run_skill",
        "get_answer",
    ] {
        assert!(
            calls.iter().any(|(op, o)| op == tool && o == "ok"),
            "{tool} not audited: {calls:?}"
        );
    }
    assert!(calls
        .iter()
        .any(|(op, o)| op == "query_metrics" && o == "metric_forbidden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_streamable_http_with_a_token() {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::transport::StreamableHttpClientTransport;
    let site = api_site(1000).await;
    let (_, ava) = token(&site, AVA);
    let url = format!("{}/mcp", site.url);
    // Without a token the endpoint refuses before MCP starts.
    let r = site
        .http
        .post(&url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(ava),
    );
    let client = ().serve(transport).await.expect("initialise over HTTP");
    exercise(&client).await;
    client.cancel().await.expect("close");
    assert_audited(&audited(&site.server.svc.rt.engine.config.state_db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_stdio_as_the_configured_person() {
    let state = tempfile::tempdir().expect("tmp");
    let db = state.path().join("state.sqlite");
    let mut child = tokio::process::Command::new(cortex_bin())
        .args(["mcp", "--user", AVA, "--today", &demo_today().to_string()])
        .arg("--project")
        .arg(project_dir())
        .arg("--warehouse")
        .arg(demo_warehouse())
        .env("CORTEX_STATE_DB", &db)
        .env_remove("CORTEX_LLM_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("cortex mcp");
    let stdout = child.stdout.take().expect("stdout");
    let stdin = child.stdin.take().expect("stdin");
    let client = ().serve((stdout, stdin)).await.expect("initialise over stdio");
    exercise(&client).await;
    client.cancel().await.expect("close");
    let status = child.wait().await.expect("exit");
    assert!(
        status.success(),
        "cortex mcp ends when the client leaves: {status}"
    );
    assert_audited(&audited(&db));
}
