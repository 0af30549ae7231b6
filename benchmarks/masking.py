"""Benchmark: masking a 1,000,000-row users table vs an unmasked rewrite by the same method.

Starts a throwaway PostgreSQL (Debian's package, see scripts/ensure-postgres),
loads a users-shaped table (ids, names, e-mail, phone, address, dates, a JSON
column), then runs `anonymizer.masking.run` twice per round on a fresh copy:
once with the masking rules, once with every column `keep` but the same
rewrite (the in-place ALTER TABLE rewrite of `anonymizer.inplace`, forced
through a no-op expression; nothing to ANALYZE when nothing is masked).
Records rows/s, the ratio, wall time per phase, CPU seconds, machine info and `uptime` load in
benchmarks/results/.

The masked runs use the mayfly_mask C extension when it is installed (`make
pgext`; recorded as "c_functions"), the SQL expressions otherwise or with
--sql-expressions.

Usage: .venv/bin/python benchmarks/masking.py [--rows N] [--jobs J] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anonymizer import masking, native, pgserver, rules, strategies

RESULTS = Path(__file__).resolve().parent / "results"

LOAD = """
CREATE TABLE src_users (
    id bigint PRIMARY KEY,
    first_name text NOT NULL, last_name text NOT NULL,
    email text NOT NULL UNIQUE, phone text, street text, city text,
    born date, created_at timestamptz NOT NULL, prefs jsonb
);
INSERT INTO src_users
SELECT g, 'First' || g, 'Last' || g, 'user' || g || '@corp.example.org',
       '+44 20 7946 ' || lpad((g %% 10000)::text, 4, '0'), g || ' High Street', 'London',
       date '1950-01-01' + (g %% 20000), now() - g * interval '1 minute',
       jsonb_build_object('theme', 'dark', 'n', g)
FROM generate_series(1, %(rows)s) g;
"""
MASKED = {
    "id": "keep",
    "first_name": {"strategy": "name", "part": "first"},
    "last_name": {"strategy": "name", "part": "last"},
    "email": "email",
    "phone": "phone",
    "street": {"strategy": "address", "part": "street"},
    "city": {"strategy": "address", "part": "city"},
    "born": {"strategy": "date_noise", "days": 30},
    "created_at": "keep",
    "prefs": "keep",
}


class Timeline:
    """A silent progress port that notes when each phase of the run began."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: list[tuple[str, float]] = [("setup_and_plan", 0.0)]

    def _mark(self, what: str) -> None:
        if self.marks[-1][0] != what:
            self.marks.append((what, time.perf_counter() - self.started))

    def start(self, table: str, rows: int | None) -> None:
        self._mark("start")

    def advance(self, table: str, rows: int) -> None:
        self._mark("rows_written")

    def phase(self, table: str, text: str) -> None:
        self._mark(text)

    def phases(self, total: float) -> dict[str, float]:
        """Seconds from each mark to the next (the last one runs to the end, commit included)."""
        ends = [t for _, t in self.marks[1:]] + [total]
        return {name: round(end - t, 3) for (name, t), end in zip(self.marks, ends, strict=True)}


def machine() -> dict[str, object]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": subprocess.run(
            [str(pgserver.find_bindir() / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def server_cpu(datadir: Path) -> float:
    """CPU seconds used by the server so far: postmaster, reaped and live children."""
    tick = os.sysconf("SC_CLK_TCK")
    pid = int((datadir / "postmaster.pid").read_text().split()[0])
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        proc, ppid = int(stat.parent.name), int(fields[1])
        if proc == pid:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        elif ppid == pid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def one(
    dsn: str,
    columns: Mapping[str, object],
    *,
    jobs: int,
    force: bool,
    datadir: Path,
    c_functions: bool = True,
) -> tuple[float, float, dict[str, float]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS users")
        conn.execute("CREATE TABLE users (LIKE src_users INCLUDING ALL)")
        conn.execute("INSERT INTO users SELECT * FROM src_users")
        conn.execute("VACUUM ANALYZE users")
        conn.execute("CHECKPOINT")
    data = {"tables": {"users": {"personal": True, "columns": columns}}}
    keys = strategies.Keys.from_secret(b"benchmark-secret-0123456789")
    cpu_before, py_before = server_cpu(datadir), time.process_time()
    timeline = Timeline()
    started = time.perf_counter()
    masking.run(
        dsn,
        rules.parse(data),
        ["public.users"],
        keys=keys,
        jobs=jobs,
        progress=timeline,
        force=force,
        native_functions=c_functions,
    )
    wall = time.perf_counter() - started
    time.sleep(0.2)  # let the postmaster reap the worker backends
    cpu = server_cpu(datadir) - cpu_before + time.process_time() - py_before
    return wall, cpu, timeline.phases(wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 2))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="masking")
    ap.add_argument(
        "--sql-expressions",
        action="store_true",
        help="mask with the SQL expressions even where the mayfly_mask C extension is installed",
    )
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mayfly-bench-"))
    base.chmod(0o755)
    user = pgserver.service_user()
    pgserver.initdb(base / "data", user=user)
    server = pgserver.start(base / "data", base / "sock", user=user)
    try:
        dsn = server.dsn()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(LOAD.replace("%%", "%").replace("%(rows)s", str(int(args.rows))))
            # Autovacuum would analyze each rewritten table at a random later moment and
            # land in another round's CPU count; the masking run does its own ANALYZE.
            conn.execute("ALTER SYSTEM SET autovacuum = off")
            conn.execute("SELECT pg_reload_conf()")
        with psycopg.connect(dsn, autocommit=True) as conn:
            c_functions = native.install(conn) and not args.sql_expressions
        load_before = uptime()
        plain, masked, plain_cpu, masked_cpu = [], [], [], []
        plain_phases, masked_phases = [], []
        keep = dict.fromkeys(MASKED, "keep")
        for _ in range(args.rounds):
            wall, cpu, phases = one(dsn, keep, jobs=args.jobs, force=True, datadir=server.datadir)
            plain.append(wall)
            plain_cpu.append(cpu)
            plain_phases.append(phases)
            wall, cpu, phases = one(
                dsn,
                MASKED,
                jobs=args.jobs,
                force=False,
                datadir=server.datadir,
                c_functions=not args.sql_expressions,
            )
            masked.append(wall)
            masked_cpu.append(cpu)
            masked_phases.append(phases)
        load_after = uptime()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    best_plain, best_masked = min(plain), min(masked)
    record = {
        "benchmark": "masking",
        "rows": args.rows,
        "jobs": args.jobs,
        "method": (
            "one-pass ALTER TABLE ... TYPE ... USING rewrite (indexes rebuilt with"
            " parallel workers) + analyze masked columns"
        ),
        "c_functions": c_functions,
        "masked_seconds": masked,
        "unmasked_seconds": plain,
        "masked_rows_per_s": round(args.rows / best_masked),
        "unmasked_rows_per_s": round(args.rows / best_plain),
        "median_masked_rows_per_s": round(args.rows / statistics.median(masked)),
        "ratio": round(best_plain / best_masked, 3),
        "masked_cpu_seconds": masked_cpu,
        "unmasked_cpu_seconds": plain_cpu,
        "masked_phases_seconds_best": masked_phases[masked.index(best_masked)],
        "unmasked_phases_seconds_best": plain_phases[plain.index(best_plain)],
        "masked_rows_per_cpu_s": round(args.rows / min(masked_cpu)),
        "ratio_by_cpu": round(min(plain_cpu) / min(masked_cpu), 3),
        "targets": {"ratio": 0.5, "rows_per_s": 400_000},
        "machine": machine(),
        "uptime_before": load_before,
        "uptime_after": load_after,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
