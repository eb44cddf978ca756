//! Renderers: pure functions from answers to text, Slack Block Kit, charts, HTML and PDF.

pub mod chart;
pub mod fonts;
pub mod html;
pub mod pdf;
pub mod slack;
pub mod text;
