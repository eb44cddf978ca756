//! Integration tests: one binary, shared helpers in `helpers`.

mod ask;
mod check;
mod cli;
mod compiler;
mod demo;
mod helpers;
mod llm;
mod skills;
mod warehouse;
