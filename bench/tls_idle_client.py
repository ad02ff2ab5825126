#!/usr/bin/env python3
"""Idle connections for bench/run_bench.py's tls_idle part (issue 14): opens N connections to a
server one after the other, plain TCP or TLS (python3's ssl module: each connection completes its
handshake, verifying the server's certificate against --cafile and --server-name), prints one JSON
line, then sends nothing and holds every connection until stdin closes or a signal ends it.

    python3 bench/tls_idle_client.py --port P --conns 2000                       # TCP
    python3 bench/tls_idle_client.py --port P --conns 2000 --tls --cafile ca.crt  # TLS

The JSON line: {"connected": n, "failed": f, "first_error": "...", "seconds": s, "tls": {...}}
where "tls" (TLS only) says what the first connection negotiated: version, cipher, ALPN.
"""
from __future__ import annotations

import argparse
import json
import resource
import socket
import ssl
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--tls", action="store_true", help="TLS: complete a handshake on every connection")
    ap.add_argument("--cafile", help="TLS: the CA the server's certificate must lead to")
    ap.add_argument("--server-name", default="localhost", help="TLS: SNI and the name checked (default localhost)")
    ap.add_argument("--max-failures", type=int, default=20, help="give up after this many failed connections")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = None
    if args.tls:
        ctx = ssl.create_default_context(cafile=args.cafile)  # verifies chain and name
    held, failed, first_error, info = [], 0, None, None
    t0 = time.monotonic()
    while len(held) < args.conns and failed < args.max_failures:
        try:
            s = socket.create_connection((args.host, args.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ctx is not None:
                s = ctx.wrap_socket(s, server_hostname=args.server_name)  # the handshake, here
                if info is None:
                    info = {"version": s.version(), "cipher": s.cipher()[0], "alpn": s.selected_alpn_protocol()}
            held.append(s)
        except (OSError, ssl.SSLError) as e:
            failed += 1
            first_error = first_error or f"{type(e).__name__}: {e}"
    out = {"connected": len(held), "failed": failed, "seconds": round(time.monotonic() - t0, 3)}
    if first_error:
        out["first_error"] = first_error
    if info:
        out["tls"] = info
    print(json.dumps(out), flush=True)
    try:
        sys.stdin.read()  # hold, silent, until the harness closes our stdin or stops us
    except KeyboardInterrupt:
        pass
    for s in held:
        s.close()
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
