//! # Cortex
//!
//! A decision-intelligence agent: employees ask business questions and get trusted answers
//! computed from governed metric definitions over a DuckDB warehouse.
//!
//! # Layout
//!
//! - [`api`]: the versioned JSON API (`/api/v1`): tokens, rate limits, CORS, OpenAPI.
//! - [`actions`]: external writes (Linear issues, Notion pages, Slack posts) and their deliverers.
//! - [`answer`]: `Answer`, the typed result of a question, and `ask`, which produces it.
//! - [`bench`]: `cortex bench`, speed and memory of the engine against raw DuckDB.
//! - [`cli`]: command-line parsing and the commands; thin, calls into the library.
//! - [`config`]: `cortex.toml` plus `CORTEX_*` environment variables.
//! - [`context`]: curated context (OKRs, teams, people, strategy, glossary): load, validate, retrieve.
//! - [`engine`]: the semantic layer and governed warehouse opened together.
//! - [`semantic`]: metrics.yaml (raw serde -> validated model) and the SQL compiler.
//! - [`skills`]: analyst-authored skills (YAML + handlebars): load, route, run.
//! - [`slack`]: the Slack front end: Events API over HTTP, Socket Mode, Web API client.
//! - [`state`]: the bot's records in the state database: answers, feedback, threads, events.
//! - [`schedule`]: briefings and signal delivery: cron in time zones, the delivery ledger, the lease.
//! - [`server`]: `cortex serve`: the web site and Slack in one process.
//! - [`service`]: the ask flow shared by Slack and the web site (routing, recording, cache).
//! - [`signals`]: signals/*.yaml: what to watch, detection, drivers and the message of a firing.
//! - [`web`]: the internal web site.
//! - [`warehouse`]: governed DuckDB access: read-only, SQL guard, timeout, row cap, audit.
//! - [`demo`]: the embedded demo warehouse generator.
//! - [`import`]: other semantic layers (dbt MetricFlow) in and out of metrics.yaml.
//! - [`load`]: `cortex load`, a project's warehouse from its load.sql and CSV files.
//! - [`notion`]: Notion through notion-client: pages and databases synced into context, answers published.
//! - [`mcp`]: the MCP server (rmcp): the API's operations as tools, over stdio and `/mcp`.
//! - [`llm`]: the optional LLM (async-openai): tool-calling router and narrator, with fallbacks.
//! - [`outbox`]: the durable outbox every external write goes through (retries, dead letters).
//! - [`policy`]: who may see what (`context/policy.yaml`), enforced in the engine and the warehouse.
//! - [`planner`]: plain-language question -> `MetricQuery`, offline and deterministic.
//! - [`render`]: pure renderers from an `Answer` to Slack Block Kit, HTML, PDF, text and charts.
//! - [`diagnostics`]: load-time errors with file, line and key.
//! - [`eval`]: `cortex eval`, question sets with expected queries and hand-SQL rows.
//! - [`fuzzy`]: string distance for "did you mean" hints.
//! - [`format`]: how numbers, dates and names read to people, on every surface.
//! - [`text`]: tokenizer, stems, calendar and the parsed `Question`: shared, depends on nothing.

pub mod actions;
pub mod answer;
pub mod api;
pub mod bench;
pub mod cli;
pub mod config;
pub mod context;
pub mod demo;
pub mod diagnostics;
pub mod engine;
pub mod eval;
pub mod format;
pub mod fuzzy;
pub mod import;
pub mod llm;
pub mod load;
pub mod mcp;
pub mod notion;
pub mod outbox;
pub mod planner;
pub mod policy;
pub mod render;
pub mod schedule;
pub mod semantic;
pub mod server;
pub mod service;
pub mod signals;
pub mod skills;
pub mod slack;
pub mod state;
pub mod text;
pub mod warehouse;
pub mod web;
