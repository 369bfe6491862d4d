//! The crash suite. Test builds of `gridkb` carry named crash points on every write path (the
//! `fail` crate's `fail_point!`, switched on by this crate's `crash-points` feature, which only
//! `cargo test` turns on); `GRIDKB_CRASH_AT=POINT@N` aborts the process the N-th time it passes
//! POINT — an abort loses what a `kill -9` loses: buffers, destructors, unflushed files.
//!
//! `gridkb soak` runs rounds against a small knowledge base: each round starts a child `gridkb`
//! armed at one point, has it write (imports, searches and feedback over HTTP, key creation,
//! a first start's ingest, an ingest that saves vectors) until it dies or is killed with SIGKILL,
//! then opens the data directory again and checks that the start succeeds, every acknowledged
//! write is there, and every projection agrees with the store (`Engine::check_projections`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use search::{Engine, EngineOptions, GraphLoad, ModelChoice};
use serde::Serialize;

/// The environment variable that arms a crash point: `POINT` or `POINT@N` (N-th pass, from 1).
pub const ENV: &str = "GRIDKB_CRASH_AT";

/// Every crash point, in write-path order.
pub const POINTS: [&str; 10] = [
    "store.commit",
    "store.committed",
    "lexical.commit",
    "graph.apply",
    "ingest.batch",
    "import.batch",
    "journal.append",
    "keys.write",
    "vectors.save",
    "first-start.ingest",
];

/// Whether this build carries the crash points.
pub const COMPILED: bool = cfg!(feature = "crash-points");

/// Parses `POINT` or `POINT@N`.
fn parse(spec: &str) -> anyhow::Result<(&'static str, u64)> {
    let (name, pass) = match spec.split_once('@') {
        Some((name, n)) => {
            (name, n.parse::<u64>().ok().filter(|n| *n > 0).context("the pass after `@` is a number from 1")?)
        }
        None => (spec, 1),
    };
    let point = POINTS
        .iter()
        .find(|p| **p == name)
        .with_context(|| format!("no crash point {name:?}; there are {}", POINTS.join(", ")))?;
    Ok((point, pass))
}

/// Arms the crash point `GRIDKB_CRASH_AT` names, if any.
pub fn arm_from_env() -> anyhow::Result<()> {
    let Ok(spec) = std::env::var(ENV) else { return Ok(()) };
    let (point, pass) = parse(&spec).with_context(|| format!("{ENV}={spec:?}"))?;
    if !COMPILED {
        bail!("{ENV} is set, but this build of gridkb has no crash points (`cargo test` builds one that has)");
    }
    let passes = std::sync::atomic::AtomicU64::new(0);
    fail::cfg_callback(point, move || {
        if passes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= pass {
            std::process::abort();
        }
    })
    .map_err(|e| anyhow::anyhow!("cannot arm {point}: {e}"))
}

/// What `gridkb soak` is asked to do.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub rounds: usize,
    /// The points to crash at (all when empty).
    pub points: Vec<String>,
    pub seed: u64,
    /// Where the data directories go (kept for a look after a violation).
    pub work: PathBuf,
    /// Records to start each knowledge base from (JSONL).
    pub fixture: PathBuf,
    /// The model for the vector index's rounds; without one they are skipped.
    pub model: Option<PathBuf>,
}

/// One point's rounds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PointReport {
    pub point: String,
    pub rounds: usize,
    /// Rounds whose child aborted at the point.
    pub crashes: usize,
    /// Rounds whose child did not reach the armed pass and was killed with SIGKILL instead.
    pub kills: usize,
    /// Writes acknowledged before the crash and found after it.
    pub acknowledged: usize,
    /// Why a round was not run (no model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What was wrong after a restart: a failed start, a lost write, a projection that disagrees.
    pub violations: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SoakReport {
    pub rounds: usize,
    pub crashes: usize,
    pub kills: usize,
    pub violations: usize,
    pub seconds: f64,
    pub points: Vec<PointReport>,
}

/// Runs the soak; `progress` hears about every round.
pub fn soak(options: &SoakOptions, progress: &dyn Fn(&PointReport)) -> anyhow::Result<SoakReport> {
    if !COMPILED {
        bail!(
            "this build of gridkb has no crash points; run the soak from a test build: \
             `cargo build --release --features gridkb/crash-points`, then that binary's `soak`"
        );
    }
    let points: Vec<&'static str> = if options.points.is_empty() {
        POINTS.to_vec()
    } else {
        options.points.iter().map(|p| parse(p).map(|(point, _)| point)).collect::<anyhow::Result<_>>()?
    };
    std::fs::create_dir_all(&options.work).with_context(|| format!("cannot create {}", options.work.display()))?;
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut reports: Vec<PointReport> =
        points.iter().map(|p| PointReport { point: p.to_string(), ..PointReport::default() }).collect();
    let mut random = options.seed.max(1);
    for round in 0..options.rounds {
        let which = round % points.len();
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let report = &mut reports[which];
        let mut round_of = Round { soak: options, runtime: &runtime, point: points[which], number: round, random };
        if let Err(e) = round_of.run(report) {
            report.violations.push(format!("round {round}: {e:#}"));
        }
        progress(report);
    }
    Ok(SoakReport {
        rounds: reports.iter().map(|r| r.rounds).sum(),
        crashes: reports.iter().map(|r| r.crashes).sum(),
        kills: reports.iter().map(|r| r.kills).sum(),
        violations: reports.iter().map(|r| r.violations.len()).sum(),
        seconds: started.elapsed().as_secs_f64(),
        points: reports,
    })
}

/// How a child ended.
enum Ending {
    /// Aborted at the crash point.
    Crashed,
    /// Killed by the soak: it never reached the armed pass.
    Killed,
}

struct Round<'a> {
    soak: &'a SoakOptions,
    runtime: &'a tokio::runtime::Runtime,
    point: &'static str,
    number: usize,
    random: u64,
}

/// What a server round had acknowledged when its child died.
#[derive(Default)]
struct Acknowledged {
    /// Published through `POST /v1/import?publish=true` (a finished task).
    published: Vec<String>,
    /// Imported as drafts (each record of a task as it reported done).
    drafts: Vec<String>,
    /// Feedback answered 2xx: the request ids.
    feedback: Vec<String>,
}

impl Round<'_> {
    fn run(&mut self, report: &mut PointReport) -> anyhow::Result<()> {
        let (ending, acknowledged) = match self.point {
            "keys.write" => self.keys_round(report)?,
            "first-start.ingest" => (self.first_start_round()?, 0),
            "vectors.save" => match &self.soak.model {
                Some(model) => (self.vectors_round(model)?, 0),
                None => {
                    report.skipped = Some("no model: pass --model (scripts/fetch-model.sh)".into());
                    return Ok(());
                }
            },
            _ => self.server_round(report)?,
        };
        report.rounds += 1;
        report.acknowledged += acknowledged;
        match ending {
            Ending::Crashed => report.crashes += 1,
            Ending::Killed => report.kills += 1,
        }
        Ok(())
    }

    /// The pass to abort at: 1 to `max`, varied by round.
    fn pass(&self, max: u64) -> u64 {
        1 + self.random % max
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.soak.work.join(name)
    }

    fn gridkb(&self, crash: Option<String>) -> Command {
        let mut command = Command::new(std::env::current_exe().expect("the running binary"));
        command
            .env_remove(ENV)
            .env_remove("GRIDKB_DATA")
            .env_remove("GRIDKB_LIMITS")
            .env_remove("GRIDKB_KEY")
            .env("GRIDKB_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(spec) = crash {
            command.env(ENV, spec);
        }
        command
    }

    /// A knowledge base made from the fixture, kept from round to round of one point.
    fn seeded(&self, name: &str) -> anyhow::Result<PathBuf> {
        let data = self.dir(name);
        if !search::DataLayout::new(&data).store_file().exists() {
            let status = self
                .gridkb(None)
                .args(["ingest", "--no-dense", "--data"])
                .arg(&data)
                .arg(&self.soak.fixture)
                .status()
                .context("run gridkb ingest")?;
            if !status.success() {
                bail!("cannot ingest the fixture into {}", data.display());
            }
        }
        Ok(data)
    }

    /// Imports, searches and feedback over HTTP until the armed server dies.
    fn server_round(&mut self, report: &mut PointReport) -> anyhow::Result<(Ending, usize)> {
        let data = self.seeded(&self.point.replace('.', "-"))?;
        let pass = self.pass(6);
        let addr_file = search::DataLayout::new(&data).serve_addr_file();
        let _ = std::fs::remove_file(&addr_file);
        let mut child = self
            .gridkb(Some(format!("{}@{pass}", self.point)))
            .args(["serve", "--no-dense", "--addr", "127.0.0.1:0", "--data"])
            .arg(&data)
            .spawn()
            .context("spawn gridkb serve")?;
        let mut acknowledged = Acknowledged::default();
        if let Some(base) = wait_for_address(&mut child, &addr_file)? {
            let work = self.runtime.block_on(self.server_work(&base, &mut acknowledged));
            if let Err(e) = work
                && !exits_within(&mut child, Duration::from_secs(2))?
            {
                // The server answered wrongly but did not die: that is a violation, not a crash.
                report.violations.push(format!("round {}: {e:#}", self.number));
            }
        }
        let ending = end(child)?;
        let count = acknowledged.published.len() + acknowledged.drafts.len() + acknowledged.feedback.len();
        self.verify(&data, None, &acknowledged)?;
        Ok((ending, count))
    }

    /// Writes through the API; returns at the first failure (the server died, as armed).
    async fn server_work(&self, base: &str, acknowledged: &mut Acknowledged) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        for op in 0..6 {
            match self.point {
                "journal.append" => {
                    let answer: serde_json::Value = client
                        .post(format!("{base}/v1/search"))
                        .json(&serde_json::json!({"q": "纵联通道告警 怎么处理"}))
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    let request_id = answer["request_id"].as_str().context("a search answer has a request_id")?;
                    client
                        .post(format!("{base}/v1/feedback"))
                        .json(&serde_json::json!({"request_id": request_id, "verdict": "helpful"}))
                        .send()
                        .await?
                        .error_for_status()?;
                    acknowledged.feedback.push(request_id.to_string());
                }
                point => {
                    let publish = point != "import.batch";
                    let ids: Vec<String> = (0..3).map(|i| format!("kb-soak-{}-{op}-{i}", self.number)).collect();
                    let body: String = ids
                        .iter()
                        .map(|id| {
                            let item = serde_json::json!({
                                "id": id, "kind": "technical_point", "title": format!("浸泡测试条目 {id}"),
                                "body": "纵联通道告警时检查尾纤和法兰盘，测量收信光功率。", "category": "fault_repair",
                                "faults": ["f-channel"], "products": ["pm-gkb-931a"],
                            });
                            format!("{item}\n")
                        })
                        .collect();
                    let started: serde_json::Value = client
                        .post(format!("{base}/v1/import?format=jsonl&name=soak.jsonl&publish={publish}"))
                        .body(body)
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    let task =
                        started["task"]["id"].as_str().or(started["task"].as_str()).context("an import task id")?;
                    loop {
                        let view: serde_json::Value = client
                            .get(format!("{base}/v1/tasks/{task}"))
                            .send()
                            .await?
                            .error_for_status()?
                            .json()
                            .await?;
                        let done = view["done"].as_u64().unwrap_or(0) as usize;
                        match view["state"].as_str() {
                            Some("done") => {
                                if view["rejected"].as_u64() != Some(0)
                                    || view["report"]["refused"].as_array().is_some_and(|r| !r.is_empty())
                                {
                                    bail!("the import refused records: {view}");
                                }
                                if publish {
                                    acknowledged.published.extend(ids);
                                } else {
                                    acknowledged.drafts.extend(ids);
                                }
                                break;
                            }
                            Some("failed") => bail!("the import failed: {view}"),
                            _ if !publish => {
                                // Each draft is stored, audited and durable as the task reports it.
                                for id in ids.iter().take(done) {
                                    if !acknowledged.drafts.contains(id) {
                                        acknowledged.drafts.push(id.clone());
                                    }
                                }
                            }
                            _ => {}
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        }
        Ok(())
    }

    /// Creates keys, one acknowledged and one armed to die in the key file's write, per round.
    fn keys_round(&mut self, report: &mut PointReport) -> anyhow::Result<(Ending, usize)> {
        let data = self.dir("keys");
        std::fs::create_dir_all(&data)?;
        let create = |crash: Option<String>| -> anyhow::Result<ExitStatus> {
            let child = self.gridkb(crash).args(["keys", "create", "--role", "agent", "--data"]).arg(&data).spawn()?;
            Ok(child.wait_with_output()?.status)
        };
        if !create(None)?.success() {
            bail!("gridkb keys create failed without a crash point armed");
        }
        let acknowledged: Vec<String> = server::keys::list(&data)?.into_iter().map(|k| k.id).collect();
        let status = create(Some("keys.write@1".into()))?;
        let ending = crash_or_violation(status)?;
        match server::keys::list(&data) {
            Ok(after) => {
                let ids: Vec<String> = after.into_iter().map(|k| k.id).collect();
                for id in &acknowledged {
                    if !ids.contains(id) {
                        report.violations.push(format!("round {}: key {id} was lost", self.number));
                    }
                }
            }
            Err(e) => report.violations.push(format!("round {}: the key file does not load: {e}", self.number)),
        }
        Ok((ending, acknowledged.len()))
    }

    /// A first start on an empty data directory, armed; then a start that must finish the ingest.
    fn first_start_round(&mut self) -> anyhow::Result<Ending> {
        let corpus = self.dir("corpus");
        if !corpus.is_dir() {
            std::fs::create_dir_all(&corpus)?;
            std::fs::copy(&self.soak.fixture, corpus.join("items.jsonl"))?;
        }
        let data = self.dir(&format!("first-start-{}", self.number));
        let serve = |crash: Option<String>| -> anyhow::Result<Child> {
            Ok(self
                .gridkb(crash)
                .args(["serve", "--no-dense", "--addr", "127.0.0.1:0", "--corpus"])
                .arg(&corpus)
                .arg("--data")
                .arg(&data)
                .spawn()?)
        };
        let addr_file = search::DataLayout::new(&data).serve_addr_file();
        let mut armed = serve(Some("first-start.ingest@1".into()))?;
        wait_for_address(&mut armed, &addr_file)?;
        let ending = end(armed)?;
        let mut again = serve(None)?;
        if wait_for_address(&mut again, &addr_file)?.is_none() {
            bail!("the start after the crash did not become ready");
        }
        again.kill()?;
        again.wait()?;
        self.verify(&data, None, &Acknowledged::default())?;
        let engine = open(&data, None)?;
        let fixture_items = count_items(&self.soak.fixture)?;
        let check = engine.check_projections()?;
        if check.items != fixture_items {
            bail!("the first start's ingest holds {} items of the corpus's {fixture_items}", check.items);
        }
        if search::DataLayout::new(&data).first_start_marker().exists() {
            bail!("the first start's marker is still there after a completed start");
        }
        drop(engine);
        std::fs::remove_dir_all(&data).ok();
        Ok(ending)
    }

    /// An ingest that embeds one new item and dies while saving the vector index.
    fn vectors_round(&mut self, model: &Path) -> anyhow::Result<Ending> {
        let data = self.seeded("vectors")?;
        let file = self.dir(&format!("vectors-{}.jsonl", self.number));
        let item = serde_json::json!({
            "id": format!("kb-soak-v-{}", self.number), "kind": "technical_point",
            "title": format!("向量浸泡 {}", self.number), "body": "充电桩显示屏黑屏时先检查辅助电源和通信板。",
            "category": "fault_repair",
        });
        std::fs::write(&file, format!("{item}\n"))?;
        let status = self
            .gridkb(Some("vectors.save@1".into()))
            .args(["ingest", "--data"])
            .arg(&data)
            .arg("--model")
            .arg(model)
            .arg(&file)
            .status()?;
        let ending = crash_or_violation(status)?;
        self.verify(&data, Some(model), &Acknowledged::default())?;
        Ok(ending)
    }

    /// Starts on the data directory again and checks it: the start succeeds, nothing
    /// acknowledged is lost, every projection agrees with the store, the request log is whole.
    fn verify(&self, data: &Path, model: Option<&Path>, acknowledged: &Acknowledged) -> anyhow::Result<()> {
        let engine = open(data, model).context("the start after the crash failed")?;
        if model.is_some() {
            engine.catch_up_vectors(&|_| {}).context("the vector index did not catch up")?;
        }
        for id in &acknowledged.published {
            match engine.store().get(id)? {
                Some(stored) if matches!(stored.record, store::Record::Item(_)) => {}
                _ => bail!("the published item {id} was acknowledged and is lost"),
            }
        }
        for id in &acknowledged.drafts {
            if engine.store().state(id)?.head_version() == 0 {
                bail!("the draft {id} was acknowledged and is lost");
            }
        }
        let check = engine.check_projections()?;
        if !check.agrees() {
            bail!("the projections disagree with the store: {}", serde_json::to_string(&check)?);
        }
        drop(engine);
        let limits = search::Limits::default().journal_limits();
        let (snapshot, opened) = journal::read_snapshot(&search::DataLayout::new(data).journal_dir(), &limits)?;
        if opened.skipped_lines > 0 {
            bail!("the request log has {} damaged lines", opened.skipped_lines);
        }
        for id in &acknowledged.feedback {
            if !snapshot.feedback().any(|f| &f.request_id == id) {
                bail!("feedback on {id} was acknowledged and is lost");
            }
        }
        Ok(())
    }
}

fn open(data: &Path, model: Option<&Path>) -> anyhow::Result<Engine> {
    Ok(Engine::open(
        EngineOptions {
            data_dir: data.to_path_buf(),
            model: model.map(|m| ModelChoice::Required(m.to_path_buf())),
            graph_load: GraphLoad::Blocking,
            ..EngineOptions::default()
        },
        &|_| {},
    )?)
}

fn count_items(file: &Path) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(file)?;
    Ok(text.lines().filter(|l| l.contains("\"kind\"")).count())
}

/// Waits for a serving child's address file; `None` when the child died first.
fn wait_for_address(child: &mut Child, addr_file: &Path) -> anyhow::Result<Option<String>> {
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            return Ok(None);
        }
        if let Ok(addr) = std::fs::read_to_string(addr_file)
            && !addr.trim().is_empty()
        {
            return Ok(Some(format!("http://{}", addr.trim())));
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            bail!("the server did not become ready in 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `child` ends within `patience` (a child dying at its crash point takes a moment).
fn exits_within(child: &mut Child, patience: Duration) -> anyhow::Result<bool> {
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        if started.elapsed() >= patience {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Ends a child: it aborted at the point, or it is killed with SIGKILL now.
fn end(mut child: Child) -> anyhow::Result<Ending> {
    if !exits_within(&mut child, Duration::from_millis(200))? {
        child.kill()?;
        child.wait()?;
        return Ok(Ending::Killed);
    }
    crash_or_violation(child.wait()?)
}

/// A child that ended by itself must have aborted at the armed point.
fn crash_or_violation(status: ExitStatus) -> anyhow::Result<Ending> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if status.signal() == Some(6) {
            return Ok(Ending::Crashed);
        }
    }
    bail!("the child ended with {status} instead of aborting at the crash point")
}
