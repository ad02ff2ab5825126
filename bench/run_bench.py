#!/usr/bin/env python3
"""gnet-cpp benchmark harness (issue 7): runs every echo server against bench/loadgen in
interleaved rounds (closed loop, and at a fixed offered rate), counts syscalls per message with
strace, measures idle memory per connection, compares HTTP plaintext against Go gnet and nginx
with wrk, compares the RESP example against redis-server with redis-benchmark (issue 12),
compares HTTPS against nginx (CPU per request, full handshakes) and measures memory per idle TLS
connection beside TCP (issue 14), compares the TCP proxy example against HAProxy in TCP mode
(issue 5), runs the micro-benchmarks, and writes docs/benchmarks.md with PNG plots in docs/img/.

    make bench                                   # builds build-bench/, then runs this
    /usr/bin/python3 bench/run_bench.py --build build-bench
    /usr/bin/python3 bench/run_bench.py --build build-bench --duration 1 --rounds 1   # smoke run
    /usr/bin/python3 bench/run_bench.py --build build-bench --only c100,strace --servers bare_epoll,gnet
    /usr/bin/python3 bench/run_bench.py --build build-bench --only http,resp --rounds 1 --duration 1 \
        --out /tmp/proto-bench.md --img-dir /tmp/proto-img     # just the protocol comparisons
    /usr/bin/python3 bench/run_bench.py --build build-bench --only proxy --duration 2 --rounds 1 \
        --out /tmp/proxy-bench.md --img-dir /tmp/proxy-img      # just the proxy comparison
    /usr/bin/python3 bench/run_bench.py --build build-bench --only https,tls_idle --rounds 1 --duration 1 \
        --tls-idle-conns 200 --out /tmp/tls-bench.md --img-dir /tmp/tls-img   # just the TLS parts

Servers are pinned to one CPU (core 0) and the load generators to another (core 1). The headline
figure is the server's CPU time per echoed message (utime+stime from /proc/PID/stat over the
measured window, divided by messages): on two cores the generator saturates its core before an
efficient server does, so msgs/s measures the generator as much as the server.

Every process this script starts is killed by PID when it finishes, fails or is interrupted.
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # no bench/__pycache__ in the source tree
import gnet_go_peer  # noqa: E402  (bench/gnet_go_peer.py: Go gnet's offline build)

REPO = Path(__file__).resolve().parent.parent
BENCH_SRC = REPO / "bench"

SCENARIOS = [
    {"key": "c1", "title": "1 conn, 64 B", "conns": 1, "size": 64, "pipeline": 1},
    {"key": "c100", "title": "100 conns, 64 B", "conns": 100, "size": 64, "pipeline": 1},
    {"key": "c100p16", "title": "100 conns, 64 B, pipeline 16", "conns": 100, "size": 64, "pipeline": 16},
    {"key": "c50x4k", "title": "50 conns, 4 KiB", "conns": 50, "size": 4096, "pipeline": 1},
    {"key": "c1000", "title": "1 000 conns, 64 B", "conns": 1000, "size": 64, "pipeline": 1},
    {"key": "c10k", "title": "10 000 conns, 64 B", "conns": 10000, "size": 64, "pipeline": 1},
    # Fixed offered rate (issue 12): loadgen --rate R paces R msgs/s over the connections; pipeline
    # is then the per-connection window. R is --echo-rate; the title is filled in by set_rate_titles.
    {"key": "c100rate", "title": "100 conns, 64 B, fixed rate", "conns": 100, "size": 64, "pipeline": 16,
     "rate": True},
    {"key": "c1000rate", "title": "1 000 conns, 64 B, fixed rate", "conns": 1000, "size": 64, "pipeline": 16,
     "rate": True},
]
EXTRA_PARTS = ["strace", "perf", "idle", "http", "https", "tls_idle", "resp", "proxy", "udp", "micro"]
# --only groups: "echo" = every closed-loop scenario, "echo_rate" = the fixed-rate ones, "tls" = the
# TLS parts (issue 14).
ONLY_GROUPS = {"echo": [s["key"] for s in SCENARIOS if not s.get("rate")],
               "echo_rate": [s["key"] for s in SCENARIOS if s.get("rate")],
               "tls": ["https", "tls_idle"]}
DEFAULT_ECHO_RATE = 50000  # msgs/s: well under every peer's closed-loop c100 rate, so all sustain it

# Echo servers, in table order; bare_epoll is the reference every ratio is taken against.
ECHO_SERVERS = {
    "bare_epoll": "bare epoll (reference)",
    "gnet": "gnet-cpp, 1 loop",
    "gnet_uring": "gnet-cpp, 1 loop, io_uring backend",
    "libuv": "libuv",
    "libevent": "libevent (bufferevent)",
    "asio": "Boost.Asio",
    "gnet_go": "gnet (Go), 1 loop",
}
REFERENCE = "bare_epoll"
PERF_SERVERS = ["gnet", REFERENCE]  # flat profiles: the library and the reference loop
HTTP_SERVERS = {"gnet": "gnet-cpp examples/http, 1 loop", "gnet_uring": "gnet-cpp examples/http, 1 loop, io_uring",
                "gnet_go_http": "gnet (Go) HTTP, 1 loop",
                "nginx": "nginx, 1 worker"}
HTTP_GNET_GO = "gnet_go_http"
HTTP_VARIANTS = {"plain": "depth 1", "pipeline16": "pipelined, depth 16"}
# HTTPS (issue 14): wrk over TLS 1.3 against examples/http --tls-cert/--tls-key and nginx, the same
# certificate and TLS parameters on both (bench/tls_openssl.cnf, bench/bench_https_nginx.conf).
HTTPS_SERVERS = {"gnet": "gnet-cpp examples/http, 1 loop", "gnet_uring": "gnet-cpp examples/http, 1 loop, io_uring",
                 "nginx": "nginx, 1 worker"}
HTTPS_REFERENCE = "nginx"
HTTPS_VARIANTS = {"plain": "depth 1", "pipeline16": "pipelined, depth 16",
                  "handshake": "Connection: close (a full handshake per request)"}
TARGET_HTTPS_RATIO = 0.9  # issue 14: gnet-cpp's CPU per request <= 0.9x nginx's
TLS_OPENSSL_CNF = BENCH_SRC / "tls_openssl.cnf"  # OPENSSL_CONF of gnet-cpp's TLS servers
# The TLS parameters every server must end up with (checked with openssl s_client before each run).
TLS_EXPECTED = {"protocol": "TLSv1.3", "cipher": "TLS_AES_128_GCM_SHA256", "key_exchange": "X25519",
                "signature": "ECDSA", "tickets": 0}
# The server certificate's extensions (openssl x509 -req -extfile).
TLS_SERVER_EXT = ("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                  "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n")
# Idle TLS memory (issue 14): (server, transport) rows; gnet/gnet_uring = examples/echo.
TLS_IDLE_ROWS = [("gnet", "tcp"), ("gnet", "tls"), ("gnet_uring", "tcp"), ("gnet_uring", "tls"),
                 ("nginx", "tcp"), ("nginx", "tls")]
TLS_IDLE_LABELS = {"gnet": "gnet-cpp examples/echo, 1 loop", "gnet_uring": "gnet-cpp examples/echo, 1 loop, io_uring",
                   "nginx": "nginx, 1 worker"}
DEFAULT_TLS_IDLE_CONNS = 2000
# RESP (issue 12): redis-benchmark against gnet-cpp's examples/redis and redis-server.
RESP_SERVERS = {"gnet": "gnet-cpp examples/redis, 1 loop", "gnet_uring": "gnet-cpp examples/redis, 1 loop, io_uring",
                "redis_server": "redis-server, io-threads 1"}
RESP_REFERENCE = "redis_server"
RESP_VARIANTS = {"P16": 16, "P1": 1}  # redis-benchmark -P: pipelined 16 deep, and not pipelined
RESP_TESTS = ("set", "get")
RESP_CLIENTS = 50
RESP_CALIBRATION_S = 1.0  # a calibration run shorter than this is repeated with a larger -n
# Every name --servers knows; "gnet" selects gnet-cpp's example in every part.
KNOWN_SERVERS = list(ECHO_SERVERS) + ["gnet_go_http", "nginx", "redis_server", "haproxy",
                                      "bare_udp", "bare_udp_mmsg", "gnet_nooffload", "gnet_go_udp"]  # gnet_uring: in ECHO_SERVERS
# TCP proxies (issue 5): loadgen -> proxy -> bare epoll echo backend. "gnet" in --servers selects
# gnet-cpp's examples/proxy here, "haproxy" selects HAProxy.
PROXIES = {"gnet": "gnet-cpp examples/proxy, 1 loop", "haproxy": "HAProxy, TCP mode, nbthread 1"}
PROXY_SCENARIOS = ["c100", "c50x4k"]
PROXY_RATIO_TO = "haproxy"  # the proxy table's ratio column: gnet-cpp's CPU/msg ÷ HAProxy's

# UDP echo (issue 15): loadgen --udp (connected sockets, one datagram per message) against one
# unconnected socket per server. 16 sockets x 8 in flight stays under the kernel's default
# receive buffer (rmem_default) on every server, so losses stay rare and the comparison fair.
UDP_SCENARIOS = [
    {"key": "udp64", "title": "16 sockets, 64 B datagrams, 8 in flight each", "conns": 16, "size": 64, "pipeline": 8},
    {"key": "udp64rate", "title": "16 sockets, 64 B datagrams, fixed rate", "conns": 16, "size": 64, "pipeline": 8,
     "rate": True},
]
UDP_SERVERS = {
    "bare_udp": "bare recvfrom/sendto loop (reference)",
    "bare_udp_mmsg": "bare recvmmsg/sendmmsg loop",
    "gnet": "gnet-cpp examples/udp_echo, 1 loop",
    "gnet_nooffload": "gnet-cpp examples/udp_echo, 1 loop, --no-offload (no GSO/GRO)",
    "gnet_uring": "gnet-cpp examples/udp_echo, 1 loop, io_uring backend",
    "gnet_go_udp": "gnet (Go) UDP echo, 1 loop",
}
UDP_REFERENCE = "bare_udp"
DEFAULT_UDP_RATE = 40000  # datagrams/s: meant to be below every server's closed-loop udp64 rate

TARGET_SYSCALLS_PER_MSG = 2.05
TARGET_IDLE_BYTES = 512


class BenchError(Exception):
    pass


class Terminated(Exception):
    pass


def log(msg: str) -> None:
    print(msg, flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=2, unit=""):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000 and digits <= 2:
        return f"{v:,.0f}{unit}"
    return f"{v:.{digits}f}{unit}"


def rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend_env(name: str) -> dict:
    """gnet-cpp picks its I/O backend from GNET_BACKEND: "gnet" is epoll, "gnet_uring" io_uring."""
    env = dict(os.environ)
    env["GNET_BACKEND"] = "io_uring" if name.endswith("_uring") else "epoll"
    return env


def backend_prefix(name: str) -> str:
    """How the report shows a gnet-cpp server's backend choice (see backend_env)."""
    if name in ("gnet", "gnet_uring", "gnet_nooffload"):
        return f"GNET_BACKEND={backend_env(name)['GNET_BACKEND']} "
    return ""


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def proc_stat(pid: int):
    """(utime+stime ticks, starttime) of one process, or None."""
    try:
        s = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return int(f[11]) + int(f[12]), int(f[19])


def children_of(pid: int) -> list[tuple[int, int]]:
    """All descendants of pid as (pid, starttime), found by scanning /proc."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            s = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        parent[int(d)] = (int(f[1]), int(f[19]))
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        for c, (pp, start) in parent.items():
            if pp == p:
                out.append((c, start))
                frontier.append(c)
    return out


def tree_cpu_us(pid: int) -> float:
    """utime+stime of pid and its live descendants (nginx master + worker), in µs."""
    ticks = 0
    for p in [pid] + [c for c, _ in children_of(pid)]:
        st = proc_stat(p)
        if st:
            ticks += st[0]
    return ticks * 1e6 / os.sysconf("SC_CLK_TCK")


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def tree_rss_kib(pid: int) -> int:
    """VmRSS of pid and its live descendants (nginx master + worker), KiB."""
    total = vm_rss_kib(pid)
    for c, _ in children_of(pid):
        try:
            total += vm_rss_kib(c)
        except (OSError, BenchError):
            pass
    return total


def tree_fd_count(pid: int) -> int:
    total = fd_count(pid)
    for c, _ in children_of(pid):
        try:
            total += fd_count(c)
        except OSError:
            pass
    return total


def read_line(stream, timeout: float) -> str | None:
    """One line from a child's pipe (binary mode), or None on timeout/EOF."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return None
        ch = os.read(fd, 1)
        if not ch:
            return buf.decode() if buf else None
        if ch == b"\n":
            return buf.decode()
        buf += ch


def last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def cmd_output(cmd, timeout=10) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class Harness:
    def __init__(self, args):
        self.args = args
        self.build = Path(args.build).resolve()
        self.workdir = self.build / "bench-run"
        self.procs: list[tuple[subprocess.Popen, list[tuple[int, int]]]] = []
        self.notes: list[str] = []
        self.skipped: dict[str, str] = {}
        self.results: dict = {"echo": {}, "strace": {}, "perf": {}, "idle": {}, "http": {}, "https": {},
                              "tls_idle": {}, "resp": {}, "proxy": {}, "udp": {}, "micro": None}
        self.tls_material: dict | None = None  # made on first use (ensure_tls_material); {} = unavailable
        self.argv = sys.argv[1:]
        self.commands: dict[str, str] = {}
        self.counter = 0
        self.pin_server, self.pin_load = self.pick_cpus()
        self.loadgen = self.build / "bench" / "loadgen"
        self.help_cache: dict[str, str] = {}
        self.go_peer: gnet_go_peer.GoPeer | None = None  # built on first use (ensure_go_peer)
        self.go_info: dict = {}  # what the report says about it: label, versions, build command

    # ---------------------------------------------------------------- processes

    def pick_cpus(self):
        if not shutil.which("taskset"):
            self.notes.append("taskset not found: processes were not pinned.")
            return None, None
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            self.notes.append(f"only CPU {cpus} available: server and load generator share it (not pinned).")
            return None, None
        return cpus[0], cpus[1]

    def pinned(self, cmd, cpu):
        return (["taskset", "-c", str(cpu)] if cpu is not None else []) + [str(c) for c in cmd]

    def spawn(self, cmd, cpu=None, **kw) -> subprocess.Popen:
        p = subprocess.Popen(self.pinned(cmd, cpu), preexec_fn=raise_nofile, **kw)
        self.procs.append((p, []))
        return p

    def stop(self, p: subprocess.Popen, sig=signal.SIGTERM, wait=5.0) -> None:
        """Stops p and every descendant it started (nginx workers), by PID."""
        entry = next((e for e in self.procs if e[0] is p), None)
        kids = children_of(p.pid) if p.poll() is None else []
        if entry is not None:
            entry[1].extend(kids)
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for kid, start in (entry[1] if entry else kids):
            st = proc_stat(kid)
            if st and st[1] == start:  # same process, not a recycled PID
                try:
                    os.kill(kid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for stream in (p.stdin, p.stdout, p.stderr):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass
        if entry is not None:
            self.procs.remove(entry)

    def stop_all(self) -> None:
        for p, _ in list(self.procs):
            try:
                self.stop(p, signal.SIGKILL if p.poll() is None else signal.SIGTERM, wait=3.0)
            except Exception as e:  # keep going: every process must go
                print(f"warning: could not stop {p.pid}: {e}", file=sys.stderr)

    def new_log(self, name: str) -> Path:
        self.counter += 1
        return self.workdir / "logs" / f"{self.counter:04d}-{name}.log"

    def wait_port(self, port: int, p: subprocess.Popen, logfile: Path, timeout=15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                tail = logfile.read_text(errors="replace")[-800:] if logfile.exists() else ""
                raise BenchError(f"server exited with {p.returncode} before listening: {tail.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise BenchError(f"nothing accepted on port {port} within {timeout:.0f} s")

    # ---------------------------------------------------------------- servers

    def help_text(self, binary: Path) -> str:
        key = str(binary)
        if key not in self.help_cache:
            self.help_cache[key] = cmd_output([str(binary), "--help"], timeout=5)
        return self.help_cache[key]

    def gnet_flags(self, binary: Path, port: int, default_host: bool) -> list[str]:
        """gnet examples follow issue 2's conventions: --host, --port, --loops."""
        h = self.help_text(binary)
        flags = []
        if "--host" in h or (not h and default_host):
            flags += ["--host", "127.0.0.1"]
        flags += ["--port", str(port)]
        if "--loops" in h or (not h and default_host):
            flags += ["--loops", "1"]
        return flags

    def ensure_go_peer(self) -> gnet_go_peer.GoPeer:
        """Go gnet's echo and HTTP servers, built once per run (or reused, see gnet_go_peer.py)."""
        if self.go_peer is None:
            work = self.build / "gnet-peer"
            log(f"gnet (Go): preparing the peer in {rel(work)} (MIRROR {gnet_go_peer.mirror_dir()})")
            self.go_peer = gnet_go_peer.prepare(work, self.workdir / "logs" / "gnet-go-build.log",
                                                rebuild=self.args.rebuild_gnet_go)
            g = self.go_peer
            self.commands["gnet (Go) build"] = g.command + ("   # reused: built earlier from the same script "
                                                            "and snapshots" if g.reused else "")
            self.go_info = {"label": g.label(), "versions": g.versions, "skipped": g.skipped, "reused": g.reused}
            if g.skipped:
                self.notes.append(f"gnet (Go) not measured: {g.skipped}.")
                log(f"skip gnet (Go): {g.skipped}")
            else:
                log(f"gnet (Go): {g.label()}{' (reused)' if g.reused else ' built'}")
            self.save_raw()
        return self.go_peer

    def echo_binary(self, name: str) -> Path:
        if name in ("gnet", "gnet_uring"):
            return self.build / "examples" / "echo"
        if name == "gnet_go":
            return self.build / "gnet-peer" / "bin" / "gnet_echo"
        return self.build / "bench" / f"peer_{name}"

    def echo_cmd(self, name: str, port: int) -> list[str]:
        b = self.echo_binary(name)
        if name in ("gnet", "gnet_uring"):
            return [str(b)] + self.gnet_flags(b, port, default_host=True)
        if name == "gnet_go":  # Go's flag package: single dash
            return [str(b), "-host", "127.0.0.1", "-port", str(port), "-loops", "1"]
        return [str(b), "--port", str(port)]

    def start_echo(self, name: str):
        port = free_port()
        logfile = self.new_log(name)
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "wb") as lf:
            p = self.spawn(self.echo_cmd(name, port), cpu=self.pin_server, stdin=subprocess.DEVNULL,
                           stdout=lf, stderr=subprocess.STDOUT, env=backend_env(name))
        try:
            self.wait_port(port, p, logfile)
        except BaseException:
            self.stop(p)
            raise
        return p, port

    def available_echo(self, wanted: list[str]) -> list[str]:
        out = []
        for name in wanted:
            if name == "gnet_go" and self.ensure_go_peer().skipped:
                self.skipped[name] = self.go_peer.skipped
                continue
            b = self.echo_binary(name)
            if b.is_file() and os.access(b, os.X_OK):
                out.append(name)
            else:
                why = ("gnet-cpp's echo example is not built" if name == "gnet"
                       else f"the peer was not built (its library was missing at configure time?)")
                self.skipped[name] = f"{why}: {rel(b)} does not exist"
                log(f"skip {name}: {self.skipped[name]}")
        return out

    # ---------------------------------------------------------------- echo scenarios

    def loadgen_cmd(self, port, sc, pid, duration, warmup) -> list[str]:
        cmd = [str(self.loadgen), "--host", "127.0.0.1", "--port", str(port), "--conns", str(sc["conns"]),
               "--size", str(sc["size"]), "--pipeline", str(sc["pipeline"]), "--duration", str(duration),
               "--warmup", str(warmup), "--server-pid", str(pid)]
        if sc.get("rate"):
            cmd += ["--rate", f"{self.args.echo_rate:g}"]
        return cmd

    def echo_run(self, name: str, sc: dict) -> dict:
        a = self.args
        p, port = self.start_echo(name)
        try:
            cmd = self.loadgen_cmd(port, sc, p.pid, a.duration, a.warmup)
            g = self.spawn(cmd, cpu=self.pin_load, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
            try:
                out, err = g.communicate(timeout=a.duration + a.warmup + 120)
            except subprocess.TimeoutExpired:
                raise BenchError("loadgen timed out")
            finally:
                self.stop(g)
            res = last_json(out.decode(errors="replace"))
            if res is None or "error" in res or g.returncode != 0:
                raise BenchError(f"loadgen failed (rc {g.returncode}): {err.decode(errors='replace').strip()[-400:]}"
                                 f" {out.decode(errors='replace').strip()[-200:]}")
            if p.poll() is not None:
                res["errors"] = res.get("errors", 0) + 1
                res["server_died"] = p.returncode
            return res
        finally:
            self.stop(p)

    def run_echo(self, servers: list[str], scenarios: list[dict]) -> None:
        a = self.args
        for r in range(a.rounds):
            for sc in scenarios:
                k = r % len(servers)
                order = servers[k:] + servers[:k]  # rotate: nobody always runs first
                for name in order:
                    tag = f"[round {r + 1}/{a.rounds}] {sc['key']:8} {name:10}"
                    runs = self.results["echo"].setdefault(sc["key"], {}).setdefault(name, [])
                    try:
                        res = self.echo_run(name, sc)
                        runs.append(res)
                        log(f"{tag} {res['msgs_per_s']:>12,.0f} msg/s  cpu {res.get('server_cpu_us_per_msg') or 0:7.3f} "
                            f"us/msg  p99 {res['p99_us']:9.1f} us  errors {res['errors']}"
                            + (f"  backlog end {res['backlog_end']}" if "backlog_end" in res else ""))
                    except BenchError as e:
                        runs.append({"failed": str(e)})
                        log(f"{tag} FAILED: {e}")
                    self.save_raw()

    # ---------------------------------------------------------------- strace

    def strace_run(self, name: str) -> dict:
        a = self.args
        sc = {"conns": 100, "size": 64, "pipeline": 1}
        p, port = self.start_echo(name)
        try:
            cmd = self.loadgen_cmd(port, sc, p.pid, a.strace_duration, 0) + ["--wait-start"]
            g = self.spawn(cmd, cpu=self.pin_load, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
            try:
                line = read_line(g.stdout, 60)
                if not line or '"connected"' not in line:
                    raise BenchError(f"loadgen did not connect: {line!r}")
                out_file = self.new_log(f"strace-{name}")
                st = self.spawn(["strace", "-c", "-f", "-o", out_file, "-p", str(p.pid)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                try:
                    attached = read_line(st.stderr, 10)
                    if attached is None or "attached" not in attached:
                        raise BenchError(f"strace did not attach: {attached!r}")
                    time.sleep(0.3)  # the remaining threads, if any
                    g.stdin.write(b"go\n")
                    g.stdin.flush()
                    res_line = read_line(g.stdout, a.strace_duration + 60)
                    res = json.loads(res_line) if res_line else None
                finally:
                    st.send_signal(signal.SIGINT)  # detach: strace writes the summary
                    try:
                        st.wait(15)
                    except subprocess.TimeoutExpired:
                        pass
                    self.stop(st)
                if not res:
                    raise BenchError("loadgen gave no result under strace")
                calls = parse_strace(out_file.read_text(errors="replace"))
            finally:
                self.stop(g)
        finally:
            self.stop(p)
        msgs = res["messages"]
        if msgs <= 0:
            raise BenchError("no message echoed under strace")
        calls.pop("restart_syscall", None)  # the epoll_wait interrupted by the attach
        total = sum(c for c, _ in calls.values())
        failed = sum(e for _, e in calls.values())
        groups = {"read": ("read", "recvfrom", "recvmsg", "readv", "recvmmsg"),
                  "write": ("write", "sendto", "sendmsg", "writev", "sendmmsg"),
                  "epoll_wait": ("epoll_wait", "epoll_pwait", "epoll_pwait2"),
                  "epoll_ctl": ("epoll_ctl",)}
        per = {g_: sum(calls.get(s, (0, 0))[0] for s in names) / msgs for g_, names in groups.items()}
        grouped = {s for names in groups.values() for s in names}
        others = {s: c / msgs for s, (c, _) in calls.items() if s not in grouped}
        per["other"] = sum(others.values())
        return {"messages": msgs, "errors": res["errors"], "syscalls": total, "per_msg": total / msgs,
                "failed_per_msg": failed / msgs, "groups": per,
                "others": dict(sorted(others.items(), key=lambda kv: -kv[1])), "calls": calls}

    def run_strace(self, servers: list[str]) -> None:
        if not shutil.which("strace"):
            self.skipped["strace"] = "strace is not installed"
            return
        for name in servers:
            try:
                r = self.strace_run(name)
                self.results["strace"][name] = r
                log(f"[strace] {name:10} {r['per_msg']:.3f} syscalls/msg over {r['messages']} messages "
                    f"(read {r['groups']['read']:.3f}, write {r['groups']['write']:.3f}, "
                    f"epoll_wait {r['groups']['epoll_wait']:.3f}, epoll_ctl {r['groups']['epoll_ctl']:.3f}, "
                    f"other {r['groups']['other']:.3f})")
            except BenchError as e:
                self.results["strace"][name] = {"failed": str(e)}
                log(f"[strace] {name:10} FAILED: {e}")
            self.save_raw()

    # ---------------------------------------------------------------- perf profile

    def perf_run(self, name: str) -> dict:
        a = self.args
        sc = {"conns": 100, "size": 64, "pipeline": 1}
        p, port = self.start_echo(name)
        try:
            g = self.spawn(self.loadgen_cmd(port, sc, p.pid, a.perf_duration + 1.5, 1.0), cpu=self.pin_load,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                time.sleep(1.5)  # connected and warm
                data = self.new_log(f"perf-{name}").with_suffix(".data")
                rec = self.spawn(["perf", "record", "-F", "2000", "-p", str(p.pid), "-o", data, "--", "sleep",
                                  f"{a.perf_duration:g}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
                try:
                    _, err = rec.communicate(timeout=a.perf_duration + 30)
                finally:
                    self.stop(rec)
                if rec.returncode != 0:
                    raise BenchError(f"perf record failed: {err.decode(errors='replace').strip()[-300:]}")
                out, lerr = g.communicate(timeout=a.perf_duration + 60)
                res = last_json(out.decode(errors="replace")) or {}
            finally:
                self.stop(g)
        finally:
            self.stop(p)
        rep_ = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", "dso,sym", "--stdio"],
                              capture_output=True, text=True, timeout=120)
        data.with_suffix(".txt").write_text(rep_.stdout)
        rows = []
        for line in rep_.stdout.splitlines():
            m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+\[([k.])\]\s+(.+?)\s*$", line)
            if m:
                rows.append({"pct": float(m.group(1)), "dso": m.group(2), "kernel": m.group(3) == "k",
                             "sym": m.group(4)})
        if not rows:
            raise BenchError("perf report gave no samples")
        kernel = sum(r["pct"] for r in rows if r["kernel"])
        return {"kernel_pct": kernel, "user_pct": sum(r["pct"] for r in rows) - kernel, "top": rows[:15],
                "user_top": [r for r in rows if not r["kernel"]][:10], "errors": res.get("errors"),
                "report": rel(data.with_suffix(".txt"))}

    def run_perf(self, servers: list[str]) -> None:
        if not shutil.which("perf"):
            self.skipped["perf"] = "perf is not installed (Debian: linux-perf)"
            return
        for name in [s for s in PERF_SERVERS if s in servers]:
            try:
                r = self.perf_run(name)
                self.results["perf"][name] = r
                log(f"[perf]   {name:10} kernel {r['kernel_pct']:.1f} %, user {r['user_pct']:.1f} %; top: "
                    + ", ".join(f"{x['sym'][:40]} {x['pct']:.1f}%" for x in r["top"][:3]))
            except (BenchError, subprocess.SubprocessError) as e:
                self.results["perf"][name] = {"failed": str(e)}
                log(f"[perf]   {name:10} FAILED: {e}")
            self.save_raw()

    # ---------------------------------------------------------------- idle memory

    def idle_run(self, name: str) -> dict:
        n = self.args.idle_conns
        p, port = self.start_echo(name)
        try:
            time.sleep(0.3)
            base_kib, base_fds = vm_rss_kib(p.pid), fd_count(p.pid)
            cmd = [str(self.loadgen), "--host", "127.0.0.1", "--port", str(port), "--conns", str(n), "--idle"]
            g = self.spawn(cmd, cpu=self.pin_load, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
            try:
                line = read_line(g.stdout, 120)
                got = json.loads(line)["connected"] if line and '"connected"' in line else 0
                if got <= 0:
                    raise BenchError(f"loadgen --idle connected nothing: {line!r}")
                deadline = time.monotonic() + 30
                while fd_count(p.pid) < base_fds + got and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(0.5)
                accepted = fd_count(p.pid) - base_fds
                held_kib = vm_rss_kib(p.pid)
            finally:
                self.stop(g)
        finally:
            self.stop(p)
        return {"connected": got, "accepted": accepted, "base_kib": base_kib, "held_kib": held_kib,
                "bytes_per_conn": (held_kib - base_kib) * 1024 / max(accepted, 1)}

    def run_idle(self, servers: list[str]) -> None:
        for name in servers:
            try:
                r = self.idle_run(name)
                self.results["idle"][name] = r
                log(f"[idle]   {name:10} {r['bytes_per_conn']:8.0f} B/conn  (RSS {r['base_kib']} KiB -> "
                    f"{r['held_kib']} KiB, {r['accepted']} connections accepted)")
            except BenchError as e:
                self.results["idle"][name] = {"failed": str(e)}
                log(f"[idle]   {name:10} FAILED: {e}")
            self.save_raw()

    # ---------------------------------------------------------------- HTTP

    def http_cmd(self, name: str, port: int, prefix: Path | None) -> list[str]:
        if name in ("gnet", "gnet_uring"):
            b = self.build / "examples" / "http"
            return [str(b)] + self.gnet_flags(b, port, default_host=False)
        if name == HTTP_GNET_GO:
            return [str(self.build / "gnet-peer" / "bin" / "gnet_http"), "-host", "127.0.0.1", "-port", str(port),
                    "-loops", "1"]
        conf = (BENCH_SRC / "bench_http_nginx.conf").read_text()
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "nginx.conf").write_text(conf.replace("@PORT@", str(port)).replace("@PREFIX@", str(prefix)))
        return [shutil.which("nginx") or "nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                "-e", str(prefix / "error.log"), "-g", "daemon off;"]

    def wrk_cmd(self, port: int, pipelined: bool) -> list[str]:
        d = self.args.http_duration
        cmd = ["wrk", "-t1", f"-c{self.args.http_conns}", f"-d{d:g}s", "--latency"]
        if pipelined:
            cmd += ["-s", str(BENCH_SRC / "wrk_pipeline.lua")]
        cmd.append(f"http://127.0.0.1:{port}/")
        if pipelined:
            cmd += ["--", "16"]
        return cmd

    def http_run(self, name: str, pipelined: bool) -> dict:
        port = free_port()
        prefix = self.workdir / f"nginx-{self.counter + 1:04d}" if name == "nginx" else None
        logfile = self.new_log(f"http-{name}")
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "wb") as lf:
            p = self.spawn(self.http_cmd(name, port, prefix), cpu=self.pin_server, stdin=subprocess.DEVNULL,
                           stdout=lf, stderr=subprocess.STDOUT, env=backend_env(name))
        try:
            self.wait_port(port, p, logfile)
            check = http_check(port)
            c0 = tree_cpu_us(p.pid)
            w = self.spawn(self.wrk_cmd(port, pipelined), cpu=self.pin_load, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                out, _ = w.communicate(timeout=self.args.http_duration + 60)
            except subprocess.TimeoutExpired:
                raise BenchError("wrk timed out")
            finally:
                self.stop(w)
            c1 = tree_cpu_us(p.pid)
            text = out.decode(errors="replace")
            logfile.with_name(logfile.stem + "-wrk.log").write_text(
                "# " + " ".join(self.wrk_cmd(port, pipelined)) + "\n" + text)
            res = parse_wrk(text)
            if res is None:
                raise BenchError(f"could not parse wrk output: {out.decode(errors='replace')[-400:]}")
            res["check"] = check
            res["server_cpu_us_per_req"] = (c1 - c0) / res["requests"] if res["requests"] else None
            return res
        finally:
            self.stop(p)

    def run_http(self, wanted: list[str]) -> None:
        if not shutil.which("wrk"):
            self.skipped["http"] = "wrk is not installed"
            return
        servers = []
        for name in wanted:
            if name in ("gnet", "gnet_uring") and not (self.build / "examples" / "http").is_file():
                self.skipped["gnet_http"] = f"gnet-cpp's HTTP example is not built: {rel(self.build / 'examples' / 'http')} does not exist"
                log(f"skip gnet http: {self.skipped['gnet_http']}")
                continue
            if name == "nginx" and not shutil.which("nginx"):
                self.skipped["nginx"] = "nginx is not installed"
                continue
            if name == HTTP_GNET_GO and self.ensure_go_peer().skipped:
                self.skipped[HTTP_GNET_GO] = f"gnet (Go) HTTP: {self.go_peer.skipped}"
                continue
            servers.append(name)
        if not servers:
            return
        self.record_http_commands(servers)
        for r in range(self.args.rounds):
            for pipelined in (False, True):
                variant = "pipeline16" if pipelined else "plain"
                k = r % len(servers)
                for name in servers[k:] + servers[:k]:
                    runs = self.results["http"].setdefault(variant, {}).setdefault(name, [])
                    tag = f"[round {r + 1}/{self.args.rounds}] http {variant:10} {name:12}"
                    try:
                        res = self.http_run(name, pipelined)
                        runs.append(res)
                        log(f"{tag} {res['rps']:>12,.0f} req/s  cpu {res['server_cpu_us_per_req'] or 0:7.3f} us/req  "
                            f"p99 {fmt(res['lat'].get('99'), 1)} us  errors {res['errors']}  check {res['check']}")
                    except BenchError as e:
                        runs.append({"failed": str(e)})
                        log(f"{tag} FAILED: {e}")
                    self.save_raw()

    # ---------------------------------------------------------------- TLS (issue 14)

    def ensure_tls_material(self) -> dict | None:
        """A throwaway CA and an ECDSA P-256 server certificate (localhost, 127.0.0.1) made with the
        openssl CLI in <workdir>/tls, once per run. None, with the reason in skipped["tls"], when
        the openssl command is missing or fails."""
        if self.tls_material is not None:
            return self.tls_material or None
        self.tls_material = {}
        if not shutil.which("openssl"):
            self.skipped["tls"] = "the openssl command is not installed (Debian: openssl), so there is no certificate"
            log(f"skip TLS parts: {self.skipped['tls']}")
            return None
        d = self.workdir / "tls"
        d.mkdir(parents=True, exist_ok=True)
        (d / "server-ext.cnf").write_text(TLS_SERVER_EXT)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        cmds = [["openssl", "req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
                                                    "-subj", "/CN=gnet-cpp bench CA"],
                ["openssl", "req", "-new"] + ec + ["-keyout", "server.key", "-out", "server.csr",
                                                   "-subj", "/CN=localhost"],
                ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-set_serial", "2", "-days", "30", "-extfile", "server-ext.cnf", "-out", "server.crt"]]
        env = {k: v for k, v in os.environ.items() if k != "OPENSSL_CONF"}  # the system's config for the CLI
        for c in cmds:
            try:
                r = subprocess.run(c, cwd=d, capture_output=True, text=True, timeout=60, env=env)
            except (OSError, subprocess.SubprocessError) as e:
                r = None
                err = str(e)
            if r is None or r.returncode != 0:
                err = err if r is None else (r.stdout + r.stderr).strip()[-300:]
                self.skipped["tls"] = f"making the certificate failed ({shlex.join(c)}): {err}"
                log(f"skip TLS parts: {self.skipped['tls']}")
                return None
        self.commands["tls material"] = (
            f"cd {rel(d)} && printf '{TLS_SERVER_EXT.replace(chr(10), chr(92) + 'n')}' > server-ext.cnf && "
            + " && ".join(shlex.join(c) for c in cmds))
        self.tls_material = {"dir": d, "ca": d / "ca.crt", "cert": d / "server.crt", "key": d / "server.key"}
        return self.tls_material

    def tls_binary_ok(self, example: str) -> str | None:
        """None when examples/<example> is built and takes --tls-cert; else why not."""
        b = self.build / "examples" / example
        if not (b.is_file() and os.access(b, os.X_OK)):
            return f"gnet-cpp's {example} example is not built: {rel(b)} does not exist"
        if "--tls-cert" not in self.help_text(b):
            return f"{rel(b)} has no --tls-cert option (built from a tree without TLS in the examples?)"
        return None

    def gnet_tls_env(self, name: str) -> dict:
        env = backend_env(name)
        env["OPENSSL_CONF"] = str(TLS_OPENSSL_CNF)
        return env

    def write_nginx_conf(self, template: str, port, prefix: Path, access_log: Path | None = None,
                         tickets: bool = False) -> Path:
        """prefix/nginx.conf from a bench/ template; access_log: log $ssl_session_reused and the
        negotiated parameters there (the handshake check); tickets: session tickets on (its control)."""
        conf = (BENCH_SRC / template).read_text().replace("@PORT@", str(port)).replace("@PREFIX@", str(prefix))
        if self.tls_material:
            conf = conf.replace("@CERT@", str(self.tls_material["cert"])).replace("@KEY@", str(self.tls_material["key"]))

        def swap(text, old, new):
            if old not in text:
                raise BenchError(f"bench/{template} has no line {old.strip()!r} to change")
            return text.replace(old, new)
        if access_log is not None:
            conf = swap(conf, "    access_log off;\n",
                        "    log_format tlscheck '$ssl_session_reused $ssl_protocol $ssl_cipher $ssl_curve';\n"
                        f"    access_log {access_log} tlscheck;\n")
        if tickets:
            conf = swap(conf, "ssl_session_tickets off;", "ssl_session_tickets on;")
            conf = swap(conf, "        ssl_conf_command NumTickets 0;\n", "")
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "nginx.conf").write_text(conf)
        return prefix / "nginx.conf"

    @staticmethod
    def nginx_cmd(prefix) -> list[str]:
        return [shutil.which("nginx") or "nginx", "-p", str(prefix), "-c", f"{prefix}/nginx.conf",
                "-e", f"{prefix}/error.log", "-g", "daemon off;"]

    def start_server(self, cmd, name: str, port: int, env: dict, tag: str):
        """A server on the server CPU, its output in a log; waits until it accepts (a bare TCP
        connect: a TLS server sees one aborted handshake before the run)."""
        logfile = self.new_log(tag)
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "wb") as lf:
            p = self.spawn(cmd, cpu=self.pin_server, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                           env=env)
        try:
            self.wait_port(port, p, logfile)
        except BaseException:
            self.stop(p)
            raise
        return p, logfile

    def https_cmd(self, name: str, port, prefix: Path | None, **nginx_kw) -> list[str]:
        m = self.tls_material
        if name in ("gnet", "gnet_uring"):
            b = self.build / "examples" / "http"
            return ([str(b)] + self.gnet_flags(b, port, default_host=False)
                    + ["--tls-cert", str(m["cert"]), "--tls-key", str(m["key"])])
        self.write_nginx_conf("bench_https_nginx.conf", port, prefix, **nginx_kw)
        return self.nginx_cmd(prefix)

    def start_https(self, name: str, tag: str, prefix: Path | None = None, **nginx_kw):
        port = free_port()
        if name == "nginx" and prefix is None:
            prefix = self.workdir / f"nginx-{self.counter + 1:04d}"
        env = self.gnet_tls_env(name) if name != "nginx" else dict(os.environ)
        p, logfile = self.start_server(self.https_cmd(name, port, prefix, **nginx_kw), name, port, env,
                                       f"https-{name}-{tag}")
        return p, port, logfile

    def wrk_https_cmd(self, port, variant: str, duration: float | None = None) -> list[str]:
        d = self.args.http_duration if duration is None else duration
        cmd = ["wrk", "-t1", f"-c{self.args.http_conns}", f"-d{d:g}s", "--latency"]
        if variant == "pipeline16":
            cmd += ["-s", str(BENCH_SRC / "wrk_pipeline.lua")]
        if variant == "handshake":
            cmd += ["-H", "Connection: close"]  # wrk reconnects after every response
        cmd.append(f"https://127.0.0.1:{port}/")
        if variant == "pipeline16":
            cmd += ["--", "16"]
        return cmd

    def run_wrk(self, cmd: list[str], logfile: Path) -> dict:
        w = self.spawn(cmd, cpu=self.pin_load, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
        try:
            out, _ = w.communicate(timeout=self.args.http_duration + 60)
        except subprocess.TimeoutExpired:
            raise BenchError("wrk timed out")
        finally:
            self.stop(w)
        text = out.decode(errors="replace")
        logfile.with_name(logfile.stem + "-wrk.log").write_text("# " + shlex.join(cmd) + "\n" + text)
        res = parse_wrk(text)
        if res is None:
            raise BenchError(f"could not parse wrk output: {text[-400:]}")
        return res

    def https_run(self, name: str, variant: str) -> dict:
        p, port, logfile = self.start_https(name, variant)
        try:
            probe = tls_probe(port, self.tls_material["ca"])
            c0 = tree_cpu_us(p.pid)
            res = self.run_wrk(self.wrk_https_cmd(port, variant), logfile)
            c1 = tree_cpu_us(p.pid)
            if p.poll() is not None:
                raise BenchError(f"the server exited with {p.returncode} during the run")
            res["check"] = probe.pop("check")
            res["tls"] = probe
            res["server_cpu_us_per_req"] = (c1 - c0) / res["requests"] if res["requests"] else None
            return res
        finally:
            self.stop(p)

    def handshake_check(self) -> dict:
        """Is every request of the handshake variant a full handshake? nginx logs $ssl_session_reused
        ("r": resumed) for a short wrk -H 'Connection: close' run, in the measured configuration and,
        as the control that shows the check can see a resumption, with session tickets on (wrk 4.1
        keeps one SSL object per connection slot and SSL_clear() keeps its session: it resumes
        whenever the server hands out tickets)."""
        out = {}
        duration = min(1.0, self.args.http_duration)
        for label, tickets in (("measured", False), ("tickets_on", True)):
            prefix = self.workdir / f"nginx-handshake-check-{label}"
            access = prefix / "access.log"
            try:
                p, port, logfile = self.start_https("nginx", f"check-{label}", prefix=prefix, access_log=access,
                                                    tickets=tickets)
                try:
                    res = self.run_wrk(self.wrk_https_cmd(port, "handshake", duration), logfile)
                finally:
                    self.stop(p)
                lines = [x.split() for x in access.read_text().splitlines() if x.strip()]
                params: dict[str, int] = {}
                for f in lines:
                    key = " ".join(f[1:])
                    params[key] = params.get(key, 0) + 1
                out[label] = {"requests": len(lines), "wrk_requests": res["requests"],
                              "resumed": sum(1 for f in lines if f and f[0] == "r"), "params": params}
            except (BenchError, OSError) as e:
                out[label] = {"failed": str(e)}
        return out

    def record_https_commands(self, servers: list[str]) -> None:
        d = rel(self.tls_material["dir"])
        for name in servers:
            if name == "nginx":
                self.commands["https nginx"] = shlex.join(self.pinned(["nginx", "-p", "DIR", "-c", "DIR/nginx.conf", "-e",
                                                                      "DIR/error.log", "-g", "daemon off;"],
                                                                     self.pin_server)) + \
                    f"   # DIR/nginx.conf = bench/bench_https_nginx.conf with @PORT@, @PREFIX@ and @CERT@/@KEY@ = {d}/server.crt, {d}/server.key"
                continue
            hb = self.build / "examples" / "http"
            c = [rel(hb)] + self.gnet_flags(hb, 0, False) + ["--tls-cert", f"{d}/server.crt", "--tls-key",
                                                               f"{d}/server.key"]
            self.commands[f"https {name}"] = (f"OPENSSL_CONF={rel(TLS_OPENSSL_CNF)} " + backend_prefix(name)
                                              + shlex.join(self.pinned(c, self.pin_server)).replace("--port 0", "--port P"))
        for variant in HTTPS_VARIANTS:
            c = self.wrk_https_cmd(0, variant)
            c = [rel(Path(x)) if x.endswith(".lua") else x for x in c]
            self.commands[f"wrk https {variant}"] = shlex.join(self.pinned(c, self.pin_load)).replace(":0/", ":P/")
        self.commands["tls probe"] = (f"openssl s_client -connect 127.0.0.1:P -servername localhost -CAfile {d}/ca.crt "
                                      "-alpn http/1.1 -msg -ign_eof   # stdin: GET / with Connection: close; "
                                      "before each run, not timed")

    def run_https(self, wanted: list[str]) -> None:
        if not shutil.which("wrk"):
            self.skipped["https"] = "wrk is not installed"
            log(f"skip https: {self.skipped['https']}")
            return
        servers = []
        for name in wanted:
            if name in ("gnet", "gnet_uring"):
                why = self.tls_binary_ok("http")
                if why:
                    self.skipped["https_gnet"] = why
                    log(f"skip gnet https: {why}")
                    continue
            if name == "nginx" and not shutil.which("nginx"):
                self.skipped["https_nginx"] = "nginx is not installed"
                continue
            servers.append(name)
        if not servers or not self.ensure_tls_material():
            return
        self.record_https_commands(servers)
        if "nginx" in servers:
            chk = self.handshake_check()
            self.results["https_meta"] = {"handshake_check": chk}
            for label, r in chk.items():
                log(f"[https check] nginx {label}: " + (f"FAILED: {r['failed']}" if "failed" in r else
                    f"{r['resumed']} of {r['requests']} logged handshakes resumed; {r['params']}"))
            self.save_raw()
        for r in range(self.args.rounds):
            for variant in HTTPS_VARIANTS:
                k = r % len(servers)
                for name in servers[k:] + servers[:k]:
                    runs = self.results["https"].setdefault(variant, {}).setdefault(name, [])
                    tag = f"[round {r + 1}/{self.args.rounds}] https {variant:10} {name:12}"
                    try:
                        res = self.https_run(name, variant)
                        runs.append(res)
                        t = res["tls"]
                        log(f"{tag} {res['rps']:>12,.0f} req/s  cpu {res['server_cpu_us_per_req'] or 0:7.3f} us/req  "
                            f"p99 {fmt(res['lat'].get('99'), 1)} us  errors {res['errors']}  check {res['check']}  "
                            f"{t.get('protocol')} {t.get('cipher')} {t.get('key_exchange')} tickets {t.get('tickets')}")
                    except BenchError as e:
                        runs.append({"failed": str(e)})
                        log(f"{tag} FAILED: {e}")
                    self.save_raw()

    def tls_idle_cmd(self, name: str, transport: str, port, prefix: Path | None) -> list[str]:
        m = self.tls_material
        if name in ("gnet", "gnet_uring"):
            b = self.build / "examples" / "echo"
            cmd = [str(b)] + self.gnet_flags(b, port, default_host=True)
            if transport == "tls":
                cmd += ["--tls-cert", str(m["cert"]), "--tls-key", str(m["key"])]
            return cmd
        template = "bench_https_nginx.conf" if transport == "tls" else "bench_http_nginx.conf"
        self.write_nginx_conf(template, port, prefix)
        return self.nginx_cmd(prefix)

    def tls_idle_client_cmd(self, port, transport: str, n: int) -> list[str]:
        cmd = [sys.executable, str(BENCH_SRC / "tls_idle_client.py"), "--port", str(port), "--conns", str(n)]
        if transport == "tls":
            cmd += ["--tls", "--cafile", str(self.tls_material["ca"])]
        return cmd

    def tls_idle_run(self, name: str, transport: str) -> dict:
        n = self.args.tls_idle_conns
        port = free_port()
        prefix = self.workdir / f"nginx-{self.counter + 1:04d}" if name == "nginx" else None
        env = self.gnet_tls_env(name) if name != "nginx" else dict(os.environ)
        p, logfile = self.start_server(self.tls_idle_cmd(name, transport, port, prefix), name, port, env,
                                       f"tls-idle-{name}-{transport}")
        try:
            # One connection first, with a request, then closed: what the first connection loads
            # once (OpenSSL's tables, the server's first allocations) stays out of the per-connection
            # figure.
            check = idle_check(port, transport, "http" if name == "nginx" else "echo", self.tls_material["ca"])
            time.sleep(0.3)
            base_kib, base_fds = tree_rss_kib(p.pid), tree_fd_count(p.pid)
            g = self.spawn(self.tls_idle_client_cmd(port, transport, n), cpu=self.pin_load, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                line = read_line(g.stdout, 300)
                info = json.loads(line) if line and '"connected"' in line else {}
                got = info.get("connected", 0)
                if got <= 0:
                    err = g.stderr.read().decode(errors="replace")[-300:] if g.poll() is not None else ""
                    raise BenchError(f"the idle client connected nothing: {line!r} {err}")
                deadline = time.monotonic() + 30
                while tree_fd_count(p.pid) < base_fds + got and time.monotonic() < deadline:
                    time.sleep(0.1)
                held_kib = tree_rss_kib(p.pid)  # settled: two readings 0.5 s apart within 16 KiB
                for _ in range(20):
                    time.sleep(0.5)
                    now = tree_rss_kib(p.pid)
                    if abs(now - held_kib) <= 16:
                        held_kib = now
                        break
                    held_kib = now
                accepted = tree_fd_count(p.pid) - base_fds
                alive = p.poll() is None
            finally:
                self.stop(g)
        finally:
            self.stop(p)
        if not alive:
            raise BenchError(f"the server exited with {p.returncode} while holding the connections")
        return {"connected": got, "client_failed": info.get("failed", 0), "client_error": info.get("first_error"),
                "client_seconds": info.get("seconds"), "tls": info.get("tls"), "accepted": accepted,
                "base_kib": base_kib, "held_kib": held_kib, "check": check,
                "bytes_per_conn": (held_kib - base_kib) * 1024 / max(accepted, 1)}

    def record_tls_idle_commands(self, rows: list[tuple[str, str]]) -> None:
        d = rel(self.tls_material["dir"])
        for name, transport in rows:
            if name == "nginx":
                tpl = "bench_https_nginx.conf" if transport == "tls" else "bench_http_nginx.conf"
                self.commands[f"tls_idle nginx {transport}"] = shlex.join(self.pinned(
                    ["nginx", "-p", "DIR", "-c", "DIR/nginx.conf", "-e", "DIR/error.log", "-g", "daemon off;"],
                    self.pin_server)) + f"   # DIR/nginx.conf from bench/{tpl}"
                continue
            eb = self.build / "examples" / "echo"
            c = [rel(eb)] + self.gnet_flags(eb, 0, True)
            if transport == "tls":
                c += ["--tls-cert", f"{d}/server.crt", "--tls-key", f"{d}/server.key"]
            self.commands[f"tls_idle {name} {transport}"] = (
                (f"OPENSSL_CONF={rel(TLS_OPENSSL_CNF)} " if transport == "tls" else "") + backend_prefix(name)
                + shlex.join(self.pinned(c, self.pin_server)).replace("--port 0", "--port P"))
        for transport in ("tcp", "tls"):
            c = self.tls_idle_client_cmd(0, transport, self.args.tls_idle_conns)
            c = ["python3", rel(Path(c[1]))] + [f"{d}/ca.crt" if x.endswith("ca.crt") else x for x in c[2:]]
            self.commands[f"tls_idle client {transport}"] = shlex.join(self.pinned(c, self.pin_load)).replace(
                "--port 0", "--port P") + "   # holds the connections until its stdin closes"

    def run_tls_idle(self, wanted: list[str]) -> None:
        rows = []
        for name, transport in TLS_IDLE_ROWS:
            if name not in wanted:
                continue
            if name in ("gnet", "gnet_uring"):
                why = self.tls_binary_ok("echo")
                if why:
                    self.skipped["tls_idle_gnet"] = why
                    continue
            if name == "nginx" and not shutil.which("nginx"):
                self.skipped["tls_idle_nginx"] = "nginx is not installed"
                continue
            rows.append((name, transport))
        if "tls_idle_gnet" in self.skipped:
            log(f"skip gnet tls_idle: {self.skipped['tls_idle_gnet']}")
        if not rows or not self.ensure_tls_material():
            return
        self.record_tls_idle_commands(rows)
        for name, transport in rows:
            key = f"{name}/{transport}"
            try:
                r = self.tls_idle_run(name, transport)
                self.results["tls_idle"][key] = r
                log(f"[tls_idle] {key:16} {r['bytes_per_conn']:8.0f} B/conn  (RSS {r['base_kib']} KiB -> "
                    f"{r['held_kib']} KiB, {r['accepted']} of {r['connected']} connections held, "
                    f"client {r['client_seconds']} s, check {r['check']})")
            except BenchError as e:
                self.results["tls_idle"][key] = {"failed": str(e)}
                log(f"[tls_idle] {key:16} FAILED: {e}")
            self.save_raw()

    # ---------------------------------------------------------------- RESP (issue 12)

    def resp_binary(self) -> Path:
        return self.build / "examples" / "redis"

    def resp_cmd(self, name: str, port, rundir) -> list[str]:
        if name in ("gnet", "gnet_uring"):
            b = self.resp_binary()
            return [str(b)] + self.gnet_flags(b, port, default_host=True)
        # redis.conf defaults except: one I/O thread (the default too, stated), no persistence,
        # loopback only, its working directory in the run folder.
        return [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", str(port),
                "--io-threads", "1", "--save", "", "--appendonly", "no", "--dir", str(rundir)]

    def redis_benchmark_cmd(self, port, pipeline: int, tests: str, n) -> list[str]:
        return [shutil.which("redis-benchmark") or "redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
                "-c", str(RESP_CLIENTS), "-P", str(pipeline), "-t", tests, "-n", str(n), "--csv"]

    def start_resp(self, name: str, tag: str):
        port = free_port()
        logfile = self.new_log(f"resp-{name}-{tag}")
        rundir = None
        if name == "redis_server":
            rundir = logfile.with_suffix(".dir")
            rundir.mkdir(parents=True, exist_ok=True)
        p = self.start_logged(self.resp_cmd(name, port, rundir), self.pin_server, name, port, logfile)
        return p, port, logfile

    def redis_benchmark(self, port: int, pipeline: int, tests: str, n: int, logfile: Path) -> dict:
        """Runs redis-benchmark on the load CPU; its CSV rows by test name (SET, GET)."""
        cmd = self.redis_benchmark_cmd(port, pipeline, tests, n)
        b = self.spawn(cmd, cpu=self.pin_load, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
        try:
            out, _ = b.communicate(timeout=max(120.0, 20 * self.args.resp_seconds))
        except subprocess.TimeoutExpired:
            raise BenchError("redis-benchmark timed out")
        finally:
            self.stop(b)
        text = out.decode(errors="replace")
        with open(logfile, "a") as f:
            f.write("# " + shlex.join(cmd) + "\n" + text + "\n")
        rows = parse_redis_benchmark_csv(text)
        if b.returncode != 0 or not rows:
            raise BenchError(f"redis-benchmark failed (rc {b.returncode}): {text.strip()[-300:]}")
        return rows

    def resp_requests(self, servers: list[str], variant: str) -> int:
        """-n for a variant: enough for --resp-seconds on the fastest server, +50 % (short runs read
        slow: connection set-up and a cold server weigh more), or --resp-requests when given. The
        rate comes from calibration runs (SET and GET, a fresh server each) lengthened until one
        lasts RESP_CALIBRATION_S."""
        if self.args.resp_requests:
            return self.args.resp_requests
        pipeline = RESP_VARIANTS[variant]
        best = 0.0
        for name in servers:
            n_cal = 200_000 if pipeline > 1 else 40_000
            for _ in range(3):
                p, port, logfile = self.start_resp(name, f"calibrate-{variant}")
                try:
                    rows = self.redis_benchmark(port, pipeline, ",".join(RESP_TESTS), n_cal,
                                                logfile.with_name(logfile.stem + "-bench.log"))
                except BenchError as e:
                    log(f"[resp calibrate] {variant} {name}: {e}")
                    break
                finally:
                    self.stop(p)
                rps = max(r["rps"] for r in rows.values())
                best = max(best, rps)
                if n_cal / rps >= min(RESP_CALIBRATION_S, self.args.resp_seconds):
                    break
                n_cal = int(rps * RESP_CALIBRATION_S * 1.2)
        if best <= 0:
            raise BenchError(f"RESP calibration for {variant} failed on every server")
        n = max(10_000, int(best * self.args.resp_seconds * 1.5))
        n = -(-n // 10_000) * 10_000
        log(f"[resp calibrate] {variant}: best {best:,.0f} req/s -> -n {n} per test")
        return n

    def resp_run(self, name: str, variant: str, n: int) -> dict:
        pipeline = RESP_VARIANTS[variant]
        p, port, logfile = self.start_resp(name, variant)
        try:
            check = resp_check(port)
            tests = {}
            for test in RESP_TESTS:  # one redis-benchmark per test, so each gets its own CPU window
                c0, t0 = tree_cpu_us(p.pid), time.monotonic()
                rows = self.redis_benchmark(port, pipeline, test, n, logfile.with_name(logfile.stem + "-bench.log"))
                wall, c1 = time.monotonic() - t0, tree_cpu_us(p.pid)
                row = rows.get(test.upper())
                if row is None:
                    raise BenchError(f"redis-benchmark printed no {test.upper()} row: {sorted(rows)}")
                if p.poll() is not None:
                    raise BenchError(f"the server exited with {p.returncode} during {test.upper()}")
                tests[test] = {"requests": n, "rps": row["rps"], "p50_us": row.get("p50_us"),
                               "p99_us": row.get("p99_us"), "cpu_us": c1 - c0, "cpu_us_per_req": (c1 - c0) / n,
                               "wall_s": wall, "run_s": n / row["rps"] if row["rps"] else None}
            total = n * len(tests)
            return {"check": check, "requests": total, "tests": tests,
                    "cpu_us_per_req": sum(t["cpu_us"] for t in tests.values()) / total,
                    "rps": total / sum(n / t["rps"] for t in tests.values())}
        finally:
            self.stop(p)

    def record_resp_commands(self, servers: list[str], requests: dict[str, int]) -> None:
        for name in servers:
            c = self.resp_cmd(name, 0, "DIR")
            c[0] = rel(Path(c[0])) if name in ("gnet", "gnet_uring") else "redis-server"
            line = backend_prefix(name) + shlex.join(self.pinned(c, self.pin_server)).replace("--port 0", "--port P")
            if name == "redis_server":
                line += "   # DIR: a fresh folder per run"
            self.commands[f"resp {name}"] = line
        for variant, n in requests.items():
            for test in RESP_TESTS:
                c = self.redis_benchmark_cmd("P", RESP_VARIANTS[variant], test, n)
                c[0] = "redis-benchmark"
                self.commands[f"resp load {variant} {test}"] = shlex.join(self.pinned(c, self.pin_load))

    def run_resp(self, wanted: list[str]) -> None:
        if not shutil.which("redis-benchmark"):
            self.skipped["resp"] = "redis-benchmark is not installed (Debian: redis-tools)"
            log(f"skip resp: {self.skipped['resp']}")
            return
        servers = []
        for name in wanted:
            if name in ("gnet", "gnet_uring") and not (self.resp_binary().is_file() and os.access(self.resp_binary(), os.X_OK)):
                self.skipped["resp_gnet"] = f"gnet-cpp's RESP example is not built: {rel(self.resp_binary())} does not exist"
                log(f"skip gnet resp: {self.skipped['resp_gnet']}")
                continue
            if name == "redis_server" and not shutil.which("redis-server"):
                self.skipped["redis_server"] = "redis-server is not installed (Debian: redis-server)"
                log(f"skip redis-server: {self.skipped['redis_server']}")
                continue
            servers.append(name)
        if not servers:
            return
        if "redis_server" in servers:
            v = cmd_output(["redis-server", "--version"])
            m = re.search(r"v=(\S+)", v)
            self.results["resp_meta"] = {"redis_server_version": m.group(1) if m else v}
            if m and not m.group(1).startswith("7.0"):
                self.notes.append(f"redis-server is {m.group(1)}, not the 7.0 the issue 12 targets were set against.")
        requests = {}
        for variant in RESP_VARIANTS:
            try:
                requests[variant] = self.resp_requests(servers, variant)
            except BenchError as e:
                self.skipped[f"resp_{variant}"] = str(e)
                log(f"skip resp {variant}: {e}")
        self.results.setdefault("resp_meta", {})["requests"] = requests
        self.record_resp_commands(servers, requests)
        a = self.args
        for r in range(a.rounds):
            for variant, n in requests.items():
                k = r % len(servers)
                for name in servers[k:] + servers[:k]:
                    tag = f"[round {r + 1}/{a.rounds}] resp {variant:4} {name:12}"
                    runs = self.results["resp"].setdefault(variant, {}).setdefault(name, [])
                    try:
                        res = self.resp_run(name, variant, n)
                        runs.append(res)
                        log(f"{tag} {res['rps']:>12,.0f} req/s  cpu {res['cpu_us_per_req']:7.3f} us/req  "
                            + "  ".join(f"{t} {x['run_s'] or 0:.1f} s" for t, x in res["tests"].items())
                            + f"  check {res['check']}")
                    except BenchError as e:
                        runs.append({"failed": str(e)})
                        log(f"{tag} FAILED: {e}")
                    self.save_raw()

    # ---------------------------------------------------------------- TCP proxy (issue 5)

    def haproxy_binary(self) -> str | None:
        found = shutil.which("haproxy")
        if found:
            return found
        for d in ("/usr/sbin", "/usr/local/sbin"):  # not on every user's PATH
            if os.access(f"{d}/haproxy", os.X_OK):
                return f"{d}/haproxy"
        return None

    def proxy_binary(self) -> Path:
        return self.build / "examples" / "proxy"

    def backend_binary(self) -> Path:
        return self.build / "bench" / "peer_bare_epoll"

    def proxy_cmd(self, name: str, port, backend_port, cfg: Path | None) -> list[str]:
        if name == "gnet":
            return [str(self.proxy_binary()), "--host", "127.0.0.1", "--port", str(port),
                    "--backend", f"127.0.0.1:{backend_port}", "--loops", "1"]
        if cfg is not None:
            conf = (BENCH_SRC / "haproxy.cfg").read_text()
            cfg.write_text(conf.replace("@PORT@", str(port)).replace("@BACKEND_PORT@", str(backend_port)))
        return [self.haproxy_binary() or "haproxy", "-f", str(cfg), "-db"]

    def start_logged(self, cmd, cpu, name: str, port: int, logfile: Path | None = None) -> subprocess.Popen:
        """Spawns a server with its output in a log, waits until it accepts on port."""
        logfile = logfile or self.new_log(name)
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "wb") as lf:
            p = self.spawn(cmd, cpu=cpu, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                           env=backend_env(name))
        try:
            self.wait_port(port, p, logfile)
        except BaseException:
            self.stop(p)
            raise
        return p

    def proxy_run(self, name: str, sc: dict) -> dict:
        a = self.args
        bport = free_port()
        b = self.start_logged([self.backend_binary(), "--port", bport], self.pin_load,
                              f"proxy-backend-{sc['key']}", bport)
        try:
            port = free_port()
            logfile = self.new_log(f"proxy-{name}-{sc['key']}")
            cfg = logfile.with_suffix(".cfg") if name == "haproxy" else None
            p = self.start_logged(self.proxy_cmd(name, port, bport, cfg), self.pin_server, name, port, logfile)
            try:
                cmd = self.loadgen_cmd(port, sc, p.pid, a.duration, a.warmup)
                g = self.spawn(cmd, cpu=self.pin_load, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
                try:
                    out, err = g.communicate(timeout=a.duration + a.warmup + 120)
                except subprocess.TimeoutExpired:
                    raise BenchError("loadgen timed out")
                finally:
                    self.stop(g)
                res = last_json(out.decode(errors="replace"))
                if res is None or "error" in res or g.returncode != 0:
                    raise BenchError(f"loadgen failed (rc {g.returncode}): "
                                     f"{err.decode(errors='replace').strip()[-400:]} "
                                     f"{out.decode(errors='replace').strip()[-200:]}")
                if p.poll() is not None:
                    res["errors"] = res.get("errors", 0) + 1
                    res["server_died"] = p.returncode
                if b.poll() is not None:
                    res["errors"] = res.get("errors", 0) + 1
                    res["backend_died"] = b.returncode
                return res
            finally:
                self.stop(p)
        finally:
            self.stop(b)

    def record_proxy_commands(self, proxies: list[str], scenarios: list[dict]) -> None:
        a = self.args
        self.commands["proxy backend"] = " ".join(self.pinned(
            [rel(self.backend_binary()), "--port", "B"], self.pin_load))
        for name in proxies:
            c = self.proxy_cmd(name, "P", "B", None)
            if name == "gnet":
                c[0] = rel(self.proxy_binary())
            else:
                c[0], c[2] = "haproxy", "DIR/haproxy.cfg"
            line = " ".join(self.pinned(c, self.pin_server))
            if name == "haproxy":
                line += "   # DIR/haproxy.cfg = bench/haproxy.cfg with @PORT@ -> P, @BACKEND_PORT@ -> B"
            self.commands[f"proxy {name}"] = line
        for sc in scenarios:
            self.commands[f"proxy load {sc['key']}"] = " ".join(self.pinned(
                [rel(self.loadgen)] + self.loadgen_cmd("P", sc, "PID", a.duration, a.warmup)[1:], self.pin_load))

    def run_proxy(self, wanted: list[str]) -> None:
        backend = self.backend_binary()
        if not (backend.is_file() and os.access(backend, os.X_OK)):
            self.skipped["proxy"] = f"the echo backend {rel(backend)} was not built"
            log(f"skip proxy: {self.skipped['proxy']}")
            return
        proxies = []
        for name in wanted:
            if name == "gnet" and not (self.proxy_binary().is_file() and os.access(self.proxy_binary(), os.X_OK)):
                self.skipped["proxy_gnet"] = (f"gnet-cpp's proxy example is not built: {rel(self.proxy_binary())} "
                                              "does not exist")
                log(f"skip gnet proxy: {self.skipped['proxy_gnet']}")
                continue
            if name == "haproxy" and not self.haproxy_binary():
                self.skipped["haproxy"] = "haproxy is not installed (Debian: apt-get install haproxy)"
                log(f"skip haproxy: {self.skipped['haproxy']}")
                continue
            proxies.append(name)
        if not proxies:
            return
        scenarios = [s for s in SCENARIOS if s["key"] in PROXY_SCENARIOS]
        self.record_proxy_commands(proxies, scenarios)
        a = self.args
        for r in range(a.rounds):
            for sc in scenarios:
                k = r % len(proxies)
                for name in proxies[k:] + proxies[:k]:
                    tag = f"[round {r + 1}/{a.rounds}] proxy {sc['key']:8} {name:8}"
                    runs = self.results["proxy"].setdefault(sc["key"], {}).setdefault(name, [])
                    try:
                        res = self.proxy_run(name, sc)
                        runs.append(res)
                        log(f"{tag} {res['msgs_per_s']:>12,.0f} msg/s  cpu {res.get('server_cpu_us_per_msg') or 0:7.3f} "
                            f"us/msg  p99 {res['p99_us']:9.1f} us  errors {res['errors']}")
                    except BenchError as e:
                        runs.append({"failed": str(e)})
                        log(f"{tag} FAILED: {e}")
                    self.save_raw()

    # ---------------------------------------------------------------- UDP echo (issue 15)

    def udp_binary(self, name: str) -> Path:
        if name in ("gnet", "gnet_uring", "gnet_nooffload"):
            return self.build / "examples" / "udp_echo"
        if name == "gnet_go_udp":
            return self.build / "gnet-peer" / "bin" / "gnet_udp_echo"
        return self.build / "bench" / "peer_bare_udp"

    def udp_cmd(self, name: str, port) -> list[str]:
        b = str(self.udp_binary(name))
        if name in ("gnet", "gnet_uring", "gnet_nooffload"):
            return [b, "--host", "127.0.0.1", "--port", str(port), "--loops", "1"] + (
                ["--no-offload"] if name == "gnet_nooffload" else [])
        if name == "gnet_go_udp":
            return [b, "-host", "127.0.0.1", "-port", str(port), "-loops", "1"]
        return [b, "--port", str(port)] + (["--mmsg"] if name == "bare_udp_mmsg" else [])

    def udp_loadgen_cmd(self, port, sc, pid, duration, warmup) -> list[str]:
        cmd = [str(self.loadgen), "--udp", "--host", "127.0.0.1", "--port", str(port), "--conns", str(sc["conns"]),
               "--size", str(sc["size"]), "--pipeline", str(sc["pipeline"]), "--duration", str(duration),
               "--warmup", str(warmup), "--server-pid", str(pid)]
        if sc.get("rate"):
            cmd += ["--rate", f"{self.args.udp_rate:g}"]
        return cmd

    def wait_udp(self, port: int, p: subprocess.Popen, logfile: Path, timeout=15.0) -> None:
        """A UDP server is up when it echoes a datagram."""
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.1)
            while time.monotonic() < deadline:
                if p.poll() is not None:
                    tail = logfile.read_text(errors="replace")[-800:] if logfile.exists() else ""
                    raise BenchError(f"server exited with {p.returncode} before serving: {tail.strip()}")
                try:
                    s.sendto(b"ping", ("127.0.0.1", port))
                    data, _ = s.recvfrom(64)
                    if data == b"ping":
                        return
                except OSError:
                    time.sleep(0.02)
        raise BenchError(f"no UDP echo on port {port} within {timeout:.0f} s")

    def udp_run(self, name: str, sc: dict) -> dict:
        a = self.args
        port = free_port()
        logfile = self.new_log(f"udp-{name}-{sc['key']}")
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "wb") as lf:
            p = self.spawn(self.udp_cmd(name, port), cpu=self.pin_server, stdin=subprocess.DEVNULL, stdout=lf,
                           stderr=subprocess.STDOUT, env=backend_env(name))
        try:
            self.wait_udp(port, p, logfile)
            g = self.spawn(self.udp_loadgen_cmd(port, sc, p.pid, a.duration, a.warmup), cpu=self.pin_load,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                out, err = g.communicate(timeout=a.duration + a.warmup + 120)
            except subprocess.TimeoutExpired:
                raise BenchError("loadgen timed out")
            finally:
                self.stop(g)
            res = last_json(out.decode(errors="replace"))
            if res is None or "error" in res or g.returncode != 0:
                raise BenchError(f"loadgen failed (rc {g.returncode}): {err.decode(errors='replace').strip()[-400:]}"
                                 f" {out.decode(errors='replace').strip()[-200:]}")
            if p.poll() is not None:
                res["errors"] = res.get("errors", 0) + 1
                res["server_died"] = p.returncode
            return res
        finally:
            self.stop(p)

    def run_udp(self, wanted: list[str]) -> None:
        a = self.args
        servers = []
        for name in wanted:
            if name == "gnet_go_udp":
                peer = self.ensure_go_peer()
                _, why = gnet_go_peer.build_udp(peer, self.build / "gnet-peer",
                                                self.workdir / "logs" / "gnet-go-build.log")
                if why:
                    self.skipped["gnet_go_udp"] = why
                    log(f"skip gnet (Go) UDP: {why}")
                    continue
            b = self.udp_binary(name)
            if not (b.is_file() and os.access(b, os.X_OK)):
                self.skipped[f"udp_{name}"] = f"{rel(b)} does not exist"
                log(f"skip udp {name}: {rel(b)} does not exist")
                continue
            servers.append(name)
        if not servers:
            return
        for name in servers:
            c = self.udp_cmd(name, "P")
            c[0] = rel(Path(c[0]))
            self.commands[f"udp {name}"] = backend_prefix(name) + " ".join(self.pinned(c, self.pin_server))
        for sc in UDP_SCENARIOS:
            c = self.udp_loadgen_cmd("P", sc, "PID", a.duration, a.warmup)
            c[0] = rel(self.loadgen)
            self.commands[f"udp load {sc['key']}"] = " ".join(self.pinned(c, self.pin_load))
        for r in range(a.rounds):
            for sc in UDP_SCENARIOS:
                k = r % len(servers)
                for name in servers[k:] + servers[:k]:
                    tag = f"[round {r + 1}/{a.rounds}] {sc['key']:9} {name:13}"
                    runs = self.results["udp"].setdefault(sc["key"], {}).setdefault(name, [])
                    try:
                        res = self.udp_run(name, sc)
                        runs.append(res)
                        log(f"{tag} {res['msgs_per_s']:>12,.0f} dgram/s  cpu {res.get('server_cpu_us_per_msg') or 0:7.3f} "
                            f"us/dgram  p99 {res['p99_us']:9.1f} us  lost {res.get('lost', 0)}  errors {res['errors']}"
                            + (f"  backlog end {res['backlog_end']}" if "backlog_end" in res else ""))
                    except BenchError as e:
                        runs.append({"failed": str(e)})
                        log(f"{tag} FAILED: {e}")
                    self.save_raw()

    # ---------------------------------------------------------------- micro

    def run_micro(self) -> None:
        b = self.build / "bench" / "bench_micro"
        if not b.is_file():
            self.skipped["micro"] = f"{rel(b)} was not built (needs the gnet library and Google Benchmark)"
            return
        min_time = "0.05" if self.smoke() else "0.5"
        cmd = [str(b), "--benchmark_format=json", f"--benchmark_min_time={min_time}"]
        self.commands["micro"] = " ".join(self.pinned([rel(b)] + cmd[1:], self.pin_server))
        p = self.spawn(cmd, cpu=self.pin_server, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            self.skipped["micro"] = "bench_micro timed out"
            return
        finally:
            self.stop(p)
        try:
            data = json.loads(out.decode())
        except json.JSONDecodeError:
            self.skipped["micro"] = f"bench_micro failed: {err.decode(errors='replace')[-300:]}"
            return
        unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
        self.results["micro"] = [
            {"name": bm["name"], "ns": bm["real_time"] * unit[bm["time_unit"]],
             "cpu_ns": bm["cpu_time"] * unit[bm["time_unit"]],
             "bytes_per_second": bm.get("bytes_per_second"), "items_per_second": bm.get("items_per_second")}
            for bm in data.get("benchmarks", []) if bm.get("run_type", "iteration") == "iteration"]
        log(f"[micro]  {len(self.results['micro'])} micro-benchmarks")

    # ---------------------------------------------------------------- bookkeeping

    def smoke(self) -> bool:
        a = self.args
        return a.rounds < 3 or a.duration < 5 or bool(a.only) or bool(a.servers)

    def save_raw(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.results["meta"] = {
            "argv": self.argv, "notes": self.notes, "skipped": self.skipped, "commands": self.commands,
            "pins": [self.pin_server, self.pin_load],
            "go": self.go_info,
            "args": {k: getattr(self.args, k) for k in ("duration", "warmup", "rounds", "only", "servers",
                                                        "strace_duration", "perf_duration", "http_duration",
                                                        "idle_conns", "echo_rate", "http_conns", "resp_seconds",
                                                        "resp_requests", "tls_idle_conns", "udp_rate")}}
        (self.workdir / "results.json").write_text(json.dumps(self.results, indent=1))

    def load_raw(self, path: Path) -> None:
        """Re-renders a report from an earlier run's results.json (--from-results)."""
        self.results = json.loads(path.read_text())
        self.results.setdefault("proxy", {})  # results.json from before the proxy part
        self.results.setdefault("udp", {})  # ... and from before the UDP part
        self.results.setdefault("resp", {})  # ... and from before the RESP part
        self.results.setdefault("https", {})  # ... and from before the TLS parts
        self.results.setdefault("tls_idle", {})
        meta = self.results.get("meta", {})
        self.go_info = meta.get("go", {})
        self.argv = meta.get("argv", [])
        self.notes = meta.get("notes", [])
        self.skipped = meta.get("skipped", {})
        self.commands = meta.get("commands", {})
        self.pin_server, self.pin_load = meta.get("pins", [self.pin_server, self.pin_load])
        for k, v in meta.get("args", {}).items():
            setattr(self.args, k, v)

    def record_commands(self, echo: list[str], scenarios: list[dict], only: set | None) -> None:
        a = self.args
        lg = rel(self.loadgen)
        for name in echo:
            self.commands[f"server {name}"] = backend_prefix(name) + " ".join(self.pinned(
                [rel(self.echo_binary(name))] + self.echo_cmd(name, 0)[1:], self.pin_server)).replace(
                "-port 0", "-port P")  # both --port (C++) and -port (Go)
        for sc in scenarios:
            self.commands[f"load {sc['key']}"] = " ".join(self.pinned(
                [lg] + self.loadgen_cmd("P", sc, "PID", a.duration, a.warmup)[1:], self.pin_load))
        if not echo:
            return
        if only is None or "strace" in only:
            self.commands["strace"] = (
                " ".join(self.pinned([lg] + self.loadgen_cmd("P", {"conns": 100, "size": 64, "pipeline": 1}, "PID",
                                                             a.strace_duration, 0)[1:] + ["--wait-start"],
                                     self.pin_load))
                + "   # connects, then waits; meanwhile: strace -c -f -o FILE -p PID; then 'go' on its stdin")
        if only is None or "idle" in only:
            self.commands["idle"] = " ".join(self.pinned([lg, "--host", "127.0.0.1", "--port", "P", "--conns",
                                                         str(a.idle_conns), "--idle"], self.pin_load))

    def record_http_commands(self, servers: list[str]) -> None:
        if "nginx" in servers:
            self.commands["http nginx"] = (f"taskset -c {self.pin_server} " if self.pin_server is not None else "") + \
                "nginx -p DIR -c DIR/nginx.conf -e DIR/error.log -g 'daemon off;'   # DIR/nginx.conf = bench/bench_http_nginx.conf with @PORT@, @PREFIX@ filled in"
        for name in ("gnet", "gnet_uring"):
            if name not in servers:
                continue
            hb = self.build / "examples" / "http"
            self.commands[f"http {name}"] = backend_prefix(name) + " ".join(
                self.pinned([rel(hb)] + self.gnet_flags(hb, 0, False), self.pin_server)).replace("--port 0", "--port P")
        if HTTP_GNET_GO in servers:
            c = self.http_cmd(HTTP_GNET_GO, 0, None)
            c[0] = rel(Path(c[0]))
            self.commands["http gnet (Go)"] = " ".join(self.pinned(c, self.pin_server)).replace("-port 0", "-port P")
        for pipelined in (False, True):
            c = self.wrk_cmd(0, pipelined)
            c = [rel(Path(x)) if x.endswith(".lua") else x for x in c]
            self.commands["wrk " + ("pipeline16" if pipelined else "plain")] = " ".join(
                self.pinned(c, self.pin_load)).replace(":0/", ":P/")

    def run(self) -> None:
        a = self.args
        if not self.loadgen.is_file():
            raise BenchError(f"{rel(self.loadgen)} not found: build with -DGNET_BUILD_BENCH=ON first")
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "logs").mkdir(parents=True)
        only = None
        if a.only:
            only = set()
            for item in a.only.split(","):
                only.update(ONLY_GROUPS.get(item, [item]))
        unknown = (only or set()) - {s["key"] for s in SCENARIOS} - set(EXTRA_PARTS)
        if unknown:
            raise BenchError(f"unknown --only item(s) {sorted(unknown)}; know "
                             f"{[s['key'] for s in SCENARIOS] + EXTRA_PARTS + list(ONLY_GROUPS)}")
        wanted = a.servers.split(",") if a.servers else list(KNOWN_SERVERS)
        bad = set(wanted) - set(KNOWN_SERVERS)
        if bad:
            raise BenchError(f"unknown server(s) {sorted(bad)}; know {KNOWN_SERVERS}")
        scenarios = [s for s in SCENARIOS if only is None or s["key"] in only]
        echo_parts = scenarios or (only is None or only & {"strace", "perf", "idle"})
        echo = self.available_echo([s for s in ECHO_SERVERS if s in wanted]) if echo_parts else []
        self.record_commands(echo, scenarios if echo else [], only)
        log(f"servers: {', '.join(echo) or 'none'}; pinned: server CPU {self.pin_server}, load CPU {self.pin_load}; "
            f"logs in {rel(self.workdir)}")
        if echo and scenarios:
            self.run_echo(echo, scenarios)
        if echo and (only is None or "strace" in only):
            self.run_strace(echo)
        if echo and (only is None or "perf" in only):
            self.run_perf(echo)
        if echo and (only is None or "idle" in only):
            self.run_idle(echo)
        if only is None or "http" in only:
            self.run_http([s for s in HTTP_SERVERS if s in wanted])
        if only is None or "https" in only:
            self.run_https([s for s in HTTPS_SERVERS if s in wanted])
        if only is None or "tls_idle" in only:
            self.run_tls_idle(wanted)
        if only is None or "resp" in only:
            self.run_resp([s for s in RESP_SERVERS if s in wanted])
        if only is None or "proxy" in only:
            self.run_proxy([s for s in PROXIES if s in wanted])
        if only is None or "udp" in only:
            self.run_udp([s for s in UDP_SERVERS if s in wanted])
        if only is None or "micro" in only:
            self.run_micro()
        self.save_raw()


def set_rate_titles(rate: float) -> None:
    """Puts the offered rate into the titles of the fixed-rate scenarios."""
    for sc in SCENARIOS:
        if sc.get("rate"):
            offered = f"{rate:,.0f}".replace(",", " ")
            sc["title"] = f"{sc['conns']} conns, {sc['size']} B, {offered} msg/s offered"


def http_check(port: int) -> str:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/")
        r = c.getresponse()
        body = r.read()
        c.close()
        return "ok" if r.status == 200 and body == b"Hello, World!" else f"GET / gave {r.status} {body[:40]!r}"
    except (OSError, http.client.HTTPException) as e:
        return f"GET / failed: {e}"


def tls_probe(port: int, cafile: Path) -> dict:
    """What a TLS server negotiates with a client offering OpenSSL's defaults (openssl s_client
    with the system configuration: TLS 1.2 and 1.3, every TLS 1.3 suite, AES-256 first), and
    whether `GET /` answers "Hello, World!": protocol, cipher, key exchange, the server's signature
    type, ALPN (http/1.1 offered), certificate verification against cafile, and how many session
    tickets the server sent (NewSessionTicket messages)."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-CAfile", str(cafile),
           "-alpn", "http/1.1", "-msg", "-ign_eof"]
    env = {k: v for k, v in os.environ.items() if k != "OPENSSL_CONF"}
    try:
        r = subprocess.run(cmd, input=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                           capture_output=True, timeout=15, env=env)
        out = (r.stdout + r.stderr).decode(errors="replace")
    except (OSError, subprocess.SubprocessError) as e:
        return {"check": f"openssl s_client failed: {e}"}

    def grab(pattern):
        m = re.search(pattern, out, re.M)
        return m.group(1).strip() if m else None
    res = {"protocol": grab(r"^(?:New|Reused), (TLSv[\d.]+),"), "cipher": grab(r"^(?:New|Reused), TLSv[\d.]+, Cipher is (\S+)"),
           "key_exchange": grab(r"^Server Temp Key: ([^,\n]+)"), "signature": grab(r"^Peer signature type: (\S+)"),
           "alpn": grab(r"^ALPN protocol: (\S+)") or ("none" if "No ALPN negotiated" in out else None),
           "verify": grab(r"Verify return code: (\d+ \([^)]*\))"),
           "tickets": len(re.findall(r"^<<< .*NewSessionTicket", out, re.M))}
    ok = "HTTP/1.1 200" in out and "Hello, World!" in out
    verified = (res["verify"] or "").startswith("0 ")
    res["check"] = "ok" if ok and verified else (f"certificate not verified: {res['verify']}" if ok else
                                                  f"GET / over TLS gave no Hello, World!: {out.strip()[-200:]!r}")
    return res


def idle_check(port: int, transport: str, proto: str, cafile: Path) -> str:
    """One connection before the idle figure (also the warm-up): TLS when transport is "tls"
    (certificate verified against cafile); proto "echo" sends a line and wants it back, "http"
    wants GET / -> "Hello, World!". "ok" or what went wrong."""
    import ssl
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if transport == "tls":
            s = ssl.create_default_context(cafile=str(cafile)).wrap_socket(s, server_hostname="localhost")
        with s:
            want = b"ping idle check\n" if proto == "echo" else b"Hello, World!"
            s.sendall(b"ping idle check\n" if proto == "echo" else
                      b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            got = b""
            while want not in got and len(got) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        return "ok" if want in got else f"got {got[:60]!r}"
    except (OSError, ValueError) as e:
        return f"failed: {e}"


def resp_check(port: int) -> str:
    """A PING before the run: "ok" when the server answers +PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"PING\r\n")
            got = b""
            while not got.endswith(b"\r\n") and len(got) < 256:
                chunk = s.recv(256)
                if not chunk:
                    break
                got += chunk
        return "ok" if got == b"+PONG\r\n" else f"PING gave {got[:40]!r}"
    except OSError as e:
        return f"PING failed: {e}"


def parse_redis_benchmark_csv(text: str) -> dict[str, dict]:
    """redis-benchmark --csv rows by test name: rps and latency percentiles (converted to µs)."""
    import csv
    rows = list(csv.reader([x for x in text.splitlines() if x.startswith('"')]))
    if not rows or rows[0][:2] != ["test", "rps"]:
        return {}
    head = rows[0]
    out = {}
    for row in rows[1:]:
        if len(row) != len(head):
            continue
        d = dict(zip(head, row))
        try:
            out[d["test"]] = {"rps": float(d["rps"]),
                              **{f"{q}_us": float(d[f"{q}_latency_ms"]) * 1e3 for q in ("p50", "p99")
                                 if f"{q}_latency_ms" in d}}
        except ValueError:
            continue
    return out


def parse_strace(text: str) -> dict[str, tuple[int, int]]:
    calls = {}
    row = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")
    for line in text.splitlines():
        m = row.match(line)
        if m and m.group(3) != "total":
            calls[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
    if not calls:
        raise BenchError(f"no strace summary: {text[-300:]!r}")
    return calls


def parse_wrk(out: str) -> dict | None:
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps:
        return None
    scale = {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}
    # wrk 4.1 sometimes prints a percentile as 0.00us (seen with pipelining): treat it as missing.
    lat = {q: float(v) * scale[u] for q, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
           if float(v) > 0}
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = (sum(int(x) for x in sock.groups()) if sock else 0) + (int(non2xx.group(1)) if non2xx else 0)
    return {"requests": int(m.group(1)), "rps": float(rps.group(1)), "lat": lat, "errors": errors,
            "socket_errors": sock.group(0) if sock else None, "non2xx": int(non2xx.group(1)) if non2xx else 0}


# ------------------------------------------------------------------------- report

def machine_info(build: Path, go_info: dict) -> list[str]:
    lscpu = cmd_output(["lscpu"])
    def field(name):
        m = re.search(rf"^{re.escape(name)}:\s*(.+)$", lscpu, re.M)
        return m.group(1).strip() if m else "?"
    osr = "?"
    try:
        m = re.search(r'^PRETTY_NAME="?([^"\n]+)', Path("/etc/os-release").read_text(), re.M)
        osr = m.group(1) if m else "?"
    except OSError:
        pass
    cxx, btype = "c++", "?"
    try:
        cache = (build / "CMakeCache.txt").read_text()
        m = re.search(r"^CMAKE_CXX_COMPILER:\w+=(.+)$", cache, re.M)
        cxx = m.group(1) if m else cxx
        m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache, re.M)
        btype = (m.group(1) if m else "") or "(none)"
    except OSError:
        pass
    boost = "?"
    try:
        m = re.search(r'#define BOOST_LIB_VERSION "([\d_]+)"', Path("/usr/include/boost/version.hpp").read_text())
        boost = m.group(1).replace("_", ".") if m else "?"
    except OSError:
        pass
    pc = lambda mod: cmd_output(["pkg-config", "--modversion", mod]) or "?"
    mem = "?"
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        mem = f"{int(m.group(1)) / 1048576:.1f} GiB" if m else "?"
    except OSError:
        pass
    try:
        import matplotlib
        mpl = matplotlib.__version__
    except ImportError:
        mpl = "not installed"
    rev = cmd_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return [
        f"- CPU: {field('Model name')}, {field('CPU(s)')} CPUs ({field('Thread(s) per core')} thread(s) per core), "
        f"hypervisor: {field('Hypervisor vendor')}; memory {mem}",
        f"- Kernel: `{' '.join(platform.uname()[i] for i in (0, 2, 4))}`; OS: {osr}",
        f"- Compiler: `{(cmd_output([cxx, '--version']).splitlines() or ['?'])[0]}`, CMake build type {btype}",
        f"- Peers: libuv {pc('libuv')}, libevent {pc('libevent_core')}, Boost.Asio (Boost {boost}), "
        f"{cmd_output(['nginx', '-v']) or 'nginx ?'}, {haproxy_version()}, {(cmd_output(['wrk', '-v']).splitlines() or ['wrk ?'])[0].split(' Copyright')[0]}, "
        f"{(cmd_output(['strace', '-V']).splitlines() or ['strace ?'])[0]}, matplotlib {mpl}",
        f"- RESP: {cmd_output(['redis-server', '--version']) or 'redis-server not installed'}; "
        f"{cmd_output(['redis-benchmark', '--version']) or 'redis-benchmark not installed'}",
        "- gnet (Go): " + ("not built: " + go_info["skipped"] if go_info.get("skipped") else
                           go_versions_text(go_info.get("versions", [])) or "not used in this run"),
        f"- gnet-cpp revision: {('`' + rev + '`') if re.fullmatch(r'[0-9a-f]{4,40}', rev or '') else '(no commit yet)'}; "
        f"run {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def go_versions_text(versions: list[str]) -> str:
    """gnet_go_peer's deps/VERSIONS lines, shortened: snapshot tags with commits, Debian packages, go."""
    snaps, debs, go = [], [], ""
    for line in versions:
        f = line.split()
        if line.startswith("go version"):
            go = f[2] if len(f) > 2 else line
        elif len(f) >= 3 and f[0] == "debian":
            debs.append(f[1].rsplit("/", 1)[-1])
        elif len(f) >= 3:
            snaps.append(f"{f[0].split('+')[-1]} {f[1]} ({f[2][:8]})")
        else:
            snaps.append(line)
    parts = [", ".join(snaps)] if snaps else []
    if debs:
        parts.append(", ".join(debs) + " from Debian")
    if go:
        parts.append(go)
    return "; ".join(parts)


def haproxy_version() -> str:
    exe = shutil.which("haproxy") or next((f"{d}/haproxy" for d in ("/usr/sbin", "/usr/local/sbin")
                                           if os.access(f"{d}/haproxy", os.X_OK)), None)
    first = (cmd_output([exe, "-v"]).splitlines() or [""])[0] if exe else ""
    m = re.search(r"version (\S+)", first)
    return f"HAProxy {m.group(1)}" if m else "HAProxy ?"


def summarize_echo(results: dict) -> dict:
    """scenario -> server -> medians (and min/max of the CPU figure) over the successful rounds."""
    out = {}
    for key, per in results.items():
        out[key] = {}
        for name, runs in per.items():
            ok = [r for r in runs if "failed" not in r]
            cpu = [r.get("server_cpu_us_per_msg") for r in ok if r.get("server_cpu_us_per_msg") is not None]
            out[key][name] = {
                "runs": len(runs), "ok": len(ok), "failures": [r["failed"] for r in runs if "failed" in r],
                "errors": sum(r.get("errors", 0) for r in ok),
                "cpu": median(cpu), "cpu_min": min(cpu) if cpu else None, "cpu_max": max(cpu) if cpu else None,
                **{m: median([r.get(m) for r in ok]) for m in
                   ("msgs_per_s", "mb_per_s", "p50_us", "p99_us", "p999_us", "server_cpu_pct", "loadgen_cpu_pct",
                    "backlog_end")},
            }
    return out


def make_plots(summary: dict, servers: list[str], http: dict, img_dir: Path,
               smoke: bool) -> tuple[list[str], str | None]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return [], f"matplotlib is not available ({e}); no plots"

    def stamp(fig):
        if smoke:
            fig.text(0.5, 0.5, "SMOKE RUN — not measurements", ha="center", va="center", fontsize=28,
                     color="red", alpha=0.25, rotation=20)
    img_dir.mkdir(parents=True, exist_ok=True)
    made = []
    keys = [s["key"] for s in SCENARIOS if s["key"] in summary]
    titles = {s["key"]: s["title"] for s in SCENARIOS}
    colors = {"bare_epoll": "#555555", "gnet": "#d62728", "gnet_uring": "#ff7f0e", "libuv": "#1f77b4", "libevent": "#2ca02c",
              "asio": "#9467bd", "nginx": "#8c564b", "gnet_go": "#17becf", "gnet_go_http": "#17becf"}
    if keys and servers:
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
        width = 0.8 / len(servers)
        for i, name in enumerate(servers):
            xs = [j + (i - (len(servers) - 1) / 2) * width for j in range(len(keys))]
            vals = [summary[k].get(name, {}).get("cpu") or 0 for k in keys]
            ref = [summary[k].get(REFERENCE, {}).get("cpu") for k in keys]
            ratios = [v / r if v and r else 0 for v, r in zip(vals, ref)]
            axes[0].bar(xs, vals, width, label=ECHO_SERVERS[name], color=colors.get(name))
            axes[1].bar(xs, ratios, width, label=ECHO_SERVERS[name], color=colors.get(name))
        axes[0].set_ylabel("server CPU µs per echoed message")
        axes[0].set_yscale("log")
        axes[0].set_title("Server CPU per message (median, lower is better)")
        axes[1].axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        axes[1].set_ylabel("× bare epoll")
        axes[1].set_title("CPU per message relative to the bare epoll loop")
        for ax in axes:
            ax.set_xticks(range(len(keys)))
            ax.set_xticklabels([titles[k].replace(", ", "\n") for k in keys], fontsize=8)
            ax.grid(axis="y", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        stamp(fig)
        fig.savefig(img_dir / "bench_cpu_per_msg.png", dpi=110)
        plt.close(fig)
        made.append("bench_cpu_per_msg.png")

        cols = min(3, len(keys))
        rows = (len(keys) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
        pct = [("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")]
        for idx, k in enumerate(keys):
            ax = axes[idx // cols][idx % cols]
            w = 0.8 / len(pct)
            for j, (m, label) in enumerate(pct):
                xs = [i + (j - 1) * w for i in range(len(servers))]
                ax.bar(xs, [summary[k].get(n, {}).get(m) or 0 for n in servers], w, label=label)
            ax.set_yscale("log")
            ax.set_title(titles[k], fontsize=10)
            ax.set_xticks(range(len(servers)))
            ax.set_xticklabels([n.replace("_", " ") for n in servers], fontsize=8, rotation=20)
            ax.set_ylabel("round trip µs")
            ax.grid(axis="y", alpha=0.3)
            if idx == 0:
                ax.legend(fontsize=8)
        for idx in range(len(keys), rows * cols):
            axes[idx // cols][idx % cols].axis("off")
        fig.suptitle("Round-trip latency percentiles (median of rounds)")
        fig.tight_layout()
        stamp(fig)
        fig.savefig(img_dir / "bench_latency.png", dpi=110)
        plt.close(fig)
        made.append("bench_latency.png")
    if http:
        variants = [v for v in ("plain", "pipeline16") if v in http]
        names = sorted({n for v in variants for n in http[v]}, key=lambda n: list(HTTP_SERVERS).index(n))
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        w = 0.8 / max(len(names), 1)
        for i, n in enumerate(names):
            xs = [j + (i - (len(names) - 1) / 2) * w for j in range(len(variants))]
            axes[0].bar(xs, [http[v].get(n, {}).get("rps") or 0 for v in variants], w, label=HTTP_SERVERS[n],
                        color=colors.get(n, "#d62728"))
            axes[1].bar(xs, [http[v].get(n, {}).get("cpu") or 0 for v in variants], w, label=HTTP_SERVERS[n],
                        color=colors.get(n, "#d62728"))
        axes[0].set_title("HTTP plaintext requests/s (wrk, median)")
        axes[1].set_title("Server CPU µs per request (median)")
        for ax in axes:
            ax.set_xticks(range(len(variants)))
            ax.set_xticklabels([HTTP_VARIANTS.get(v, v) for v in variants])
            ax.grid(axis="y", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        stamp(fig)
        fig.savefig(img_dir / "bench_http.png", dpi=110)
        plt.close(fig)
        made.append("bench_http.png")
    return made, None


def write_report(h: Harness, out: Path, img_dir: Path) -> None:
    a, res = h.args, h.results
    summary = summarize_echo(res["echo"])
    servers = [s for s in ECHO_SERVERS if any(s in per for per in summary.values())]
    http = summarize_http(res["http"])
    resp = summarize_resp(res.get("resp") or {})
    plots, plot_note = make_plots(summary, servers, http, img_dir, h.smoke())
    img_rel = os.path.relpath(img_dir.resolve(), out.resolve().parent)
    L = []
    L.append("# Benchmarks")
    L.append("")
    L.append("<!-- Generated by bench/run_bench.py (`make bench`); edits are overwritten. -->")
    L.append("")
    if h.smoke():
        L.append(f"> **SMOKE RUN — these numbers are not measurements.** This file was produced by a short check "
                 f"of the harness ({a.rounds} round(s) of {a.duration:g} s"
                 f"{', a subset of the servers or parts' if (a.only or a.servers) else ''}; the command is under "
                 f"\"Exact commands\"). Regenerate with `make bench` for the real figures.")
        L.append("")
    L.append("gnet-cpp against the event-loop libraries a user would pick instead, on one machine in one run. "
             "Everything here is regenerated by `make bench` (which runs "
             "`/usr/bin/python3 bench/run_bench.py --build build-bench`).")
    L.append("")
    L.append("## Machine")
    L.append("")
    L += machine_info(h.build, h.go_info)
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(f"- Each server runs alone on {'CPU ' + str(h.pin_server) if h.pin_server is not None else 'any CPU'}, "
             f"the load generator (or wrk) on {'CPU ' + str(h.pin_load) if h.pin_load is not None else 'any CPU'} (`taskset`). "
             "Every server is single-threaded (one event loop) and listens on 127.0.0.1.")
    L.append("- **Headline: server CPU time per echoed message** = the server's utime+stime (`/proc/PID/stat`) "
             "over the measured window ÷ messages echoed in it. With two cores the load generator saturates its "
             "core before an efficient server does, so msgs/s partly measures the generator; CPU/message does not. "
             "`srv CPU %` and `gen CPU %` show who was the bottleneck.")
    L.append(f"- `bench/loadgen`: closed loop, one thread, plain epoll. Each connection keeps *pipeline* messages in "
             f"flight, sends the next when one has fully come back, and checks every echoed byte against a "
             f"per-connection pseudo-random pattern (a mismatch, a lost connection or a failed connect is an error). "
             f"Latency = queued → fully echoed, in an HDR-style log-bucketed histogram (< 0.8 % bucket width). "
             f"Warm-up {a.warmup:g} s, then {a.duration:g} s measured.")
    L.append(f"- Interleaved rounds: {a.rounds} round(s); in each, every scenario runs on every server back to back "
             "(the server order rotates each round), a fresh server process per run. Tables show the median over "
             "rounds (CPU also min–max); ratios are medians ÷ the bare epoll loop's median.")
    L.append("- MB/s counts echoed payload in one direction (10^6 bytes).")
    rate_keys = [sc["title"] for sc in SCENARIOS if sc.get("rate") and sc["key"] in summary]
    if rate_keys:
        L.append(f"- **Fixed offered rate** ({', '.join(rate_keys)}): `loadgen --rate R` sends R messages/s in total "
                 "instead of the closed loop, paced per connection (a timerfd every 50 µs hands out the messages "
                 "that came due, the connections evenly staggered); `--pipeline` is then only the per-connection "
                 "window. CPU per message at a rate every server sustains compares the cost of a message without "
                 "the batching a saturated closed loop gives. Latency counts from each message's scheduled time "
                 "(no coordinated omission). `backlog` = messages that came due but were never sent (median over "
                 "rounds): above 0, the server did not sustain the offered rate.")
    L.append("")
    L.append("### Servers")
    L.append("")
    L.append("| server | what it is |")
    L.append("|---|---|")
    desc = {
        "bare_epoll": "`bench/peer_bare_epoll.cpp`: hand-written level-triggered epoll loop; one `read` per readiness into "
                      "one 64 KiB buffer, `write` straight back, queue + `EPOLLOUT` only for what the kernel refuses.",
        "gnet": "`examples/echo` with `--loops 1` (`GNET_BACKEND=epoll`).",
        "gnet_uring": "`examples/echo` with `--loops 1` and `GNET_BACKEND=io_uring`.",
        "libuv": "`bench/peer_libuv.cpp`: `alloc_cb` returns one static 64 KiB buffer; `uv_try_write` first, `uv_write` "
                 "of a copy only for the remainder (tuned libuv).",
        "libevent": "`bench/peer_libevent.cpp`: `evconnlistener` + one `bufferevent` per connection; the read callback "
                    "does `evbuffer_add_buffer(output, input)` (idiomatic; libevent manages its own chains).",
        "asio": "`bench/peer_asio.cpp`: Asio's canonical async echo: `io_context{1}`, a session per connection with a "
                "4 KiB buffer, `async_read_some` → `async_write` → read again.",
        "gnet_go": f"Go {h.go_info.get('label', 'gnet')}: `../shared/peers/gnet/echo` (gnet-examples' echo_tcp: "
                   "`OnTraffic` does `c.Next(-1)` + `c.Write`), `-loops 1`, built offline by "
                   "`../shared/peers/gnet/build.sh` (\"gnet (Go) build\" below). Pinned to one CPU, so the Go "
                   "runtime runs with GOMAXPROCS=1; its CPU figure counts every thread of the process (GC included).",
    }
    for name in ECHO_SERVERS:
        if name in servers:
            L.append(f"| {ECHO_SERVERS[name]} | {desc[name]} |")
        elif name in h.skipped:
            L.append(f"| {ECHO_SERVERS[name]} | **not run**: {h.skipped[name]} |")
    L.append("")
    L.append("All peers set `TCP_NODELAY` on accepted sockets and reuse their read buffer (no per-read `malloc` in "
             "our code).")
    L.append("")
    L.append("### Exact commands")
    L.append("")
    L.append("```sh")
    L.append(f"# this report: /usr/bin/python3 bench/run_bench.py {shlex.join(h.argv)}")
    for k, v in h.commands.items():
        if k.startswith("proxy "):
            continue  # listed in the proxy section
        L.append(f"# {k}")
        L.append(v)
    L.append("```")
    L.append("")
    L.append("P is a free port picked per run, PID the server's process id.")
    L.append("")

    # ---- echo tables
    if summary:
        L.append("## Echo: CPU per message (summary)")
        L.append("")
        keys = [s["key"] for s in SCENARIOS if s["key"] in summary]
        titles = {s["key"]: s["title"] for s in SCENARIOS}
        L.append("Server CPU µs per echoed message, median (× the bare epoll loop):")
        L.append("")
        L.append("| server | " + " | ".join(titles[k] for k in keys) + " |")
        L.append("|---|" + "---:|" * len(keys))
        for name in servers:
            cells = []
            for k in keys:
                s = summary[k].get(name)
                ref = summary[k].get(REFERENCE, {}).get("cpu")
                if not s or s["cpu"] is None:
                    cells.append("failed" if s and s["failures"] else "—")
                    continue
                ratio = f" ({s['cpu'] / ref:.2f}×)" if ref else ""
                cells.append(f"{s['cpu']:.3f}{ratio}")
            L.append(f"| {ECHO_SERVERS[name]} | " + " | ".join(cells) + " |")
        L.append("")
        for p in plots:
            if p == "bench_cpu_per_msg.png":
                L.append(f"![server CPU per message]({img_rel}/{p})")
                L.append("")
        L.append("## Echo: every scenario")
        L.append("")
        for k in keys:
            L.append(f"### {titles[k]}")
            L.append("")
            is_rate = any(sc.get("rate") for sc in SCENARIOS if sc["key"] == k)
            L.append("| server | msgs/s | MB/s | p50 µs | p99 µs | p99.9 µs | CPU µs/msg (min–max) | × bare epoll "
                     "| srv CPU % | gen CPU % | errors | " + ("backlog | " if is_rate else "") + "rounds ok |")
            L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if is_rate else "") + "---:|")
            ref = summary[k].get(REFERENCE, {}).get("cpu")
            for name in servers:
                s = summary[k].get(name)
                if not s:
                    continue
                cpu = (f"{s['cpu']:.3f} ({s['cpu_min']:.3f}–{s['cpu_max']:.3f})" if s["cpu"] is not None else "—")
                ratio = f"{s['cpu'] / ref:.2f}" if s["cpu"] is not None and ref else "—"
                L.append(f"| {ECHO_SERVERS[name]} | {fmt(s['msgs_per_s'], 0)} | {fmt(s['mb_per_s'], 2)} | "
                         f"{fmt(s['p50_us'], 1)} | {fmt(s['p99_us'], 1)} | {fmt(s['p999_us'], 1)} | {cpu} | {ratio} | "
                         f"{fmt(s['server_cpu_pct'], 0)} | {fmt(s['loadgen_cpu_pct'], 0)} | {s['errors']} | "
                         + (f"{fmt(s['backlog_end'], 0)} | " if is_rate else "") + f"{s['ok']}/{s['runs']} |")
            fails = [f"{ECHO_SERVERS[n]}: {f}" for n in servers for f in summary[k].get(n, {}).get("failures", [])]
            if fails:
                L.append("")
                L += [f"- failed run — {f}" for f in fails]
            L.append("")
        for p in plots:
            if p == "bench_latency.png":
                L.append(f"![latency percentiles]({img_rel}/{p})")
                L.append("")

    # ---- syscalls
    L.append("## Syscalls per echoed message")
    L.append("")
    if res["strace"]:
        L.append(f"`strace -c -f -p PID` attached to the server while `loadgen --wait-start` (100 connections, 64 B, "
                 f"not pipelined, {a.strace_duration:g} s) sends traffic; connections are set up before the attach and "
                 "torn down after the detach, so only echo traffic is counted (`restart_syscall` from the attach is "
                 "dropped). Under strace the server is much slower, so `epoll_wait` returns more events per call than "
                 "in the timed runs: the epoll_wait share is a lower bound.")
        L.append("")
        L.append(f"| server | syscalls/msg | read | write | epoll_wait | epoll_ctl | other | of which failed (EAGAIN…) | messages |")
        L.append("|---|---:|---:|---:|---:|---:|---|---:|---:|")
        for name in servers:
            r = res["strace"].get(name)
            if not r:
                continue
            if "failed" in r:
                L.append(f"| {ECHO_SERVERS[name]} | failed: {r['failed']} | | | | | | | |")
                continue
            g = r["groups"]
            other = ", ".join(f"{s} {v:.3f}" for s, v in list(r["others"].items())[:4]) or "0"
            L.append(f"| {ECHO_SERVERS[name]} | {r['per_msg']:.3f} | {g['read']:.3f} | {g['write']:.3f} | "
                     f"{g['epoll_wait']:.3f} | {g['epoll_ctl']:.3f} | {other} | {r['failed_per_msg']:.3f} | {r['messages']} |")
        L.append("")
    else:
        L.append(f"Not run{': ' + h.skipped['strace'] if 'strace' in h.skipped else ' (not selected)'}.")
        L.append("")

    # ---- perf
    if res.get("perf"):
        L.append("## Where the time goes (perf, 100 conns 64 B)")
        L.append("")
        L.append(f"`perf record -F 2000 -p PID -- sleep {a.perf_duration:g}` on the server during a 100-connection 64 B "
                 "echo run (flat profile, `perf report --no-children --sort dso,sym`). Full reports: the files named "
                 "below.")
        L.append("")
        for name, r in res["perf"].items():
            label = ECHO_SERVERS.get(name, name)
            if "failed" in r:
                L.append(f"- {label}: failed: {r['failed']}")
                L.append("")
                continue
            L.append(f"**{label}**: kernel {r['kernel_pct']:.1f} %, user space {r['user_pct']:.1f} % of samples "
                     f"(`{r['report']}`).")
            L.append("")
            L.append("| % | where | symbol |")
            L.append("|---:|---|---|")
            for x in r["top"][:10]:
                L.append(f"| {x['pct']:.2f} | {'kernel' if x['kernel'] else x['dso']} | `{x['sym'][:90]}` |")
            extra = [x for x in r["user_top"] if x not in r["top"][:10]][:5]
            for x in extra:
                L.append(f"| {x['pct']:.2f} | {x['dso']} | `{x['sym'][:90]}` |")
            L.append("")
    elif "perf" in h.skipped:
        L.append(f"Profile not taken: {h.skipped['perf']}.")
        L.append("")

    # ---- idle memory
    L.append("## Idle memory")
    L.append("")
    if res["idle"]:
        L.append(f"VmRSS of the server (`/proc/PID/status`) once listening, then while holding {a.idle_conns} "
                 "connections that never send (`loadgen --idle`); bytes per connection = the growth ÷ connections "
                 "accepted. Kernel socket memory is not in RSS.")
        L.append("")
        L.append("| server | RSS before KiB | RSS holding KiB | connections | bytes/conn above baseline |")
        L.append("|---|---:|---:|---:|---:|")
        for name in servers:
            r = res["idle"].get(name)
            if not r:
                continue
            if "failed" in r:
                L.append(f"| {ECHO_SERVERS[name]} | failed: {r['failed']} | | | |")
                continue
            L.append(f"| {ECHO_SERVERS[name]} | {r['base_kib']} | {r['held_kib']} | {r['accepted']} | "
                     f"{r['bytes_per_conn']:.0f} |")
        L.append("")
    else:
        L.append("Not run (not selected).")
        L.append("")

    # ---- idle TLS (issue 14)
    L += tls_idle_section(h)

    # ---- HTTP and RESP (issue 12), HTTPS (issue 14)
    L += http_section(h, http, plots, img_rel)
    L += https_section(h)
    L += resp_section(h, resp)

    # ---- TCP proxy
    L += proxy_section(h)

    # ---- UDP echo
    L += udp_section(h)

    # ---- micro
    L.append("## Micro-benchmarks (Google Benchmark)")
    L.append("")
    if res["micro"]:
        L.append("Internal buffers: the inbound `RingBuffer` and the outbound `BlockPool` (against `new`/`delete` of "
                 "a block), pinned to the server CPU (`bench/bench_micro.cpp`). Debian's libbenchmark prints "
                 "\"Library was built as DEBUG\": that is the benchmark library's own build, not the code measured.")
        L.append("")
        L.append("| benchmark | ns/op (wall) | ns/op (CPU) | throughput (per CPU second) |")
        L.append("|---|---:|---:|---:|")
        for bm in res["micro"]:
            thr = (f"{bm['bytes_per_second'] / 1e9:.2f} GB/s" if bm.get("bytes_per_second")
                   else f"{bm['items_per_second'] / 1e6:.1f} M items/s" if bm.get("items_per_second") else "")
            L.append(f"| `{bm['name']}` | {bm['ns']:.1f} | {bm.get('cpu_ns', bm['ns']):.1f} | {thr} |")
        L.append("")
    else:
        L.append(f"Not run{': ' + h.skipped['micro'] if 'micro' in h.skipped else ' (not selected)'}.")
        L.append("")

    # ---- targets
    L.append("## Targets (issue 7)")
    L.append("")
    L += target_lines(summary, res, h)
    L.append("")
    L += protocol_target_lines(http, resp)
    L += tls_target_lines(h)
    notes = list(h.notes) + list(h.args.note or [])
    if plot_note:
        notes.append(plot_note)
    if notes:
        L.append("## Notes")
        L.append("")
        L += [f"- {n}" for n in notes]
        L.append("")
    L.append(f"Raw per-run results: `{rel(h.workdir / 'results.json')}` (not committed); server logs in "
             f"`{rel(h.workdir / 'logs')}`.")
    L.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(L))
    log(f"wrote {rel(out)}" + (f" and {', '.join(rel(img_dir / p) for p in plots)}" if plots else ""))

def summarize_http(results: dict) -> dict:
    """variant -> server -> medians over the successful rounds (CPU also min/max)."""
    http = {}
    for variant, per in results.items():
        http[variant] = {}
        for name, runs in per.items():
            ok = [r for r in runs if "failed" not in r]
            cpu = [r["server_cpu_us_per_req"] for r in ok if r.get("server_cpu_us_per_req") is not None]
            http[variant][name] = {
                "ok": len(ok), "runs": len(runs), "failures": [r["failed"] for r in runs if "failed" in r],
                "rps": median([r["rps"] for r in ok]), "cpu": median(cpu),
                "cpu_min": min(cpu) if cpu else None, "cpu_max": max(cpu) if cpu else None,
                "p50": median([r["lat"].get("50") or None for r in ok]),
                "p99": median([r["lat"].get("99") or None for r in ok]),
                "errors": sum(r["errors"] for r in ok), "checks": sorted({r["check"] for r in ok})}
    return http


def http_references(per: dict) -> tuple[float | None, float | None, str]:
    """(gnet (Go)'s CPU/req, the best of nginx and gnet (Go), which one that was) for one variant."""
    go = per.get(HTTP_GNET_GO, {}).get("cpu")
    peers = [(per[n]["cpu"], n) for n in (HTTP_GNET_GO, "nginx") if per.get(n, {}).get("cpu") is not None]
    best = min(peers) if peers else (None, "")
    return go, best[0], best[1]


def ratio_text(value, ref, digits=2) -> str:
    return f"{value / ref:.{digits}f}" if value is not None and ref else "—"


def http_section(h: Harness, http: dict, plots: list[str], img_rel: str) -> list[str]:
    a = h.args
    L = ["## HTTP plaintext", ""]
    skip_keys = ("gnet_http", HTTP_GNET_GO, "nginx", "http")
    if http:
        go = h.go_info.get("label", "gnet")
        L.append(f"`wrk -t1 -c{a.http_conns} -d{a.http_duration:g}s` on the load CPU against `GET /` → 200 "
                 "\"Hello, World!\", one request per round trip (depth 1) and 16 pipelined per round trip "
                 "(`bench/wrk_pipeline.lua`, depth 16). One event loop / worker each, on the server CPU: gnet-cpp's "
                 f"`examples/http --loops 1`; the HTTP server on Go {go} (`../shared/peers/gnet/http`, `-loops 1`: "
                 "splits requests on the blank line and answers a canned response, gnet's TechEmpower shape); nginx "
                 "with one worker and `bench/bench_http_nginx.conf`. A fresh server per run, the order rotating each "
                 f"round ({a.rounds} round(s), medians). **Server CPU µs per request** = utime+stime of the server "
                 "and its children (nginx's worker) from `/proc` over the wrk run ÷ requests wrk counted. `check` is "
                 "a `GET /` made before each run. Latency percentiles are wrk's (with pipelining, per batch of 16; "
                 "a percentile wrk printed as 0 is shown as —).")
        L.append("")
        L.append("| variant | server | req/s | p50 µs | p99 µs | CPU µs/req (min–max) | × gnet (Go) | × best of "
                 "nginx, gnet (Go) | errors | check | rounds ok |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        for variant, vlabel in HTTP_VARIANTS.items():
            per = http.get(variant, {})
            ref_go, ref_best, _ = http_references(per)
            for name in HTTP_SERVERS:
                s = per.get(name)
                if not s:
                    continue
                cpu = f"{s['cpu']:.3f} ({s['cpu_min']:.3f}–{s['cpu_max']:.3f})" if s["cpu"] is not None else "—"
                L.append(f"| {vlabel} | {HTTP_SERVERS[name]} | {fmt(s['rps'], 0)} | {fmt(s['p50'], 0)} | "
                         f"{fmt(s['p99'], 0)} | {cpu} | {ratio_text(s['cpu'], ref_go)} | "
                         f"{ratio_text(s['cpu'], ref_best)} | {s['errors']} | {', '.join(s['checks']) or '—'} | "
                         f"{s['ok']}/{s['runs']} |")
                for f in s["failures"]:
                    L.append(f"| | failed run: {f} | | | | | | | | | |")
        L.append("")
        for variant, vlabel in HTTP_VARIANTS.items():
            per = http.get(variant, {})
            g = per.get("gnet", {}).get("cpu")
            ref_go, ref_best, best_name = http_references(per)
            if g is None:
                continue
            L.append(f"- {vlabel}: gnet-cpp {g:.3f} µs/request = **{ratio_text(g, ref_go)}×** gnet (Go), "
                     f"**{ratio_text(g, ref_best)}×** the best of nginx and gnet (Go)"
                     f"{' (' + HTTP_SERVERS[best_name] + ')' if best_name else ''}.")
        L.append("")
        if "bench_http.png" in plots:
            L.append(f"![HTTP plaintext]({img_rel}/bench_http.png)")
            L.append("")
    skips = [f"- Not run: {h.skipped[k]}." for k in skip_keys if k in h.skipped]
    if skips or not http:
        L += (skips or ["Not run (not selected)."]) + [""]
    return L


def tls_param_text(t: dict) -> str:
    return (f"{t.get('protocol') or '?'}, {t.get('cipher') or '?'}, {t.get('key_exchange') or '?'}, "
            f"{t.get('signature') or '?'}")


def tls_mismatches(t: dict) -> list[str]:
    """What in one s_client probe differs from TLS_EXPECTED."""
    return [f"{k} {t.get(k)!r} (want {v!r})" for k, v in TLS_EXPECTED.items() if t.get(k) != v]


def https_section(h: Harness) -> list[str]:
    """The "HTTPS plaintext (TLS 1.3)" section (issue 14)."""
    a = h.args
    L = ["## HTTPS plaintext (TLS 1.3)", ""]
    skips = [h.skipped[k] for k in ("tls", "https", "https_gnet", "https_nginx") if k in h.skipped]
    raw = h.results.get("https") or {}
    https = summarize_http(raw)
    if not any(https.values()):
        L += [f"- Not run: {x}." for x in skips] or ["Not run (not selected)."]
        return L + [""]
    L.append(f"`wrk -t1 -c{a.http_conns} -d{a.http_duration:g}s` over TLS on the load CPU against `GET /` → 200 "
             "\"Hello, World!\", in three variants: depth 1; pipelined depth 16 (`bench/wrk_pipeline.lua`); and "
             "`-H \"Connection: close\"`, where every request comes on a new connection: a TCP connect, a full "
             "TLS handshake, one request, the close (its req/s are handshakes/s, its CPU per request is CPU per "
             "handshake, connection set-up and close included). One event loop / worker each on the server CPU: "
             "gnet-cpp's `examples/http --loops 1 --tls-cert --tls-key` (ALPN http/1.1) on both backends, and "
             "nginx with one worker and `bench/bench_https_nginx.conf` (`bench_http_nginx.conf` with a TLS "
             "listener).")
    L.append("")
    L.append("**The same TLS on both sides**: TLS 1.3 only, `TLS_AES_128_GCM_SHA256`, X25519, one ECDSA P-256 "
             "certificate for localhost/127.0.0.1 signed by a CA the harness makes with the `openssl` CLI "
             "(\"tls material\" under Exact commands), no session tickets and no session cache. nginx: "
             "`ssl_protocols TLSv1.3; ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256; ssl_ecdh_curve X25519; "
             "ssl_session_tickets off; ssl_conf_command NumTickets 0; ssl_session_cache off;` (`ssl_session_tickets "
             "off` alone still lets OpenSSL send TLS 1.3 tickets). gnet-cpp: `OPENSSL_CONF=bench/tls_openssl.cnf`, "
             "whose `system_default` (`MinProtocol = TLSv1.3`, `Ciphersuites = TLS_AES_128_GCM_SHA256`, "
             "`Groups = X25519`, `Options = -SessionTicket`, `NumTickets = 0`) OpenSSL applies to every context "
             "the process makes; the library runs no session cache. Before each run `openssl s_client`, offering "
             "OpenSSL's defaults (TLS 1.2 and 1.3, AES-256 first), checks what the server negotiates and that "
             "`GET /` answers (`check`). wrk does not verify the certificate.")
    L.append("")
    L.append("**Server CPU µs per request** = utime+stime of the server and its children (nginx's worker) from "
             f"`/proc` over the wrk run ÷ requests wrk counted. A fresh server per run, the order rotating each "
             f"round ({a.rounds} round(s), medians).")
    L.append("")
    L.append("| variant | server | req/s | p50 µs | p99 µs | CPU µs/req (min–max) | × nginx | errors | check | rounds ok |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for variant, vlabel in HTTPS_VARIANTS.items():
        per = https.get(variant, {})
        ref = per.get(HTTPS_REFERENCE, {}).get("cpu")
        for name in HTTPS_SERVERS:
            s = per.get(name)
            if not s:
                continue
            cpu = f"{s['cpu']:.3f} ({s['cpu_min']:.3f}–{s['cpu_max']:.3f})" if s["cpu"] is not None else "—"
            L.append(f"| {vlabel} | {HTTPS_SERVERS[name]} | {fmt(s['rps'], 0)} | {fmt(s['p50'], 0)} | "
                     f"{fmt(s['p99'], 0)} | {cpu} | {ratio_text(s['cpu'], ref)} | {s['errors']} | "
                     f"{', '.join(s['checks']) or '—'} | {s['ok']}/{s['runs']} |")
            for f in s["failures"]:
                L.append(f"| | failed run: {f} | | | | | | | | |")
    L.append("")
    for variant, vlabel in HTTPS_VARIANTS.items():
        per = https.get(variant, {})
        ref = per.get(HTTPS_REFERENCE, {})
        for name in ("gnet", "gnet_uring"):
            g = per.get(name, {})
            if g.get("cpu") is None:
                continue
            if variant == "handshake":
                L.append(f"- Full handshakes, {HTTPS_SERVERS[name]}: {fmt(g['rps'], 0)}/s at {g['cpu']:.1f} µs of "
                         f"server CPU per handshake = **{ratio_text(g['cpu'], ref.get('cpu'))}×** nginx's"
                         + (f" (nginx: {fmt(ref['rps'], 0)}/s, {ref['cpu']:.1f} µs)." if ref.get("cpu") is not None
                            else " (nginx not measured)."))
            else:
                L.append(f"- {vlabel}, {HTTPS_SERVERS[name]}: {g['cpu']:.3f} µs/request = "
                         f"**{ratio_text(g['cpu'], ref.get('cpu'))}×** nginx's"
                         + (f" ({ref['cpu']:.3f} µs)." if ref.get("cpu") is not None else " (nginx not measured)."))
    L.append("")

    # what each server negotiated, from the s_client probes
    L.append("What each server negotiated (`openssl s_client` before each run; runs with the same outcome "
             "counted together):")
    L.append("")
    L.append("| server | protocol, cipher, key exchange, signature | ALPN | session tickets sent | certificate "
             "verified | runs |")
    L.append("|---|---|---|---:|---|---:|")
    bad = []
    for name in HTTPS_SERVERS:
        seen: dict[tuple, int] = {}
        for variant in raw:
            for r in raw[variant].get(name, []):
                t = r.get("tls")
                if not t:
                    continue
                key = (tls_param_text(t), t.get("alpn") or "?", t.get("tickets"), t.get("verify") or "?")
                seen[key] = seen.get(key, 0) + 1
                bad += [f"{HTTPS_SERVERS[name]}: {m}" for m in tls_mismatches(t)]
        for (params, alpn, tickets, verify), n in seen.items():
            L.append(f"| {HTTPS_SERVERS[name]} | {params} | {alpn} | {tickets} | {verify} | {n} |")
    L.append("")
    if bad:
        L.append("**The servers did not all negotiate the intended parameters**, so these runs do not compare like "
                 "with like: " + "; ".join(sorted(set(bad))) + ".")
    else:
        L.append(f"Every probe found the intended parameters ({TLS_EXPECTED['protocol']}, {TLS_EXPECTED['cipher']}, "
                 f"{TLS_EXPECTED['key_exchange']}, {TLS_EXPECTED['signature']} signature, no ticket).")
    L.append("")

    # full handshakes, not resumptions
    chk = (h.results.get("https_meta") or {}).get("handshake_check") or {}
    L.append("**Full handshakes, not resumptions.** wrk 4.1 never calls `SSL_set_session`, but it keeps one "
             "`SSL` object per connection slot and closes a connection with `SSL_shutdown()` + `SSL_clear()` "
             "(`src/ssl.c`), which keeps the last session, so its next handshake on that slot offers it: it can "
             "resume whenever the server hands out tickets (the control below). Hence no tickets on either side.")
    m, c = chk.get("measured"), chk.get("tickets_on")
    if m and "failed" not in m:
        params = ", ".join(f"{k} ×{v}" for k, v in m["params"].items()) or "none"
        L.append(f"Checked on nginx, which logs `$ssl_session_reused` (`r` = resumed): a separate "
                 f"`Connection: close` wrk run (not timed, {min(1.0, a.http_duration):g} s) in the measured "
                 f"configuration logged {m['requests']} handshakes, **{m['resumed']} resumed** ({params}).")
    elif m:
        L.append(f"The nginx log check failed: {m['failed']}.")
    else:
        L.append("The nginx log check did not run (nginx not measured).")
    if c and "failed" not in c:
        L.append(f"The control, the same run with `ssl_session_tickets on` and OpenSSL's default tickets: "
                 f"{c['resumed']} of {c['requests']} resumed" + (", so the check does see resumptions." if c["resumed"]
                                                               else " (the check saw none here either)."))
    elif c:
        L.append(f"The tickets-on control failed: {c['failed']}.")
    L.append("gnet-cpp sends no ticket (the probe table) and keeps no session cache, so no client can resume "
             "against it.")
    L.append("")
    if skips:
        L += [f"- Not run: {x}." for x in skips] + [""]
    return L


def tls_idle_section(h: Harness) -> list[str]:
    """The "Idle TLS connections" section (issue 14): RSS per idle connection, TLS beside TCP."""
    a = h.args
    res = h.results.get("tls_idle") or {}
    L = ["## Idle TLS connections: memory beside plain TCP", ""]
    skips = [h.skipped[k] for k in ("tls", "tls_idle_gnet", "tls_idle_nginx") if k in h.skipped]
    if not res:
        L += [f"- Not run: {x}." for x in skips] or ["Not run (not selected)."]
        return L + [""]
    L.append(f"VmRSS of the server (`/proc/PID/status`; nginx: master + worker) after one warm-up connection (a "
             "request answered, then closed, so what the first connection loads once stays out of the figure), "
             f"then while holding {a.tls_idle_conns} connections that `bench/tls_idle_client.py` (python3, on the "
             "load CPU) opened one after the other and then left silent; with TLS each one first completed its "
             "handshake, verifying the certificate against the harness's CA. bytes/conn = the growth ÷ the "
             "connections the server holds (the growth of its descriptor count). gnet-cpp's servers are "
             "`examples/echo --loops 1`, with `--tls-cert/--tls-key` for TLS (plus `OPENSSL_CONF=bench/tls_openssl.cnf`, "
             "as in the HTTPS part); nginx uses `bench/bench_http_nginx.conf` for TCP and `bench/bench_https_nginx.conf` "
             "for TLS. The TLS parameters are the HTTPS part's (TLS 1.3, TLS_AES_128_GCM_SHA256, X25519, ECDSA "
             "P-256, no tickets). Kernel socket memory is not in RSS; one run per row.")
    L.append("")
    L.append("| server | transport | RSS before KiB | RSS holding KiB | connections held | bytes/conn | "
             "TLS − TCP bytes/conn | negotiated | check |")
    L.append("|---|---|---:|---:|---:|---:|---:|---|---|")
    per_conn = {}
    for name, transport in TLS_IDLE_ROWS:
        r = res.get(f"{name}/{transport}")
        if not r:
            continue
        label = TLS_IDLE_LABELS[name]
        if "failed" in r:
            L.append(f"| {label} | {transport.upper()} | failed: {r['failed']} | | | | | | |")
            continue
        per_conn[(name, transport)] = r["bytes_per_conn"]
        tcp = per_conn.get((name, "tcp"))
        diff = f"{r['bytes_per_conn'] - tcp:.0f}" if transport == "tls" and tcp is not None else "—"
        t = r.get("tls") or {}
        neg = f"{t.get('version')}, {t.get('cipher')}" if t else "—"
        held = f"{r['accepted']}" + (f" of {r['connected']}" if r["accepted"] != r["connected"] else "")
        if r.get("client_failed"):
            held += f" ({r['client_failed']} failed: {r.get('client_error')})"
        L.append(f"| {label} | {transport.upper()} | {r['base_kib']} | {r['held_kib']} | {held} | "
                 f"{r['bytes_per_conn']:.0f} | {diff} | {neg} | {r['check']} |")
    L.append("")
    for name in ("gnet", "gnet_uring", "nginx"):
        tls, tcp = per_conn.get((name, "tls")), per_conn.get((name, "tcp"))
        if tls is not None and tcp is not None:
            L.append(f"- {TLS_IDLE_LABELS[name]}: an idle TLS connection holds {tls:.0f} B, a TCP one {tcp:.0f} B: "
                     f"TLS adds **{tls - tcp:.0f} B** per idle connection"
                     + (" (OpenSSL's per-connection state: the SSL object, its session and handshake leftovers; the "
                        "record buffers are released while idle)." if name != "nginx" else "."))
    g, n = per_conn.get(("gnet", "tls")), per_conn.get(("nginx", "tls"))
    if g is not None and n:
        L.append(f"- Idle TLS connection, gnet-cpp ÷ nginx: **{g / n:.2f}×** ({g:.0f} B vs {n:.0f} B).")
    L.append("")
    if skips:
        L += [f"- Not run: {x}." for x in skips] + [""]
    return L


def tls_target_lines(h: Harness) -> list[str]:
    """The issue 14 target (HTTPS CPU per request ≤ 0.9× nginx's), evaluated on this run's medians."""
    https = summarize_http(h.results.get("https") or {})
    L = ["## Targets (issue 14, TLS)", ""]
    rows = []
    for variant in ("plain", "pipeline16"):
        per = https.get(variant, {})
        g, n = per.get("gnet", {}).get("cpu"), per.get(HTTPS_REFERENCE, {}).get("cpu")
        value = g / n if g is not None and n else None
        verdict = ("not measured" if value is None else "met" if value <= TARGET_HTTPS_RATIO
                   else f"**missed by {100 * (value / TARGET_HTTPS_RATIO - 1):.1f} %**")
        rows.append(f"| HTTPS {HTTPS_VARIANTS[variant]}: CPU/request ≤ {TARGET_HTTPS_RATIO:g}× nginx | "
                    f"{fmt(value, 2)}× | {verdict} |")
    if all("not measured" in r for r in rows):
        return L + ["Not evaluated: the HTTPS comparison was not run (or lacked nginx or gnet-cpp).", ""]
    L += ["| target | measured | verdict |", "|---|---:|---|"] + rows + [""]
    per = https.get("handshake", {})
    g, n = per.get("gnet", {}).get("cpu"), per.get(HTTPS_REFERENCE, {}).get("cpu")
    if g is not None and n:
        L += [f"Not a stated target: CPU per full handshake {g / n:.2f}× nginx's.", ""]
    return L


def summarize_resp(results: dict) -> dict:
    """variant -> server -> medians over the successful rounds, overall and per test."""
    out = {}
    for variant, per in results.items():
        out[variant] = {}
        for name, runs in per.items():
            ok = [r for r in runs if "failed" not in r]
            cpu = [r["cpu_us_per_req"] for r in ok]
            tests = {t: {m: median([r["tests"].get(t, {}).get(m) for r in ok])
                         for m in ("rps", "p50_us", "p99_us", "cpu_us_per_req")} for t in RESP_TESTS}
            run_s = [x["run_s"] for r in ok for x in r["tests"].values() if x.get("run_s")]
            out[variant][name] = {
                "ok": len(ok), "runs": len(runs), "failures": [r["failed"] for r in runs if "failed" in r],
                "rps": median([r["rps"] for r in ok]), "cpu": median(cpu),
                "cpu_min": min(cpu) if cpu else None, "cpu_max": max(cpu) if cpu else None,
                "tests": tests, "run_s_min": min(run_s) if run_s else None,
                "checks": sorted({r["check"] for r in ok})}
    return out


def resp_section(h: Harness, resp: dict) -> list[str]:
    a = h.args
    L = ["## RESP: gnet-cpp examples/redis vs redis-server", ""]
    skip_keys = ["resp", "resp_gnet", "redis_server"] + [f"resp_{v}" for v in RESP_VARIANTS]
    skips = [h.skipped[k] for k in skip_keys if k in h.skipped]
    if not resp:
        L += [f"- Not run: {x}." for x in skips] or ["Not run (not selected)."]
        L.append("")
        return L
    meta = h.results.get("resp_meta", {})
    requests = meta.get("requests", {})
    version = meta.get("redis_server_version", "?")
    L.append(f"`redis-benchmark -c {RESP_CLIENTS} -P 16` and `-P 1` (not pipelined) on the load CPU, `SET` then "
             f"`GET` (redis-benchmark's defaults: 3-byte values, one key) against a fresh server per run on the "
             f"server CPU: gnet-cpp's `examples/redis --loops 1`, and redis-server {version} with `--io-threads 1 "
             "--save '' --appendonly no` (no persistence; otherwise its defaults). `-t set,get` runs its tests one "
             "after the other; here each test is its own redis-benchmark process so each gets its own CPU window. "
             "**Server CPU µs per request** = the server's utime+stime from `/proc` over the redis-benchmark "
             "process (connection set-up included) ÷ requests; the overall figure is (CPU of SET + CPU of GET) ÷ "
             "(2 × n). `-n` per test: " + (", ".join(f"{v} {n:,}".replace(",", " ") for v, n in requests.items())
                                            or "—")
             + (f" (fixed by `--resp-requests`)" if a.resp_requests else
                f" (calibration runs of about {RESP_CALIBRATION_S:g} s per server, then enough for "
                f"{a.resp_seconds:g} s on the fastest +50 %)") + f". {a.rounds} interleaved round(s), the order rotating, medians. `check` is a `PING` "
             "before each run.")
    L.append("")
    L.append("| variant | server | req/s | CPU µs/req (min–max) | × redis-server | SET req/s | GET req/s | "
             "SET CPU µs/req | GET CPU µs/req | SET p99 µs | GET p99 µs | shortest run s | check | rounds ok |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for variant in RESP_VARIANTS:
        per = resp.get(variant, {})
        ref = per.get(RESP_REFERENCE, {}).get("cpu")
        for name in RESP_SERVERS:
            s = per.get(name)
            if not s:
                continue
            t = s["tests"]
            cpu = f"{s['cpu']:.3f} ({s['cpu_min']:.3f}–{s['cpu_max']:.3f})" if s["cpu"] is not None else "—"
            L.append(f"| -P {RESP_VARIANTS[variant]} | {RESP_SERVERS[name]} | {fmt(s['rps'], 0)} | {cpu} | "
                     f"{ratio_text(s['cpu'], ref)} | {fmt(t['set']['rps'], 0)} | {fmt(t['get']['rps'], 0)} | "
                     f"{fmt(t['set']['cpu_us_per_req'], 3)} | {fmt(t['get']['cpu_us_per_req'], 3)} | "
                     f"{fmt(t['set']['p99_us'], 0)} | {fmt(t['get']['p99_us'], 0)} | {fmt(s['run_s_min'], 1)} | "
                     f"{', '.join(s['checks']) or '—'} | {s['ok']}/{s['runs']} |")
            for f in s["failures"]:
                L.append(f"| | failed run: {f} | | | | | | | | | | | | |")
    L.append("")
    ratios = []
    for variant in RESP_VARIANTS:
        per = resp.get(variant, {})
        g, r = per.get("gnet", {}).get("cpu"), per.get(RESP_REFERENCE, {}).get("cpu")
        if g is not None or r is not None:
            ratios.append(f"-P {RESP_VARIANTS[variant]}: **{ratio_text(g, r)}×**")
    if ratios:
        L.append("gnet-cpp's CPU per request ÷ redis-server's (medians; below 1 means gnet-cpp spends less): "
                 + "; ".join(ratios) + ".")
        L.append("")
    if skips:
        L += [f"- Not run: {x}." for x in skips]
        L.append("")
    return L


def protocol_target_lines(http: dict, resp: dict) -> list[str]:
    """The issue 12 speed targets, evaluated on this run's medians."""
    L = ["## Targets (issue 12, protocol speed)", ""]

    def verdict(value, limit):
        if value is None:
            return "not measured"
        return "met" if value <= limit else f"**missed by {100 * (value / limit - 1):.1f} %**"

    rows = []
    for variant, limit, against in (("pipeline16", 0.9, "gnet (Go)"), ("plain", 0.95, "the best of nginx and gnet (Go)")):
        per = http.get(variant, {})
        g = per.get("gnet", {}).get("cpu")
        ref_go, ref_best, _ = http_references(per)
        ref = ref_go if variant == "pipeline16" else ref_best
        value = g / ref if g is not None and ref else None
        rows.append(f"| HTTP {HTTP_VARIANTS[variant]}: CPU/request ≤ {limit:g}× {against} | {fmt(value, 2)}× | "
                    f"{verdict(value, limit)} |")
    per = resp.get("P16", {})
    g, r = per.get("gnet", {}).get("cpu"), per.get(RESP_REFERENCE, {}).get("cpu")
    value = g / r if g is not None and r else None
    rows.append(f"| RESP -P 16: CPU/request ≤ 0.67× redis-server | {fmt(value, 2)}× | {verdict(value, 0.67)} |")
    if not any("not measured" not in x for x in rows):
        return L + ["Not evaluated: the HTTP and RESP comparisons were not run (or lacked a peer).", ""]
    L += ["| target | measured | verdict |", "|---|---:|---|"] + rows + [""]
    return L


def proxy_section(h: Harness) -> list[str]:
    """The "Proxy: gnet-cpp examples/proxy vs HAProxy (TCP mode)" section (issue 5)."""
    a = h.args
    summary = summarize_echo(h.results.get("proxy") or {})
    keys = [k for k in PROXY_SCENARIOS if k in summary]
    titles = {s["key"]: s["title"] for s in SCENARIOS}
    names = [n for n in PROXIES if any(n in summary[k] for k in keys)]
    srv = f"CPU {h.pin_server}" if h.pin_server is not None else "any CPU"
    load = f"CPU {h.pin_load}" if h.pin_load is not None else "any CPU"
    L = ["## Proxy: gnet-cpp examples/proxy vs HAProxy (TCP mode)", ""]
    skips = [h.skipped[k] for k in ("proxy", "proxy_gnet", "haproxy") if k in h.skipped]
    if not keys:
        if skips:
            L += [f"- Not run: {s}." for s in skips]
        else:
            L.append("Not run (not selected).")
        L.append("")
        return L
    L.append(f"`bench/loadgen` → proxy → `bench/peer_bare_epoll` (the echo backend): every message crosses the "
             f"proxy twice, client → backend and back. The proxy runs alone on {srv}; the backend shares {load} "
             "with the load generator, so both proxies see the same client and backend. gnet-cpp's proxy is "
             "`examples/proxy --loops 1` (a backend connection per client, dialed from the client's loop); HAProxy "
             "runs in the foreground (`-db`) with `bench/haproxy.cfg`: `nbthread 1`, `mode tcp`, `maxconn 20000`, "
             "one frontend and one backend server, no logging. Both set `TCP_NODELAY`. "
             "**Proxy CPU µs/msg** = the proxy's utime+stime over the measured window ÷ round trips "
             "(loadgen `--server-pid`); `proxy CPU %` and `gen CPU %` show which side was the bottleneck. "
             f"{a.rounds} interleaved round(s) of {a.duration:g} s (+{a.warmup:g} s warm-up), a fresh backend and "
             "proxy per run, the proxy order rotating each round; medians over rounds.")
    L.append("")
    ref_name = PROXY_RATIO_TO
    for k in keys:
        L.append(f"### Proxy, {titles[k]}")
        L.append("")
        L.append("| proxy | msgs/s | MB/s | p50 µs | p99 µs | p99.9 µs | proxy CPU µs/msg (min–max) | × HAProxy "
                 "| proxy CPU % | gen CPU % | errors | rounds ok |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        ref = summary[k].get(ref_name, {}).get("cpu")
        for name in names:
            s = summary[k].get(name)
            if not s:
                continue
            cpu = f"{s['cpu']:.3f} ({s['cpu_min']:.3f}–{s['cpu_max']:.3f})" if s["cpu"] is not None else "—"
            ratio = f"{s['cpu'] / ref:.2f}" if s["cpu"] is not None and ref else "—"
            L.append(f"| {PROXIES[name]} | {fmt(s['msgs_per_s'], 0)} | {fmt(s['mb_per_s'], 2)} | "
                     f"{fmt(s['p50_us'], 1)} | {fmt(s['p99_us'], 1)} | {fmt(s['p999_us'], 1)} | {cpu} | {ratio} | "
                     f"{fmt(s['server_cpu_pct'], 0)} | {fmt(s['loadgen_cpu_pct'], 0)} | {s['errors']} | "
                     f"{s['ok']}/{s['runs']} |")
        fails = [f"{PROXIES[n]}: {f}" for n in names for f in summary[k].get(n, {}).get("failures", [])]
        if fails:
            L.append("")
            L += [f"- failed run — {f}" for f in fails]
        L.append("")
    ratios = []
    for k in keys:
        g = summary[k].get("gnet", {}).get("cpu")
        r = summary[k].get(ref_name, {}).get("cpu")
        ratios.append(f"{titles[k]}: **{g / r:.2f}×**" if g is not None and r else f"{titles[k]}: —")
    L.append("gnet-cpp proxy CPU per message ÷ HAProxy's (medians; below 1 means gnet-cpp spends less): "
             + "; ".join(ratios) + ".")
    L.append("")
    if skips:
        L += [f"- Not run: {s}." for s in skips]
        L.append("")
    L.append("Exact commands (P: the proxy's port, B: the backend's, both picked per run; PID: the proxy's pid):")
    L.append("")
    L.append("```sh")
    for k, v in h.commands.items():
        if k.startswith("proxy "):
            L.append(f"# {k[len('proxy '):]}")
            L.append(v)
    L.append("```")
    L.append("")
    L.append("`bench/haproxy.cfg`:")
    L.append("")
    L.append("```")
    try:
        L += [x for x in (BENCH_SRC / "haproxy.cfg").read_text().rstrip().splitlines()]
    except OSError:
        L.append("(bench/haproxy.cfg is missing)")
    L.append("```")
    L.append("")
    return L


def udp_section(h: Harness) -> list[str]:
    """The "UDP echo" section (issue 15): datagrams/s and server CPU per datagram."""
    a = h.args
    results = h.results.get("udp") or {}
    summary = summarize_echo(results)
    keys = [sc["key"] for sc in UDP_SCENARIOS if sc["key"] in summary]
    titles = {sc["key"]: sc["title"] + (f", {a.udp_rate:,.0f} datagrams/s offered".replace(",", " ")
                                        if sc.get("rate") else "") for sc in UDP_SCENARIOS}
    L = ["## UDP echo", ""]
    skips = [v for k, v in h.skipped.items() if k.startswith("udp_") or k == "gnet_go_udp"]
    if not keys:
        L += [f"- Not run: {s}." for s in skips] if skips else ["Not run (not selected)."]
        L.append("")
        return L
    L.append("`bench/loadgen --udp`: 16 connected UDP sockets, each keeping 8 datagrams of 64 B in flight "
             "(closed loop) or sending its share of a fixed offered rate; sendmmsg/recvmmsg on the load side, every "
             "echoed byte checked. The server has one unconnected socket on one thread, kernel-default buffers. "
             "**server CPU µs/datagram** = the server's utime+stime over the measured window ÷ datagrams echoed. "
             "**lost**: datagrams that never came back (dropped by a full socket buffer somewhere; UDP promises "
             f"nothing). {a.rounds} interleaved round(s) of {a.duration:g} s (+{a.warmup:g} s warm-up), a fresh "
             "server per run, medians over rounds.")
    L.append("")
    for k in keys:
        L.append(f"### UDP, {titles[k]}")
        L.append("")
        L.append("| server | datagrams/s | p50 µs | p99 µs | server CPU µs/datagram (min–max) | × bare | server CPU % "
                 "| gen CPU % | lost | errors | rounds ok |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        ref = summary[k].get(UDP_REFERENCE, {}).get("cpu")
        for name in UDP_SERVERS:
            s = summary[k].get(name)
            if not s:
                continue
            lost = sum(r.get("lost", 0) for r in results[k].get(name, []) if "failed" not in r)
            cpu = f"{s['cpu']:.3f} ({s['cpu_min']:.3f}–{s['cpu_max']:.3f})" if s["cpu"] is not None else "—"
            ratio = f"{s['cpu'] / ref:.2f}" if s["cpu"] is not None and ref else "—"
            L.append(f"| {UDP_SERVERS[name]} | {fmt(s['msgs_per_s'], 0)} | {fmt(s['p50_us'], 1)} | "
                     f"{fmt(s['p99_us'], 1)} | {cpu} | {ratio} | {fmt(s['server_cpu_pct'], 0)} | "
                     f"{fmt(s['loadgen_cpu_pct'], 0)} | {lost} | {s['errors']} | {s['ok']}/{s['runs']} |")
        fails = [f"{UDP_SERVERS[n]}: {f}" for n in UDP_SERVERS for f in summary[k].get(n, {}).get("failures", [])]
        if fails:
            L.append("")
            L += [f"- failed run — {f}" for f in fails]
        L.append("")
    if skips:
        L += [f"- Not run: {s}." for s in skips]
        L.append("")
    L.append("Exact commands (P: the server's port, picked per run; PID: the server's pid):")
    L.append("")
    L.append("```sh")
    for k, v in h.commands.items():
        if k.startswith("udp "):
            L.append(f"# {k[len('udp '):]}")
            L.append(v)
    L.append("```")
    L.append("")
    return L


def target_lines(summary: dict, res: dict, h: Harness) -> list[str]:
    if "gnet" in h.skipped or not any("gnet" in per for per in summary.values()) and "gnet" not in res["strace"]:
        why = f" ({h.skipped['gnet']})" if "gnet" in h.skipped else ""
        return [f"gnet-cpp's echo server was not measured in this run{why}, so the targets are not evaluated."]
    L = ["| target | measured | verdict |", "|---|---:|---|"]

    def verdict(value, limit):
        if value is None:
            return "not measured"
        if value <= limit:
            return "met"
        return f"**missed by {100 * (value / limit - 1):.1f} %**"

    for k in ("c100", "c100p16"):
        s = summary.get(k, {})
        g = s.get("gnet", {}).get("cpu")
        for peer, limit, label in (("bare_epoll", 1.0, "bare epoll"), ("libevent", 0.8, "libevent"),
                                   ("asio", 0.8, "Asio"), ("libuv", 1.0, "libuv")):
            p = s.get(peer, {}).get("cpu")
            ratio = g / p if g is not None and p else None
            title = next(x["title"] for x in SCENARIOS if x["key"] == k)
            L.append(f"| CPU/msg, {title}: ≤ {limit:.1f}× {label} | {fmt(ratio, 2)}× | {verdict(ratio, limit)} |")
    st = res["strace"].get("gnet", {})
    L.append(f"| syscalls per echoed message (not pipelined) ≤ {TARGET_SYSCALLS_PER_MSG} | {fmt(st.get('per_msg'), 3)} | "
             f"{verdict(st.get('per_msg'), TARGET_SYSCALLS_PER_MSG)} |")
    idle = res["idle"].get("gnet", {})
    L.append(f"| idle connection ≤ {TARGET_IDLE_BYTES} B RSS above baseline | {fmt(idle.get('bytes_per_conn'), 0)} B | "
             f"{verdict(idle.get('bytes_per_conn'), TARGET_IDLE_BYTES)} |")
    L.append("")
    L.append("Where a target is missed: the margin is in the verdict; the profiles under \"Where the time goes\" "
             "show where the time is spent, and the explanation belongs here.")
    return L


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-bench", help="CMake build dir configured with -DGNET_BUILD_BENCH=ON")
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per echo run (default 5)")
    ap.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per echo run (default 1)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--only", "--parts", dest="only", default="",
                    help="comma list of parts: " + ",".join([s["key"] for s in SCENARIOS] + EXTRA_PARTS)
                    + "; groups: echo (every closed-loop scenario), echo_rate (the fixed-rate ones), tls (https,tls_idle)")
    ap.add_argument("--servers", default="", help="comma list of: " + ",".join(KNOWN_SERVERS)
                    + " (gnet selects gnet-cpp's example in every part: echo, http, redis, proxy)")
    ap.add_argument("--echo-rate", type=float, default=DEFAULT_ECHO_RATE,
                    help=f"offered msgs/s of the fixed-rate echo scenarios (default {DEFAULT_ECHO_RATE})")
    ap.add_argument("--udp-rate", type=float, default=DEFAULT_UDP_RATE,
                    help=f"offered datagrams/s of the fixed-rate UDP scenario udp64rate (default {DEFAULT_UDP_RATE})")
    ap.add_argument("--http-conns", type=int, default=50, help="wrk connections (default 50, wrk -t1 -c50)")
    ap.add_argument("--resp-seconds", type=float, default=None,
                    help="target seconds per redis-benchmark run on the fastest server (default 3; "
                         "--duration when that is shorter)")
    ap.add_argument("--resp-requests", type=int, default=None,
                    help="redis-benchmark -n per test instead of calibrating it from --resp-seconds")
    ap.add_argument("--rebuild-gnet-go", action="store_true",
                    help="rebuild Go gnet's peers even when <build>/gnet-peer/bin has them from the same inputs")
    ap.add_argument("--strace-duration", type=float, default=None, help="seconds of traffic under strace (default 2)")
    ap.add_argument("--perf-duration", type=float, default=None, help="seconds of perf sampling (default 2)")
    ap.add_argument("--http-duration", type=float, default=None, help="wrk seconds (default --duration)")
    ap.add_argument("--idle-conns", type=int, default=10000, help="idle connections for the memory figure")
    ap.add_argument("--tls-idle-conns", type=int, default=DEFAULT_TLS_IDLE_CONNS,
                    help=f"idle connections per server in the tls_idle part, TCP and TLS (default {DEFAULT_TLS_IDLE_CONNS})")
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"), help="report path")
    ap.add_argument("--img-dir", default=str(REPO / "docs" / "img"), help="directory for the PNG plots")
    ap.add_argument("--note", action="append", help="a line for the report's Notes section (repeatable)")
    ap.add_argument("--from-results", metavar="JSON",
                    help="run nothing: re-render the report from an earlier run's <build>/bench-run/results.json")
    args = ap.parse_args()
    if args.rounds < 1 or args.duration <= 0:
        ap.error("--rounds must be >= 1 and --duration > 0")
    if args.strace_duration is None:
        args.strace_duration = min(2.0, args.duration)
    if args.perf_duration is None:
        args.perf_duration = min(2.0, args.duration)
    if args.http_duration is None:
        args.http_duration = args.duration
    if args.resp_seconds is None:
        args.resp_seconds = min(3.0, args.duration)
    if args.echo_rate <= 0 or args.http_conns < 1 or args.resp_seconds <= 0 or args.tls_idle_conns < 1:
        ap.error("--echo-rate, --http-conns, --resp-seconds and --tls-idle-conns must be positive")

    def on_term(signum, frame):
        raise Terminated(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    h = Harness(args)
    try:
        if args.from_results:
            h.load_raw(Path(args.from_results))
        set_rate_titles(h.args.echo_rate)
        if not args.from_results:
            h.run()
        write_report(h, Path(args.out), Path(args.img_dir))
        return 0
    except BenchError as e:
        print(f"run_bench: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated):
        print("run_bench: interrupted; stopping every process started", file=sys.stderr)
        return 130
    finally:
        h.stop_all()


if __name__ == "__main__":
    sys.exit(main())
