//! Several `gridkb serve` nodes on one PostgreSQL: a throwaway cluster (initdb in a temporary
//! directory, a free loopback port, stopped at the end even when a test fails), real node
//! processes on loopback, the small fixture corpus, no model.
//!
//! - a write on node A is searchable on node B within a second; a node started on an empty data
//!   directory builds everything from the journal; lag and staleness in `/readyz` and `/metrics`;
//! - node B killed with SIGKILL during a stream of writes, restarted, answers as A does;
//! - PostgreSQL stopped and restarted during reads: reads never fail, writes answer 503 with
//!   `Retry-After` while it is away, and both nodes recover by themselves.
//!
//! The PostgreSQL binaries are found through `GRIDKB_PG_BIN`, then `initdb` on the PATH, then
//! `/usr/lib/postgresql/<version>/bin` (Debian). initdb and postgres refuse to run as root: as
//! root the cluster runs as the `postgres` user when there is one, else `nobody`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The cluster's superuser password: given to nodes through the environment only, and never
/// allowed to appear in their logs.
const PG_PASSWORD: &str = "pg-test-Secret-7d1f";
const PG_USER: &str = "gridkb";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl")
}

/// Waits for `check` to answer `Some` within `deadline`, polling; panics with `what` otherwise.
fn wait_for<T>(deadline: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The directory holding initdb, postgres and pg_isready.
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("GRIDKB_PG_BIN") {
        return PathBuf::from(dir);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("initdb"))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf));
    if let Some(dir) = on_path {
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).expect("PostgreSQL binaries: install postgresql or set GRIDKB_PG_BIN")
}

/// The user the cluster runs as when the tests run as root.
fn unprivileged_user() -> Option<(u32, u32)> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entry = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() > 3 && fields[0] == name {
                Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
            } else {
                None
            }
        })
    };
    Some(entry("postgres").or_else(|| entry("nobody")).unwrap_or((65534, 65534)))
}

/// A throwaway PostgreSQL cluster, stopped (and its files removed) when dropped.
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
    server: Option<Child>,
}

impl Postgres {
    fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("tempdir");
        let user = unprivileged_user();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the cluster's directory");
        }
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PG_PASSWORD).expect("pwfile");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown pwfile");
        }
        let mut cluster = Postgres { bin: pg_bin(), port: free_port(), user, server: None, dir };
        let output = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args(["-U", PG_USER, "-A", "scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(output.status.success(), "initdb: {}", String::from_utf8_lossy(&output.stderr));
        cluster.start_server();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("pgdata")
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.current_dir(self.dir.path()).env_remove("PGPASSWORD");
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn url(&self) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/postgres", self.port)
    }

    fn start_server(&mut self) {
        let server = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "fsync=off", "-c", "max_connections=50"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        self.server = Some(server);
        let port = self.port.to_string();
        wait_for(Duration::from_secs(30), "PostgreSQL to accept connections", || {
            let ready = self.command("pg_isready").args(["-h", "127.0.0.1", "-p", &port, "-q"]).status();
            ready.is_ok_and(|s| s.success()).then_some(())
        });
    }

    /// Fast shutdown (SIGINT): clients are disconnected, the cluster stops cleanly.
    fn stop_server(&mut self) {
        let Some(mut server) = self.server.take() else { return };
        if let Some(pid) = rustix::process::Pid::from_raw(server.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = server.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.kill();
        let _ = server.wait();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_server();
    }
}

/// A `gridkb serve` process, killed when dropped.
struct Node {
    child: Child,
    port: u16,
    data: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// Starts a node on `data` following `pg`, and waits until it listens (not until ready).
    fn start(pg: &Postgres, data: &Path, corpus: &Path, limits: &Path) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridkb"))
            .args(["serve", "--no-dense", "--no-four-eyes", "--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--corpus")
            .arg(corpus)
            .arg("--limits")
            .arg(limits)
            .args(["--store", &pg.url()])
            .env("PGPASSWORD", PG_PASSWORD)
            .env_remove("GRIDKB_STORE_PASSWORD_FILE")
            .env_remove("GRIDKB_MODEL")
            .env("GRIDKB_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gridkb serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on http://127.0.0.1:") {
                    let port = line[at + "listening on http://127.0.0.1:".len()..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>();
                    let _ = tx.send(port.parse::<u16>().unwrap_or(0));
                }
                lines.lock().expect("log").push(line);
            }
        });
        let port = rx.recv_timeout(Duration::from_secs(60)).unwrap_or(0);
        let node = Node { child, port, data: data.to_path_buf(), log };
        assert!(port != 0, "the node did not say where it listens: {:#?}", node.log());
        node
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    fn wait_ready(&self) -> Value {
        wait_for(Duration::from_secs(120), "the node to be ready", || {
            let (status, _, body) = http(self.port, "GET", "/readyz", None).ok()?;
            (status == 200).then_some(body)
        })
    }

    fn search_ids(&self, q: &str) -> Option<Vec<String>> {
        let (status, _, body) = http(self.port, "POST", "/v1/search", Some(&json!({"q": q, "limit": 100}))).ok()?;
        if status != 200 {
            return None;
        }
        Some(body["hits"].as_array()?.iter().filter_map(|h| h["id"].as_str().map(str::to_string)).collect())
    }

    fn local_seq(&self) -> Option<u64> {
        let (status, _, body) = http(self.port, "GET", "/readyz", None).ok()?;
        (status == 200).then(|| body["store"]["local_seq"].as_u64())?
    }

    /// Creates, submits and approves one item: published, hence searchable. Returns the status
    /// of the first request that failed, or 200.
    fn publish(&self, n: usize) -> u16 {
        let id = item_id(n);
        let item = json!({"id": id, "kind": "technical_point", "title": title(n),
            "body": format!("{} 的处理步骤：核对定值，检查回路，记录结果。", title(n))});
        for (method, path, body) in [
            ("POST", "/v1/items".to_string(), Some(item)),
            ("POST", format!("/v1/items/{id}/submit"), None),
            ("POST", format!("/v1/items/{id}/approve"), None),
        ] {
            match http(self.port, method, &path, body.as_ref()) {
                Ok((status, _, _)) if status < 300 => {}
                Ok((status, _, body)) => {
                    assert!(status != 500, "a write failed with 500: {body}");
                    return status;
                }
                Err(e) => panic!("node unreachable during a write: {e}"),
            }
        }
        200
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn item_id(n: usize) -> String {
    format!("kb-pgt-{n:04}")
}

fn title(n: usize) -> String {
    format!("集群同步验证条目 PGT{n:04} 保护装置")
}

/// Status, headers (lower-cased names) and JSON body of an answer.
type Answer = (u16, Vec<(String, String)>, Value);

/// One HTTP/1.1 request with `Connection: close`: status, headers (lower-cased names), JSON body
/// (`Null` when the body is not JSON).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Answer> {
    request(port, method, path, body, None)
}

/// [`http`] with an API key.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>, key: Option<&str>) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if body.is_some() {
        request.push_str("Content-Type: application/json\r\n");
    }
    if let Some(key) = key {
        request.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{payload}", payload.len()));
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Ok((status, headers, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// A corpus directory with the fixture, and a limits file with quick follower settings.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).expect("mkdir corpus");
    std::fs::copy(fixture(), corpus.join("items.jsonl")).expect("copy fixture");
    let limits = dir.join("limits.json");
    std::fs::write(&limits, r#"{"follow_poll_ms": 200, "store_stale_after_ms": 1000}"#).expect("limits");
    (corpus, limits)
}

fn assert_no_password(node: &Node) {
    let log = node.log();
    assert!(!log.iter().any(|l| l.contains(PG_PASSWORD)), "the password reached the log");
}

#[test]
fn a_write_on_one_node_is_searchable_on_another_and_the_database_may_restart() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (corpus, limits) = setup(dir.path());
    let a = Node::start(&pg, &dir.path().join("a"), &corpus, &limits);
    let ready_a = a.wait_ready();
    assert_eq!(ready_a["store"]["backend"], "postgres", "{ready_a}");
    // Node B starts on an empty data directory: everything comes from PostgreSQL's journal
    // (B does not ingest the corpus it is given: the knowledge base is not empty).
    let b = Node::start(&pg, &dir.path().join("b"), &corpus, &limits);
    let ready_b = b.wait_ready();
    assert_eq!(ready_b["stats"]["records"], ready_a["stats"]["records"], "{ready_b}");
    assert_eq!(ready_b["store"]["lag"], 0);
    assert_eq!(ready_b["store"]["local_seq"], ready_a["store"]["local_seq"]);
    assert!(!b.log().iter().any(|l| l.contains("ingesting the corpus")), "B built from the journal");
    assert_eq!(a.search_ids("CT断线"), b.search_ids("CT断线"));

    // A write on A is searchable on B within a second.
    assert_eq!(a.publish(1), 200);
    let written = Instant::now();
    wait_for(Duration::from_secs(1), "the write on A to be searchable on B", || {
        b.search_ids(&title(1)).filter(|ids| ids.contains(&item_id(1)))
    });
    eprintln!("write on A searchable on B after {:?}", written.elapsed());
    // And a write on B on A: every node writes.
    assert_eq!(b.publish(2), 200);
    wait_for(Duration::from_secs(1), "the write on B to be searchable on A", || {
        a.search_ids(&title(2)).filter(|ids| ids.contains(&item_id(2)))
    });
    // The editors' state is shared: B sees A's item with its history.
    let (status, _, versions) =
        http(b.port, "GET", &format!("/v1/items/{}/versions", item_id(1)), None).expect("versions");
    assert_eq!(status, 200, "{versions}");
    let metrics = |node: &Node| {
        let mut stream = TcpStream::connect(("127.0.0.1", node.port)).expect("connect");
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("write");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("read");
        text
    };
    let scraped = metrics(&b);
    assert!(scraped.lines().any(|l| l == "gridkb_store_lag 0"), "{scraped}");
    assert!(scraped.lines().any(|l| l == "gridkb_store_stale 0"), "{scraped}");
    let (_, fresh, _) = http(b.port, "POST", "/v1/search", Some(&json!({"q": "CT断线"}))).expect("search");
    assert!(!fresh.iter().any(|(k, _)| k == "x-gridkb-stale"), "{fresh:?}");

    // PostgreSQL goes away while agents read from B.
    let mut pg = pg;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let reads = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut done = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let ids = b.search_ids(&title(1)).expect("a search answered while PostgreSQL restarts");
                assert!(ids.contains(&item_id(1)));
                done += 1;
            }
            done
        });
        pg.stop_server();
        // Writes wait for the database: 503, Retry-After, the error table's body.
        let item = json!({"id": item_id(3), "kind": "technical_point", "title": title(3), "body": "正文"});
        let (status, headers, body) = http(a.port, "POST", "/v1/items", Some(&item)).expect("write while down");
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["code"], "store_unavailable", "{body}");
        assert!(body["message"].is_string());
        assert!(headers.iter().any(|(k, _)| k == "retry-after"), "{headers:?}");
        // Reads keep answering, flagged stale after limits.store_stale_after_ms.
        let stale = wait_for(Duration::from_secs(10), "B to say its answers are stale", || {
            let (status, _, body) = http(b.port, "GET", "/readyz", None).ok()?;
            (status == 200 && body["store"]["stale"] == true).then_some(body)
        });
        assert!(stale["store"]["since_contact_ms"].as_u64().is_some_and(|ms| ms >= 1000), "{stale}");
        assert_eq!(stale["store"]["error"], "the record store is unreachable", "no host or user: {stale}");
        let (status, headers, _) = http(b.port, "POST", "/v1/search", Some(&json!({"q": title(1)}))).expect("search");
        assert_eq!(status, 200);
        assert!(headers.iter().any(|(k, _)| k == "x-gridkb-stale"), "a stale answer says so: {headers:?}");
        assert!(metrics(&b).lines().any(|l| l == "gridkb_store_stale 1"));
        pg.start_server();
        // Both nodes recover by themselves: a write on A goes through and reaches B.
        wait_for(Duration::from_secs(20), "a write on A after PostgreSQL returned", || {
            (a.publish(3) == 200).then_some(())
        });
        wait_for(Duration::from_secs(5), "B to follow again", || {
            b.search_ids(&title(3)).filter(|ids| ids.contains(&item_id(3)))
        });
        wait_for(Duration::from_secs(5), "B to be fresh again", || {
            let (_, _, body) = http(b.port, "GET", "/readyz", None).ok()?;
            (body["store"]["stale"] == false).then_some(())
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().expect("reader")
    });
    assert!(reads > 0);
    assert_no_password(&a);
    assert_no_password(&b);
}

#[test]
fn a_node_killed_during_a_stream_of_writes_catches_up_to_the_same_answers() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (corpus, limits) = setup(dir.path());
    let a = Node::start(&pg, &dir.path().join("a"), &corpus, &limits);
    a.wait_ready();
    let mut b = Node::start(&pg, &dir.path().join("b"), &corpus, &limits);
    b.wait_ready();
    const WRITES: usize = 40;
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for n in 0..WRITES {
                assert_eq!(a.publish(100 + n), 200, "write {n}");
            }
        });
        // Kill B while it applies the stream (after it has seen some of it), then restart it.
        wait_for(Duration::from_secs(60), "B to follow part of the stream", || {
            b.search_ids(&title(105)).filter(|ids| ids.contains(&item_id(105)))
        });
        b.kill();
        b = Node::start(&pg, &b.data.clone(), &corpus, &limits);
        b.wait_ready();
        writer.join().expect("writer");
    });
    let seq_a = a.local_seq().expect("A's position");
    wait_for(Duration::from_secs(10), "B to catch up with A", || (b.local_seq()? == seq_a).then_some(()));
    // The same answers: every written item is the first hit for its title on both nodes (the
    // order of the near-identical rest may differ: BM25 statistics count a re-applied document
    // until its segment is merged), and the same hits for the fixture's queries.
    for n in 0..WRITES {
        let (on_a, on_b) = (a.search_ids(&title(100 + n)), b.search_ids(&title(100 + n)));
        assert_eq!(on_a.as_ref().and_then(|ids| ids.first()), Some(&item_id(100 + n)), "{on_a:?}");
        assert_eq!(on_b.as_ref().and_then(|ids| ids.first()), Some(&item_id(100 + n)), "{on_b:?}");
        let (status, _, item) = http(b.port, "GET", &format!("/v1/items/{}", item_id(100 + n)), None).expect("item");
        assert_eq!((status, item["status"].as_str()), (200, Some("published")), "{item}");
    }
    for q in ["CT断线", "充电桩 通信故障", "线路保护装置"] {
        let sorted = |ids: Option<Vec<String>>| {
            let mut ids = ids.expect("search");
            ids.sort();
            ids
        };
        let (on_a, on_b) = (sorted(a.search_ids(q)), sorted(b.search_ids(q)));
        assert!(!on_a.is_empty(), "{q}");
        assert_eq!(on_a, on_b, "{q}");
    }
    let (_, _, stats_a) = http(a.port, "GET", "/readyz", None).expect("A");
    let (_, _, stats_b) = http(b.port, "GET", "/readyz", None).expect("B");
    assert_eq!(stats_a["stats"]["records"], stats_b["stats"]["records"]);
    assert_eq!(stats_a["stats"]["indexed_items"], stats_b["stats"]["indexed_items"]);
    assert_no_password(&b);
}

#[test]
fn a_password_in_the_store_url_is_refused_without_being_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = run_within(
        Command::new(env!("CARGO_BIN_EXE_gridkb"))
            .args(["serve", "--no-dense", "--addr", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .args(["--store", "postgres://gridkb:hunter2-secret@127.0.0.1:1/postgres"])
            .env("GRIDKB_LOG", "warn"),
        Duration::from_secs(60),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("carries a password"), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");

    // A single machine's data directory is not silently turned into a replica.
    let own = dir.path().join("own");
    let ingested = Command::new(env!("CARGO_BIN_EXE_gridkb"))
        .args(["ingest", "--no-dense", "--data"])
        .arg(&own)
        .arg(fixture())
        .env("GRIDKB_LOG", "warn")
        .output()
        .expect("run gridkb ingest");
    assert!(ingested.status.success(), "{}", String::from_utf8_lossy(&ingested.stderr));
    let refused = run_within(
        Command::new(env!("CARGO_BIN_EXE_gridkb"))
            .args(["serve", "--no-dense", "--addr", "127.0.0.1:0", "--data"])
            .arg(&own)
            .args(["--store", "postgres://gridkb@127.0.0.1:1/postgres"])
            .env("GRIDKB_LOG", "warn"),
        Duration::from_secs(60),
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds records of its own"), "{refused:?}");
}

/// Runs a command that must end by itself within `deadline` (killed, and the test failed, if not).
fn run_within(command: &mut Command, deadline: Duration) -> std::process::Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!("{command:?} did not end within {deadline:?}: {}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// `gridkb keys ... --store URL`; stdout on success.
fn keys(pg: &Postgres, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gridkb"))
        .arg("keys")
        .args(args)
        .args(["--store", &pg.url()])
        .env("PGPASSWORD", PG_PASSWORD)
        .env("GRIDKB_LOG", "warn")
        .output()
        .expect("run gridkb keys");
    assert!(output.status.success(), "keys {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn api_keys_made_once_in_postgresql_hold_on_every_node() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (corpus, limits) = setup(dir.path());
    let key = keys(&pg, &["create", "--role", "agent", "--note", "desk 12"]);
    assert!(key.starts_with("gkb_"), "{key}");
    let a = Node::start(&pg, &dir.path().join("a"), &corpus, &limits);
    a.wait_ready();
    let b = Node::start(&pg, &dir.path().join("b"), &corpus, &limits);
    b.wait_ready();
    let search = |node: &Node, key: Option<&str>| {
        request(node.port, "POST", "/v1/search", Some(&json!({"q": "CT断线"})), key).expect("search").0
    };
    for node in [&a, &b] {
        assert_eq!(search(node, None), 401, "the key file came from PostgreSQL: the API is closed");
        assert_eq!(search(node, Some(&key)), 200);
    }
    let id = key.trim_start_matches("gkb_").rsplit_once('_').map(|(id, _)| id.to_string()).expect("key id");
    assert!(keys(&pg, &["list"]).contains(&id));
    keys(&pg, &["revoke", &id]);
    for node in [&a, &b] {
        wait_for(Duration::from_secs(10), "the revoked key to be refused", || {
            (search(node, Some(&key)) == 401).then_some(())
        });
    }
    assert!(keys(&pg, &["list"]).lines().any(|l| l.starts_with(&id) && l.contains("revoked")));

    // A replica is not opened as a store of its own (a write there would fork it).
    drop(b);
    let output = Command::new(env!("CARGO_BIN_EXE_gridkb"))
        .args(["stats", "--data"])
        .arg(dir.path().join("b"))
        .env_remove("GRIDKB_STORE")
        .env("GRIDKB_LOG", "warn")
        .output()
        .expect("run gridkb stats");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("replica of a PostgreSQL store"), "{output:?}");
}
