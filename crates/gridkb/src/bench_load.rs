//! `gridkb bench search|match --url URL --concurrency N --duration S`: a running server under
//! load. N clients send requests back to back for S seconds (each on its own kept-alive
//! connection); the report has the throughput, the latency percentiles of the answered requests,
//! the answers by status (and whether every 503 carried `Retry-After`), transport errors, and the
//! server's resident memory over time — from `/proc/PID/status` with `--pid`, else from the
//! server's own `gridkb_process_resident_memory_bytes` metric (which needs an admin key when the
//! server has keys).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::bench_http::Route;
use crate::latency::Latencies;

/// How a load run is shaped.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub concurrency: usize,
    pub duration: Duration,
    /// The server's process id, to read its resident memory from `/proc`.
    pub pid: Option<u32>,
    /// How often the resident memory is sampled and a progress line printed.
    pub sample_every: Duration,
}

/// What one client saw.
#[derive(Debug, Default)]
struct ClientReport {
    answered: Vec<Duration>,
    by_status: BTreeMap<u16, u64>,
    unavailable_without_retry_after: u64,
    transport_errors: u64,
}

/// The resident memory of the server: `VmRSS` of `/proc/PID/status`, or the metric.
async fn resident_bytes(client: &reqwest::Client, base: &str, key: Option<&str>, pid: Option<u32>) -> Option<u64> {
    match pid {
        Some(pid) => {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kib * 1024)
        }
        None => {
            let mut request = client.get(format!("{base}/metrics"));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let text = request.send().await.ok()?.text().await.ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix("gridkb_process_resident_memory_bytes "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|v| v as u64)
        }
    }
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "?".to_string(), |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)))
}

pub fn run(
    base: &str,
    route: Route,
    key: Option<&str>,
    queries: &[String],
    options: &LoadOptions,
) -> anyhow::Result<()> {
    if options.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if queries.is_empty() {
        bail!("no queries to send");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let base = base.trim_end_matches('/').to_string();
        let (path, field) = match route {
            Route::Search => ("/v1/search", "q"),
            Route::Match => ("/v1/tickets/match", "text"),
        };
        let url = format!("{base}{path}");
        let probe = reqwest::Client::new();
        // One request first: a wrong URL or key is an error, not a run full of failures.
        let mut first = probe.post(&url).json(&json!({ field: queries[0] }));
        if let Some(key) = key {
            first = first.bearer_auth(key);
        }
        let status = first.send().await.with_context(|| format!("cannot reach {url}; is `gridkb serve` running?"))?.status();
        if status.as_u16() == 401 || status.as_u16() == 403 {
            bail!("{url} answered {status}: pass an API key with --key");
        }

        let started = Instant::now();
        let deadline = started + options.duration;
        let sent = Arc::new(AtomicU64::new(0));
        let queries = Arc::new(queries.to_vec());
        let mut clients = Vec::new();
        for client_number in 0..options.concurrency {
            let (url, key, queries, sent) =
                (url.clone(), key.map(str::to_string), Arc::clone(&queries), Arc::clone(&sent));
            clients.push(tokio::spawn(async move {
                // One connection per client, kept alive, as a desk or a bot would hold.
                let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("http client");
                let mut report = ClientReport::default();
                let mut next = client_number;
                while Instant::now() < deadline {
                    let text = &queries[next % queries.len()];
                    next += options_stride(queries.len());
                    let mut request = client.post(&url).json(&json!({ field: text }));
                    if let Some(key) = &key {
                        request = request.bearer_auth(key);
                    }
                    let began = Instant::now();
                    match request.send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let retry_after = response.headers().contains_key("retry-after");
                            let complete = response.bytes().await.is_ok();
                            if !complete {
                                report.transport_errors += 1;
                                continue;
                            }
                            *report.by_status.entry(status).or_default() += 1;
                            if status == 503 && !retry_after {
                                report.unavailable_without_retry_after += 1;
                            }
                            if (200..300).contains(&status) {
                                report.answered.push(began.elapsed());
                            }
                        }
                        Err(_) => {
                            report.transport_errors += 1;
                            // A refused connection should not spin.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                report
            }));
        }

        // Progress and memory while the clients run.
        let mut samples: Vec<(Duration, Option<u64>)> = Vec::new();
        let first_rss = resident_bytes(&probe, &base, key, options.pid).await;
        samples.push((Duration::ZERO, first_rss));
        println!("t=0s: server RSS {}", mib(first_rss));
        let mut last_count = 0u64;
        let mut last_at = started;
        while Instant::now() < deadline {
            let wait = options.sample_every.min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(wait).await;
            let now = Instant::now();
            let count = sent.load(Ordering::Relaxed);
            let rss = resident_bytes(&probe, &base, key, options.pid).await;
            let qps = (count - last_count) as f64 / now.duration_since(last_at).as_secs_f64().max(1e-9);
            println!("t={:.0}s: {count} requests, {qps:.1} req/s, server RSS {}", (now - started).as_secs_f64(), mib(rss));
            samples.push((now - started, rss));
            (last_count, last_at) = (count, now);
        }

        let mut total = ClientReport::default();
        for client in clients {
            let report = client.await.context("a client task failed")?;
            total.answered.extend(report.answered);
            for (status, n) in report.by_status {
                *total.by_status.entry(status).or_default() += n;
            }
            total.unavailable_without_retry_after += report.unavailable_without_retry_after;
            total.transport_errors += report.transport_errors;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let requests: u64 = total.by_status.values().sum();
        let ok = total.answered.len();
        let latencies = Latencies::new(total.answered);
        println!(
            "POST {path} at concurrency {} for {elapsed:.0} s: {requests} answered ({:.1} req/s), {ok} with 2xx ({:.1} req/s); \
             2xx latency {latencies}",
            options.concurrency,
            requests as f64 / elapsed,
            ok as f64 / elapsed,
        );
        let statuses: Vec<String> = total.by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        println!(
            "answers by status: {}; 503 without Retry-After: {}; transport errors: {}",
            statuses.join(", "),
            total.unavailable_without_retry_after,
            total.transport_errors
        );
        let known: Vec<(Duration, u64)> = samples.iter().filter_map(|(t, r)| r.map(|r| (*t, r))).collect();
        if let (Some(first), Some(last)) = (known.first(), known.last()) {
            let peak = known.iter().map(|(_, r)| *r).max().unwrap_or(0);
            // After warm-up: from the first sample past a tenth of the run.
            let warm = known.iter().find(|(t, _)| *t >= options.duration / 10).unwrap_or(first);
            println!(
                "server RSS: start {}, after warm-up ({:.0} s) {}, end {}, peak {}",
                mib(Some(first.1)),
                warm.0.as_secs_f64(),
                mib(Some(warm.1)),
                mib(Some(last.1)),
                mib(Some(peak)),
            );
        } else {
            println!("server RSS: unknown (give --pid, or an admin --key for /metrics)");
        }
        Ok(())
    })
}

/// Clients walk the query list with a stride prime to its length, so that they do not all send
/// the same query at the same moment.
fn options_stride(len: usize) -> usize {
    (1..=len).rev().find(|s| gcd(*s, len) == 1 && *s * 2 < len.max(2)).unwrap_or(1)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stride_visits_every_query() {
        for len in 1..40 {
            let stride = options_stride(len);
            let mut seen = vec![false; len];
            let mut i = 0;
            for _ in 0..len {
                seen[i % len] = true;
                i += stride;
            }
            assert!(seen.iter().all(|s| *s), "len {len} stride {stride}");
        }
    }
}
