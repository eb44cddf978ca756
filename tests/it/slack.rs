//! Slack request signatures against Slack's documented example and the other vectors in
//! ../shared/datasets/slack-payloads/signature.

use std::path::PathBuf;

use cortex::slack::signature::{sign, verify, SignatureError};
use serde_json::Value;

fn vectors(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets/slack-payloads/signature")
        .join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .expect("json")
}

#[test]
fn slacks_documented_example_verifies_and_tampering_fails() {
    let v = vectors("slack_docs_signature_example.json");
    let secret = v["signing_secret"].as_str().expect("secret");
    let ts = v["headers"]["X-Slack-Request-Timestamp"]
        .as_str()
        .expect("ts");
    let sig = v["headers"]["X-Slack-Signature"].as_str().expect("sig");
    let body = v["raw_body"].as_str().expect("body");
    let now: i64 = ts.parse().expect("ts number");
    assert_eq!(verify(secret, ts, body.as_bytes(), sig, now), Ok(()));
    assert_eq!(sign(secret, ts, body.as_bytes()), sig);
    let tampered = format!("{body}------");
    assert_eq!(
        verify(secret, ts, tampered.as_bytes(), sig, now),
        Err(SignatureError::Mismatch)
    );
    // Replays: more than five minutes either way.
    assert_eq!(
        verify(secret, ts, body.as_bytes(), sig, now + 301),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify(secret, ts, body.as_bytes(), sig, now - 301),
        Err(SignatureError::Stale)
    );
    assert_eq!(verify(secret, ts, body.as_bytes(), sig, now + 300), Ok(()));
    assert_eq!(
        verify(secret, "yesterday", body.as_bytes(), sig, now),
        Err(SignatureError::BadTimestamp)
    );
    assert_eq!(
        verify(secret, ts, body.as_bytes(), "a2114d57", now),
        Err(SignatureError::BadSignature)
    );
    assert_eq!(
        verify("wrong-secret", ts, body.as_bytes(), sig, now),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn derived_and_precoded_vectors() {
    let v = vectors("derived_json_body_vectors.json");
    for case in v["vectors"].as_array().expect("vectors") {
        let secret = case["signing_secret"].as_str().expect("secret");
        let ts = case["timestamp"].as_str().expect("ts");
        let body = case["raw_body"].as_str().expect("body");
        let now: i64 = ts.parse().expect("ts");
        let valid = case["expect_valid"].as_bool().unwrap_or(true);
        let sig = case["expected_signature"]
            .as_str()
            .or_else(|| case["expected_signature_header_sent"].as_str())
            .expect("signature");
        assert_eq!(
            verify(secret, ts, body.as_bytes(), sig, now).is_ok(),
            valid,
            "{}",
            case["name"]
        );
    }
    let p = vectors("slack_morphism_precoded_vector.json");
    let secret = p["signing_secret"].as_str().expect("secret");
    let ts = p["timestamp"]
        .as_str()
        .or_else(|| p["headers"]["X-Slack-Request-Timestamp"].as_str())
        .expect("ts");
    let body = p["raw_body"]
        .as_str()
        .or_else(|| p["body"].as_str())
        .expect("body");
    let sig = p["expected_signature"]
        .as_str()
        .or_else(|| p["headers"]["X-Slack-Signature"].as_str())
        .expect("sig");
    assert_eq!(
        verify(secret, ts, body.as_bytes(), sig, ts.parse().expect("ts")),
        Ok(())
    );
}
