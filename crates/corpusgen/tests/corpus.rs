//! The generated corpus: deterministic, committed as generated, valid, linked, big enough.
//!
//! `CORPUSGEN_BLESS=1 cargo test -p corpusgen --release` rewrites the committed
//! `corpus/generated` and `corpus/tickets` from the generator (then review the diff).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use corpusgen::{Options, Summary, generate};
use serde_json::Value;
use store::{Category, Record};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn authored() -> PathBuf {
    repo().join("corpus/authored")
}

/// One generation into a temporary directory, shared by the tests of this binary.
fn generated() -> &'static (tempfile::TempDir, Summary) {
    static GENERATED: OnceLock<(tempfile::TempDir, Summary)> = OnceLock::new();
    GENERATED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let summary = generate(&authored(), dir.path(), &Options::default()).expect("generation succeeds");
        println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
        (dir, summary)
    })
}

fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|x| x == "jsonl" || x == "tsv") {
                let rel = path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                out.insert(rel, fs::read(&path).expect("readable"));
            }
        }
    }
    for sub in ["generated", "tickets"] {
        walk(root, &root.join(sub), &mut out);
    }
    out
}

fn records_in(dir: &Path) -> Vec<(String, Record)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("readable dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|x| x == "jsonl") {
                files.push(path);
            }
        }
    }
    walk(dir, &mut files);
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).expect("utf-8");
        for (n, line) in text.lines().enumerate() {
            let record: Record = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: not a record: {e}", file.display(), n + 1));
            out.push((format!("{}:{}", file.display(), n + 1), record));
        }
    }
    out
}

#[test]
fn same_seed_same_bytes() {
    let (first, _) = generated();
    let second = tempfile::tempdir().expect("temp dir");
    generate(&authored(), second.path(), &Options::default()).expect("generation succeeds");
    let a = files_under(first.path());
    let b = files_under(second.path());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs between two runs with the same seed");
    }
    // A different seed gives a different corpus.
    let third = tempfile::tempdir().expect("temp dir");
    let opts = Options { seed: 7, ..Options::default() };
    generate(&authored(), third.path(), &opts).expect("generation succeeds");
    let c = files_under(third.path());
    assert_ne!(a["generated/items/solved_cases.jsonl"], c["generated/items/solved_cases.jsonl"]);
}

#[test]
fn committed_corpus_matches_the_generator() {
    let (dir, _) = generated();
    let fresh = files_under(dir.path());
    let corpus = repo().join("corpus");
    if std::env::var_os("CORPUSGEN_BLESS").is_some() {
        generate(&authored(), &corpus, &Options::default()).expect("bless: generation into corpus/ succeeds");
    }
    let committed = files_under(&corpus);
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        committed.keys().collect::<Vec<_>>(),
        "file list of corpus/generated + corpus/tickets drifted; rerun with CORPUSGEN_BLESS=1"
    );
    for (name, bytes) in &fresh {
        assert!(
            bytes == &committed[name],
            "corpus/{name} is not what the generator writes; rerun with CORPUSGEN_BLESS=1 and review the diff"
        );
    }
}

struct Corpus {
    items: BTreeMap<String, store::Item>,
    entities: BTreeMap<String, store::Entity>,
}

fn load_all() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(read_all)
}

fn read_all() -> Corpus {
    let (dir, _) = generated();
    read_corpus(dir.path())
}

/// The authored core and the generated part under `out` (a generator's output root), every
/// record valid and every id used once.
fn read_corpus(out: &Path) -> Corpus {
    let mut corpus = Corpus { items: BTreeMap::new(), entities: BTreeMap::new() };
    for root in [authored(), out.join("generated")] {
        for (place, record) in records_in(&root) {
            record.validate().unwrap_or_else(|e| panic!("{place}: {e}"));
            let id = record.id().to_string();
            let fresh = match record {
                Record::Item(item) => corpus.items.insert(id.clone(), item).is_none(),
                Record::Entity(entity) => corpus.entities.insert(id.clone(), entity).is_none(),
            };
            assert!(fresh, "{place}: id {id} is used twice");
        }
    }
    for id in corpus.items.keys() {
        assert!(!corpus.entities.contains_key(id), "{id} is both an item and an entity");
    }
    corpus
}

#[test]
fn every_record_is_valid_and_every_link_resolves() {
    check_links(load_all());
}

fn check_links(corpus: &Corpus) {
    let entity = |id: &String| corpus.entities.contains_key(id);
    for item in corpus.items.values() {
        for (field, ids) in [
            ("products", &item.products),
            ("faults", &item.faults),
            ("contracts", &item.contracts),
            ("cases", &item.cases),
            ("customers", &item.customers),
        ] {
            for id in ids {
                assert!(entity(id), "item {} links {field} {id}, which is no entity", item.id);
            }
        }
        for id in &item.cites {
            assert!(corpus.items.contains_key(id), "item {} cites {id}, which is no item", item.id);
        }
        if let Some(s) = &item.superseded_by {
            assert!(corpus.items.contains_key(s), "item {} superseded by missing {s}", item.id);
        }
        for tag in &item.tags {
            if let Some(original) = tag.strip_prefix("near-duplicate-of:") {
                assert!(corpus.items.contains_key(original), "{} is a near-duplicate of missing {original}", item.id);
            }
        }
        assert!(
            !item.products.is_empty() || !item.faults.is_empty() || item.category.is_some(),
            "item {} links no product, fault or category",
            item.id
        );
    }
    for e in corpus.entities.values() {
        for (relation, ids) in &e.links {
            for id in ids {
                assert!(entity(id), "entity {} links {relation} {id}, which is no entity", e.id);
            }
        }
    }
}

#[test]
fn counts_reach_the_targets() {
    let (_, summary) = generated();
    let corpus = load_all();
    assert!(corpus.items.len() >= 14_000, "{} items", corpus.items.len());
    assert_eq!(corpus.items.len(), summary.total_items());
    let class_count = |class: store::EntityClass| corpus.entities.values().filter(|e| e.class == class).count();
    assert!(class_count(store::EntityClass::Contract) >= 1_000);
    assert!(class_count(store::EntityClass::Customer) >= 300);
    assert!(class_count(store::EntityClass::Device) >= 1_000);
    assert_eq!(class_count(store::EntityClass::Case), summary.cases);
    let solved = corpus.items.values().filter(|i| i.kind == store::ItemKind::SolvedCase).count();
    assert!(solved * 2 > corpus.items.len(), "solved cases are most of the corpus");
    assert!(summary.contracts_expiring_90d >= 50, "{} contracts expire within 90 days", summary.contracts_expiring_90d);
    // Customers carry every service tag somewhere.
    for tag in ["停电敏感", "电费敏感", "情绪化", "重要客户"] {
        assert!(
            corpus.entities.values().any(|e| e
                .attrs
                .get("tags")
                .and_then(Value::as_array)
                .is_some_and(|t| t.iter().any(|x| x == tag))),
            "no customer tagged {tag}"
        );
    }
    // Texts are distinct: near-duplicates are the only repeats, and they are marked and rare.
    let bodies: BTreeSet<&str> = corpus.items.values().map(|i| i.body.as_str()).collect();
    let ratio = bodies.len() as f64 / corpus.items.len() as f64;
    assert!(ratio >= 0.98, "distinct body ratio {ratio}");
    let marked = corpus.items.values().filter(|i| i.tags.iter().any(|t| t.starts_with("near-duplicate-of:"))).count();
    assert_eq!(marked, summary.near_duplicates);
    assert!(marked * 50 < corpus.items.len(), "near-duplicates stay rare");
}

#[test]
fn tickets_are_labelled_and_their_gold_exists() {
    let (dir, summary) = generated();
    let corpus = load_all();
    let text = fs::read_to_string(dir.path().join("tickets/queries.jsonl")).expect("queries");
    let mut ids = BTreeSet::new();
    let mut splits: BTreeMap<String, String> = BTreeMap::new();
    let mut minors = BTreeSet::new();
    for line in text.lines() {
        let q: Value = serde_json::from_str(line).expect("json");
        for field in
            ["_id", "text", "split", "major", "minor", "products", "faults", "customer_id", "device_serial", "channel"]
        {
            assert!(q.get(field).is_some(), "ticket without {field}: {line}");
        }
        let id = q["_id"].as_str().expect("id").to_string();
        assert!(ids.insert(id.clone()), "ticket id {id} twice");
        let split = q["split"].as_str().expect("split");
        assert!(split == "dev" || split == "test");
        splits.insert(id.clone(), split.to_string());
        let minor = Category::from_code(q["minor"].as_str().expect("minor")).expect("known minor category");
        assert_eq!(minor.major().code(), q["major"].as_str().expect("major"));
        minors.insert(minor);
        for field in ["products", "faults"] {
            for p in q[field].as_array().expect("list") {
                assert!(corpus.entities.contains_key(p.as_str().expect("id")), "ticket {id}: unknown {field} {p}");
            }
        }
        if let Some(c) = q["customer_id"].as_str() {
            assert!(corpus.entities.contains_key(c), "ticket {id}: unknown customer {c}");
        }
        if let Some(serial) = q["device_serial"].as_str() {
            let device = format!("dev-{}", serial.to_ascii_lowercase());
            assert!(corpus.entities.contains_key(&device), "ticket {id}: unknown device {serial}");
        }
    }
    assert!(ids.len() >= 2_000, "{} tickets", ids.len());
    assert_eq!(minors.len(), 8, "every minor category has tickets");
    // The hand-written tickets (corpus/handwritten) are there, for tuning only.
    let handwritten: Vec<&String> = ids.iter().filter(|id| id.starts_with("t-h")).collect();
    assert!(handwritten.len() >= 100, "{} hand-written tickets", handwritten.len());
    assert_eq!(handwritten.len(), summary.handwritten_tickets);
    assert!(handwritten.iter().all(|id| splits[*id] == "dev"));
    assert!(splits.values().any(|s| s == "dev") && splits.values().any(|s| s == "test"));

    let mut solved_by: BTreeMap<String, usize> = BTreeMap::new();
    for split in ["dev", "test"] {
        let qrels = fs::read_to_string(dir.path().join(format!("tickets/qrels/{split}.tsv"))).expect("qrels");
        let mut lines = qrels.lines();
        assert_eq!(lines.next(), Some("query-id\tcorpus-id\tscore"));
        for line in lines {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "{line}");
            assert_eq!(splits.get(cols[0]).map(String::as_str), Some(split), "{line}: query in the wrong split");
            assert!(corpus.items.contains_key(cols[1]), "{line}: gold item does not exist");
            let grade: u8 = cols[2].parse().expect("grade");
            assert!(grade == 1 || grade == 2, "{line}");
            if grade == 2 {
                *solved_by.entry(cols[0].to_string()).or_default() += 1;
            }
        }
    }
    assert_eq!(solved_by.len(), ids.len(), "every ticket has an item that solves it");
    assert!(summary.mean_gold_bigram_jaccard < 0.2, "tickets echo their gold: {}", summary.mean_gold_bigram_jaccard);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let out = tempfile::tempdir().expect("temp dir");
    let bad_date = Options { corpus_date: "2026-13-01".into(), ..Options::default() };
    assert!(matches!(generate(&authored(), out.path(), &bad_date), Err(corpusgen::Error::Options(_))));
    let empty = tempfile::tempdir().expect("temp dir");
    assert!(matches!(generate(empty.path(), out.path(), &Options::default()), Err(corpusgen::Error::Input(_))));
    for scale in [0, corpusgen::MAX_SCALE + 1] {
        let opts = Options { scale, ..Options::default() };
        assert!(matches!(generate(&authored(), out.path(), &opts), Err(corpusgen::Error::Options(_))), "scale {scale}");
    }
    assert!(!out.path().join("generated").exists(), "nothing is written when the input is refused");
}

fn bigrams(text: &str) -> Vec<(char, char)> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut grams: Vec<(char, char)> = chars.windows(2).map(|w| (w[0], w[1])).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

fn jaccard(a: &[(char, char)], b: &[(char, char)]) -> f64 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / (a.len() + b.len() - common).max(1) as f64
}

/// A solved case's id, body bigrams and the original it is marked a near-duplicate of.
type CaseText<'a> = (&'a str, Vec<(char, char)>, Option<&'a str>);

#[test]
fn near_duplicates_are_only_where_marked() {
    let corpus = load_all();
    // Cases of the same fault on the same model are where template choices could collide.
    let mut groups: BTreeMap<(&str, &str), Vec<CaseText<'_>>> = BTreeMap::new();
    for item in corpus.items.values().filter(|i| i.kind == store::ItemKind::SolvedCase) {
        let marked = item.tags.iter().find_map(|t| t.strip_prefix("near-duplicate-of:"));
        groups.entry((item.faults[0].as_str(), item.products[0].as_str())).or_default().push((
            item.id.as_str(),
            bigrams(&item.body),
            marked,
        ));
    }
    let mut worst = 0.0f64;
    for cases in groups.values() {
        for (i, (a_id, a, a_dup)) in cases.iter().enumerate() {
            for (b_id, b, b_dup) in &cases[i + 1..] {
                if *a_dup == Some(*b_id) || *b_dup == Some(*a_id) {
                    continue;
                }
                let j = jaccard(a, b);
                assert!(j < 0.8, "{a_id} and {b_id} are near-duplicates (bigram Jaccard {j:.2}) but not marked");
                worst = worst.max(j);
            }
        }
    }
    println!("highest bigram Jaccard between unmarked cases of one fault and model: {worst:.3}");
}

#[test]
fn scale_one_is_todays_corpus() {
    // Today's corpus is the committed one (`committed_corpus_matches_the_generator` holds the
    // default options to it); an explicit scale 1 must give it byte for byte too.
    let out = tempfile::tempdir().expect("temp dir");
    let summary = generate(&authored(), out.path(), &Options { scale: 1, ..Options::default() }).expect("scale 1");
    assert_eq!(summary.total_items(), 16_338);
    let fresh = files_under(out.path());
    let committed = files_under(&repo().join("corpus"));
    assert_eq!(fresh.keys().collect::<Vec<_>>(), committed.keys().collect::<Vec<_>>());
    for (name, bytes) in &fresh {
        assert!(bytes == &committed[name], "scale 1 changed corpus/{name}");
    }
}

#[test]
fn scale_two_doubles_the_world_with_new_records() {
    let (_, one) = generated();
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = Options { scale: 2, ..Options::default() };
    let two = generate(&authored(), dir.path(), &opts).expect("scale 2");
    assert_eq!(two.scale, 2);
    // About twice of everything that is generated; the authored core and the tickets stay.
    for (what, a, b) in [
        ("generated items", one.generated_items, two.generated_items),
        ("solved cases", one.solved_cases, two.solved_cases),
        ("organisations", one.organisations, two.organisations),
        ("customers", one.customers, two.customers),
        ("contracts", one.contracts, two.contracts),
        ("devices", one.devices, two.devices),
        ("contracts expiring within 90 days", one.contracts_expiring_90d, two.contracts_expiring_90d),
    ] {
        let ratio = b as f64 / a as f64;
        assert!((1.75..=2.25).contains(&ratio), "{what}: {a} at scale 1, {b} at scale 2 ({ratio:.2}x)");
    }
    assert_eq!(two.authored_items, one.authored_items);
    assert_eq!(two.tickets, one.tickets);

    // Every id once (read_corpus checks), every link resolves, texts are new records rather
    // than copies: distinct bodies, distinct customer and organisation names.
    let corpus = read_corpus(dir.path());
    assert_eq!(corpus.items.len(), two.total_items());
    check_links(&corpus);
    let bodies: BTreeSet<&str> = corpus.items.values().map(|i| i.body.as_str()).collect();
    let ratio = bodies.len() as f64 / corpus.items.len() as f64;
    assert!(ratio >= 0.98, "distinct body ratio {ratio}");
    for class in [store::EntityClass::Customer, store::EntityClass::Organisation, store::EntityClass::Device] {
        let of_class: Vec<&store::Entity> = corpus.entities.values().filter(|e| e.class == class).collect();
        let labels: BTreeSet<&str> = of_class.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels.len(), of_class.len(), "two {class:?} entities share a label");
    }
    // The world fills up with new cities and counties (and so new customers' regions).
    let one_corpus = load_all();
    let regions = |c: &Corpus| -> BTreeSet<String> {
        c.entities
            .values()
            .filter(|e| e.class == store::EntityClass::Organisation)
            .filter_map(|e| e.attrs.get("region").and_then(Value::as_str).map(str::to_string))
            .collect()
    };
    assert!(regions(&corpus).len() as f64 > 1.75 * regions(one_corpus).len() as f64);

    // The same seed and scale give the same bytes.
    let again = tempfile::tempdir().expect("temp dir");
    generate(&authored(), again.path(), &opts).expect("scale 2 again");
    assert!(files_under(dir.path()) == files_under(again.path()), "scale 2 is not deterministic");
}
