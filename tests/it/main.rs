//! Integration tests: one binary, shared helpers in `helpers`.

mod check;
mod cli;
mod compiler;
mod demo;
mod helpers;
mod warehouse;
