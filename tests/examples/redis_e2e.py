#!/usr/bin/python3
"""End-to-end tests of examples/redis: start the real binary, talk to it with real clients.

Usage: redis_e2e.py BINARY CASE
  commands   redis-cli round trips for every supported command
  pipeline   pipelined RESP split at every byte boundary, inline commands, redis-cli --pipe,
             large values
  errors     protocol errors get -ERR and close the connection; command errors keep it; the
             bulk length limit; random garbage never brings the server down
  loops      keys are visible from connections on every loop; concurrent INCRs add up
  expiry     lazy expiry on access and the active sweep from on_tick
  amplify    500 pipelined GETs of 8 MiB values read late and slowly: RSS growth bounded,
             every reply complete and in order, another client served meanwhile
  halfsent   16 clients each declaring a 60 MB argument and sending 2 MiB of it: RSS bounded by
             what arrived; a length past the bulk limit refused at once
  trickle    200 clients sending a byte at a time, half of them slower than --timeout 2: the
             slow ones closed, RSS bounded, another client served throughout
  limits     --maxmemory (-OOM for writes), --timeout (idle clients closed),
             --client-query-buffer-limit and --proto-max-bulk-len, CONFIG GET of each
  benchmark  redis-benchmark -q -n 20000 (all default tests) without errors
  shutdown   SIGINT/SIGTERM exit cleanly; bad flags and a taken port exit non-zero

Every case starts its own server on a free port (--port 0; the port is read back from the
"listening on" line) and kills that server, by PID, in a finally block. Nothing here depends on
timing: waits are only upper bounds against hangs.
Exit status: 0 pass, 1 fail, 77 skipped (a client tool is missing).
"""
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

SKIP = 77
MAX_BULK = 64 * 1024 * 1024  # the server's bulk length limit (RespLimits::max_bulk_bytes)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


# Hostile-client cases measure the server's resident memory. Under AddressSanitizer, freed
# blocks wait in a quarantine (256 MiB by default) before they are reused or returned, which
# would be measured as growth; a small quarantine keeps the figures about the program.
SANITIZER_ENV = {"ASAN_OPTIONS": ":".join(filter(None, [os.environ.get("ASAN_OPTIONS", ""),
                                                        "quarantine_size_mb=4"]))}


class Server:
    """The example binary, started on a free port."""

    def __init__(self, binary, *args, env=None):
        self.proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", *args],
                                     stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        m = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.kill()
            raise Failure(f"server did not report its address, first line: {line!r}")
        self.port = int(m.group(1))

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signals the server and returns its exit status and the rest of its stdout."""
        self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"server did not exit within {timeout}s of signal {sig}")
        return self.proc.returncode, out

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


MiB = 1024 * 1024


def status_kib(pid, field):
    """A VmRSS/VmHWM line of /proc/<pid>/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Failure(f"no {field} for pid {pid}")


class MemoryWatch:
    """The server's resident memory from a baseline on: peak growth (VmHWM, reset at the start
    so no peak between samples is missed), and a guard thread that kills the server if it ever
    passes `kill_above` bytes, so that a broken bound fails the test instead of exhausting the
    machine."""

    def __init__(self, server, kill_above=2048 * MiB):
        self.pid = server.proc.pid
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current VmRSS
        self.baseline = status_kib(self.pid, "VmRSS") * 1024
        with open(f"/proc/{self.pid}/maps") as f:
            # ThreadSanitizer's shadow is a multiple of the heap: a byte bound would mean
            # nothing there (the guard still stops a runaway); ASan and plain builds check it.
            self.measurable = "libtsan" not in f.read()
        self.killed = False
        self.stop = threading.Event()

        def guard():
            while not self.stop.wait(0.02):
                try:
                    if status_kib(self.pid, "VmRSS") * 1024 > kill_above:
                        self.killed = True
                        os.kill(self.pid, signal.SIGKILL)
                        return
                except (OSError, Failure):
                    return

        self.thread = threading.Thread(target=guard, daemon=True)
        self.thread.start()

    def peak_growth(self):
        return status_kib(self.pid, "VmHWM") * 1024 - self.baseline

    def check(self, bound, what):
        check(not self.killed, f"{what}: server killed past the guard limit")
        growth = self.peak_growth()
        print(f"{what}: peak RSS growth {growth / MiB:.1f} MiB (bound {bound / MiB:.0f} MiB)"
              + ("" if self.measurable else " -- not checked under ThreadSanitizer"))
        if self.measurable:
            check(growth < bound, f"{what}: RSS grew {growth / MiB:.1f} MiB, bound {bound / MiB:.0f} MiB")

    def close(self):
        self.stop.set()
        self.thread.join()


def well_behaved(port, rounds, tag):
    """A client on another connection that must be served meanwhile."""
    c = Client(port)
    try:
        for i in range(rounds):
            check(c.call("SET", f"{tag}:{i}", i) == "OK", f"{tag}: SET {i}")
            check(c.call("GET", f"{tag}:{i}") == str(i).encode(), f"{tag}: GET {i}")
        check(c.call("PING") == "PONG", f"{tag}: PING")
    finally:
        c.close()


def need(tool):
    path = shutil.which(tool)
    if path is None:
        print(f"SKIP: {tool} is not installed")
        sys.exit(SKIP)
    return path


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Client:
    """A minimal RESP2 client over a raw socket."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        b = self.sock.recv(1 << 20)
        if not b:
            raise Failure("connection closed by the server")
        self.buf += b

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return Exception(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise Failure(f"bad reply line {line!r}")

    def call(self, *args):
        self.send(resp(*args))
        return self.reply()

    def read_to_eof(self):
        data = self.buf
        self.buf = b""
        while True:
            try:
                b = self.sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not b:
                break
            data += b
        return data


def exchange(port, pieces, pause=0.0):
    """Sends the pieces, half-closes, and reads until the server closes."""
    c = Client(port)
    try:
        for i, p in enumerate(pieces):
            try:
                c.send(p)
            except (BrokenPipeError, ConnectionResetError):
                break
            if pause and i + 1 < len(pieces):
                time.sleep(pause)
        return c.read_to_eof()
    finally:
        c.close()


def cli(port, *args, stdin=None):
    r = subprocess.run(["redis-cli", "-p", str(port), "--no-raw", *args], input=stdin,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Failure(f"redis-cli {args}: exit {r.returncode}: {r.stderr}")
    return r.stdout.rstrip("\n")


# -------------------------------------------------------------------------------------- commands

def case_commands(binary):
    need("redis-cli")
    server = Server(binary)
    try:
        p = server.port
        wrongtype = "(error) WRONGTYPE Operation against a key holding the wrong kind of value"
        exact = [
            (["PING"], "PONG"),
            (["PING", "hello"], '"hello"'),
            (["ECHO", "hi there"], '"hi there"'),
            (["SELECT", "0"], "OK"),
            (["SET", "k", "v"], "OK"),
            (["GET", "k"], '"v"'),
            (["GET", "missing"], "(nil)"),
            (["SET", "k", "v2", "NX"], "(nil)"),
            (["SET", "k", "v2", "XX"], "OK"),
            (["GET", "k"], '"v2"'),
            (["SET", "k2", "x", "NX"], "OK"),
            (["SET", "k3", "x", "XX"], "(nil)"),
            (["SET", "k", "v3", "XX", "GET"], '"v2"'),
            (["SET", "k", "x", "EX", "0"], "(error) ERR invalid expire time in 'set' command"),
            (["SET", "k", "x", "NX", "XX"], "(error) ERR syntax error"),
            (["SET", "ex", "v", "EX", "100"], "OK"),
            (["SET", "px", "v", "PX", "100000"], "OK"),
            (["TTL", "k"], "(integer) -1"),
            (["TTL", "missing"], "(integer) -2"),
            (["EXPIRE", "k", "50"], "(integer) 1"),
            (["EXPIRE", "missing", "50"], "(integer) 0"),
            (["PERSIST", "k"], "(integer) 1"),
            (["TTL", "k"], "(integer) -1"),
            (["EXISTS", "k", "k2", "missing", "k"], "(integer) 3"),
            (["DEL", "k", "k2", "missing"], "(integer) 2"),
            (["EXISTS", "k"], "(integer) 0"),
            (["INCR", "n"], "(integer) 1"),
            (["INCR", "n"], "(integer) 2"),
            (["DECR", "n"], "(integer) 1"),
            (["INCRBY", "n", "41"], "(integer) 42"),
            (["DECRBY", "n", "2"], "(integer) 40"),
            (["INCRBY", "n", "x"], "(error) ERR value is not an integer or out of range"),
            (["SET", "s", "text"], "OK"),
            (["INCR", "s"], "(error) ERR value is not an integer or out of range"),
            (["MSET", "a", "1", "b", "2", "c", "3"], "OK"),
            (["MGET", "a", "b", "missing", "c"], '1) "1"\n2) "2"\n3) (nil)\n4) "3"'),
            (["MSET", "a", "1", "b"], "(error) ERR wrong number of arguments for 'mset' command"),
            (["LPUSH", "l", "a", "b", "c"], "(integer) 3"),
            (["RPUSH", "l", "d"], "(integer) 4"),
            (["LRANGE", "l", "0", "-1"], '1) "c"\n2) "b"\n3) "a"\n4) "d"'),
            (["LRANGE", "l", "1", "2"], '1) "b"\n2) "a"'),
            (["LRANGE", "l", "5", "10"], "(empty array)"),
            (["LPOP", "l"], '"c"'),
            (["RPOP", "l"], '"d"'),
            (["LPOP", "l", "5"], '1) "b"\n2) "a"'),
            (["LPOP", "l"], "(nil)"),
            (["RPUSH", "l", "x"], "(integer) 1"),
            (["GET", "l"], wrongtype),
            (["TYPE", "l"], "list"),
            (["TYPE", "a"], "string"),
            (["TYPE", "missing"], "none"),
            (["SADD", "set", "m1", "m2", "m1"], "(integer) 2"),
            (["SCARD", "set"], "(integer) 2"),
            (["SISMEMBER", "set", "m1"], "(integer) 1"),
            (["HSET", "h", "f", "v", "g", "w"], "(integer) 2"),
            (["HGET", "h", "f"], '"v"'),
            (["HGETALL", "missing"], "(empty array)"),
            (["ZADD", "z", "2", "two", "1", "one"], "(integer) 2"),
            (["ZRANGE", "z", "0", "-1", "WITHSCORES"], '1) "one"\n2) "1"\n3) "two"\n4) "2"'),
            (["ZPOPMIN", "z"], '1) "one"\n2) "1"'),
            (["CONFIG", "GET", "save"], '1) "save"\n2) ""'),
            (["CONFIG", "GET", "appendonly"], '1) "appendonly"\n2) "no"'),
            (["CONFIG", "SET", "save", ""], "(error) ERR CONFIG SET is not supported by this server"),
            (["NOSUCH", "arg"], "(error) ERR unknown command 'NOSUCH', with args beginning with: 'arg' "),
            (["GET"], "(error) ERR wrong number of arguments for 'get' command"),
            (["QUIT"], "OK"),
        ]
        for args, want in exact:
            got = cli(p, *args)
            check(got == want, f"{args}: want {want!r}, got {got!r}")

        # Values that depend on the clock, within bounds.
        for args, lo, hi in [(["TTL", "ex"], 1, 100), (["PTTL", "px"], 1, 100000)]:
            m = re.fullmatch(r"\(integer\) (\d+)", cli(p, *args))
            check(m and lo <= int(m.group(1)) <= hi, f"{args}: out of range")
        m = re.fullmatch(r"\(integer\) (\d+)", cli(p, "COMMAND", "COUNT"))
        check(m and int(m.group(1)) > 40, "COMMAND COUNT")
        check(cli(p, "DBSIZE").startswith("(integer) "), "DBSIZE")
        check("redis_version:" in cli(p, "INFO"), "INFO")
        check(cli(p, "SPOP", "set") in ('"m1"', '"m2"'), "SPOP")

        # Binary-safe values, and a script of commands on stdin (one connection).
        check(cli(p, "SET", "bin", "a\tb\nc") == "OK", "SET binary")
        check(cli(p, "GET", "bin") == '"a\\tb\\nc"', "GET binary")
        got = cli(p, stdin="SET script 1\nINCR script\nGET script\nDEL script\n")
        check(got.split("\n") == ["OK", "(integer) 2", '"2"', "(integer) 1"], f"stdin script: {got!r}")

        # Inline commands (what telnet/nc users type).
        c = Client(p)
        c.send(b"PING\r\nset inline 'a b'\r\nGET inline\nexists inline missing\r\n")
        check(c.reply() == "PONG", "inline PING")
        check(c.reply() == "OK", "inline SET")
        check(c.reply() == b"a b", "inline quoted value")
        check(c.reply() == 1, "inline EXISTS")
        c.close()
    finally:
        server.kill()


# -------------------------------------------------------------------------------------- pipeline

def case_pipeline(binary):
    server = Server(binary)
    try:
        p = server.port
        stream = (resp("SET", "a", "1") + b"PING\r\n" + resp("INCR", "a") + b"\r\n" + b"get a\r\n" +
                  resp("RPUSH", "l", "x", "y\r\nz") + resp("LRANGE", "l", 0, -1) + b'echo "q\\tq"\n' +
                  resp("MSET", "m1", "v1", "m2", "v2") + resp("MGET", "m1", "m2", "nope") +
                  resp("DEL", "a", "l", "m1", "m2") + resp("QUIT") + resp("PING"))
        expected = (b"+OK\r\n+PONG\r\n:2\r\n$1\r\n2\r\n:2\r\n*2\r\n$1\r\nx\r\n$4\r\ny\r\nz\r\n$3\r\nq\tq\r\n"
                    b"+OK\r\n*3\r\n$2\r\nv1\r\n$2\r\nv2\r\n$-1\r\n:4\r\n+OK\r\n")
        got = exchange(p, [stream])
        check(got == expected, f"pipeline: {got!r}")
        for k in range(1, len(stream)):
            got = exchange(p, [stream[:k], stream[k:]], pause=0.001)
            check(got == expected, f"split at byte {k}: {got!r}")
        got = exchange(p, [stream[i:i + 1] for i in range(len(stream))])
        check(got == expected, f"byte by byte: {got!r}")

        # A burst of 5000 pipelined commands in one send: replies complete and in order.
        c = Client(p)
        c.send(b"".join(resp("INCR", "burst") for _ in range(5000)))
        for i in range(1, 5001):
            r = c.reply()
            check(r == i, f"burst reply {i}: {r!r}")
        # A 10 MiB value arrives in many reads and comes back intact.
        big = random.Random(1).randbytes(10 * 1024 * 1024)
        check(c.call("SET", "big", big) == "OK", "SET 10 MiB")
        check(c.call("GET", "big") == big, "GET 10 MiB differs")
        check(c.call("STRLEN", "big") == len(big), "STRLEN 10 MiB")
        c.close()

        # redis-cli --pipe (mass insertion): it pipelines everything and counts the replies.
        if shutil.which("redis-cli"):
            data = b"".join(resp("SET", f"pipe:{i}", f"value-{i}") for i in range(10000))
            r = subprocess.run(["redis-cli", "-p", str(p), "--pipe"], input=data, capture_output=True,
                               timeout=120)
            out = r.stdout.decode(errors="replace")
            check(r.returncode == 0 and "errors: 0, replies: 10000" in out, f"redis-cli --pipe: {out}")
            c = Client(p)
            check(c.call("GET", "pipe:9999") == b"value-9999", "GET after --pipe")
            c.close()
        else:
            print("redis-cli not installed: --pipe check skipped")
    finally:
        server.kill()


# ---------------------------------------------------------------------------------------- errors

def case_errors(binary):
    server = Server(binary)
    try:
        p = server.port
        protocol_errors = [
            (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
            (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
            (b"*1\r\n$-3\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
            (b"*1\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
            (b"*1\r\n$%d\r\n" % (MAX_BULK + 1), b"-ERR Protocol error: invalid bulk length\r\n"),
            (b"*1\r\n$4\r\nPINGxx", b"-ERR Protocol error: bulk data not followed by CRLF\r\n"),
            (b"*%d\r\n" % (1024 * 1024 + 1), b"-ERR Protocol error: invalid multibulk length\r\n"),
            (b'set k "unbalanced\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
            (b"x" * (64 * 1024 + 1), b"-ERR Protocol error: too big inline request\r\n"),
        ]
        for data, want in protocol_errors:
            # The reply comes, then the connection is closed: the PING after it never runs.
            got = exchange(p, [resp("PING") + data + b"\r\n" + resp("PING")])
            check(got == b"+PONG\r\n" + want, f"{data[:40]!r}: {got!r}")

        # Command errors keep the connection.
        c = Client(p)
        for args, prefix in [(["NOSUCH"], "ERR unknown command 'NOSUCH'"),
                             (["GET", "a", "b"], "ERR wrong number of arguments for 'get' command"),
                             (["SET", "k", "v", "BOGUS"], "ERR syntax error")]:
            r = c.call(*args)
            check(isinstance(r, Exception) and str(r).startswith(prefix), f"{args}: {r!r}")
        c.call("RPUSH", "list", "x")
        r = c.call("INCR", "list")
        check(isinstance(r, Exception) and str(r).startswith("WRONGTYPE"), f"WRONGTYPE: {r!r}")
        check(c.call("PING") == "PONG", "connection unusable after command errors")
        c.close()

        # A bulk of exactly the limit is accepted.
        c = Client(p)
        big = b"z" * MAX_BULK
        check(c.call("SET", "max", big) == "OK", "SET at the bulk limit")
        check(c.call("STRLEN", "max") == MAX_BULK, "STRLEN at the bulk limit")
        check(c.call("DEL", "max") == 1, "DEL")
        c.close()

        # Random garbage: whatever the bytes, the server answers or closes, and lives on.
        rng = random.Random(6)
        alphabet = b"*$:+-\r\n0123456789-abcPINGSET \"'\\x"
        for i in range(300):
            n = rng.randrange(1, 200)
            if i % 2:
                blob = bytes(rng.choice(alphabet) for _ in range(n))
            else:
                blob = rng.randbytes(n)
            c = Client(p)
            c.send(blob)
            c.sock.shutdown(socket.SHUT_WR)
            c.read_to_eof()
            c.close()
        c = Client(p)
        check(c.call("PING") == "PONG", "server unhealthy after garbage")
        c.close()
        code, _ = server.stop()
        check(code == 0, f"exit status {code} after SIGTERM")
    finally:
        server.kill()


# ----------------------------------------------------------------------------------------- loops

def case_loops(binary):
    for extra in ([], ["--reuse-port"]):
        server = Server(binary, "--loops", "4", *extra)
        try:
            p = server.port
            clients = [Client(p) for _ in range(8)]  # round robin: two per loop
            for i, c in enumerate(clients):
                check(c.call("SET", f"key:{i}", f"from {i}") == "OK", "SET")
            for c in clients:
                for i in range(len(clients)):
                    check(c.call("GET", f"key:{i}") == f"from {i}".encode(), f"key:{i} not visible {extra}")
            for c in clients:
                c.close()

            # Concurrent increments and pushes from connections on every loop add up exactly.
            errors = []

            def worker(n):
                try:
                    c = Client(p)
                    c.send(b"".join(resp("INCR", "counter") + resp("RPUSH", "shared", n) for _ in range(1000)))
                    for _ in range(2000):
                        r = c.reply()
                        if isinstance(r, Exception):
                            errors.append(r)
                    c.close()
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(not errors, f"worker errors: {errors[:3]}")
            c = Client(p)
            check(c.call("GET", "counter") == b"8000", "concurrent INCR total")
            check(c.call("LLEN", "shared") == 8000, "concurrent RPUSH total")
            check(c.call("MSET", *sum(([f"m{i}", i] for i in range(100)), [])) == "OK", "MSET across shards")
            check(c.call("MGET", *[f"m{i}" for i in range(100)]) == [str(i).encode() for i in range(100)], "MGET")
            c.close()
            code, _ = server.stop()
            check(code == 0, f"exit status {code} after SIGTERM")
        finally:
            server.kill()


# ---------------------------------------------------------------------------------------- expiry

def wait_until(cond, what, limit=60):
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {limit}s")
        time.sleep(0.05)


def case_expiry(binary):
    server = Server(binary, "--loops", "2")
    try:
        c = Client(server.port)
        # Lazy: the key is gone when next read.
        check(c.call("SET", "lazy", "v", "PX", "100") == "OK", "SET PX")
        pttl = c.call("PTTL", "lazy")
        check(pttl == -2 or 0 < pttl <= 100, f"PTTL {pttl}")  # -2: already expired (slow host)
        wait_until(lambda: c.call("GET", "lazy") is None, "lazy expiry")
        check(c.call("TTL", "lazy") == -2, "TTL of an expired key")
        check(c.call("EXISTS", "lazy") == 0, "EXISTS of an expired key")

        # EXPIRE on an existing key; PERSIST cancels it.
        c.call("SET", "e", "v")
        check(c.call("PEXPIRE", "e", "100") == 1, "PEXPIRE")
        wait_until(lambda: c.call("EXISTS", "e") == 0, "EXPIRE'd key")
        c.call("SET", "kept", "v")
        c.call("EXPIRE", "kept", "100000")
        check(c.call("PERSIST", "kept") == 1, "PERSIST")

        # Active: 1000 keys nobody reads again disappear from DBSIZE (which reads no key).
        c.send(b"".join(resp("SET", f"t:{i}", "v", "PX", "100") for i in range(1000)))
        for _ in range(1000):
            check(c.reply() == "OK", "SET PX burst")  # stored (some may be swept already)
        wait_until(lambda: c.call("DBSIZE") == 1, "active expiry sweep (DBSIZE back to the one kept key)")
        check(c.call("GET", "kept") == b"v", "the persistent key")
        c.close()
    finally:
        server.kill()


# -------------------------------------------------------------------------------------- hostile

def recv_exactly(sock, view):
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise Failure("connection closed by the server")
        got += n


def case_amplify(binary):
    """The amplifying pipeline: SET 8 MiB values, then 500 GETs of them in one write, read late
    and slowly. Without a bound every reply is built before anything is sent (1.6 GiB here, 25
    times the bound; 200 rather than more GETs keeps the TSan run in CI under a minute); with it
    the server holds at most write_buffer_cap (1 MiB) + one reply of output."""
    value_size, gets, bound = 8 * MiB, 200, 64 * MiB
    server = Server(binary, env=SANITIZER_ENV)
    watch = None
    try:
        values = [bytes([65 + k]) * (value_size - 1) + b"%d" % k for k in range(2)]
        c = Client(server.port)
        for k, v in enumerate(values):
            check(c.call("SET", f"big{k}", v) == "OK", "SET big value")
        c.close()
        watch = MemoryWatch(server)

        hostile = socket.socket()
        hostile.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        hostile.connect(("127.0.0.1", server.port))
        hostile.sendall(b"".join(b"GET big%d\r\n" % (i % 2) for i in range(gets)))
        # Not reading yet: the server must stop producing, and serve everyone else meanwhile.
        try:
            well_behaved(server.port, 300, "late")
        finally:
            watch.check(bound, "amplify, nothing read yet")

        # Reading now, with a full-size window (the small one only kept the kernel from
        # absorbing replies while nothing was read).
        hostile.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MiB)
        replies = [b"$%d\r\n" % value_size + v + b"\r\n" for v in values]
        buf = bytearray(len(replies[0]))
        view = memoryview(buf)
        for i in range(gets):
            if i < 4:  # slowly at first: 64 KiB at a time, with pauses
                for at in range(0, len(buf), 64 * 1024):
                    recv_exactly(hostile, view[at:at + 64 * 1024])
                    time.sleep(0.001)
            else:
                recv_exactly(hostile, view)
            check(buf == replies[i % 2], f"reply {i} of {gets} is not GET big{i % 2}'s value")
            if i == gets // 2:
                well_behaved(server.port, 50, "halfway")
        hostile.setblocking(False)
        try:
            extra = hostile.recv(1)
        except BlockingIOError:
            extra = None
        check(extra is None, "bytes after the last reply")
        hostile.close()
        watch.check(bound, f"amplify, {gets} replies of {value_size // MiB} MiB read")
        well_behaved(server.port, 10, "after")
    finally:
        if watch:
            watch.close()
        server.kill()


def case_halfsent(binary):
    """Half-sent commands held open: each of 16 clients declares a 60 MB argument (under the 64 MiB
    bulk limit), sends 2 MiB of it and waits. The server holds what arrived, not what was
    declared (16 x 60 MB); a declared length past the bulk limit is refused at once, before any
    data, as Redis does past its 512 MiB; another client is served meanwhile."""
    clients, sent_each, declared = 16, 2 * MiB, 60_000_000
    # 4x the bytes that arrived, plus slack: an input buffer grows by doubling, and the block
    # it outgrew may stay with the allocator (58 MiB measured in Release, 39 under ASan).
    bound = clients * 4 * sent_each + 16 * MiB
    server = Server(binary, env=SANITIZER_ENV)
    watch = None
    holders = []
    try:
        watch = MemoryWatch(server)
        chunk = b"x" * sent_each
        for _ in range(clients):
            h = Client(server.port)
            h.send(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$%d\r\n" % declared + chunk)
            holders.append(h)
        well_behaved(server.port, 200, "beside-halfsent")
        for h in holders:  # still open, nothing answered: the commands are incomplete
            r, _, _ = select.select([h.sock], [], [], 0)
            check(not r, "a half-sent command got a reply or a close")
        watch.check(bound, f"{clients} half-sent commands of {declared} declared bytes")

        # Past the bulk limit: "invalid bulk length" and the connection closed, with nothing
        # after the "$" line buffered.
        got = exchange(server.port, [b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (600 * MiB)])
        check(got == b"-ERR Protocol error: invalid bulk length\r\n", f"past the bulk limit: {got!r}")

        # A holder that finishes its command gets it run: nothing was lost while waiting.
        h = holders[0]
        h.send(b"y" * (declared - sent_each) + b"\r\n")
        check(h.reply() == "OK", "completed half-sent SET")
        check(h.call("STRLEN", "half") == declared, "STRLEN of the completed value")
        well_behaved(server.port, 10, "after-halfsent")
    finally:
        for h in holders:
            h.close()
        if watch:
            watch.close()
        server.kill()


def case_trickle(binary):
    """Slow clients with --timeout 2: 100 clients each send one byte of a command every 4 s (so
    they are idle past the timeout and closed), and 100 send one byte every 0.2 s (ten times
    inside the timeout), which Redis's timeout does not stop either; memory stays bounded by
    what they sent (a few bytes each) plus the connections' own state, and another client is
    served throughout."""
    slow, fast, bound = 100, 100, 32 * MiB
    raise_nofile()
    server = Server(binary, "--timeout", "2", env=SANITIZER_ENV)
    watch = None
    conns = []
    try:
        watch = MemoryWatch(server)
        command = resp("SET", "trickled", "v" * 40)
        sleepy = [Client(server.port) for _ in range(slow)]
        steady = [Client(server.port) for _ in range(fast)]
        conns = sleepy + steady
        for c in conns:
            c.send(command[:1])
        # Each round: a byte from every steady client, and one from every sleepy client every
        # 20 rounds (4 s); the well-behaved client is served between rounds.
        closed = set()
        rounds = 40  # the steady clients have then sent command[:rounds + 1]
        for rnd in range(1, rounds + 1):
            time.sleep(0.2)
            for c in steady:
                c.send(command[rnd:rnd + 1])
            if rnd % 20 == 0:
                for i, c in enumerate(sleepy):
                    if i in closed:
                        continue
                    try:
                        c.send(command[rnd // 20:rnd // 20 + 1])
                    except (BrokenPipeError, ConnectionResetError):
                        closed.add(i)
            well_behaved(server.port, 5, f"beside-trickle-{rnd}")
        watch.check(bound, f"{slow + fast} trickling clients")
        # The sleepy clients were closed by the timeout (EOF or reset, no reply).
        for i, c in enumerate(sleepy):
            r, _, _ = select.select([c.sock], [], [], 30)
            check(r and c.read_to_eof() == b"", f"sleepy client {i} not closed by --timeout 2")
        # The steady ones are still open and finish their command.
        for c in steady:
            c.send(command[rounds + 1:])
            check(c.reply() == "OK", "steady trickler's command")
        well_behaved(server.port, 10, "after-trickle")
    finally:
        for c in conns:
            c.close()
        if watch:
            watch.close()
        server.kill()


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))


# ---------------------------------------------------------------------------------------- limits

OOM = "OOM command not allowed when used memory > 'maxmemory'."


def case_limits(binary):
    # --maxmemory: writes refused past the limit, with Redis's exact error; reads and deletes
    # still served; writes accepted again once keys are deleted.
    server = Server(binary, "--maxmemory", "1mb")
    try:
        c = Client(server.port)
        check(c.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"1048576"], "CONFIG GET maxmemory")
        value = b"v" * 10000
        stored = 0
        while True:
            r = c.call("SET", f"k{stored}", value)
            if isinstance(r, Exception):
                check(str(r) == OOM, f"error past maxmemory: {r}")
                break
            check(r == "OK", f"SET {stored}: {r!r}")
            stored += 1
            check(stored < 200, "no -OOM after 2 MB of values with --maxmemory 1mb")
        check(90 <= stored <= 105, f"{stored} values of 10000 bytes before -OOM with 1 MiB")
        for args in (["RPUSH", "l", "x"], ["SADD", "s", "x"], ["HSET", "h", "f", "v"],
                     ["ZADD", "z", "1", "m"], ["INCR", "n"], ["APPEND", "k0", "x"]):
            r = c.call(*args)
            check(isinstance(r, Exception) and str(r) == OOM, f"{args[0]} past maxmemory: {r!r}")
        check(c.call("GET", "k0") == value, "GET past maxmemory")
        check(c.call("DEL", *[f"k{i}" for i in range(20)]) == 20, "DEL past maxmemory")
        check(c.call("SET", "again", "v") == "OK", "SET after freeing memory")
        c.close()
    finally:
        server.kill()

    # --timeout: an idle client is closed (silently, as Redis does); one that keeps talking is
    # not; CONFIG GET reports the setting.
    server = Server(binary, "--timeout", "2")
    try:
        idle, busy = Client(server.port), Client(server.port)
        check(busy.call("CONFIG", "GET", "timeout") == [b"timeout", b"2"], "CONFIG GET timeout")
        idle.send(b"*1\r\n$4\r\nPI")  # a half-sent command does not keep a client alive
        deadline = time.monotonic() + 60
        closed = False
        while time.monotonic() < deadline and not closed:
            check(busy.call("PING") == "PONG", "the busy client was served")
            r, _, _ = select.select([idle.sock], [], [], 0.1)
            closed = bool(r) and idle.read_to_eof() == b""
        check(closed, "idle client not closed within 60 s with --timeout 2")
        check(busy.call("PING") == "PONG", "the busy client stays connected")
        idle.close()
        busy.close()
    finally:
        server.kill()

    # Query buffer limit and bulk length limit, given as redis.conf sizes.
    server = Server(binary, "--client-query-buffer-limit", "2mb", "--proto-max-bulk-len", "1mb")
    try:
        c = Client(server.port)
        check(c.call("CONFIG", "GET", "client-query-buffer-limit") ==
              [b"client-query-buffer-limit", b"2097152"], "CONFIG GET client-query-buffer-limit")
        check(c.call("SET", "k", b"x" * (1024 * 1024)) == "OK", "SET at the bulk limit")
        check(c.call("MSET", "a", b"x" * 900000, "b", b"y" * 900000) == "OK", "MSET under the limit")
        c.close()
        # Past the bulk limit: refused at the "$" line.
        got = exchange(server.port, [b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n"])
        check(got == b"-ERR Protocol error: invalid bulk length\r\n", f"past proto-max-bulk-len: {got!r}")
        # Past the query buffer limit: refused at the "$" line that would pass it.
        head = b"*7\r\n$4\r\nMSET\r\n$1\r\na\r\n$900000\r\n" + b"x" * 900000 + b"\r\n"
        head += b"$1\r\nb\r\n$900000\r\n" + b"y" * 900000 + b"\r\n$1\r\nc\r\n$900000\r\n"
        got = exchange(server.port, [head])
        check(got == b"-ERR Protocol error: command too large\r\n", f"past the query buffer limit: {got!r}")
        c = Client(server.port)
        check(c.call("PING") == "PONG", "server serves after the limits")
        c.close()
    finally:
        server.kill()

    for args in (["--maxmemory", "lots"], ["--maxmemory", "1tb"], ["--timeout", "-1"],
                 ["--proto-max-bulk-len", "4mb", "--client-query-buffer-limit", "2mb"],
                 ["--client-query-buffer-limit", "1000"]):
        r = subprocess.run([binary, "--port", "0", *args], capture_output=True, text=True, timeout=60)
        check(r.returncode != 0 and r.stderr.strip(), f"{args}: exit {r.returncode}, {r.stderr!r}")


# ------------------------------------------------------------------------------------- benchmark

BENCH_TESTS = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP",
               "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)",
               "LRANGE_100 (first 100 elements)", "LRANGE_300 (first 300 elements)",
               "LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)", "MSET (10 keys)"]


def case_benchmark(binary):
    bench = need("redis-benchmark")
    server = Server(binary, "--loops", "2")
    try:
        # All default tests, 50 clients each; redis-benchmark exits non-zero at the first error
        # reply. 5 000 requests per test: a check that every command works under load (the
        # numbers are for bench/, not this test), in seconds under TSan.
        r = subprocess.run([bench, "-p", str(server.port), "-q", "-n", "5000"], capture_output=True,
                           text=True, timeout=540)
        lines = [s.strip() for s in re.split(r"[\r\n]", r.stdout) if "requests per second" in s]
        print("\n".join(lines))
        check(r.returncode == 0, f"redis-benchmark exit {r.returncode}: {r.stderr.strip()}")
        check("rror" not in r.stdout + r.stderr, f"errors reported: {r.stderr.strip()}")
        done = {line.split(":")[0] for line in lines}
        missing = [t for t in BENCH_TESTS if t not in done]
        check(not missing, f"tests missing from the output: {missing}")
        c = Client(server.port)
        check(c.call("PING") == "PONG", "server unhealthy after the benchmark")
        c.close()
        code, _ = server.stop()
        check(code == 0, f"exit status {code} after SIGTERM")
    finally:
        server.kill()


# -------------------------------------------------------------------------------------- shutdown

def case_shutdown(binary):
    for sig in (signal.SIGINT, signal.SIGTERM):
        server = Server(binary, "--loops", "2", "--reuse-port")
        idle = []
        try:
            idle = [Client(server.port) for _ in range(4)]
            idle[0].send(b"*2\r\n$3\r\nGET")  # a half-sent command
            check(idle[1].call("SET", "x", "1") == "OK", "server not answering")
            code, out = server.stop(sig)
            check(code == 0, f"exit status {code} after {sig.name}")
            check("redis: stopped" in out, f"no 'stopped' line after {sig.name}: {out!r}")
            for c in idle:
                check(c.read_to_eof() == b"", "idle connection got bytes at shutdown")
        finally:
            for c in idle:
                c.close()
            server.kill()

    for args in (["--port", "70000"], ["--loops", "0"], ["--port", "x"], ["--no-such-flag"]):
        r = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
        check(r.returncode != 0, f"{args}: exit status 0")
        check(r.stderr.strip() or r.stdout.strip(), f"{args}: no message")
        check("listening" not in r.stdout, f"{args}: started anyway")

    server = Server(binary)
    try:
        r = subprocess.run([binary, "--port", str(server.port)], capture_output=True, text=True, timeout=60)
        check(r.returncode != 0, "second server on a taken port exited 0")
        check(str(server.port) in r.stderr, f"port clash message: {r.stderr!r}")
    finally:
        server.kill()


CASES = {
    "commands": case_commands,
    "pipeline": case_pipeline,
    "errors": case_errors,
    "loops": case_loops,
    "expiry": case_expiry,
    "limits": case_limits,
    "amplify": case_amplify,
    "halfsent": case_halfsent,
    "trickle": case_trickle,
    "benchmark": case_benchmark,
    "shutdown": case_shutdown,
}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        print(__doc__)
        return 2
    binary, case = sys.argv[1], sys.argv[2]
    try:
        CASES[case](binary)
    except Failure as e:
        print(f"FAIL ({case}): {e}")
        return 1
    except OSError as e:  # a socket error: the server closed or died where it should not
        print(f"FAIL ({case}): {e!r}")
        return 1
    print(f"PASS ({case})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
