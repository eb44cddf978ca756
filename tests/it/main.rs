//! Integration tests: one binary, shared helpers in `helpers`.

mod acme;
mod ask;
mod cache;
mod check;
mod cli;
mod compiler;
mod demo;
mod helpers;
mod llm;
mod mf;
mod outputs;
mod render;
mod security;
mod skills;
mod slack;
mod slack_bot;
mod warehouse;
mod websec;
