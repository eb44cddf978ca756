use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Eq, PartialEq, Debug, Clone)]
pub struct Error {
    pub object: String,
    pub status: u32,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    /// Cortex patch: the response's `Retry-After` header in seconds (429 rate limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}
