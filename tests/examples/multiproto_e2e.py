#!/usr/bin/python3
"""End-to-end test of examples/multiproto: TCP echo, UDP echo and a Unix admin socket served by
one engine (gnet::rotate), each checked with real sockets, then stopped through the admin
socket and, in a second run, by SIGTERM (Options::stop_signals).

usage: multiproto_e2e.py MULTIPROTO_BINARY
Deadlines only turn a hang into a failure; they never decide a pass.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile

from prometheus_client.parser import text_string_to_metric_families

from e2e_process import free_port, start


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, f"closed after {len(out)} of {n} bytes"
        out += chunk
    return out


def admin(path, command, until=b"\n", newline=True):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(path)
        s.sendall(command.encode() + (b"\n" if newline else b""))
        out = b""
        while not out.endswith(until):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out.decode()


def main(binary):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "admin.sock")
        port = free_port()
        proc = start([binary, "--port", str(port), "--unix", path, "--loops", "2"], "multiproto: serving")
        try:
            assert oct(os.stat(path).st_mode & 0o777) == "0o600", "the admin socket is private"
            tcp = socket.create_connection(("127.0.0.1", port), timeout=30)
            payload = os.urandom(1 << 20)
            tcp.sendall(payload)
            assert recv_exact(tcp, len(payload)) == payload, "tcp echo differs"

            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.settimeout(30)
            udp.connect(("127.0.0.1", port))
            for i in range(100):
                d = os.urandom(1 + i * 13)
                udp.send(d)
                assert udp.recv(65536) == d, f"udp datagram {i} differs"

            stats = admin(path, "stats", until=b"datagrams 100\n")
            assert f"tcp echo tcp://127.0.0.1:{port}: open 1, accepted 1" in stats, stats
            assert f"admin unix://{path}: open 1, accepted 1" in stats, stats
            assert f"udp echo udp://127.0.0.1:{port}: datagrams 100" in stats, stats

            text = admin(path, "metrics", until=b"# end\n")
            families = {f.name: f for f in text_string_to_metric_families(text.replace("# end\n", ""))}
            opened = families["gnet_connections_open"]
            total = sum(s.value for s in opened.samples)
            assert total >= 2, f"tcp client + admin client open: {total}"

            assert admin(path, "bogus") == "error: unknown command 'bogus' (stats, metrics, stop)\n"
            for newline in (True, False):  # a complete long line, and one that never ends
                long_line = admin(path, "x" * 300, until=b"bytes\n", newline=newline)
                assert long_line == "error: line longer than 256 bytes\n", long_line

            assert admin(path, "stop") == "stopping\n"
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, (proc.returncode, err)
            tcp.close()
            udp.close()
            assert not os.path.exists(path), "the socket file is removed at exit"
        finally:
            if proc.poll() is None:
                proc.kill()

        proc = start([binary, "--port", str(port), "--unix", path], "multiproto: serving")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, ("SIGTERM stops gracefully through Options::stop_signals", proc.returncode, err)
    print("multiproto: ok")


if __name__ == "__main__":
    main(sys.argv[1])
