//! Integration tests: one binary, shared helpers in `helpers`.

// Tests may unwrap and print; the product may not (see [lints] in Cargo.toml).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod acme;
mod api;
mod ask;
mod cache;
mod check;
mod cli;
mod compiler;
mod conformance;
mod demo;
mod extension;
mod grains;
mod helpers;
mod import;
mod linear;
mod llm;
mod mcp;
mod mf;
mod notion;
mod outbox;
mod outbox_kill;
mod outputs;
mod query_flags;
mod render;
mod schedule;
mod schedule_kill;
mod security;
mod signals;
mod skills;
mod slack;
mod slack_bot;
mod snowflake;
mod timespine;
mod to_date;
mod warehouse;
mod websec;
