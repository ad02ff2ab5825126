#!/usr/bin/python3
"""End-to-end tests of TLS in the examples (echo, http, websocket as servers, cat as the client),
each against real peer programs written by others: python3's ssl module, `openssl s_client`,
curl, python3-websockets.

usage: tls_e2e.py ECHO HTTP WEBSOCKET CAT CASE
  echo_python     echo over TLS 1.3 and 1.2 with python's ssl: 1 MiB random back byte for byte;
                  close_notify answered with close_notify
  echo_s_client   echo with `openssl s_client` (chain and host name verified): a line comes back
  old_protocol    `openssl s_client -tls1_1` is refused (named in the server's log); a good
                  client is served next
  mutual          echo --tls-require-client-cert: a client with a certificate from --tls-ca is
                  served, one without any or with a foreign one is refused (named)
  http_files      https with curl --cacert: a 4 MiB static file byte for byte (fast and
                  rate-limited readers), two URLs on one kept-alive connection, ALPN http/1.1
  http_refused    plaintext `curl http://` on the TLS port fails and the next https request is
                  served; a client offering only h2 is refused (no ALPN in common, named on
                  both sides), one offering h2 and http/1.1 is served
  websocket_wss   the websocket example over wss:// (python3-websockets, CA-trusting context):
                  echo of several messages up to 1 MiB; the chat page over https
  cat_tls         cat as the TLS client of the TLS echo: 1 MB of stdin back byte for byte,
                  --tls-server-name, --tls-alpn, --tls-insecure (see CAT_PAYLOAD for --owned)
  cat_errors      cat's failed handshakes exit 1 naming the reason: host mismatch, expired,
                  untrusted (no --tls-ca; a self-signed server); the servers serve on
  flags           --tls-cert without --tls-key (and the like) exit 2 with a message; a missing
                  certificate file exits 1 naming it

Certificates are made per case in a temporary directory with the openssl CLI: a CA, a server
certificate for localhost and 127.0.0.1 (subjectAltName), a client certificate, an expired one
(`openssl ca -startdate/-enddate`: `openssl x509 -req` cannot backdate) and a self-signed one.
Servers listen on 127.0.0.1 with --port 0 (the port is read back from the "listening on" line)
and are stopped by PID with SIGTERM (they must exit 0). Deadlines only turn a hang into a
failure; timing never decides a pass.
Exit status: 0 pass, 1 fail, 77 skipped (a client tool is missing; the script says which).
"""
import asyncio
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# The servers started here must never talk to a systemd that runs this test (a Type=notify
# CI service): the http and echo examples report READY=1/MAINPID to $NOTIFY_SOCKET.
os.environ.pop("NOTIFY_SOCKET", None)

SKIP = 77
DEADLINE = 60  # seconds: a failure deadline, never a pass criterion


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def need_tool(name):
    if shutil.which(name) is None:
        print(f"SKIP: {name} is not installed (apt-get install {name})")
        sys.exit(SKIP)


# ---------------------------------------------------------------- certificates

OPENSSL_CNF = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca ]
default_ca = test_ca
[ test_ca ]
database = {dir}/index.txt
serial = {dir}/serial
new_certs_dir = {dir}/issued
default_md = sha256
policy = any_name
unique_subject = no
email_in_dn = no
[ any_name ]
commonName = supplied
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


class Pki:
    """A throwaway CA and the certificates the cases use, as PEM files in dir."""

    def __init__(self, d):
        self.dir = d
        self.cnf = os.path.join(d, "openssl.cnf")
        with open(self.cnf, "w") as f:
            f.write(OPENSSL_CNF.format(dir=d))
        os.mkdir(os.path.join(d, "issued"))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        self.ca = self.path("ca.crt")
        self.openssl("req", "-x509", "-config", self.cnf, "-extensions", "ca_ext", *EC_KEY,
                     "-keyout", self.path("ca.key"), "-out", self.ca, "-days", "2",
                     "-subj", "/CN=gnet-cpp e2e test CA")
        self.server = self.signed("server", "/CN=localhost", "server_ext", ["-days", "2"])
        self.client = self.signed("client", "/CN=e2e client", "client_ext", ["-days", "2"])
        # Valid for one day in 2020, long expired.
        self.expired = self.signed("expired", "/CN=localhost", "server_ext",
                                   ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"])
        self.selfsigned = (self.path("selfsigned.crt"), self.path("selfsigned.key"))
        self.openssl("req", "-x509", "-config", self.cnf, "-extensions", "server_ext", *EC_KEY,
                     "-keyout", self.selfsigned[1], "-out", self.selfsigned[0], "-days", "2",
                     "-subj", "/CN=localhost")

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        r = subprocess.run(["openssl", *args], cwd=self.dir, capture_output=True, text=True, timeout=DEADLINE)
        check(r.returncode == 0, f"openssl {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r

    def signed(self, name, subject, extensions, validity):
        """A key and a certificate signed by the CA (openssl ca: it can set any dates)."""
        crt, key, csr = self.path(name + ".crt"), self.path(name + ".key"), self.path(name + ".csr")
        self.openssl("req", "-new", "-config", self.cnf, *EC_KEY, "-keyout", key, "-out", csr, "-subj", subject)
        self.openssl("ca", "-batch", "-config", self.cnf, "-cert", self.ca, "-keyfile", self.path("ca.key"),
                     "-notext", "-extensions", extensions, *validity, "-in", csr, "-out", crt)
        return crt, key


def tls_flags(pair):
    return ["--tls-cert", pair[0], "--tls-key", pair[1]]


# ---------------------------------------------------------------- server processes


class Server:
    """An example binary on 127.0.0.1 and a kernel-chosen port, read from its startup line."""

    def __init__(self, argv, pattern):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv + ["--host", "127.0.0.1", "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], DEADLINE)
        line = self.proc.stdout.readline() if ready else ""
        m = re.search(pattern, line)
        if not m:
            self.kill()
            raise Failure(f"{argv[0]}: expected {pattern!r}, got {line!r}; stderr: {self.stderr_text()[-2000:]}")
        self.line = line
        self.port = int(m.group(1))
        # The rest of stdout is drained so the server never blocks on it.
        self.rest = []
        threading.Thread(target=lambda: self.rest.extend(self.proc.stdout), daemon=True).start()

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def wait_log(self, text, what):
        """Waits (failure deadline) until the server's stderr contains text."""
        deadline = time.monotonic() + DEADLINE
        while text not in self.stderr_text():
            check(self.proc.poll() is None, f"server died waiting for {what}: {self.stderr_text()[-2000:]}")
            check(time.monotonic() < deadline, f"{what} never logged: {self.stderr_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("server did not stop within the deadline after SIGTERM")
        check(rc == 0, f"server exited with {rc}: {self.stderr_text()[-4000:]}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class running:
    """with running(argv, pattern) as server: ... — stopped cleanly (exit 0) on success, killed
    on failure."""

    def __init__(self, argv, pattern):
        self.argv, self.pattern = argv, pattern

    def __enter__(self):
        self.server = Server(self.argv, self.pattern)
        return self.server

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.server.stop()
        else:
            self.server.kill()
        return False


ECHO_LINE = r"listening on tls://127\.0\.0\.1:(\d+)"


def echo_server(echo, pair, *extra):
    return running([echo, *tls_flags(pair), *extra], ECHO_LINE)


# ---------------------------------------------------------------- clients


def client_context(pki, cert=None, maximum=None):
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def tls_connect(port, ctx, name="localhost"):
    raw = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    try:
        return ctx.wrap_socket(raw, server_hostname=name)
    except BaseException:
        raw.close()
        raise


def echo_roundtrip(s, payload):
    """Sends payload, then reads it back. One thread: an SSL object must not be read and written
    from two threads at once. The echo server never stops reading (it queues what it cannot send
    yet), so sending everything first cannot deadlock."""
    s.sendall(payload)
    got = bytearray()
    while len(got) < len(payload):
        chunk = s.recv(1 << 16)
        check(chunk, f"EOF after {len(got)} of {len(payload)} bytes")
        got += chunk
    check(len(got) == len(payload), f"{len(got)} bytes back for {len(payload)}")
    check(bytes(got) == payload, "echoed bytes differ")


def python_echo_works(port, pki, size=100000, **kw):
    with tls_connect(port, client_context(pki, **kw)) as s:
        echo_roundtrip(s, os.urandom(size))


def s_client(port, *args, stdin=subprocess.PIPE):
    return subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_exactly(f, n):
    got = b""
    while len(got) < n:
        ready, _, _ = select.select([f], [], [], DEADLINE)
        check(ready, f"no more output after {got!r}")
        chunk = os.read(f.fileno(), n - len(got))
        check(chunk, f"output ended after {got!r}")
        got += chunk
    return got


def run(argv, stdin=b"", timeout=120):
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"{argv} did not finish within {timeout}s")


# ---------------------------------------------------------------- cases


def case_echo_python(b, pki):
    with echo_server(b.echo, pki.server) as server:
        check("client certificates" not in server.line, server.line)
        for maximum, version in ((None, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")):
            with tls_connect(server.port, client_context(pki, maximum=maximum)) as s:
                check(s.version() == version, f"negotiated {s.version()}, wanted {version}")
                echo_roundtrip(s, os.urandom(1 << 20))
                # Our close_notify ends the server's input; it closes with its own close_notify.
                raw = s.unwrap()
                check(raw.recv(1) == b"", "bytes after close_notify")
                raw.close()
        # Many small writes, each echoed before the next.
        with tls_connect(server.port, client_context(pki)) as s:
            for i in range(200):
                echo_roundtrip(s, f"message {i}\n".encode() * (i + 1))


def case_echo_s_client(b, pki):
    with echo_server(b.echo, pki.server) as server:
        for version in ("-tls1_3", "-tls1_2"):
            # -verify_return_error: a chain or name that does not verify fails the handshake.
            p = s_client(server.port, version, "-quiet", "-no_ign_eof", "-CAfile", pki.ca, "-servername",
                         "localhost", "-verify_hostname", "localhost", "-verify_return_error")
            try:
                line = b"hello through openssl s_client " + os.urandom(8).hex().encode() + b"\n"
                p.stdin.write(line)
                p.stdin.flush()
                check(read_exactly(p.stdout, len(line)) == line, "s_client got another line back")
                p.stdin.close()  # -no_ign_eof: end of input closes the connection
                rc = p.wait(DEADLINE)
                err = p.stderr.read().decode(errors="replace")
                check(rc == 0, f"s_client {version} exit {rc}: {err}")
                check("verify error" not in err, err)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdout.close()
                p.stderr.close()


def case_old_protocol(b, pki):
    with echo_server(b.echo, pki.server) as server:
        # @SECLEVEL=0 lets this OpenSSL offer TLS 1.1 at all: the refusal is the server's.
        p = s_client(server.port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", pki.ca,
                     stdin=subprocess.DEVNULL)
        try:
            out, err = p.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Failure("s_client -tls1_1 hung")
        text = (out + err).decode(errors="replace")
        check(p.returncode != 0, f"s_client -tls1_1 succeeded: {text}")
        check("alert protocol version" in text or "unsupported protocol" in text, text)
        server.wait_log("no TLS version in common", "the refusal of TLS 1.1")
        python_echo_works(server.port, pki, size=1 << 20)
        # TLS 1.0 the same.
        r = run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1", "-cipher",
                 "DEFAULT:@SECLEVEL=0"], timeout=DEADLINE)
        check(r.returncode != 0, "s_client -tls1 succeeded")
        python_echo_works(server.port, pki)


def case_mutual(b, pki):
    with echo_server(b.echo, pki.server, "--tls-ca", pki.ca, "--tls-require-client-cert") as server:
        check("client certificates required" in server.line, server.line)
        python_echo_works(server.port, pki, size=1 << 20, cert=pki.client)

        def refused(cert, logged, what):
            # TLS 1.3: the client's handshake ends before the server has checked its
            # certificate; the refusal (an alert, then the close) arrives on the first read.
            try:
                with tls_connect(server.port, client_context(pki, cert=cert)) as s:
                    s.sendall(b"let me in\n")
                    got = s.recv(100)
                    check(got == b"", f"{what}: server answered {got!r}")
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                pass
            server.wait_log(logged, what)

        refused(None, "sent no certificate where one is required", "a client without a certificate")
        refused(pki.selfsigned, "not trusted", "a client certificate from no trusted CA")
        python_echo_works(server.port, pki, cert=pki.client)


def http_root(pki):
    root = pki.path("www")
    os.mkdir(root)
    files = {"big.bin": os.urandom(4 << 20), "small.txt": b"small file over TLS\n",
             "other.bin": os.urandom(300000)}
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    return root, files


HTTP_LINE = r"http: listening on tls://127\.0\.0\.1:(\d+)"


def curl(pki, port, *args):
    return run(["curl", "-sS", "--cacert", pki.ca, "--resolve", f"localhost:{port}:127.0.0.1", *args])


def case_http_files(b, pki):
    root, files = http_root(pki)
    with running([b.http, "--root", root, *tls_flags(pki.server)], HTTP_LINE) as server:
        base = f"https://localhost:{server.port}"
        for extra in ([], ["--limit-rate", "8M"]):  # the second reader is slower than the server
            out = pki.path("got.bin")
            r = curl(pki, server.port, *extra, "-o", out, "-w", "%{http_code} %{size_download}", f"{base}/big.bin")
            check(r.returncode == 0, f"curl {extra}: exit {r.returncode}: {r.stderr!r}")
            check(r.stdout == b"200 %d" % len(files["big.bin"]), r.stdout)
            with open(out, "rb") as f:
                check(f.read() == files["big.bin"], f"big.bin differs ({extra})")
        # Two URLs in one call: one connection, kept alive; ALPN chose http/1.1.
        a, o = pki.path("a.out"), pki.path("o.out")
        r = curl(pki, server.port, "-v", "-w", "%{num_connects} %{http_code} %{http_version}\n",
                 "-o", a, f"{base}/small.txt", "-o", o, f"{base}/other.bin")
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 0, f"curl keep-alive: exit {r.returncode}: {err}")
        check(r.stdout == b"1 200 1.1\n0 200 1.1\n", f"not one kept-alive connection: {r.stdout!r}\n{err}")
        check(re.search(r"ALPN.*server accepted.*http/1\.1", err), f"ALPN http/1.1 not shown:\n{err}")
        with open(a, "rb") as f:
            check(f.read() == files["small.txt"], "small.txt differs")
        with open(o, "rb") as f:
            check(f.read() == files["other.bin"], "other.bin differs")
        # A client that prefers h2 still gets HTTP/1.1 (the server's only protocol).
        r = curl(pki, server.port, "--http2", "-o", "/dev/null", "-w", "%{http_version}", f"{base}/small.txt")
        check(r.returncode == 0 and r.stdout == b"1.1", (r.returncode, r.stdout, r.stderr))
        # Dynamic routes and POST bodies go through TLS the same way.
        body = os.urandom(200000)
        with open(pki.path("body.bin"), "wb") as f:
            f.write(body)
        r = curl(pki, server.port, "--data-binary", "@" + pki.path("body.bin"), f"{base}/echo")
        check(r.returncode == 0 and r.stdout == body, f"POST /echo: exit {r.returncode}, {len(r.stdout)} bytes")


def case_http_refused(b, pki):
    root, files = http_root(pki)
    with running([b.http, "--root", root, *tls_flags(pki.server)], HTTP_LINE) as server:
        for attempt in range(2):
            r = run(["curl", "-sS", "-o", "/dev/null", f"http://127.0.0.1:{server.port}/small.txt"])
            check(r.returncode != 0, f"plaintext HTTP on the TLS port succeeded: {r.stdout!r}")
            r = curl(pki, server.port, f"https://localhost:{server.port}/small.txt")
            check(r.returncode == 0, f"https after plaintext: exit {r.returncode}: {r.stderr!r}")
            check(r.stdout == files["small.txt"], r.stdout)
        server.wait_log("does not speak TLS", "the plaintext client's failure")
        # Only h2 offered: no protocol in common, the server refuses with an alert.
        r = run([b.cat, "--connect", f"tls://127.0.0.1:{server.port}", "--tls-ca", pki.ca, "--tls-alpn", "h2"],
                stdin=b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 1, f"cat --tls-alpn h2: exit {r.returncode}: {err}")
        check("no ALPN protocol in common" in err and r.stdout == b"", err)
        server.wait_log("no ALPN protocol in common", "the ALPN refusal")
        # cat speaking HTTP/1.1 with ALPN http/1.1 is served.
        r = run([b.cat, "--connect", f"tls://127.0.0.1:{server.port}", "--owned", "--tls-ca", pki.ca,
                 "--tls-alpn", "h2", "--tls-alpn", "http/1.1"],
                stdin=b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        check(r.returncode == 0, f"cat --tls-alpn http/1.1: exit {r.returncode}: {r.stderr!r}")
        check(r.stdout.startswith(b"HTTP/1.1 200 ") and r.stdout.endswith(b"\r\n\r\n" + files["small.txt"]),
              r.stdout)


def case_websocket_wss(b, pki):
    try:
        import websockets
    except ImportError:
        print("SKIP: python3-websockets is not installed for /usr/bin/python3 (apt-get install python3-websockets)")
        sys.exit(SKIP)
    line = r"websocket: listening on https://127\.0\.0\.1:(\d+)/ \(wss://127\.0\.0\.1:\1/ws\)"
    with running([b.websocket, "--mode", "echo", "--loops", "2", *tls_flags(pki.server)], line) as server:
        ctx = client_context(pki)
        url = f"wss://localhost:{server.port}/ws"

        async def session():
            async with websockets.connect(url, ssl=ctx, host="127.0.0.1", server_hostname="localhost",
                                          max_size=None, open_timeout=DEADLINE, close_timeout=DEADLINE,
                                          ping_interval=None) as ws:
                messages = ["hello over wss", "", "ünïcödé ✓" * 100, os.urandom(1),
                            os.urandom(70000), os.urandom(1 << 20), "x" * (1 << 20), "last"]
                for m in messages:
                    await ws.send(m)
                    got = await asyncio.wait_for(ws.recv(), DEADLINE)
                    check(type(got) is type(m) and got == m,
                          f"message of {len(m)} {'bytes' if isinstance(m, bytes) else 'chars'} came back different")
                # Several in flight at once, answered in order.
                batch = [os.urandom(50000 + i) for i in range(10)]
                for m in batch:
                    await ws.send(m)
                for m in batch:
                    check(await asyncio.wait_for(ws.recv(), DEADLINE) == m, "pipelined message differs")
                await ws.close()
                check(ws.close_code == 1000, f"close code {ws.close_code}")

        asyncio.run(asyncio.wait_for(session(), DEADLINE * 5))

        # The chat page over https; its script connects with wss:// when loaded over https.
        page = urllib.request.urlopen(urllib.request.Request(f"https://127.0.0.1:{server.port}/"),
                                      context=ctx, timeout=DEADLINE).read().decode()
        check("<title>gnet-cpp chat</title>" in page, page[:200])
        check('(location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws"' in page,
              "the page does not build a wss:// URL under https")

        # Plain ws:// on the TLS port fails; wss:// still works after it.
        async def plain():
            try:
                async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=DEADLINE):
                    pass
            except (websockets.exceptions.InvalidMessage, websockets.exceptions.InvalidHandshake,
                    ConnectionError, EOFError, OSError):
                return
            raise Failure("plain ws:// on the TLS port was accepted")

        asyncio.run(asyncio.wait_for(plain(), DEADLINE))
        server.wait_log("does not speak TLS", "the plain ws:// client's failure")

        async def again():
            async with websockets.connect(url, ssl=ctx, host="127.0.0.1", server_hostname="localhost",
                                          open_timeout=DEADLINE, close_timeout=DEADLINE, ping_interval=None) as ws:
                await ws.send("still serving")
                check(await asyncio.wait_for(ws.recv(), DEADLINE) == "still serving", "echo after refusal")

        asyncio.run(asyncio.wait_for(again(), DEADLINE))


# cat runs with --owned wherever its output is checked, and sends less than gnet's default
# write_buffer_cap (1 MiB), because of two library faults that are not TLS's (plaintext TCP
# shows both) and that would otherwise let timing decide:
# - relayed stdout (cat's default for descriptors 0 and 1): the writer thread that copies the
#   socket pair to the descriptor is detached, and nothing waits for it; cat's on_close for
#   stdout comes when the bytes are in the socket pair, so cat can exit 0 before the tail (16 KiB
#   pieces) reaches stdout;
# - epoll: a connection paused for backpressure after its own shutdown_write gets EPOLLHUP when
#   the peer's FIN arrives, and the readiness driver takes that for a reset (ECONNRESET, unread
#   replies dropped). Under the cap, stdout's queue never fills, so cat never pauses the peer.
CAT_PAYLOAD = 1000000


def cat_ok(b, address, payload, *flags):
    r = run([b.cat, "--connect", address, "--owned", *flags], stdin=payload)
    check(r.returncode == 0, f"cat {flags}: exit {r.returncode}: {r.stderr!r}")
    check(len(r.stdout) == len(payload), f"cat {flags}: {len(r.stdout)} of {len(payload)} bytes came back")
    check(r.stdout == payload, f"cat {flags}: bytes differ")
    return r


def case_cat_tls(b, pki):
    with echo_server(b.echo, pki.server) as server:
        address = f"tls://127.0.0.1:{server.port}"
        for _ in range(3):
            cat_ok(b, address, os.urandom(CAT_PAYLOAD), "--tls-ca", pki.ca)
        cat_ok(b, address, b"", "--tls-ca", pki.ca)  # empty input: close_notify at once, nothing back
        cat_ok(b, address, os.urandom(100000), "--tls-ca", pki.ca, "--tls-server-name", "localhost",
               "--tls-alpn", "echo/1")  # a server without ALPN ignores the offer
        cat_ok(b, f"tls4://127.0.0.1:{server.port}", b"tls4 scheme\n", "--tls-ca", pki.ca)
    with echo_server(b.echo, pki.selfsigned) as server:
        r = cat_ok(b, f"tls://127.0.0.1:{server.port}", os.urandom(300000), "--tls-insecure")
        check(b"NOT verified" in r.stderr, f"--tls-insecure must say so: {r.stderr!r}")


def cat_fails(b, address, reason, *flags):
    r = run([b.cat, "--connect", address, *flags], stdin=b"never sent\n")
    err = r.stderr.decode(errors="replace")
    check(r.returncode == 1, f"cat {flags}: exit {r.returncode}, wanted 1: {err}")
    check(reason in err, f"cat {flags}: {reason!r} not in {err!r}")
    check(r.stdout == b"", f"cat {flags}: output {r.stdout!r}")
    return err


def case_cat_errors(b, pki):
    with echo_server(b.echo, pki.server) as server:
        address = f"tls://127.0.0.1:{server.port}"
        err = cat_fails(b, address, "does not match the host name", "--tls-ca", pki.ca,
                        "--tls-server-name", "wrong.example")
        check("hostname mismatch" in err, f"OpenSSL's reason missing: {err}")
        # No --tls-ca: the system's store, which never heard of the test CA.
        cat_fails(b, address, "not trusted", )
        # Failures on the client side reach the server as an alert; it serves on.
        cat_ok(b, address, os.urandom(100000), "--tls-ca", pki.ca)
    with echo_server(b.echo, pki.expired) as server:
        err = cat_fails(b, f"tls://127.0.0.1:{server.port}", "expired", "--tls-ca", pki.ca)
        check("certificate has expired" in err, f"OpenSSL's reason missing: {err}")
        # The certificate is the only problem: without verification it connects.
        cat_ok(b, f"tls://127.0.0.1:{server.port}", b"expired but insecure\n", "--tls-insecure")
    with echo_server(b.echo, pki.selfsigned) as server:
        cat_fails(b, f"tls://127.0.0.1:{server.port}", "not trusted", "--tls-ca", pki.ca)
    # A plaintext server: the handshake fails, named.
    with running([b.echo], r"listening on tcp://127\.0\.0\.1:(\d+)") as plain:
        cat_fails(b, f"tls://127.0.0.1:{plain.port}", "TLS", "--tls-ca", pki.ca)


def case_flags(b, pki):
    cert, key = pki.server
    for binary in (b.echo, b.http, b.websocket):
        name = os.path.basename(binary)
        for args in (["--tls-cert", cert], ["--tls-key", key]):
            r = run([binary, "--port", "0", *args], timeout=DEADLINE)
            out = (r.stdout + r.stderr).decode(errors="replace")
            check(r.returncode == 2, f"{name} {args}: exit {r.returncode}: {out}")
            check("--tls-cert and --tls-key go together" in out and "listening" not in out, out)
        # A certificate file that does not exist: exit 1, the file named.
        missing = pki.path("missing.crt")
        r = run([binary, "--port", "0", "--tls-cert", missing, "--tls-key", key], timeout=DEADLINE)
        out = (r.stdout + r.stderr).decode(errors="replace")
        check(r.returncode == 1, f"{name} with a missing certificate: exit {r.returncode}: {out}")
        check("missing.crt" in out and "listening" not in out, out)
        # A key that is not the certificate's: refused at startup too.
        r = run([binary, "--port", "0", "--tls-cert", cert, "--tls-key", pki.expired[1]], timeout=DEADLINE)
        check(r.returncode == 1, f"{name} with a mismatched key: exit {r.returncode}: {r.stderr!r}")
    for args in (["--tls-ca", pki.ca], ["--tls-require-client-cert"],
                 [*tls_flags(pki.server), "--tls-require-client-cert"],
                 [*tls_flags(pki.server), "--unix", pki.path("echo.sock")]):
        r = run([b.echo, "--port", "0", *args], timeout=DEADLINE)
        check(r.returncode == 2 and b"echo: " in r.stderr, f"echo {args}: exit {r.returncode}: {r.stderr!r}")
    for args in (["--connect", "tcp://127.0.0.1:1", "--tls-ca", pki.ca],
                 ["--connect", "tcp://127.0.0.1:1", "--tls-insecure"],
                 ["--connect", "tls://127.0.0.1:1", "--tls-insecure", "--tls-ca", pki.ca]):
        r = run([b.cat, *args], timeout=DEADLINE)
        check(r.returncode == 2 and b"cat: " in r.stderr, f"cat {args}: exit {r.returncode}: {r.stderr!r}")


class Binaries:
    def __init__(self, echo, http, websocket, cat):
        self.echo, self.http, self.websocket, self.cat = echo, http, websocket, cat


def main():
    echo, http, websocket, cat, case = sys.argv[1:6]
    need_tool("openssl")
    if case.startswith("http"):
        need_tool("curl")
    fn = globals().get("case_" + case)
    if fn is None:
        sys.exit(f"unknown case {case}")
    with tempfile.TemporaryDirectory(prefix="gnet-tls-e2e-") as d:
        try:
            pki = Pki(d)
            fn(Binaries(echo, http, websocket, cat), pki)
        except Failure as e:
            print(f"FAIL {case}: {e}")
            sys.exit(1)
    print(f"tls {case}: ok")


if __name__ == "__main__":
    main()
