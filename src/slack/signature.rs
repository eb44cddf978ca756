//! Verifying Slack's request signatures (HTTP Events API, slash commands, interactivity):
//! `v0=` + hex(HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw body)), compared in
//! constant time, with requests older (or newer) than five minutes rejected as replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Largest accepted difference between the request timestamp and now, in seconds.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed X-Slack-Request-Timestamp")]
    BadTimestamp,
    #[error("request timestamp is more than five minutes from now")]
    Stale,
    #[error("missing or malformed X-Slack-Signature")]
    BadSignature,
    #[error("signature does not match")]
    Mismatch,
}

/// Checks a request. `now` is Unix seconds (injected for tests).
pub fn verify(
    signing_secret: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    // abs_diff: no overflow (a panic in debug, a wrap past the check in release) for any
    // pair of i64 timestamps.
    if now.abs_diff(ts) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let hex = signature
        .trim()
        .strip_prefix("v0=")
        .ok_or(SignatureError::BadSignature)?;
    let expected = decode_hex(hex).ok_or(SignatureError::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes())
        .map_err(|_| SignatureError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature Slack would send (for tests and local tools).
// Invariant: HMAC accepts keys of any length.
#[allow(clippy::expect_used)]
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes())
        .expect("invariant: HMAC accepts keys of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "v0={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        let now = 1_700_000_000;
        for ts in [i64::MIN, i64::MAX, i64::MIN + 1, -1] {
            let t = ts.to_string();
            let sig = sign("secret", &t, b"body");
            assert_eq!(
                verify("secret", &t, b"body", &sig, now),
                Err(SignatureError::Stale),
                "{t}"
            );
        }
        // And with the clock at the extremes.
        let sig = sign("secret", "0", b"body");
        for now in [i64::MIN, i64::MAX] {
            assert_eq!(
                verify("secret", "0", b"body", &sig, now),
                Err(SignatureError::Stale)
            );
        }
        let t = now.to_string();
        let sig = sign("secret", &t, b"body");
        assert_eq!(verify("secret", &t, b"body", &sig, now + 300), Ok(()));
        assert_eq!(
            verify("secret", &t, b"body", &sig, now + 301),
            Err(SignatureError::Stale)
        );
    }
}
