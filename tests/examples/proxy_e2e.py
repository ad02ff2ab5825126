#!/usr/bin/python3
"""End-to-end tests of examples/proxy.

usage: proxy_e2e.py PROXY_BINARY ECHO_BINARY CASE [HTTP_BINARY]
Deadlines only turn a hang into a failure; they never decide a pass.
"""
import os
import selectors
import socket
import sys
import threading
import time

from e2e_process import free_port, raise_fd_limit, start, stop


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def read_to_end(sock):
    """Everything the peer sends until its FIN."""
    got = bytearray()
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return bytes(got)
        got += chunk


def case_many_clients(proxy, echo):
    """200 concurrent clients x 1 MiB each, every byte verified through proxy and echo backend."""
    bport, pport = free_port(), free_port()
    backend = start([echo, "--port", str(bport)], "listening")
    prox = start([proxy, "--port", str(pport), "--backend", f"127.0.0.1:{bport}", "--loops", "2"], "listening")
    try:
        sel = selectors.DefaultSelector()
        state = {}
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", pport), timeout=30)
            s.setblocking(False)
            payload = os.urandom(1 << 20)
            state[s] = {"out": payload, "sent": 0, "got": bytearray()}
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        deadline = time.monotonic() + 300
        while state and time.monotonic() < deadline:
            for key, ev in sel.select(timeout=5):
                s = key.fileobj
                st = state[s]
                if ev & selectors.EVENT_WRITE and st["sent"] < len(st["out"]):
                    try:
                        st["sent"] += s.send(st["out"][st["sent"]:st["sent"] + 262144])
                    except BlockingIOError:
                        pass
                    if st["sent"] == len(st["out"]):
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = s.recv(262144)
                    except BlockingIOError:
                        continue
                    assert chunk, f"proxy closed a client after {len(st['got'])} bytes"
                    st["got"] += chunk
                    if len(st["got"]) >= len(st["out"]):
                        assert bytes(st["got"]) == st["out"], "bytes differ through the proxy"
                        sel.unregister(s)
                        s.close()
                        del state[s]
        assert not state, f"{len(state)} clients unfinished"
    finally:
        stop(prox)
        stop(backend)


def case_stalled_backend(proxy, _echo):
    """A backend that never reads: the proxy must pause the client, not buffer without bound."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    bport = holder.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(holder.accept()), daemon=True).start()
    pport = free_port()
    prox = start([proxy, "--port", str(pport), "--backend", f"127.0.0.1:{bport}", "--write-cap", "262144"],
                 "listening")
    try:
        before = rss_kib(prox.pid)
        c = socket.create_connection(("127.0.0.1", pport), timeout=30)
        c.setblocking(False)
        chunk = b"x" * 65536
        sent, last_progress = 0, time.monotonic()
        # Push until the whole chain (our buffer, proxy, backend's receive window) stops taking more.
        while time.monotonic() - last_progress < 2.0 and sent < (512 << 20):
            try:
                sent += c.send(chunk)
                last_progress = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        grown_mib = (rss_kib(prox.pid) - before) / 1024
        print(f"client pushed {sent >> 20} MiB before back-pressure; proxy RSS grew {grown_mib:.1f} MiB")
        assert sent < (512 << 20), "the proxy kept accepting: no back-pressure"
        # Stated bound: write cap (256 KiB) + one 64 KiB read per direction + allocator slack.
        assert grown_mib < 16, f"proxy grew {grown_mib:.1f} MiB holding a stalled stream"
        c.close()
    finally:
        stop(prox)
        holder.close()


def case_backend_down(proxy, _echo):
    """Backend refuses: the client gets a clean close (EOF, not a reset)."""
    bport, pport = free_port(), free_port()  # nothing listens on bport
    prox = start([proxy, "--port", str(pport), "--backend", f"127.0.0.1:{bport}"], "listening")
    try:
        with socket.create_connection(("127.0.0.1", pport), timeout=30) as c:
            c.sendall(b"hello?")
            assert c.recv(100) == b"", "expected a clean EOF"
        # The proxy is still serving.
        with socket.create_connection(("127.0.0.1", pport), timeout=30) as c:
            assert c.recv(100) == b""
    finally:
        stop(prox)


def case_half_close(proxy, echo):
    """The client's FIN passes to the backend; the echo of everything sent still comes back."""
    bport, pport = free_port(), free_port()
    backend = start([echo, "--port", str(bport)], "listening")
    prox = start([proxy, "--port", str(pport), "--backend", f"127.0.0.1:{bport}"], "listening")
    try:
        with socket.create_connection(("127.0.0.1", pport), timeout=30) as c:
            payload = os.urandom(3 << 20)
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            got = read_to_end(c)
            assert got == payload, f"got {len(got)} of {len(payload)} bytes back"
    finally:
        stop(prox)
        stop(backend)


def whoami(port):
    """GET /whoami through the proxy; returns (the client's own address, the response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        me = c.getsockname()
        c.sendall(b"GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = read_to_end(c)
    return f"{me[0]}:{me[1]}", got


def case_send_proxy(proxy, _echo, http):
    """--send-proxy v1 and v2: the HTTP example behind the proxy, reading PROXY headers
    (--proxy-protocol), reports the real client's address and port, not the proxy's. Without
    --send-proxy the same backend refuses the connection (no header), so the header is what
    carried it."""
    bport = free_port()
    backend = start([http, "--port", str(bport), "--proxy-protocol", "--whoami"], "listening")
    try:
        for version in ("v1", "v2", None):
            pport = free_port()
            args = [proxy, "--port", str(pport), "--backend", f"127.0.0.1:{bport}"]
            if version:
                args += ["--send-proxy", version]
            prox = start(args, "listening")
            try:
                for _ in range(3):
                    client, response = whoami(pport)
                    if version:
                        assert response.startswith(b"HTTP/1.1 200 "), (version, response[:200])
                        assert f"client={client} ".encode() in response, (version, client, response)
                    else:
                        assert response == b"", f"no header, yet the backend answered: {response[:200]!r}"
            finally:
                stop(prox)
    finally:
        stop(backend)


def main():
    raise_fd_limit()
    proxy, echo, case = sys.argv[1:4]
    extra = sys.argv[4:]
    globals()["case_" + case](proxy, echo, *extra)
    print(f"{case}: ok")


if __name__ == "__main__":
    main()
