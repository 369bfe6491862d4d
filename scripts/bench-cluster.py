#!/usr/bin/env python3
"""Measures gridkb on PostgreSQL against the embedded store (docs/deployment.md's numbers).

Starts a throwaway PostgreSQL cluster (initdb in a temporary directory, a free loopback port;
as root it runs as the `postgres` user), then `gridkb serve` nodes without a model, and reports:

  write latency   create / submit / approve over HTTP on one node, redb vs PostgreSQL
  follower lag    from a write's acknowledgement on node A to node B having applied it, under a
                  stream of writes (B is polled every 2 ms)
  new node        (--corpus DIR) the corpus ingested through node A, then node B started on an
                  empty data directory: time to ready and the catch-up rate in records/s
  search QPS      (--qps, with --corpus) N client threads searching node B for 10 s

Usage: scripts/bench-cluster.py [--bin target/release/gridkb] [--writes 100] [--corpus corpus]
       [--qps] [--threads 8]
Everything is stopped at the end (or on Ctrl-C). Python standard library only.
"""

import argparse
import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "bench-only-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    if os.environ.get("GRIDKB_PG_BIN"):
        return os.environ["GRIDKB_PG_BIN"]
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not versions:
        sys.exit("no PostgreSQL binaries: apt-get install postgresql, or set GRIDKB_PG_BIN")
    return os.path.dirname(versions[-1])


class Postgres:
    def __init__(self, root):
        self.dir = os.path.join(root, "pg")
        os.makedirs(self.dir)
        self.bin = pg_bin()
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            self.user = (entry.pw_uid, entry.pw_gid)
            os.chown(self.dir, *self.user)
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD)
        if self.user:
            os.chown(pwfile, *self.user)
        self.run("initdb", "-D", self.data(), "-U", "gridkb", "-A", "scram-sha-256", "--no-sync",
                 "-E", "UTF8", "--locale=C", f"--pwfile={pwfile}", quiet=True)
        self.server = self.spawn("postgres", "-D", self.data(), "-h", "127.0.0.1", "-p", str(self.port),
                                 "-k", self.dir)
        deadline = time.time() + 30
        while self.run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port), check=False) != 0:
            if time.time() > deadline:
                sys.exit("PostgreSQL did not start")
            time.sleep(0.05)

    def data(self):
        return os.path.join(self.dir, "data")

    def preexec(self):
        if self.user:
            os.setgid(self.user[1])
            os.setuid(self.user[0])

    def run(self, program, *args, quiet=False, check=True):
        out = subprocess.DEVNULL if quiet else None
        code = subprocess.call([os.path.join(self.bin, program), *args], stdout=out, stderr=out,
                               preexec_fn=self.preexec, cwd=self.dir)
        if check and code != 0:
            sys.exit(f"{program} failed")
        return code

    def spawn(self, program, *args):
        return subprocess.Popen([os.path.join(self.bin, program), *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=self.preexec, cwd=self.dir)

    def url(self, db="postgres"):
        return f"postgres://gridkb@127.0.0.1:{self.port}/{db}"

    def create_db(self, name):
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        subprocess.check_call([os.path.join(self.bin, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                               "-U", "gridkb", name], env=env)

    def stop(self):
        self.server.send_signal(signal.SIGINT)
        self.server.wait(timeout=30)


class Node:
    def __init__(self, binary, data, corpus, store=None):
        self.port = free_port()
        args = [binary, "serve", "--no-dense", "--no-four-eyes", "--addr", f"127.0.0.1:{self.port}",
                "--data", data, "--corpus", corpus]
        if store:
            args += ["--store", store]
        env = dict(os.environ, PGPASSWORD=PASSWORD, GRIDKB_LOG="warn")
        self.started = time.time()
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
        self.conn = None

    def request(self, method, path, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        try:
            self.conn.request(method, path, payload, headers)
            answer = self.conn.getresponse()
            data = answer.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            self.conn = None
            raise
        return answer.status, (json.loads(data) if data else None)

    def wait_ready(self, timeout=1800):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                status, body = self.request("GET", "/readyz")
                if status == 200:
                    return time.time() - self.started, body
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit("node not ready")

    def publish(self, n, timings):
        item_id = f"kb-bench-{n:05d}"
        steps = [("create", "POST", "/v1/items", {"id": item_id, "kind": "technical_point",
                  "title": f"压测条目 BENCH{n:05d}", "body": "核对定值，检查二次回路，记录处理结果。"}),
                 ("submit", "POST", f"/v1/items/{item_id}/submit", None),
                 ("approve", "POST", f"/v1/items/{item_id}/approve", None)]
        for name, method, path, body in steps:
            started = time.perf_counter()
            status, answer = self.request(method, path, body)
            timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
            if status >= 300:
                sys.exit(f"{name} answered {status}: {answer}")

    def seq(self):
        return self.request("GET", "/readyz")[1]["store"]["local_seq"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(values):
    return f"p50 {pct(values, 50):.2f} ms, p99 {pct(values, 99):.2f} ms (n={len(values)})"


def write_latency(binary, root, corpus, store, writes, label):
    node = Node(binary, os.path.join(root, f"lat-{label}"), corpus, store)
    node.wait_ready()
    timings = {}
    for n in range(writes):
        node.publish(n, timings)
    node.stop()
    for name in ("create", "submit", "approve"):
        print(f"write latency {label:8} {name:8} {summary(timings[name])}")


def follower_lag(binary, root, corpus, pg, writes):
    a = Node(binary, os.path.join(root, "lag-a"), corpus, pg.url())
    a.wait_ready()
    b = Node(binary, os.path.join(root, "lag-b"), corpus, pg.url())
    b.wait_ready()
    acks = []
    seen = []
    done = threading.Event()

    def observe():
        observer = Node.__new__(Node)
        observer.port, observer.conn = b.port, None
        while not done.is_set():
            seen.append((time.perf_counter(), observer.seq()))
            time.sleep(0.002)

    watcher = threading.Thread(target=observe)
    watcher.start()
    timings = {}
    base = a.seq()
    for n in range(writes):
        a.publish(100000 + n, timings)
        acks.append((time.perf_counter(), base + n + 1))
    time.sleep(1.0)
    done.set()
    watcher.join()
    lags = []
    for acked_at, seq in acks:
        applied = next((t for t, s in seen if s >= seq and t >= acked_at - 1), None)
        if applied is not None:
            lags.append(max(0.0, applied - acked_at) * 1000)
    print(f"follower lag (approve on A -> applied on B, {writes} writes in a stream): {summary(lags)}")
    a.stop()
    b.stop()


def new_node(binary, root, corpus, pg, threads, measure_qps):
    pg.create_db("corpus")
    a = Node(binary, os.path.join(root, "corpus-a"), corpus, pg.url("corpus"))
    ready_a, body = a.wait_ready()
    records = body["stats"]["records"]
    print(f"first node: {records} records ingested into PostgreSQL, ready after {ready_a:.1f} s")
    b = Node(binary, os.path.join(root, "corpus-b"), corpus, pg.url("corpus"))
    ready_b, body = b.wait_ready()
    print(f"new node on an empty data directory: ready after {ready_b:.1f} s "
          f"({body['stats']['records'] / ready_b:.0f} records/s, replica + lexical index)")
    a.stop()
    if measure_qps:
        qps(b, threads, 10, "postgres node, corpus")
    b.stop()


def qps(node, threads, seconds, label):
    # Let the background graph load finish first (answers are `degraded` until it has).
    deadline = time.time() + 120
    while time.time() < deadline and node.request("POST", "/v1/search", {"q": "CT断线"})[1].get("degraded"):
        time.sleep(0.2)
    queries = ["CT断线", "充电桩 通信故障", "保护装置 通道告警", "线路保护 定值", "电能表 计量异常"]
    counts = [0] * threads
    stop = time.time() + seconds

    def client(i):
        me = Node.__new__(Node)
        me.port, me.conn = node.port, None
        while time.time() < stop:
            status, _ = me.request("POST", "/v1/search", {"q": queries[counts[i] % len(queries)]})
            if status == 200:
                counts[i] += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(f"search QPS ({label}): {sum(counts) / seconds:.0f} ({threads} client threads, {seconds} s)")


def main():
    parser = argparse.ArgumentParser()
    default_bin = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "gridkb")
    parser.add_argument("--bin", default=default_bin)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--fixture", default="tests/fixtures")
    parser.add_argument("--corpus", help="also measure a new node on this corpus (e.g. corpus)")
    parser.add_argument("--qps", action="store_true")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="gridkb-bench-")
    if os.geteuid() == 0:
        os.chmod(root, 0o755)
    small = os.path.join(root, "small")
    os.makedirs(small)
    shutil.copy(os.path.join(args.fixture, "mini.jsonl"), os.path.join(small, "items.jsonl"))
    pg = Postgres(root)
    try:
        write_latency(args.bin, root, small, None, args.writes, "redb")
        write_latency(args.bin, root, small, pg.url(), args.writes, "postgres")
        follower_lag(args.bin, root, small, pg, args.writes)
        if args.corpus:
            new_node(args.bin, root, args.corpus, pg, args.threads, args.qps)
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
