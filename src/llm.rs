//! The optional LLM: an OpenAI-compatible chat endpoint (OpenAI, Azure, Ollama, vLLM,
//! llama.cpp server) through async-openai. It picks a skill and fills its parameters (tool
//! calling), and may narrate computed results. It never writes SQL; every failure falls back
//! to the offline path.
//!
//! A circuit breaker keeps a hanging or unreachable endpoint from costing every answer a
//! timeout: after one timeout or connection failure the LLM is skipped for the configured
//! cool-down, and answers come from the offline path at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionToolChoiceOption, ChatCompletionTools, CreateChatCompletionRequest,
    ToolChoiceOptions,
};
use async_openai::Client;
use tracing::{info, warn};

use crate::config::LlmConfig;

/// Why the LLM gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM request failed: {0}")]
    Request(String),
    #[error("the LLM did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the LLM answer was not usable: {0}")]
    Invalid(String),
    #[error("the LLM is skipped for {0:?} more after a failure (circuit breaker)")]
    CircuitOpen(Duration),
}

/// A tool call: which tool, with which (unvalidated) JSON arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: String,
}

/// A configured chat model.
pub struct Llm {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: Duration,
    retries: u32,
    cooldown: Duration,
    /// While set and in the future, the LLM is not called.
    open_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm").field("model", &self.model).finish()
    }
}

impl Llm {
    pub fn new(cfg: &LlmConfig) -> Result<Llm, LlmError> {
        // One TLS provider for the process: ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest_client(cfg.timeout)?;
        let config = OpenAIConfig::new()
            .with_api_base(cfg.base_url.trim_end_matches('/'))
            .with_api_key(cfg.api_key.expose());
        Ok(Llm {
            client: Client::with_config(config).with_http_client(http),
            model: cfg.model.clone(),
            timeout: cfg.timeout,
            retries: cfg.retries,
            cooldown: cfg.cooldown,
            open_until: Mutex::new(None),
        })
    }

    /// How long the LLM is still skipped, if the breaker is open.
    pub fn skipped_for(&self) -> Option<Duration> {
        let until = (*self.open_until.lock().ok()?)?;
        until.checked_duration_since(Instant::now())
    }

    /// Opens the breaker for the cool-down (no-op when the cool-down is zero).
    fn trip(&self, why: &str) {
        if self.cooldown.is_zero() {
            return;
        }
        if let Ok(mut g) = self.open_until.lock() {
            *g = Some(Instant::now() + self.cooldown);
        }
        warn!(cooldown = ?self.cooldown, why, "LLM circuit breaker open: answering offline until the cool-down ends");
    }

    async fn complete(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<async_openai::types::chat::CreateChatCompletionResponse, LlmError> {
        if let Some(left) = self.skipped_for() {
            info!(?left, "LLM skipped: circuit breaker open");
            return Err(LlmError::CircuitOpen(left));
        }
        let mut last = LlmError::Request("no attempt".into());
        for attempt in 0..=self.retries {
            let chat = self.client.chat();
            match tokio::time::timeout(self.timeout, chat.create(request.clone())).await {
                Ok(Ok(r)) => return Ok(r),
                // async-openai already retried 5xx and 429 answers with backoff.
                Ok(Err(e)) => {
                    warn!(attempt, error = %e, "LLM request failed");
                    if matches!(e, async_openai::error::OpenAIError::Reqwest(_)) {
                        // The endpoint could not be reached (or the connection broke).
                        self.trip("connection failure");
                    }
                    return Err(LlmError::Request(e.to_string()));
                }
                Err(_) => {
                    warn!(attempt, "LLM request timed out");
                    last = LlmError::Timeout(self.timeout);
                    if !self.cooldown.is_zero() {
                        // One timeout is enough: no retry, and no calls during the cool-down.
                        self.trip("timeout");
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    /// Asks the model to pick one tool for the question.
    pub async fn choose_tool(
        &self,
        system: &str,
        question: &str,
        tools: Vec<ChatCompletionTools>,
    ) -> Result<ToolCall, LlmError> {
        let request = CreateChatCompletionRequest {
            model: self.model.clone(),
            messages: messages(system, question),
            tools: Some(tools),
            tool_choice: Some(ChatCompletionToolChoiceOption::Mode(
                ToolChoiceOptions::Required,
            )),
            temperature: Some(0.0),
            ..Default::default()
        };
        let response = self.complete(request).await?;
        let message = response
            .choices
            .into_iter()
            .next()
            .map(|c| c.message)
            .ok_or_else(|| LlmError::Invalid("no choices".into()))?;
        let call = message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .find_map(|c| match c {
                ChatCompletionMessageToolCalls::Function(f) => Some(ToolCall {
                    name: f.function.name,
                    arguments: f.function.arguments,
                }),
                ChatCompletionMessageToolCalls::Custom(_) => None,
            })
            .ok_or_else(|| LlmError::Invalid("no tool call".into()))?;
        info!(tool = %call.name, "LLM chose a tool");
        Ok(call)
    }

    /// Plain text completion (for narratives).
    pub async fn write(&self, system: &str, user: &str) -> Result<String, LlmError> {
        let request = CreateChatCompletionRequest {
            model: self.model.clone(),
            messages: messages(system, user),
            temperature: Some(0.2),
            ..Default::default()
        };
        let response = self.complete(request).await?;
        response
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| LlmError::Invalid("empty narrative".into()))
    }
}

fn messages(system: &str, user: &str) -> Vec<ChatCompletionRequestMessage> {
    vec![
        ChatCompletionRequestSystemMessage {
            content: system.into(),
            name: None,
        }
        .into(),
        ChatCompletionRequestUserMessage {
            content: user.into(),
            name: None,
        }
        .into(),
    ]
}

/// The HTTP client: only a connect timeout here, so the per-request timeout (and its
/// retry) in [`Llm::complete`] is the one that applies.
fn reqwest_client(timeout: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .build()
        .map_err(|e| LlmError::Request(e.to_string()))
}

/// Numbers in a text: "$1,234.5", "23.1%", "4.2" -> 1234.5, 23.1 (as written), 4.2.
pub fn numbers_in(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || ((chars[i] == ',' || chars[i] == '.')
                        && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())))
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().filter(|c| **c != ',').collect();
            if let Ok(n) = s.parse::<f64>() {
                out.push(n);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// True when every number in `narrative` appears among `allowed` (as written, allowing the
/// rounding a reader would do: to the narrative's own precision).
pub fn numbers_are_grounded(narrative: &str, allowed: &[f64]) -> Result<(), f64> {
    for n in numbers_in(narrative) {
        let decimals = n.to_string().split('.').nth(1).map_or(0, str::len) as i32;
        let tol = 0.5 * 10f64.powi(-decimals) + 1e-9;
        let ok = allowed.iter().any(|a| {
            (a - n).abs() <= tol
                || (a * 100.0 - n).abs() <= tol
                || (a / 1e3 - n).abs() <= tol
                || (a / 1e6 - n).abs() <= tol
                || (a / 1e9 - n).abs() <= tol
        });
        if !ok {
            return Err(n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_as_written() {
        assert_eq!(
            numbers_in("ARR $1,234,567 up 23.1% in 2026"),
            vec![1234567.0, 23.1, 2026.0]
        );
    }

    #[test]
    fn grounding_accepts_rounded_and_scaled_values() {
        let allowed = [145_609_393.0, 0.231, 2026.0];
        assert!(numbers_are_grounded("ARR is $145.6M, 23.1% in 2026", &allowed).is_ok());
        assert!(numbers_are_grounded("ARR is $145,609,393", &allowed).is_ok());
        assert_eq!(numbers_are_grounded("ARR is $150M", &allowed), Err(150.0));
    }
}
