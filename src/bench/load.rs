//! `cortex bench load`: drives a running `cortex serve` through its web ask endpoint the way
//! browsers do (a session cookie and CSRF token from the ask page, then POSTs with an
//! Origin), N questions at concurrency C, and reports latency (p50, p95, max), errors, and
//! lost records: answers the server returned whose id is not in the state database.
//!
//! With `--heavy K`, K slow questions are started first and kept running, and the cheap
//! questions are measured while they run (a slow question must not hold up the others).
//! `{since}` in the heavy question becomes a different early date on every ask, so each is
//! a new query that really runs (the server's result cache would answer a repeat at once).
//!
//! The server's result-cache counters (`/healthz/cache`) are read before and after, and the
//! hits and misses of the run are reported.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::state::State;
use crate::warehouse::cache::CacheStats;
use crate::warehouse::AuditLog;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The site, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// How many cheap questions in all.
    pub questions: usize,
    /// How many at once.
    pub concurrency: usize,
    /// Cheap questions, asked in turn.
    pub pool: Vec<String>,
    /// Slow questions kept running meanwhile (0 for none).
    pub heavy: usize,
    pub heavy_question: String,
    /// The state database the server writes (to check that every answer was recorded).
    pub state_db: Option<std::path::PathBuf>,
}

/// Questions every demo answers quickly.
pub fn default_questions() -> Vec<String> {
    [
        "What's our ARR?",
        "What's our ARR by segment?",
        "How many tickets last month by channel?",
        "What is CSAT by vertical?",
        "What's the automation rate by month?",
        "How is AI adoption trending?",
        "What's first response time by channel?",
        "ARR by plan",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The measured figures.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub asked: usize,
    pub errors: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub max: Duration,
    pub wall: Duration,
    /// Answers returned whose id is not in the state database (`None`: not checked).
    pub lost: Option<usize>,
    /// Heavy questions that finished while measuring, and their longest time.
    pub heavy_done: usize,
    /// The server's result cache during the run (`None`: the server does not report it).
    pub cache: Option<CacheStats>,
}

/// The heavy question for the `n`-th ask: `{since}` becomes 1901-01-01 plus `n` days (modulo
/// about a century), a date before any data, so every ask reads the same rows through a
/// different query.
pub fn heavy_variant(question: &str, n: usize) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(1901, 1, 1).unwrap_or_default();
    let day = base + chrono::Duration::days((n % 36_500) as i64);
    question.replace("{since}", &day.to_string())
}

/// The server's result-cache counters, if it reports them.
async fn cache_stats(http: &reqwest::Client, url: &str) -> Option<CacheStats> {
    let r = http.get(format!("{url}/healthz/cache")).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    serde_json::from_slice(&r.bytes().await.ok()?).ok()
}

/// A browser-like session: the cookie and the CSRF token of the ask page.
struct Session {
    http: reqwest::Client,
    url: String,
    cookie: String,
    token: String,
}

impl Session {
    async fn open(http: &reqwest::Client, url: &str) -> Result<Session> {
        let r = http
            .get(format!("{url}/"))
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let cookie = r
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("cortex_session="))
            .and_then(|v| v.split(';').next())
            .context("the ask page set no session cookie")?
            .to_string();
        let page = r.text().await?;
        let token = hidden_value(&page, "csrf").context("the ask page has no CSRF token")?;
        Ok(Session {
            http: http.clone(),
            url: url.to_string(),
            cookie,
            token,
        })
    }

    /// Asks once; returns the answer id from the page.
    async fn ask(&self, q: &str) -> Result<String> {
        let body = serde_urlencoded::to_string([("q", q), ("csrf", self.token.as_str())])?;
        let r = self
            .http
            .post(format!("{}/", self.url))
            .header(reqwest::header::COOKIE, &self.cookie)
            .header(reqwest::header::ORIGIN, &self.url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await?;
        let status = r.status();
        let page = r.text().await?;
        if !status.is_success() {
            anyhow::bail!("HTTP {status}");
        }
        answer_id(&page).context("the answer page has no permalink")
    }
}

/// The value of `<input type="hidden" name="NAME" value="...">` in a page.
pub fn hidden_value(page: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let start = page.find(&key)? + key.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].to_string())
}

/// The answer's id in an ask page: the first `/a/<id>` permalink of the answer.
pub fn answer_id(page: &str) -> Option<String> {
    let marker = "data-answer-id=\"";
    let start = page.find(marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].to_string())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the load and checks the records.
pub async fn run(opts: &LoadOptions) -> Result<LoadReport> {
    anyhow::ensure!(!opts.pool.is_empty(), "no questions to ask");
    // One TLS provider for the process: ring (reqwest needs one even for http).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency.max(1))
        .build()?;
    let url = opts.url.trim_end_matches('/').to_string();
    // Heavy questions first, each in its own session, kept running while we measure.
    let stop_heavy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heavy_done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Each run starts at its own point, so no run repeats an earlier run's heavy questions.
    let first = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize ^ d.as_secs() as usize)
        .unwrap_or(0);
    let heavy_asked = Arc::new(std::sync::atomic::AtomicUsize::new(first));
    let cache_before = cache_stats(&http, &url).await;
    let mut heavy = Vec::new();
    for _ in 0..opts.heavy {
        let s = Session::open(&http, &url).await?;
        let q = opts.heavy_question.clone();
        let stop = Arc::clone(&stop_heavy);
        let done = Arc::clone(&heavy_done);
        let asked = Arc::clone(&heavy_asked);
        heavy.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let n = asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.ask(&heavy_variant(&q, n)).await;
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }));
    }
    if opts.heavy > 0 {
        // Let the heavy questions reach the warehouse before measuring.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..opts.concurrency.max(1) {
        let s = Session::open(&http, &url).await?;
        let next = Arc::clone(&next);
        let results = Arc::clone(&results);
        let pool = opts.pool.clone();
        let total = opts.questions;
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                let r = s.ask(&pool[i % pool.len()]).await;
                let took = t.elapsed();
                if let Ok(mut v) = results.lock() {
                    v.push((took, r));
                }
            }
        }));
    }
    for w in workers {
        w.await.context("a load worker panicked")?;
    }
    let wall = started.elapsed();
    let cache_after = cache_stats(&http, &url).await;
    stop_heavy.store(true, std::sync::atomic::Ordering::SeqCst);
    for h in heavy {
        h.abort();
    }
    let results = std::mem::take(
        &mut *results
            .lock()
            .map_err(|_| anyhow::anyhow!("results poisoned"))?,
    );
    let mut times: Vec<Duration> = results.iter().map(|(t, _)| *t).collect();
    times.sort();
    let errors = results.iter().filter(|(_, r)| r.is_err()).count();
    for (_, r) in results.iter().filter(|(_, r)| r.is_err()).take(3) {
        if let Err(e) = r {
            tracing::warn!(error = %e, "a load ask failed");
        }
    }
    let lost = match &opts.state_db {
        Some(path) => {
            let state = State::open(AuditLog::open(path)?)?;
            let mut lost = 0;
            for (_, r) in &results {
                if let Ok(id) = r {
                    if state.answer(id)?.is_none() {
                        lost += 1;
                    }
                }
            }
            Some(lost)
        }
        None => None,
    };
    Ok(LoadReport {
        asked: results.len(),
        errors,
        p50: percentile(&times, 0.50),
        p95: percentile(&times, 0.95),
        max: times.last().copied().unwrap_or_default(),
        wall,
        lost,
        heavy_done: heavy_done.load(std::sync::atomic::Ordering::SeqCst),
        cache: match (cache_before, cache_after) {
            (Some(b), Some(a)) => Some(CacheStats {
                hits: a.hits.saturating_sub(b.hits),
                misses: a.misses.saturating_sub(b.misses),
                coalesced: a.coalesced.saturating_sub(b.coalesced),
                bypassed: a.bypassed.saturating_sub(b.bypassed),
                entries: a.entries,
            }),
            _ => None,
        },
    })
}

/// The report as printed.
pub fn print(opts: &LoadOptions, r: &LoadReport, out: &mut dyn std::io::Write) -> Result<()> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    writeln!(
        out,
        "load: {} questions at concurrency {}{} against {}",
        r.asked,
        opts.concurrency,
        if opts.heavy > 0 {
            format!(" while {} heavy questions run", opts.heavy)
        } else {
            String::new()
        },
        opts.url
    )?;
    writeln!(
        out,
        "latency ms: p50 {:.1}  p95 {:.1}  max {:.1}   throughput {:.1} asks/s",
        ms(r.p50),
        ms(r.p95),
        ms(r.max),
        r.asked as f64 / r.wall.as_secs_f64().max(1e-9)
    )?;
    writeln!(
        out,
        "errors: {}   lost records: {}",
        r.errors,
        r.lost
            .map_or("not checked (no state database)".to_string(), |l| l
                .to_string())
    )?;
    match &r.cache {
        Some(c) => writeln!(
            out,
            "result cache: {} hits ({} waited for an identical query), {} misses, {} not cacheable; {} entries",
            c.hits, c.coalesced, c.misses, c.bypassed, c.entries
        )?,
        None => writeln!(out, "result cache: not reported by the server")?,
    }
    if opts.heavy > 0 {
        writeln!(out, "heavy questions finished meanwhile: {}", r.heavy_done)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tokens_and_ids_from_pages() {
        let page = r#"<form><input type="hidden" name="csrf" value="ab12"><article data-answer-id="f00d"></article>"#;
        assert_eq!(hidden_value(page, "csrf").as_deref(), Some("ab12"));
        assert_eq!(answer_id(page).as_deref(), Some("f00d"));
        assert_eq!(answer_id("<p>none</p>"), None);
        let t: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&t, 0.95), Duration::from_millis(95));
        assert_eq!(percentile(&t, 0.5), Duration::from_millis(51));
    }

    #[test]
    fn every_heavy_ask_is_a_different_question() {
        let q = "median FRT per day since {since}?";
        assert_eq!(heavy_variant(q, 0), "median FRT per day since 1901-01-01?");
        assert_eq!(heavy_variant(q, 40), "median FRT per day since 1901-02-10?");
        assert_eq!(heavy_variant(q, 36_500), heavy_variant(q, 0));
        assert_ne!(heavy_variant(q, 1), heavy_variant(q, 2));
        assert_eq!(heavy_variant("no placeholder", 3), "no placeholder");
    }
}
