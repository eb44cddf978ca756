//! Notion through the real notion-client code: a fake Notion API served over HTTPS on
//! 127.0.0.1 (a test CA and an `api.notion.com` certificate in tests/fixtures/tls), reached by
//! `[notion] api_addr` (reqwest's `resolve`) and `ca_file`. Sync (pagination, incremental,
//! 429 + Retry-After, 409, 400), the OKR database through `cortex check`, and publishing
//! (one page per key, even after a crash between the create and the bookkeeping).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cortex::config::{NotionConfig, Secret};
use cortex::notion::publish::{page_payload, publish_key, NotionPublisher, PublishTarget};
use cortex::notion::{NotionClient, OkrDatabase};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

use crate::helpers::{cortex_bin, project_dir};

const TOKEN: &str = "ntn_test_secret_token";

// ---------------------------------------------------------------- the fake Notion API

/// A request the fake received.
#[derive(Debug, Clone)]
struct Hit {
    method: String,
    path: String,
    body: Value,
    at: Instant,
    authorized: bool,
}

/// A scripted failure: the next `times` requests to `method path` get `status`.
#[derive(Debug, Clone)]
struct Fault {
    method: &'static str,
    path: String,
    status: u16,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
    times: usize,
    /// For POST /v1/pages: create the page, then fail (a response lost in a crash).
    after_effect: bool,
}

#[derive(Default)]
struct St {
    pages: BTreeMap<String, Value>,
    children: BTreeMap<String, Vec<Value>>,
    databases: BTreeMap<String, Vec<String>>,
    created: Vec<Value>,
    faults: Vec<Fault>,
    log: Vec<Hit>,
    page_size: usize,
    next_id: u32,
}

struct Fake {
    addr: SocketAddr,
    st: Arc<Mutex<St>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok((tcp, addr)) = self.tcp.accept().await {
                if let Ok(tls) = self.acceptor.accept(tcp).await {
                    return (tls, addr);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn tls_dir() -> PathBuf {
    project_dir().join("tests/fixtures/tls")
}

impl Fake {
    /// Starts the fake on its own thread and runtime (so CLI children can use it too).
    fn start() -> Fake {
        let st = Arc::new(Mutex::new(St {
            page_size: 2,
            ..St::default()
        }));
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(tls_dir().join("api.notion.com.pem"))
                .expect("cert file")
                .collect::<Result<_, _>>()
                .expect("certs");
        let key = PrivateKeyDer::from_pem_file(tls_dir().join("api.notion.com.key")).expect("key");
        let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server cert");
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = st.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let tcp = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let app = axum::Router::new().fallback(handle).with_state(state);
                let server = axum::serve(TlsListener { tcp, acceptor }, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                let _ = server.await;
            });
        });
        Fake {
            addr,
            st,
            stop: Some(stop),
        }
    }

    fn config(&self) -> NotionConfig {
        NotionConfig {
            token: Secret::new(TOKEN),
            pages: vec![],
            databases: vec![],
            okr_database: None,
            publish_database: None,
            timeout: Duration::from_secs(10),
            max_retries: 3,
            api_addr: Some(self.addr),
            ca_file: Some(tls_dir().join("ca.pem")),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut St) -> R) -> R {
        f(&mut self.st.lock().expect("fake state"))
    }

    fn log(&self) -> Vec<Hit> {
        self.with(|s| s.log.clone())
    }

    fn take_log(&self) -> Vec<Hit> {
        self.with(|s| std::mem::take(&mut s.log))
    }

    fn add_page(&self, page: Value, blocks: Vec<Value>) {
        let id = page["id"].as_str().expect("id").to_string();
        self.with(|s| {
            s.pages.insert(id.clone(), page);
            s.children.insert(id, blocks);
        });
    }

    fn fault(&self, f: Fault) {
        self.with(|s| s.faults.push(f));
    }
}

fn fault(method: &'static str, path: &str, status: u16, code: &'static str, msg: &str) -> Fault {
    Fault {
        method,
        path: path.to_string(),
        status,
        code,
        message: msg.to_string(),
        retry_after: None,
        times: 1,
        after_effect: false,
    }
}

fn error(status: u16, code: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).expect("status"),
        axum::Json(json!({"object": "error", "status": status, "code": code, "message": message})),
    )
        .into_response()
}

fn list(items: &[Value], cursor: Option<&str>, page_size: usize) -> Value {
    let start: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
    let end = (start + page_size).min(items.len());
    let has_more = end < items.len();
    json!({
        "object": "list",
        "results": items[start.min(end)..end],
        "next_cursor": if has_more { Value::String(end.to_string()) } else { Value::Null },
        "has_more": has_more,
    })
}

fn key_of(page: &Value) -> Option<String> {
    let rt = &page["properties"]["Cortex key"]["rich_text"][0];
    rt["plain_text"]
        .as_str()
        .or_else(|| rt["text"]["content"].as_str())
        .map(str::to_string)
}

async fn handle(
    State(st): State<Arc<Mutex<St>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query: BTreeMap<String, String> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = st.lock().expect("fake state");
    s.log.push(Hit {
        method: method.to_string(),
        path: path.clone(),
        body: body.clone(),
        at: Instant::now(),
        authorized: headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {TOKEN}"))
            && headers.contains_key("notion-version"),
    });
    let mut after_effect_fault = None;
    if let Some(i) = s
        .faults
        .iter()
        .position(|f| f.method == method.as_str() && f.path == path && f.times > 0)
    {
        s.faults[i].times -= 1;
        let f = s.faults[i].clone();
        if f.after_effect {
            after_effect_fault = Some(f);
        } else {
            let mut resp = error(f.status, f.code, &f.message);
            if let Some(secs) = f.retry_after {
                resp.headers_mut()
                    .insert("retry-after", secs.to_string().parse().expect("header"));
            }
            return resp;
        }
    }
    let parts: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let page_size = s.page_size;
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["pages", id]) => match s.pages.get(*id) {
            Some(p) => axum::Json(p.clone()).into_response(),
            None => error(404, "object_not_found", "Could not find page"),
        },
        ("GET", ["blocks", id, "children"]) => match s.children.get(*id) {
            Some(items) => axum::Json(list(
                items,
                query.get("start_cursor").map(String::as_str),
                page_size,
            ))
            .into_response(),
            None => error(404, "object_not_found", "Could not find block"),
        },
        ("POST", ["databases", id, "query"]) => {
            let ids = s.databases.get(*id).cloned().unwrap_or_default();
            let f = &body["filter"];
            let rows: Vec<Value> = ids
                .iter()
                .filter_map(|i| s.pages.get(i).cloned())
                .filter(|p| {
                    if let Some(since) = f["last_edited_time"]["on_or_after"].as_str() {
                        let since = chrono::DateTime::parse_from_rfc3339(since).expect("since");
                        let at = chrono::DateTime::parse_from_rfc3339(
                            p["last_edited_time"].as_str().expect("edited"),
                        )
                        .expect("edited");
                        return at >= since;
                    }
                    if f["property"] == "Cortex key" {
                        return key_of(p).as_deref() == f["rich_text"]["equals"].as_str();
                    }
                    true
                })
                .collect();
            axum::Json(list(&rows, body["start_cursor"].as_str(), page_size)).into_response()
        }
        ("POST", ["pages"]) => {
            s.next_id += 1;
            let id = format!("99999999-0000-4000-8000-{:012}", s.next_id);
            let db = body["parent"]["database_id"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let mut page = page_json(&id, "2026-11-30T09:00:00.000Z", json!({}));
            page["properties"] = body["properties"].clone();
            page["parent"] = json!({"type": "database_id", "database_id": db});
            s.pages.insert(id.clone(), page.clone());
            s.databases.entry(db).or_default().push(id);
            s.created.push(body.clone());
            if let Some(f) = after_effect_fault {
                return error(f.status, f.code, &f.message);
            }
            axum::Json(page).into_response()
        }
        _ => error(400, "invalid_request_url", "Invalid request URL."),
    }
}

// ---------------------------------------------------------------- Notion JSON builders

fn user() -> Value {
    json!({"object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4"})
}

fn rt(s: &str) -> Value {
    json!([{"type": "text", "text": {"content": s, "link": null},
            "annotations": {"bold": false, "italic": false, "strikethrough": false,
                            "underline": false, "code": false, "color": "default"},
            "plain_text": s, "href": null}])
}

fn title_prop(s: &str) -> Value {
    json!({"id": "title", "type": "title", "title": rt(s)})
}

fn text_prop(s: &str) -> Value {
    json!({"id": "t", "type": "rich_text", "rich_text": rt(s)})
}

fn page_json(id: &str, edited: &str, properties: Value) -> Value {
    json!({
        "object": "page", "id": id,
        "created_time": "2026-01-05T10:00:00.000Z", "created_by": user(),
        "last_edited_time": edited, "last_edited_by": user(),
        "in_trash": false, "properties": properties,
        "parent": {"type": "workspace", "workspace": true},
        "url": format!("https://www.notion.so/{}", id.replace('-', "")),
    })
}

fn page(id: &str, title: &str, edited: &str) -> Value {
    page_json(id, edited, json!({"title": title_prop(title)}))
}

fn row(id: &str, db: &str, edited: &str, mut properties: Value) -> Value {
    let mut p = page_json(id, edited, json!({}));
    if properties.get("Name").is_none() && properties.get("Objective").is_none() {
        properties["Name"] = title_prop(&format!("Row {id}"));
    }
    p["properties"] = properties;
    p["parent"] = json!({"type": "database_id", "database_id": db});
    p
}

fn block(id: &str, kind: &str, text: &str) -> Value {
    let mut body = json!({"rich_text": rt(text), "color": "default"});
    if kind.starts_with("heading") {
        body["is_toggleable"] = json!(false);
    }
    json!({"object": "block", "id": id, "type": kind, kind: body,
           "created_time": "2026-01-05T10:00:00.000Z", "created_by": user(),
           "last_edited_time": "2026-01-05T10:00:00.000Z", "last_edited_by": user(),
           "has_children": false, "in_trash": false})
}

const PAGE_A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const PAGE_B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const DB: &str = "dddddddd-0000-4000-8000-000000000003";
const OKR_DB: &str = "0c0c0c0c-0000-4000-8000-000000000004";
const PUBLISH_DB: &str = "e0e0e0e0-0000-4000-8000-000000000005";

/// Page A: a strategy page with 7 blocks (4 pages of 2), a table with rows as children.
/// Page B: one paragraph. Database D: 3 rows (2 pages of results), one block each.
fn seed(fake: &Fake) {
    let mut table = json!({"object": "block", "id": "tbl00000-0000-4000-8000-000000000001",
        "type": "table", "table": {"table_width": 2, "has_column_header": true, "has_row_header": false},
        "has_children": true, "in_trash": false});
    table["created_time"] = json!("2026-01-05T10:00:00.000Z");
    let trow = |id: &str, a: &str, b: &str| {
        json!({"object": "block", "id": id, "type": "table_row",
               "table_row": {"cells": [rt(a), rt(b)]}, "has_children": false, "in_trash": false})
    };
    fake.add_page(
        page(PAGE_A, "Company strategy 2026", "2026-11-01T10:00:00.000Z"),
        vec![
            block("a1", "heading_1", "Company strategy"),
            block("a2", "heading_2", "Move upmarket [upmarket-notion]"),
            block(
                "a3",
                "paragraph",
                "Win Enterprise merchants with the AI Agent.",
            ),
            block("a4", "bulleted_list_item", "Land 20 Enterprise logos"),
            block("a5", "bulleted_list_item", "Expand Mid-Market"),
            table,
            block("a7", "quote", "Focus beats breadth."),
        ],
    );
    fake.with(|s| {
        s.children.insert(
            "tbl00000-0000-4000-8000-000000000001".into(),
            vec![
                trow("r1", "Segment", "Target"),
                trow("r2", "Enterprise", "$112M"),
                trow("r3", "SMB", "$12M"),
            ],
        )
    });
    fake.add_page(
        page(PAGE_B, "Glossary notes", "2026-11-01T10:00:00.000Z"),
        vec![block("b1", "paragraph", "**NRR**: net revenue retention.")],
    );
    for (i, edited) in [
        "2026-10-01T10:00:00.000Z",
        "2026-10-02T10:00:00.000Z",
        "2026-10-03T10:00:00.000Z",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("d0000000-0000-4000-8000-00000000000{}", i + 1);
        fake.add_page(
            row(
                &id,
                DB,
                edited,
                json!({"Name": title_prop(&format!("Decision {}", i + 1)), "Owner": text_prop("Revenue")}),
            ),
            vec![block(&format!("db{i}"), "paragraph", &format!("Decided thing {}.", i + 1))],
        );
        fake.with(|s| s.databases.entry(DB.into()).or_default().push(id.clone()));
    }
}

fn count(log: &[Hit], method: &str, path: &str) -> usize {
    log.iter()
        .filter(|h| h.method == method && h.path == path)
        .count()
}

fn children_path(id: &str) -> String {
    format!("/v1/blocks/{id}/children")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------- sync

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_paginates_writes_front_matter_and_then_fetches_only_what_was_edited() {
    let fake = Fake::start();
    seed(&fake);
    let mut cfg = fake.config();
    cfg.pages = vec![
        PAGE_A.replace('-', ""),
        format!(
            "https://www.notion.so/x/Glossary-{}",
            PAGE_B.replace('-', "")
        ),
    ];
    cfg.databases = vec![DB.into()];
    let client = NotionClient::new(&cfg).expect("client");
    let ctx = tempfile::tempdir().expect("tmp");

    let report = cortex::notion::sync::sync(&client, &cfg, ctx.path())
        .await
        .expect("first sync");
    assert_eq!(report.fetched.len(), 5, "{report:?}");
    let log = fake.take_log();
    assert!(
        log.iter().all(|h| h.authorized),
        "token and Notion-Version sent"
    );
    // 7 blocks at 2 per page: 4 requests; the table's 3 rows: 2.
    assert_eq!(count(&log, "GET", &children_path(PAGE_A)), 4);
    assert_eq!(
        count(
            &log,
            "GET",
            &children_path("tbl00000-0000-4000-8000-000000000001")
        ),
        2
    );
    // 3 rows at 2 per page: 2 queries, the second from the first's cursor.
    let queries: Vec<&Hit> = log
        .iter()
        .filter(|h| h.path == format!("/v1/databases/{DB}/query"))
        .collect();
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[1].body["start_cursor"], "2");
    assert!(
        queries[0].body.get("filter").is_none(),
        "first sync reads every row"
    );

    let dir = ctx.path().join("notion");
    let a = read(&dir.join("company-strategy-2026.md"));
    let (fm, body) = cortex::notion::sync::split_front_matter(&a);
    let fm = fm.expect("front matter");
    assert_eq!(fm.notion_id, PAGE_A);
    assert_eq!(fm.last_edited_time, "2026-11-01T10:00:00Z");
    assert_eq!(fm.title, "Company strategy 2026");
    assert_eq!(
        fm.url,
        format!("https://www.notion.so/{}", PAGE_A.replace('-', ""))
    );
    assert_eq!(
        body,
        "# Company strategy\n\n## Move upmarket [upmarket-notion]\n\n\
         Win Enterprise merchants with the AI Agent.\n\n- Land 20 Enterprise logos\n\
         - Expand Mid-Market\n\n| Segment | Target |\n| --- | --- |\n| Enterprise | $112M |\n\
         | SMB | $12M |\n\n> Focus beats breadth.\n"
    );
    let row2 = read(&dir.join("decision-2.md"));
    assert!(row2.contains("- **Owner**: Revenue"), "{row2}");
    assert!(row2.contains("Decided thing 2."), "{row2}");
    assert!(read(&dir.join("glossary-notes.md")).contains("**NRR**: net revenue retention."));

    // Edit page B and row 2; the second sync fetches only those two.
    let a_before = read(&dir.join("company-strategy-2026.md"));
    fake.with(|s| {
        s.pages.get_mut(PAGE_B).expect("B")["last_edited_time"] = json!("2026-11-20T08:00:00.000Z");
        s.children.insert(
            PAGE_B.into(),
            vec![block(
                "b1",
                "paragraph",
                "**NRR**: net revenue retention, monthly.",
            )],
        );
        s.pages
            .get_mut("d0000000-0000-4000-8000-000000000002")
            .expect("row 2")["last_edited_time"] = json!("2026-11-20T08:00:00.000Z");
    });
    let report = cortex::notion::sync::sync(&client, &cfg, ctx.path())
        .await
        .expect("second sync");
    assert_eq!(report.fetched, vec!["Glossary notes", "Decision 2"]);
    // Page A, and row 3 (edited at the cursor, so the on_or_after query returns it again).
    assert_eq!(report.unchanged, 2);
    let log = fake.take_log();
    assert_eq!(
        count(&log, "GET", &children_path(PAGE_A)),
        0,
        "A not fetched again"
    );
    assert_eq!(count(&log, "GET", &children_path(PAGE_B)), 1);
    assert_eq!(
        count(
            &log,
            "GET",
            &children_path("d0000000-0000-4000-8000-000000000002")
        ),
        1
    );
    assert_eq!(
        count(
            &log,
            "GET",
            &children_path("d0000000-0000-4000-8000-000000000001")
        ) + count(
            &log,
            "GET",
            &children_path("d0000000-0000-4000-8000-000000000003")
        ),
        0
    );
    let q = log
        .iter()
        .find(|h| h.path == format!("/v1/databases/{DB}/query"))
        .expect("query");
    assert_eq!(
        q.body["filter"],
        json!({"timestamp": "last_edited_time",
               "last_edited_time": {"on_or_after": "2026-10-03T10:00:00Z"}})
    );
    assert_eq!(read(&dir.join("company-strategy-2026.md")), a_before);
    assert!(read(&dir.join("glossary-notes.md")).contains("net revenue retention, monthly."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_wait_for_retry_after_and_conflicts_are_retried() {
    let fake = Fake::start();
    seed(&fake);
    let mut cfg = fake.config();
    cfg.pages = vec![PAGE_A.into()];
    let client = NotionClient::new(&cfg).expect("client");
    fake.fault(Fault {
        retry_after: Some(1),
        ..fault(
            "GET",
            &format!("/v1/pages/{PAGE_A}"),
            429,
            "rate_limited",
            "Slow down.",
        )
    });
    fake.fault(fault(
        "GET",
        &children_path(PAGE_A),
        409,
        "conflict_error",
        "Conflict occurred while saving.",
    ));
    let ctx = tempfile::tempdir().expect("tmp");
    let report = cortex::notion::sync::sync(&client, &cfg, ctx.path())
        .await
        .expect("sync succeeds after the retries");
    assert_eq!(report.fetched, vec!["Company strategy 2026"]);
    let log = fake.log();
    let page_hits: Vec<&Hit> = log
        .iter()
        .filter(|h| h.path == format!("/v1/pages/{PAGE_A}"))
        .collect();
    assert_eq!(page_hits.len(), 2, "one 429, one retry");
    let waited = page_hits[1].at - page_hits[0].at;
    assert!(waited >= Duration::from_secs(1), "waited {waited:?}");
    // 4 pages of blocks + the retried first one.
    assert_eq!(count(&log, "GET", &children_path(PAGE_A)), 5);

    // Retries are bounded: a page that is always rate limited fails, naming it.
    let mut cfg = cfg.clone();
    cfg.max_retries = 1;
    let client = NotionClient::new(&cfg).expect("client");
    fake.with(|s| {
        s.pages.get_mut(PAGE_A).expect("A")["last_edited_time"] = json!("2026-11-21T00:00:00.000Z")
    });
    fake.fault(Fault {
        times: 10,
        retry_after: Some(0),
        ..fault(
            "GET",
            &children_path(PAGE_A),
            429,
            "rate_limited",
            "Slow down.",
        )
    });
    let before = count(&fake.log(), "GET", &children_path(PAGE_A));
    let err = cortex::notion::sync::sync(&client, &cfg, ctx.path())
        .await
        .expect_err("still rate limited");
    assert!(err.to_string().contains("Company strategy 2026"), "{err}");
    assert_eq!(
        count(&fake.log(), "GET", &children_path(PAGE_A)) - before,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_error_names_the_page_and_leaves_the_previous_files_intact() {
    let fake = Fake::start();
    seed(&fake);
    let mut cfg = fake.config();
    cfg.pages = vec![PAGE_A.into(), PAGE_B.into()];
    let client = NotionClient::new(&cfg).expect("client");
    let ctx = tempfile::tempdir().expect("tmp");
    cortex::notion::sync::sync(&client, &cfg, ctx.path())
        .await
        .expect("first sync");
    let dir = ctx.path().join("notion");
    let before: Vec<(PathBuf, String)> = [
        "glossary-notes.md",
        "company-strategy-2026.md",
        ".sync.json",
    ]
    .iter()
    .map(|f| (dir.join(f), read(&dir.join(f))))
    .collect();
    // B changes (and would be rewritten), then A fails validation.
    fake.with(|s| {
        for id in [PAGE_A, PAGE_B] {
            s.pages.get_mut(id).expect("page")["last_edited_time"] =
                json!("2026-11-25T00:00:00.000Z");
        }
        s.children
            .insert(PAGE_B.into(), vec![block("b1", "paragraph", "Changed.")]);
    });
    fake.fault(fault(
        "GET",
        &children_path(PAGE_A),
        400,
        "validation_error",
        "body failed validation: start_cursor should be a valid uuid.",
    ));
    let err = cortex::notion::sync::sync(&client, &cfg, ctx.path())
        .await
        .expect_err("400");
    let msg = err.to_string();
    assert!(msg.contains("\"Company strategy 2026\""), "{msg}");
    assert!(msg.contains("start_cursor should be a valid uuid"), "{msg}");
    assert_eq!(
        count(&fake.log(), "GET", &children_path(PAGE_A)),
        4 + 1,
        "a 400 is not retried"
    );
    for (path, text) in before {
        assert_eq!(read(&path), text, "{} untouched", path.display());
    }
}

// ---------------------------------------------------------------- OKR database + cortex check

fn okr_row(id: &str, title: &str, metric: &str, edited: &str) -> Value {
    row(
        id,
        OKR_DB,
        edited,
        json!({
            "Objective": title_prop(title),
            "ID": text_prop("N1"),
            "Metric": {"id": "m", "type": "select", "select": {"id": "s", "name": metric, "color": "blue"}},
            "Target": {"id": "t", "type": "number", "number": 30000000},
            "Start": {"id": "s", "type": "date", "date": {"start": "2026-01-01", "end": null, "time_zone": null}},
            "Due": {"id": "d", "type": "date", "date": {"start": "2026-12-31", "end": null, "time_zone": null}},
            "Owner team": text_prop("Revenue"),
            "Segment targets": text_prop("Mid-Market: 30,000,000"),
        }),
    )
}

/// A project in a temp dir: the repository's metrics.yaml, skills and context, and a
/// cortex.toml pointing Notion at the fake.
fn temp_project(fake: &Fake) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::os::unix::fs::symlink(
        project_dir().join("metrics.yaml"),
        dir.path().join("metrics.yaml"),
    )
    .expect("link");
    std::os::unix::fs::symlink(project_dir().join("skills"), dir.path().join("skills"))
        .expect("link");
    std::fs::create_dir(dir.path().join("context")).expect("mkdir");
    for e in std::fs::read_dir(project_dir().join("context")).expect("context") {
        let p = e.expect("entry").path();
        if p.is_file() {
            std::fs::copy(
                &p,
                dir.path()
                    .join("context")
                    .join(p.file_name().expect("name")),
            )
            .expect("copy");
        }
    }
    std::fs::write(
        dir.path().join("cortex.toml"),
        format!(
            "[notion]\npages = [\"{PAGE_A}\"]\napi_addr = \"{}\"\nca_file = \"{}\"\n\
             [notion.okr_database]\nid = \"{}\"\n",
            fake.addr,
            tls_dir().join("ca.pem").display(),
            OKR_DB.replace('-', "")
        ),
    )
    .expect("toml");
    dir
}

fn cortex(project: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(cortex_bin())
        .args(args)
        .arg("--project")
        .arg(project)
        .env("CORTEX_NOTION_TOKEN", TOKEN)
        .env("CORTEX_WAREHOUSE", project.join("no-warehouse.duckdb"))
        .output()
        .expect("cortex runs")
}

#[test]
fn the_okr_database_becomes_okrs_that_cortex_check_validates_naming_the_page() {
    let fake = Fake::start();
    seed(&fake);
    let row_id = "0c0c0c0c-0000-4000-8000-0000000000a1";
    fake.add_page(
        okr_row(
            row_id,
            "Win Mid-Market",
            "arr_typo",
            "2026-11-01T10:00:00.000Z",
        ),
        vec![],
    );
    fake.with(|s| s.databases.insert(OKR_DB.into(), vec![row_id.into()]));
    let project = temp_project(&fake);

    let out = cortex(project.path(), &["context", "sync", "notion"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("okrs: 1 OKRs"), "{stdout}");
    let synced = read(&project.path().join("context/notion/okrs.yaml"));
    assert!(synced.contains("metric: arr_typo"), "{synced}");

    let out = cortex(project.path(), &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let page_url = format!("https://www.notion.so/{}", row_id.replace('-', ""));
    let line = stdout
        .lines()
        .find(|l| l.contains("unknown metric \"arr_typo\""))
        .unwrap_or_else(|| panic!("no unknown-metric line in {stdout}"));
    assert!(line.contains("notion/okrs.yaml"), "{line}");
    assert!(line.contains("okrs.N1.metric"), "{line}");
    assert!(
        line.contains(&format!("(Notion page {page_url})")),
        "{line}"
    );

    // Fixed in Notion: the next sync rewrites okrs.yaml and check passes, counting it.
    fake.with(|s| {
        *s.pages.get_mut(row_id).expect("row") =
            okr_row(row_id, "Win Mid-Market", "arr", "2026-11-02T10:00:00.000Z");
    });
    let out = cortex(project.path(), &["context", "sync", "notion"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cortex(project.path(), &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let local = read(&project_dir().join("context/okrs.yaml"))
        .lines()
        .filter(|l| l.starts_with("  - id:"))
        .count();
    assert!(
        stdout.contains(&format!("({} OKRs", local + 1)),
        "local OKRs and the Notion one: {stdout}"
    );

    // The synced page is context like strategy.md: its `## ... [id]` section is a strategy.
    let layer =
        cortex::semantic::SemanticLayer::load(&project_dir().join("metrics.yaml")).expect("layer");
    let ctx = cortex::context::Context::load(&project.path().join("context"), &layer)
        .expect("context loads");
    let s = ctx.strategy("upmarket-notion").expect("synced strategy");
    assert_eq!(s.title, "Move upmarket");
    assert!(ctx
        .okr("N1")
        .is_some_and(|o| o.notion_page.as_deref() == Some(page_url.as_str())));
}

#[test]
fn sync_without_a_token_says_how_to_connect() {
    let fake = Fake::start();
    let project = temp_project(&fake);
    let out = std::process::Command::new(cortex_bin())
        .args(["context", "sync", "notion", "--project"])
        .arg(project.path())
        .env_remove("CORTEX_NOTION_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CORTEX_NOTION_TOKEN"), "{err}");
    assert!(fake.log().is_empty());
}

// ---------------------------------------------------------------- publish

fn answer() -> cortex::answer::Answer {
    use cortex::answer::{Answer, Status};
    let mut a = Answer::new(
        "What is ARR by segment?",
        Status::Answered,
        "ARR is $150.2M.".into(),
    );
    a.skill = "metric_question".into();
    a.asker = Some("Ava Thompson".into());
    a.findings = vec!["Mid-Market is $92K short of its OKR target.".into()];
    a.recommendations = vec!["Review Mid-Market pipeline.".into()];
    a.columns = vec!["segment".into(), "arr".into()];
    a.rows = vec![
        vec![
            cortex::warehouse::Value::Text("Enterprise".into()),
            cortex::warehouse::Value::Float(1.1e8),
        ],
        vec![
            cortex::warehouse::Value::Text("SMB".into()),
            cortex::warehouse::Value::Float(1.2e7),
        ],
    ];
    a.sql = Some("SELECT 1".into());
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_creates_one_page_per_key_even_after_a_lost_response() {
    let fake = Fake::start();
    let cfg = fake.config();
    let publisher = NotionPublisher::new(NotionClient::new(&cfg).expect("client"));
    let a = answer();
    let key = publish_key("ans-1");
    let target = PublishTarget {
        database_id: PUBLISH_DB,
        permalink: Some("http://cortex.test/answers/ans-1"),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
    };
    let payload = page_payload(&a, &key, &target);

    let first = publisher.publish(&key, &payload).await.expect("published");
    let created = fake.with(|s| s.created.clone());
    assert_eq!(created.len(), 1);
    let body = &created[0];
    assert_eq!(body["parent"]["database_id"], PUBLISH_DB);
    let prop = |name: &str, path: &str| body["properties"][name].pointer(path).cloned();
    assert_eq!(
        prop("Name", "/title/0/text/content"),
        Some(json!("What is ARR by segment?"))
    );
    assert_eq!(
        prop("Asker", "/rich_text/0/text/content"),
        Some(json!("Ava Thompson"))
    );
    assert_eq!(prop("Date", "/date/start"), Some(json!("2026-11-30")));
    assert_eq!(
        prop("Skill", "/select/name"),
        Some(json!("metric_question"))
    );
    assert_eq!(prop("Status", "/select/name"), Some(json!("Answered")));
    assert_eq!(
        prop("Cortex key", "/rich_text/0/text/content"),
        Some(json!(key))
    );
    let blocks = body["children"].as_array().expect("blocks");
    let texts: Vec<String> = blocks
        .iter()
        .map(|b| {
            let kind = b["type"].as_str().unwrap_or("");
            b[kind]["rich_text"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|t| t["text"]["content"].as_str())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    for want in [
        "ARR is $150.2M.",
        "Findings",
        "Mid-Market is $92K short of its OKR target.",
        "Review Mid-Market pipeline.",
        "Provenance",
        "Open in Cortex: http://cortex.test/answers/ans-1",
    ] {
        assert!(texts.iter().any(|t| t == want), "{want:?} in {texts:?}");
    }
    let table = blocks
        .iter()
        .find(|b| b["type"] == "table")
        .expect("table block");
    assert_eq!(table["table"]["table_width"], 2);
    assert_eq!(table["table"]["children"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        table["table"]["children"][2]["table_row"]["cells"][0][0]["text"]["content"],
        "SMB"
    );
    assert_eq!(
        first["url"],
        json!(format!(
            "https://www.notion.so/{}",
            first["page_id"].as_str().expect("id").replace('-', "")
        ))
    );

    // The same key again (a retried delivery): found by its key, nothing created.
    let again = publisher.publish(&key, &payload).await.expect("again");
    assert_eq!(again, first);
    assert_eq!(fake.with(|s| s.created.len()), 1);
    let lookups: Vec<Value> = fake
        .log()
        .iter()
        .filter(|h| h.path == format!("/v1/databases/{PUBLISH_DB}/query"))
        .map(|h| h.body["filter"].clone())
        .collect();
    assert_eq!(
        lookups.last(),
        Some(&json!({"property": "Cortex key", "rich_text": {"equals": key}}))
    );

    // A crash between Notion creating the page and the bookkeeping: the response is lost
    // (here a 502 after the create), the retry finds the page instead of creating another.
    let key2 = publish_key("ans-2");
    let payload2 = page_payload(&a, &key2, &target);
    fake.fault(Fault {
        after_effect: true,
        ..fault(
            "POST",
            "/v1/pages",
            502,
            "internal_server_error",
            "Bad gateway",
        )
    });
    let err = publisher
        .publish(&key2, &payload2)
        .await
        .expect_err("lost response");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(fake.with(|s| s.created.len()), 2);
    let retried = publisher.publish(&key2, &payload2).await.expect("retry");
    assert_eq!(fake.with(|s| s.created.len()), 2, "no second page for key2");
    assert_ne!(retried["page_id"], first["page_id"]);

    // A validation error is permanent, with Notion's message.
    fake.fault(fault(
        "POST",
        "/v1/pages",
        400,
        "validation_error",
        "Skill is not a property that exists.",
    ));
    let err = publisher
        .publish(
            &publish_key("ans-3"),
            &page_payload(&a, &publish_key("ans-3"), &target),
        )
        .await
        .expect_err("400");
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains("Skill is not a property that exists."),
        "{err}"
    );
}

#[test]
fn the_token_never_appears_in_errors_or_debug_output() {
    let fake = Fake::start();
    let mut cfg = fake.config();
    assert!(!format!("{cfg:?}").contains(TOKEN));
    cfg.api_addr = Some("127.0.0.1:9".parse().expect("addr"));
    cfg.max_retries = 0;
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let client = NotionClient::new(&cfg).expect("client");
    cfg.pages = vec![PAGE_A.into()];
    let ctx = tempfile::tempdir().expect("tmp");
    let err = rt
        .block_on(cortex::notion::sync::sync(&client, &cfg, ctx.path()))
        .expect_err("nothing listens on port 9");
    assert!(err.is_retryable(), "{err}");
    assert!(!err.to_string().contains(TOKEN));
    assert!(!format!("{err:?}").contains(TOKEN));
    assert!(!format!("{client:?}").contains(TOKEN));
}

/// `[notion.okr_database]` in cortex.toml: unnamed properties keep the documented defaults.
#[test]
fn okr_database_properties_default_to_documented_names() {
    let db: OkrDatabase =
        toml::from_str("id = \"x\"\n[properties]\nmetric = \"KR metric\"\n").expect("parses");
    assert_eq!(db.properties.metric, "KR metric");
    assert_eq!(db.properties.target, "Target");
    assert_eq!(db.properties.owner_team, "Owner team");
}

// ---------------------------------------------------------------- through the outbox

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_delivers_a_notion_page_once_across_a_lost_response_and_a_crash() {
    use cortex::outbox::{Deliverers, Outbox, OutboxSettings, WriteState};
    let fake = Fake::start();
    let publisher = Arc::new(NotionPublisher::new(
        NotionClient::new(&fake.config()).expect("client"),
    ));
    let deliverers = Deliverers::new().with(publisher.clone());
    let dir = tempfile::tempdir().expect("tmp");
    let log = cortex::warehouse::AuditLog::open(&dir.path().join("state.sqlite")).expect("log");
    let outbox = Outbox::open(log)
        .expect("outbox")
        .with_settings(OutboxSettings {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(50),
        })
        .with_secrets(vec![TOKEN.into()]);
    let target = PublishTarget {
        database_id: PUBLISH_DB,
        permalink: None,
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
    };
    let a = answer();
    // Writes enqueued from here on are due at this instant.
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);

    // 1. Notion creates the page but the response is lost: the write stays pending, the next
    //    pass finds the page by its key.
    let key = publish_key("ob-1");
    fake.fault(Fault {
        after_effect: true,
        ..fault("POST", "/v1/pages", 503, "service_unavailable", "Try again")
    });
    outbox
        .enqueue(
            cortex::notion::publish::KIND,
            &key,
            &page_payload(&a, &key, &target),
        )
        .expect("enqueue");
    assert_eq!(outbox.deliver_due(&deliverers, now).await.expect("pass"), 1);
    let w = outbox.get(&key).expect("get").expect("write");
    assert_eq!(w.state, WriteState::Pending);
    assert!(
        w.last_error.as_deref().unwrap_or("").contains("Try again"),
        "{w:?}"
    );
    let later = now + chrono::Duration::seconds(60);
    outbox.deliver_due(&deliverers, later).await.expect("pass");
    let w = outbox.get(&key).expect("get").expect("write");
    assert_eq!(w.state, WriteState::Done, "{w:?}");
    assert_eq!(fake.with(|s| s.created.len()), 1, "one page for the key");
    let page_id = fake.with(|s| {
        s.pages
            .values()
            .find(|p| key_of(p).as_deref() == Some(key.as_str()))
            .and_then(|p| p["id"].as_str().map(str::to_string))
    });
    assert_eq!(
        w.result.as_ref().map(|r| r["page_id"].clone()),
        Some(json!(page_id))
    );

    // 2. A process that created the page and died before marking the write: the write is
    //    delivered again after restart, and finds the page instead of creating another.
    let key2 = publish_key("ob-2");
    let payload2 = page_payload(&a, &key2, &target);
    let created = publisher
        .publish(&key2, &payload2)
        .await
        .expect("created before the crash");
    outbox
        .enqueue(cortex::notion::publish::KIND, &key2, &payload2)
        .expect("enqueue");
    outbox.deliver_due(&deliverers, later).await.expect("pass");
    let w = outbox.get(&key2).expect("get").expect("write");
    assert_eq!(w.state, WriteState::Done);
    assert_eq!(w.result, Some(created));
    assert_eq!(fake.with(|s| s.created.len()), 2, "still one page per key");

    // 3. Enqueueing the same key again (a double click) is a no-op.
    let again = outbox
        .enqueue(cortex::notion::publish::KIND, &key2, &payload2)
        .expect("enqueue");
    assert!(again.existing);

    // 4. A validation error is a dead letter at once, with Notion's message.
    let key3 = publish_key("ob-3");
    fake.fault(fault(
        "POST",
        "/v1/pages",
        400,
        "validation_error",
        "Status is not a property that exists.",
    ));
    outbox
        .enqueue(
            cortex::notion::publish::KIND,
            &key3,
            &page_payload(&a, &key3, &target),
        )
        .expect("enqueue");
    outbox.deliver_due(&deliverers, later).await.expect("pass");
    let w = outbox.get(&key3).expect("get").expect("write");
    assert_eq!(w.state, WriteState::Dead);
    assert!(
        w.last_error
            .as_deref()
            .unwrap_or("")
            .contains("Status is not a property that exists."),
        "{w:?}"
    );
    assert!(fake.log().iter().all(|h| h.authorized));
}

#[test]
fn cortex_ask_publish_notion_prints_the_page_url() {
    let fake = Fake::start();
    let project = temp_project(&fake);
    let toml = project.path().join("cortex.toml");
    let text = read(&toml).replace(
        "[notion]\n",
        &format!(
            "[notion]\npublish_database = \"{}\"\n",
            PUBLISH_DB.replace('-', "")
        ),
    );
    std::fs::write(&toml, text).expect("toml");
    let out = std::process::Command::new(cortex_bin())
        .args([
            "ask",
            "What is ARR by segment?",
            "--publish",
            "notion",
            "--today",
            "2026-11-20",
            "--project",
        ])
        .arg(project.path())
        .env("CORTEX_NOTION_TOKEN", TOKEN)
        .env("CORTEX_WAREHOUSE", crate::helpers::demo_warehouse())
        .env("CORTEX_STATE_DB", project.path().join("state.sqlite"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{stderr}");
    let created = fake.with(|s| s.created.clone());
    assert_eq!(created.len(), 1, "{stderr}");
    let page = fake.with(|s| {
        s.pages
            .values()
            .find(|p| p["parent"]["database_id"] == PUBLISH_DB)
            .cloned()
            .expect("page in the publish database")
    });
    let url = page["url"].as_str().expect("url");
    assert!(
        stderr.contains(&format!("published to Notion: {url}")),
        "{stderr}"
    );
    let key = key_of(&page).expect("key");
    assert!(key.starts_with("notion.page:answer:"), "{key}");
    assert_eq!(
        created[0]["properties"]["Date"]["date"]["start"],
        "2026-11-20"
    );
    // The link back is the answer's permalink on the web site.
    let answer_id = key.trim_start_matches("notion.page:answer:");
    let link = created[0]["children"]
        .as_array()
        .expect("blocks")
        .iter()
        .find_map(|b| b["paragraph"]["rich_text"][1]["text"]["link"]["url"].as_str())
        .expect("link block");
    assert!(link.ends_with(&format!("/a/{answer_id}")), "{link}");
    // The answer itself still goes to stdout.
    assert!(stdout.to_lowercase().contains("arr"), "{stdout}");
}

/// "Publish to Notion" on the web answer page: one page per answer (a second click finds
/// it), the link shown on the page, and only for people who may see the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_answer_page_publishes_to_notion_once_and_shows_the_link() {
    let fake = Fake::start();
    let state = tempfile::tempdir().expect("tmp");
    let mut config = crate::websec::demo_config(&state);
    config.server.default_user = "local".into();
    config.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    config.notion = Some(NotionConfig {
        publish_database: Some(PUBLISH_DB.into()),
        ..fake.config()
    });
    let site = crate::websec::start(config, Some(state)).await;
    // `cortex serve` runs the outbox; here the test does.
    tokio::spawn(
        site.server
            .svc
            .outbox
            .clone()
            .run(site.server.deliverers.clone(), std::future::pending()),
    );
    let as_user = |email: &str| vec![("x-forwarded-user".to_string(), email.to_string())];
    let admin = site.browser(as_user("noor.haddad@example.com")).await;
    site.ask(&admin, "What's our ARR by segment?").await;
    let id = site
        .server
        .svc
        .state
        .recent_answers(Some("web:noor.haddad@example.com"), 1)
        .expect("answers")
        .first()
        .expect("recorded")
        .id
        .clone();
    let (s, _, page) = site
        .get(&format!("/a/{id}"), &as_user("noor.haddad@example.com"))
        .await;
    assert_eq!(s, 200);
    let action = format!("/a/{id}/notion");
    assert!(page.contains(&action), "no Publish to Notion form: {page}");

    let post = |b: &crate::websec::Browser, token: String| {
        let http = reqwest::Client::new();
        let mut r = http
            .post(format!("{}{action}", site.url))
            .header("cookie", &b.cookie)
            .header("origin", &site.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}"));
        for (k, v) in &b.headers {
            r = r.header(k, v);
        }
        r.send()
    };
    // A CSM may not see the admin's answer, so may not publish it.
    let csm = site.browser(as_user("ava.thompson@example.com")).await;
    let r = post(&csm, csm.token.clone()).await.expect("post");
    assert_eq!(r.status().as_u16(), 404);
    // Without the form's token: refused.
    let r = post(&admin, String::new()).await.expect("post");
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(count(&fake.log(), "POST", "/v1/pages"), 0);

    let r = post(&admin, admin.token.clone()).await.expect("post");
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.expect("body");
    assert!(body.contains("Published:"), "{body}");
    assert!(body.contains("https://www.notion.so/"), "{body}");
    // A second click is the same write: no second page.
    let r = post(&admin, admin.token.clone()).await.expect("post");
    assert!(r.text().await.expect("body").contains("Published:"));
    assert_eq!(count(&fake.log(), "POST", "/v1/pages"), 1);
    let created = fake.with(|s| {
        s.log
            .iter()
            .find(|h| h.method == "POST" && h.path == "/v1/pages")
            .map(|h| h.body.clone())
    });
    let created = created.expect("a create");
    assert_eq!(
        created["parent"]["database_id"].as_str(),
        Some(PUBLISH_DB),
        "{created}"
    );
    assert!(
        created.to_string().contains(&format!("/a/{id}")),
        "no link back: {created}"
    );
    // The answer page now shows the link instead of the form.
    let (_, _, page) = site
        .get(&format!("/a/{id}"), &as_user("noor.haddad@example.com"))
        .await;
    assert!(
        page.contains("Published: <a href=\"https://www.notion.so/"),
        "{page}"
    );
    assert!(!page.contains(&format!("action=\"{action}\"")), "{page}");
}

/// "Publish to Notion" under a Slack answer: one page, its link posted in the thread, and a
/// second click (or a retried Slack request) makes no second page and no second post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_button_publishes_once_and_links_the_page_in_the_thread() {
    use crate::slack_bot::{button_value, click_payload, mention, start_bot_with, start_fake};
    let fake = Fake::start();
    let slack = start_fake().await;
    let cfg = NotionConfig {
        publish_database: Some(PUBLISH_DB.into()),
        ..fake.config()
    };
    let bot = start_bot_with(&slack, None, None, move |c| c.notion = Some(cfg)).await;
    tokio::spawn(
        bot.server
            .svc
            .outbox
            .clone()
            .run(bot.server.deliverers.clone(), std::future::pending()),
    );
    let thread = "1600000077.000100";
    bot.event(&mention("What's our ARR by segment?", "EvN1", thread, None))
        .await;
    bot.idle().await;
    let answer_msg = slack
        .calls("chat.update")
        .into_iter()
        .last()
        .expect("the answer");
    let answer_id = button_value(&answer_msg, "cortex_publish_notion");
    let mut click = click_payload("cortex_publish_notion", &answer_id);
    click["message"] =
        json!({"ts": answer_msg.body["ts"], "thread_ts": thread, "text": "x", "type": "message"});
    let posts_before = slack.calls("chat.postMessage").len();
    assert_eq!(bot.click_with(&click).await, 200);
    bot.idle().await;
    assert_eq!(bot.click_with(&click).await, 200);
    bot.idle().await;
    assert_eq!(count(&fake.log(), "POST", "/v1/pages"), 1, "one page");
    let posts: Vec<_> = slack.calls("chat.postMessage")[posts_before..]
        .iter()
        .filter(|c| {
            c.body["text"]
                .as_str()
                .unwrap_or("")
                .contains("Published to Notion")
        })
        .cloned()
        .collect();
    assert_eq!(posts.len(), 1, "the link is posted once: {posts:?}");
    assert_eq!(posts[0].body["thread_ts"], json!(thread));
    assert!(
        posts[0].body["text"]
            .as_str()
            .unwrap_or("")
            .contains("https://www.notion.so/"),
        "{:?}",
        posts[0].body
    );
}
