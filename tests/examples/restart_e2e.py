#!/usr/bin/env python3
"""Zero-downtime restart of the examples (SIGUSR2: start the successor, hand the listening
sockets over, drain, exit; docs/deploy.md).

Usage: restart_e2e.py <http binary> <echo binary> <case>

  http_closed_loop  200 clients in a closed loop (keep-alive POST /echo, every response byte
                    checked) through three successive restarts: no connection refused, no request
                    failed or lost, each old process gone within its deadline (exit status 0),
                    a new PID serving after each
  echo_open_conns   echo connections opened before a restart stay with the old process and keep
                    echoing until they close; new connections reach the successor
  failed_successor  the binary at the path is replaced by one that cannot take over: the old
                    process says why and keeps serving
  systemd           http started as systemd would (LISTEN_FDS=1, LISTEN_PID, the socket at
                    descriptor 3, bound by this script; NOTIFY_SOCKET for a Type=notify service):
                    it serves on that socket without binding and says READY=1 with its MAINPID,
                    then restarts on SIGUSR2 under 20 closed-loop clients, and the successor
                    itself (checked by its credentials) reports its pid as the new MAINPID

Deadlines here only turn a hang into a failure; they never decide a pass.
"""
import ctypes
import os
import queue
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# The servers started here must never talk to a systemd that runs this test (a Type=notify
# CI service): the http and echo examples report READY=1/MAINPID to $NOTIFY_SOCKET.
os.environ.pop("NOTIFY_SOCKET", None)

PR_SET_CHILD_SUBREAPER = 36
SHUTDOWN_TIMEOUT = 5  # --shutdown-timeout given to the servers (s)
# An old process must be gone within: its drain (shutdown_timeout) + the graceful stop's own
# shutdown_timeout + slack for a sanitizer build on a loaded machine.
EXIT_DEADLINE = 2 * SHUTDOWN_TIMEOUT + 20


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Family:
    """A server and its successors. This script is their child subreaper, so a successor whose
    parent exited is re-parented here and its exit can be waited for."""

    def __init__(self, cmd, **popen):
        libc = ctypes.CDLL(None, use_errno=True)
        check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, "prctl(PR_SET_CHILD_SUBREAPER)")
        self.first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
        self.lines = queue.Queue()
        self.stderr = []
        self.pids = {self.first.pid}
        self.exited = {}
        for stream, keep in ((self.first.stdout, None), (self.first.stderr, self.stderr)):
            threading.Thread(target=self._pump, args=(stream, keep), daemon=True).start()

    def _pump(self, stream, keep):
        for line in stream:
            if keep is not None:
                keep.append(line)
                sys.stderr.write("  server: " + line)
            else:
                self.lines.put(line)

    def wait_listening(self, timeout=60):
        """The next 'listening' line: (port, pid)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            check(left > 0, "no server announced it was listening")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            m = re.search(r"listening on \w+://[^ ]*?:(\d+) .*\(pid (\d+)\)", line)
            if m:
                pid = int(m.group(2))
                self.pids.add(pid)
                return int(m.group(1)), pid

    def wait_exit(self, pid, timeout):
        """Waits for pid (a child, or an orphan re-parented here) to exit; its status."""
        if pid in self.exited:
            return self.exited[pid]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pid == self.first.pid:
                code = self.first.poll()
                if code is not None:
                    self.exited[pid] = code
                    return code
            else:
                try:
                    got, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    got, status = 0, 0  # not re-parented here yet
                if got == pid:
                    self.exited[pid] = os.waitstatus_to_exitcode(status)
                    return self.exited[pid]
            time.sleep(0.02)
        raise AssertionError(f"pid {pid} still running {timeout} s after it handed over")

    def kill_all(self):
        for pid in self.pids:
            if pid not in self.exited:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid in self.pids:
            if pid not in self.exited:
                try:
                    self.wait_exit(pid, 10)
                except AssertionError:
                    pass


def restart(family, old_pid):
    """SIGUSR2 to old_pid: returns the successor's pid once it listens, after the old one has
    exited (status 0) within its deadline."""
    os.kill(old_pid, signal.SIGUSR2)
    _, new_pid = family.wait_listening()
    check(new_pid != old_pid, "the same pid announced itself again")
    code = family.wait_exit(old_pid, EXIT_DEADLINE)
    check(code == 0, f"old pid {old_pid} exited with {code}")
    return new_pid


class ClosedLoop:
    """n clients, each one request in flight at a time: POST /echo with a body unique to the
    request, the response checked byte for byte. A response with "Connection: close" ends the
    connection and the client opens a new one; anything else ending a connection (EOF or reset
    with a request unanswered, refusal, a wrong byte) is a failure."""

    def __init__(self, port, clients):
        self.port = port
        self.clients = clients
        self.running = True
        self.done = 0
        self.connections = 0
        self.reconnects_on_close = 0
        self.failures = []
        self.refused = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.running = False
        self.thread.join(60)
        check(not self.thread.is_alive(), "clients did not finish")

    def _fail(self, what):
        if len(self.failures) < 20:
            self.failures.append(what)
        else:
            self.failures.append("...")

    def _run(self):
        sel = selectors.DefaultSelector()
        state = {}

        def open_conn(cid, seq):
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", self.port))
            if err not in (0, 115):  # EINPROGRESS
                s.close()
                if err == 111:
                    self.refused += 1
                self._fail(f"client {cid}: connect: {os.strerror(err)}")
                return False
            self.connections += 1
            st = {"id": cid, "seq": seq, "sock": s, "out": b"", "in": b"", "body": b""}
            state[s] = st
            send_request(st)
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
            return True

        def send_request(st):
            st["seq"] += 1
            body = (f"{st['id']}:{st['seq']}:".encode() + os.urandom(8).hex().encode()) * 3
            st["body"] = body
            st["out"] = (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + str(len(body)).encode() +
                         b"\r\n\r\n" + body)
            st["in"] = b""

        def close(st):
            sel.unregister(st["sock"])
            st["sock"].close()
            del state[st["sock"]]

        for cid in range(self.clients):
            open_conn(cid, 0)
        deadline_quiet = None
        while state:
            if not self.running and deadline_quiet is None:
                deadline_quiet = time.monotonic() + 30
            if deadline_quiet is not None and time.monotonic() > deadline_quiet:
                self._fail(f"{len(state)} requests unanswered 30 s after the load stopped")
                break
            for key, events in sel.select(timeout=0.5):
                st = key.data
                s = st["sock"]
                if events & selectors.EVENT_WRITE and st["out"]:
                    try:
                        n = s.send(st["out"])
                        st["out"] = st["out"][n:]
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        if e.errno == 111:
                            self.refused += 1
                        self._fail(f"client {st['id']} request {st['seq']}: send: {e}")
                        close(st)
                        continue
                    if not st["out"]:
                        sel.modify(s, selectors.EVENT_READ, st)
                if not events & selectors.EVENT_READ:
                    continue
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    if e.errno == 111:
                        self.refused += 1
                    self._fail(f"client {st['id']} request {st['seq']}: recv: {e}")
                    close(st)
                    continue
                if not data:
                    self._fail(f"client {st['id']} request {st['seq']}: connection closed with the request "
                               f"unanswered ({len(st['in'])} bytes of response)")
                    close(st)
                    continue
                st["in"] += data
                head_end = st["in"].find(b"\r\n\r\n")
                if head_end < 0:
                    continue
                head = st["in"][:head_end].decode("latin-1")
                m = re.search(r"(?im)^content-length:\s*(\d+)\s*$", head)
                if not m:
                    self._fail(f"client {st['id']}: response without Content-Length: {head!r}")
                    close(st)
                    continue
                length = int(m.group(1))
                if len(st["in"]) < head_end + 4 + length:
                    continue
                body = st["in"][head_end + 4:head_end + 4 + length]
                extra = st["in"][head_end + 4 + length:]
                if not head.startswith("HTTP/1.1 200 ") or body != st["body"] or extra:
                    self._fail(f"client {st['id']} request {st['seq']}: wrong response {head.splitlines()[0]!r}, "
                               f"body {'ok' if body == st['body'] else 'differs'}, {len(extra)} extra bytes")
                    close(st)
                    continue
                self.done += 1
                closing = re.search(r"(?im)^connection:\s*close\s*$", head) is not None
                if not self.running:
                    close(st)
                elif closing:
                    self.reconnects_on_close += 1
                    cid, seq = st["id"], st["seq"]
                    close(st)
                    open_conn(cid, seq)
                else:
                    send_request(st)
                    sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)


def wait_progress(load, more, timeout=60):
    """Waits until `more` further requests have been answered."""
    target = load.done + more
    end = time.monotonic() + timeout
    while load.done < target:
        check(time.monotonic() < end, f"the load stalled at {load.done} requests (wanted {target})")
        check(not load.failures, f"failures: {load.failures}")
        time.sleep(0.02)


def case_http_closed_loop(http, _echo):
    family = Family([http, "--port", "0", "--loops", "2", "--reuse-port", "--idle-timeout", "0",
                     "--shutdown-timeout", str(SHUTDOWN_TIMEOUT)])
    try:
        port, pid = family.wait_listening()
        load = ClosedLoop(port, 200)
        wait_progress(load, 1000)
        served_by = [pid]
        for restart_no in range(1, 4):
            before = load.done
            pid = restart(family, pid)
            served_by.append(pid)
            # The old process is gone: whatever is answered from now on, the new one answers.
            wait_progress(load, 1000)
            print(f"restart {restart_no}: pid {served_by[-2]} -> {pid}; {load.done - before} requests "
                  f"answered meanwhile, {load.reconnects_on_close} reconnections after Connection: close so far")
        load.stop()
        print(f"{load.done} requests on {load.connections} connections, 200 clients, pids {served_by}")
        check(load.refused == 0, f"{load.refused} connections refused")
        check(not load.failures, f"{len(load.failures)} failures: {load.failures}")
        check(len(set(served_by)) == 4, f"pids {served_by}")
        check(load.reconnects_on_close > 0, "no connection was wound up with Connection: close")
        os.kill(pid, signal.SIGTERM)
        check(family.wait_exit(pid, 60) == 0, "the last server did not exit cleanly")
        check(not any("did not take over" in line for line in family.stderr), "an upgrade failed")
    finally:
        family.kill_all()


def echo_exchange(s, msg):
    s.sendall(msg)
    got = b""
    s.settimeout(20)
    while len(got) < len(msg):
        chunk = s.recv(65536)
        check(chunk, "echo connection closed")
        got += chunk
    check(got == msg, "echo mismatch")


def case_echo_open_conns(_http, echo):
    family = Family([echo, "--port", "0", "--loops", "2", "--shutdown-timeout", "30"])
    try:
        port, pid = family.wait_listening()
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
        for i, s in enumerate(held):
            echo_exchange(s, f"before {i}".encode())
        os.kill(pid, signal.SIGUSR2)
        _, new_pid = family.wait_listening()
        check(new_pid != pid, "same pid")
        # The old process keeps the open connections (its drain lasts up to 30 s) ...
        for i, s in enumerate(held):
            echo_exchange(s, f"during {i}".encode() * 100)
        check(family.first.poll() is None, "the old process left while its connections were open")
        # ... new ones reach the successor, and once the old ones close, the old process exits.
        with socket.create_connection(("127.0.0.1", port)) as s:
            echo_exchange(s, b"new")
        for s in held:
            s.close()
        check(family.wait_exit(pid, EXIT_DEADLINE) == 0, "old echo did not exit cleanly")
        with socket.create_connection(("127.0.0.1", port)) as s:
            echo_exchange(s, b"after")
        os.kill(new_pid, signal.SIGTERM)
        check(family.wait_exit(new_pid, 60) == 0, "the successor did not exit cleanly")
    finally:
        family.kill_all()


def case_failed_successor(http, _echo):
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "http")
        shutil.copy(http, binary)
        family = Family([binary, "--port", "0", "--shutdown-timeout", str(SHUTDOWN_TIMEOUT)])
        try:
            port, pid = family.wait_listening()
            # A "new build" at the path that fails at once.
            broken = os.path.join(tmp, "broken")
            with open(broken, "w") as f:
                f.write("#!/bin/sh\necho 'broken build' >&2\nexit 3\n")
            os.chmod(broken, 0o755)
            os.rename(broken, binary)
            load = ClosedLoop(port, 20)
            wait_progress(load, 200)
            os.kill(pid, signal.SIGUSR2)
            end = time.monotonic() + 60
            while not any("did not take over" in line for line in family.stderr):
                check(time.monotonic() < end, "the failed upgrade was not reported")
                time.sleep(0.05)
            wait_progress(load, 200)
            load.stop()
            check(family.first.poll() is None, "the old process exited")
            check(load.refused == 0 and not load.failures, f"failures: {load.failures}")
            os.kill(pid, signal.SIGTERM)
            check(family.wait_exit(pid, 60) == 0, "the server did not exit cleanly")
        finally:
            family.kill_all()


def case_systemd(http, _echo):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    fd = listener.fileno()

    def at_fd_3():
        os.dup2(fd, 3)  # dup2 clears close-on-exec on 3; pass_fds keeps 3 open past preexec_fn

    notify_dir = tempfile.mkdtemp(prefix="gnet-notify-")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(notify_dir, "notify.sock"))
    notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # the sender's pid, as systemd sees it
    notify.settimeout(60)

    def notification():
        msg, ancdata, _, _ = notify.recvmsg(4096, socket.CMSG_SPACE(12))
        sender = None
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                sender = int.from_bytes(data[0:4], sys.byteorder)
        return msg.decode(), sender

    env = dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="http", NOTIFY_SOCKET=notify.getsockname())
    # LISTEN_PID must be the server's own pid: the shell's, which exec keeps.
    cmd = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", http, "--port", str(port), "--shutdown-timeout",
           str(SHUTDOWN_TIMEOUT)]
    family = Family(cmd, env=env, pass_fds=tuple({fd, 3}), preexec_fn=at_fd_3)
    try:
        listener.close()  # the server holds the socket now: a refusal would mean it does not serve
        got_port, pid = family.wait_listening()
        check(got_port == port, f"listening on {got_port}, not the activated {port}")
        said, sender = notification()
        check(said == f"MAINPID={pid}\nREADY=1" and sender == pid, f"first notification {said!r} from pid {sender}")
        load = ClosedLoop(port, 20)
        wait_progress(load, 500)
        new_pid = restart(family, pid)
        said, sender = notification()
        check(said == f"MAINPID={new_pid}\nREADY=1" and sender == new_pid,
              f"the successor {new_pid} must report itself: {said!r} from pid {sender}")
        wait_progress(load, 500)
        load.stop()
        check(load.refused == 0 and not load.failures, f"failures: {load.failures}")
        os.kill(new_pid, signal.SIGTERM)
        check(family.wait_exit(new_pid, 60) == 0, "the successor did not exit cleanly")
    finally:
        family.kill_all()
        notify.close()
        shutil.rmtree(notify_dir, ignore_errors=True)


def main():
    http, echo, case = sys.argv[1], sys.argv[2], sys.argv[3]
    {"http_closed_loop": case_http_closed_loop, "echo_open_conns": case_echo_open_conns,
     "failed_successor": case_failed_successor, "systemd": case_systemd}[case](http, echo)
    print(f"{case}: ok")


if __name__ == "__main__":
    main()
