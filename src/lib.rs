//! # Cortex
//!
//! A decision-intelligence agent: employees ask business questions and get trusted answers
//! computed from governed metric definitions over a DuckDB warehouse.
//!
//! # Layout
//!
//! - [`cli`]: command-line parsing and the commands; thin, calls into the library.
//! - [`config`]: `cortex.toml` plus `CORTEX_*` environment variables.
//! - [`engine`]: the semantic layer and governed warehouse opened together.
//! - [`semantic`]: metrics.yaml (raw serde -> validated model) and the SQL compiler.
//! - [`warehouse`]: governed DuckDB access: read-only, SQL guard, timeout, row cap, audit.
//! - [`demo`]: the embedded demo warehouse generator.
//! - [`render`]: pure renderers from results to text.
//! - [`diagnostics`]: load-time errors with file, line and key.
//! - [`fuzzy`]: string distance for "did you mean" hints.

pub mod cli;
pub mod config;
pub mod demo;
pub mod diagnostics;
pub mod engine;
pub mod fuzzy;
pub mod render;
pub mod semantic;
pub mod warehouse;
