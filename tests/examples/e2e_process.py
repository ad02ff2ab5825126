"""Shared by the end-to-end scripts: free ports, starting an example binary and stopping it.

Deadlines here only turn a hang into a failure; they never decide a pass.
"""
import os
import random
import resource
import signal
import socket
import subprocess

# The servers started here must never talk to a systemd that runs this test (a Type=notify
# CI service): the http and echo examples report READY=1/MAINPID to $NOTIFY_SOCKET.
os.environ.pop("NOTIFY_SOCKET", None)


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A TCP port on 127.0.0.1 that is free now, for a server the test starts next.

    Taken below the kernel's ephemeral range: a port the kernel picks for bind(0) is also one it
    hands out as the source port of outgoing connections, and with tests running in parallel a
    client's connect could take it before the server binds it ("Address already in use"; seen
    under TSan in CI). Below the range only another test's pick can collide, and it checks too."""
    low, _ = _ephemeral_range()
    rng = random.Random()  # seeded from the OS: parallel test processes pick different ports
    for _ in range(200):
        port = rng.randrange(10000, max(10001, low))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # everything below the range taken: fall back to the kernel's
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
