//! `gridkb eval`: retrieval quality of each retriever and of their fusion on a labelled dataset.
//!
//! Two layouts are read. A BEIR directory (`corpus.jsonl` with `_id, title, text`;
//! `queries.jsonl` with `_id, text`; `qrels/<split>.tsv` with a header) is indexed into a fresh
//! data directory. The bundled ticket set (`corpus/tickets`: `queries.jsonl` with `split`,
//! `major`, `minor`; `qrels/<split>.tsv`) is evaluated against the knowledge base beside it
//! (`corpus/authored`, `corpus/generated`), and also reported per service category. The
//! metrics themselves, and how grades, repeats and queries without a relevant document count,
//! are in [`crate::metrics`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use search::{Engine, Fusion, Limits, Retriever};
use serde::Serialize;
use store::{Item, ItemKind, Record, Status};

use crate::metrics::{DEEP, Grades, Scores};

/// The limits an evaluation runs under: the defaults, with a search deadline it never reaches.
/// Past the serving deadline (`search::limits::SEARCH_DEADLINE`, 1.5 s) a search skips its dense
/// and graph stages and answers what it has, so on a busy machine the measured quality would
/// depend on the load; an evaluation measures the ranking, and times it separately.
pub fn limits() -> Limits {
    Limits { search_deadline_ms: EVAL_SEARCH_DEADLINE.as_millis() as u64, ..Limits::default() }
}

/// See [`limits`].
const EVAL_SEARCH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3600);

/// One labelled query.
#[derive(Debug, Clone)]
pub struct Query {
    pub id: String,
    pub text: String,
    pub category: Option<String>,
    /// Ticket set only: the major category, and the customer and device the ticket concerns.
    pub major: Option<String>,
    pub customer_id: Option<String>,
    pub device_serial: Option<String>,
    /// Ticket set only: the product models and lines the ticket concerns.
    pub products: Vec<String>,
}

/// A dataset ready to run: where its corpus is and its labelled queries.
#[derive(Debug)]
pub struct Dataset {
    pub name: String,
    pub corpus: Corpus,
    pub queries: Vec<Query>,
    /// Query id → its judgements (see [`parse_qrels`]).
    pub qrels: HashMap<String, Grades>,
}

#[derive(Debug)]
pub enum Corpus {
    /// Record files to ingest as they are (the bundled knowledge base).
    Records(Vec<PathBuf>),
    /// Items converted from a BEIR corpus.
    Items(Vec<Record>),
    /// The knowledge base already in the data directory (an editor's labelled questions).
    Existing,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub dataset: String,
    pub split: String,
    pub methods: BTreeMap<String, Scores>,
    /// nDCG@10 of the fused ranking per service category (ticket set only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_category: BTreeMap<String, BTreeMap<String, Scores>>,
    /// Further fusion settings measured with `--sweep`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sweep: BTreeMap<String, Scores>,
}

pub fn load(dir: &Path, split: &str) -> anyhow::Result<Dataset> {
    if dir.is_file() {
        return labelled_dataset(dir);
    }
    let qrels_path = dir.join("qrels").join(format!("{split}.tsv"));
    let qrels = read_qrels(&qrels_path)?;
    let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    if dir.join("corpus.jsonl").is_file() {
        let (records, ids) = read_beir_corpus(&dir.join("corpus.jsonl"))?;
        let qrels = qrels
            .into_iter()
            .map(|(q, docs)| (q, docs.into_iter().filter_map(|(d, g)| ids.get(&d).map(|id| (id.clone(), g))).collect()))
            .collect();
        let queries = read_queries(&dir.join("queries.jsonl"), None)?;
        return Ok(Dataset { name, corpus: Corpus::Items(records), queries, qrels });
    }
    let parent = dir.parent().unwrap_or(dir);
    let record_dirs: Vec<PathBuf> =
        ["authored", "generated"].iter().map(|d| parent.join(d)).filter(|d| d.is_dir()).collect();
    if record_dirs.is_empty() {
        bail!(
            "{} is neither a BEIR directory (corpus.jsonl, queries.jsonl, qrels/{split}.tsv) nor a ticket set beside \
             a corpus (../authored, ../generated)",
            dir.display()
        );
    }
    let queries = read_queries(&dir.join("queries.jsonl"), Some(split))?;
    Ok(Dataset { name, corpus: Corpus::Records(record_dirs), queries, qrels })
}

/// An editor's labelled questions (`crate::labelled`) as a dataset over the knowledge base in
/// the data directory: each expected id is judged relevant (grade 1); the category is reported.
fn labelled_dataset(path: &Path) -> anyhow::Result<Dataset> {
    let set = crate::labelled::read(path)?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut queries = Vec::with_capacity(set.len());
    let mut qrels = HashMap::new();
    for (i, q) in set.into_iter().enumerate() {
        let id = format!("q{}", i + 1);
        qrels.insert(id.clone(), q.expected.iter().map(|e| (e.clone(), 1.0)).collect::<Grades>());
        queries.push(Query {
            id,
            text: q.question,
            category: q.category,
            major: None,
            customer_id: None,
            device_serial: None,
            products: Vec::new(),
        });
    }
    Ok(Dataset { name, corpus: Corpus::Existing, queries, qrels })
}

fn read_lines(path: &Path) -> anyhow::Result<impl Iterator<Item = (usize, String)>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let path = path.display().to_string();
    Ok(std::io::BufReader::new(file).lines().enumerate().map_while(move |(i, line)| match line {
        Ok(line) => Some((i + 1, line)),
        Err(e) => {
            tracing::warn!(path, line = i + 1, error = %e, "stopped reading");
            None
        }
    }))
}

fn read_qrels(path: &Path) -> anyhow::Result<HashMap<String, Grades>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot open {}", path.display()))?;
    parse_qrels(&text).with_context(|| path.display().to_string())
}

/// Judgements in BEIR's TSV: `query-id<TAB>corpus-id<TAB>grade` per line, after an optional
/// header line naming the columns. A grade is any number (the ticket set uses 2 = solves it,
/// 1 = relevant; 0 or below is judged not relevant, see [`crate::metrics`]); a pair judged twice
/// keeps its last grade. Blank lines are skipped; anything else is an error naming the line.
pub fn parse_qrels(text: &str) -> anyhow::Result<HashMap<String, Grades>> {
    let mut qrels: HashMap<String, Grades> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if n == 1 && fields.first().is_some_and(|f| f.contains("query")) || line.trim().is_empty() {
            continue;
        }
        let [query, doc, score] = fields[..] else {
            bail!("line {n}: expected `query-id<TAB>corpus-id<TAB>score`");
        };
        let grade: f64 = score.parse().with_context(|| format!("line {n}: score {score:?}"))?;
        if !grade.is_finite() {
            bail!("line {n}: score {score:?} is not a finite number");
        }
        qrels.entry(query.to_string()).or_default().insert(doc.to_string(), grade);
    }
    if qrels.is_empty() {
        bail!("no judgements");
    }
    Ok(qrels)
}

fn read_queries(path: &Path, split: Option<&str>) -> anyhow::Result<Vec<Query>> {
    let mut queries = Vec::new();
    for (n, line) in read_lines(path)? {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("{}:{n}: not JSON", path.display()))?;
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
        if let (Some(wanted), Some(actual)) = (split, field("split"))
            && wanted != actual
        {
            continue;
        }
        let (Some(id), Some(text)) = (field("_id"), field("text")) else {
            bail!("{}:{n}: a query needs `_id` and `text`", path.display());
        };
        let category = field("minor").or_else(|| field("major"));
        queries.push(Query {
            id,
            text,
            category,
            major: field("major"),
            customer_id: field("customer_id"),
            device_serial: field("device_serial"),
            products: value
                .get("products")
                .and_then(|v| v.as_array())
                .map(|list| list.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        });
    }
    Ok(queries)
}

/// BEIR documents become items; ids that break the schema get a stable replacement.
fn read_beir_corpus(path: &Path) -> anyhow::Result<(Vec<Record>, HashMap<String, String>)> {
    let mut records = Vec::new();
    let mut ids = HashMap::new();
    for (n, line) in read_lines(path)? {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("{}:{n}: not JSON", path.display()))?;
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).unwrap_or_default().trim().to_string();
        let (original, text) = (field("_id"), field("text"));
        if original.is_empty() || text.is_empty() {
            continue;
        }
        let id = if store::record::validate_id("id", &original).is_ok() {
            original.clone()
        } else {
            format!("beir-{}", &blake3::hash(original.as_bytes()).to_hex()[..16])
        };
        let mut title = field("title");
        if title.is_empty() {
            title = text.chars().take(40).collect();
        }
        let item = Item {
            id: id.clone(),
            kind: ItemKind::TechnicalPoint,
            title: title.chars().take(200).collect(),
            body: text.chars().take(20_000).collect(),
            products: Vec::new(),
            faults: Vec::new(),
            contracts: Vec::new(),
            cases: Vec::new(),
            customers: Vec::new(),
            cites: Vec::new(),
            tags: Vec::new(),
            category: None,
            owner: None,
            owner_level: None,
            status: Status::Published,
            version: 1,
            valid_until: None,
            review_by: None,
            superseded_by: None,
            source: Some(format!("beir:{original}")),
        };
        ids.insert(original, id);
        records.push(Record::Item(item));
    }
    Ok((records, ids))
}

/// Runs every query through every method and averages the metrics.
pub fn run(
    engine: &Engine,
    dataset: &Dataset,
    split: &str,
    sweep: bool,
    runs: Option<&Path>,
) -> anyhow::Result<Report> {
    let queries: Vec<&Query> = dataset.queries.iter().filter(|q| dataset.qrels.contains_key(&q.id)).collect();
    if queries.is_empty() {
        bail!("no query of the {split} split has judgements");
    }
    let mut methods: Vec<(String, Option<Retriever>, Option<Fusion>)> =
        vec![("lexical".into(), Some(Retriever::Lexical), None)];
    if engine.has_dense() {
        methods.push(("dense".into(), Some(Retriever::Dense), None));
    }
    // A BEIR corpus has no entities, so nothing for the graph to link or expand.
    if engine.has_graph() && matches!(dataset.corpus, Corpus::Records(_) | Corpus::Existing) {
        methods.push(("graph".into(), Some(Retriever::Graph), None));
    }
    methods.push(("fused".into(), None, None));
    let mut sweep_settings = Vec::new();
    if sweep {
        for k in [10.0, 30.0, 60.0, 100.0] {
            sweep_settings.push((format!("rrf k={k}"), None, Some(Fusion::Rrf { k })));
        }
        for (lexical, dense, graph) in
            [(1.0, 0.5, 0.5), (1.0, 0.5, 0.25), (1.0, 0.3, 0.3), (1.0, 1.0, 0.5), (1.0, 1.0, 0.0), (0.5, 1.0, 0.5)]
        {
            sweep_settings.push((
                format!("weighted {lexical}/{dense}/{graph}"),
                None,
                Some(Fusion::Weighted { lexical, dense, graph }),
            ));
        }
        // The adaptive default with one knob turned at a time.
        for (short_chars, short_dense, lexical_confidence) in
            [(0.0, 0.0, 0.0), (30.0, 1.0, 0.0), (0.0, 0.0, 1.0), (30.0, 1.5, 1.0), (20.0, 1.0, 1.0), (30.0, 1.0, 2.0)]
        {
            let [(_, lexical), (_, dense), (_, graph)] = Fusion::default().base_weights();
            sweep_settings.push((
                format!("adaptive short {short_chars}/{short_dense} confidence {lexical_confidence}"),
                None,
                Some(Fusion::Adaptive { lexical, dense, graph, short_chars, short_dense, lexical_confidence }),
            ));
        }
    }
    let mut report = Report {
        dataset: dataset.name.clone(),
        split: split.to_string(),
        methods: BTreeMap::new(),
        per_category: BTreeMap::new(),
        sweep: BTreeMap::new(),
    };
    let bar = indicatif::ProgressBar::new(((methods.len() + sweep_settings.len()) * queries.len()) as u64);
    let settings: Vec<&(String, Option<Retriever>, Option<Fusion>)> = methods.iter().chain(&sweep_settings).collect();
    let asked: Vec<(Option<Retriever>, Option<Fusion>)> = settings.iter().map(|(_, r, f)| (*r, *f)).collect();
    let mut scores: Vec<Scores> = settings.iter().map(|_| Scores::default()).collect();
    let mut by_category: BTreeMap<String, Scores> = BTreeMap::new();
    let mut run_files = match runs {
        Some(dir) => {
            Some(RunFiles::create(dir, settings.iter().map(|(name, retriever, _)| (name.as_str(), *retriever)))?)
        }
        None => None,
    };
    // Each query is analysed and embedded once for every setting (`Engine::rank_each`).
    for query in &queries {
        let gold = &dataset.qrels[&query.id];
        for (((name, _, _), ranked), score) in
            settings.iter().zip(engine.rank_each(&query.text, &asked, DEEP)).zip(&mut scores)
        {
            let (hits, ms) = ranked?;
            if let Some(files) = &mut run_files {
                files.write(name, &query.id, &hits)?;
            }
            let ranked: Vec<String> = hits.into_iter().map(|h| h.id).collect();
            score.add(&ranked, gold, ms);
            if name == "fused"
                && let Some(category) = &query.category
            {
                by_category.entry(category.clone()).or_default().add(&ranked, gold, ms);
            }
            bar.inc(1);
        }
    }
    for (index, ((name, _, _), scores)) in settings.iter().zip(scores).enumerate() {
        if index < methods.len() {
            report.methods.insert(name.clone(), scores.finish());
        } else {
            report.sweep.insert(name.clone(), scores.finish());
        }
    }
    if let Some(files) = run_files {
        files.finish()?;
    }
    if !by_category.is_empty() {
        report.per_category.insert("fused".into(), by_category.into_iter().map(|(c, s)| (c, s.finish())).collect());
    }
    bar.finish_and_clear();
    Ok(report)
}

/// One TREC run file per measured method (`--runs DIR`): `query Q0 doc rank score method` per
/// line, the format trec_eval reads. A single retriever's line carries that retriever's own score
/// (BM25, cosine, graph score), a fusion's the fused score.
struct RunFiles {
    files: BTreeMap<String, (std::io::BufWriter<std::fs::File>, Option<Retriever>, String)>,
}

impl RunFiles {
    fn create<'a>(dir: &Path, methods: impl Iterator<Item = (&'a str, Option<Retriever>)>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut files = BTreeMap::new();
        for (name, retriever) in methods {
            let tag = run_tag(name);
            let path = dir.join(format!("{tag}.trec"));
            let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            files.insert(name.to_owned(), (std::io::BufWriter::new(file), retriever, tag));
        }
        Ok(RunFiles { files })
    }

    fn write(&mut self, method: &str, query: &str, hits: &[search::Hit]) -> anyhow::Result<()> {
        use std::io::Write;
        let Some((file, retriever, tag)) = self.files.get_mut(method) else { return Ok(()) };
        for hit in hits {
            let standing = match retriever {
                Some(Retriever::Lexical) => hit.explanation.lexical,
                Some(Retriever::Dense) => hit.explanation.semantic,
                Some(Retriever::Graph) => hit.explanation.graph,
                None => None,
            };
            let score = standing.map_or(hit.score, |s| s.score);
            writeln!(file, "{query} Q0 {} {} {score} {tag}", hit.id, hit.rank)?;
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        use std::io::Write;
        for (mut file, _, _) in self.files.into_values() {
            file.flush()?;
        }
        Ok(())
    }
}

/// A method's name as a file name and TREC run tag: `weighted 1/0.5/0.5` → `weighted_1_0.5_0.5`.
fn run_tag(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

pub fn print(report: &Report) {
    println!("{} ({} split)", report.dataset, report.split);
    let table = |title: &str, rows: &BTreeMap<String, Scores>| {
        println!(
            "{title:<24} {:>8} {:>8} {:>9} {:>10} {:>8} {:>9}",
            "MRR@10", "nDCG@10", "Recall@10", "Recall@100", "queries", "ms/query"
        );
        for (name, s) in rows {
            println!(
                "{name:<24} {:>8.4} {:>8.4} {:>9.4} {:>10.4} {:>8} {:>9.2}",
                s.mrr10, s.ndcg10, s.recall10, s.recall100, s.queries, s.ms_per_query
            );
        }
    };
    table("method", &report.methods);
    if let Some(left_out) = report.methods.values().map(|s| s.no_relevant).max().filter(|n| *n > 0) {
        println!("({left_out} queries without a relevant judged document are left out of the means)");
    }
    for (method, rows) in &report.per_category {
        println!();
        table(&format!("{method} by category"), rows);
    }
    if !report.sweep.is_empty() {
        println!();
        table("fusion setting", &report.sweep);
    }
}

/// Ids of a BEIR corpus that the qrels mention but the corpus lacks are dropped with a warning.
pub fn check(dataset: &Dataset) {
    if let Corpus::Items(records) = &dataset.corpus {
        let known: HashSet<&str> = records.iter().map(Record::id).collect();
        let missing = dataset.qrels.values().flat_map(|d| d.keys()).filter(|d| !known.contains(d.as_str())).count();
        if missing > 0 {
            tracing::warn!(missing, "judgements name documents that are not in the corpus");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qrels_keep_their_grades() {
        let qrels =
            parse_qrels("query-id\tcorpus-id\tscore\nq1\ta\t2\nq1\tb\t1\n\nq1\tc\t3\nq1\td\t0\nq2\ta\t1.5\nq2\ta\t2\n")
                .expect("qrels");
        assert_eq!(qrels.len(), 2);
        let q1 = &qrels["q1"];
        assert_eq!((q1["a"], q1["b"], q1["c"], q1["d"]), (2.0, 1.0, 3.0, 0.0));
        // A pair judged twice keeps its last grade.
        assert_eq!(qrels["q2"]["a"], 2.0);
        // Without a header line too.
        assert_eq!(parse_qrels("q1\ta\t1").expect("qrels")["q1"]["a"], 1.0);
    }

    #[test]
    fn bad_qrels_name_the_line() {
        for (text, line) in [
            ("query-id\tcorpus-id\tscore\nq1\ta\n", "line 2"),
            ("q1\ta\tgood\n", "line 1"),
            ("q1\ta\t1\nq1\tb\tNaN\n", "line 2"),
            ("q1 a 1\n", "line 1"),
        ] {
            let error = format!("{:#}", parse_qrels(text).expect_err(text));
            assert!(error.contains(line), "{text:?}: {error}");
        }
        assert!(parse_qrels("query-id\tcorpus-id\tscore\n").is_err(), "no judgements");
    }

    #[test]
    fn run_tags_are_file_names() {
        assert_eq!(run_tag("weighted 1/0.5/0.5"), "weighted_1_0.5_0.5");
        assert_eq!(run_tag("rrf k=60"), "rrf_k_60");
        assert_eq!(run_tag("lexical"), "lexical");
    }

    #[test]
    fn an_evaluation_never_reaches_its_search_deadline() {
        let limits = limits();
        limits.validate().expect("valid limits");
        assert!(limits.search_deadline() >= std::time::Duration::from_secs(600));
        assert_eq!(Limits { search_deadline_ms: Limits::default().search_deadline_ms, ..limits }, Limits::default());
    }
}
