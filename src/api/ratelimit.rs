//! A token bucket per caller: `rate_per_minute` requests a minute, in bursts of at most
//! that many, refilled continuously.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets by caller key (a token id, or the proxy identity).
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` of 0 turns limiting off.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket at `now`: `Err(wait)` when it is empty.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; do not refuse everyone for it.
            return Ok(());
        };
        if buckets.len() > 100_000 {
            // Forget idle callers rather than grow without bound.
            buckets.retain(|_, (_, t)| now.duration_since(*t) < Duration::from_secs(60));
        }
        let (tokens, last) = buckets.entry(key.to_string()).or_insert((capacity, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * per_sec).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_a_burst_then_refills_at_the_rate() {
        let l = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("a", t0).is_ok());
        }
        let wait = l.check("a", t0).expect_err("empty");
        assert!((wait.as_secs_f64() - 20.0).abs() < 0.01, "{wait:?}");
        // Another caller has their own bucket.
        assert!(l.check("b", t0).is_ok());
        // One request a 20 s later.
        assert!(l.check("a", t0 + Duration::from_secs(20)).is_ok());
        assert!(l.check("a", t0 + Duration::from_secs(21)).is_err());
        assert!(RateLimiter::new(0).check("a", t0).is_ok());
    }
}
