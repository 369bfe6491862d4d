//! Fuzz targets: every parser of untrusted input, with the property each must keep on any input.
//!
//! One function per target takes arbitrary bytes and returns `Err(Violation)` when a property
//! fails; a panic is a violation too (the caller catches it). The property tests
//! (`tests/fuzz.rs`, proptest, a few hundred cases in CI) and `gridkb fuzz --target T --duration S`
//! (arbitrary and mutated inputs for as long as asked, stable toolchain) call the same functions.

use std::time::Duration;

use serde_json::Value;

use crate::rag::MetadataCondition;
use crate::{Limits, SearchRequest};

/// A target of the fuzzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Jsonl,
    Csv,
    Markdown,
    Xlsx,
    /// Normalisation, masking and segmentation of text.
    Analyzer,
    /// Metadata conditions of the Dify API.
    DifyCondition,
    /// The SPARQL guard: size, depth, parse, refusals (no graph needed).
    SparqlGuard,
    /// A search request body: JSON into `SearchRequest`, then validation.
    SearchRequest,
}

impl Target {
    pub const ALL: [Target; 8] = [
        Target::Jsonl,
        Target::Csv,
        Target::Markdown,
        Target::Xlsx,
        Target::Analyzer,
        Target::DifyCondition,
        Target::SparqlGuard,
        Target::SearchRequest,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Jsonl => "jsonl",
            Target::Csv => "csv",
            Target::Markdown => "markdown",
            Target::Xlsx => "xlsx",
            Target::Analyzer => "analyzer",
            Target::DifyCondition => "dify-condition",
            Target::SparqlGuard => "sparql-guard",
            Target::SearchRequest => "search-request",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Valid inputs to start mutating from.
    pub fn seeds(self) -> Vec<Vec<u8>> {
        let text: &[&str] = match self {
            Target::Jsonl => &[
                r#"{"id":"kb-1","kind":"technical_point","title":"通道告警","body":"检查光纤。","products":["pm-a"],"category":"fault_repair"}"#,
                r#"{"id":"f-1","class":"Fault","label":"CT断线","aliases":["流变断线"],"attrs":{"owner":"张三 13812345678"}}"#,
            ],
            Target::Csv => &[
                "id,kind,title,body,products\nkb-1,technical_point,通道告警,检查光纤。,pm-a|pm-b\n",
                "id,class,label\nf-1,Fault,\"CT断线, 流变\"\n",
            ],
            Target::Markdown => &[
                "---\nid: kb-1\nkind: technical_point\ntitle: 通道告警\nproducts: [pm-a]\n---\n检查光纤，联系人王工 13812345678。\n",
            ],
            Target::Xlsx => &["PK\u{3}\u{4}"],
            Target::Analyzer => &[
                "931保护通道告警，联系人张三，电话138 1234 5678，户号：0123456789",
                "ＧＫＢ－９３１Ａ 身份证 11010519491231002X 邮箱 a@b.cn",
            ],
            Target::DifyCondition => &[
                r#"{"logical_operator":"and","conditions":[{"name":"kind","comparison_operator":"is","value":"answer_standard"}]}"#,
                r#"{"logical_operator":"or","conditions":[{"name":["products"],"comparison_operator":"contains","value":"pm-a"},{"name":"updated","comparison_operator":"after","value":"2025-01-01"}]}"#,
            ],
            Target::SparqlGuard => &[
                "SELECT ?s WHERE { ?s a <https://gridkb.invalid/ont#Fault> } LIMIT 10",
                "ASK { ?a (<urn:p>|!<urn:p>)* ?b FILTER(?a != ?b) }",
                "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
            ],
            Target::SearchRequest => &[
                r#"{"q":"通道告警","limit":10,"offset":0,"filters":{"kind":["technical_point"]},"fusion":"rrf"}"#,
                r#"{"q":"充电桩","retrievers":["lexical","dense"]}"#,
            ],
        };
        text.iter().map(|t| t.as_bytes().to_vec()).collect()
    }
}

/// A property that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

fn violation(message: impl Into<String>) -> Result<(), Violation> {
    Err(Violation(message.into()))
}

/// Runs one input through a target.
pub fn check(target: Target, input: &[u8]) -> Result<(), Violation> {
    match target {
        Target::Jsonl => check_reader(ingest::Format::Jsonl, "fuzz.jsonl", input),
        Target::Csv => check_reader(ingest::Format::Csv, "fuzz.csv", input),
        Target::Markdown => check_reader(ingest::Format::Markdown, "fuzz.md", input),
        Target::Xlsx => check_reader(ingest::Format::Xlsx, "fuzz.xlsx", input),
        Target::Analyzer => check_analyzer(&String::from_utf8_lossy(input)),
        Target::DifyCondition => check_condition(input),
        Target::SparqlGuard => check_sparql(&String::from_utf8_lossy(input)),
        Target::SearchRequest => check_search_request(input),
    }
}

/// A reader never panics, keeps every record valid and masked, rejects at most one entry per
/// line (or the whole file once), and quotes no personal data in a rejection.
fn check_reader(format: ingest::Format, name: &str, input: &[u8]) -> Result<(), Violation> {
    let limits = ingest::ReadLimits::default();
    let batch = ingest::read_bytes(name, format, input, &limits);
    // A record ends at a line feed or (CSV) a carriage return.
    let lines = input.iter().filter(|b| **b == b'\n' || **b == b'\r').count() + 1;
    if batch.records.len() + batch.rejections.len() > lines.max(1) * 2 + 1 {
        return violation(format!(
            "{} records and {} rejections from {lines} lines",
            batch.records.len(),
            batch.rejections.len()
        ));
    }
    for (_, record) in &batch.records {
        if let Err(e) = record.validate() {
            return violation(format!("an invalid record came out: {e}"));
        }
        let text = serde_json::to_string(record).unwrap_or_default();
        if analysis::mask(&text).text != text {
            return violation("a record came out with personal data unmasked");
        }
    }
    for rejection in &batch.rejections {
        let text = rejection.to_string();
        if analysis::mask(&text).text != text {
            return violation(format!("a rejection quotes personal data: {text}"));
        }
    }
    Ok(())
}

/// Normalising is idempotent, masking is idempotent and bounded, and the analyser takes anything.
fn check_analyzer(text: &str) -> Result<(), Violation> {
    thread_local! {
        static ANALYZER: analysis::Analyzer = analysis::Analyzer::new();
    }
    let normalized = analysis::normalize(text);
    if analysis::normalize(&normalized) != normalized {
        return violation("normalize is not idempotent");
    }
    let masked = analysis::mask(text).text;
    if analysis::mask(&masked).text != masked {
        return violation("mask is not idempotent");
    }
    // A mask placeholder is short: masking never grows a text by more than a small factor.
    if masked.chars().count() > text.chars().count() * 4 + 16 {
        return violation("masking grew the text out of bounds");
    }
    let masked_normalized = analysis::mask(&normalized).text;
    ANALYZER.with(|analyzer| {
        let terms = analyzer.query_terms(&masked_normalized);
        if terms.len() > masked_normalized.chars().count() * 3 + 8 {
            return violation("more query terms than the text could hold");
        }
        let tokens = analyzer.index_tokens(&masked_normalized);
        if tokens.iter().any(|t| t.text.is_empty()) {
            return violation("an empty token");
        }
        Ok(())
    })
}

/// Any JSON is a condition or a message saying what is wrong; the message never repeats a long
/// value it was given.
fn check_condition(input: &[u8]) -> Result<(), Violation> {
    let Ok(value) = serde_json::from_slice::<Value>(input) else { return Ok(()) };
    match MetadataCondition::parse(&value, &crate::Limits::default()) {
        Ok(_) => Ok(()),
        Err(message) => {
            // Values only (the message names fields), and not our own vocabulary (field and
            // operator names, which the message may name): free text of 12 characters or more.
            let vocabulary = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == ' ');
            let values = strings_in(&value).into_iter().filter(|s| s.chars().count() >= 12 && !vocabulary(s));
            for long in values {
                if message.contains(long.as_str()) {
                    return violation(format!("the error repeats an input value: {message}"));
                }
            }
            Ok(())
        }
    }
}

fn strings_in(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings_in).collect(),
        Value::Object(map) => map.values().flat_map(strings_in).collect(),
        _ => Vec::new(),
    }
}

/// The SPARQL guard takes anything (size and depth are checked before the recursive parser) and
/// nothing changes the graph: runs against the ontology-only graph with a short deadline, so
/// every query ends at once, and the graph holds the same triples afterwards.
fn check_sparql(query: &str) -> Result<(), Violation> {
    thread_local! {
        static GRAPH: Option<(graph::Graph, usize)> =
            graph::Graph::new().ok().and_then(|g| g.triple_count().ok().map(|n| (g, n)));
    }
    GRAPH.with(|graph| {
        let Some((graph, triples)) = graph else { return violation("cannot build the ontology graph") };
        let _answer = graph::sparql(graph, query, Duration::from_millis(50), 100);
        match graph.triple_count() {
            Ok(now) if now == *triples => Ok(()),
            Ok(now) => violation(format!("a query changed the graph: {triples} triples, now {now}")),
            Err(e) => violation(format!("the graph cannot be read after a query: {e}")),
        }
    })
}

/// Any body is a search request with every bound checked, or an error naming what is wrong.
fn check_search_request(input: &[u8]) -> Result<(), Violation> {
    let Ok(request) = serde_json::from_slice::<SearchRequest>(input) else { return Ok(()) };
    let limits = Limits::default();
    match request.validate(&limits) {
        Ok(limit) => {
            if limit == 0 || limit > limits.max_limit || request.offset + limit > limits.max_window {
                return violation(format!("a request past the bounds was accepted: limit {limit}"));
            }
            if request.q.chars().count() > limits.max_query_chars {
                return violation("an over-long query was accepted");
            }
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

/// Deterministic pseudo-random numbers for the fuzz command (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }
}

/// Pieces that reach the interesting corners of our parsers: separators and digits in every
/// width, brackets, quotes, escapes, format markers.
const PIECES: &[&str] = &[
    "\n",
    "\r\n",
    ",",
    "\"",
    "'",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    ":",
    "|",
    ";",
    "#",
    "---\n",
    "\u{200b}",
    "\u{a0}",
    "\u{3000}",
    "１３８",
    "幺三八",
    "138 1234 5678",
    "11010519491231002X",
    "户号",
    "联系人",
    "@",
    "＠",
    "\u{ffff}",
    "\u{10ffff}",
    "𝟏𝟑𝟖",
    "SELECT",
    "ASK",
    "INSERT",
    "SERVICE",
    "*",
    "+",
    "?",
    "!",
    "^",
    "/",
    "null",
    "true",
    "1e309",
    "-0",
    "\"id\"",
    "\"kind\"",
    "\"title\"",
    "\"conditions\"",
    "\"name\"",
    "\"value\"",
    "\"comparison_operator\"",
    "\"q\"",
    "\"limit\"",
    "\"filters\"",
    "PK\u{3}\u{4}",
    "\u{0}",
    "\u{feff}",
];

/// A new input from a seed: random edits (byte flips, inserted pieces, deleted, duplicated or
/// spliced ranges), or now and then bytes from scratch.
pub fn mutate(rng: &mut Rng, seed: &[u8], max_len: usize) -> Vec<u8> {
    let mut data =
        if rng.below(16) == 0 { (0..rng.below(256)).map(|_| rng.next_u64() as u8).collect() } else { seed.to_vec() };
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                data.splice(at..at, piece.iter().copied());
            }
            2 if !data.is_empty() => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + rng.below(64)).min(data.len());
                let copy: Vec<u8> = data[start..end].to_vec();
                let most = if rng.below(8) == 0 { 256 } else { 4 };
                let times = 1 + rng.below(most);
                for _ in 0..times {
                    data.splice(at..at, copy.iter().copied());
                }
            }
            4 => {
                let nested = PIECES[rng.below(12) + 4].repeat(1 + rng.below(64));
                data.splice(at..at, nested.bytes());
            }
            _ => data.insert(at, rng.next_u64() as u8),
        }
    }
    data.truncate(max_len);
    data
}
