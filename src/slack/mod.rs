//! The Slack adapter. So far: request signature verification. Events in, Block Kit out
//! (see `render::slack`), and the slack-morphism client come with the Slack issue.

pub mod signature;
