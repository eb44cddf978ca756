//! Renderers: pure functions from answers to text and Slack Block Kit (HTML and PDF next).

pub mod slack;
pub mod text;
