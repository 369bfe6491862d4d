//! Behaviour of the vector index: recall of the graph against exact search, updates and
//! deletes, persistence and the errors that tell the operator to rebuild.

use std::collections::HashSet;
use std::path::Path;

use vectors::{Error, IndexParams, Method, VectorIndex};

/// splitmix64: a small deterministic generator, enough for test vectors.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn vector(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| self.unit()).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }
}

const DIM: usize = 512;
const MODEL: &str = "m3e-small-0123456789ab";

fn filled(n: usize, seed: u64, params: IndexParams) -> (VectorIndex, Rng) {
    let mut rng = Rng(seed);
    let vectors: Vec<(String, Vec<f32>)> = (0..n).map(|i| (format!("doc-{i}"), rng.vector(DIM))).collect();
    let mut index = VectorIndex::new(MODEL, DIM, params).unwrap();
    index.upsert_many(vectors.iter().map(|(id, v)| (id.as_str(), v.as_slice()))).unwrap();
    (index, rng)
}

fn ids(hits: &[vectors::Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

#[test]
fn graph_recall_at_10_against_exact_is_at_least_099() {
    let (mut index, mut rng) = filled(5_000, 7, IndexParams::default());
    assert_eq!(index.method(), Method::Exact, "5k is below the exact-scan threshold");
    let started = std::time::Instant::now();
    index.build_graph();
    let build = started.elapsed();
    let queries: Vec<Vec<f32>> = (0..200).map(|_| rng.vector(DIM)).collect();
    let ef = index.params().ef_search;
    let (mut found, mut total) = (0usize, 0usize);
    let started = std::time::Instant::now();
    for q in &queries {
        let exact = index.search_exact(q, 10).unwrap();
        let graph = index.search_graph(q, 10, ef).unwrap();
        assert_eq!(graph.len(), 10);
        let truth: HashSet<&str> = ids(&exact).into_iter().collect();
        found += graph.iter().filter(|h| truth.contains(h.id.as_str())).count();
        total += 10;
        assert!(graph.windows(2).all(|w| w[0].score >= w[1].score), "hits best first");
    }
    let recall = found as f64 / total as f64;
    eprintln!(
        "5k x {DIM}: graph build {build:?}, 200 queries exact+graph {:?}, recall@10 {recall:.4} at ef {ef}",
        started.elapsed()
    );
    assert!(recall >= 0.99, "recall@10 {recall} < 0.99");
}

#[test]
fn updates_replace_and_deletes_hide_in_both_methods() {
    let params = IndexParams { max_tombstone_fraction: 0.5, ..IndexParams::default() };
    let (mut index, mut rng) = filled(600, 11, params);
    index.build_graph();
    let target = rng.vector(DIM);

    // An update: doc-5 now points at the target, its old vector is a tombstone.
    let old = index.get("doc-5").unwrap().to_vec();
    index.upsert("doc-5", &target).unwrap();
    assert_eq!((index.len(), index.tombstones()), (600, 1));
    for hits in [index.search_exact(&target, 3).unwrap(), index.search_graph(&target, 3, 64).unwrap()] {
        assert_eq!(hits[0].id, "doc-5");
        assert!(hits[0].score > 0.9999 && hits[0].score <= 1.0 + 1e-6, "{}", hits[0].score);
        assert_eq!(hits.iter().filter(|h| h.id == "doc-5").count(), 1, "the old vector is not returned");
    }
    // The old vector no longer finds doc-5 first.
    assert_ne!(index.search_exact(&old, 1).unwrap()[0].id, "doc-5");

    // A delete.
    assert!(index.remove("doc-5"));
    assert!(!index.remove("doc-5"));
    assert!(!index.contains("doc-5") && index.get("doc-5").is_none());
    for hits in [index.search_exact(&target, 10).unwrap(), index.search_graph(&target, 10, 64).unwrap()] {
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|h| h.id != "doc-5"));
    }

    // Many deletes: past the tombstone fraction the index compacts itself.
    for i in 0..400 {
        index.remove(&format!("doc-{i}"));
    }
    assert_eq!(index.len(), 200);
    assert!(index.tombstones() < 200, "compacted: {} tombstones", index.tombstones());
    let q = index.get("doc-450").unwrap().to_vec();
    assert_eq!(index.search(&q, 1).unwrap()[0].id, "doc-450");
    assert_eq!(index.search_graph(&q, 1, 64).unwrap()[0].id, "doc-450");
}

#[test]
fn a_document_with_parts_is_found_once_by_its_best_part() {
    let (mut index, mut rng) = filled(300, 21, IndexParams::default());
    let parts: Vec<Vec<f32>> = (0..3).map(|_| rng.vector(DIM)).collect();
    index.upsert_parts("long", &parts).unwrap();
    assert_eq!((index.len(), index.vector_count()), (301, 303));
    assert_eq!(index.parts("long").len(), 3);
    for (i, p) in parts.iter().enumerate() {
        for hits in [index.search_exact(p, 10).unwrap(), index.search_graph(p, 10, 64).unwrap()] {
            assert_eq!(hits[0].id, "long", "part {i}");
            assert!(hits[0].score > 0.9999);
            assert_eq!(hits.len(), 10);
            assert_eq!(hits.iter().filter(|h| h.id == "long").count(), 1, "one hit per document");
        }
    }
    // A query between two parts scores the document by the better one.
    let mid: Vec<f32> = parts[0].iter().zip(&parts[1]).map(|(a, b)| 0.7 * a + 0.3 * b).collect();
    let best = index.search(&mid, 1).unwrap().remove(0);
    let expected = vectors::dot(&parts[0], &mid) / mid.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert_eq!(best.id, "long");
    assert!((best.score - expected).abs() < 1e-5);

    // Replacing with one vector drops all three parts; the parts survive a save and open.
    let dir = tempfile::tempdir().unwrap();
    index.save(dir.path()).unwrap();
    let back = VectorIndex::open(dir.path(), MODEL, DIM, IndexParams::default()).unwrap();
    assert_eq!((back.len(), back.vector_count(), back.parts("long").len()), (301, 303, 3));
    assert_eq!(back.search(&parts[2], 1).unwrap()[0].id, "long");
    index.upsert("long", &parts[1]).unwrap();
    assert_eq!((index.len(), index.vector_count(), index.tombstones()), (301, 301, 3));
    assert_ne!(index.search(&parts[0], 1).unwrap()[0].id, "long");
    assert!(index.remove("long"));
    assert_eq!(index.vector_count(), 300);
    assert!(index.upsert_parts("none", &[]).is_err());
}

#[test]
fn the_graph_takes_over_above_the_threshold_and_follows_updates() {
    let params = IndexParams { exact_threshold: 300, ..IndexParams::default() };
    let (mut index, mut rng) = filled(300, 3, params);
    assert_eq!(index.method(), Method::Exact);
    index.upsert("new-1", &rng.vector(DIM)).unwrap();
    assert_eq!(index.method(), Method::Graph);
    let v = rng.vector(DIM);
    index.upsert("new-2", &v).unwrap();
    assert_eq!(index.search(&v, 1).unwrap()[0].id, "new-2", "later inserts reach the graph");
    index.remove("new-2");
    assert!(index.search(&v, 5).unwrap().iter().all(|h| h.id != "new-2"));
}

#[test]
fn bad_vectors_are_refused_and_rounding_never_panics() {
    let mut index = VectorIndex::new(MODEL, 4, IndexParams::default()).unwrap();
    for (v, why) in
        [(vec![1.0, 0.0, 0.0], "dimensions"), (vec![f32::NAN, 0.0, 0.0, 1.0], "NaN"), (vec![0.0; 4], "zero vector")]
    {
        let e = index.upsert("x", &v).unwrap_err();
        assert!(matches!(e, Error::BadVector { .. }) && e.to_string().contains(why), "{e}");
    }
    assert!(index.is_empty());
    // Unnormalised input is normalised; a query equal to a stored vector has a dot product that
    // can round above 1: the clamped distance keeps the graph from panicking.
    let v = [0.1f32, 0.7, 0.3, 0.64];
    index.upsert("a", &v).unwrap();
    index.upsert("b", &[3.0, 1.0, 0.0, 0.0]).unwrap();
    index.build_graph();
    for _ in 0..3 {
        assert_eq!(index.search(&v, 2).unwrap()[0].id, "a");
        assert_eq!(index.search(&[1000.0, 7000.0, 3000.0, 6400.0], 1).unwrap()[0].id, "a");
    }
    assert!(index.search(&v, 0).unwrap().is_empty());
    assert_eq!(index.search(&v, usize::MAX).unwrap().len(), 2, "k is bounded by the index size");
    assert_eq!(index.search_exact(&v, usize::MAX).unwrap().len(), 2);
    assert!(index.search(&[0.0; 4], 1).is_err());
}

#[test]
fn save_and_open_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (mut index, mut rng) = filled(1_000, 5, IndexParams::default());
    index.upsert("doc-1", &rng.vector(DIM)).unwrap();
    index.remove("doc-2");
    index.upsert("项目-变压器/油温", &rng.vector(DIM)).unwrap();
    index.set_applied_seq(4242);
    let m = index.save(dir.path()).unwrap();
    assert_eq!((m.count, m.vectors, m.dimension, m.applied_seq, m.model_id.as_str()), (1_000, 1_000, DIM, 4242, MODEL));

    let back = VectorIndex::open(dir.path(), MODEL, DIM, IndexParams::default()).unwrap();
    assert_eq!((back.len(), back.tombstones(), back.applied_seq()), (1_000, 0, 4242));
    assert!(!back.contains("doc-2"));
    for id in ["doc-0", "doc-1", "doc-999", "项目-变压器/油温"] {
        assert_eq!(back.get(id).unwrap(), index.get(id).unwrap(), "{id}");
    }
    for _ in 0..20 {
        let q = rng.vector(DIM);
        assert_eq!(back.search(&q, 10).unwrap(), index.search(&q, 10).unwrap());
    }

    // Saving again replaces the data file and leaves no temporary or stale file behind.
    index.remove("doc-3");
    index.save(dir.path()).unwrap();
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(VectorIndex::open(dir.path(), MODEL, DIM, IndexParams::default()).unwrap().len(), 999);

    // An empty index round-trips too.
    let empty_dir = tempfile::tempdir().unwrap();
    VectorIndex::new(MODEL, DIM, IndexParams::default()).unwrap().save(empty_dir.path()).unwrap();
    assert!(VectorIndex::open(empty_dir.path(), MODEL, DIM, IndexParams::default()).unwrap().is_empty());
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<VectorIndex>();
}

fn saved(dir: &Path) {
    let (index, _) = filled(50, 9, IndexParams::default());
    index.save(dir).unwrap();
}

fn open(dir: &Path) -> vectors::Result<VectorIndex> {
    VectorIndex::open(dir, MODEL, DIM, IndexParams::default())
}

#[test]
fn a_different_model_or_dimension_says_to_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path());
    let e = VectorIndex::open(dir.path(), "bge-small-zh-v1.5-ffffffffffff", DIM, IndexParams::default()).unwrap_err();
    assert!(matches!(e, Error::ModelMismatch { .. }), "{e}");
    assert!(e.to_string().contains("gridkb reindex") && e.to_string().contains(MODEL), "{e}");
    let e = VectorIndex::open(dir.path(), MODEL, 768, IndexParams::default()).unwrap_err();
    assert!(matches!(e, Error::DimensionMismatch { found: 512, expected: 768, .. }), "{e}");
    assert!(e.to_string().contains("gridkb reindex"), "{e}");
}

#[test]
fn corruption_is_detected() {
    // A manifest edited by hand (count changed): its checksum no longer matches.
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path());
    let manifest = dir.path().join(vectors::MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"count\": 50", "\"count\": 49")).unwrap();
    let e = open(dir.path()).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }) && e.to_string().contains("checksum"), "{e}");

    // A manifest that is not JSON at all.
    std::fs::write(&manifest, b"{ truncated").unwrap();
    let e = open(dir.path()).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }) && e.to_string().contains("gridkb reindex"), "{e}");

    // One flipped bit in the data file.
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path());
    let data = VectorIndex::data_path(dir.path()).unwrap();
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&data, &bytes).unwrap();
    let e = open(dir.path()).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }) && e.to_string().contains("checksum"), "{e}");

    // A truncated data file.
    bytes[mid] ^= 0x10;
    std::fs::write(&data, &bytes[..bytes.len() - 7]).unwrap();
    assert!(matches!(open(dir.path()).unwrap_err(), Error::Corrupt { .. }));

    // A missing directory is an I/O error naming the path.
    let e = open(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("nope"), "{e}");
    assert!(!VectorIndex::exists(&dir.path().join("nope")));
}
