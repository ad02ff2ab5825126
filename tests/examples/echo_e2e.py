#!/usr/bin/python3
"""End-to-end tests of examples/echo and examples/echo_pool against the real binaries.

usage: echo_e2e.py ECHO_BINARY ECHO_POOL_BINARY UDP_ECHO_BINARY CASE
Deadlines only turn a hang into a failure; they never decide a pass.
"""
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time

from e2e_process import free_port, raise_fd_limit, start, stop


def echo_roundtrip(sock, payload):
    sock.sendall(payload)
    got = bytearray()
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, f"EOF after {len(got)} bytes"
        got += chunk
    assert bytes(got) == payload, "echoed bytes differ"


def case_tcp(echo, _pool):
    port = free_port()
    proc = start([echo, "--port", str(port), "--loops", "2", "--reuse-port"], f"tcp://127.0.0.1:{port}")
    try:
        for size in (1, 1000, 1 << 20):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                echo_roundtrip(s, os.urandom(size))
    finally:
        stop(proc)


def case_unix(echo, _pool):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "echo.sock")
        proc = start([echo, "--unix", path], f"unix://{path}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(30)
                s.connect(path)
                echo_roundtrip(s, os.urandom(300000))
        finally:
            stop(proc)
        assert not os.path.exists(path), "socket file must be removed on shutdown"
        # A regular file at the path is refused and left alone.
        with open(path, "w") as f:
            f.write("precious")
        r = subprocess.run([echo, "--unix", path], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, "must refuse a regular file"
        assert "not a socket" in r.stderr, r.stderr
        assert open(path).read() == "precious", "the file must not be touched"


def case_bad_flags(echo, _pool):
    for args, text in ((["--port", "70000"], "not in range"), (["--loops", "0"], "not in range"),
                       (["--port", "abc"], "--port")):
        r = subprocess.run([echo] + args, capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, f"{args} must fail"
        assert text in r.stderr + r.stdout, f"{args}: {r.stderr}"
    # A port in use: a clear message naming the address.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = subprocess.run([echo, "--port", str(port)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert f"bind tcp://127.0.0.1:{port}: Address already in use" in r.stderr, r.stderr


def case_echo_pool(_echo, pool):
    """1000 concurrent clients, each message answered after 100 ms of blocking work on the pool."""
    port = free_port()
    proc = start([pool, "--port", str(port), "--workers", "256", "--delay-ms", "100"], f"127.0.0.1:{port}")
    try:
        sel = selectors.DefaultSelector()
        want = {}
        for i in range(1000):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            msg = f"client {i} says {os.urandom(8).hex()}".encode()
            s.sendall(msg)
            s.setblocking(False)
            want[s] = [msg, bytearray()]
            sel.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + 120
        while want and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=5):
                s = key.fileobj
                chunk = s.recv(4096)
                assert chunk, "server closed a client before answering"
                want[s][1] += chunk
                if len(want[s][1]) >= len(want[s][0]):
                    assert bytes(want[s][1]) == want[s][0], "wrong echo"
                    sel.unregister(s)
                    s.close()
                    del want[s]
        assert not want, f"{len(want)} clients never got their echo"
    finally:
        stop(proc)


def case_udp(_echo, _pool, udp):
    port = free_port()
    proc = start([udp, "--port", str(port)], f"udp://127.0.0.1:{port}")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(30)
            s.connect(("127.0.0.1", port))
            for size in (1, 512, 1400, 65507):
                msg = os.urandom(size)
                s.send(msg)
                assert s.recv(70000) == msg, f"datagram of {size} bytes not echoed whole"
    finally:
        stop(proc)


def main():
    raise_fd_limit()
    echo, pool, udp, case = sys.argv[1:5]
    fn = globals()["case_" + case]
    fn(echo, pool, udp) if case == "udp" else fn(echo, pool)
    print(f"{case}: ok")


if __name__ == "__main__":
    main()
