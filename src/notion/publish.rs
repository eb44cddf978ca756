//! Publishing an answer to Notion: a page in the `publish_database`.
//!
//! [`page_payload`] is a pure function of the [`Answer`]: the page's properties and blocks as
//! Notion JSON, stored in the outbox as is. [`NotionPublisher::publish`] performs one
//! delivery of it, idempotently: it first looks for a page whose "Cortex key" property holds
//! the write's key (a page created before a crash, or by an earlier attempt) and returns it
//! instead of creating a second one.
//!
//! The database needs these properties: `Name` (title), `Asker` (text), `Date` (date),
//! `Skill` (select), `Status` (select) and `Cortex key` (text).

use std::collections::BTreeMap;

use notion_client::endpoints::databases::query::request::{
    Filter, FilterType, PropertyCondition, QueryDatabaseRequest, RichTextCondition,
};
use notion_client::endpoints::pages::create::request::CreateAPageRequest;
use notion_client::objects::block::Block;
use notion_client::objects::page::PageProperty;
use notion_client::objects::parent::Parent;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{normalize_id, NotionClient, NotionError};
use crate::answer::model::{Answer, Role, Section, Status};

/// The outbox kind of a Notion page write.
pub const KIND: &str = "notion.page";
/// The rich-text property holding the idempotency key.
pub const KEY_PROPERTY: &str = "Cortex key";
/// Notion takes at most 100 blocks in one request and 2000 characters in one text.
const MAX_BLOCKS: usize = 100;
const MAX_TEXT: usize = 2000;
/// Table rows published (the header row is one more).
const MAX_TABLE_ROWS: usize = 50;

/// Where the page goes and what it links to.
#[derive(Debug, Clone)]
pub struct PublishTarget<'a> {
    /// The `publish_database` id.
    pub database_id: &'a str,
    /// The answer's permalink on the web site, `{public_url}/a/{id}`.
    pub permalink: Option<&'a str>,
    /// The page's date (the answer's `today`).
    pub date: chrono::NaiveDate,
}

fn text(s: &str) -> Value {
    let s: String = s.chars().take(MAX_TEXT).collect();
    json!({"type": "text", "text": {"content": s}})
}

fn link(s: &str, url: &str) -> Value {
    json!({"type": "text", "text": {"content": s, "link": {"url": url}}})
}

fn block(kind: &str, rich: Vec<Value>) -> Value {
    json!({"object": "block", "type": kind, kind: {"rich_text": rich, "color": "default"}})
}

/// The idempotency key of publishing an answer: the same answer published twice is one page.
pub fn publish_key(answer_id: &str) -> String {
    format!("notion.page:answer:{answer_id}")
}

/// The page to create for an answer: `{parent, properties, children}` as Notion JSON.
pub fn page_payload(a: &Answer, key: &str, target: &PublishTarget<'_>) -> Value {
    let title = if a.title.is_empty() {
        a.question.clone()
    } else {
        a.title.clone()
    };
    let status = match a.status {
        Status::Answered => "Answered",
        Status::Clarify => "Clarify",
        Status::Unanswerable => "Unanswerable",
        Status::Error => "Error",
    };
    let properties = json!({
        "Name": {"type": "title", "title": [text(&title)]},
        "Asker": {"type": "rich_text", "rich_text": [text(a.asker.as_deref().unwrap_or("unknown"))]},
        "Date": {"type": "date", "date": {"start": target.date.format("%Y-%m-%d").to_string()}},
        "Skill": {"type": "select", "select": {"name": a.skill}},
        "Status": {"type": "select", "select": {"name": status}},
        KEY_PROPERTY: {"type": "rich_text", "rich_text": [text(key)]},
    });
    let mut children = vec![
        block("quote", vec![text(&format!("Question: {}", a.question))]),
        block("paragraph", vec![text(a.lead())]),
    ];
    if let Some(url) = target.permalink {
        children.push(block(
            "paragraph",
            vec![text("Open in Cortex: "), link(url, url)],
        ));
    }
    for (heading, items) in [
        ("Findings", &a.findings),
        ("Recommendations", &a.recommendations),
        ("Risks", &a.risks),
    ] {
        if !items.is_empty() {
            children.push(block("heading_3", vec![text(heading)]));
            children.extend(
                items
                    .iter()
                    .map(|i| block("bulleted_list_item", vec![text(i)])),
            );
        }
    }
    children.extend(table_blocks(a));
    children.push(block("heading_3", vec![text("Provenance")]));
    children.extend(
        provenance_lines(a)
            .iter()
            .map(|l| block("bulleted_list_item", vec![text(l)])),
    );
    children.truncate(MAX_BLOCKS);
    json!({
        "parent": {"type": "database_id", "database_id": target.database_id},
        "properties": properties,
        "children": children,
    })
}

/// The answer's tables as shown (each table section; the main result when it has none),
/// as Notion tables: a header row, then the rows as the renderers show them.
fn table_blocks(a: &Answer) -> Vec<Value> {
    let mut out = Vec::new();
    for s in &a.sections {
        if let Section::Table(t) = s {
            if t.rows.is_empty() {
                continue;
            }
            if let Some(title) = &t.title {
                out.push(block("heading_3", vec![text(title)]));
            }
            let header = t.columns.iter().map(|c| c.label.clone()).collect();
            let rows = t.rows.iter().map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        crate::render::text::cell(
                            v,
                            t.columns.get(i).map_or(Role::Text, |c| c.role),
                        )
                    })
                    .collect()
            });
            out.extend(table(header, rows, t.rows.len()));
        }
    }
    if out.is_empty() && !a.columns.is_empty() && !a.rows.is_empty() {
        let roles: BTreeMap<&str, &crate::semantic::ColumnRole> = a
            .column_meta
            .iter()
            .map(|c| (c.name.as_str(), &c.role))
            .collect();
        let rows = a.rows.iter().map(|r| {
            a.columns
                .iter()
                .zip(r)
                .map(|(c, v)| crate::format::cell(v, roles.get(c.as_str()).copied()))
                .collect()
        });
        out.extend(table(a.columns.clone(), rows, a.rows.len()));
    }
    out
}

fn table(header: Vec<String>, rows: impl Iterator<Item = Vec<String>>, total: usize) -> Vec<Value> {
    let width = header.len();
    let row = |mut cells: Vec<String>| {
        cells.resize(width, String::new());
        json!({"object": "block", "type": "table_row",
               "table_row": {"cells": cells.iter().map(|c| vec![text(c)]).collect::<Vec<_>>()}})
    };
    let mut children = vec![row(header)];
    children.extend(rows.take(MAX_TABLE_ROWS).map(row));
    let mut out = vec![json!({"object": "block", "type": "table", "table": {
        "table_width": width, "has_column_header": true, "has_row_header": false,
        "children": children}})];
    if total > MAX_TABLE_ROWS {
        out.push(block(
            "paragraph",
            vec![text(&format!(
                "First {MAX_TABLE_ROWS} of {total} rows; the full table is in Cortex."
            ))],
        ));
    }
    out
}

/// Metrics with their definitions, filters, period, data freshness and the SQL's hash.
fn provenance_lines(a: &Answer) -> Vec<String> {
    let p = &a.provenance;
    let mut out = Vec::new();
    for m in &p.metrics {
        out.push(format!(
            "Metric: {} ({}): {}",
            m.label, m.name, m.description
        ));
    }
    if !p.filters.is_empty() {
        out.push(format!("Filters: {}", p.filters.join(", ")));
    }
    if let Some(period) = &p.period {
        out.push(format!("Period: {period}"));
    }
    if let Some(d) = p.data_freshness {
        out.push(format!("Data as of {d}"));
    }
    if let Some(sql) = &a.sql {
        let hash = Sha256::digest(sql.as_bytes());
        let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
        out.push(format!("SQL hash: {hex}"));
    }
    out.push(format!("Skill: {}", a.skill));
    out
}

/// Queues the Notion page of a recorded answer in the outbox: the one path `cortex ask
/// --publish notion`, the Slack button and the web action share. Returns the write's key
/// (`outbox.get(key)` / `outbox.wait_done(key, ..)` give the page's `{page_id, url}`).
/// Queueing the same answer again is a no-op.
pub fn enqueue_answer(
    outbox: &crate::outbox::Outbox,
    config: &crate::config::Config,
    answer: &Answer,
    answer_id: &str,
    today: chrono::NaiveDate,
) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let database_id = config
        .notion
        .as_ref()
        .context("Notion is not connected: set CORTEX_NOTION_TOKEN and [notion] publish_database")?
        .publish_database
        .as_deref()
        .context("set [notion] publish_database in cortex.toml to publish answers")?;
    let permalink = format!("{}/a/{answer_id}", config.server.base_url());
    let key = publish_key(answer_id);
    let target = PublishTarget {
        database_id,
        permalink: Some(&permalink),
        date: today,
    };
    outbox.enqueue(KIND, &key, &page_payload(answer, &key, &target))?;
    Ok(key)
}

/// Creates pages in Notion from outbox payloads.
#[derive(Debug, Clone)]
pub struct NotionPublisher {
    client: NotionClient,
}

impl NotionPublisher {
    /// A publisher over this client.
    pub fn new(client: NotionClient) -> NotionPublisher {
        NotionPublisher { client }
    }

    /// Delivers one payload from [`page_payload`]: returns `{page_id, url}` of the page
    /// holding `key`, creating it only when the database has none. Errors say whether a retry
    /// may help ([`NotionError::is_retryable`], [`NotionError::retry_after`]).
    pub async fn publish(&self, key: &str, payload: &Value) -> Result<Value, NotionError> {
        let bad = |m: String| NotionError::Validation {
            what: "the page to publish".into(),
            message: m,
        };
        let db = payload["parent"]["database_id"]
            .as_str()
            .and_then(normalize_id)
            .ok_or_else(|| bad("no publish database id".into()))?;
        if let Some(page) = self.find(&db, key).await? {
            return Ok(page);
        }
        let properties: BTreeMap<String, PageProperty> =
            serde_json::from_value(payload["properties"].clone())
                .map_err(|e| bad(format!("properties: {e}")))?;
        let children: Vec<Block> = serde_json::from_value(payload["children"].clone())
            .map_err(|e| bad(format!("blocks: {e}")))?;
        let request = CreateAPageRequest {
            parent: Parent::DatabaseId {
                database_id: db.clone(),
            },
            icon: None,
            cover: None,
            properties,
            children: Some(children),
        };
        let what = format!("the new page in database {db}");
        let page = self
            .client
            .once(&what, || {
                self.client.api().pages.create_a_page(request.clone())
            })
            .await?;
        Ok(json!({"page_id": page.id, "url": page.url}))
    }

    /// The page already holding `key`, if any.
    async fn find(&self, db: &str, key: &str) -> Result<Option<Value>, NotionError> {
        let request = QueryDatabaseRequest {
            filter: Some(Filter::Value {
                filter_type: FilterType::Property {
                    property: KEY_PROPERTY.into(),
                    condition: PropertyCondition::RichText(RichTextCondition::Equals(
                        key.to_string(),
                    )),
                },
            }),
            sorts: None,
            start_cursor: None,
            page_size: Some(1),
        };
        let what = format!("database {db} (looking for {KEY_PROPERTY} {key})");
        let found = self
            .client
            .once(&what, || {
                self.client
                    .api()
                    .databases
                    .query_a_database(db, request.clone())
            })
            .await?;
        Ok(found
            .results
            .into_iter()
            .find(|p| !p.in_trash)
            .map(|p| json!({"page_id": p.id, "url": p.url})))
    }
}

impl crate::outbox::Deliverer for NotionPublisher {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn deliver<'a>(
        &'a self,
        key: &'a str,
        payload: &'a Value,
    ) -> crate::outbox::BoxFuture<'a, Result<Value, crate::outbox::DeliveryError>> {
        Box::pin(async move {
            self.publish(key, payload).await.map_err(|e| {
                if e.is_retryable() {
                    crate::outbox::DeliveryError::Retry {
                        message: e.to_string(),
                        retry_after: e.retry_after(),
                    }
                } else {
                    crate::outbox::DeliveryError::permanent(e.to_string())
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::Value as Cell;

    #[test]
    fn payload_has_properties_blocks_and_converts_to_client_types() {
        let mut a = Answer::new(
            "What is ARR by segment?",
            Status::Answered,
            "ARR is $150M.".into(),
        );
        a.skill = "metric_question".into();
        a.asker = Some("Ava Thompson".into());
        a.findings = vec!["Mid-Market is $92K short.".into()];
        a.columns = vec!["segment".into(), "arr".into()];
        a.rows = vec![
            vec![Cell::Text("SMB".into()), Cell::Float(12.5)],
            vec![Cell::Text("Enterprise".into()), Cell::Float(100.0)],
        ];
        a.sql = Some("select 1".into());
        let target = PublishTarget {
            database_id: "1429989fe8ac4effbc8f57f56486db54",
            permalink: Some("http://cortex.test/answers/a1"),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
        };
        let p = page_payload(&a, "k1", &target);
        assert_eq!(
            p["properties"]["Cortex key"]["rich_text"][0]["text"]["content"],
            "k1"
        );
        assert_eq!(
            p["properties"]["Name"]["title"][0]["text"]["content"],
            "What is ARR by segment?"
        );
        assert_eq!(p["properties"]["Status"]["select"]["name"], "Answered");
        assert_eq!(p["properties"]["Date"]["date"]["start"], "2026-11-30");
        let kinds: Vec<&str> = p["children"]
            .as_array()
            .expect("blocks")
            .iter()
            .map(|b| b["type"].as_str().unwrap_or(""))
            .collect();
        assert!(kinds.contains(&"table"), "{kinds:?}");
        let table = p["children"]
            .as_array()
            .expect("blocks")
            .iter()
            .find(|b| b["type"] == "table")
            .expect("table");
        assert_eq!(table["table"]["children"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            table["table"]["children"][1]["table_row"]["cells"][0][0]["text"]["content"],
            "SMB"
        );
        // The payload deserializes into notion-client's request types.
        let props: BTreeMap<String, PageProperty> =
            serde_json::from_value(p["properties"].clone()).expect("properties");
        assert_eq!(props.len(), 6);
        let blocks: Vec<Block> = serde_json::from_value(p["children"].clone()).expect("blocks");
        assert_eq!(blocks.len(), kinds.len());
    }
}
