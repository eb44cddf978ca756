//! The Slack front end: request signatures, the bot (questions in, Block Kit answers and
//! files out through slack-morphism's Web API client), the HTTP Events API endpoints and
//! Socket Mode. Block Kit itself is rendered by `render::slack`.
//!
//! - `incoming`: payloads -> [`incoming::Incoming`] (which events are questions, which clicks)
//! - `bot`: the answer flow and the Web API calls (post, update, upload, response_url)
//! - `modal`: the "File Linear task" modal (views.open, view_submission)
//! - `buttons`: used buttons replaced by what was done; `names`: file names; `help`: `/cortex help`
//! - `http`, `socket`: the two transports; `signature`: request signing

pub mod bot;
pub mod buttons;
pub mod help;
pub mod http;
pub mod incoming;
pub mod modal;
pub mod names;
pub mod signature;
pub mod socket;
