//! The embedder benchmark behind `gridkb bench embed`: short-query latency, passage throughput,
//! single- and multi-threaded, and the achieved GFLOP/s against the model's FLOP count.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::embedder::Embedder;
use crate::error::{Error, Result};

/// Domain text the queries and passages are cut from (one token per Chinese character).
const TEXT: &str = "变压器油温过高报警时应首先检查冷却风机和油泵是否正常运行，核对温度计读数与远方测温是否一致，\
    确认负荷是否超过额定值。真空断路器合闸后立即跳闸，可能是保护定值设置不当、操作机构卡涩或者二次回路存在短路。\
    智能电表显示屏黑屏不走字时，先检查表计电源和接线端子，再判断是否为显示模块或计量芯片故障，必要时更换电能表。\
    环网柜六氟化硫气体压力低告警，需要检漏并按规程补气，补气后复测压力和微水含量。集中器与主站通道告警导致远程抄表失败，\
    应检查通信模块、天线与信号强度，以及主站档案参数是否一致。电缆终端头发热多由接触不良引起，红外测温发现异常应安排停电处理。\
    避雷器泄漏电流在线监测值持续升高，说明阀片可能受潮或老化，应结合带电测试数据综合判断并及时更换。";

/// What to measure.
#[derive(Debug, Clone, Serialize)]
pub struct BenchOptions {
    /// Window lengths of the short queries, special tokens included.
    pub query_tokens: Vec<usize>,
    /// Timed queries per length (after a warm-up of 5).
    pub queries: usize,
    /// Characters per passage.
    pub passage_chars: usize,
    /// Passages per batch size.
    pub passages: usize,
    pub batch_sizes: Vec<usize>,
    /// Thread counts to run with (each in a rayon pool of its own); 0 means all cores.
    pub threads: Vec<usize>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            query_tokens: vec![16, 32],
            queries: 200,
            passage_chars: 200,
            passages: 64,
            batch_sizes: vec![1, 8, 32],
            threads: vec![1, 0],
        }
    }
}

impl BenchOptions {
    /// A run of a few seconds, for smoke tests.
    pub fn quick() -> Self {
        BenchOptions { queries: 10, passages: 8, batch_sizes: vec![1, 8], ..Default::default() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryStat {
    pub threads: usize,
    pub tokens: usize,
    pub runs: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// At the p50 latency.
    pub gflops: f64,
    /// CPU time of the process per query (all threads; Linux only): with `threads` cores free
    /// it is about `threads × p50`; less means other processes took the cores.
    pub cpu_ms_per_query: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PassageStat {
    pub threads: usize,
    pub batch: usize,
    pub passages: usize,
    pub tokens_per_passage: f64,
    pub seconds: f64,
    pub tokens_per_s: f64,
    pub gflops: f64,
    /// CPU time of the process over the run (Linux only), and tokens per CPU-second: the
    /// throughput per fully available core, independent of what else runs on the machine.
    pub cpu_seconds: Option<f64>,
    pub tokens_per_cpu_s: Option<f64>,
}

/// The numbers of one benchmark run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub model_id: String,
    pub backend: String,
    pub kernel: String,
    pub cores: usize,
    /// FLOPs of one 16-token window (2 × multiply-adds of the encoder).
    pub flops_16_tokens: f64,
    pub queries: Vec<QueryStat>,
    pub passages: Vec<PassageStat>,
}

/// User + system CPU time of this process, from /proc/self/stat (clock ticks of 10 ms).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the benchmark (tens of seconds with the defaults).
pub fn bench(embedder: &Embedder, opts: &BenchOptions) -> Result<BenchReport> {
    let chars: Vec<char> = TEXT.chars().filter(|c| !c.is_whitespace()).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut report = BenchReport {
        model_id: embedder.model_id().to_owned(),
        backend: format!("{:?}", embedder.backend()).to_lowercase(),
        kernel: embedder.kernel().to_owned(),
        cores,
        flops_16_tokens: embedder.flops_per_window(16),
        queries: Vec::new(),
        passages: Vec::new(),
    };
    let cut = |k: usize, len: usize| -> String { chars.iter().cycle().skip(k).take(len).collect() };
    for &threads in &opts.threads {
        let threads = if threads == 0 { cores } else { threads };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::Config(format!("cannot start {threads} benchmark threads: {e}")))?;
        pool.install(|| -> Result<()> {
            for &tokens in &opts.query_tokens {
                let special = embedder.count_tokens("")?;
                let queries: Vec<String> =
                    (0..opts.queries.max(1) + 5).map(|k| cut(k * 7, tokens.saturating_sub(special).max(1))).collect();
                let actual = embedder.count_tokens(&queries[0])?;
                let mut times = Vec::with_capacity(opts.queries);
                let mut cpu0 = None;
                for (k, q) in queries.iter().enumerate() {
                    if k == 5 {
                        cpu0 = cpu_seconds();
                    }
                    let t = Instant::now();
                    embedder.embed_query(q)?;
                    if k >= 5 {
                        times.push(t.elapsed());
                    }
                }
                let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| (b - a) * 1e3 / times.len() as f64);
                times.sort();
                let p50 = percentile(&times, 0.5);
                report.queries.push(QueryStat {
                    threads,
                    tokens: actual,
                    runs: times.len(),
                    p50_ms: p50.as_secs_f64() * 1e3,
                    p99_ms: percentile(&times, 0.99).as_secs_f64() * 1e3,
                    gflops: embedder.flops_per_window(actual) / p50.as_secs_f64() / 1e9,
                    cpu_ms_per_query: cpu,
                });
            }
            let passages: Vec<String> =
                (0..opts.passages.max(1)).map(|k| cut(k * 13, opts.passage_chars.max(1))).collect();
            let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
            let lens = refs.iter().map(|p| embedder.count_tokens(p)).collect::<Result<Vec<_>>>()?;
            embedder.embed_passages(&refs[..refs.len().min(2)])?;
            for &batch in &opts.batch_sizes {
                let cpu0 = cpu_seconds();
                let t = Instant::now();
                for chunk in refs.chunks(batch.max(1)) {
                    embedder.embed_passages(chunk)?;
                }
                let secs = t.elapsed().as_secs_f64();
                let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| b - a);
                let tokens: usize = lens.iter().sum();
                let flops: f64 = lens.iter().map(|&n| embedder.flops_per_window(n)).sum();
                report.passages.push(PassageStat {
                    threads,
                    batch,
                    passages: refs.len(),
                    tokens_per_passage: tokens as f64 / refs.len() as f64,
                    seconds: secs,
                    tokens_per_s: tokens as f64 / secs,
                    gflops: flops / secs / 1e9,
                    cpu_seconds: cpu,
                    tokens_per_cpu_s: cpu.filter(|&c| c > 0.0).map(|c| tokens as f64 / c),
                });
            }
            Ok(())
        })?;
    }
    Ok(report)
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "embedder {}  backend {} ({})  {} cores  {:.2} GFLOP per 16-token window",
            self.model_id,
            self.backend,
            self.kernel,
            self.cores,
            self.flops_16_tokens / 1e9
        )?;
        for q in &self.queries {
            writeln!(
                f,
                "  query    {:>3} tokens  {} thread{}  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>6.1} GFLOP/s  ({} runs{})",
                q.tokens,
                q.threads,
                if q.threads == 1 { " " } else { "s" },
                q.p50_ms,
                q.p99_ms,
                q.gflops,
                q.runs,
                q.cpu_ms_per_query.map(|c| format!(", {c:.2} cpu-ms each")).unwrap_or_default()
            )?;
        }
        for p in &self.passages {
            writeln!(
                f,
                "  passages batch {:>3}  {} thread{}  {:>7.0} tokens/s  {:>6.1} GFLOP/s  ({} × {:.0} tokens in {:.2} s{})",
                p.batch,
                p.threads,
                if p.threads == 1 { " " } else { "s" },
                p.tokens_per_s,
                p.gflops,
                p.passages,
                p.tokens_per_passage,
                p.seconds,
                p.tokens_per_cpu_s
                    .zip(p.cpu_seconds)
                    .map(|(t, c)| format!(", {c:.2} cpu-s, {t:.0} tokens per cpu-s"))
                    .unwrap_or_default()
            )?;
        }
        Ok(())
    }
}
