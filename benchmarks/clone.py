"""Benchmark: clone a >= 1 GB PostgreSQL data directory and wait until it accepts connections.

Builds a store (reflink on this filesystem, or -- as root -- a loop-mounted
XFS image with reflink=1), fills its golden data directory with >= 1 GB of
table data, then times `anonymizer.localdb.clone` (reflink copy + PostgreSQL
start + first accepted connection) over several rounds. Also times one
plain-copy clone of the same directory for comparison. Target: < 2 s with
reflinks. Records results with machine info and `uptime` load in
benchmarks/results/clone.json.

Usage (root for the loop image): .venv/bin/python benchmarks/clone.py [--gb 1.1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anonymizer import clones, localdb, pgserver

RESULTS = Path(__file__).resolve().parent / "results"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build_golden(store: clones.Store, gigabytes: float) -> int:
    user = pgserver.service_user()
    pgserver.initdb(store.golden, user=user)
    server = pgserver.start(store.golden, localdb.socket_dir(store.golden), user=user)
    rows = int(gigabytes * 1e9 / 300)
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS filler"
                f" FROM generate_series(1, {rows}) g"
            )
            conn.execute("CHECKPOINT")
    finally:
        server.stop()
    return size_of(store.golden)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--base", type=Path, default=Path("/var/tmp"))
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mayfly-clone-bench-", dir=args.base))
    base.chmod(0o755)
    store = clones.Store(base / "store")
    state = store.prepare(loop=True, image_gb=int(args.gb * 3) + 2)
    try:
        size = build_golden(store, args.gb)
        load_before = uptime()
        rounds = []
        for i in range(args.rounds):
            subprocess.run(["sync"], check=False)
            made = localdb.clone(store, f"bench-{i}")
            rounds.append({"clone_s": made.clone_seconds, "ready_s": made.ready_seconds})
            with psycopg.connect(made.dsn) as conn:
                conn.execute("SELECT 1")
            localdb.drop(store, f"bench-{i}")
        copy_target = store.area / "plain-copy"
        started = time.perf_counter()
        clones.CopyBackend().clone(store.golden, copy_target)
        copy_seconds = time.perf_counter() - started
        shutil.rmtree(copy_target)
        load_after = uptime()
    finally:
        for path in (store.area / "clones").glob("*"):
            localdb.drop(store, path.name)
        store.destroy()
        shutil.rmtree(base, ignore_errors=True)
    best = min(r["ready_s"] for r in rounds)
    record = {
        "benchmark": "clone + PostgreSQL accepting connections",
        "store_mode": state["mode"],
        "data_dir_bytes": size,
        "rounds": rounds,
        "best_ready_seconds": round(best, 3),
        "median_ready_seconds": round(sorted(r["ready_s"] for r in rounds)[len(rounds) // 2], 3),
        "plain_copy_seconds_same_dir": round(copy_seconds, 3),
        "target_seconds": 2.0,
        "machine": {"cores": os.cpu_count(), "kernel": platform.release()},
        "uptime_before": load_before,
        "uptime_after": load_after,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "clone.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
