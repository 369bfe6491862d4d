//! Embedder speed on this machine: the baseline numbers of issue 7.
//!
//!     cargo run -p embed --release --example speed [-- MODEL_DIR]
//!     RAYON_NUM_THREADS=1 cargo run -p embed --release --example speed   # single-threaded
//!
//! Prints the model load time, short-query latency p50 / p99 at 16 and 32 tokens, and passage
//! throughput in tokens/s for 200-character passages at batch 1, 8 and 32, with the achieved
//! GFLOP/s from the model's FLOP count.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use embed::{EmbedConfig, Embedder};

/// Domain text the queries and passages are cut from (one token per Chinese character).
const TEXT: &str = "变压器油温过高报警时应首先检查冷却风机和油泵是否正常运行，核对温度计读数与远方测温是否一致，\
    确认负荷是否超过额定值。真空断路器合闸后立即跳闸，可能是保护定值设置不当、操作机构卡涩或者二次回路存在短路。\
    智能电表显示屏黑屏不走字时，先检查表计电源和接线端子，再判断是否为显示模块或计量芯片故障，必要时更换电能表。\
    环网柜六氟化硫气体压力低告警，需要检漏并按规程补气，补气后复测压力和微水含量。集中器与主站通道告警导致远程抄表失败，\
    应检查通信模块、天线与信号强度，以及主站档案参数是否一致。电缆终端头发热多由接触不良引起，红外测温发现异常应安排停电处理。\
    避雷器泄漏电流在线监测值持续升高，说明阀片可能受潮或老化，应结合带电测试数据综合判断并及时更换。";

fn percentile(mut d: Vec<Duration>, p: f64) -> Duration {
    d.sort();
    d[((d.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(embed::DEFAULT_MODEL_DIR));
    let chars: Vec<char> = TEXT.chars().filter(|c| !c.is_whitespace()).collect();

    let t = Instant::now();
    let embedder = match Embedder::load(&dir, &EmbedConfig::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let load = t.elapsed();
    let threads = candle_core::utils::get_num_threads();
    println!(
        "model {} (dim {}), loaded in {}, {} threads",
        embedder.model_id(),
        embedder.dimension(),
        ms(load),
        threads
    );
    println!("backend {:?}, kernel {}", embedder.backend(), embedder.kernel());

    // FLOPs per token for a BERT encoder at sequence length n: per layer 4h² (q, k, v, output
    // projections) + 2·h·i (feed-forward) multiply-adds, plus 2·n·h for attention scores and
    // the weighted sum; ×2 for multiply and add.
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let (h, i, l) = (
        cfg["hidden_size"].as_f64().unwrap(),
        cfg["intermediate_size"].as_f64().unwrap(),
        cfg["num_hidden_layers"].as_f64().unwrap(),
    );
    let flops_per_token = |n: f64| 2.0 * l * (4.0 * h * h + 2.0 * h * i + 2.0 * n * h);

    // Short queries: windows of exactly 16 and 32 tokens ([CLS] + characters + [SEP]).
    for tokens in [16usize, 32] {
        let queries: Vec<String> =
            (0..64).map(|k| chars.iter().cycle().skip(k * 7).take(tokens - 2).collect()).collect();
        assert_eq!(embedder.count_tokens(&queries[0]).unwrap(), tokens);
        for q in queries.iter().take(5) {
            embedder.embed_queries(&[q]).unwrap();
        }
        let mut times = Vec::new();
        for round in 0..3 {
            for q in &queries {
                let t = Instant::now();
                embedder.embed_queries(&[q]).unwrap();
                if round > 0 || times.len() > 8 {
                    times.push(t.elapsed());
                }
            }
        }
        let p50 = percentile(times.clone(), 0.5);
        println!(
            "query {tokens:>2} tokens: p50 {}  p99 {}  ({} runs, {:.1} GFLOP/s at p50)",
            ms(p50),
            ms(percentile(times.clone(), 0.99)),
            times.len(),
            flops_per_token(tokens as f64) * tokens as f64 / p50.as_secs_f64() / 1e9
        );
    }

    // Passages of 200 characters, embedded in batches of 1, 8 and 32.
    let passages: Vec<String> = (0..96).map(|k| chars.iter().cycle().skip(k * 13).take(200).collect()).collect();
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let tokens_each: Vec<usize> = refs.iter().map(|p| embedder.count_tokens(p).unwrap()).collect();
    embedder.embed_passages(&refs[..8]).unwrap();
    for batch in [1usize, 8, 32] {
        let count = if batch == 1 { 32 } else { 96 };
        let t = Instant::now();
        for chunk in refs[..count].chunks(batch) {
            embedder.embed_passages(chunk).unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        let tokens: usize = tokens_each[..count].iter().sum();
        let n = tokens as f64 / count as f64;
        println!(
            "passages batch {batch:>2}: {:>6.0} tokens/s  ({count} passages of {n:.0} tokens in {secs:.2} s, {:.1} GFLOP/s)",
            tokens as f64 / secs,
            flops_per_token(n) * tokens as f64 / secs / 1e9
        );
    }
}
