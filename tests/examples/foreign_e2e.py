#!/usr/bin/python3
"""End-to-end tests of examples/fetch (libcurl) and examples/resolve (c-ares), both driven by a
gnet loop through Loop::watch and loop timers, against real servers.

usage: foreign_e2e.py FETCH RESOLVE HTTP CASE   ("-" for a binary the case does not use)
  fetch_files     the real examples/http serves 30 files of random bytes (0 B .. 8 MiB) from a
                  temp directory; fetch gets them all with --parallel 10, once into --output-dir
                  (every file compared byte for byte) and once hashing only (every SHA-256 and
                  size on stdout checked)
  fetch_errors    a 404 (exit 1, "HTTP 404 Not Found"), a refused port ("Couldn't connect to
                  server"), a server that never answers with --timeout-ms ("Timeout was
                  reached"), a body cut short ("Transferred a partial file"); the good URLs
                  beside them still arrive whole; bad flags exit 2
  resolve_names   a DNS server in this script (UDP, 127.0.0.1, free port) answers A and AAAA
                  records from a table: 50 names resolved at once, with --family any, 4 and 6,
                  every address checked
  resolve_errors  an unknown name ("Domain name not found"), a name the server never answers
                  with --timeout-ms 200 --tries 1 ("Timeout while contacting DNS servers"), a
                  dead server port (ICMP port unreachable: "Could not contact DNS servers"),
                  each exit 1 with the known names beside it still answered; bad flags exit 2

Every server here is started on a free port and stopped in a finally block. Deadlines only turn
a hang into a failure; they never decide a pass (the timeout cases wait for the tool's own error
text, whatever it takes).
"""
import hashlib
import ipaddress
import os
import random
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading

from e2e_process import free_port, stop

RUN_DEADLINE = 240  # seconds: only a hang reaches it


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=RUN_DEADLINE)
    except subprocess.TimeoutExpired:
        raise Failure(f"{cmd[0]} did not finish within {RUN_DEADLINE}s: {cmd[1:]}")


def text(r):
    return f"exit {r.returncode}\nstdout: {r.stdout.decode(errors='replace')[-3000:]}\n" \
           f"stderr: {r.stderr.decode(errors='replace')[-3000:]}"


# ---------------------------------------------------------------- fetch

def start_http(http, root):
    """examples/http on a free port (--port 0; the port is read back from its first line)."""
    proc = subprocess.Popen([http, "--host", "127.0.0.1", "--port", "0", "--root", root],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    m = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        proc.wait()
        raise Failure(f"http did not report its address, first line: {line!r}")
    return proc, int(m.group(1))


def make_files(root):
    """30 files of random bytes, sizes from 0 B to 8 MiB (edges around buffer sizes included)."""
    rng = random.Random(20240611)
    sizes = [0, 1, 2, 100, 1023, 1024, 1025, 4095, 4096, 4097, 16383, 16384, 16385, 65535, 65536,
             65537, 131072, 262145, 1 << 20, (1 << 20) + 1, 3 * 1000 * 1000, 8 << 20, (8 << 20) - 1]
    while len(sizes) < 30:
        sizes.append(rng.randrange(0, 8 << 20))
    files = []
    for i, size in enumerate(sizes):
        name = f"f{i:02d}.bin"
        data = os.urandom(size)
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
        files.append((name, data))
    return files


def case_fetch_files(fetch, _resolve, http):
    tmp = tempfile.mkdtemp(prefix="gnet-fetch-")
    proc = None
    try:
        www = os.path.join(tmp, "www")
        out = os.path.join(tmp, "out")
        os.makedirs(www)
        os.makedirs(out)
        files = make_files(www)
        proc, port = start_http(http, www)
        urls = [f"http://127.0.0.1:{port}/{name}" for name, _ in files]

        r = run([fetch, "--parallel", "10", "--output-dir", out, *urls])
        check(r.returncode == 0, f"fetch --output-dir: {text(r)}")
        check(sorted(os.listdir(out)) == sorted(str(i) for i in range(len(files))),
              f"output files: {sorted(os.listdir(out))}")
        for i, (name, data) in enumerate(files):
            with open(os.path.join(out, str(i)), "rb") as f:
                got = f.read()
            check(got == data, f"{name}: {len(got)} bytes written to {i}, expected {len(data)} "
                               f"(first difference at {next((k for k, (a, b) in enumerate(zip(got, data)) if a != b), min(len(got), len(data)))})")
        check_summary(r.stdout, files)

        # Hashing only (no --output-dir), the URLs in another order and twice each: 60 transfers
        # of which 10 are in flight at once.
        order = list(range(len(files))) * 2
        random.Random(7).shuffle(order)
        r = run([fetch, "--parallel", "10", *[urls[i] for i in order]])
        check(r.returncode == 0, f"fetch (hash only): {text(r)}")
        check_summary(r.stdout, [files[i] for i in order])
        check(r.stderr == b"", f"unexpected stderr: {r.stderr[-2000:]!r}")
        stop(proc)
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def check_summary(stdout, files):
    lines = stdout.decode().splitlines()
    check(len(lines) == len(files), f"{len(lines)} summary lines for {len(files)} URLs:\n{stdout[-2000:]!r}")
    for i, ((name, data), line) in enumerate(zip(files, lines)):
        want = f"{i} 200 {len(data)} {hashlib.sha256(data).hexdigest()}"
        check(line == want, f"{name}: summary {line!r}, expected {want!r}")


def case_fetch_errors(fetch, _resolve, http):
    tmp = tempfile.mkdtemp(prefix="gnet-fetch-")
    proc = None
    silent = None
    try:
        www = os.path.join(tmp, "www")
        out = os.path.join(tmp, "out")
        os.makedirs(www)
        os.makedirs(out)
        good = os.urandom(200_000)
        with open(os.path.join(www, "good.bin"), "wb") as f:
            f.write(good)
        proc, port = start_http(http, www)
        base = f"http://127.0.0.1:{port}"

        # A 404 between two good URLs.
        r = run([fetch, "--output-dir", out, f"{base}/good.bin", f"{base}/missing.bin", f"{base}/good.bin"])
        check(r.returncode == 1, f"404: {text(r)}")
        err = r.stderr.decode()
        check(f"[1] {base}/missing.bin: HTTP 404 Not Found" in err, f"404 not named: {text(r)}")
        check(err.count("fetch:") == 1, f"only the 404 fails: {text(r)}")
        lines = r.stdout.decode().splitlines()
        check(len(lines) == 3 and lines[1].startswith("1 404 ") and lines[1].endswith("HTTP 404 Not Found"),
              f"404 summary: {text(r)}")
        digest = hashlib.sha256(good).hexdigest()
        for i in (0, 2):
            check(lines[i] == f"{i} 200 {len(good)} {digest}", f"good URL {i} beside the 404: {lines[i]!r}")
            with open(os.path.join(out, str(i)), "rb") as f:
                check(f.read() == good, f"good URL {i} beside the 404: body differs")

        # A refused port: bound, then closed, so nothing listens there.
        dead = free_port()
        r = run([fetch, f"http://127.0.0.1:{dead}/x", f"{base}/good.bin"])
        check(r.returncode == 1, f"refused: {text(r)}")
        err = r.stderr.decode()
        check(f"[0] http://127.0.0.1:{dead}/x: Couldn't connect to server" in err, f"refused not named: {text(r)}")
        lines = r.stdout.decode().splitlines()
        check(len(lines) == 2 and lines[0].startswith("0 0 0 Couldn't connect to server"), f"refused summary: {text(r)}")
        check(lines[1] == f"1 200 {len(good)} {digest}", f"good URL beside the refused one: {lines[1]!r}")

        # A server that accepts (the kernel's backlog does) and never answers: only curl's
        # timeout, armed through CURLMOPT_TIMERFUNCTION -> Loop::run_after, ends the transfer.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        sport = silent.getsockname()[1]
        r = run([fetch, "--timeout-ms", "300", f"http://127.0.0.1:{sport}/never", f"{base}/good.bin"])
        check(r.returncode == 1, f"timeout: {text(r)}")
        check(f"[0] http://127.0.0.1:{sport}/never: Timeout was reached" in r.stderr.decode(), f"timeout not named: {text(r)}")
        lines = r.stdout.decode().splitlines()
        check(len(lines) == 2 and lines[1] == f"1 200 {len(good)} {digest}", f"good URL beside the timeout: {text(r)}")

        # A body cut short: the server promises 100000 bytes, sends 10 and closes. curl hears the
        # end of the stream through the watch and names it.
        short = socket.socket()
        short.bind(("127.0.0.1", 0))
        short.listen(16)
        server_thread = threading.Thread(target=serve_short_body, args=(short,), daemon=True)
        server_thread.start()
        try:
            r = run([fetch, f"http://127.0.0.1:{short.getsockname()[1]}/short", f"{base}/good.bin"])
        finally:
            short.close()
            server_thread.join(timeout=30)
        check(r.returncode == 1, f"short body: {text(r)}")
        check("Transferred a partial file" in r.stderr.decode(), f"short body not named: {text(r)}")
        lines = r.stdout.decode().splitlines()
        check(len(lines) == 2 and lines[0].startswith("0 200 10 Transferred a partial file")
              and lines[1] == f"1 200 {len(good)} {digest}", f"short body summary: {text(r)}")

        # Bad flags: exit 2 with CLI11's message; nothing fetched.
        for args in (["--parallel", "0", f"{base}/good.bin"], ["--timeout-ms", "-1", f"{base}/good.bin"],
                     ["--output-dir", os.path.join(tmp, "nonexistent"), f"{base}/good.bin"], [],
                     ["--bogus", f"{base}/good.bin"]):
            r = run([fetch, *args])
            check(r.returncode == 2, f"bad flags {args}: {text(r)}")
            check(r.stdout == b"" and r.stderr != b"", f"bad flags {args}: {text(r)}")
        r = run([fetch, "ftp://127.0.0.1:1/x"])
        check(r.returncode == 1 and "Unsupported protocol" in r.stderr.decode(), f"ftp:// refused: {text(r)}")
        stop(proc)
        proc = None
    finally:
        if silent is not None:
            silent.close()
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def serve_short_body(listener):
    """Answers one request with a Content-Length of 100000 and 10 bytes of body, then closes."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return  # the listener was closed: fetch never connected (the test fails on its output)
    with conn:
        conn.settimeout(60)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"0123456789")


# ---------------------------------------------------------------- resolve

QTYPE_A, QTYPE_AAAA = 1, 28


class DnsServer:
    """A small authoritative DNS server on UDP 127.0.0.1:<free port>, on its own thread.

    records: {lower-case name: {"A": [...], "AAAA": [...]}}. A name in the table gets NOERROR
    with its records of the asked type (none: NOERROR with no answers, "no data"); a name in
    `silent` gets no reply at all; any other name gets NXDOMAIN. Every question is logged.
    """

    def __init__(self, records, silent=()):
        self.records = records
        self.silent = {s.lower() for s in silent}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.asked = []  # (name, qtype)
        self.errors = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            if not ready:
                continue
            try:
                query, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            try:
                reply = self.answer(query)
            except Exception as e:  # a malformed query is a test failure, reported at the end
                with self.lock:
                    self.errors.append(f"{e!r} for {query!r}")
                continue
            if reply is not None:
                self.sock.sendto(reply, peer)

    def answer(self, query):
        qid, flags, qdcount, _an, _ns, _ar = struct.unpack("!HHHHHH", query[:12])
        if flags & 0x8000 or qdcount != 1:
            raise ValueError(f"not a one-question query: flags {flags:#x} qdcount {qdcount}")
        labels, pos = [], 12
        while True:
            n = query[pos]
            pos += 1
            if n == 0:
                break
            if n & 0xC0:
                raise ValueError("compression pointer in a question")
            labels.append(query[pos:pos + n].decode("ascii"))
            pos += n
        qtype, qclass = struct.unpack("!HH", query[pos:pos + 4])
        question = query[12:pos + 4]
        name = ".".join(labels).lower()
        with self.lock:
            self.asked.append((name, qtype))
        if name in self.silent:
            return None
        rd = flags & 0x0100
        opcode = flags & 0x7800
        entry = self.records.get(name)
        answers = []
        if entry is not None and qclass == 1:
            if qtype == QTYPE_A:
                answers = [(QTYPE_A, ipaddress.IPv4Address(a).packed) for a in entry.get("A", [])]
            elif qtype == QTYPE_AAAA:
                answers = [(QTYPE_AAAA, ipaddress.IPv6Address(a).packed) for a in entry.get("AAAA", [])]
        rcode = 0 if entry is not None else 3  # NXDOMAIN
        header = struct.pack("!HHHHHH", qid, 0x8000 | opcode | 0x0400 | rd | 0x0080 | rcode, 1, len(answers), 0, 0)
        body = b"".join(struct.pack("!HHHIH", 0xC00C, t, 1, 60, len(rdata)) + rdata for t, rdata in answers)
        return header + question + body

    def close(self):
        self.stopping = True
        self.thread.join(timeout=30)
        self.sock.close()
        check(not self.errors, f"DNS server saw malformed queries: {self.errors[:3]}")


def name_table():
    """50 names: A only, AAAA only, both, several of each (documentation address ranges)."""
    rng = random.Random(1234)
    records = {}
    for i in range(50):
        kind = i % 5
        entry = {}
        if kind in (0, 2, 3, 4):
            entry["A"] = [f"192.0.2.{rng.randrange(1, 255)}" if kind != 4 else f"198.51.100.{rng.randrange(1, 255)}"
                          for _ in range(1 if kind != 3 else 3)]
        if kind in (1, 2, 3):
            entry["AAAA"] = [str(ipaddress.IPv6Address(f"2001:db8::{rng.randrange(1, 0xffff):x}:{i:x}"))
                             for _ in range(1 if kind != 3 else 2)]
        records[f"host{i:02d}.gnet-e2e.test"] = entry
    return records


def parse_resolve(stdout):
    got = {}
    for line in stdout.decode().splitlines():
        parts = line.split(" ")
        check(len(parts) == 2, f"output line {line!r} is not 'name address'")
        got.setdefault(parts[0], []).append(parts[1])
    return {k: sorted(v) for k, v in got.items()}


def expected(records, names, families):
    want = {}
    for n in names:
        addrs = [a for fam in families for a in records[n].get(fam, [])]
        if addrs:
            want[n] = sorted(addrs)
    return want


def case_resolve_names(_fetch, resolve, _http):
    records = name_table()
    dns = DnsServer(records)
    try:
        server = f"127.0.0.1:{dns.port}"
        names = list(records)
        # All 50 at once, both families.
        r = run([resolve, "--server", server, "--family", "any", *names])
        check(r.returncode == 0, f"any: {text(r)}")
        check(r.stderr == b"", f"any: unexpected stderr: {text(r)}")
        check(parse_resolve(r.stdout) == expected(records, names, ["A", "AAAA"]),
              f"any: answers differ:\n{text(r)}")
        # Names in the order given.
        order = [line.split(" ")[0] for line in r.stdout.decode().splitlines()]
        check(order == sorted(order, key=names.index), "names out of order in the output")
        with dns.lock:
            asked = set(dns.asked)
        for n in names:
            check((n, QTYPE_A) in asked and (n, QTYPE_AAAA) in asked, f"{n}: A and AAAA not both asked")

        # One family: only names that have it (asking the other is "no data", an error).
        v4 = [n for n in names if records[n].get("A")]
        r = run([resolve, "--server", server, "--family", "4", *v4])
        check(r.returncode == 0, f"family 4: {text(r)}")
        check(parse_resolve(r.stdout) == expected(records, v4, ["A"]), f"family 4: answers differ:\n{text(r)}")
        v6 = [n for n in names if records[n].get("AAAA")]
        r = run([resolve, "--server", server, "--family", "6", *v6])
        check(r.returncode == 0, f"family 6: {text(r)}")
        check(parse_resolve(r.stdout) == expected(records, v6, ["AAAA"]), f"family 6: answers differ:\n{text(r)}")

        # An AAAA-only name asked for IPv4: the server says "no data".
        only6 = next(n for n in names if not records[n].get("A"))
        r = run([resolve, "--server", server, "--family", "4", only6])
        check(r.returncode == 1 and f"{only6}: DNS server returned answer with no data" in r.stderr.decode(),
              f"no data: {text(r)}")
    finally:
        dns.close()


def case_resolve_errors(_fetch, resolve, _http):
    records = name_table()
    silent = "silent.gnet-e2e.test"
    dns = DnsServer(records, silent=[silent])
    try:
        server = f"127.0.0.1:{dns.port}"
        known = ["host00.gnet-e2e.test", "host02.gnet-e2e.test"]
        want = expected(records, known, ["A", "AAAA"])

        # Unknown: NXDOMAIN.
        unknown = "nosuchhost.gnet-e2e.test"
        r = run([resolve, "--server", server, known[0], unknown, known[1]])
        check(r.returncode == 1, f"unknown: {text(r)}")
        check(r.stderr.decode() == f"resolve: {unknown}: Domain name not found\n", f"unknown: {text(r)}")
        check(parse_resolve(r.stdout) == want, f"known names beside the unknown one: {text(r)}")

        # Silent: the server hears the question and never answers; c-ares's own timeout (a loop
        # timer from ares_timeout) ends it.
        r = run([resolve, "--server", server, "--timeout-ms", "200", "--tries", "1", known[0], silent, known[1]])
        check(r.returncode == 1, f"silent: {text(r)}")
        check(r.stderr.decode() == f"resolve: {silent}: Timeout while contacting DNS servers\n", f"silent: {text(r)}")
        check(parse_resolve(r.stdout) == want, f"known names beside the silent one: {text(r)}")
        with dns.lock:
            check(any(n == silent for n, _ in dns.asked), "the silent name was never asked")

        # A dead port: the kernel answers with ICMP port unreachable, which c-ares hears as an
        # error on its socket (the watch reports a hang-up, c-ares's read gets ECONNREFUSED). The
        # long timeout means only that error can end the query with this text. One family: with
        # two queries c-ares's second send already takes the error, and the first then waits
        # for its timeout (c-ares 1.18 does the same driven by select()).
        dead = free_port_udp()
        r = run([resolve, "--server", f"127.0.0.1:{dead}", "--timeout-ms", "60000", "--tries", "1",
                 "--family", "4", known[0]])
        check(r.returncode == 1, f"dead port: {text(r)}")
        check(r.stderr.decode() == f"resolve: {known[0]}: Could not contact DNS servers\n", f"dead port: {text(r)}")
        check(r.stdout == b"", f"dead port: {text(r)}")

        # Bad flags: exit 2, nothing resolved.
        for args in (["--family", "5", known[0]], ["--tries", "0", known[0]], ["--timeout-ms", "0", known[0]],
                     ["--server", "not-an-address:x", known[0]], [], ["--bogus", known[0]]):
            r = run([resolve, *args])
            check(r.returncode == 2, f"bad flags {args}: {text(r)}")
            check(r.stdout == b"" and r.stderr != b"", f"bad flags {args}: {text(r)}")
    finally:
        dns.close()


def free_port_udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CASES = {
    "fetch_files": case_fetch_files,
    "fetch_errors": case_fetch_errors,
    "resolve_names": case_resolve_names,
    "resolve_errors": case_resolve_errors,
}


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in CASES:
        print(__doc__)
        return 2
    fetch, resolve, http, case = sys.argv[1:]
    try:
        CASES[case](fetch, resolve, http)
    except Failure as e:
        print(f"FAIL ({case}): {e}")
        return 1
    print(f"PASS ({case})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
