#!/usr/bin/python3
"""End-to-end tests of examples/websocket against the real binary.

    websocket_e2e.py <path/to/websocket> <case>

Cases: http echo fragmentation ping close_codes protocol_errors broadcast shutdown.

Clients: python3-websockets (Debian's package, legacy asyncio API of 10.x) as the "real client
written by others", and raw sockets for what a well-behaved client library refuses to send
(unmasked frames, reserved bits, bad opcodes, invalid UTF-8, ...).

Each case starts its own server on a free port (--port 0; the port is read back from the
"listening on" line), and kills what it started, by PID, in a finally block. Waits are bounded
only as failure deadlines; timing never decides a pass. The server must exit 0 on SIGTERM, which
under AddressSanitizer also means no leak and no memory error.
"""

import asyncio
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77
DEADLINE = 60.0  # seconds: a failure deadline, never a pass criterion

try:
    import websockets
    import websockets.exceptions
except ImportError:  # pragma: no cover
    print("SKIP: python3-websockets is not installed for /usr/bin/python3 "
          "(apt-get install python3-websockets)")
    sys.exit(SKIP)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


# ---------------------------------------------------------------- server process


class Server:
    """The example binary on 127.0.0.1 and a kernel-chosen port."""

    def __init__(self, binary, *args, env=None):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
        self.lines = []
        found = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if "listening on" in line:
                    found.set()
            found.set()

        threading.Thread(target=reader, daemon=True).start()
        if not found.wait(DEADLINE) or not any("listening on" in l for l in self.lines):
            self.kill()
            raise Failure("server did not report its address; stdout=%r stderr=%s"
                          % (self.lines, self.stderr_tail()))
        line = next(l for l in self.lines if "listening on" in l)
        m = re.fullmatch(r"websocket: listening on (https?)://127\.0\.0\.1:(\d+)/ "
                         r"\((wss?)://127\.0\.0\.1:(\d+)/ws\)", line)
        check(m is not None, "unexpected listening line: %r" % line)
        check(m.group(2) == m.group(4), "http and ws ports differ")
        check((m.group(1) == "https") == (m.group(3) == "wss"), "page and socket schemes disagree")
        self.port = int(m.group(2))
        self.tls = m.group(1) == "https"
        self.url = "%s://127.0.0.1:%d/ws" % (m.group(3), self.port)

    def stderr_tail(self, n=4000):
        return self.stderr_text()[-n:]

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def wait_stderr(self, pattern, what, since=0):
        """Waits (failure deadline) until the server's stderr from offset since on matches the
        regex; returns the match."""
        deadline = time.monotonic() + DEADLINE
        while True:
            m = re.search(pattern, self.stderr_text()[since:])
            if m:
                return m
            check(self.proc.poll() is None, "server died waiting for %s:\n%s" % (what, self.stderr_tail()))
            check(time.monotonic() < deadline, "%s never logged:\n%s" % (what, self.stderr_tail()))
            time.sleep(0.05)

    def signal(self, sig):
        """Asks for a graceful stop. One signal only: the engine's stop_signals handler puts the
        default action back when run() returns, so a second SIGTERM that lands while main()
        finishes would kill the process (exit -15) although it was exiting cleanly."""
        self.signalled = True
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM (unless a stop signal was already sent), then require a clean exit (status
        0) within the deadline."""
        if self.proc.poll() is None and not getattr(self, "signalled", False):
            self.signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("server did not stop within %ss of SIGTERM" % DEADLINE)
        check(rc == 0, "server exited with %s; stderr:\n%s" % (rc, self.stderr_tail()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def connect(url, **kw):
    kw.setdefault("open_timeout", DEADLINE)
    kw.setdefault("close_timeout", DEADLINE)
    kw.setdefault("ping_interval", None)
    return websockets.connect(url, **kw)


async def bounded(coro, what="operation", timeout=DEADLINE):
    try:
        return await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        raise Failure("%s did not finish within %ss" % (what, timeout))


def run_async(coro, what):
    """Runs a whole client scenario; its deadline is longer than any single step's, so the
    step that hangs is the one reported."""
    asyncio.run(bounded(coro, what, DEADLINE * 5))


# ---------------------------------------------------------------- raw socket client


class Raw:
    """A hand-rolled client: sends whatever frames it is told to, reads server frames."""

    def __init__(self, port, path="/ws", upgrade=True, rcvbuf=None, extra=""):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect, so the window is small from the start (no autotuning)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = self.sock.getsockname()[1]
        self.buf = b""
        if upgrade:
            self.sock.sendall(upgrade_request(port, path, extra))
            head = self.read_http_head()
            check(head.startswith(b"HTTP/1.1 101 "), "upgrade refused: %r" % head)

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_bulk(self, n):
        """Reads exactly n bytes; megabytes without quadratic copying."""
        out = bytearray(self.buf[:n])
        self.buf = self.buf[len(out):]
        while len(out) < n:
            data = self.sock.recv(min(1 << 20, n - len(out)))
            if not data:
                raise EOFError
            out += data
        return bytes(out)

    def read_http_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head + b"\r\n\r\n"

    def read_http_response(self):
        """(status, headers dict lowercased, body) for one Content-Length response."""
        head = self.read_http_head().decode()
        lines = head.split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = self.read_exact(int(headers.get("content-length", "0")))
        return status, headers, body

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", fin=True, masked=True, rsv=0):
        self.send(frame(opcode, payload, fin, masked, rsv))

    def recv_frame(self):
        b0, b1 = self.read_exact(2)
        check(not b1 & 0x80, "server frame is masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self.read_exact(n)

    def expect_close(self, code, answer=True):
        """Reads frames until a close; checks its code; answers it; requires EOF after."""
        while True:
            fin, op, payload = self.recv_frame()
            if op == 0x8:
                break
        got = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        check(got == code, "expected close %s, got %s (%r)" % (code, got, payload[2:]))
        if answer:
            self.send_frame(0x8, payload[:2])
        self.expect_eof()
        return payload[2:].decode()

    def expect_eof(self):
        """The server closes TCP (bounded by the socket timeout)."""
        try:
            while True:
                self._fill()
        except EOFError:
            return
        except ConnectionResetError:
            raise Failure("connection reset instead of a clean close")
        except socket.timeout:
            raise Failure("server did not close the connection within %ss" % DEADLINE)


def frame(opcode, payload=b"", fin=True, masked=True, rsv=0):
    if isinstance(payload, str):
        payload = payload.encode()
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        head += bytes([m | n])
    elif n <= 0xFFFF:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    mask = (key * (n // 4 + 1))[:n]  # XOR as big integers: fast for megabytes
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return head + key + masked


def upgrade_request(port, path="/ws", extra=""):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n%s\r\n" % (path, port, extra)).encode()


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


# ---------------------------------------------------------------- cases


def case_http(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2")
    try:
        # The chat page, keep-alive, pipelined: two requests in one write, two responses.
        r = Raw(srv.port, upgrade=False)
        r.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(2):
            status, headers, body = r.read_http_response()
            check(status == 200, "GET / -> %s" % status)
            check(headers.get("content-type", "").startswith("text/html"), "page content type")
            check(b"<html" in body and b"/ws" in body and b"new WebSocket" in body,
                  "chat page body")
        r.send(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = r.read_http_response()
        check(status == 404, "GET /nope -> %s" % status)
        r.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        status, headers, _ = r.read_http_response()
        check(status == 405 and headers.get("allow") == "GET", "POST / -> %s" % status)
        r.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, _ = r.read_http_response()
        check(status == 200, "last request")
        r.expect_eof()
        r.close()

        def refused(request, want, header=None):
            c = Raw(srv.port, upgrade=False)
            c.send(request)
            status, headers, body = c.read_http_response()
            check(status == want, "%r -> %s (want %s) %r" % (request[:60], status, want, body))
            if header:
                check(headers.get(header[0].lower()) == header[1], "header %s" % (header,))
            c.expect_eof()
            c.close()

        good = upgrade_request(srv.port).decode()
        refused(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426, ("Upgrade", "websocket"))
        refused(good.replace("Version: 13", "Version: 8").encode(), 426,
                ("Sec-WebSocket-Version", "13"))
        refused(good.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "").encode(), 400)
        refused(good.replace("dGhlIHNhbXBsZSBub25jZQ==", "short").encode(), 400)
        refused(good.replace("Connection: Upgrade", "Connection: keep-alive").encode(), 400)
        refused(good.replace("GET", "PUT", 1).encode(), 400)
        refused(b"GARBAGE\r\n\r\n", 400)
        refused(b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431)

        # The RFC 6455 example key gets the RFC's accept value; a frame pipelined right behind
        # the handshake is served too.
        c = Raw(srv.port, upgrade=False)
        c.send(upgrade_request(srv.port) + frame(0x1, "right behind the handshake"))
        head = c.read_http_head().decode()
        check(head.startswith("HTTP/1.1 101 "), head)
        check("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head, head)
        check(c.recv_frame() == (True, 0x1, b"right behind the handshake"), "pipelined frame")
        c.send_frame(0x8, close_payload(1000))
        c.expect_close(1000, answer=False)
        c.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        srv.kill()  # by PID; a no-op once stopped


def case_echo(binary):
    srv = Server(binary, "--mode", "echo", "--loops", "2", "--max-message", str(4 << 20))

    async def one_client(i):
        async with connect(srv.url, max_size=None) as ws:
            texts = ["hello %d" % i, "", "ünïcødé ✓ 😀 %d" % i, "x" * 125, "y" * 126, "z" * 65536]
            for t in texts:
                await ws.send(t)
                got = await bounded(ws.recv(), "echo of text")
                check(got == t, "text echo mismatch (%d bytes)" % len(t))
            blob = bytes(range(256)) * 4
            await ws.send(blob)
            check(await bounded(ws.recv()) == blob, "binary echo mismatch")
            # Many messages written at once come back in order.
            for k in range(100):
                await ws.send("burst %d-%d" % (i, k))
            for k in range(100):
                check(await bounded(ws.recv()) == "burst %d-%d" % (i, k), "burst order")
            # Large: 3 MiB binary, far more than one read buffer (kept across on_traffic calls).
            big = os.urandom(3 << 20)
            await ws.send(big)
            check(await bounded(ws.recv(), "large echo") == big, "large echo mismatch")
        check(ws.close_code == 1000, "close code %s" % ws.close_code)

    try:
        async def all_clients():
            await asyncio.gather(*(one_client(i) for i in range(4)))

        run_async(all_clients(), "echo clients")
        # The server's frames are checked byte-exactly too: minimal lengths, FIN, no mask.
        r = Raw(srv.port)
        for n in (0, 125, 126, 65535, 65536):
            r.send_frame(0x2, b"b" * n)
            fin, op, payload = r.recv_frame()
            check(fin and op == 0x2 and payload == b"b" * n, "raw echo of %d bytes" % n)
        r.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        srv.kill()  # by PID; a no-op once stopped


def case_fragmentation(binary):
    srv = Server(binary, "--mode", "echo", "--loops", "2")

    async def lib():
        async with connect(srv.url) as ws:
            await ws.send(iter(["frag", "ment", "ed ", "✓"]))  # websockets sends 4 frames
            check(await bounded(ws.recv()) == "fragmented ✓", "fragmented text")
            await ws.send(iter([b"\x00\x01", b"", b"\x02"]))
            check(await bounded(ws.recv()) == b"\x00\x01\x02", "fragmented binary")

    try:
        run_async(lib(), "websockets fragmentation")

        # Raw: fragments in separate writes, a ping between them, a UTF-8 character split across
        # fragments; the pong comes first, then the whole message.
        r = Raw(srv.port)
        euro = "€".encode()
        r.send_frame(0x1, b"price: " + euro[:1], fin=False)
        r.send_frame(0x9, b"mid-message ping")
        r.send_frame(0x0, euro[1:], fin=False)
        r.send_frame(0x0, b"5")
        check(r.recv_frame() == (True, 0xA, b"mid-message ping"), "pong between fragments")
        check(r.recv_frame() == (True, 0x1, "price: €5".encode()), "reassembled message")

        # One frame trickled in byte by byte: partial frames wait for the rest.
        data = frame(0x2, bytes(range(200)))
        for i in range(len(data)):
            r.send(data[i:i + 1])
        check(r.recv_frame() == (True, 0x2, bytes(range(200))), "trickled frame")

        # Many small fragments.
        parts = [("part%d;" % k).encode() for k in range(300)]
        out = b"".join(frame(0x0 if k else 0x1, p, fin=(k == len(parts) - 1)) for k, p in enumerate(parts))
        r.send(out)
        check(r.recv_frame() == (True, 0x1, b"".join(parts)), "300 fragments")
        r.send_frame(0x8, close_payload(1000))
        r.expect_close(1000, answer=False)
        r.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        srv.kill()  # by PID; a no-op once stopped


def case_ping(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2")

    async def lib():
        async with connect(srv.url) as ws:
            for payload in (b"", b"abc", bytes(125)):
                waiter = await ws.ping(payload)
                await bounded(waiter, "pong for %d-byte ping" % len(payload))
            # Pings and messages interleaved: every ping answered, every message delivered.
            waiters = []
            for k in range(20):
                waiters.append(await ws.ping(b"p%d" % k))
                await ws.send("m%d" % k)
            await bounded(asyncio.gather(*waiters), "20 pongs")
            for k in range(20):
                check(await bounded(ws.recv()) == "m%d" % k, "message after pings")

    try:
        run_async(lib(), "ping")
        r = Raw(srv.port)
        r.send_frame(0x9, b"raw ping")
        check(r.recv_frame() == (True, 0xA, b"raw ping"), "raw pong echoes the payload")
        r.send_frame(0xA, b"unsolicited pong")  # must be ignored
        r.send_frame(0x9, b"")
        check(r.recv_frame() == (True, 0xA, b""), "empty pong")
        r.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        srv.kill()  # by PID; a no-op once stopped


def case_close_codes(binary):
    srv = Server(binary, "--mode", "echo", "--loops", "2", "--max-message", "65536")

    async def lib():
        # Normal close: the server echoes the client's status code.
        for code, reason in ((1000, "bye"), (1001, ""), (4000, "app-defined")):
            async with connect(srv.url) as ws:
                await ws.send("hi")
                await bounded(ws.recv())
                await bounded(ws.close(code, reason), "close handshake")
            check(ws.close_code == code, "close %s echoed as %s" % (code, ws.close_code))

        # Invalid UTF-8 in a text frame -> 1007 (websockets never sends that itself, so the
        # frame is written through its low-level API).
        async with connect(srv.url) as ws:
            await ws.write_frame(True, 0x1, b"bad \xff utf-8")
            await bounded(ws.wait_closed(), "close after invalid UTF-8")
        check(ws.close_code == 1007, "invalid UTF-8 -> %s" % ws.close_code)

        # ... also when the bad sequence is split across fragments.
        async with connect(srv.url) as ws:
            await ws.write_frame(False, 0x1, b"ok \xf0\x9f")
            await ws.write_frame(True, 0x0, b"\x41")  # continuation byte expected, 'A' found
            await bounded(ws.wait_closed())
        check(ws.close_code == 1007, "split invalid UTF-8 -> %s" % ws.close_code)

        # One byte over --max-message -> 1009, in one frame or in fragments.
        async with connect(srv.url) as ws:
            await ws.send(b"x" * 65536)
            check(len(await bounded(ws.recv())) == 65536, "max-size message accepted")
            await ws.send(b"x" * 65537)
            await bounded(ws.wait_closed(), "close after oversize")
        check(ws.close_code == 1009, "oversize -> %s" % ws.close_code)
        async with connect(srv.url) as ws:
            await ws.send(iter([b"y" * 40000, b"y" * 40000]))
            await bounded(ws.wait_closed())
        check(ws.close_code == 1009, "fragmented oversize -> %s" % ws.close_code)
        # Far over the limit: the payload is still arriving when the server answers; it must
        # skip it and still complete the closing handshake (no reset).
        async with connect(srv.url) as ws:
            await ws.send(b"z" * (8 << 20))
            await bounded(ws.wait_closed())
        check(ws.close_code == 1009, "8 MiB oversize -> %s" % ws.close_code)

    try:
        run_async(lib(), "close codes")

        # Unmasked client frame -> 1002 (raw socket: client libraries always mask).
        r = Raw(srv.port)
        r.send_frame(0x1, b"not masked", masked=False)
        reason = r.expect_close(1002)
        check("mask" in reason, "1002 reason %r" % reason)
        r.close()

        # Empty close frame -> empty close frame back (no status to echo), then EOF.
        r = Raw(srv.port)
        r.send_frame(0x8, b"")
        check(r.recv_frame() == (True, 0x8, b""), "empty close echoed empty")
        r.expect_eof()
        r.close()

        # The server's close is answered late: it still closes only after the answer (or its own
        # timeout), and data sent meanwhile is ignored, not echoed.
        r = Raw(srv.port)
        r.send_frame(0x1, b"\xc3\x28")  # invalid UTF-8
        fin, op, payload = r.recv_frame()
        check(op == 0x8 and payload[:2] == close_payload(1007), "1007 close frame")
        r.send_frame(0x1, b"ignored after close")
        r.send_frame(0x8, payload[:2])
        r.expect_eof()
        r.close()

        # A client that never answers is disconnected by the server's own close timeout.
        r = Raw(srv.port)
        r.send_frame(0x2, b"q" * 70000)
        r.expect_close(1009, answer=False)
        r.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        srv.kill()  # by PID; a no-op once stopped


def case_protocol_errors(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2")
    cases = [
        ("RSV1 set", frame(0x1, b"x", rsv=4), 1002),
        ("RSV3 set", frame(0x2, b"x", rsv=1), 1002),
        ("reserved data opcode 3", frame(0x3, b"x"), 1002),
        ("reserved control opcode 11", frame(0xB, b""), 1002),
        ("ping over 125 bytes", frame(0x9, b"p" * 126), 1002),
        ("fragmented ping", frame(0x9, b"p", fin=False), 1002),
        ("continuation without a message", frame(0x0, b"c"), 1002),
        ("new message inside a fragmented one",
         frame(0x1, b"a", fin=False) + frame(0x1, b"b"), 1002),
        ("close with a 1-byte payload", frame(0x8, b"\x03"), 1002),
        ("close code 1005 on the wire", frame(0x8, close_payload(1005)), 1002),
        ("close code 2999", frame(0x8, close_payload(2999)), 1002),
        ("close reason not UTF-8", frame(0x8, close_payload(1000, b"\xff")), 1007),
        ("text frame with a surrogate", frame(0x1, b"\xed\xa0\x80"), 1007),
    ]
    try:
        # A bystander in the chat must not receive anything from the offenders.
        bystander = Raw(srv.port)
        for name, data, code in cases:
            r = Raw(srv.port)
            r.send(data)
            try:
                r.expect_close(code)
            except Failure as e:
                raise Failure("%s: %s" % (name, e))
            r.close()
        # The bystander still works and saw nothing but its own message.
        bystander.send_frame(0x1, b"still here")
        check(bystander.recv_frame() == (True, 0x1, b"still here"), "bystander after errors")
        bystander.send_frame(0x8, close_payload(1000))
        bystander.expect_close(1000, answer=False)
        bystander.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        srv.kill()  # by PID; a no-op once stopped


def case_broadcast(binary):
    clients, per_client = 50, 3
    srv = Server(binary, "--mode", "broadcast", "--loops", "4")

    async def run():
        conns = [await bounded(connect(srv.url), "connect") for _ in range(clients)]
        # Every handshake has completed, so every client is registered: send now.
        expected = {"c%02d-m%d" % (i, k) for i in range(clients) for k in range(per_client)}

        async def sender(i, ws):
            for k in range(per_client):
                await ws.send("c%02d-m%d" % (i, k))

        async def receiver(ws):
            got = []
            while len(got) < len(expected):
                got.append(await bounded(ws.recv(), "broadcast message"))
            return got

        receivers = [asyncio.ensure_future(receiver(ws)) for ws in conns]
        await asyncio.gather(*(sender(i, ws) for i, ws in enumerate(conns)))
        results = await bounded(asyncio.gather(*receivers), "all broadcasts", DEADLINE * 2)
        for idx, got in enumerate(results):
            check(len(got) == len(set(got)), "client %d got duplicates" % idx)
            check(set(got) == expected, "client %d missed %d messages"
                  % (idx, len(expected - set(got))))
            # Messages of one sender arrive in the order sent.
            for i in range(clients):
                mine = [m for m in got if m.startswith("c%02d-" % i)]
                check(mine == ["c%02d-m%d" % (i, k) for k in range(per_client)],
                      "client %d saw sender %d out of order: %r" % (idx, i, mine))
        # Nothing extra arrives: a ping round trip drains anything in flight.
        for ws in conns:
            await bounded(await ws.ping(b"end"), "final pong")
            check(not ws.messages, "extra messages delivered")
        # Leaving clients are removed from the registry; the rest keep chatting.
        for ws in conns[10:]:
            await bounded(ws.close(), "close")
        await conns[0].send("after departures")
        for ws in conns[:10]:
            check(await bounded(ws.recv()) == "after departures", "broadcast after departures")
        for ws in conns[:10]:
            await bounded(ws.close())
            check(ws.close_code == 1000, "close code %s" % ws.close_code)

    try:
        run_async(run(), "broadcast")
        # The tick log counts clients; after everyone left it must come back to 0. (Read only
        # for the message; the wait is a failure deadline.)
        deadline = time.monotonic() + DEADLINE
        while "0 websocket client(s)" not in srv.stderr_tail(300):
            check(time.monotonic() < deadline, "tick log never reported 0 clients:\n%s"
                  % srv.stderr_tail())
            time.sleep(0.2)
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        srv.kill()  # by PID; a no-op once stopped


def case_shutdown(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2")

    async def run():
        conns = [await bounded(connect(srv.url)) for _ in range(5)]
        await conns[0].send("before shutdown")
        for ws in conns:
            check(await bounded(ws.recv()) == "before shutdown", "message before shutdown")
        srv.signal(signal.SIGTERM)
        for ws in conns:
            await bounded(ws.wait_closed(), "disconnect on shutdown")

    try:
        run_async(run(), "shutdown")
        srv.stop()  # exit status 0 required
        # SIGINT works too.
        srv = Server(binary, "--mode", "echo", "--loops", "1")
        srv.signal(signal.SIGINT)
        srv.stop()
        # Bad flag values exit non-zero with a message.
        for args in (["--mode", "shout"], ["--port", "70000"], ["--loops", "0"],
                     ["--max-message", "0"], ["--max-member-backlog", "100"], ["--nonsense"]):
            p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=DEADLINE)
            check(p.returncode != 0, "%s accepted" % args)
            check((p.stdout + p.stderr).strip(), "%s: no message" % args)
        # A port already taken: a clear error, non-zero exit.
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        p = subprocess.run([binary, "--host", "127.0.0.1", "--port", str(port)],
                           capture_output=True, text=True, timeout=DEADLINE)
        holder.close()
        check(p.returncode != 0 and str(port) in p.stderr, "busy port: %r" % p.stderr)
    finally:
        srv.kill()  # by PID; a no-op once stopped


# ---------------------------------------------------------------- hostile clients: helpers
#
# Each hostile case measures the server's resident memory (VmRSS from /proc) against a bound
# written below, while well-behaved members on other connections keep being served.

MiB = 1 << 20
MAX_MESSAGE = 1 << 20  # the server's --max-message default
MAX_MEMBER_BACKLOG = 4 << 20  # the server's --max-member-backlog default
HOSTILE_RCVBUF = 64 << 10  # non-readers' receive buffer: the kernel absorbs little for them


def hostile_env():
    """The server's environment for memory measurements. AddressSanitizer keeps freed memory in
    a 256 MiB quarantine, so RSS would measure ASan rather than the server: these cases turn the
    quarantine off (every other case keeps it)."""
    env = dict(os.environ)
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=0"
    return env


class Rss:
    """The server's VmRSS, its baseline (taken at construction) and the peak seen by sample()."""

    def __init__(self, srv):
        self.pid = srv.proc.pid
        with open("/proc/%d/maps" % self.pid) as f:
            # ThreadSanitizer's shadow is a multiple of the heap: a byte bound would mean nothing.
            self.measurable = "libtsan" not in f.read()
        self.baseline = self.now()
        self.peak = self.baseline

    def now(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise Failure("no VmRSS for %d" % self.pid)

    def sample(self):
        value = self.now()
        self.peak = max(self.peak, value)
        return value

    def check_growth(self, bound, what):
        self.sample()
        growth = self.peak - self.baseline
        print("%s: RSS %.1f MiB, peak %.1f MiB: growth %.1f MiB (bound %.1f MiB)%s"
              % (what, self.baseline / MiB, self.peak / MiB, growth / MiB, bound / MiB,
                 "" if self.measurable else " -- not checked under ThreadSanitizer"))
        if self.measurable:
            check(growth <= bound, "%s: RSS grew %.1f MiB, over the bound of %.1f MiB"
                  % (what, growth / MiB, bound / MiB))

    def wait_below(self, bound, what):
        """Waits (failure deadline) until RSS is at most baseline + bound."""
        if not self.measurable:
            print("%s: not checked under ThreadSanitizer" % what)
            return
        deadline = time.monotonic() + DEADLINE
        while self.now() - self.baseline > bound:
            check(time.monotonic() < deadline, "%s: RSS stayed %.1f MiB over the baseline (bound "
                  "%.1f MiB)" % (what, (self.now() - self.baseline) / MiB, bound / MiB))
            time.sleep(0.1)
        print("%s: RSS back to %.1f MiB over the baseline (bound %.1f MiB)"
              % (what, (self.now() - self.baseline) / MiB, bound / MiB))


class Member:
    """A well-behaved chat member on a raw socket: a thread reads every frame as it arrives and
    keeps the data messages' payloads; the test thread may send on it meanwhile."""

    def __init__(self, port, extra=""):
        self.raw = Raw(port, extra=extra)
        self.messages = []
        self.close_code = None
        self.error = None
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                fin, op, payload = self.raw.recv_frame()
                with self.cond:
                    if op == 0x8:
                        self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                        self.cond.notify_all()
                        return
                    if op in (0x1, 0x2):
                        check(fin, "the server fragmented a message")
                        self.messages.append(payload)
                        self.cond.notify_all()
        except Exception as e:  # noqa: BLE001 - reported by the waiting test thread
            with self.cond:
                self.error = e
                self.cond.notify_all()

    def wait_count(self, n, what):
        """Waits until n messages have arrived (failure deadline)."""
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.messages) >= n or self.error is not None
                                    or self.close_code is not None, DEADLINE)
            check(ok, "%s: %d of %d messages within %ss" % (what, len(self.messages), n, DEADLINE))
            check(len(self.messages) >= n, "%s: connection ended after %d of %d messages (close "
                  "%s, %r)" % (what, len(self.messages), n, self.close_code, self.error))

    def round_trip(self, text):
        """Sends a text message and waits for the broadcast of it to come back: the member is
        still served."""
        data = text.encode()
        with self.cond:
            start = len(self.messages)
        self.raw.send_frame(0x1, data)
        with self.cond:
            ok = self.cond.wait_for(lambda: data in self.messages[start:] or self.error is not None
                                    or self.close_code is not None, DEADLINE)
            check(ok and data in self.messages[start:], "well-behaved member not served: %r not "
                  "received (close %s, %r)" % (text, self.close_code, self.error))

    def close(self):
        try:
            self.raw.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.raw.close()
        self.thread.join(DEADLINE)


class LateReader(threading.Thread):
    """A member that never read until the server logged its eviction; then it reads all that
    is waiting for it, up to the close frame."""

    def __init__(self, srv, raw):
        super().__init__(daemon=True)
        self.srv, self.raw = srv, raw
        self.code = None
        self.frames = 0
        self.error = None
        self.start()

    def run(self):
        try:
            self.srv.wait_stderr(r"disconnecting 127\.0\.0\.1:%d with 1008" % self.raw.local_port,
                                 "the eviction of the late reader")
            while True:
                fin, op, payload = self.raw.recv_frame()
                if op == 0x8:
                    self.code = struct.unpack("!H", payload[:2])[0]
                    return
                self.frames += 1
        except Exception as e:  # noqa: BLE001 - checked by the test thread
            self.error = e


# The fan-out flood of issue 12: one sender of FLOOD_MESSAGES x FLOOD_SIZE binary messages to a
# chat with members that never read. Two well-behaved members (the sender and an observer) read
# everything and never fall more than WELL_BEHAVED_LAG messages behind.
FLOOD_SIZE = 100_000
WELL_BEHAVED_LAG = 8


def flood_payload(i):
    return struct.pack("!I", i) * (FLOOD_SIZE // 4)


def flood(rss, sender, observer, messages):
    for i in range(messages):
        sender.raw.send_frame(0x2, flood_payload(i))
        rss.sample()
        for m in (sender, observer):
            m.wait_count(i + 1 - WELL_BEHAVED_LAG, "well-behaved member during the flood")
    for m in (sender, observer):
        m.wait_count(messages, "well-behaved member after the flood")
        check(len(m.messages) == messages and
              all(m.messages[i] == flood_payload(i) for i in range(messages)),
              "a well-behaved member did not receive every broadcast message in order")
        del m.messages[:]


# ---------------------------------------------------------------- hostile clients: cases


# 20 non-readers each hold at most the backlog cap plus a frame that passes it; 64 MiB covers the
# well-behaved members, the frames in flight, the library's block pools and sanitizer overhead.
SLOW_MEMBERS = 20
SLOW_MESSAGES = 200  # 20 MB per member: far beyond the cap plus the kernel's socket buffers
SLOW_RSS_BOUND = SLOW_MEMBERS * (MAX_MEMBER_BACKLOG + 2 * FLOOD_SIZE) + 64 * MiB


def case_slow_members(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2", env=hostile_env())
    conns = []
    try:
        sender, observer = Member(srv.port), Member(srv.port)
        conns += [sender, observer]
        hostile = [Raw(srv.port, rcvbuf=HOSTILE_RCVBUF) for _ in range(SLOW_MEMBERS)]
        conns += hostile
        rss = Rss(srv)
        late = LateReader(srv, hostile[0])
        flood(rss, sender, observer, SLOW_MESSAGES)
        rss.check_growth(SLOW_RSS_BOUND, "%d members that never read" % SLOW_MEMBERS)
        # Every non-reader is disconnected and counted; the well-behaved ones are not.
        srv.wait_stderr(r", %d evicted\n" % SLOW_MEMBERS, "the count of %d evictions" % SLOW_MEMBERS)
        late.join(DEADLINE)
        check(late.error is None, "late reader: %r" % late.error)
        check(late.code == 1008, "late reader got close %s after %d frames, not 1008"
              % (late.code, late.frames))
        sender.round_trip("still a member")
        observer.wait_count(1, "observer after the evictions")
        for c in conns:
            c.close()
        srv.stop()  # SIGTERM; requires a clean exit
        check(any(re.search(r"stopped; %d member\(s\) disconnected for an output backlog over %d "
                            r"bytes" % (SLOW_MEMBERS, MAX_MEMBER_BACKLOG), l) for l in srv.lines),
              "eviction count at shutdown: %r" % srv.lines[-2:])
    finally:
        for c in conns:
            c.close()
        srv.kill()  # by PID; a no-op once stopped


# Members that leave with a backlog: their queues are freed and the memory handed back to the
# kernel. The cap is raised so that nobody is evicted: they hold their queues until they leave.
LEAVE_MEMBERS = 10
LEAVE_MESSAGES = 100  # 10 MB per member, about 6 MiB of it queued in the server
LEAVE_BACKLOG = 16 * MiB
LEAVE_HELD_AT_LEAST = 32 * MiB  # the test means something only if the members held memory
LEAVE_RETURN_BOUND = 32 * MiB  # what may stay after they left: pools, allocator, ASan shadow


def case_members_leave(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2",
                 "--max-member-backlog", str(LEAVE_BACKLOG), env=hostile_env())
    conns = []
    try:
        rss = Rss(srv)  # before anyone connects: the memory must come back to this
        sender, observer = Member(srv.port), Member(srv.port)
        conns += [sender, observer]
        hostile = [Raw(srv.port, rcvbuf=HOSTILE_RCVBUF) for _ in range(LEAVE_MEMBERS)]
        flood(rss, sender, observer, LEAVE_MESSAGES)
        rss.check_growth(LEAVE_MEMBERS * (LEAVE_BACKLOG + 2 * FLOOD_SIZE) + 64 * MiB,
                         "%d members holding their backlog" % LEAVE_MEMBERS)
        if rss.measurable:
            check(rss.peak - rss.baseline >= LEAVE_HELD_AT_LEAST, "the members held only %.1f MiB: "
                  "the test proves nothing" % ((rss.peak - rss.baseline) / MiB))
        since = len(srv.stderr_text())
        for h in hostile:
            h.close()
        srv.wait_stderr(r"\b2 websocket client\(s\), 0 evicted\n", "the departure of the members",
                        since)
        rss.wait_below(LEAVE_RETURN_BOUND, "%d members left" % LEAVE_MEMBERS)
        sender.round_trip("after the departures")
        observer.wait_count(1, "observer after the departures")
        for c in conns:
            c.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        for c in conns:
            c.close()
        srv.kill()  # by PID; a no-op once stopped


# Slowloris against the handshake: connections that trickle an upgrade request that never ends,
# or send nothing at all. --handshake-timeout is HEAD_TIMEOUT; a trickler sends one byte every
# TRICKLE_GAP, so if trickled bytes extended the deadline it would never be closed.
HEAD_TIMEOUT = 2.0
TRICKLE_GAP = 0.25
TRICKLERS = 150
SILENT = 50
# Each holds a partial head (under 8 KiB) and a connection's bookkeeping.
HEAD_RSS_BOUND = (TRICKLERS + SILENT) * 16 * 1024 + 16 * MiB


def case_handshake_deadline(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2",
                 "--handshake-timeout", str(HEAD_TIMEOUT), env=hostile_env())
    socks = []
    observer = None
    try:
        observer = Member(srv.port)
        rss = Rss(srv)
        # Trickling starts with a valid request line and Host, then a header that never ends.
        start = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Trickle: " % srv.port).encode()
        tricklers, silent = [], []
        for i in range(TRICKLERS + SILENT):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=DEADLINE)
            s.setblocking(False)
            socks.append(s)
            if i < TRICKLERS:
                s.sendall(start)
                tricklers.append(s)
            else:
                silent.append(s)
        open_socks = {s: b"" for s in socks}  # what each got back so far
        sent = {s: 0 for s in tricklers}  # bytes trickled after the start
        ended = {}  # socket -> what it received before the server closed it
        deadline = time.monotonic() + DEADLINE
        rounds = 0
        while open_socks:
            check(time.monotonic() < deadline, "%d connections still open after %ss (handshake "
                  "timeout %ss)" % (len(open_socks), DEADLINE, HEAD_TIMEOUT))
            for s in list(open_socks):
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    data = None
                except ConnectionResetError:
                    data = b""
                if data:
                    open_socks[s] += data
                    continue
                if data == b"":
                    ended[s] = open_socks.pop(s)
                    continue
                if s in sent:
                    try:
                        s.send(b"a")
                        sent[s] += 1
                    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                        pass
            rss.sample()
            # Meanwhile a well-behaved member is served.
            observer.round_trip("round %d" % rounds)
            rounds += 1
            time.sleep(TRICKLE_GAP)
        # Closed at the deadline, although bytes kept coming after it: the tricklers sent more
        # than HEAD_TIMEOUT / TRICKLE_GAP bytes each only if the deadline had been extended.
        for s in tricklers:
            check(ended[s].startswith(b"HTTP/1.1 408 "), "trickler got %r, not 408" % ended[s][:60])
        for s in silent:
            check(ended[s] == b"", "silent connection got %r" % ended[s][:60])
        print("tricklers sent %d-%d bytes each before the close" % (min(sent.values()), max(sent.values())))
        logged = len(re.findall(r"no complete request head within the handshake timeout",
                                srv.stderr_text()))
        check(logged == TRICKLERS + SILENT, "%d deadline closes logged, want %d"
              % (logged, TRICKLERS + SILENT))
        rss.check_growth(HEAD_RSS_BOUND, "%d trickling and %d silent handshakes" % (TRICKLERS, SILENT))

        # The deadline restarts after each complete request: a keep-alive client asking for the
        # page every TRICKLE_GAP stays connected for longer than HEAD_TIMEOUT.
        page = Raw(srv.port, upgrade=False)
        requests = int(2 * HEAD_TIMEOUT / TRICKLE_GAP)
        for _ in range(requests):
            page.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, _ = page.read_http_response()
            check(status == 200, "keep-alive page request -> %s" % status)
            time.sleep(TRICKLE_GAP)
        page.close()
        # Upgraded connections have no deadline: the observer outlived every one of them.
        observer.round_trip("still here")
        observer.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        for s in socks:
            s.close()
        if observer:
            observer.close()
        srv.kill()  # by PID; a no-op once stopped


# Cross-site WebSocket hijacking: with --allowed-origin, upgrades from other pages get 403.
ALLOWED = ("http://chat.example", "https://Chat.Example:8443")
REFUSED_UPGRADES = 300
ORIGIN_RSS_BOUND = 16 * MiB  # refused upgrades are closed at once: nothing accumulates


def upgrade_status(port, extra):
    """Sends an upgrade with extra header lines; returns the status, after the server closed
    a refused connection."""
    c = Raw(port, upgrade=False)
    c.send(upgrade_request(port, extra=extra))
    status, _, _ = c.read_http_response()
    if status != 101:
        c.expect_eof()
    c.close()
    return status


def case_origin(binary):
    args = ["--mode", "broadcast", "--loops", "2"]
    for o in ALLOWED:
        args += ["--allowed-origin", o]
    srv = Server(binary, *args, env=hostile_env())
    observer = None
    try:
        check(any("upgrades only from Origin: " + " ".join(ALLOWED) in l for l in srv.lines),
              "startup line: %r" % srv.lines)
        # Browsers send the page's origin; raw sockets let the test send anything.
        observer = Member(srv.port, extra="Origin: http://chat.example\r\n")  # an allowed page
        rss = Rss(srv)
        for origin, want in (("http://chat.example", 101), ("HTTPS://chat.example:8443", 101),
                             ("http://evil.example", 403), ("http://chat.example.evil.example", 403),
                             ("https://chat.example", 403), ("null", 403)):
            got = upgrade_status(srv.port, "Origin: %s\r\n" % origin)
            check(got == want, "Origin %s -> %s, want %s" % (origin, got, want))
        check(upgrade_status(srv.port, "") == 403, "no Origin -> not 403")
        check(upgrade_status(srv.port, "Origin: http://chat.example\r\nOrigin: http://evil.example\r\n")
              == 403, "two Origins -> not 403")

        async def lib():  # what a client library sees
            try:
                async with connect(srv.url, origin="http://evil.example"):
                    raise Failure("upgrade from http://evil.example accepted")
            except websockets.exceptions.InvalidStatusCode as e:
                check(e.status_code == 403, "websockets client: %s" % e.status_code)
            async with connect(srv.url, origin="http://chat.example") as ws:
                await ws.send("from an allowed page")
                check(await bounded(ws.recv()) == "from an allowed page", "allowed client served")

        run_async(lib(), "origin via websockets")
        # Many refused upgrades: nothing accumulates, the member is served meanwhile.
        for i in range(REFUSED_UPGRADES):
            check(upgrade_status(srv.port, "Origin: http://evil%d.example\r\n" % i) == 403,
                  "refused upgrade %d" % i)
            if i % 50 == 0:
                rss.sample()
                observer.round_trip("between refusals %d" % i)
        rss.check_growth(ORIGIN_RSS_BOUND, "%d refused upgrades" % REFUSED_UPGRADES)
        observer.close()
        srv.stop()  # SIGTERM; requires a clean exit

        # Without the flag, today's behaviour: any page may connect (the risk is documented,
        # and the server says so at startup).
        srv = Server(binary, "--mode", "broadcast", "--loops", "1")
        check(any("Origin not checked" in l for l in srv.lines), "startup warning: %r" % srv.lines)
        check(upgrade_status(srv.port, "Origin: http://evil.example\r\n") == 101,
              "without --allowed-origin, an upgrade from any page is accepted")
        srv.stop()
        # A malformed entry is refused at startup.
        for bad in ("https://chat.example/", "chat.example"):
            p = subprocess.run([binary, "--allowed-origin", bad], capture_output=True, text=True,
                               timeout=DEADLINE)
            check(p.returncode != 0 and "--allowed-origin" in p.stderr + p.stdout,
                  "--allowed-origin %s accepted" % bad)
    finally:
        if observer:
            observer.close()
        srv.kill()  # by PID; a no-op once stopped


def close_code_in(data):
    """The status code of the first close frame among the server frames in data (a member may
    get broadcast messages before it)."""
    pos = 0
    while True:
        check(len(data) >= pos + 2, "no close frame from the server (%d bytes)" % len(data))
        b0, b1 = data[pos], data[pos + 1]
        n, pos = b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = struct.unpack("!H", data[pos:pos + 2])[0], pos + 2
        elif n == 127:
            n, pos = struct.unpack("!Q", data[pos:pos + 8])[0], pos + 8
        check(len(data) >= pos + n, "a server frame cut short")
        if b0 & 0x0F == 0x8:
            check(n >= 2, "close frame without a code")
            return struct.unpack("!H", data[pos:pos + 2])[0]
        pos += n


def stream_until_closed(srv, rss, observer, first_chunks, next_chunk, what):
    """Hostile clients that keep sending, ignoring what the server says, until the server closes
    them. first_chunks: one list of bytes to send first per client; next_chunk: bytes sent over
    and over after them. Meanwhile RSS is sampled and the observer must be served. Returns what
    each client received before the server closed it."""
    socks = []
    for _ in first_chunks:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(DEADLINE)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(upgrade_request(srv.port))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)
            check(chunk, "no handshake response")
            head += chunk
        check(head.startswith(b"HTTP/1.1 101 "), "upgrade refused: %r" % head)
        s.setblocking(False)
        socks.append(s)
    queued = {s: list(chunks) for s, chunks in zip(socks, first_chunks)}  # sent before repeats
    out = {s: b"" for s in socks}  # bytes of the current chunk still to send
    got = {s: b"" for s in socks}
    sent = {s: 0 for s in socks}
    open_socks = set(socks)
    deadline = time.monotonic() + DEADLINE
    rounds = 0
    try:
        while open_socks:
            check(time.monotonic() < deadline, "%s: %d hostile connections still open after %ss"
                  % (what, len(open_socks), DEADLINE))
            for s in list(open_socks):
                try:
                    while True:
                        data = s.recv(65536)
                        if not data:
                            open_socks.discard(s)
                            break
                        got[s] += data
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    open_socks.discard(s)  # closed while our bytes kept coming: a reset
                if s not in open_socks:
                    continue
                if not out[s]:  # whole chunks only, so the stream stays made of whole frames
                    out[s] = queued[s].pop(0) if queued[s] else next_chunk
                try:
                    n = s.send(out[s])
                    out[s] = out[s][n:]
                    sent[s] += n
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    open_socks.discard(s)
            rss.sample()
            if rounds % 20 == 0:
                observer.round_trip("%s round %d" % (what, rounds))
            rounds += 1
            time.sleep(0.002)
    finally:
        for s in socks:
            s.close()
    print("%s: hostile clients sent %s KiB before the server closed them"
          % (what, " ".join("%d" % (sent[s] // 1024) for s in socks)))
    return [got[s] for s in socks]


# A fragmented message that never ends: a text frame without FIN, then continuation frames of
# ENDLESS_FRAGMENT bytes forever. The server must stop it at --max-message (1009) and, since the
# client keeps sending instead of answering the close, cut it off after its close timeout.
ENDLESS_CLIENTS = 10
ENDLESS_FRAGMENT = 16 * 1024
# Each holds at most the message being assembled (--max-message) and one read's worth of a
# partial frame; 32 MiB for the rest (the observer, allocator, sanitizer).
ENDLESS_RSS_BOUND = ENDLESS_CLIENTS * (MAX_MESSAGE + 128 * 1024) + 32 * MiB


def case_endless_message(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2", env=hostile_env())
    observer = None
    try:
        observer = Member(srv.port)
        rss = Rss(srv)
        start = frame(0x1, b"a" * ENDLESS_FRAGMENT, fin=False)
        more = frame(0x0, b"a" * ENDLESS_FRAGMENT, fin=False)
        got = stream_until_closed(srv, rss, observer, [[start]] * ENDLESS_CLIENTS, more,
                                  "endless fragmented message")
        for data in got:
            check(close_code_in(data) == 1009, "endless message closed with %s, not 1009"
                  % close_code_in(data))
        rss.check_growth(ENDLESS_RSS_BOUND, "%d endless fragmented messages" % ENDLESS_CLIENTS)
        check(all(m.startswith(b"endless fragmented message round") for m in observer.messages),
              "a fragment of the endless message was broadcast")
        observer.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        if observer:
            observer.close()
        srv.kill()  # by PID; a no-op once stopped


# Declared payload lengths of 2^63 (the top bit is reserved: 1002, and no frame boundary is left
# to trust) and 2^63 - 1 (legal encoding, far over --max-message: 1009 from the header alone),
# each followed by an endless stream of bytes; and a ping declaring 2^63 - 1 (1002).
HUGE_CLIENTS = 6  # per kind
HUGE_RSS_BOUND = 3 * HUGE_CLIENTS * 256 * 1024 + 32 * MiB  # nothing of the payload is kept


def case_huge_length(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2", env=hostile_env())
    observer = None
    try:
        observer = Member(srv.port)
        rss = Rss(srv)
        key = os.urandom(4)

        def header(opcode, length):
            return bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", length) + key

        kinds = [(header(0x2, 1 << 63), 1002), (header(0x2, (1 << 63) - 1), 1009),
                 (header(0x9, (1 << 63) - 1), 1002)]
        firsts = [[h] for h, _ in kinds for _ in range(HUGE_CLIENTS)]
        wants = [code for _, code in kinds for _ in range(HUGE_CLIENTS)]
        # The endless payload, with a close frame in it for good measure (after a malformed
        # length it must not be taken: WebSocketReceiver.NoCloseIsFoundAfterAMalformedLength).
        payload = os.urandom(16 * 1024) + frame(0x8, close_payload(1000))
        got = stream_until_closed(srv, rss, observer, firsts, payload, "declared 2^63 lengths")
        for data, want in zip(got, wants):
            code = close_code_in(data)
            check(code == want, "huge length closed with %s, want %s" % (code, want))
        rss.check_growth(HUGE_RSS_BOUND, "%d huge declared lengths" % (3 * HUGE_CLIENTS))
        observer.round_trip("after the huge lengths")
        observer.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        if observer:
            observer.close()
        srv.kill()  # by PID; a no-op once stopped


# Amplifying pipeline: each client writes one read's worth of 27-byte "GET /" requests (each
# answered with the chat page, about 100 times larger) and reads nothing for a while. The server
# answers only while its outbound queue has room; the rest waits, unconsumed, until the client
# reads. Before, one read made it queue every reply at once (about 6 MiB per client).
PIPELINE_CLIENTS = 40
PIPELINE_BYTES = 64 * 1024
WRITE_BUFFER_CAP = 1 << 20  # gnet's Options::write_buffer_cap default
# Each holds at most the queue cap, one batch of replies (64 KiB) and one read of requests; half
# the cap again covers the allocator's and ASan's overhead on the queue's 16 KiB blocks. (Before,
# this run grew 3.2 MiB per client.)
PIPELINE_RSS_BOUND = PIPELINE_CLIENTS * (WRITE_BUFFER_CAP * 3 // 2 + 256 * 1024) + 16 * MiB


def case_pipelined_pages(binary):
    srv = Server(binary, "--mode", "broadcast", "--loops", "2", env=hostile_env())
    observer = None
    clients = []
    try:
        observer = Member(srv.port)
        one = Raw(srv.port, upgrade=False)
        one.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = one.read_http_response()
        check(status == 200, "GET / -> %s" % status)
        one.close()
        request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        count = PIPELINE_BYTES // len(request)
        rss = Rss(srv)
        for _ in range(PIPELINE_CLIENTS):
            c = Raw(srv.port, upgrade=False)
            c.send(request * count)
            clients.append(c)
        # Once every client has its first bytes, the server has answered what it will answer
        # before they read.
        for c in clients:
            c.sock.recv(1, socket.MSG_PEEK)
        for _ in range(10):
            rss.sample()
            time.sleep(0.03)
        observer.round_trip("while pipelines wait")
        # Every request is answered, in order, once the client reads: the server resumed on its
        # own (no new byte arrived), as the queue drained.
        for c in clients:
            head = c.read_http_head()
            check(head.startswith(b"HTTP/1.1 200 "), "pipelined GET / -> %r" % head[:40])
            m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
            response = head + c.read_exact(int(m.group(1)))
            check(response.endswith(body), "the first pipelined page differs")
            rest = c.read_bulk((count - 1) * len(response))
            check(rest == response * (count - 1), "pipelined responses differ")
            rss.sample()
        rss.check_growth(PIPELINE_RSS_BOUND, "%d clients pipelining %d page requests each"
                         % (PIPELINE_CLIENTS, count))
        for c in clients:
            c.close()
        observer.round_trip("after the pipelines")
        observer.close()
        srv.stop()  # SIGTERM; requires a clean exit
    finally:
        for c in clients:
            c.close()
        if observer:
            observer.close()
        srv.kill()  # by PID; a no-op once stopped


CASES = {
    "http": case_http,
    "echo": case_echo,
    "fragmentation": case_fragmentation,
    "ping": case_ping,
    "close_codes": case_close_codes,
    "protocol_errors": case_protocol_errors,
    "broadcast": case_broadcast,
    "shutdown": case_shutdown,
    "slow_members": case_slow_members,
    "members_leave": case_members_leave,
    "handshake_deadline": case_handshake_deadline,
    "origin": case_origin,
    "endless_message": case_endless_message,
    "huge_length": case_huge_length,
    "pipelined_pages": case_pipelined_pages,
}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        print("usage: websocket_e2e.py <websocket binary> <%s>" % "|".join(CASES))
        return 2
    try:
        CASES[sys.argv[2]](sys.argv[1])
    except Failure as e:
        print("FAIL:", e)
        return 1
    except Exception:  # noqa: BLE001 - any client-side surprise is a failure, with its trace
        traceback.print_exc()
        print("FAIL: unexpected exception (see above)")
        return 1
    print("PASS:", sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
