"""Local databases: the anonymised golden cluster, its running clones and a warm pool.

Role: `make_golden` builds a PostgreSQL cluster in the store, loads it (SQL
files and/or a dump of a source database), masks it with the rules and shuts
it down cleanly; `clone` copies it with the store's backend and starts
PostgreSQL on the copy; the pool keeps N clones running, hands one out
(`claim`) and replaces it when it is given back (`release`). Pool state is a
JSON file guarded by a file lock.

It must not decide masking rules or talk to Kubernetes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from anonymizer import check, clones, masking, pgserver, schema, strategies
from anonymizer.rules import Rules


@dataclass(frozen=True, slots=True)
class Clone:
    name: str
    datadir: Path
    dsn: str
    method: str
    clone_seconds: float
    ready_seconds: float


def socket_dir(datadir: Path) -> Path:
    """A short socket directory per data directory (unix socket paths are limited to 107 bytes)."""
    return Path("/tmp") / f"mayfly-{hashlib.sha1(str(datadir).encode()).hexdigest()[:12]}"


def _load_sql(dsn: str, files: list[Path]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in files:
            items = sorted(p for p in path.rglob("*.sql")) if path.is_dir() else [path]
            for item in items:
                try:
                    conn.execute(item.read_text())
                except psycopg.Error as exc:
                    raise clones.CloneError(f"loading {item} failed: {str(exc).strip()}") from None


def _load_dump(server: pgserver.PgServer, source_dsn: str) -> None:
    dump = subprocess.Popen(
        [str(server.bindir / "pg_dump"), "--no-owner", "--no-privileges", "-d", source_dsn],
        stdout=subprocess.PIPE,
    )
    restore = subprocess.run(
        [str(server.bindir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", server.dsn()],
        stdin=dump.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    if dump.wait() != 0 or restore.returncode != 0:
        raise clones.CloneError(f"copying {source_dsn} failed: {restore.stderr.strip()[-500:]}")


def make_golden(
    store: clones.Store,
    rules: Rules,
    *,
    keys: strategies.Keys,
    sql_files: list[Path],
    source_dsn: str | None,
    progress: masking.Progress,
    loop: bool = True,
    image_gb: int = 8,
    force: bool = False,
) -> tuple[Path, masking.Result]:
    """Build the anonymised golden data directory of the store."""
    store.prepare(loop=loop, image_gb=image_gb)
    golden = store.golden
    if golden.exists():
        if not force:
            raise clones.CloneError(f"{golden} already exists; pass --force to rebuild it")
        shutil.rmtree(golden)
    user = pgserver.service_user()
    pgserver.initdb(golden, user=user)
    server = pgserver.start(golden, socket_dir(golden), user=user)
    try:
        if source_dsn:
            _load_dump(server, source_dsn)
        _load_sql(server.dsn(), sql_files)
        with psycopg.connect(server.dsn()) as conn:
            findings = check.against_schema(rules, conn)
            tables = sorted(schema.existing_tables(conn))
        undeclared = [t for t in tables if rules.table(t) is None]
        problems = [str(f) for f in findings] + [f"{t}: not in the rules file" for t in undeclared]
        if problems:
            raise masking.MaskingError("golden not masked:\n  " + "\n  ".join(problems))
        result = masking.run(server.dsn(), rules, tables, keys=keys, progress=progress)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except BaseException:
        server.stop(mode="immediate")
        shutil.rmtree(golden, ignore_errors=True)
        shutil.rmtree(socket_dir(golden), ignore_errors=True)
        raise
    server.stop(mode="fast")
    shutil.rmtree(socket_dir(golden), ignore_errors=True)
    return golden, result


def clone(store: clones.Store, name: str) -> Clone:
    """Clone the golden data directory and start PostgreSQL on it."""
    if not (store.golden / "PG_VERSION").exists():
        raise clones.CloneError(f"no golden data directory in {store.root}; run 'mayfly db golden'")
    target = store.clone_dir(name)
    started = time.perf_counter()
    result = store.backend().clone(store.golden, target)
    server = pgserver.start(target, socket_dir(target), user=pgserver.service_user(), port=5432)
    ready = time.perf_counter() - started
    return Clone(name, target, server.dsn(), result.method, result.seconds, ready)


def drop(store: clones.Store, name: str) -> None:
    """Stop the clone's server and delete its data directory."""
    target = store.clone_dir(name)
    if not target.exists():
        raise clones.CloneError(f"no clone named {name!r} in {store.root}")
    server = pgserver.PgServer(
        target, socket_dir(target), 5432, pgserver.service_user(), pgserver.find_bindir()
    )
    server.stop(mode="immediate")
    store.backend().remove(target)
    shutil.rmtree(socket_dir(target), ignore_errors=True)


@contextmanager
def _pool_state(store: clones.Store) -> Iterator[dict[str, Any]]:
    path = store.area / "pool.json"
    with (store.root / "pool.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state: dict[str, Any] = (
            json.loads(path.read_text()) if path.exists() else {"size": 0, "clones": {}}
        )
        yield state
        path.write_text(json.dumps(state, indent=2) + "\n")


def _fill(store: clones.Store, state: dict[str, Any]) -> list[Clone]:
    made = []
    warm = [n for n, c in state["clones"].items() if c["state"] == "warm"]
    for name in warm[state["size"] :]:
        drop(store, name)
        del state["clones"][name]
    for _ in range(state["size"] - len(warm)):
        made_clone = clone(store, f"pool-{uuid.uuid4().hex[:8]}")
        state["clones"][made_clone.name] = {"state": "warm", "dsn": made_clone.dsn, "owner": None}
        made.append(made_clone)
    return made


def pool(store: clones.Store, size: int) -> tuple[list[Clone], dict[str, Any]]:
    """Keep `size` warm clones; returns the clones made now and the pool state."""
    with _pool_state(store) as state:
        state["size"] = size
        made = _fill(store, state)
        return made, json.loads(json.dumps(state))


def claim(store: clones.Store, owner: str) -> tuple[str, str]:
    """Hand out one warm clone: (name, dsn). A warm clone is never handed out twice."""
    with _pool_state(store) as state:
        for name, entry in state["clones"].items():
            if entry["state"] == "warm":
                entry.update(state="claimed", owner=owner)
                return name, str(entry["dsn"])
    raise clones.CloneError("no warm clone left; run 'mayfly db pool --size N' to add some")


def release(store: clones.Store, name: str) -> list[Clone]:
    """Destroy a claimed clone and refill the pool to its size."""
    with _pool_state(store) as state:
        if name not in state["clones"]:
            raise clones.CloneError(f"{name!r} is not a clone of this pool")
        drop(store, name)
        del state["clones"][name]
        return _fill(store, state)
