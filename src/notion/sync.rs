//! `cortex context sync notion`: the configured pages and databases into `context/notion/`.
//!
//! - A page becomes `<slug>.md`: YAML front matter (`notion_id`, `url`, `last_edited_time`,
//!   `title`) and its blocks as markdown.
//! - A database's rows each become a page file, their properties listed before the content.
//! - The OKR database becomes `okrs.yaml` in okrs.yaml's format, each OKR naming its page;
//!   the context loader merges it with `context/okrs.yaml` and `cortex check` validates it.
//!
//! Incremental: `.sync.json` keeps each page's `last_edited_time` and each database's
//! cursor (the newest `last_edited_time` seen). A page is fetched again only when Notion
//! reports a newer edit; a database is queried only for rows edited since its cursor.
//! Nothing is written until every source was read, and each file is replaced atomically
//! (temp file + rename), so a failed sync leaves the previous files as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use notion_client::endpoints::databases::query::request::{
    DateCondition, Filter, FilterType, QueryDatabaseRequest, Timestamp, TimestampCondition,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::markdown::{self, Node};
use super::{normalize_id, NotionClient, NotionError, OkrDatabase};
use crate::config::NotionConfig;
use crate::context::Okr;

/// The directory under `context/` that synced files go to.
pub const DIR: &str = "notion";
/// The synced OKRs, in okrs.yaml's format.
pub const OKR_FILE: &str = "okrs.yaml";
const STATE_FILE: &str = ".sync.json";
/// Children are fetched this deep (nested list items, toggles, table rows).
const MAX_DEPTH: usize = 3;

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SyncReport {
    /// Pages (and database rows) fetched because they were new or edited.
    pub fetched: Vec<String>,
    /// Pages skipped because Notion reports no edit since the last sync.
    pub unchanged: usize,
    /// OKRs written to `context/notion/okrs.yaml`.
    pub okrs: Option<usize>,
    /// Files written.
    pub written: Vec<PathBuf>,
}

/// `.sync.json`: where each source stood at the last sync.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SyncState {
    /// Page (or row) id -> what was synced.
    #[serde(default)]
    pages: BTreeMap<String, PageState>,
    /// Database id -> the newest `last_edited_time` of its rows seen so far.
    #[serde(default)]
    databases: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageState {
    last_edited_time: String,
    file: String,
}

/// Front matter of a synced file.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct FrontMatter {
    pub notion_id: String,
    pub url: String,
    pub last_edited_time: String,
    pub title: String,
    /// The database a row came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// Splits a synced file into its front matter and markdown body.
pub fn split_front_matter(src: &str) -> (Option<FrontMatter>, &str) {
    if let Some(rest) = src.strip_prefix("---\n") {
        if let Some(end) = rest.find("\n---\n") {
            let fm = serde_norway::from_str(&rest[..end]).ok();
            return (fm, &rest[end + 5..]);
        }
    }
    (None, src)
}

/// Syncs every configured page and database into `<context_dir>/notion/`.
pub async fn sync(
    client: &NotionClient,
    cfg: &NotionConfig,
    context_dir: &Path,
) -> Result<SyncReport, NotionError> {
    let dir = context_dir.join(DIR);
    let state_path = dir.join(STATE_FILE);
    let mut state: SyncState = match std::fs::read_to_string(&state_path) {
        Ok(s) => serde_json::from_str(&s).unwrap_or_default(),
        Err(_) => SyncState::default(),
    };
    let mut report = SyncReport::default();
    let mut writes: Vec<(String, String)> = Vec::new();
    let mut taken: BTreeSet<String> = state.pages.values().map(|p| p.file.clone()).collect();
    taken.insert(OKR_FILE.into());

    for raw in &cfg.pages {
        let id = parse_id("page", raw)?;
        let page = client
            .read(&format!("page {id}"), || {
                client.api().pages.retrieve_a_page(&id, None)
            })
            .await?;
        let page = to_json(&page, &id)?;
        sync_page(
            client,
            &dir,
            &page,
            None,
            &mut state,
            &mut taken,
            &mut writes,
            &mut report,
        )
        .await?;
    }

    for raw in &cfg.databases {
        let db = parse_id("database", raw)?;
        let since = state.databases.get(&db).cloned();
        let rows = query_all(client, &db, since.as_deref()).await?;
        for row in &rows {
            if row["in_trash"] == Value::Bool(true) || row["archived"] == Value::Bool(true) {
                continue;
            }
            sync_page(
                client,
                &dir,
                row,
                Some(&db),
                &mut state,
                &mut taken,
                &mut writes,
                &mut report,
            )
            .await?;
        }
        if let Some(newest) = rows
            .iter()
            .filter_map(|r| r["last_edited_time"].as_str())
            .max()
            .map(str::to_string)
        {
            let keep = since.filter(|s| *s > newest);
            state.databases.insert(db, keep.unwrap_or(newest));
        }
    }

    if let Some(okr_db) = &cfg.okr_database {
        let db = parse_id("OKR database", &okr_db.id)?;
        // OKR rows are small (properties only): read the whole database every time.
        let rows = query_all(client, &db, None).await?;
        let okrs = okrs_from_rows(okr_db, &rows)?;
        report.okrs = Some(okrs.len());
        writes.push((OKR_FILE.into(), okrs_yaml(&okrs)?));
    }

    // Everything was read: now write, each file atomically, the state last.
    if !writes.is_empty() || !state_path.exists() {
        std::fs::create_dir_all(&dir).map_err(|source| NotionError::Io {
            path: dir.clone(),
            source,
        })?;
    }
    for (name, text) in &writes {
        let path = dir.join(name);
        write_atomic(&path, text)?;
        report.written.push(path);
    }
    let state_text = serde_json::to_string_pretty(&state)
        .map_err(|e| NotionError::Config(format!("cannot encode the sync state: {e}")))?;
    write_atomic(&state_path, &state_text)?;
    Ok(report)
}

fn parse_id(what: &str, raw: &str) -> Result<String, NotionError> {
    normalize_id(raw).ok_or_else(|| {
        NotionError::Config(format!(
            "{what} {raw:?} is not a Notion id (32 hex characters from its URL)"
        ))
    })
}

fn to_json<T: Serialize>(v: &T, what: &str) -> Result<Value, NotionError> {
    serde_json::to_value(v).map_err(|e| NotionError::Decode {
        what: what.to_string(),
        message: e.to_string(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn sync_page(
    client: &NotionClient,
    dir: &Path,
    page: &Value,
    database: Option<&str>,
    state: &mut SyncState,
    taken: &mut BTreeSet<String>,
    writes: &mut Vec<(String, String)>,
    report: &mut SyncReport,
) -> Result<(), NotionError> {
    let id = page["id"].as_str().unwrap_or_default().to_string();
    let edited = page["last_edited_time"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let title = markdown::page_title(&page["properties"]);
    if let Some(prev) = state.pages.get(&id) {
        if prev.last_edited_time == edited && dir.join(&prev.file).exists() {
            report.unchanged += 1;
            return Ok(());
        }
    }
    let label = format!("page {title:?} ({id})");
    let nodes = children(client, &id, &label, 0).await?;
    let mut body = String::new();
    if database.is_some() {
        // A row: its properties first, title excluded.
        let mut props: Vec<(String, String)> = page["properties"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, p)| p["type"] != "title")
                    .map(|(k, p)| (k.clone(), markdown::property_text(p)))
                    .filter(|(_, v)| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        props.sort();
        for (k, v) in props {
            body.push_str(&format!("- **{k}**: {v}\n"));
        }
        body.push('\n');
    }
    body.push_str(&markdown::blocks_to_markdown(&nodes));
    let file = match state.pages.get(&id) {
        Some(prev) => prev.file.clone(),
        None => {
            let mut name = format!("{}.md", markdown::slug(&title));
            if taken.contains(&name) {
                name = format!(
                    "{}-{}.md",
                    markdown::slug(&title),
                    id.chars().filter(|c| *c != '-').take(8).collect::<String>()
                );
            }
            taken.insert(name.clone());
            name
        }
    };
    let fm = FrontMatter {
        notion_id: id.clone(),
        url: page["url"].as_str().unwrap_or_default().to_string(),
        last_edited_time: edited.clone(),
        title: title.clone(),
        database: database.map(str::to_string),
    };
    let fm_text = serde_norway::to_string(&fm)
        .map_err(|e| NotionError::Config(format!("cannot write front matter: {e}")))?;
    let heading = if body.trim_start().starts_with("# ") {
        String::new()
    } else {
        format!("# {title}\n\n")
    };
    writes.push((file.clone(), format!("---\n{fm_text}---\n{heading}{body}")));
    report.fetched.push(title);
    state.pages.insert(
        id,
        PageState {
            last_edited_time: edited,
            file,
        },
    );
    Ok(())
}

type Children<'a> = Pin<Box<dyn Future<Output = Result<Vec<Node>, NotionError>> + Send + 'a>>;

/// Every child block of `block_id`, all pages of them, with nested children.
fn children<'a>(
    client: &'a NotionClient,
    block_id: &'a str,
    label: &'a str,
    depth: usize,
) -> Children<'a> {
    Box::pin(async move {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let resp = client
                .read(label, || {
                    client.api().blocks.retrieve_block_children(
                        block_id,
                        cursor.as_deref(),
                        Some(100),
                    )
                })
                .await?;
            for b in &resp.results {
                let block = to_json(b, label)?;
                let nested = if block["has_children"] == Value::Bool(true)
                    && depth < MAX_DEPTH
                    && block["type"] != "child_page"
                    && block["type"] != "child_database"
                {
                    let child_id = block["id"].as_str().unwrap_or_default().to_string();
                    children(client, &child_id, label, depth + 1).await?
                } else {
                    Vec::new()
                };
                out.push(Node {
                    block,
                    children: nested,
                });
            }
            match (resp.has_more, resp.next_cursor) {
                (true, Some(next)) => cursor = Some(next),
                _ => break,
            }
        }
        Ok(out)
    })
}

/// Every row of a database (rows edited on or after `since` when given), all pages.
async fn query_all(
    client: &NotionClient,
    db: &str,
    since: Option<&str>,
) -> Result<Vec<Value>, NotionError> {
    let label = format!("database {db}");
    let filter = match since {
        Some(s) => {
            let at = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| NotionError::Config(format!("bad sync cursor {s:?}: {e}")))?
                .with_timezone(&chrono::Utc);
            Some(Filter::Value {
                filter_type: FilterType::Timestamp {
                    timestamp: Timestamp::LastEditedTime,
                    condition: TimestampCondition::LastEditedTime(DateCondition::OnOrAfter(at)),
                },
            })
        }
        None => None,
    };
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let request = QueryDatabaseRequest {
            filter: filter.clone(),
            sorts: None,
            start_cursor: cursor.clone(),
            page_size: Some(100),
        };
        let resp = client
            .read(&label, || {
                client.api().databases.query_a_database(db, request.clone())
            })
            .await?;
        for page in &resp.results {
            rows.push(to_json(page, &label)?);
        }
        match (resp.has_more, resp.next_cursor) {
            (true, Some(next)) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(rows)
}

/// The OKR database's rows as OKRs; every row's problems are reported together, each
/// naming its page.
pub fn okrs_from_rows(db: &OkrDatabase, rows: &[Value]) -> Result<Vec<Okr>, NotionError> {
    let p = &db.properties;
    let mut okrs = Vec::new();
    let mut problems = Vec::new();
    for row in rows {
        if row["in_trash"] == Value::Bool(true) || row["archived"] == Value::Bool(true) {
            continue;
        }
        let props = &row["properties"];
        let url = row["url"].as_str().unwrap_or_default().to_string();
        let title = markdown::page_title(props);
        let text = |name: &str| {
            props
                .get(name)
                .map(markdown::property_text)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let mut bad = |msg: String| problems.push(format!("OKR page {title:?} ({url}): {msg}"));
        let mut required = |name: &str| {
            let v = text(name);
            if v.is_empty() {
                bad(format!("property {name:?} is empty or missing"));
            }
            v
        };
        let id = required(&p.id);
        let metric = required(&p.metric);
        let owner_team = required(&p.owner_team);
        let target_text = required(&p.target);
        let start_text = required(&p.start);
        let due_text = required(&p.due);
        let objective = text(&p.title);
        let target = target_text.replace([',', '_'], "").parse::<f64>();
        let date =
            |s: &str| chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d");
        let (start, due) = (date(&start_text), date(&due_text));
        if !target_text.is_empty() && target.is_err() {
            bad(format!("target {target_text:?} is not a number"));
        }
        if !start_text.is_empty() && start.is_err() {
            bad(format!("start {start_text:?} is not a date"));
        }
        if !due_text.is_empty() && due.is_err() {
            bad(format!("due {due_text:?} is not a date"));
        }
        let mut segment_targets = BTreeMap::new();
        // "Enterprise: 112,000,000, SMB: 12000000": a piece without a colon continues
        // the number before it.
        let mut parts: Vec<String> = Vec::new();
        for piece in text(&p.segment_targets).split([',', ';', '\n']) {
            match parts.last_mut() {
                Some(last) if !piece.contains(':') && !piece.trim().is_empty() => {
                    last.push_str(piece.trim())
                }
                _ => parts.push(piece.to_string()),
            }
        }
        for part in &parts {
            if part.trim().is_empty() {
                continue;
            }
            match part.split_once(':').map(|(k, v)| {
                (
                    k.trim().to_string(),
                    v.trim().replace([',', '_'], "").parse::<f64>(),
                )
            }) {
                Some((k, Ok(v))) if !k.is_empty() => {
                    segment_targets.insert(k, v);
                }
                _ => bad(format!(
                    "segment target {:?} is not `Segment: number`",
                    part.trim()
                )),
            }
        }
        let strategies: Vec<String> = text(&p.strategies)
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if let (Ok(target), Ok(start), Ok(due)) = (target, start, due) {
            if !id.is_empty() && !metric.is_empty() && !owner_team.is_empty() {
                okrs.push(Okr {
                    id,
                    title: if objective.is_empty() {
                        title.clone()
                    } else {
                        objective
                    },
                    metric,
                    target,
                    start,
                    due,
                    segment_targets,
                    owner_team,
                    strategies,
                    notion_page: Some(url),
                });
            }
        }
    }
    if problems.is_empty() {
        okrs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(okrs)
    } else {
        Err(NotionError::Validation {
            what: "the OKR database".into(),
            message: problems.join("; "),
        })
    }
}

fn okrs_yaml(okrs: &[Okr]) -> Result<String, NotionError> {
    #[derive(Serialize)]
    struct File<'a> {
        okrs: &'a [Okr],
    }
    let body = serde_norway::to_string(&File { okrs })
        .map_err(|e| NotionError::Config(format!("cannot write okrs.yaml: {e}")))?;
    Ok(format!(
        "# Synced from Notion by `cortex context sync notion`; edit the OKR database, not this file.\n{body}"
    ))
}

/// Writes `text` to `path` through a temp file in the same directory and a rename.
fn write_atomic(path: &Path, text: &str) -> Result<(), NotionError> {
    let io = |source| NotionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(title: &str, props: Value) -> Value {
        let mut p = props;
        p["Objective"] = json!({"type": "title", "title": [{"type": "text", "plain_text": title}]});
        json!({"id": "r1", "url": format!("https://www.notion.so/{}", markdown::slug(title)), "properties": p})
    }
    fn t(s: &str) -> Value {
        json!({"type": "rich_text", "rich_text": [{"type": "text", "plain_text": s}]})
    }

    #[test]
    fn okr_rows_map_and_bad_rows_name_their_page() {
        let db = OkrDatabase {
            id: "x".into(),
            properties: Default::default(),
        };
        let good = row(
            "Grow ARR",
            json!({
                "ID": t("1"), "Metric": {"type": "select", "select": {"name": "arr"}},
                "Target": {"type": "number", "number": 155000000.0},
                "Start": {"type": "date", "date": {"start": "2026-01-01"}},
                "Due": {"type": "date", "date": {"start": "2026-12-31"}},
                "Owner team": t("Revenue"),
                "Strategies": {"type": "multi_select", "multi_select": [{"name": "move-upmarket"}]},
                "Segment targets": t("Enterprise: 112,000,000; SMB: 12000000"),
            }),
        );
        let okrs = okrs_from_rows(&db, std::slice::from_ref(&good)).expect("maps");
        assert_eq!(okrs.len(), 1);
        assert_eq!(okrs[0].metric, "arr");
        assert_eq!(okrs[0].target, 155_000_000.0);
        assert_eq!(okrs[0].segment_targets["Enterprise"], 112_000_000.0);
        assert_eq!(okrs[0].strategies, vec!["move-upmarket"]);
        assert_eq!(
            okrs[0].notion_page.as_deref(),
            Some("https://www.notion.so/grow-arr")
        );
        let bad = row(
            "Bad target",
            json!({"ID": t("2"), "Metric": t("arr"), "Target": t("lots"),
                   "Start": {"type": "date", "date": {"start": "2026-01-01"}},
                   "Due": {"type": "date", "date": null}, "Owner team": t("Revenue")}),
        );
        let err = okrs_from_rows(&db, &[good, bad])
            .expect_err("bad row")
            .to_string();
        assert!(err.contains("OKR page \"Bad target\""), "{err}");
        assert!(err.contains("target \"lots\" is not a number"), "{err}");
        assert!(err.contains("\"Due\" is empty"), "{err}");
    }

    #[test]
    fn front_matter_round_trips() {
        let fm = FrontMatter {
            notion_id: "a-b".into(),
            url: "https://www.notion.so/x".into(),
            last_edited_time: "2026-11-01T10:00:00.000Z".into(),
            title: "Strategy: \"2026\"".into(),
            database: None,
        };
        let text = format!(
            "---\n{}---\n# Body\n",
            serde_norway::to_string(&fm).expect("yaml")
        );
        let (back, body) = split_front_matter(&text);
        assert_eq!(back, Some(fm));
        assert_eq!(body, "# Body\n");
    }
}
