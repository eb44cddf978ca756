//! Per-person API tokens: 256 random bits, shown once when created, stored only as their
//! SHA-256 in the state database (`api_tokens`). A token stands for the person whose email
//! it was created for: the access policy and the audit log see that person.

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::warehouse::AuditLog;

/// Every token starts with this, so a leaked one is recognisable (secret scanners).
pub const PREFIX: &str = "ctx_";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Hex SHA-256 of the whole token; the token itself is never stored.
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);
";

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("that API token is not valid")]
    Invalid,
    #[error("that API token was revoked")]
    Revoked,
    #[error("the token store could not be read: {0}")]
    Store(String),
}

/// A token as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    /// The person's email (or Slack id) from context/people.yaml.
    pub user: String,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// The tokens table in the state database.
#[derive(Debug, Clone)]
pub struct Tokens {
    log: AuditLog,
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Tokens {
    /// Creates the table if missing.
    pub fn open(log: AuditLog) -> anyhow::Result<Tokens> {
        log.with_conn(|c| Ok(c.execute_batch(SCHEMA)?))?;
        Ok(Tokens { log })
    }

    /// A new token for `user`: returns its id and the secret, which is not kept.
    pub fn create(&self, user: &str, name: &str) -> anyhow::Result<(i64, String)> {
        let secret = format!("{PREFIX}{}", crate::web::security::random_hex(32));
        let h = hash(&secret);
        let now = crate::warehouse::audit::now_text();
        let id = self.log.with_conn(|c| {
            c.execute(
                "INSERT INTO api_tokens (user, name, hash, created_at) VALUES (?, ?, ?, ?)",
                params![user, name, h, now],
            )?;
            Ok(c.last_insert_rowid())
        })?;
        Ok((id, secret))
    }

    /// Revokes a token; false when no live token has that id.
    pub fn revoke(&self, id: i64) -> anyhow::Result<bool> {
        let now = crate::warehouse::audit::now_text();
        let n = self.log.with_conn(|c| {
            Ok(c.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                params![now, id],
            )?)
        })?;
        Ok(n == 1)
    }

    /// Every token, newest first.
    pub fn list(&self) -> anyhow::Result<Vec<TokenInfo>> {
        self.log.with_conn(|c| {
            let mut stmt = c.prepare(
                "SELECT id, user, name, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY id DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    user: r.get(1)?,
                    name: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                    last_used_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The live token `secret` is: its id and person. Looked up by hash (the hash of a
    /// 256-bit secret reveals nothing to compare against), and marked used.
    pub fn verify(&self, secret: &str) -> Result<(i64, String), TokenError> {
        if !secret.starts_with(PREFIX) || secret.len() != PREFIX.len() + 64 {
            return Err(TokenError::Invalid);
        }
        let h = hash(secret);
        let found = self
            .log
            .with_conn(|c| {
                Ok(c.query_row(
                    "SELECT id, user, revoked_at FROM api_tokens WHERE hash = ?",
                    params![h],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ))
                    },
                )
                .optional()?)
            })
            .map_err(|e| TokenError::Store(e.to_string()))?;
        match found {
            None => Err(TokenError::Invalid),
            Some((_, _, Some(_))) => Err(TokenError::Revoked),
            Some((id, user, None)) => {
                let now = crate::warehouse::audit::now_text();
                // Best effort: a failed timestamp does not refuse the request.
                let _ = self.log.with_conn(|c| {
                    Ok(c.execute(
                        "UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                        params![now, id],
                    )?)
                });
                Ok((id, user))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_can_be_revoked() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state.sqlite");
        let t = Tokens::open(AuditLog::open(&path).expect("log")).expect("tokens");
        let (id, secret) = t.create("ava@example.com", "laptop").expect("create");
        assert!(secret.starts_with(PREFIX) && secret.len() == 68, "{secret}");
        assert_eq!(t.verify(&secret), Ok((id, "ava@example.com".to_string())));
        assert_eq!(
            t.verify(&format!("{PREFIX}{}", "0".repeat(64))),
            Err(TokenError::Invalid)
        );
        assert_eq!(t.verify("Bearer nonsense"), Err(TokenError::Invalid));
        // The database holds the hash only.
        for f in std::fs::read_dir(dir.path()).expect("dir") {
            let raw = std::fs::read(f.expect("entry").path()).expect("file");
            assert!(!String::from_utf8_lossy(&raw).contains(&secret[PREFIX.len()..]));
        }
        let listed = t.list().expect("list");
        assert_eq!(listed.len(), 1);
        assert!(listed[0].last_used_at.is_some());
        assert!(t.revoke(id).expect("revoke"));
        assert!(!t.revoke(id).expect("revoke twice"));
        assert_eq!(t.verify(&secret), Err(TokenError::Revoked));
    }
}
