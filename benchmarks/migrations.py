"""Benchmark: migration analysis throughput (statements per second), target >= 10,000.

Generates a migration with a realistic mix of DDL and DML (CREATE TABLE with
constraints, ALTER TABLE, INSERT ... SELECT with joins, UPDATE ... FROM,
CREATE INDEX, a DO block every 100 statements), analyses it with
`anonymizer.sqlscan.analyze` and records the best of several rounds with
machine info and `uptime` load in benchmarks/results/migrations.json.

Usage: .venv/bin/python benchmarks/migrations.py [--statements N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anonymizer import sqlscan

RESULTS = Path(__file__).resolve().parent / "results"
TEMPLATES = (
    "CREATE TABLE IF NOT EXISTS t{i} (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE,"
    " org_id int REFERENCES orgs (id), created_at timestamptz DEFAULT now());",
    "ALTER TABLE users ADD COLUMN c{i} text, ALTER COLUMN email TYPE varchar(200);",
    "INSERT INTO audit (who, what) SELECT u.name, 'x' FROM users u"
    " JOIN teams t ON t.id = u.team_id WHERE u.id > {i};",
    "UPDATE accounts a SET balance = balance + 1 FROM ledger l"
    " WHERE l.account_id = a.id AND l.id = {i};",
    "CREATE INDEX ix_{i} ON orders (user_id, placed_on);",
)
DO_BLOCK = "DO $$\nBEGIN\n  UPDATE users SET flag = true WHERE id = {i};\nEND $$;"


def workload(n: int) -> str:
    parts = []
    for i in range(n):
        parts.append(DO_BLOCK.format(i=i) if i % 100 == 99 else TEMPLATES[i % 5].format(i=i))
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--statements", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    text = workload(args.statements)
    load_before = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    times, cpu = [], []
    for _ in range(args.rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        statements, _ = sqlscan.analyze(text)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    assert len(statements) == args.statements
    record = {
        "benchmark": "migration analysis",
        "statements": args.statements,
        "bytes": len(text.encode()),
        "seconds": times,
        "cpu_seconds": cpu,
        "statements_per_s": round(args.statements / min(times)),
        "statements_per_cpu_s": round(args.statements / min(cpu)),
        "target_statements_per_s": 10_000,
        "machine": {
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "uptime_before": load_before.strip(),
        "uptime_after": subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "migrations.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
