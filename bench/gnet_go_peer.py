"""Go gnet as a benchmark peer (issue 12): finds or builds its echo and HTTP servers.

The sources and the offline build script live outside this repository, in ../shared/peers/gnet/
(build.sh, echo/, http/; see its README.md): Go gnet v2 built with Debian's Go from bare git
snapshots of gnet and its dependencies. bench/run_bench.py calls prepare() once per run; the
binaries go to <build>/gnet-peer/bin/ and are reused by later runs as long as the script and
the snapshot folder are the same (a stamp file records both), or rebuilt on request.

Overrides (environment):
  GNET_MIRROR    folder holding the snapshots as owner+name/repo (default /work/.mirror)
  GNET_PEER_DIR  folder holding build.sh (default <repo>/../shared/peers/gnet)

Whatever is missing (the script, the snapshots, the go command) or fails (the build) makes
prepare() return a reason instead of binaries; the harness then skips gnet (Go) with that note.

build_udp() adds a UDP echo (bench/gnet_go_udp/main.go, shaped like gnet-examples' echo_udp):
the peers folder may be read-only, so its source lives here and is built in the same WORK with
the go.mod and deps/ that build.sh generated, under the same offline settings.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = "/work/.mirror"
# The four snapshots build.sh extracts (the rest comes from Debian's /usr/share/gocode).
SNAPSHOTS = ("panjf2000+gnet", "panjf2000+ants", "golang+sys", "golang+sync")
BUILD_TIMEOUT_S = 1200  # a cold Go build on a slow 2-core machine takes a few minutes at most


@dataclass
class GoPeer:
    echo: Path | None = None          # bin/gnet_echo
    http: Path | None = None          # bin/gnet_http
    skipped: str | None = None        # why there are no binaries
    command: str = ""                 # the build command as run (or as it would be run)
    versions: list[str] = field(default_factory=list)  # deps/VERSIONS + `go version`
    reused: bool = False              # binaries from an earlier run with the same inputs

    def label(self) -> str:
        """'gnet v2.5.7 (0feaabb4)' from deps/VERSIONS, or 'gnet' when unknown."""
        for line in self.versions:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "panjf2000+gnet":
                return f"gnet {parts[1]} ({parts[2][:8]})"
        return "gnet"


def peer_dir() -> Path:
    return Path(os.environ.get("GNET_PEER_DIR") or REPO.parent / "shared" / "peers" / "gnet")


def mirror_dir() -> Path:
    return Path(os.environ.get("GNET_MIRROR") or DEFAULT_MIRROR)


def _stamp(script: Path, mirror: Path) -> str:
    """What the binaries were built from: the script's content and the snapshot folder."""
    h = hashlib.sha256(script.read_bytes()).hexdigest()[:16]
    return f"build.sh {h}\nmirror {mirror.resolve()}\n"


def _versions(work: Path) -> list[str]:
    try:
        lines = (work / "deps" / "VERSIONS").read_text().splitlines()
    except OSError:
        lines = []
    go = shutil.which("go")
    if go:
        try:
            lines.append(subprocess.run([go, "version"], capture_output=True, text=True,
                                        timeout=30).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return [x for x in lines if x]


def _run_build(script: Path, env: dict, out) -> int | str:
    """Runs build.sh in its own process group, so a timeout or an interrupt (the harness turns
    SIGTERM into an exception) also ends the go processes it started."""
    p = subprocess.Popen(["sh", str(script)], env=env, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return p.wait(BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)  # the group this call created, nothing else
            p.wait()


def prepare(work: Path, log: Path, rebuild: bool = False) -> GoPeer:
    """Builds (or reuses) <work>/bin/gnet_echo and gnet_http; the build's output goes to log."""
    work = work.resolve()  # build.sh derives GOCACHE from it, and Go wants it absolute
    script, mirror = peer_dir() / "build.sh", mirror_dir()
    peer = GoPeer(command=f"WORK={shlex.quote(str(work))} MIRROR={shlex.quote(str(mirror))} "
                          f"{shlex.quote(str(script))}")
    if not script.is_file():
        peer.skipped = (f"the gnet peer build script {script} does not exist "
                        "(set GNET_PEER_DIR to the folder holding build.sh)")
        return peer
    missing = [s for s in SNAPSHOTS if not (mirror / s / "repo").is_dir()]
    if missing:
        peer.skipped = (f"the gnet source snapshots are not on this machine ({mirror} lacks "
                        f"{', '.join(s + '/repo' for s in missing)}; set GNET_MIRROR to where they are)")
        return peer
    if not shutil.which("go"):
        peer.skipped = "the go command is not installed (Debian: golang-go), so gnet could not be built"
        return peer
    echo, http = work / "bin" / "gnet_echo", work / "bin" / "gnet_http"
    stamp_file = work / ".built-from"
    stamp = _stamp(script, mirror)
    if (not rebuild and echo.is_file() and http.is_file() and stamp_file.is_file()
            and stamp_file.read_text() == stamp):
        peer.echo, peer.http, peer.reused = echo, http, True
        peer.versions = _versions(work)
        return peer
    work.mkdir(parents=True, exist_ok=True)
    stamp_file.unlink(missing_ok=True)
    env = dict(os.environ, WORK=str(work), MIRROR=str(mirror))
    env.setdefault("GOCACHE", str(work / ".gocache"))  # HOME may be unset or read-only
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        out.write(f"# {peer.command}\n".encode())
        out.flush()
        rc = _run_build(script, env, out)
    if rc != 0 or not (echo.is_file() and http.is_file()):
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        peer.skipped = f"the gnet build failed (exit {rc}; see {log}): {' / '.join(tail)[-300:]}"
        return peer
    stamp_file.write_text(stamp)
    peer.echo, peer.http = echo, http
    peer.versions = _versions(work)
    return peer


UDP_SRC = REPO / "bench" / "gnet_go_udp"


def build_udp(peer: GoPeer, work: Path, log: Path) -> tuple[Path | None, str | None]:
    """<work>/bin/gnet_udp_echo from UDP_SRC, after prepare() succeeded: (binary, None) or
    (None, why not). Reused while its source and the main build's stamp are unchanged."""
    if peer.skipped:
        return None, peer.skipped
    work = work.resolve()
    out = work / "bin" / "gnet_udp_echo"
    stamp_file = work / ".udp-built-from"
    main_stamp = (work / ".built-from").read_text() if (work / ".built-from").is_file() else ""
    stamp = main_stamp + "udp " + hashlib.sha256((UDP_SRC / "main.go").read_bytes()).hexdigest()[:16] + "\n"
    if out.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return out, None
    stamp_file.unlink(missing_ok=True)
    dest = work / "udp"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(UDP_SRC, dest)
    # What build.sh exports for its own go build: every module is a local replace, nothing fetched.
    env = dict(os.environ, GOPATH=str(work / ".gopath"), GOPROXY="off", GOSUMDB="off", GONOSUMDB="*",
               GOFLAGS="-mod=mod", CGO_ENABLED="0")
    env.setdefault("GOCACHE", str(work / ".gocache"))
    cmd = ["go", "build", "-trimpath", "-o", str(out), "./udp"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as f:
        f.write(f"# (cd {work} && {' '.join(cmd)})\n".encode())
        f.flush()
        try:
            rc = subprocess.run(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    if rc != 0 or not out.is_file():
        return None, f"the gnet UDP echo build failed (exit {rc}; see {log})"
    stamp_file.write_text(stamp)
    return out, None
