"""Shared by the end-to-end scripts: free ports, starting an example binary and stopping it.

Deadlines here only turn a hang into a failure; they never decide a pass.
"""
import os
import resource
import signal
import socket
import subprocess

# The servers started here must never talk to a systemd that runs this test (a Type=notify
# CI service): the http and echo examples report READY=1/MAINPID to $NOTIFY_SOCKET.
os.environ.pop("NOTIFY_SOCKET", None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, ready_text):
    """Starts cmd and waits for its first stdout line, which must contain ready_text."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if ready_text not in line:
        proc.kill()
        raise AssertionError(f"{cmd}: expected '{ready_text}', got {line!r} / {proc.stderr.read()!r}")
    return proc


def stop(proc, sig=signal.SIGINT):
    """Signals the server (the examples stop gracefully on SIGINT/SIGTERM); it must exit 0."""
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"server did not stop on {signal.Signals(sig).name}")
    assert proc.returncode == 0, f"exit {proc.returncode}: {err[-4000:]}"


def raise_fd_limit():
    """Many clients here and many connections in the server (which inherits this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
