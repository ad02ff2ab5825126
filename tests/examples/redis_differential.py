#!/usr/bin/python3
"""Differential test of examples/redis against redis-server: same commands, same reply bytes.

Usage: redis_differential.py BINARY [--seed N] [--count N] [--redis-server PATH]

Starts redis-server (on a free port: it does not take port 0; no persistence) and the example
(--port 0), then sends one seeded random command stream to both over raw sockets, one command
at a time, and compares every reply byte for byte. The stream stays inside the example's
documented command subset (docs/examples-http-redis.md) and is built to hit the corners: a
small key space so types collide, odd and binary values, integers at the edges of 64 bits and
in forms Redis refuses ("07", "-0", "+1", " 1"), wrong arities, unknown commands, bad options,
glob patterns, and expiry used in ways that do not depend on timing.

Replies whose order Redis does not define (KEYS, SMEMBERS, HGETALL, SPOP with a count) are
sorted on both sides before the comparison; a positive TTL/PTTL is compared as "positive" (the
two servers read their clocks at different instants). Everything else is compared as sent.
Then a list of protocol errors goes to both, each on a fresh connection, and the bytes read
until the server closes are compared.

On the first divergence it prints the command (and the few before it) with both replies and
exits 1. Exit 77 when redis-server is not installed. Bounded: a few thousand commands.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_process  # noqa: E402

SKIP = 77


class Failure(Exception):
    pass


# ------------------------------------------------------------------------------ RESP over sockets

def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def encode_inline(args, rng):
    """The command as an inline line (what telnet users type), quoting where needed."""
    words = []
    for a in args:
        plain = a and all(33 <= c < 127 and c not in b"\"'\\" for c in a)
        if plain and rng.random() < 0.8:
            words.append(a)
        elif rng.random() < 0.5 and all(32 <= c < 127 and c not in b"'\\" for c in a):
            words.append(b"'" + a + b"'")
        else:
            out = b""
            for c in a:
                if c in b"\"\\":
                    out += b"\\" + bytes([c])
                elif 32 <= c < 127:
                    out += bytes([c])
                else:
                    out += b"\\x%02x" % c
            words.append(b'"' + out + b'"')
    sep = rng.choice([b" ", b"  ", b"\t"])
    return sep.join(words) + rng.choice([b"\r\n", b"\n"])


class Conn:
    """A raw socket that reads whole RESP2 replies and returns them parsed and as raw bytes."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        b = self.sock.recv(1 << 16)
        if not b:
            raise Failure("connection closed by the server")
        self.buf += b

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def reply(self):
        """One reply as (kind, value): value is bytes, int, None or a list of replies."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return (kind, rest)
        if kind == b":":
            return (kind, int(rest))
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return (kind, None)
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return (kind, data)
        if kind == b"*":
            n = int(rest)
            return (kind, None if n < 0 else [self.reply() for _ in range(n)])
        raise Failure(f"not a RESP reply line: {line!r}")

    def call(self, data):
        self.sock.sendall(data)
        return self.reply()

    def read_to_eof(self):
        data, self.buf = self.buf, b""
        while True:
            try:
                b = self.sock.recv(1 << 16)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            data += b
        return data


def serialize(r):
    kind, v = r
    if kind in (b"+", b"-"):
        return kind + v + b"\r\n"
    if kind == b":":
        return b":%d\r\n" % v
    if kind == b"$":
        return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)
    if v is None:
        return b"*-1\r\n"
    return b"*%d\r\n" % len(v) + b"".join(serialize(x) for x in v)


def normalize(args, r):
    """Makes replies comparable where Redis leaves the order or the exact clock reading open."""
    name = args[0].lower()
    kind, v = r
    if kind == b"*" and v is not None:
        if name in (b"keys", b"smembers") or (name == b"spop" and len(args) == 3):
            return (kind, sorted(v, key=serialize))
        if name == b"hgetall":
            pairs = sorted(zip(v[0::2], v[1::2]), key=lambda p: serialize(p[0]))
            return (kind, [x for p in pairs for x in p])
    if kind == b":" and name in (b"ttl", b"pttl") and v > 0:
        return (b"+", b"<positive>")
    return r


# --------------------------------------------------------------------------------- the commands

KEYS = [b"k0", b"k1", b"k2", b"k3", b"k\x00\xff", b"", b"K0", b"k*"]
INTEGERS = [b"0", b"1", b"-1", b"7", b"42", b"-42", b"100000", b"9223372036854775807",
            b"-9223372036854775808", b"9223372036854775806", b"-9223372036854775807",
            b"9223372036854775808", b"-9223372036854775809", b"18446744073709551616",
            b"12345678901234567890", b"00", b"07", b"-0", b"+1", b" 1", b"1 ", b"1\x00", b"",
            b"0x10", b"1e3", b"1.5", b"abc", b"-", b"--1", b"\xff"]
VALUES = INTEGERS + [b"v", b"hello world", b"\x00\r\n\xff", b"x" * 100, b"\r\n", b"*1\r\n$1\r\n",
                     b"inf", b"-inf", b"nan", b"3.0", b"-0.0", b"\"quoted\"", b"\\x41"]
MEMBERS = [b"a", b"b", b"c", b"1", b"2", b"", b"\x00", b"\xff\xfe", b"m" * 40, b"n" * 70]
SCORES = [b"0", b"1", b"-1", b"2.5", b"-2.5", b"0.1", b"1e3", b"1e-3", b"inf", b"-inf", b"+inf",
          b"nan", b"abc", b"", b" 1", b"1 ", b"1e400", b"-1e400", b"1e-400", b"0x10", b"-0",
          b"9007199254740993", b"1.7976931348623157e308", b"5e-324", b"3.0", b"1\x00"]
COUNTS = [b"0", b"1", b"2", b"3", b"100", b"-1", b"x", b"07", b"-0", b"9223372036854775807",
          b"9223372036854775808"]
INDEXES = [b"0", b"1", b"-1", b"2", b"-2", b"5", b"-100", b"100", b"9223372036854775807",
           b"-9223372036854775808", b"x", b"01", b"+1", b"1.0"]
# Expiry with a long enough horizon that nothing expires during the run, or in the past (the
# key is deleted at once): either way the outcome does not depend on when the command runs.
SECONDS = [b"100000", b"999999", b"0", b"-1", b"-100", b"x", b"07", b"9223372036854775807",
           b"9223372036854775", b"9223372036854776", b"-9223372036854775808", b"-9223372036854776"]
MILLIS = [b"100000000", b"0", b"-5", b"x", b"9223372036854775807", b"-9223372036854775808"]
PATTERNS = [b"*", b"k*", b"k?", b"k[0-2]", b"k[2-0]", b"k[^0]", b"[^k]*", b"*\x00*", b"k[",
            b"k\\", b"k\\*", b"", b"?", b"**", b"*0", b"K*", b"k[a-]", b"[\\]", b"*[", b"[",
            b"*1*", b"?*?", b"k[\\0]", b"[kK]?"]


class Stream:
    """Seeded random commands of the documented subset, with odd arguments."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def pick(self, xs):
        return self.rng.choice(xs)

    def key(self):
        return self.pick(KEYS)

    def value(self):
        r = self.rng.random()
        if r < 0.05:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 12)))
        return self.pick(VALUES)

    def some(self, gen, lo=1, hi=4):
        return [gen() for _ in range(self.rng.randint(lo, hi))]

    def set_options(self):
        opts = []
        for _ in range(self.rng.choice([0, 0, 1, 1, 2, 3])):
            o = self.pick([b"NX", b"XX", b"GET", b"KEEPTTL", b"EX", b"PX", b"ex", b"nx", b"get",
                           b"BOGUS", b"EXAT"])
            opts.append(o)
            if o.upper() in (b"EX", b"PX") and self.rng.random() < 0.9:
                opts.append(self.pick(SECONDS if o.upper() == b"EX" else MILLIS))
        return opts

    def command(self):
        k, r = self.key, self.rng.random
        table = [
            (3, lambda: [b"SET", k(), self.value()] + self.set_options()),
            (3, lambda: [b"GET", k()]),
            (2, lambda: [self.pick([b"INCR", b"DECR"]), k()]),
            (2, lambda: [self.pick([b"INCRBY", b"DECRBY"]), k(), self.pick(INTEGERS)]),
            (1, lambda: [b"MGET"] + self.some(k)),
            (1, lambda: [b"MSET"] + [x for _ in range(self.rng.randint(1, 3)) for x in (k(), self.value())]),
            (1, lambda: [b"APPEND", k(), self.value()]),
            (1, lambda: [b"STRLEN", k()]),
            (2, lambda: [self.pick([b"LPUSH", b"RPUSH"]), k()] + self.some(self.value)),
            (1, lambda: [self.pick([b"LPOP", b"RPOP"]), k()]),
            (1, lambda: [self.pick([b"LPOP", b"RPOP"]), k(), self.pick(COUNTS)]),
            (1, lambda: [b"LRANGE", k(), self.pick(INDEXES), self.pick(INDEXES)]),
            (1, lambda: [b"LLEN", k()]),
            (1, lambda: [b"LINDEX", k(), self.pick(INDEXES)]),
            (2, lambda: [b"SADD", k()] + self.some(lambda: self.pick(MEMBERS))),
            (1, lambda: [b"SREM", k()] + self.some(lambda: self.pick(MEMBERS))),
            (1, lambda: [b"SPOP", k(), self.pick([b"0", b"100", b"-1", b"x", b"07"])]),
            (1, lambda: [b"SCARD", k()]),
            (1, lambda: [b"SISMEMBER", k(), self.pick(MEMBERS)]),
            (1, lambda: [b"SMEMBERS", k()]),
            (2, lambda: [b"HSET", k()] + [x for _ in range(self.rng.randint(1, 3))
                                           for x in (self.pick(MEMBERS), self.value())]),
            (1, lambda: [b"HGET", k(), self.pick(MEMBERS)]),
            (1, lambda: [b"HDEL", k()] + self.some(lambda: self.pick(MEMBERS))),
            (1, lambda: [b"HLEN", k()]),
            (1, lambda: [b"HGETALL", k()]),
            (2, lambda: [b"ZADD", k()] + [x for _ in range(self.rng.randint(1, 3))
                                           for x in (self.pick(SCORES), self.pick(MEMBERS))]),
            (1, lambda: [b"ZPOPMIN", k()] + ([self.pick(COUNTS)] if r() < 0.6 else [])),
            (1, lambda: [b"ZCARD", k()]),
            (1, lambda: [b"ZSCORE", k(), self.pick(MEMBERS)]),
            (1, lambda: [b"ZRANGE", k(), self.pick(INDEXES), self.pick(INDEXES)] +
             ([self.pick([b"WITHSCORES", b"withscores", b"BOGUS"])] if r() < 0.5 else [])),
            (1, lambda: [b"DEL"] + self.some(k)),
            (1, lambda: [b"EXISTS"] + self.some(k)),
            (1, lambda: [b"TYPE", k()]),
            (1, lambda: [b"EXPIRE", k(), self.pick(SECONDS)] +
             ([self.pick([b"NX", b"XX", b"GT", b"LT", b"BOGUS"])] if r() < 0.3 else [])),
            (1, lambda: [b"PEXPIRE", k(), self.pick(MILLIS)]),
            (1, lambda: [self.pick([b"TTL", b"PTTL"]), k()]),
            (1, lambda: [b"PERSIST", k()]),
            (1, lambda: [b"KEYS", self.pick(PATTERNS)]),
            (1, lambda: [b"DBSIZE"]),
            (1, lambda: [b"PING"] + ([self.value()] if r() < 0.5 else [])),
            (1, lambda: [b"ECHO", self.value()]),
            # SELECT: the example has one database (SELECT 1 would switch redis-server's).
            (1, lambda: [b"SELECT", self.pick([b"0", b"x", b"-1", b"00", b"16", b"2147483648"])]),
            (1, lambda: [self.pick([b"NOSUCH", b"getx", b"S\x00ET", b"x" * 200, b"h\r\nx"])] +
             self.some(self.value, 0, 3)),
        ]
        if r() < 0.004:
            return [self.pick([b"FLUSHDB", b"FLUSHALL"])]
        weights = [w for w, _ in table]
        args = self.rng.choices(table, weights=weights)[0][1]()
        # Wrong arities now and then: drop or add an argument (not SPOP's count: without it
        # SPOP pops a random member).
        if r() < 0.06 and len(args) > 1 and args[0] != b"SPOP":
            args = args[:-1]
        elif r() < 0.04:
            args = args + [self.value()]
        if r() < 0.2:  # command names are case-insensitive
            args[0] = bytes(c ^ 0x20 if self.rng.random() < 0.5 and chr(c).isalpha() else c
                            for c in args[0])
        return args


# Protocol errors: each on a fresh connection; the reply and the close must match.
PROTOCOL_ERRORS = [
    b"*abc\r\n",
    b"*1\r\n+PING\r\n",
    b"*1\r\n:1\r\n",
    b"*1\r\n$-3\r\n",
    b"*1\r\n$x\r\n",
    b"*1\r\n$01\r\n",
    b"*1\r\n$+1\r\n",
    b"*-0\r\n",
    b"*01\r\n",
    b"*1\r\n$%d\r\n" % (600 * 1024 * 1024),
    b'set k "unbalanced\r\n',
    b"set k 'x'y\r\n",
    b"x" * (64 * 1024 + 10),
    b"*" + b"1" * (64 * 1024 + 10),
    b"*1\r\n$" + b"1" * (64 * 1024 + 10),
]


# ------------------------------------------------------------------------------------- servers

def start_redis(redis_server, workdir):
    for _ in range(20):
        port = e2e_process.free_port()
        proc = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--daemonize", "no",
                                 "--protected-mode", "no", "--dir", workdir, "--loglevel", "warning"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                c = Conn(port)
                if c.call(encode([b"PING"])) == (b"+", b"PONG"):
                    c.close()
                    return proc, port
                c.close()
            except (OSError, Failure):
                time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    raise Failure("redis-server did not start")


def start_example(binary):
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0"], stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    marker = "listening on tcp://127.0.0.1:"
    if marker not in line:
        proc.kill()
        raise Failure(f"example did not report its address: {line!r}")
    return proc, int(line.split(marker)[1].split()[0])


def show(args):
    return " ".join(repr(a)[2:-1] if a else '""' for a in args)


def run(binary, redis_server, seed, count):
    with tempfile.TemporaryDirectory() as workdir:
        redis_proc, redis_port = start_redis(redis_server, workdir)
        example_proc = None
        try:
            example_proc, example_port = start_example(binary)
            ref, ours = Conn(redis_port), Conn(example_port)
            stream = Stream(seed)
            history = []
            for i in range(count):
                args = stream.command()
                inline = stream.rng.random() < 0.1
                data = encode_inline(args, stream.rng) if inline else encode(args)
                want = normalize(args, ref.call(data))
                got = normalize(args, ours.call(data))
                history.append(args)
                if serialize(want) != serialize(got):
                    print(f"divergence at command {i + 1} of seed {seed}:")
                    for prev in history[-6:-1]:
                        print(f"  (before) {show(prev)}")
                    print(f"  command:      {show(args)}" + (f"  (inline: {data!r})" if inline else ""))
                    print(f"  redis-server: {serialize(want)!r}")
                    print(f"  example:      {serialize(got)!r}")
                    return 1
            ref.close()
            ours.close()

            for bad in PROTOCOL_ERRORS:
                results = []
                for port in (redis_port, example_port):
                    c = Conn(port)
                    c.sock.sendall(encode([b"PING"]) + bad)
                    results.append(c.read_to_eof())
                    c.close()
                if results[0] != results[1]:
                    print(f"protocol error divergence for {bad[:60]!r}:")
                    print(f"  redis-server: {results[0][:200]!r}")
                    print(f"  example:      {results[1][:200]!r}")
                    return 1
            print(f"{count} commands and {len(PROTOCOL_ERRORS)} protocol errors: same replies "
                  f"(seed {seed})")
            return 0
        finally:
            for proc in (redis_proc, example_proc):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--redis-server", default=shutil.which("redis-server"))
    a = ap.parse_args()
    if not a.redis_server or not os.access(a.redis_server, os.X_OK):
        print("SKIP: redis-server is not installed")
        return SKIP
    try:
        return run(a.binary, a.redis_server, a.seed, a.count)
    except Failure as e:
        print(f"FAIL: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
