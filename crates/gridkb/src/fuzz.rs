//! `gridkb fuzz --target T --duration S`: arbitrary and mutated inputs against one parser of
//! untrusted input (or `all`), for as long as asked, on the stable toolchain. Every input is
//! checked against its target's property (`search::fuzz`); a panic or a broken property is a
//! finding, written to `--findings DIR` (the input, and the message beside it) so that it can be
//! replayed and turned into a test.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use search::fuzz::{Rng, Target, check, mutate};

/// Inputs kept to mutate further, per target.
const POOL: usize = 256;
/// Longest input generated.
const MAX_LEN: usize = 16 * 1024;

pub fn run(target: &str, duration: Duration, seed: u64, findings: &Path) -> anyhow::Result<()> {
    let targets: Vec<Target> = if target == "all" {
        Target::ALL.to_vec()
    } else {
        match Target::from_name(target) {
            Some(t) => vec![t],
            None => {
                let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
                bail!("no fuzz target `{target}`; use all or one of {}", names.join(", "))
            }
        }
    };
    // Panics are findings, reported below: keep the default hook from printing each one.
    std::panic::set_hook(Box::new(|_| {}));
    let share = duration / targets.len() as u32;
    let mut total_found = 0;
    for target in targets {
        total_found += fuzz_one(target, share, seed, findings)?;
    }
    let _ = std::panic::take_hook();
    if total_found > 0 {
        bail!("{total_found} findings in {}", findings.display());
    }
    Ok(())
}

fn fuzz_one(target: Target, duration: Duration, seed: u64, findings: &Path) -> anyhow::Result<usize> {
    let mut rng = Rng::new(seed ^ (target as u64).wrapping_mul(0x9E37_79B9));
    let mut pool = target.seeds();
    let started = Instant::now();
    let mut last_report = started;
    let (mut runs, mut found) = (0u64, 0usize);
    while started.elapsed() < duration {
        let parent = &pool[rng.below(pool.len())];
        let input = mutate(&mut rng, parent, MAX_LEN);
        let outcome = catch_unwind(AssertUnwindSafe(|| check(target, &input)));
        runs += 1;
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(violation)) => Some(violation.0),
            Err(panic) => Some(format!(
                "panic: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        };
        match failure {
            Some(message) => {
                found += 1;
                save(findings, target, found, &input, &message)?;
                eprintln!("{}: finding {found}: {message}", target.name());
            }
            // Keep some passing inputs to mutate further: deeper states than the seeds alone.
            None if rng.below(64) == 0 => {
                if pool.len() < POOL {
                    pool.push(input);
                } else {
                    let i = rng.below(POOL);
                    pool[i] = input;
                }
            }
            None => {}
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            eprintln!("{}: {runs} inputs in {:.0} s, {found} findings", target.name(), started.elapsed().as_secs_f64());
        }
    }
    println!(
        "{}: {runs} inputs in {:.0} s ({:.0}/s), {found} findings",
        target.name(),
        started.elapsed().as_secs_f64(),
        runs as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
    Ok(found)
}

fn save(dir: &Path, target: Target, n: usize, input: &[u8], message: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stem = dir.join(format!("{}-{n}", target.name()));
    std::fs::write(stem.with_extension("bin"), input)?;
    let mut note = std::fs::File::create(stem.with_extension("txt"))?;
    writeln!(note, "{message}")?;
    Ok(())
}
