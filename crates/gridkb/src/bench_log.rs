//! `gridkb bench log`: what recording an answer in the request log costs a search — the event
//! built from the response (masked text, terms, shown ids, coverage) and handed to the journal's
//! writer, exactly as the server does after each search and ticket match. The journal is a
//! temporary one, so the data directory is not written.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use search::{Engine, SearchRequest, TicketRequest};
use server::auth::{Principal, Role};

use crate::latency::Latencies;

pub fn run(engine: Arc<Engine>, queries: &[String], rounds: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary journal")?;
    let (journal, _) = journal::Journal::open(dir.path(), engine.limits().journal_limits())?;
    let journal = Arc::new(journal);
    let state = server::AppState::new(engine.limits().clone());
    state.set_journal(Arc::clone(&journal));
    state.set_engine(Arc::clone(&engine));
    let principal = Principal {
        key_id: Some("bench".into()),
        role: Role::Agent,
        org: Some("org-p01".into()),
        name: "bench".into(),
    };
    let mut searches = Vec::new();
    let mut tickets = Vec::new();
    let mut search_ms = Vec::new();
    for q in queries {
        let started = Instant::now();
        searches.push(engine.search(&SearchRequest { q: q.clone(), ..SearchRequest::default() })?);
        search_ms.push(started.elapsed());
        let ticket = TicketRequest { text: q.clone(), ..TicketRequest::default() };
        tickets.push(engine.match_ticket(&ticket)?);
    }
    let (mut search_log, mut ticket_log) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) * 20 {
        for response in &searches {
            let started = Instant::now();
            let id = server::request_log::record(&state, &principal, journal::Route::Search, started, |event| {
                server::request_log::search(event, response)
            });
            search_log.push(started.elapsed());
            std::hint::black_box(id);
        }
        for matched in &tickets {
            let started = Instant::now();
            let id = server::request_log::record(&state, &principal, journal::Route::Ticket, started, |event| {
                server::request_log::ticket(event, matched)
            });
            ticket_log.push(started.elapsed());
            std::hint::black_box(id);
        }
    }
    let flush = Instant::now();
    journal.flush()?;
    let flushed = flush.elapsed();
    let (search_log, ticket_log, search_ms) =
        (Latencies::new(search_log), Latencies::new(ticket_log), Latencies::new(search_ms));
    println!("request log, per answer recorded ({} searches, {} ticket matches):", search_log.len(), ticket_log.len());
    println!("  search        p50 {:.4} ms  p99 {:.4} ms", search_log.ms(0.5), search_log.ms(0.99));
    println!("  ticket match  p50 {:.4} ms  p99 {:.4} ms", ticket_log.ms(0.5), ticket_log.ms(0.99));
    println!(
        "  (the searches themselves: p50 {:.2} ms; final flush {:.1} ms; {} bytes written; {} dropped)",
        search_ms.ms(0.5),
        flushed.as_secs_f64() * 1e3,
        journal.disk_bytes(),
        journal.counters().dropped
    );
    Ok(())
}
