#!/usr/bin/python3
"""Runs the libFuzzer harnesses built by `make fuzz` (build-fuzz/fuzz/<name>_fuzz).

Each harness fuzzes a working copy of its committed seed corpus (fuzz/corpus/<name>/) for
--seconds, or --runs executions (capped by --seconds when both are given), then prints one
line per harness: executions, coverage,
corpus size and the verdict. A crash, leak or timeout is copied into fuzz/regressions/<name>/,
where `make test` replays it under ASan+UBSan from then on, and makes this script exit 1.
--merge folds the new interesting inputs back into the committed corpus (libFuzzer -merge=1,
which keeps only inputs that add coverage).
"""
import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_one(binary: Path, work: Path, args) -> dict:
    name = binary.name.removesuffix("_fuzz")
    seeds = ROOT / "fuzz" / "corpus" / name
    corpus = work / "corpus" / name
    artifacts = work / "artifacts" / name
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    if seeds.is_dir():
        for f in seeds.iterdir():
            if f.is_file():
                shutil.copy(f, corpus / f.name)
    limit = [f"-max_total_time={args.seconds}"] if args.seconds else []
    if args.runs:
        limit.append(f"-runs={args.runs}")
    cmd = [str(binary), *limit, f"-artifact_prefix={artifacts}/", "-print_final_stats=1",
           f"-timeout={args.timeout}", "-rss_limit_mb=2048", f"-max_len={args.max_len}", str(corpus)]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace")
    out = proc.stdout
    (work / f"{name}.log").write_text(out)
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", out)
    cov = re.findall(r"cov: (\d+)", out)
    # crash-, leak-, timeout-, oom-: failures. (slow-unit- files only report slow inputs.)
    found = sorted(p for p in artifacts.iterdir() if p.is_file() and not p.name.startswith("slow-unit-"))
    saved = []
    if found:
        regressions = ROOT / "fuzz" / "regressions" / name
        regressions.mkdir(parents=True, exist_ok=True)
        for p in found:
            shutil.copy(p, regressions / p.name)
            saved.append(str((regressions / p.name).relative_to(ROOT)))
    if args.merge and seeds.is_dir():
        subprocess.run([str(binary), "-merge=1", str(seeds), str(corpus)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {
        "name": name,
        "runs": int(runs[-1]) if runs else 0,
        "cov": int(cov[-1]) if cov else 0,
        "corpus": sum(1 for _ in corpus.iterdir()),
        "ok": proc.returncode == 0 and not found,
        "saved": saved,
        "tail": "\n".join(out.splitlines()[-30:]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-fuzz")
    ap.add_argument("--seconds", type=int, default=0,
                    help="time per harness (default 60 without --runs; with --runs, a cap)")
    ap.add_argument("--runs", type=int, default=0, help="executions per harness")
    ap.add_argument("--max-len", type=int, default=4096, help="largest input libFuzzer generates")
    ap.add_argument("--timeout", type=int, default=10,
                    help="seconds of wall-clock time one input may take (raise it for a run at low "
                         "priority beside builds, where a slice of CPU can stretch one input)")
    ap.add_argument("--only", default="", help="comma-separated harness names")
    ap.add_argument("--merge", action="store_true", help="fold new coverage into fuzz/corpus/")
    args = ap.parse_args()
    if not args.runs and not args.seconds:
        args.seconds = 60
    build = Path(args.build)
    binaries = sorted((build / "fuzz").glob("*_fuzz"))
    if args.only:
        wanted = set(args.only.split(","))
        binaries = [b for b in binaries if b.name.removesuffix("_fuzz") in wanted]
    if not binaries:
        print(f"no harnesses in {build}/fuzz (run make fuzz)", file=sys.stderr)
        return 1
    work = build / "fuzz-work"
    results = [run_one(b, work, args) for b in binaries]
    print("\nharness                     executions   coverage  corpus  verdict")
    for r in results:
        verdict = "ok" if r["ok"] else "FOUND: " + (", ".join(r["saved"]) or "see log")
        print(f"{r['name']:<27} {r['runs']:>10}  {r['cov']:>9}  {r['corpus']:>6}  {verdict}")
    bad = [r for r in results if not r["ok"]]
    for r in bad:
        print(f"\n--- {r['name']} (log: {work}/{r['name']}.log)\n{r['tail']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
