#!/usr/bin/python3
"""Headless Chromium against the chat: two pages, a message typed in one shows up in the other.

    websocket_chromium.py <path/to/websocket> [--tls]

With --tls the server has a certificate made here (openssl CLI, self-signed for 127.0.0.1) and the
pages load over https://, so the chat's socket is wss:// (Chromium is told to accept the
certificate: --ignore-certificate-errors).

Drives Chromium over its DevTools protocol (a WebSocket, spoken with python3-websockets): opens
two tabs on http://127.0.0.1:<port>/, waits until both chat pages report their WebSocket open,
types a message into tab A's form and clicks Send, then polls tab B's (and A's) message list
until the message appears. Waits are bounded failure deadlines only.

Skips (exit 77, with the reason) when /usr/bin/chromium or python3-websockets is absent; it
installs nothing (`make test` installs chromium when run as root).
"""

import asyncio
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
DEADLINE = 60.0
CHROMIUM = "/usr/bin/chromium"

if not os.access(CHROMIUM, os.X_OK):
    print("SKIP: %s is not installed (make test installs the chromium package when run as root)"
          % CHROMIUM)
    sys.exit(SKIP)
try:
    import websockets
except ImportError:
    print("SKIP: python3-websockets is not installed for /usr/bin/python3")
    sys.exit(SKIP)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from websocket_e2e import Failure, Server, check  # noqa: E402  (same directory)


def start_chromium(profile, tls=False):
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        *(["--ignore-certificate-errors"] if tls else []),
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
        "--remote-debugging-port=0", "about:blank",
    ]
    log = open(os.path.join(profile, "chromium.log"), "wb")
    # Its own process group, so its helper processes (renderers, zygote) go with it at the end.
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + DEADLINE
    while True:
        if os.path.exists(port_file):
            lines = open(port_file).read().split("\n")
            if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                return proc, "ws://127.0.0.1:%s%s" % (lines[0].strip(), lines[1].strip())
        if proc.poll() is not None:
            raise Failure("chromium exited with %s before DevTools came up:\n%s"
                          % (proc.returncode, chromium_log(profile)))
        if time.monotonic() > deadline:
            raise Failure("no DevToolsActivePort after %ss:\n%s" % (DEADLINE, chromium_log(profile)))
        time.sleep(0.1)


def chromium_log(profile):
    try:
        with open(os.path.join(profile, "chromium.log"), "rb") as f:
            return f.read().decode(errors="replace")[-3000:]
    except OSError:
        return ""


def become_subreaper():
    """Chromium's helpers outlive its main process by a moment; as a child subreaper this test
    inherits them (instead of PID 1, which may not reap) and reaps them in reap_children()."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_children():
    """Waits (bounded) for every remaining child of this process: only processes it started."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def stop_chromium(proc):
    if proc.poll() is None:
        try:
            proc.wait(10)  # Browser.close was sent; give it a moment
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group we created, by its id
    except ProcessLookupError:
        pass
    proc.wait()


class DevTools:
    """Minimal CDP client: one browser connection, flattened sessions per tab."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.pending = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            fut = self.pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps(msg))
        try:
            reply = await asyncio.wait_for(fut, DEADLINE)
        except asyncio.TimeoutError:
            raise Failure("DevTools %s got no answer within %ss" % (method, DEADLINE))
        if "error" in reply:
            raise Failure("DevTools %s failed: %s" % (method, reply["error"]))
        return reply["result"]

    async def evaluate(self, session, expression):
        result = await self.call("Runtime.evaluate",
                                 {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise Failure("page script failed: %s" % result["exceptionDetails"])
        return result["result"].get("value")

    async def open_tab(self, url):
        target = await self.call("Target.createTarget", {"url": url})
        attached = await self.call("Target.attachToTarget",
                                   {"targetId": target["targetId"], "flatten": True})
        return attached["sessionId"]

    async def wait_for(self, session, expression, what):
        deadline = time.monotonic() + DEADLINE
        while True:
            value = await self.evaluate(session, expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise Failure("%s: not within %ss (last value %r)" % (what, DEADLINE, value))
            await asyncio.sleep(0.1)


STATE = ("(() => { const s = document.getElementById('status');"
         " return s ? s.dataset.state : null; })()")
LOG = "Array.from(document.querySelectorAll('#log li')).map(li => li.textContent)"


async def chat(devtools_url, page_url):
    async with websockets.connect(devtools_url, max_size=None, ping_interval=None,
                                  open_timeout=DEADLINE) as ws:
        cdp = DevTools(ws)
        try:
            a = await cdp.open_tab(page_url)
            b = await cdp.open_tab(page_url)
            for name, tab in (("A", a), ("B", b)):
                await cdp.wait_for(tab, "(%s) === 'open'" % STATE, "tab %s connected" % name)
            title = await cdp.evaluate(a, "document.title")
            check(title == "gnet-cpp chat", "page title %r" % title)

            token = "hello from A <b>%d</b> ✓" % os.getpid()
            await cdp.evaluate(a, """(() => {
                document.getElementById('name').value = 'alice';
                document.getElementById('msg').value = %s;
                document.getElementById('send').click();
                return true; })()""" % json.dumps(token))
            want = "alice: " + token
            for name, tab in (("B", b), ("A", a)):
                await cdp.wait_for(tab, "(%s).includes(%s)" % (LOG, json.dumps(want)),
                                   "message shown in tab %s" % name)
            # Shown as text, not parsed as HTML.
            check(await cdp.evaluate(b, "document.querySelector('#log b') === null"),
                  "message markup was interpreted as HTML")
            # And the reverse direction.
            await cdp.evaluate(b, """(() => {
                document.getElementById('name').value = 'bob';
                document.getElementById('msg').value = 'hi alice';
                document.getElementById('send').click();
                return true; })()""")
            await cdp.wait_for(a, "(%s).includes('bob: hi alice')" % LOG, "reply shown in tab A")
            log_b = await cdp.evaluate(b, LOG)
            check(log_b.count(want) == 1, "tab B saw the message %d times" % log_b.count(want))
        finally:
            try:
                await asyncio.wait_for(cdp.call("Browser.close"), 10)
            except Exception:  # noqa: BLE001 - the browser may already be going away
                pass
            cdp.reader.cancel()


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 (the chat's address), with the openssl CLI."""
    crt, key = os.path.join(directory, "chat.crt"), os.path.join(directory, "chat.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Failure("openssl req: %s" % r.stderr)
    return crt, key


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--tls"):
        print("usage: websocket_chromium.py <websocket binary> [--tls]")
        return 2
    tls = len(sys.argv) == 3
    if tls and not shutil.which("openssl"):
        print("SKIP: the openssl command is not installed (make test installs it when run as root)")
        return SKIP
    become_subreaper()
    profile = tempfile.mkdtemp(prefix="ws-chromium-")
    srv = None
    browser = None
    try:
        extra = []
        if tls:
            crt, key = make_certificate(profile)
            extra = ["--tls-cert", crt, "--tls-key", key]
        srv = Server(sys.argv[1], "--mode", "broadcast", "--loops", "2", *extra)
        check(srv.tls == tls, "the server did not announce %s" % ("https" if tls else "http"))
        browser, devtools_url = start_chromium(profile, tls)
        page = "%s://127.0.0.1:%d/" % ("https" if tls else "http", srv.port)
        asyncio.run(asyncio.wait_for(chat(devtools_url, page), DEADLINE * 3))
        srv.stop()  # SIGTERM; requires a clean exit
    except (Failure, asyncio.TimeoutError) as e:
        print("FAIL:", e or "deadline exceeded")
        if browser is not None:
            print("chromium log tail:\n" + chromium_log(profile))
        return 1
    finally:
        if browser is not None:
            stop_chromium(browser)
        if srv is not None:
            srv.kill()  # by PID; a no-op once stopped
        reap_children()
        shutil.rmtree(profile, ignore_errors=True)
    print("PASS: chromium chat" + (" over https/wss" if tls else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
