//! `gridkb`: the one binary. Subcommands ingest files, search from the terminal and serve the API.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use search::{Engine, EngineOptions, Limits, Progress, SearchRequest};

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Read records from JSONL, CSV, XLSX or Markdown files and directories into a data directory.
    Ingest {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// Fail (exit code 1) when any record is rejected.
        #[arg(long)]
        strict: bool,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Search the knowledge base from the terminal.
    Search {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        #[arg(long, default_value_t = search::limits::DEFAULT_LIMIT)]
        limit: usize,
        /// Print the response as JSON.
        #[arg(long)]
        json: bool,
        query: String,
    },
    /// Measure search latency on a data directory (one query per line of --queries, or built-in ones).
    Bench {
        #[arg(long, env = "GRIDKB_DATA", default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Passes over the query list after one warm-up pass.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
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
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GRIDKB_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Ingest { data, strict, paths } => ingest(&data, &paths, strict),
        Command::Search { data, limit, json, query } => search(&data, limit, json, query),
        Command::Bench { data, queries, rounds } => bench(&data, queries.as_deref(), rounds),
        Command::Serve { data, addr, corpus } => serve(data, addr, corpus),
    }
}

fn open_engine(data: &Path) -> anyhow::Result<Engine> {
    let bar = progress_bar();
    let engine =
        Engine::open(EngineOptions { data_dir: data.to_path_buf(), limits: Limits::default() }, &|p| show(&bar, p))
            .with_context(|| format!("cannot open the data directory {}", data.display()))?;
    bar.finish_and_clear();
    Ok(engine)
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
    }
}

/// Reads, validates and writes; prints each rejected record and a summary.
fn ingest_paths(engine: &Engine, paths: &[PathBuf]) -> anyhow::Result<usize> {
    let started = Instant::now();
    let batch = ingest::read_paths(paths)?;
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

fn ingest(data: &Path, paths: &[PathBuf], strict: bool) -> anyhow::Result<()> {
    let engine = open_engine(data)?;
    let rejected = ingest_paths(&engine, paths)?;
    if strict && rejected > 0 {
        bail!("{rejected} records were rejected (--strict)");
    }
    Ok(())
}

fn search(data: &Path, limit: usize, json: bool, query: String) -> anyhow::Result<()> {
    if !data.join("records.redb").exists() {
        bail!("no knowledge base in {}; run `gridkb ingest --data {} PATH...` first", data.display(), data.display());
    }
    let engine = open_engine(data)?;
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

fn bench(data: &Path, queries: Option<&Path>, rounds: usize) -> anyhow::Result<()> {
    let engine = open_engine(data)?;
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
    let run = |q: &str| engine.search(&SearchRequest { q: q.to_string(), ..SearchRequest::default() });
    for q in &queries {
        run(q)?;
    }
    let mut micros = Vec::with_capacity(queries.len() * rounds);
    for _ in 0..rounds.max(1) {
        for q in &queries {
            let started = Instant::now();
            run(q)?;
            micros.push(started.elapsed().as_micros() as u64);
        }
    }
    micros.sort_unstable();
    let at = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
    let stats = engine.stats()?;
    println!(
        "search over {} items, {} queries x {} rounds: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        stats.indexed_items,
        queries.len(),
        rounds.max(1),
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0)
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

fn serve(data: PathBuf, addr: SocketAddr, corpus: Option<PathBuf>) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!(
            "refusing to listen on {addr} without API keys; bind a loopback address such as {DEFAULT_ADDR} \
             (API keys arrive with the auth work)"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}; is another gridkb running? try --addr"))?;
        let state = server::AppState::new(Limits::default());
        let loader_state = state.clone();
        // Listen at once (healthz answers, readyz says 503) while the indexes are opened or built.
        let loader = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let engine = open_engine(&data)?;
            if engine.store().is_empty()? {
                let corpus = corpus
                    .or_else(bundled_corpus)
                    .context("the data directory is empty and no corpus was found; pass --corpus DIR")?;
                tracing::info!(corpus = %corpus.display(), "empty data directory: ingesting the corpus");
                ingest_paths(&engine, &corpus_record_dirs(&corpus))?;
            }
            loader_state.set_engine(Arc::new(engine));
            tracing::info!("ready");
            Ok(())
        });
        tracing::info!(%addr, "listening on http://{addr}");
        let server = tokio::spawn(server::serve(listener, state));
        match loader.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => bail!("index loader failed: {e}"),
        }
        server.await.context("server task failed")?.context("server failed")?;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}
