//! Renderers: pure functions from results to text (and later Slack, HTML, PDF).

pub mod text;
