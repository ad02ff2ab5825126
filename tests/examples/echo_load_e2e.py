#!/usr/bin/python3
"""End-to-end tests of examples/echo_load (gnet::Client with reconnect and backoff) against
examples/echo.

usage: echo_load_e2e.py ECHO_LOAD_BINARY ECHO_BINARY CASE
  basic    20 connections for 1 s: messages complete, every echoed byte matches, no reconnect
  restart  the echo server is killed (SIGKILL) mid-run and started again on the same port:
           each of the 20 connections reconnects, no echo is wrong
  refused  nothing listens: exit 1, the dial error named
  corrupt  a server that flips one byte of each echo: caught, exit 1
Deadlines only turn a hang into a failure; they never decide a pass.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from e2e_process import free_port, start, stop


def run_load(load, address, *extra, timeout=120):
    r = subprocess.run([load, "--connect", address, "--json", *extra], capture_output=True, text=True,
                       timeout=timeout)
    summary = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else None
    return r, summary


def case_basic(load, echo):
    port = free_port()
    server = start([echo, "--port", str(port)], f"tcp://127.0.0.1:{port}")
    try:
        for size in ("64", "70000"):
            r, s = run_load(load, f"tcp://127.0.0.1:{port}", "-c", "20", "-d", "1", "--loops", "2", "-s", size)
            assert r.returncode == 0, (r.returncode, r.stderr)
            assert s["completed"] > 0 and s["corrupt"] == 0, s
            assert s["reconnects"] == 0 and s["dial_failures"] == 0 and s["interrupted"] == 0, s
    finally:
        stop(server)


def case_restart(load, echo):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    server = start([echo, "--port", str(port)], address)
    proc = subprocess.Popen([load, "--connect", address, "--json", "-c", "20", "-d", "4", "--loops", "2",
                             "--backoff-initial-ms", "20", "--backoff-max-ms", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        server.kill()  # no goodbye: the kernel resets or closes every connection
        server.wait()
        time.sleep(0.5)  # dials in this gap are refused and retried with backoff
        server = start([echo, "--port", str(port)], address)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        stop(server)
    assert proc.returncode == 0, (proc.returncode, err)
    s = json.loads(out.strip().splitlines()[-1])
    print("restart:", s)
    assert s["corrupt"] == 0, s
    assert s["connections_reconnected"] == 20, f"each connection reconnects after the restart: {s}"
    # At least once each. A redial that lands in the dying server's listen backlog (its
    # listening socket can outlive its connections by a moment) is reset and redialed again.
    assert s["reconnects"] >= 20, s
    assert s["dial_failures"] >= 1 and "refused" in s["last_dial_error"].lower(), s
    assert s["interrupted"] <= s["reconnects"], s
    assert s["completed"] > 0, s


def case_refused(load, echo):
    port = free_port()
    r, s = run_load(load, f"tcp://127.0.0.1:{port}", "-c", "3", "-d", "0.5")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "no message completed: Connection refused" in r.stderr, r.stderr
    assert s["completed"] == 0 and s["dial_failures"] >= 3, s


def case_corrupt(load, echo):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    stopping = threading.Event()

    def serve(conn):
        with conn:
            while not stopping.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(bytes([data[0] ^ 1]) + data[1:])

    def accept():
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        r, s = run_load(load, f"tcp://127.0.0.1:{port}", "-c", "2", "-d", "0.5")
    finally:
        stopping.set()
        listener.close()
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "echoed bytes differ from the message sent" in r.stderr, r.stderr
    assert s["corrupt"] >= 1, s


if __name__ == "__main__":
    load, echo, case = sys.argv[1], sys.argv[2], sys.argv[3]
    globals()[f"case_{case}"](load, echo)
    print(f"echo_load {case}: ok")
