#!/usr/bin/python3
"""End-to-end tests of examples/cat: stdin to a peer (examples/echo) and its replies to stdout.

usage: cat_e2e.py CAT_BINARY ECHO_BINARY CASE
  pipes    stdin and stdout are pipes from this script (relayed: descriptors 0 and 1 are shared)
  owned    the same with --owned (the loop serves the pipes directly)
  files    stdin and stdout redirected from and to regular files (always relayed)
  pty      stdin and stdout are a terminal: lines typed come back, Ctrl-D ends the input
  refused  nothing listens at the address: exit 1 with the reason
Deadlines only turn a hang into a failure; they never decide a pass.
"""
import os
import pty
import select
import subprocess
import sys
import termios
import threading

from e2e_process import free_port, start, stop


def with_echo(echo, body):
    port = free_port()
    proc = start([echo, "--port", str(port)], f"tcp://127.0.0.1:{port}")
    try:
        body(f"tcp://127.0.0.1:{port}")
    finally:
        stop(proc)


def through_pipes(cat, extra):
    def body(address):
        payload = os.urandom(5 << 20)
        r = subprocess.run([cat, "--connect", address] + extra, input=payload, capture_output=True, timeout=120)
        assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
        assert len(r.stdout) == len(payload), f"{len(r.stdout)} of {len(payload)} bytes came back"
        assert r.stdout == payload, "bytes differ"
        # Empty input: the peer sees an end of input at once and nothing comes back.
        r = subprocess.run([cat, "--connect", address] + extra, input=b"", capture_output=True, timeout=60)
        assert r.returncode == 0 and r.stdout == b"", (r.returncode, r.stdout, r.stderr)
    return body


def case_pipes(cat, echo):
    with_echo(echo, through_pipes(cat, []))


def case_owned(cat, echo):
    with_echo(echo, through_pipes(cat, ["--owned"]))


def case_files(cat, echo):
    def body(address):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "in.bin"), os.path.join(d, "out.bin")
            payload = os.urandom(3 << 20)
            with open(src, "wb") as f:
                f.write(payload)
            for _ in range(3):
                with open(src, "rb") as fin, open(dst, "wb") as fout:
                    r = subprocess.run([cat, "--connect", address], stdin=fin, stdout=fout, stderr=subprocess.PIPE,
                                       timeout=120)
                assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
                with open(dst, "rb") as f:
                    got = f.read()
                assert got == payload, f"{len(got)} of {len(payload)} bytes, or different ones"
    with_echo(echo, body)


def read_exactly(fd, n):
    got = b""
    while len(got) < n:
        ready, _, _ = select.select([fd], [], [], 30)
        assert ready, f"terminal silent after {got!r}"
        chunk = os.read(fd, n - len(got))
        assert chunk, f"terminal closed after {got!r}"
        got += chunk
    return got


def case_pty(cat, echo):
    def body(address):
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO   # lflag: the terminal itself does not echo what is typed
        attrs[1] &= ~termios.OPOST  # oflag: "\n" stays "\n" on the way out
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        flags_before = os.get_blocking(slave)
        proc = subprocess.Popen([cat, "--connect", address], stdin=slave, stdout=slave, stderr=subprocess.PIPE)
        try:
            for line in (b"first line\n", b"second, longer line " + b"x" * 200 + b"\n"):
                os.write(master, line)
                assert read_exactly(master, len(line)) == line
            # The terminal we share with cat is still blocking: the relay never changed it.
            assert os.get_blocking(slave) == flags_before
            os.write(master, b"\x04")  # Ctrl-D at the start of a line: cat's input ends
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, f"exit {proc.returncode}: {err!r}"
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
            os.close(slave)
    with_echo(echo, body)


def case_refused(cat, _echo):
    port = free_port()  # nothing listens there
    r = subprocess.run([cat, "--connect", f"tcp://127.0.0.1:{port}"], input=b"x", capture_output=True, timeout=60)
    assert r.returncode == 1, r.returncode
    assert b"Connection refused" in r.stderr, r.stderr
    r = subprocess.run([cat], capture_output=True, timeout=60)
    assert r.returncode != 0 and b"--connect" in r.stderr, (r.returncode, r.stderr)


def main():
    cat, echo, case = sys.argv[1], sys.argv[2], sys.argv[3]
    globals()["case_" + case](cat, echo)
    print(f"cat {case}: ok")


if __name__ == "__main__":
    main()
