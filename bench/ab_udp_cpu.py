#!/usr/bin/python3
"""A/B of two builds of examples/udp_echo (and the bare recvfrom/sendto loop beside them) by
server CPU per datagram.

    /usr/bin/python3 bench/ab_udp_cpu.py OLD_BINARY NEW_BINARY --build build-bench
        [--rounds 3] [--duration 5] [--rate 40000] [--backend epoll]

Each round starts every server in turn (the order rotating) on CPU 0 with one loop, then runs
`bench/loadgen --udp` (16 connected sockets, 64 B, 8 in flight each) on CPU 1 twice: closed loop
and at --rate datagrams/s offered. The CPU per datagram is loadgen's figure (the server's
utime+stime from /proc over the measured window, divided by the datagrams echoed). Prints each
run, then the medians and each build's ratio to the bare loop. Used when a change to the UDP path
must show it costs nothing (docs/benchmarks.md).
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_echo(port: int, p: subprocess.Popen) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        for _ in range(150):
            if p.poll() is not None:
                raise SystemExit(f"server exited with {p.returncode} before serving")
            try:
                s.sendto(b"ping", ("127.0.0.1", port))
                if s.recvfrom(64)[0] == b"ping":
                    return
            except OSError:
                time.sleep(0.02)
    raise SystemExit(f"no UDP echo on port {port}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--build", default="build-bench", help="where bench/loadgen and bench/peer_bare_udp are")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=40000)
    ap.add_argument("--backend", default="epoll", choices=["epoll", "io_uring"])
    args = ap.parse_args()
    build = Path(args.build)
    loadgen = build / "bench" / "loadgen"
    servers = {
        "old": [args.old, "--host", "127.0.0.1", "--port", "{port}", "--loops", "1"],
        "new": [args.new, "--host", "127.0.0.1", "--port", "{port}", "--loops", "1"],
        "bare": [str(build / "bench" / "peer_bare_udp"), "--port", "{port}"],
    }
    loads = {"closed": [], "rate": ["--rate", f"{args.rate:g}"]}
    names = list(servers)
    results = {(name, load): [] for name in names for load in loads}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            for load, extra in loads.items():
                port = free_port()
                cmd = ["taskset", "-c", "0"] + [a.replace("{port}", str(port)) for a in servers[name]]
                env = dict(os.environ, GNET_BACKEND=args.backend)
                p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                try:
                    wait_echo(port, p)
                    g = subprocess.run(["taskset", "-c", "1", str(loadgen), "--udp", "--host", "127.0.0.1", "--port",
                                        str(port), "--conns", "16", "--size", "64", "--pipeline", "8", "--duration",
                                        f"{args.duration:g}", "--warmup", "1", "--server-pid", str(p.pid)] + extra,
                                       capture_output=True, text=True, timeout=args.duration + 120)
                finally:
                    p.terminate()
                    p.wait()
                lines = [line for line in g.stdout.splitlines() if line.startswith("{")]
                if g.returncode != 0 or not lines:
                    raise SystemExit(f"loadgen failed: {g.stderr.strip()[-400:]}")
                res = json.loads(lines[-1])
                us = res["server_cpu_us_per_msg"]
                results[(name, load)].append(us)
                print(f"round {r + 1} {name:5} {load:6} {us:.3f} µs/datagram  lost {res.get('lost', 0)}", flush=True)
    for load in loads:
        bare = statistics.median(results[("bare", load)])
        for name in names:
            m = statistics.median(results[(name, load)])
            print(f"{load:6} {name:5} median {m:.3f} µs/datagram = {m / bare:.2f}× bare  "
                  f"(runs: {', '.join(f'{v:.3f}' for v in results[(name, load)])})")


if __name__ == "__main__":
    main()
