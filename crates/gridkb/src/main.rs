//! `gridkb`: the one binary. Subcommands ingest files, search from the terminal, serve the API,
//! embed text, evaluate retrieval and regenerate the demo corpus.

mod bench_approve;
mod bench_http;
mod bench_load;
mod bench_log;
mod eval_duplicates;
mod eval_feedback;
mod eval_match;
mod fuzz;
mod latency;
mod report;
mod stats;

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use gridkb::{crash, eval};
use indicatif::{ProgressBar, ProgressStyle};
use search::DataLayout;
use search::{Engine, EngineOptions, GraphLoad, Limits, ModelChoice, Progress, SearchRequest, StoreChoice};

/// Where data lives when neither `--data` nor `GRIDKB_DATA` says.
const DEFAULT_DATA_DIR: &str = "data";
/// The address `serve` binds by default: loopback only.
const DEFAULT_ADDR: &str = "127.0.0.1:7700";

#[derive(Debug, Parser)]
#[command(name = "gridkb", version, about = "Knowledge graph and hybrid search for power-equipment customer service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which embedding model dense retrieval uses.
#[derive(Debug, Clone, Args)]
struct ModelArgs {
    /// A BERT-family model directory (config.json, tokenizer.json, weights). Default:
    /// models/m3e-small when present (scripts/fetch-model.sh); without one, search is lexical.
    #[arg(long, env = "GRIDKB_MODEL")]
    model: Option<PathBuf>,
    /// Run without dense retrieval even when a model is present.
    #[arg(long)]
    no_dense: bool,
    /// Arithmetic of the model's linear layers: `f32`, or `int8` (AVX-512 VNNI or AVX2 kernels;
    /// slightly different vectors, so another model id: the vector index is rebuilt).
    /// Default: the model directory's gridkb.json, else f32 for passages and int8 for queries.
    #[arg(long, env = embed::PRECISION_ENV, value_parser = |s: &str| s.parse::<embed::Precision>())]
    precision: Option<embed::Precision>,
    /// The same for queries only (`f32` or `int8`): stored vectors stay as they are, so the
    /// index is kept. Default: the model directory's gridkb.json, else --precision, else int8
    /// (3× faster than f32, the same ranking quality on the ticket dev split).
    #[arg(long, env = embed::QUERY_PRECISION_ENV, value_parser = |s: &str| s.parse::<embed::Precision>())]
    query_precision: Option<embed::Precision>,
}

impl ModelArgs {
    fn choice(&self) -> Option<ModelChoice> {
        if self.no_dense {
            return None;
        }
        match &self.model {
            Some(dir) => Some(ModelChoice::Required(dir.clone())),
            None => Some(ModelChoice::IfPresent(default_model_dir())),
        }
    }

    /// The embedder settings these flags decide; the rest come from the model directory.
    fn embed_config(&self) -> embed::EmbedConfig {
        embed::EmbedConfig {
            precision: self.precision,
            query_precision: self.query_precision,
            ..embed::EmbedConfig::default()
        }
    }
}

/// The editing and ranking rules a server runs with.
#[derive(Debug, Clone, Copy)]
struct ServePolicy {
    /// The last author of an item may not approve it.
    four_eyes: bool,
    feedback: search::feedback::FeedbackWeights,
}

/// How far agents' feedback may move search results.
#[derive(Debug, Clone, clap::Args)]
struct FeedbackArgs {
    /// Rank without agents' feedback.
    #[arg(long, env = "GRIDKB_NO_FEEDBACK_RANKING")]
    no_feedback_ranking: bool,
    /// The largest moves from an item's helpful rate and from an earlier similar query it
    /// solved, as shares of the best fused score: `QUALITY,SOLVED` (default chosen by
    /// `gridkb eval --feedback`).
    #[arg(long, value_parser = parse_feedback_weights)]
    feedback_weights: Option<search::feedback::FeedbackWeights>,
}

impl FeedbackArgs {
    fn weights(&self) -> search::feedback::FeedbackWeights {
        if self.no_feedback_ranking {
            return search::feedback::FeedbackWeights::OFF;
        }
        self.feedback_weights.unwrap_or(search::feedback::DEFAULT_WEIGHTS)
    }
}

fn parse_feedback_weights(text: &str) -> Result<search::feedback::FeedbackWeights, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let number = |s: &str| s.parse::<f32>().ok().filter(|w| (0.0..=1.0).contains(w));
    match parts.as_slice() {
        [quality, solved] => match (number(quality), number(solved)) {
            (Some(quality), Some(solved)) => Ok(search::feedback::FeedbackWeights { quality, solved }),
            _ => Err("each weight is a number from 0 to 1".into()),
        },
        _ => Err("give two weights, QUALITY,SOLVED, e.g. 0.1,0.3".into()),
    }
}

/// Where the records live.
#[derive(Debug, Args)]
struct StoreArgs {
    /// `redb` (the data directory's own file: one machine) or `postgres://user@host:port/db`
    /// (the source of truth shared by several nodes; the data directory then holds this node's
    /// replica and indexes). The password is read from PGPASSWORD or --store-password-file,
    /// never from the URL.
    #[arg(long, env = "GRIDKB_STORE", default_value = "redb")]
    store: String,
    /// A file whose first line is the PostgreSQL password (instead of PGPASSWORD).
    #[arg(long, env = "GRIDKB_STORE_PASSWORD_FILE")]
    store_password_file: Option<PathBuf>,
}

/// How long a node waits for PostgreSQL to accept a connection.
const STORE_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl StoreArgs {
    fn choice(&self) -> anyhow::Result<StoreChoice> {
        if self.store == "redb" {
            if self.store_password_file.is_some() {
                bail!("--store-password-file is for --store postgres://...");
            }
            return Ok(StoreChoice::Redb);
        }
        if !(self.store.starts_with("postgres://") || self.store.starts_with("postgresql://")) {
            bail!("--store takes `redb` or a postgres://user@host:port/db URL");
        }
        let password = match &self.store_password_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the password file {}", path.display()))?;
                Some(text.lines().next().unwrap_or("").to_string())
            }
            None => std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()),
        };
        Ok(StoreChoice::Postgres(store::PgOptions {
            url: self.store.clone(),
            password,
            connect_timeout: STORE_CONNECT_TIMEOUT,
        }))
    }
}

/// models/m3e-small beside the working directory, else beside the source tree.
fn default_model_dir() -> PathBuf {
    let local = PathBuf::from(embed::DEFAULT_MODEL_DIR);
    if local.is_dir() {
        return local;
    }
    let beside_source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(embed::DEFAULT_MODEL_DIR);
    if beside_source.is_dir() { beside_source } else { local }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchTarget {
    /// Search latency through the engine (lexical + dense + fusion).
    Search,
    /// Embedder latency and throughput.
    Embed,
    /// Ticket matching through the engine (`POST /v1/tickets/match`); the queries are tickets.
    Match,
    /// Approve → searchable: create, submit and approve an item, then find it (writes to --data:
    /// use a scratch copy).
    Approve,
    /// What recording an answer in the request log costs (into a temporary journal).
    Log,
}

#[derive(Debug, Subcommand)]
enum CorpusCommand {
    /// Regenerate corpus/generated and corpus/tickets from corpus/authored (deterministic).
    Generate {
        /// The corpus root holding authored/; generated/ and tickets/ are written under it.
        #[arg(long, default_value = "corpus")]
        corpus: PathBuf,
        #[arg(long, default_value_t = corpusgen::Options::default().seed)]
        seed: u64,
        /// How big a world: N times the generated items of the bundled corpus (N times the
        /// customers, contracts, devices and solved cases; the ticket set keeps its size).
        /// 1 is the bundled corpus; for more, copy authored/ into another --corpus directory
        /// rather than overwrite the committed files.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(corpusgen::MAX_SCALE)))]
        scale: u32,
    },
}

/// `gridkb keys ...`: the API keys of a data directory (`DIR/keys.json`).
#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key; it is printed once, as the last word of the output, and never stored.
    Create {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// agent or bot (read published items), editor (also SPARQL and editing within --org),
        /// reviewer (also approve / reject / retire / restore within --org), admin (everything).
        #[arg(long, value_parser = |s: &str| s.parse::<server::auth::Role>())]
        role: server::auth::Role,
        /// The organisation the key acts for (an Organisation id such as org-p01): editors and
        /// reviewers may change items owned by it or by a unit below it.
        #[arg(long)]
        org: Option<String>,
        /// Who or what the key is for (at most `max_key_note_chars` characters, 200 unless --limits
        /// says otherwise).
        #[arg(long)]
        note: Option<String>,
        /// A JSON file overriding some of the limits, as for `serve` (here `max_key_note_chars`).
        #[arg(long, env = "GRIDKB_LIMITS")]
        limits: Option<PathBuf>,
        /// With PostgreSQL, the key file lives there and every node takes it (--data is unused).
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the keys: id, role, created, revoked, note (never the secrets).
    List {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id; a running server refuses it within about a second.
    Revoke {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read records from JSONL, CSV, XLSX or Markdown files and directories into a data directory.
    Ingest {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// Fail (exit code 1) when any record is rejected.
        #[arg(long)]
        strict: bool,
        /// Leave the embeddings to the next `serve` (which computes them in the background).
        #[arg(long)]
        skip_embeddings: bool,
        /// A JSON file overriding some of the limits, as for `serve` (e.g. `{"max_sheet_cells": 100000}`).
        #[arg(long, env = "GRIDKB_LIMITS")]
        limits: Option<PathBuf>,
        #[command(flatten)]
        model: ModelArgs,
        /// Ingest into PostgreSQL (the data directory is then this machine's replica).
        #[command(flatten)]
        store: StoreArgs,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Search the knowledge base from the terminal.
    Search {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, default_value_t = search::limits::DEFAULT_LIMIT)]
        limit: usize,
        /// Print the response as JSON.
        #[arg(long)]
        json: bool,
        query: String,
    },
    /// Measure search latency on a data directory (one query per line of --queries, or built-in
    /// ones), or with `bench embed` the embedder's latency and throughput.
    Bench {
        #[arg(value_enum, default_value_t = BenchTarget::Search)]
        target: BenchTarget,
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Passes over the query list after one warm-up pass.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Measure a running server over HTTP instead (e.g. http://127.0.0.1:7700); search and
        /// match only.
        #[arg(long)]
        url: Option<String>,
        /// API key for --url, when the server has keys.
        #[arg(long, env = "GRIDKB_KEY")]
        key: Option<String>,
        /// With --url: a load run of this many clients sending back to back (throughput, p50/p99,
        /// answers by status, the server's memory over time) instead of one client's latency.
        #[arg(long, requires = "url")]
        concurrency: Option<usize>,
        /// Seconds a load run lasts (default 30).
        #[arg(long, requires = "concurrency")]
        duration: Option<u64>,
        /// The server's process id: its resident memory is read from /proc/PID/status (else from
        /// its /metrics, which needs an admin --key on a server with keys).
        #[arg(long, requires = "concurrency")]
        pid: Option<u32>,
        /// Seconds between memory samples and progress lines of a load run.
        #[arg(long, default_value_t = 10, requires = "concurrency")]
        sample_every: u64,
    },
    /// Serve the HTTP API. With an empty data directory, the bundled demo corpus is ingested first.
    Serve {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        #[arg(long, env = "GRIDKB_ADDR", default_value = DEFAULT_ADDR)]
        addr: SocketAddr,
        /// Corpus ingested when the data directory is empty.
        #[arg(long, env = "GRIDKB_CORPUS")]
        corpus: Option<PathBuf>,
        /// A JSON file overriding some of the limits, e.g. `{"max_limit": 50, "search_queue": 16}`
        /// (names as in crates/search/src/limits.rs; unnamed limits keep their defaults).
        #[arg(long, env = "GRIDKB_LIMITS")]
        limits: Option<PathBuf>,
        /// Let the last author of an item approve it (off by default: the four-eyes rule).
        #[arg(long, env = "GRIDKB_NO_FOUR_EYES")]
        no_four_eyes: bool,
        #[command(flatten)]
        feedback: FeedbackArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Embed text: one text per line on stdin, one JSON array of floats per line on stdout.
    Embed {
        /// Model directory (default models/m3e-small).
        #[arg(long, env = "GRIDKB_MODEL")]
        model: Option<PathBuf>,
        /// Embed as passages (no query prefix) instead of queries.
        #[arg(long)]
        passages: bool,
        /// `f32` or `int8` (see `serve --precision`).
        #[arg(long, env = embed::PRECISION_ENV, value_parser = |s: &str| s.parse::<embed::Precision>())]
        precision: Option<embed::Precision>,
    },
    /// Choose the fusion for one knowledge base from an editor's labelled questions: every
    /// candidate fusion ranks every question, the best nDCG@10 wins when it beats the one in use
    /// by 0.005, and is saved in the data directory (DIR/fusion.json) unless --dry-run. Stop the
    /// server first, or call `POST /v1/admin/tune` on it instead.
    Tune {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// The labelled questions: .jsonl, .csv or .xlsx with a question and the expected item ids
        /// (README, "Evaluate and tune your own knowledge base").
        #[arg(long = "set", value_name = "FILE")]
        set: PathBuf,
        /// Measure and report, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Learn the service categories from past tickets: a JSONL file with `text` and `category`
    /// (or the ticket set's `queries.jsonl` with `minor`; an id in `id` or `_id`). The texts are
    /// masked and kept in the data directory (DIR/ticket_history.jsonl, replacing what was
    /// there); ticket matching learns from them at every start. Stop the server first, or post them
    /// to `POST /v1/admin/categories` on it instead.
    LearnCategories {
        /// The labelled tickets (JSONL).
        tickets: PathBuf,
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// Keep only the rows whose `split` is this (e.g. `dev` of corpus/tickets: never learn
        /// from the split you evaluate on).
        #[arg(long)]
        split: Option<String>,
    },
    /// Measure retrieval quality (MRR@10, nDCG@10, Recall@10/100) of lexical, dense, graph and
    /// fused ranking on a BEIR-layout directory, the ticket set (corpus/tickets), or an editor's
    /// labelled questions (.jsonl, .csv, .xlsx; with --data, the knowledge base they are about).
    Eval {
        /// A BEIR-layout directory, the ticket set, or a labelled-questions file (with --data);
        /// not with --duplicates.
        #[arg(required_unless_present = "duplicates")]
        dataset: Option<PathBuf>,
        /// Measure the duplicate and conflict warnings of item editing instead (precision,
        /// recall, threshold sweep, latency) on the knowledge base in --data (the bundled corpus
        /// is ingested into it when it is empty).
        #[arg(long, conflicts_with_all = ["match_tickets", "sweep"])]
        duplicates: bool,
        /// The qrels split to use (qrels/<split>.tsv).
        #[arg(long, default_value = "test")]
        split: String,
        /// Print one JSON object keyed by method.
        #[arg(long)]
        json: bool,
        /// Also measure several fusion settings (RRF k, weights).
        #[arg(long)]
        sweep: bool,
        /// Write each method's ranking to DIR/<method>.trec (TREC run format: `query Q0 doc rank
        /// score method`; a single retriever's own score, the fused score for fusions), for
        /// trec_eval or for trying fusions offline.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["match_tickets", "feedback"])]
        runs: Option<PathBuf>,
        /// Ticket set only: evaluate `POST /v1/tickets/match` end to end (category, answer
        /// standard, strategies, solutions, cases, time) instead of the retrievers.
        #[arg(long = "match")]
        match_tickets: bool,
        /// With --match: also send each ticket's customer id and device serial.
        #[arg(long, requires = "match_tickets")]
        with_customer: bool,
        /// With --match on the ticket set: do not learn the service categories from its dev
        /// split (by default they are, and each dev ticket is left out of the model when it is
        /// itself matched; a data directory's own past tickets are replaced for the run).
        #[arg(long, requires = "match_tickets")]
        no_learned_categories: bool,
        /// Ticket set only: simulate agents' feedback on the dev split, choose the feedback
        /// weights on half of it, and measure them on the test split (see `eval_feedback.rs`).
        #[arg(long, conflicts_with_all = ["match_tickets", "sweep"])]
        feedback: bool,
        /// Data directory for the dataset's index (default: a fresh temporary directory).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Embedding cache shared between runs (default ~/.cache/gridkb/embeddings.redb).
        #[arg(long)]
        embedding_cache: Option<PathBuf>,
        /// How an item longer than the model's window is embedded: `mean` of its windows,
        /// `first` window only, or `windows` (one vector each, the item scores by its best).
        /// Default: the model directory's gridkb.json, else mean.
        #[arg(long, value_parser = |s: &str| s.parse::<embed::LongText>())]
        long_text: Option<embed::LongText>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// What a data directory holds: items by kind, status, category and product line, entities
    /// by class, tickets, triples, vectors, distinct-text ratio, sequence numbers, disk use.
    /// (For a running server's directory, ask it: `GET /v1/stats` with an admin key.)
    Stats {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// Print JSON (the same document as `GET /v1/stats`).
        #[arg(long)]
        json: bool,
    },
    /// The service managers' report for a window: requests, zero results, hot issues, knowledge
    /// gaps, recurring faults, categories, feedback, open tasks, warranties due, complaint risk.
    /// Reads the data
    /// directory (stop `serve` first, or read the same figures from `GET /v1/analytics/...`).
    Report {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        since: String,
        /// Last day, YYYY-MM-DD (default today, UTC).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum, default_value = "md")]
        format: report::Format,
    },
    /// Check that every index agrees with the record store: the lexical index holds exactly
    /// the stored items at their versions, the graph exactly what a fresh load gives, the vector
    /// index (with a model) exactly the items. Opening brings them up to the store first, as a
    /// start does. Exits 1 when one disagrees (`gridkb reindex` rebuilds them).
    Check {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Crash a child gridkb at named points of every write path, again and again, and check
    /// after each crash that the restart succeeds, nothing acknowledged is lost and the indexes
    /// agree with the store. Needs a build with crash points (`--features gridkb/crash-points`).
    Soak {
        #[arg(long, default_value_t = 1000)]
        rounds: usize,
        /// Only these points (repeat the option); all by default.
        #[arg(long = "point")]
        points: Vec<String>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where the data directories go (default: a temporary directory, kept on a violation).
        #[arg(long)]
        work: Option<PathBuf>,
        /// The records each knowledge base starts from.
        #[arg(long)]
        fixture: Option<PathBuf>,
        /// The model for the vector index's rounds (default models/m3e-small when present).
        #[arg(long, env = "GRIDKB_MODEL")]
        model: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Back up a data directory's record store and API keys into the new directory OUT,
    /// consistently: through the running server when one holds the directory (`POST /v1/backup`,
    /// found by DIR/serve.addr or --url; an admin --key on a server with keys), else directly.
    Backup {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// The running server, when DIR/serve.addr does not say.
        #[arg(long)]
        url: Option<String>,
        /// An admin API key, when the running server has keys.
        #[arg(long, env = "GRIDKB_KEY")]
        key: Option<String>,
        out: PathBuf,
    },
    /// Run arbitrary and mutated inputs against the parsers of untrusted input for a while:
    /// jsonl, csv, markdown, xlsx, analyzer, dify-condition, sparql-guard, search-request, or all.
    Fuzz {
        #[arg(long, default_value = "all")]
        target: String,
        /// Seconds in all (shared among the targets).
        #[arg(long, default_value_t = 60)]
        duration: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where findings (the input and its message) are written.
        #[arg(long, default_value = "fuzz-findings")]
        findings: PathBuf,
    },
    /// Restore a backup into a data directory that holds no knowledge base yet; the next start
    /// rebuilds the indexes from the restored store.
    Restore {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        backup: PathBuf,
    },
    /// Rebuild every index of a data directory from its record store (after a model change).
    Reindex {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// The demo corpus.
    Corpus {
        #[command(subcommand)]
        command: CorpusCommand,
    },
    /// Create, list and revoke API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

/// mimalloc instead of glibc's malloc: a ticket match allocates thousands of small strings and
/// vectors, and glibc's allocator took about a tenth of the server's CPU under load (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // The soak opens its data directories hundreds of times: only what goes wrong is worth a line.
    let quiet = std::env::args().nth(1).is_some_and(|c| c == "soak");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRIDKB_LOG")
                .unwrap_or_else(|_| if quiet { "warn" } else { "info" }.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    crash::arm_from_env()?;
    let command = Cli::parse().command;
    if !matches!(command, Command::Corpus { .. } | Command::Embed { .. }) {
        private_files();
    }
    match command {
        Command::Ingest { data, strict, skip_embeddings, limits, model, store, paths } => {
            let limits = read_limits(limits.as_deref())?;
            ingest(&data, &model, limits, store.choice()?, &paths, strict, skip_embeddings)
        }
        Command::Search { data, model, limit, json, query } => search(&data, &model, limit, json, query),
        Command::Bench { target: BenchTarget::Embed, model, .. } => bench_embed(&model),
        Command::Bench { target: BenchTarget::Approve, data, model, rounds, .. } => {
            bench_approve::run(&open_engine(&data, &model)?, rounds)
        }
        Command::Bench { target: BenchTarget::Log, data, model, queries, rounds, .. } => {
            let queries = bench_queries(queries.as_deref())?;
            bench_log::run(Arc::new(open_engine(&data, &model)?), &queries, rounds)
        }
        Command::Bench { target, data, model, queries, rounds, url, key, concurrency, duration, pid, sample_every } => {
            let queries = bench_queries(queries.as_deref())?;
            let route = if target == BenchTarget::Match { bench_http::Route::Match } else { bench_http::Route::Search };
            match (url, concurrency) {
                (Some(url), Some(concurrency)) => {
                    let options = bench_load::LoadOptions {
                        concurrency,
                        duration: Duration::from_secs(duration.unwrap_or(30)),
                        pid,
                        sample_every: Duration::from_secs(sample_every.max(1)),
                    };
                    bench_load::run(&url, route, key.as_deref(), &queries, &options)
                }
                (Some(url), None) => bench_http::run(&url, route, key.as_deref(), &queries, rounds),
                (None, _) => bench(&data, &model, target, &queries, rounds),
            }
        }
        Command::Serve { data, addr, corpus, limits, no_four_eyes, feedback, model, store } => {
            let limits = read_limits(limits.as_deref())?;
            let store = store.choice()?;
            let policy = ServePolicy { four_eyes: !no_four_eyes, feedback: feedback.weights() };
            serve(data, addr, corpus, limits, policy, model, store)
        }
        Command::Embed { model, passages, precision } => embed_stdin(model, precision, passages),
        Command::Eval { duplicates: true, data, model, .. } => evaluate_duplicates(data, &model),
        Command::Eval {
            dataset,
            duplicates: _,
            split,
            json,
            sweep,
            runs,
            match_tickets,
            with_customer,
            no_learned_categories,
            feedback,
            data,
            embedding_cache,
            long_text,
            model,
        } => {
            let mode = match (match_tickets, with_customer, feedback) {
                (_, _, true) => EvalMode::Feedback,
                (false, _, false) => EvalMode::Retrievers { sweep, runs },
                (true, with_customer, false) => EvalMode::Match { with_customer, learn: !no_learned_categories },
            };
            let index =
                EvalIndex { data, embedding_cache, embed: embed::EmbedConfig { long_text, ..model.embed_config() } };
            let dataset = dataset.context("a dataset directory is required")?;
            evaluate(&dataset, &split, json, mode, index, &model)
        }
        Command::Reindex { data, model } => reindex(&data, &model),
        Command::Tune { data, set, dry_run, json, model } => tune(&data, &set, dry_run, json, &model),
        Command::LearnCategories { tickets, data, split } => learn_categories(&tickets, &data, split.as_deref()),
        Command::Fuzz { target, duration, seed, findings } => {
            fuzz::run(&target, Duration::from_secs(duration), seed, &findings)
        }
        Command::Backup { data, url, key, out } => backup(&data, url.as_deref(), key.as_deref(), &out),
        Command::Restore { data, backup } => {
            let report = search::restore(&backup, &data)?;
            println!(
                "restored {} records (store sequence {}){} into {}; the next start rebuilds the indexes",
                report.records,
                report.seq,
                if report.keys { " and the API keys" } else { "" },
                data.display()
            );
            Ok(())
        }
        Command::Stats { data, json } => print_stats(&data, json),
        Command::Check { data, json, model } => check(&data, &model, json),
        Command::Soak { rounds, points, seed, work, fixture, model, json } => {
            soak(rounds, points, seed, work, fixture, model, json)
        }
        Command::Report { data, since, until, format } => run_report(&data, &since, until.as_deref(), format),
        Command::Corpus { command: CorpusCommand::Generate { corpus, seed, scale } } => {
            generate_corpus(&corpus, seed, scale)
        }
        Command::Keys { command } => keys_command(command),
    }
}

fn run_report(data: &Path, since: &str, until: Option<&str>, format: report::Format) -> anyhow::Result<()> {
    let day = |name: &str, text: &str| {
        calendar::Date::parse(text.trim())
            .map(calendar::Date::days)
            .map_err(|_| anyhow::anyhow!("--{name} must be a date YYYY-MM-DD"))
    };
    let since = day("since", since)?;
    let until = match until {
        Some(text) => day("until", text)?,
        None => calendar::Date::today().days(),
    };
    anyhow::ensure!(since <= until, "--since must not be after --until");
    let engine = open_engine(data, &ModelArgs { model: None, no_dense: true, precision: None, query_precision: None })?;
    let limits = engine.limits().journal_limits();
    let (snapshot, read) = journal::read_snapshot(&DataLayout::new(data).journal_dir(), &limits)?;
    if read.skipped_lines > 0 {
        eprintln!("the request log has {} damaged lines; they were skipped", read.skipped_lines);
    }
    let report = report::build(&engine, &snapshot, since, until)?;
    match format {
        report::Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        report::Format::Md => print!("{}", report::markdown(&report)),
    }
    Ok(())
}

/// Data files are for the service's user only: everything a data-directory command creates is
/// 0600 (directories 0700). The corpus generator and `embed` write ordinary files.
fn private_files() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

fn open_engine(data: &Path, model: &ModelArgs) -> anyhow::Result<Engine> {
    open_engine_with(EngineOptions {
        data_dir: data.to_path_buf(),
        model: model.choice(),
        embed: model.embed_config(),
        ..EngineOptions::default()
    })
}

fn open_engine_with(options: EngineOptions) -> anyhow::Result<Engine> {
    let data = options.data_dir.clone();
    let bar = progress_bar();
    let engine = Engine::open(options, &|p| show(&bar, p))
        .with_context(|| format!("cannot open the data directory {}", data.display()))?;
    bar.finish_and_clear();
    Ok(engine)
}

/// Embeds what the vector index lacks, with a progress bar.
fn catch_up_vectors(engine: &Engine) -> anyhow::Result<()> {
    if !engine.has_dense() {
        return Ok(());
    }
    let started = Instant::now();
    let bar = progress_bar();
    let embedded = engine.catch_up_vectors(&|p| show(&bar, p))?;
    bar.finish_and_clear();
    if embedded > 0 {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("embedded {embedded} items in {seconds:.1} s ({:.1} items/s)", embedded as f64 / seconds.max(1e-9));
    }
    Ok(())
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn show(bar: &ProgressBar, progress: Progress) {
    match progress {
        Progress::Stored { done, total } => {
            bar.set_message("stored");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        Progress::Indexed { done, total } => {
            bar.set_message("indexed");
            bar.set_length(total);
            bar.set_position(done);
        }
        Progress::Embedded { done, total } => {
            bar.set_message("embedded");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }
}

/// Reads, validates and writes; prints each rejected record and a summary.
fn ingest_paths(engine: &Engine, paths: &[PathBuf]) -> anyhow::Result<usize> {
    let started = Instant::now();
    let batch = ingest::read_paths_within(paths, &engine.limits().read_limits())?;
    let mut stderr = std::io::stderr().lock();
    for rejection in &batch.rejections {
        writeln!(stderr, "rejected {rejection}")?;
    }
    for file in &batch.skipped_files {
        writeln!(stderr, "skipped {} (a README, or not .jsonl, .csv, .xlsx or .md)", file.display())?;
    }
    drop(stderr);
    let records: Vec<_> = batch.records.into_iter().map(|(_, record)| record).collect();
    let bar = progress_bar();
    let report = engine.ingest(&records, "ingest", &|p| show(&bar, p))?;
    bar.finish_and_clear();
    for (id, reason) in &report.refused {
        eprintln!("refused {id}: {reason}");
    }
    let rejected = batch.rejections.len() + report.refused.len();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "accepted {} (new {}, replaced {}, unchanged {}), rejected {}, masked {} personal-data spans, skipped {} files; \
         {:.1} s, {:.0} records/s",
        report.inserted + report.replaced + report.unchanged,
        report.inserted,
        report.replaced,
        report.unchanged,
        rejected,
        batch.masked_spans,
        batch.skipped_files.len(),
        seconds,
        records.len() as f64 / seconds.max(1e-9),
    );
    Ok(rejected)
}

fn ingest(
    data: &Path,
    model: &ModelArgs,
    limits: Limits,
    store: StoreChoice,
    paths: &[PathBuf],
    strict: bool,
    skip_embeddings: bool,
) -> anyhow::Result<()> {
    let engine = open_engine_with(EngineOptions {
        data_dir: data.to_path_buf(),
        model: model.choice(),
        embed: model.embed_config(),
        limits,
        store,
        ..EngineOptions::default()
    })?;
    let rejected = ingest_paths(&engine, paths)?;
    if !skip_embeddings {
        catch_up_vectors(&engine)?;
    }
    if strict && rejected > 0 {
        bail!("{rejected} records were rejected (--strict)");
    }
    Ok(())
}

fn search(data: &Path, model: &ModelArgs, limit: usize, json: bool, query: String) -> anyhow::Result<()> {
    require_knowledge_base(data)?;
    let engine = open_engine(data, model)?;
    let response = engine.search(&SearchRequest { q: query, limit: Some(limit), ..SearchRequest::default() })?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &response)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} hits for {:?} (terms: {}) in {:.1} ms",
        response.total,
        response.query,
        response.terms.join(" "),
        response.took_ms
    )?;
    writeln!(out, "retrievers: {}", response.retrievers.join(" + "))?;
    if let Some(reason) = &response.degraded {
        writeln!(out, "degraded: {reason}")?;
    }
    for hit in &response.hits {
        writeln!(out, "{:>3}. [{:.2}] {} — {} ({})", hit.rank, hit.score, hit.id, hit.title, hit.kind)?;
        writeln!(out, "     {}", hit.snippet.replace("<em>", "[").replace("</em>", "]"))?;
    }
    Ok(())
}

/// Queries an agent might type, used when `bench` gets no query file.
const BENCH_QUERIES: &[&str] = &[
    "保护装置通道异常",
    "931保护通道告警怎么处理",
    "CT断线闭锁差动",
    "充电桩离线扫码充不上电",
    "逆变器过温降额",
    "合并单元SV断链",
    "GOOSE断链告警",
    "对时异常 B码",
    "保修期内插件损坏怎么换",
    "客户投诉抢修不及时",
    "电能表采集失败",
    "纵向加密隧道中断",
];

/// The lines of the query file, or the built-in queries.
fn bench_queries(queries: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let queries: Vec<String> = match queries {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        None => BENCH_QUERIES.iter().map(|q| q.to_string()).collect(),
    };
    if queries.is_empty() {
        bail!("no queries to run");
    }
    Ok(queries)
}

fn bench(data: &Path, model: &ModelArgs, target: BenchTarget, queries: &[String], rounds: usize) -> anyhow::Result<()> {
    let engine = open_engine(data, model)?;
    let run = |q: &str| -> anyhow::Result<()> {
        match target {
            BenchTarget::Match => {
                engine.match_ticket(&search::TicketRequest { text: q.to_string(), ..Default::default() })?;
            }
            _ => {
                engine.search(&SearchRequest { q: q.to_string(), ..SearchRequest::default() })?;
            }
        }
        Ok(())
    };
    for q in queries {
        run(q)?;
    }
    let mut measured = Vec::with_capacity(queries.len() * rounds);
    for _ in 0..rounds.max(1) {
        for q in queries {
            let started = Instant::now();
            run(q)?;
            measured.push(started.elapsed());
        }
    }
    let latencies = latency::Latencies::new(measured);
    let stats = engine.stats()?;
    let retrievers = engine.search(&SearchRequest { q: queries[0].clone(), ..SearchRequest::default() })?.retrievers;
    let what = if target == BenchTarget::Match { "ticket match" } else { "search" };
    println!(
        "{what} ({}) over {} items, {} queries x {} rounds: {latencies}",
        retrievers.join(" + "),
        stats.indexed_items,
        queries.len(),
        rounds.max(1),
    );
    Ok(())
}

/// The corpus bundled with the source tree, found next to the working directory or the crate.
fn bundled_corpus() -> Option<PathBuf> {
    [PathBuf::from("corpus"), Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus")]
        .into_iter()
        .find(|p| p.is_dir())
}

/// The record directories of a corpus laid out like the bundled one (`authored/`, `generated/`;
/// the labelled tickets beside them are evaluation data, not knowledge), else the directory itself.
fn corpus_record_dirs(corpus: &Path) -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = ["authored", "generated"].iter().map(|d| corpus.join(d)).filter(|d| d.is_dir()).collect();
    if dirs.is_empty() { vec![corpus.to_path_buf()] } else { dirs }
}

/// The limits in force: the defaults, with the overrides of `path` when given.
fn read_limits(path: Option<&Path>) -> anyhow::Result<Limits> {
    let Some(path) = path else {
        return Ok(Limits::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the limits file {}", path.display()))?;
    let limits: Limits = serde_json::from_str(&text).with_context(|| {
        format!("{}: not a limits object (names as in crates/search/src/limits.rs)", path.display())
    })?;
    limits.validate().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(limits)
}

fn serve(
    data: PathBuf,
    addr: SocketAddr,
    corpus: Option<PathBuf>,
    limits: Limits,
    policy: ServePolicy,
    model: ModelArgs,
    store: StoreChoice,
) -> anyhow::Result<()> {
    let ServePolicy { four_eyes, feedback } = policy;
    if let StoreChoice::Postgres(options) = &store {
        // The key file lives in PostgreSQL when `gridkb keys ... --store` made it: take it first,
        // so that the refusal below (no keys on a non-loopback address) sees it.
        match search::take_shared_files(&data, options) {
            Ok(()) => {}
            Err(search::Error::Store(store::Error::Unavailable(reason))) => {
                tracing::warn!(%reason, "PostgreSQL is unavailable; using the local key file");
            }
            Err(e) => return Err(e).context("cannot read the shared files from PostgreSQL"),
        }
    }
    let keys = server::keys::KeyStore::open(&data).context("cannot read the API keys")?;
    let active = keys.current().map(|k| k.active()).unwrap_or(0);
    let loopback = addr.ip().is_loopback();
    if !loopback && active == 0 {
        bail!(
            "refusing to listen on {addr}: {} holds no active API key; create one with \
             `gridkb keys create --data {} --role agent`, or bind a loopback address such as {DEFAULT_ADDR}",
            keys.path().display(),
            data.display()
        );
    }
    if keys.current().is_ok_and(|k| k.is_empty()) {
        tracing::warn!("no API keys in {}: the API is open to anyone on this machine", keys.path().display());
    } else {
        tracing::info!(active, "API keys required");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let background = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}; is another gridkb running? try --addr"))?;
        // The bound address: with port 0 the system chose one.
        let addr = listener.local_addr().unwrap_or(addr);
        let state = server::AppState::new(limits.clone()).with_keys(keys, loopback);
        let loader_state = state.clone();
        let local = listener.local_addr()?;
        // Listen at once (healthz answers, readyz says 503) while the indexes are opened or built.
        let loader = tokio::task::spawn_blocking(move || -> anyhow::Result<search::Background> {
            // The graph loads in the background (searches say `degraded` until it is there):
            // start-up stays within its 2 s budget on the full corpus.
            let engine = open_engine_with(EngineOptions {
                data_dir: data.clone(),
                model: model.choice(),
                embed: model.embed_config(),
                limits,
                graph_load: GraphLoad::Background,
                four_eyes,
                feedback,
                store,
                ..EngineOptions::default()
            })?;
            first_start_ingest(&engine, corpus)?;
            let engine = Arc::new(engine);
            loader_state.set_engine(Arc::clone(&engine));
            // Where `gridkb backup --data DIR` finds this server while it holds the directory.
            write_durably(&engine.layout().serve_addr_file(), local.to_string().as_bytes())?;
            // The vector catch-up and, on PostgreSQL, the follower of other nodes' writes.
            let background = engine.start_background()?;
            tracing::info!("ready");
            Ok(background)
        });
        tracing::info!(%addr, "listening on http://{addr}");
        let server = tokio::spawn(server::serve(listener, state));
        let background = match loader.await {
            Ok(Ok(background)) => background,
            Ok(Err(e)) => return Err(e),
            Err(e) => bail!("index loader failed: {e}"),
        };
        server.await.context("server task failed")?.context("server failed")?;
        Ok::<_, anyhow::Error>(background)
    })?;
    // Stops the background embedding between two chunks and waits for it.
    background.stop();
    Ok(())
}

/// `gridkb backup`: directly when no process holds the data directory, else through the server
/// that does (it writes the backup inside the data directory; it is then moved to `out`).
fn backup(data: &Path, url: Option<&str>, key: Option<&str>, out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        bail!("{} already exists; a backup goes into a new directory", out.display());
    }
    let manifest = if search::data_dir::is_in_use(data) {
        let base = match url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let addr = std::fs::read_to_string(DataLayout::new(data).serve_addr_file()).with_context(|| {
                    format!("a process holds {} but it has no serve.addr; pass the server's --url", data.display())
                })?;
                format!("http://{}", addr.trim())
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let answer: serde_json::Value = runtime.block_on(async {
            let mut request = reqwest::Client::new().post(format!("{base}/v1/backup"));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let response = request.send().await.with_context(|| format!("cannot reach the server at {base}"))?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("the server at {base} answered {status}: {}", body["message"].as_str().unwrap_or("no message"));
            }
            Ok(body)
        })?;
        let name = answer["name"].as_str().context("the server's answer names no backup")?;
        let written = DataLayout::new(data).server_backup_dir(name);
        if std::fs::rename(&written, out).is_err() {
            copy_tree(&written, out)?;
            std::fs::remove_dir_all(&written).with_context(|| format!("cannot remove {}", written.display()))?;
        }
        search::verify_backup(out)?
    } else {
        search::backup_offline(data, out)?
    };
    println!(
        "backed up {} records (store sequence {}) into {} ({} files, {} bytes)",
        manifest.records,
        manifest.seq,
        out.display(),
        manifest.files.len(),
        manifest.files.iter().map(|f| f.bytes).sum::<u64>()
    );
    Ok(())
}

/// Copies a directory of plain files (a backup, across file systems).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target).with_context(|| format!("cannot write {}", target.display()))?;
        std::fs::File::open(&target)?.sync_all()?;
    }
    Ok(())
}

/// `gridkb check`: the projections against the store.
fn check(data: &Path, model: &ModelArgs, json: bool) -> anyhow::Result<()> {
    require_knowledge_base(data)?;
    let engine = open_engine_with(EngineOptions {
        data_dir: data.to_path_buf(),
        model: model.choice(),
        embed: model.embed_config(),
        graph_load: GraphLoad::Blocking,
        ..EngineOptions::default()
    })?;
    for repair in engine.repairs() {
        eprintln!("rebuilt at open: {repair}");
    }
    catch_up_vectors(&engine)?;
    let check = engine.check_projections()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&check)?);
    } else {
        println!("store: {} items, sequence {}", check.items, check.store_seq);
        let show = |name: &str, diff: Option<&search::ProjectionDiff>| match diff {
            None => println!("{name:<8} off"),
            Some(d) => {
                let state = if d.agrees() && d.applied_seq == check.store_seq { "agrees" } else { "DISAGREES" };
                println!(
                    "{name:<8} {state} (sequence {}, missing {}, extra {}, stale {})",
                    d.applied_seq, d.missing, d.extra, d.stale
                );
                for example in &d.examples {
                    println!("           {example}");
                }
            }
        };
        show("lexical", Some(&check.lexical));
        show("graph", check.graph.as_ref());
        show("vectors", check.vectors.as_ref());
    }
    if !check.agrees() {
        bail!("an index disagrees with the store; `gridkb reindex --data {}` rebuilds them", data.display());
    }
    Ok(())
}

/// `gridkb soak`: crash rounds at every write path's crash points.
fn soak(
    rounds: usize,
    points: Vec<String>,
    seed: u64,
    work: Option<PathBuf>,
    fixture: Option<PathBuf>,
    model: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    let temporary = match &work {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("gridkb-soak-").tempdir()?),
    };
    let work = work.unwrap_or_else(|| temporary.as_ref().expect("made above").path().to_path_buf());
    let fixture =
        fixture.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl"));
    let model = model.or_else(|| Some(default_model_dir()).filter(|m| m.join("config.json").is_file()));
    let options = crash::SoakOptions { rounds, points, seed, work: work.clone(), fixture, model };
    let bar = if json { ProgressBar::hidden() } else { ProgressBar::new(rounds as u64) };
    let report = crash::soak(&options, &|point| {
        bar.inc(1);
        bar.set_message(format!("{} {} crashes", point.point, point.crashes));
    })?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{:<20} {:>6} {:>7} {:>5} {:>6} {:>10}", "point", "rounds", "crashes", "kills", "acked", "violations");
        for p in &report.points {
            println!(
                "{:<20} {:>6} {:>7} {:>5} {:>6} {:>10}{}",
                p.point,
                p.rounds,
                p.crashes,
                p.kills,
                p.acknowledged,
                p.violations.len(),
                p.skipped.as_deref().map(|s| format!("  skipped: {s}")).unwrap_or_default()
            );
            for v in &p.violations {
                println!("    {v}");
            }
        }
        println!(
            "{} rounds, {} crashes, {} kills, {} violations in {:.0} s",
            report.rounds, report.crashes, report.kills, report.violations, report.seconds
        );
    }
    if report.violations > 0 {
        if let Some(dir) = temporary {
            let kept = dir.keep();
            eprintln!("the data directories are kept in {}", kept.display());
        }
        bail!("{} violations", report.violations);
    }
    Ok(())
}

/// Ingests the bundled (or given) corpus into an empty data directory, or finishes an ingest a
/// previous first start did not complete.
fn first_start_ingest(engine: &Engine, corpus: Option<PathBuf>) -> anyhow::Result<()> {
    if engine.store().backend() == store::Backend::Postgres && !engine.store_status().ready {
        // Only an empty database that answers gets the corpus; this node follows it when it returns.
        tracing::warn!(
            "PostgreSQL is unreachable: starting without the corpus ingest; the node follows it when it returns"
        );
        return Ok(());
    }
    let marker = engine.layout().first_start_marker();
    let resumed = marker.exists();
    if !resumed && !engine.store().is_empty()? {
        return Ok(());
    }
    let corpus = corpus
        .or_else(bundled_corpus)
        .context("the data directory is empty and no corpus was found; pass --corpus DIR")?;
    if resumed {
        tracing::warn!(corpus = %corpus.display(), "the first start's ingest did not complete; running it again");
    } else {
        tracing::info!(corpus = %corpus.display(), "empty data directory: ingesting the corpus");
        write_durably(&marker, corpus.display().to_string().as_bytes())?;
    }
    ingest_paths(engine, &corpus_record_dirs(&corpus))?;
    // The bundled corpus's labelled tickets stand in for the centre's past tickets.
    let tickets = corpus.join("tickets");
    if tickets.join("queries.jsonl").is_file() {
        let learned = learn_dev_split(engine, &tickets, search::KeepHistory::Save)?;
        tracing::info!(learned, "service categories learned from the corpus's dev tickets");
    }
    fail::fail_point!("first-start.ingest");
    std::fs::remove_file(&marker).with_context(|| format!("cannot remove {}", marker.display()))?;
    Ok(())
}

/// Writes a small file and makes it and its name durable (file and directory fsynced).
fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn load_embedder(model: Option<PathBuf>, precision: Option<embed::Precision>) -> anyhow::Result<embed::Embedder> {
    let dir = model.unwrap_or_else(default_model_dir);
    Ok(embed::Embedder::load(&dir, &embed::EmbedConfig { precision, ..embed::EmbedConfig::default() })?)
}

fn embed_stdin(model: Option<PathBuf>, precision: Option<embed::Precision>, passages: bool) -> anyhow::Result<()> {
    let embedder = load_embedder(model, precision)?;
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut lines = Vec::new();
    let flush = |lines: &mut Vec<String>, out: &mut dyn Write| -> anyhow::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
        let vectors = if passages { embedder.embed_passages(&texts)? } else { embedder.embed_queries(&texts)? };
        for vector in vectors {
            serde_json::to_writer(&mut *out, &vector)?;
            writeln!(out)?;
        }
        lines.clear();
        Ok(())
    };
    for (n, line) in stdin.lines().enumerate() {
        let line = line.with_context(|| format!("stdin line {} is not UTF-8 text", n + 1))?;
        if line.trim().is_empty() {
            bail!("stdin line {} is empty; give one non-empty text per line", n + 1);
        }
        lines.push(line);
        if lines.len() == 32 {
            flush(&mut lines, &mut out)?;
        }
    }
    flush(&mut lines, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Query latency (16 and 32 tokens), passage throughput at several batch sizes on one and all
/// threads, and the achieved GFLOP/s: the embedder's budget in DESIGN.md.
fn bench_embed(model: &ModelArgs) -> anyhow::Result<()> {
    let embedder =
        embed::Embedder::load(&model.model.clone().unwrap_or_else(default_model_dir), &model.embed_config())?;
    let report = embed::bench(&embedder, &embed::BenchOptions::default())?;
    println!("{report}");
    Ok(())
}

/// What `gridkb eval` measures.
#[derive(Debug, Clone)]
enum EvalMode {
    Retrievers { sweep: bool, runs: Option<PathBuf> },
    Match { with_customer: bool, learn: bool },
    Feedback,
}

/// Where and how `gridkb eval` indexes the dataset.
#[derive(Debug)]
struct EvalIndex {
    /// The data directory (default: a fresh temporary one).
    data: Option<PathBuf>,
    embedding_cache: Option<PathBuf>,
    embed: embed::EmbedConfig,
}

fn evaluate(
    dataset: &Path,
    split: &str,
    json: bool,
    mode: EvalMode,
    index: EvalIndex,
    model: &ModelArgs,
) -> anyhow::Result<()> {
    let EvalIndex { data, embedding_cache, embed } = index;
    if dataset.is_file() && data.is_none() {
        anyhow::bail!(
            "{} is a labelled-questions file: name the knowledge base it is about with --data DIR",
            dataset.display()
        );
    }
    let loaded = eval::load(dataset, split)?;
    eval::check(&loaded);
    let temporary = match &data {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("cannot create a temporary data directory")?),
    };
    let data_dir = data.unwrap_or_else(|| temporary.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_default());
    let cache = embedding_cache
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/gridkb/embeddings.redb")));
    let engine = open_engine_with(EngineOptions {
        data_dir: data_dir.clone(),
        limits: eval::limits(),
        model: model.choice(),
        embed,
        embedding_cache: cache,
        ..EngineOptions::default()
    })?;
    match &loaded.corpus {
        eval::Corpus::Records(dirs) => {
            ingest_paths(&engine, dirs)?;
        }
        eval::Corpus::Existing => {}
        eval::Corpus::Items(records) => {
            let bar = progress_bar();
            let report = engine.ingest(records, "eval", &|p| show(&bar, p))?;
            bar.finish_and_clear();
            eprintln!("indexed {} documents", report.inserted + report.replaced + report.unchanged);
        }
    }
    catch_up_vectors(&engine)?;
    let (sweep, runs) = match mode {
        EvalMode::Retrievers { sweep, runs } => (sweep, runs),
        EvalMode::Feedback => {
            let report = eval_feedback::run(&engine, dataset)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                eval_feedback::print(&report);
            }
            return Ok(());
        }
        EvalMode::Match { with_customer, learn } => {
            if learn && matches!(loaded.corpus, eval::Corpus::Records(_)) {
                let learned = learn_dev_split(&engine, dataset, search::KeepHistory::InMemory)?;
                // `eval_match` leaves each dev ticket out of the model when it matches it.
                eprintln!(
                    "service categories learned from the {learned} dev tickets (each left out when it is matched)"
                );
            }
            let report = eval_match::run(&engine, &loaded, with_customer)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                eval_match::print(&report);
            }
            return Ok(());
        }
    };
    let report = eval::run(&engine, &loaded, split, sweep, runs.as_deref())?;
    if json {
        let mut object = serde_json::to_value(&report.methods)?;
        if let Some(map) = object.as_object_mut() {
            if !report.per_category.is_empty() {
                map.insert("per_category".into(), serde_json::to_value(&report.per_category)?);
            }
            if !report.sweep.is_empty() {
                map.insert("sweep".into(), serde_json::to_value(&report.sweep)?);
            }
        }
        println!("{}", serde_json::to_string_pretty(&object)?);
    } else {
        eval::print(&report);
    }
    Ok(())
}

/// Learns the service categories from the dev split of a ticket set laid out like
/// `corpus/tickets` (the demo's stand-in for a centre's past tickets): never from its test split,
/// so every split is evaluated with a model that has not seen it. Returns the tickets learned.
fn learn_dev_split(engine: &Engine, ticket_set: &Path, keep: search::KeepHistory) -> anyhow::Result<usize> {
    let read = search::category_model::read_labelled(&ticket_set.join("queries.jsonl"), Some("dev"))
        .map_err(anyhow::Error::msg)?;
    Ok(engine.learn_categories(&read.tickets, keep)?.learned)
}

fn learn_categories(tickets: &Path, data: &Path, split: Option<&str>) -> anyhow::Result<()> {
    let read = search::category_model::read_labelled(tickets, split).map_err(anyhow::Error::msg)?;
    if read.tickets.is_empty() {
        bail!(
            "{} holds no labelled ticket{}",
            tickets.display(),
            split.map(|s| format!(" of the split `{s}`")).unwrap_or_default()
        );
    }
    let engine = open_engine_with(EngineOptions {
        data_dir: data.to_path_buf(),
        model: None,
        graph: false,
        ..EngineOptions::default()
    })?;
    let report = engine.learn_categories(&read.tickets, search::KeepHistory::Save)?;
    let per: Vec<String> = report.per_category.iter().map(|(c, n)| format!("{c} {n}")).collect();
    println!(
        "learned the service categories from {} tickets ({}){} into {}",
        report.learned,
        per.join(", "),
        if read.other_split > 0 {
            format!("; {} rows of other splits left out", read.other_split)
        } else {
            String::new()
        },
        engine.layout().ticket_history_file().display()
    );
    Ok(())
}

/// `gridkb tune`: see [`search::tuning`].
fn tune(data: &Path, set: &Path, dry_run: bool, json: bool, model: &ModelArgs) -> anyhow::Result<()> {
    let questions = gridkb::labelled::read(set)?;
    let engine = open_engine(data, model)?;
    catch_up_vectors(&engine)?;
    let report = search::tuning::tune(&engine, &questions, !dry_run)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let fusion = |f: &search::Fusion| serde_json::to_string(f).unwrap_or_default();
    println!("{} labelled questions measured on {}", report.questions, data.display());
    if report.unknown_count > 0 {
        println!(
            "{} expected ids name no item of this knowledge base: {}{}",
            report.unknown_count,
            report.unknown_ids.join(", "),
            if report.unknown_count > report.unknown_ids.len() { ", ..." } else { "" }
        );
    }
    println!("{:<9} {:>8} {:>8} {:>9}  fusion", "", "nDCG@10", "MRR@10", "Recall@10");
    for (name, m) in [("in use", &report.before), ("chosen", &report.after)] {
        println!(
            "{name:<9} {:>8.4} {:>8.4} {:>9.4}  {}",
            m.scores.ndcg10,
            m.scores.mrr10,
            m.scores.recall10,
            fusion(&m.fusion)
        );
    }
    println!();
    println!("{:<24} {:>9} {:>8} {:>8}", "category", "questions", "before", "after");
    for row in &report.per_category {
        println!("{:<24} {:>9} {:>8.4} {:>8.4}", row.category, row.questions, row.before, row.after);
    }
    println!();
    println!("best candidates (of {}):", report.candidates.len());
    for m in report.candidates.iter().take(5) {
        println!("  {:.4}  {}", m.scores.ndcg10, fusion(&m.fusion));
    }
    println!();
    match (report.changed, report.applied) {
        (false, _) => println!("kept the fusion in use: no candidate beat it by {}", report.min_gain),
        (true, true) => println!("saved the chosen fusion in {}", engine.layout().fusion_file().display()),
        (true, false) => println!("--dry-run: nothing changed"),
    }
    Ok(())
}

fn evaluate_duplicates(data: Option<PathBuf>, model: &ModelArgs) -> anyhow::Result<()> {
    let temporary = match &data {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("cannot create a temporary data directory")?),
    };
    let data_dir = data.unwrap_or_else(|| temporary.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_default());
    let engine = open_engine(&data_dir, model)?;
    if engine.store().is_empty()? {
        let corpus =
            bundled_corpus().context("no bundled corpus found: pass --data with an ingested knowledge base")?;
        ingest_paths(&engine, &corpus_record_dirs(&corpus))?;
    }
    catch_up_vectors(&engine)?;
    eval_duplicates::run(&engine)
}

/// Refuses a data directory without a record store, saying how to make one.
fn require_knowledge_base(data: &Path) -> anyhow::Result<()> {
    if !DataLayout::new(data).store_file().exists() {
        bail!("no knowledge base in {}; run `gridkb ingest --data {} PATH...` first", data.display(), data.display());
    }
    Ok(())
}

fn print_stats(data: &Path, json: bool) -> anyhow::Result<()> {
    require_knowledge_base(data)?;
    // No model: the vector counts come from the saved index's manifest.
    let engine =
        open_engine_with(EngineOptions { data_dir: data.to_path_buf(), model: None, ..EngineOptions::default() })?;
    let stats = engine.knowledge_stats()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &stats)?;
        writeln!(out)?;
    } else {
        stats::print(&stats, &mut out)?;
    }
    Ok(())
}

fn reindex(data: &Path, model: &ModelArgs) -> anyhow::Result<()> {
    if !DataLayout::new(data).store_file().exists() {
        bail!("no knowledge base in {}; nothing to reindex", data.display());
    }
    // The lock first: a running server keeps its projections.
    let mut lock = search::DataDirLock::acquire(data)?;
    lock.remove_projections()?;
    let options = EngineOptions {
        data_dir: data.to_path_buf(),
        model: model.choice(),
        embed: model.embed_config(),
        ..EngineOptions::default()
    };
    let bar = progress_bar();
    let engine = Engine::open_locked(lock, options, &|p| show(&bar, p))
        .with_context(|| format!("cannot open the data directory {}", data.display()))?;
    bar.finish_and_clear();
    catch_up_vectors(&engine)?;
    let stats = engine.stats()?;
    println!("reindexed {} items from {} records", stats.indexed_items, stats.records);
    Ok(())
}

fn keys_command(command: KeysCommand) -> anyhow::Result<()> {
    use server::keys;
    let store = match &command {
        KeysCommand::Create { store, .. } | KeysCommand::List { store, .. } | KeysCommand::Revoke { store, .. } => {
            store.choice()?
        }
    };
    if let StoreChoice::Postgres(options) = store {
        return shared_keys_command(command, &options);
    }
    match command {
        KeysCommand::Create { data, role, org, note, limits, .. } => {
            let limits = read_limits(limits.as_deref())?;
            let new = keys::create(&data, role, org.as_deref(), note.as_deref(), &limits)?;
            eprintln!(
                "created API key {} (role {}) in {}; it is shown only now: store it in a secret manager",
                new.record.id,
                new.record.role,
                keys::keys_path(&data).display()
            );
            println!("{}", new.key);
        }
        KeysCommand::List { data, .. } => {
            let records = keys::list(&data)?;
            if records.is_empty() {
                eprintln!(
                    "no API keys in {}; create one with `gridkb keys create --role ROLE`",
                    keys::keys_path(&data).display()
                );
            }
            let mut out = std::io::stdout().lock();
            for key in &records {
                let state = match (&key.revoked, &key.revoked_on) {
                    (true, Some(on)) => format!("revoked {on}"),
                    (true, None) => "revoked".to_string(),
                    (false, _) => "active".to_string(),
                };
                writeln!(
                    out,
                    "{:<12} {:<8} {:<16} created {}  {:<18} {}",
                    key.id,
                    key.role,
                    key.org.as_deref().unwrap_or("-"),
                    key.created,
                    state,
                    key.note.as_deref().unwrap_or("")
                )?;
            }
        }
        KeysCommand::Revoke { data, id, .. } => match keys::revoke(&data, id.trim())? {
            keys::Revoked::Now => println!("revoked {}; a running server refuses it within a second", id.trim()),
            keys::Revoked::Already => println!("{} was already revoked", id.trim()),
        },
    }
    Ok(())
}

/// `gridkb keys ... --store postgres://...`: the key file lives in PostgreSQL (`gridkb_files`) and
/// every node takes it into its data directory. The change is made on a scratch copy and stored
/// only if nobody changed the file meanwhile (then the command asks to be run again).
fn shared_keys_command(command: KeysCommand, options: &store::PgOptions) -> anyhow::Result<()> {
    use server::keys;
    let mut files = store::SharedFiles::connect(options).context("cannot reach the key file in PostgreSQL")?;
    let current = files.get(DataLayout::KEYS_FILE)?;
    let scratch = tempfile::tempdir()?;
    if let Some(file) = &current {
        std::fs::write(keys::keys_path(scratch.path()), &file.body)?;
    }
    let expected = current.as_ref().map_or(0, |f| f.version);
    let mut store_back = |what: &str| -> anyhow::Result<()> {
        let body = std::fs::read_to_string(keys::keys_path(scratch.path()))?;
        if !files.put(DataLayout::KEYS_FILE, &body, expected)? {
            bail!("the key file in PostgreSQL changed while {what}; nothing was stored, run the command again");
        }
        Ok(())
    };
    match command {
        KeysCommand::Create { role, org, note, limits, .. } => {
            let limits = read_limits(limits.as_deref())?;
            let new = keys::create(scratch.path(), role, org.as_deref(), note.as_deref(), &limits)?;
            store_back("the key was created")?;
            eprintln!(
                "created API key {} (role {}) in PostgreSQL; every node takes it within a few seconds; \
                 it is shown only now: store it in a secret manager",
                new.record.id, new.record.role
            );
            println!("{}", new.key);
        }
        KeysCommand::List { .. } => {
            for key in keys::list(scratch.path())? {
                let state = if key.revoked { "revoked" } else { "active" };
                println!(
                    "{:<12} {:<8} {:<16} created {}  {:<8} {}",
                    key.id,
                    key.role,
                    key.org.as_deref().unwrap_or("-"),
                    key.created,
                    state,
                    key.note.as_deref().unwrap_or("")
                );
            }
        }
        KeysCommand::Revoke { id, .. } => match keys::revoke(scratch.path(), id.trim())? {
            keys::Revoked::Now => {
                store_back("the key was revoked")?;
                println!("revoked {} in PostgreSQL; every node refuses it within a few seconds", id.trim());
            }
            keys::Revoked::Already => println!("{} was already revoked", id.trim()),
        },
    }
    Ok(())
}

fn generate_corpus(corpus: &Path, seed: u64, scale: u32) -> anyhow::Result<()> {
    let options = corpusgen::Options { seed, scale, ..corpusgen::Options::default() };
    let summary = corpusgen::generate(&corpus.join("authored"), corpus, &options)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
