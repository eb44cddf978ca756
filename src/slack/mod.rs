//! The Slack front end: request signatures, the bot (questions in, Block Kit answers and
//! files out through slack-morphism's Web API client), the HTTP Events API endpoints and
//! Socket Mode. Block Kit itself is rendered by `render::slack`.

pub mod bot;
pub mod buttons;
pub mod http;
pub mod names;
pub mod signature;
pub mod socket;
