//! Graph load time, memory, linking and expansion latency on the full demo corpus.

use std::path::Path;
use std::time::Instant;

use graph::{Graph, Thesaurus};
use store::{Record, Store};

fn store_with(records: &[Record]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("store.redb")).expect("store");
    for chunk in records.chunks(500) {
        store.upsert(chunk, "measure").expect("upsert");
    }
    (dir, store)
}

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or(0, |kb| kb / 1024)
}

fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Numbers for the whole demo corpus (authored + generated) and its ticket set:
/// `cargo run --release -p graph --example corpus_numbers`.
fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus");
    let mut records = Vec::new();
    for dir in ["authored/entities", "authored/items", "generated/entities", "generated/items"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        let mut files: Vec<_> = entries.map(|e| e.expect("entry").path()).collect();
        files.sort();
        for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "jsonl")) {
            for line in std::fs::read_to_string(&path).expect("read").lines().filter(|l| !l.trim().is_empty()) {
                records.push(serde_json::from_str(line).expect("record"));
            }
        }
    }
    let (_dir, store) = store_with(&records);
    let started = Instant::now();
    let mut decoded = 0usize;
    store
        .for_each(|s| {
            decoded += graph::record_triples(&s.record).len();
            Ok(())
        })
        .expect("scan");
    println!("store scan + mapping to {decoded} triples: {:?}", started.elapsed());
    let before = rss_mib();
    let (graph, report) = Graph::load_from_with_report(&store).expect("load");
    let after = rss_mib();
    println!(
        "full corpus: {} records, {} triples, load {} ms, RSS +{} MiB ({} → {})",
        report.records,
        report.triples,
        report.millis,
        after.saturating_sub(before),
        before,
        after
    );
    let started = Instant::now();
    let thesaurus = Thesaurus::from_graph(&graph).expect("thesaurus");
    let linker = thesaurus.linker();
    println!(
        "thesaurus {} entries, linker {} keys, built in {:?}",
        thesaurus.len(),
        linker.key_count(),
        started.elapsed()
    );

    let tickets = std::fs::read_to_string(root.join("tickets/queries.jsonl")).unwrap_or_default();
    let mut link_times = Vec::new();
    let mut expand_times = Vec::new();
    let (mut product_hits, mut fault_hits, mut with_product, mut with_fault, mut candidates) = (0, 0, 0, 0, 0usize);
    for line in tickets.lines().filter(|l| !l.trim().is_empty()) {
        let ticket: serde_json::Value = serde_json::from_str(line).expect("ticket");
        let text = ticket["text"].as_str().unwrap_or_default();
        let started = Instant::now();
        let links = linker.link(text);
        link_times.push(started.elapsed());
        let started = Instant::now();
        let expansion =
            graph::expand(&graph, &graph::Seed::from_links_in(&graph, &links).expect("seeds")).expect("expand");
        let took = started.elapsed();
        expand_times.push(took);
        if took > std::time::Duration::from_millis(6) {
            let seeds: Vec<String> =
                graph::Seed::from_links(&links).iter().map(|s| format!("{}:{:.2}", s.id, s.weight)).collect();
            println!("slow expansion {took:?}: {} candidates from {seeds:?}", expansion.candidates.len());
        }
        candidates += expansion.candidates.len();
        let linked: std::collections::BTreeSet<&str> = links.iter().map(|l| l.id.as_str()).collect();
        let gold = |field: &str| -> Vec<String> {
            ticket[field]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let products = gold("products");
        if !products.is_empty() {
            with_product += 1;
            product_hits += usize::from(products.iter().any(|p| linked.contains(p.as_str())));
        }
        let faults = gold("faults");
        if !faults.is_empty() {
            with_fault += 1;
            fault_hits += usize::from(faults.iter().any(|f| linked.contains(f.as_str())));
        }
    }
    if link_times.is_empty() {
        return;
    }
    link_times.sort();
    expand_times.sort();
    println!(
        "{} tickets: link p50 {:?} p99 {:?}; expand p50 {:?} p99 {:?}; mean candidates {:.1}",
        link_times.len(),
        percentile(&link_times, 0.5),
        percentile(&link_times, 0.99),
        percentile(&expand_times, 0.5),
        percentile(&expand_times, 0.99),
        candidates as f64 / link_times.len() as f64
    );
    println!(
        "gold product linked in {product_hits}/{with_product} tickets, gold fault linked in {fault_hits}/{with_fault}"
    );
    let started = Instant::now();
    let expiring =
        graph::warranties_expiring(&graph, graph::Date::parse("2025-06-30").expect("date"), 90, 1000).expect("q");
    println!("warranties expiring within 90 days of 2025-06-30: {} ({:?})", expiring.len(), started.elapsed());
    let started = Instant::now();
    let stale = graph::stale_items(&graph, graph::limits::MAX_LISTING).expect("stale");
    println!("stale items: {} ({:?})", stale.len(), started.elapsed());
}
