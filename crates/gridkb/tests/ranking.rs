//! Ranking regression on the real corpus: the bundled knowledge base and the ticket dev split,
//! lexical + graph (no model, so CI can afford it: about a minute), measured as `gridkb eval`
//! measures. Each floor sits a little under what the retriever scores today (README,
//! Evaluation), so the test fails when ranking breaks — a tokenizer, a boost, a fusion or the
//! graph expansion gone wrong — and not on the run-to-run wobble of the graph's fan-out cut.

use std::path::Path;

use gridkb::eval;
use search::{Engine, EngineOptions};

/// nDCG@10 floors on the ticket dev split without dense retrieval.
/// Measured on 1,099 dev tickets: lexical 0.4301, graph 0.2386, fused 0.4344.
const FLOORS: [(&str, f64); 3] = [("lexical", 0.41), ("graph", 0.22), ("fused", 0.41)];

#[test]
fn ticket_dev_split_ranks_above_its_floors() {
    let tickets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/tickets");
    let dataset = eval::load(&tickets, "dev").expect("the bundled ticket set");
    assert!(dataset.queries.len() >= 900, "the dev split lost tickets: {}", dataset.queries.len());
    let eval::Corpus::Records(dirs) = &dataset.corpus else { panic!("the ticket set sits beside its corpus") };
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(
        EngineOptions { data_dir: dir.path().to_path_buf(), limits: eval::limits(), ..EngineOptions::default() },
        &|_| {},
    )
    .expect("engine");
    let batch = ingest::read_paths(dirs).expect("the bundled corpus");
    assert!(batch.rejections.is_empty(), "{:?}", batch.rejections.first());
    let records: Vec<_> = batch.records.into_iter().map(|(_, record)| record).collect();
    engine.ingest(&records, "test", &|_| {}).expect("ingest");
    assert!(!engine.has_dense(), "measured without a model");

    let report = eval::run(&engine, &dataset, "dev", false, None).expect("eval");
    for (method, floor) in FLOORS {
        let scores = report.methods.get(method).unwrap_or_else(|| panic!("{method} was not measured"));
        eprintln!("{method}: nDCG@10 {:.4}, MRR@10 {:.4} over {} tickets", scores.ndcg10, scores.mrr10, scores.queries);
        assert!(scores.ndcg10 >= floor, "{method}: nDCG@10 {:.4} fell below its floor {floor}", scores.ndcg10);
        assert_eq!(scores.no_relevant, 0, "{method}: every dev ticket has a judged relevant item");
    }
    // Fusion must not fall below the best single retriever.
    let fused = report.methods["fused"].ndcg10;
    assert!(fused >= report.methods["lexical"].ndcg10 - 0.005, "fused {fused:.4} below lexical");
}
