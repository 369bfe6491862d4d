//! Deterministic generator of the gridkb demo corpus expansion.
//!
//! Reads the hand-written core (`corpus/authored`) and writes, under an output root:
//!
//! - `generated/entities/`: organisations, customers, contracts, devices, cases;
//! - `generated/items/`: solved cases (解决案例), contract, customer and fulfilment summaries;
//! - `tickets/`: a labelled ticket set in BEIR layout (`queries.jsonl`, `qrels/dev.tsv`,
//!   `qrels/test.tsv`).
//!
//! Same authored input + same [`Options`] → the same bytes: all randomness comes from the
//! crate's own SplitMix64 ([`rng`]), every file is sorted by id and written with a fixed field
//! order. Nothing here depends on hash-map order, the clock or the platform.

pub mod authored;
pub mod cases;
pub mod date;
pub mod handwritten;
mod names;
mod phrases;
pub mod rng;
pub mod text;
pub mod tickets;
pub mod world;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use store::{Entity, Item};

pub use calendar::Date;
pub use date::ChineseDate;

/// The seed the committed corpus was generated with.
pub const DEFAULT_SEED: u64 = 20_261_101;
/// The date the committed corpus describes ("today" for warranties and expiry alerts).
pub const DEFAULT_CORPUS_DATE: &str = "2026-11-01";

/// The largest [`Options::scale`].
pub const MAX_SCALE: u32 = world::MAX_SCALE as u32;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// `YYYY-MM-DD`: cases happen before it, warranties are judged against it.
    pub corpus_date: String,
    /// How big a world to generate, 1 ..= [`MAX_SCALE`]: at scale N the world has about N times
    /// the customers, contracts and devices of scale 1 (more cities and counties in the same six
    /// provinces, more plants and enterprises) and N times the solved cases, so about N times
    /// the generated items. Scale 1 is the committed corpus. The ticket set keeps its size.
    pub scale: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options { seed: DEFAULT_SEED, corpus_date: DEFAULT_CORPUS_DATE.into(), scale: 1 }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub authored_items: usize,
    pub authored_entities: usize,
    pub solved_cases: usize,
    pub near_duplicates: usize,
    pub contract_items: usize,
    pub customer_items: usize,
    pub fulfilment_items: usize,
    pub generated_items: usize,
    pub scale: u32,
    pub organisations: usize,
    pub customers: usize,
    pub contracts: usize,
    pub contracts_expiring_90d: usize,
    pub devices: usize,
    pub cases: usize,
    pub tickets: usize,
    pub dev_tickets: usize,
    pub test_tickets: usize,
    /// Of the dev tickets, those written by hand (`corpus/handwritten/tickets.jsonl`).
    pub handwritten_tickets: usize,
    pub qrels: usize,
    /// Mean character-bigram Jaccard between a ticket and each of its gold items.
    pub mean_gold_bigram_jaccard: f64,
    /// Files written, relative to the output root, with their sizes in bytes.
    pub files: Vec<(String, u64)>,
}

impl Summary {
    pub fn total_items(&self) -> usize {
        self.authored_items + self.generated_items
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("bad authored input: {0}")]
    Input(String),
    #[error("bad option: {0}")]
    Options(String),
    #[error("generated record {id} is invalid: {message}")]
    Invalid { id: String, message: String },
}

impl Error {
    pub(crate) fn io(path: &Path, source: io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), source }
    }
}

/// Generates the expansion from the authored corpus at `authored` into `out_root`
/// (`out_root/generated/...` and `out_root/tickets/...`). Existing files of the same names are
/// replaced; the `generated` and `tickets` directories are emptied of `*.jsonl` / `*.tsv` first
/// so that a renamed file cannot linger.
pub fn generate(authored: &Path, out_root: &Path, opts: &Options) -> Result<Summary, Error> {
    let corpus_date = Date::parse(&opts.corpus_date)
        .map_err(|_| Error::Options(format!("corpus_date `{}` is not YYYY-MM-DD", opts.corpus_date)))?;
    if !(1..=MAX_SCALE).contains(&opts.scale) {
        return Err(Error::Options(format!("scale {} is not between 1 and {MAX_SCALE}", opts.scale)));
    }
    let seed = opts.seed;
    let core = authored::Authored::load(authored)?;
    let world = world::World::build(seed, corpus_date, &core, opts.scale as usize);
    let cases = cases::draw_cases(seed, corpus_date, &core, &world);

    let solved = cases::case_items(seed, &cases, &core, &world, corpus_date);
    let contract_items = cases::contract_items(&world, &core, corpus_date);
    let customer_items = cases::customer_items(&world, &core, corpus_date);
    let fulfilment_items = cases::fulfilment_items(seed, &world, &core);
    let tickets = tickets::build(seed, corpus_date, &core, &world, &cases, &solved, &contract_items);
    let handwritten = handwritten::load(authored, &core)?;

    let mut summary = Summary {
        authored_items: core.items.len(),
        authored_entities: core.entity_count,
        solved_cases: solved.len(),
        near_duplicates: solved.len() - cases.len(),
        contract_items: contract_items.len(),
        customer_items: customer_items.len(),
        fulfilment_items: fulfilment_items.len(),
        generated_items: solved.len() + contract_items.len() + customer_items.len() + fulfilment_items.len(),
        scale: opts.scale,
        organisations: world.orgs.len(),
        customers: world.customers.len(),
        contracts: world.contracts.len(),
        contracts_expiring_90d: world
            .contracts
            .iter()
            .filter(|k| world::warranty_status(k.warranty_end, corpus_date) == "90天内到期")
            .count(),
        devices: world.devices.len(),
        cases: cases.len(),
        tickets: tickets.queries.len() + handwritten.len(),
        dev_tickets: tickets.queries.iter().filter(|q| q.split == "dev").count() + handwritten.len(),
        test_tickets: tickets.queries.iter().filter(|q| q.split == "test").count(),
        handwritten_tickets: handwritten.len(),
        qrels: tickets.qrels.len() + handwritten.iter().map(|t| t.gold.len()).sum::<usize>(),
        mean_gold_bigram_jaccard: tickets.mean_jaccard,
        files: Vec::new(),
    };

    let generated = out_root.join("generated");
    let ticket_dir = out_root.join("tickets");
    clear(&generated, &["jsonl"])?;
    clear(&ticket_dir, &["jsonl", "tsv"])?;
    let mut out = Writer { root: out_root, files: Vec::new() };
    out.entities("generated/entities/organisations.jsonl", world.organisation_entities())?;
    out.entities("generated/entities/customers.jsonl", world.customer_entities())?;
    out.entities("generated/entities/contracts.jsonl", world.contract_entities(&core, corpus_date))?;
    out.entities("generated/entities/devices.jsonl", world.device_entities(&core))?;
    out.entities("generated/entities/cases.jsonl", cases::case_entities(&cases, &core, &world))?;
    out.items("generated/items/solved_cases.jsonl", solved)?;
    out.items("generated/items/contract_info.jsonl", contract_items)?;
    out.items("generated/items/customer_info.jsonl", customer_items)?;
    out.items("generated/items/fulfilment_info.jsonl", fulfilment_items)?;
    // The hand-written tickets follow the generated ones, in their file's order.
    out.lines(
        "tickets/queries.jsonl",
        tickets
            .queries
            .iter()
            .map(|q| serde_json::to_string(q).expect("ticket serialises"))
            .chain(handwritten.iter().map(|t| serde_json::to_string(t).expect("ticket serialises"))),
    )?;
    let handwritten_qrels: Vec<String> = handwritten
        .iter()
        .flat_map(|t| t.gold.iter().map(move |(item, grade)| format!("{}\t{item}\t{grade}", t.id)))
        .collect();
    for split in ["dev", "test"] {
        let extra = if split == "dev" { handwritten_qrels.clone() } else { Vec::new() };
        let rows = tickets
            .qrels
            .iter()
            .filter(|r| r.split == split)
            .map(|r| format!("{}\t{}\t{}", r.query, r.item, r.grade))
            .chain(extra);
        out.lines(
            &format!("tickets/qrels/{split}.tsv"),
            std::iter::once("query-id\tcorpus-id\tscore".to_string()).chain(rows),
        )?;
    }
    summary.files = out.files;
    Ok(summary)
}

/// Removes files with the given extensions under `dir` (recursively); the directory may be absent.
fn clear(dir: &Path, extensions: &[&str]) -> Result<(), Error> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            clear(&path, extensions)?;
        } else if path.extension().and_then(|x| x.to_str()).is_some_and(|x| extensions.contains(&x)) {
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

struct Writer<'a> {
    root: &'a Path,
    files: Vec<(String, u64)>,
}

impl Writer<'_> {
    fn entities(&mut self, rel: &str, mut records: Vec<Entity>) -> Result<(), Error> {
        records.sort_by(|a, b| a.id.cmp(&b.id));
        for r in &records {
            r.validate().map_err(|e| Error::Invalid { id: r.id.clone(), message: e.to_string() })?;
        }
        self.lines(rel, records.iter().map(|r| serde_json::to_string(r).expect("entity serialises")))
    }

    fn items(&mut self, rel: &str, mut records: Vec<Item>) -> Result<(), Error> {
        records.sort_by(|a, b| a.id.cmp(&b.id));
        for r in &records {
            r.validate().map_err(|e| Error::Invalid { id: r.id.clone(), message: e.to_string() })?;
        }
        self.lines(rel, records.iter().map(|r| serde_json::to_string(r).expect("item serialises")))
    }

    fn lines(&mut self, rel: &str, lines: impl Iterator<Item = String>) -> Result<(), Error> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut buf = Vec::new();
        for line in lines {
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        }
        let mut file = fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        file.write_all(&buf).map_err(|e| Error::io(&path, e))?;
        self.files.push((rel.to_string(), buf.len() as u64));
        Ok(())
    }
}
