//! The immediate replies of `/cortex help`, `/cortex skills` and `/cortex metrics`: what the
//! bot does, said without promising what it does not.

use crate::render::slack::escape;
use crate::service::Service;

/// Text for `/cortex help`, `/cortex skills`, `/cortex metrics`; `None` for a question.
pub fn command_reply(svc: &Service, text: &str) -> Option<String> {
    let t = text.trim();
    match t.to_ascii_lowercase().as_str() {
        "" | "help" => Some(format!(
            "*Ask me about the business in plain language.*\n\
             • Mention me in a channel I'm in: `@Cortex What's our ARR by segment?`\n\
             • DM me, or use `/cortex <question>` (in a channel I'm not in, only you see the answer).\n\
             • Reply in the thread of one of my answers to follow up, no mention needed: _and by channel?_, _same for last quarter_.\n\
             • `/cortex skills` lists what I can do; `/cortex metrics` lists the governed metrics.\n\
             Numbers come from the governed metric definitions and the skills' reviewed queries; when a question is ambiguous, I ask.\n\
             Skills installed: {}.",
            svc.rt.skills.skills.len()
        )),
        "skills" => Some(
            svc.rt
                .skills
                .skills
                .iter()
                .map(|s| {
                    let ex = s
                        .examples
                        .first()
                        .map(|e| format!(" _e.g. \"{}\"_", escape(e)))
                        .unwrap_or_default();
                    format!(
                        "• *{}*: {}{ex}",
                        escape(&s.name),
                        escape(s.description.trim())
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "metrics" => Some(
            svc.rt
                .engine
                .layer
                .metrics
                .iter()
                .map(|m| {
                    format!(
                        "• *{}* (`{}`): {}",
                        escape(&m.label),
                        escape(&m.name),
                        escape(m.description.trim())
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}
