//! What makes the web site safe to expose: who the asker is (the identity header, trusted
//! only from configured proxies or when signed), CSRF tokens bound to a browser session,
//! the same-origin check on every POST, and the security headers on every response.

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{Secret, ServerConfig};

/// Name of the session cookie the CSRF token is bound to.
pub const SESSION_COOKIE: &str = "cortex_session";
/// Form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// Placeholder for the viewer's CSRF token in stored pages (filled in when served).
pub const CSRF_PLACEHOLDER: &str = "__CORTEX_CSRF_TOKEN__";
/// Largest accepted age (either way) of a signed identity header, in seconds.
pub const IDENTITY_MAX_SKEW_SECS: u64 = 300;

/// `n` random bytes as hex, from the operating system's generator.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    if getrandom::fill(&mut buf).is_err() {
        // No OS randomness is not survivable for tokens: fall back to a hash of unique inputs
        // only so the server keeps running, and say so loudly.
        tracing::error!("the OS random generator failed; tokens are weaker until restart");
        let seed = crate::state::new_id("random-fallback");
        return format!("{seed}{seed}");
    }
    hex(&buf)
}

/// A fresh random token (128 bits, hex): CSP nonces, session ids.
pub fn random_token() -> String {
    random_hex(16)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// Invariant: HMAC accepts keys of any length.
#[allow(clippy::expect_used)]
fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("invariant: HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    hex(&mac.finalize().into_bytes())
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `127.0.0.1`, `::1`, `fd00::/8`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has a bad prefix length"))?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    /// True when `ip` is in the network (IPv4-mapped IPv6 peers count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |x: IpAddr| -> (u128, u8) {
            match x {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let (net, width) = bits(self.addr);
        let (me, me_width) = bits(ip);
        if width != me_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        if shift >= 128 {
            return true;
        }
        (net >> shift) == (me >> shift)
    }
}

/// The asker as the web site knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No trusted identity header: the configured default (local use).
    Anonymous(String),
    /// The trusted header's value (an email, a Slack id, a login).
    User(String),
}

impl Identity {
    /// The audit log's requester. Header users are `web:<value>`, the default is
    /// `anonymous:<name>`: no header value can collide with the default identity.
    pub fn requester(&self) -> String {
        match self {
            Identity::Anonymous(n) => format!("anonymous:{n}"),
            Identity::User(v) => format!("web:{v}"),
        }
    }

    /// The name shown in the site's header.
    pub fn display(&self) -> &str {
        match self {
            Identity::Anonymous(n) | Identity::User(n) => n,
        }
    }
}

/// Decides whom a request's identity header names.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    header: String,
    signature_header: String,
    default_user: String,
    trusted: Vec<Cidr>,
    secret: Option<Secret>,
}

impl IdentityPolicy {
    /// From `[server]`; a malformed `trusted_proxies` entry is an error.
    pub fn new(cfg: &ServerConfig) -> anyhow::Result<IdentityPolicy> {
        let trusted = cfg
            .trusted_proxies
            .iter()
            .map(|s| Cidr::parse(s).map_err(|e| anyhow::anyhow!("[server] trusted_proxies: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(IdentityPolicy {
            header: cfg.user_header.clone(),
            signature_header: format!("{}-signature", cfg.user_header),
            default_user: cfg
                .default_user
                .strip_prefix("web:")
                .unwrap_or(&cfg.default_user)
                .to_string(),
            trusted,
            secret: cfg.identity_secret.clone(),
        })
    }

    /// The identity of a request from `peer` (unknown when the listener does not report it)
    /// at Unix time `now`.
    pub fn identify(&self, peer: Option<IpAddr>, headers: &HeaderMap, now: i64) -> Identity {
        let anonymous = Identity::Anonymous(self.default_user.clone());
        let Some(value) = headers
            .get(self.header.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 256)
        else {
            return anonymous;
        };
        let from_proxy = peer.is_some_and(|ip| self.trusted.iter().any(|c| c.contains(ip)));
        let signed = self.secret.as_ref().is_some_and(|s| {
            headers
                .get(self.signature_header.as_str())
                .and_then(|v| v.to_str().ok())
                .is_some_and(|sig| verify_identity(s.expose(), value, sig, now))
        });
        if from_proxy || signed {
            Identity::User(value.to_string())
        } else {
            tracing::debug!(
                ?peer,
                "identity header ignored: not from a trusted proxy and not signed"
            );
            anonymous
        }
    }
}

/// The signature header value for `value` at Unix time `ts`: `<ts>:<hex HMAC>`.
pub fn sign_identity(secret: &str, value: &str, ts: i64) -> String {
    let t = ts.to_string();
    format!(
        "{t}:{}",
        hmac_hex(secret.as_bytes(), &[t.as_bytes(), b":", value.as_bytes()])
    )
}

/// Checks a signed identity: the HMAC matches and the timestamp is within
/// [`IDENTITY_MAX_SKEW_SECS`] of `now` (compared without overflow).
pub fn verify_identity(secret: &str, value: &str, signature: &str, now: i64) -> bool {
    let Some((ts, _)) = signature.split_once(':') else {
        return false;
    };
    let Ok(t) = ts.parse::<i64>() else {
        return false;
    };
    if now.abs_diff(t) > IDENTITY_MAX_SKEW_SECS {
        return false;
    }
    constant_time_eq(&sign_identity(secret, value, t), signature)
}

/// CSRF tokens: HMAC of the identity and the browser session under a per-process key.
#[derive(Clone)]
pub struct Csrf {
    key: Vec<u8>,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf(<key>)")
    }
}

impl Default for Csrf {
    fn default() -> Self {
        Csrf {
            key: random_hex(32).into_bytes(),
        }
    }
}

impl Csrf {
    /// The token for this asker in this browser session.
    pub fn token(&self, identity: &Identity, session: &str) -> String {
        hmac_hex(
            &self.key,
            &[identity.requester().as_bytes(), b"\n", session.as_bytes()],
        )
    }

    /// True when `token` is this asker's token for this session.
    pub fn verify(&self, identity: &Identity, session: &str, token: &str) -> bool {
        !session.is_empty() && constant_time_eq(&self.token(identity, session), token)
    }
}

/// The value of cookie `name`, if sent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value for a new session (HttpOnly, SameSite=Strict; Secure when the
/// site is served over https).
pub fn session_cookie(session: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// True when a state-changing request comes from this site: its `Origin` (or, without one,
/// its `Referer`) is the site's public URL or the `Host` it was sent to.
pub fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let h = |k: header::HeaderName| headers.get(k).and_then(|v| v.to_str().ok());
    let origin = match h(header::ORIGIN) {
        Some("null") => return false,
        Some(o) => o.trim_end_matches('/').to_string(),
        None => match h(header::REFERER) {
            Some(r) => origin_of(r),
            None => return false,
        },
    };
    if public_url.is_some_and(|p| origin_of(p).eq_ignore_ascii_case(&origin)) {
        return true;
    }
    let host = h(header::HOST).unwrap_or("");
    !host.is_empty()
        && (origin.eq_ignore_ascii_case(&format!("http://{host}"))
            || origin.eq_ignore_ascii_case(&format!("https://{host}")))
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{host}")
        }
        None => String::new(),
    }
}

/// The Content-Security-Policy: nothing from elsewhere; scripts only with this response's
/// nonce (or none at all); inline styles (the pages and SVG charts use them).
pub fn csp(nonce: Option<&str>) -> String {
    let script = match nonce {
        Some(n) => format!("'nonce-{n}'"),
        None => "'none'".to_string(),
    };
    format!(
        "default-src 'none'; script-src {script}; style-src 'unsafe-inline'; img-src 'self' data:; \
         font-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Adds the security headers to a response: the CSP (a strict one without scripts unless
/// the handler set its own with a nonce), framing, sniffing and referrer rules.
pub fn add_headers(headers: &mut HeaderMap) {
    let fixed = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (k, v) in fixed {
        headers.insert(k, HeaderValue::from_static(v));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(v) = HeaderValue::from_str(&csp(None)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(trusted: &[&str], secret: Option<&str>) -> ServerConfig {
        ServerConfig {
            listen: "127.0.0.1:0".into(),
            user_header: "x-forwarded-user".into(),
            default_user: "web:local".into(),
            trusted_proxies: trusted.iter().map(|s| s.to_string()).collect(),
            identity_secret: secret.map(Secret::new),
            ..Default::default()
        }
    }

    fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn cidrs_match_v4_v6_and_mapped_addresses() {
        let net = Cidr::parse("10.1.0.0/16").expect("cidr");
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(net.contains("::ffff:10.1.0.9".parse().expect("ip")));
        assert!(Cidr::parse("::1")
            .expect("cidr")
            .contains("::1".parse().expect("ip")));
        assert!(Cidr::parse("0.0.0.0/0")
            .expect("cidr")
            .contains("8.8.8.8".parse().expect("ip")));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("proxy.local").is_err());
    }

    #[test]
    fn the_header_is_trusted_only_from_proxies_or_when_signed() {
        let now = 1_700_000_000;
        let p = IdentityPolicy::new(&cfg(&["10.0.0.0/8"], Some("s3cret"))).expect("policy");
        let h = with(&[("x-forwarded-user", "ava@example.com")]);
        let proxy = Some("10.0.0.5".parse().expect("ip"));
        let stranger = Some("192.0.2.1".parse().expect("ip"));
        assert_eq!(
            p.identify(proxy, &h, now),
            Identity::User("ava@example.com".into())
        );
        assert_eq!(
            p.identify(stranger, &h, now),
            Identity::Anonymous("local".into())
        );
        assert_eq!(
            p.identify(None, &h, now),
            Identity::Anonymous("local".into())
        );
        let sig = sign_identity("s3cret", "ava@example.com", now - 10);
        let signed = with(&[
            ("x-forwarded-user", "ava@example.com"),
            ("x-forwarded-user-signature", &sig),
        ]);
        assert_eq!(
            p.identify(stranger, &signed, now),
            Identity::User("ava@example.com".into())
        );
        // Replayed too late, signed for someone else, or with another secret: anonymous.
        assert_eq!(
            p.identify(stranger, &signed, now + 1000),
            Identity::Anonymous("local".into())
        );
        let other = with(&[
            ("x-forwarded-user", "ceo@example.com"),
            ("x-forwarded-user-signature", &sig),
        ]);
        assert_eq!(
            p.identify(stranger, &other, now),
            Identity::Anonymous("local".into())
        );
        let forged = sign_identity("guess", "ava@example.com", now);
        assert!(!verify_identity("s3cret", "ava@example.com", &forged, now));
        // Extreme timestamps neither panic nor pass.
        for ts in [i64::MIN, i64::MAX] {
            let s = sign_identity("s3cret", "ava@example.com", ts);
            assert!(!verify_identity("s3cret", "ava@example.com", &s, now));
            assert!(!verify_identity(
                "s3cret",
                "ava@example.com",
                &s,
                -ts.signum()
            ));
        }
    }

    #[test]
    fn a_header_value_never_collides_with_the_default_identity() {
        let p = IdentityPolicy::new(&cfg(&["127.0.0.1"], None)).expect("policy");
        let local = p.identify(
            Some("127.0.0.1".parse().expect("ip")),
            &with(&[("x-forwarded-user", "local")]),
            0,
        );
        let anon = p.identify(None, &HeaderMap::new(), 0);
        assert_eq!(local.requester(), "web:local");
        assert_eq!(anon.requester(), "anonymous:local");
        assert_ne!(local.requester(), anon.requester());
    }

    #[test]
    fn csrf_tokens_are_bound_to_identity_and_session() {
        let c = Csrf::default();
        let ava = Identity::User("ava".into());
        let bob = Identity::User("bob".into());
        let t = c.token(&ava, "abc123");
        assert!(c.verify(&ava, "abc123", &t));
        assert!(!c.verify(&ava, "abc124", &t));
        assert!(!c.verify(&bob, "abc123", &t));
        assert!(!c.verify(&ava, "", &c.token(&ava, "")));
        assert!(
            !Csrf::default().verify(&ava, "abc123", &t),
            "keys differ per process"
        );
    }

    #[test]
    fn origins_must_match_the_site() {
        let site = Some("https://cortex.example.com");
        let ok = with(&[
            ("origin", "https://cortex.example.com"),
            ("host", "10.0.0.1:8080"),
        ]);
        assert!(same_origin(&ok, site));
        let evil = with(&[
            ("origin", "https://evil.example"),
            ("host", "cortex.example.com"),
        ]);
        assert!(!same_origin(&evil, site));
        let by_host = with(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(same_origin(&by_host, None));
        let referer = with(&[
            ("referer", "http://127.0.0.1:8080/a/x"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(same_origin(&referer, None));
        assert!(!same_origin(&with(&[("host", "127.0.0.1:8080")]), None));
        assert!(!same_origin(
            &with(&[("origin", "null"), ("host", "x")]),
            None
        ));
    }
}
