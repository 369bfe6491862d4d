//! `gridkb bench search|match --url URL`: latency of a running server, end to end over HTTP.
//!
//! One client sends one request at a time on a kept-alive connection, so the numbers are the
//! latency an agent's desk sees (server work plus HTTP), not throughput under load.

use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::json;

use crate::latency::Latencies;

/// What to send: `/v1/search` with `{q}` or `/v1/tickets/match` with `{text}`.
#[derive(Debug, Clone, Copy)]
pub enum Route {
    Search,
    Match,
}

pub fn run(base: &str, route: Route, key: Option<&str>, queries: &[String], rounds: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let base = base.trim_end_matches('/');
        let (path, field) = match route {
            Route::Search => ("/v1/search", "q"),
            Route::Match => ("/v1/tickets/match", "text"),
        };
        let url = format!("{base}{path}");
        let send = |text: &str| {
            let mut request = client.post(&url).json(&json!({ field: text }));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            request.send()
        };
        let mut measured = Vec::with_capacity(queries.len() * rounds.max(1));
        let mut refused = 0usize;
        // One warm-up pass, then the measured rounds.
        for round in 0..=rounds.max(1) {
            for text in queries {
                let started = Instant::now();
                let response =
                    send(text).await.with_context(|| format!("cannot reach {url}; is `gridkb serve` running?"))?;
                let status = response.status();
                response.bytes().await?;
                let elapsed = started.elapsed();
                if status.as_u16() == 401 || status.as_u16() == 403 {
                    bail!("{url} answered {status}: pass an API key with --key");
                }
                if !status.is_success() {
                    refused += 1;
                    continue;
                }
                if round > 0 {
                    measured.push(elapsed);
                }
            }
        }
        if measured.is_empty() {
            bail!("no request succeeded");
        }
        let latencies = Latencies::new(measured);
        println!(
            "POST {path} over HTTP, {} requests ({} queries x {} rounds, {refused} answered 4xx/5xx and not timed): \
             {latencies}",
            latencies.len(),
            queries.len(),
            rounds.max(1),
        );
        Ok(())
    })
}
