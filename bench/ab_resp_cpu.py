#!/usr/bin/python3
"""A/B of two builds of examples/redis (and redis-server beside them) by server CPU per request.

    /usr/bin/python3 bench/ab_resp_cpu.py OLD_BINARY NEW_BINARY [--n 3000000] [--rounds 3] [--user]

Each round starts every server in turn (the order rotating) on CPU 0 with one loop and the epoll
backend, runs `redis-benchmark -c 50 -P 16 -t set` then `-t get` (-n each) on CPU 1, and divides
the server's CPU time from /proc/PID/stat over both by 2n. --user counts user time only: a
change to the example's own code shows there without the kernel's share, whose spread between
runs of one binary (±15 % on this VM) hides a few per cent. Prints each run, then the medians
and each build's ratio to redis-server.
"""
import argparse
import os
import socket
import statistics
import subprocess
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, user_only: bool) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime if user_only else utime + stime) / TICKS


def wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--n", type=int, default=3_000_000, help="requests per test (SET, then GET)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--user", action="store_true", help="user CPU time only")
    args = ap.parse_args()
    servers = {
        "old": [args.old, "--port", "{port}", "--loops", "1"],
        "new": [args.new, "--port", "{port}", "--loops", "1"],
        "redis-server": ["redis-server", "--port", "{port}", "--io-threads", "1", "--save", "",
                         "--appendonly", "no", "--dir", "/tmp"],
    }
    names = list(servers)
    results = {name: [] for name in names}
    port = 18400
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            port += 1
            cmd = [a.replace("{port}", str(port)) for a in servers[name]]
            env = dict(os.environ, GNET_BACKEND="epoll")
            server = subprocess.Popen(["taskset", "-c", "0", *cmd], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=env)
            try:
                wait_listening(port)
                spent = 0.0
                for test in ("set", "get"):
                    before = cpu_seconds(server.pid, args.user)
                    subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-c", "50",
                                    "-P", "16", "-t", test, "-n", str(args.n), "-q"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                    spent += cpu_seconds(server.pid, args.user) - before
            finally:
                server.terminate()
                server.wait()
            us = spent / (2 * args.n) * 1e6
            results[name].append(us)
            print(f"round {r + 1} {name}: {us:.3f} us/request", flush=True)
    for name, values in results.items():
        print(f"{name}: median {statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f}) us/request")
    reference = statistics.median(results["redis-server"])
    for name in ("old", "new"):
        print(f"{name} / redis-server: {statistics.median(results[name]) / reference:.3f}")


if __name__ == "__main__":
    main()
