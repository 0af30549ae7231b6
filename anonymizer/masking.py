"""The masking run: rewrite tables with masked values, all or nothing.

Role: for each table, build a staging copy holding only masked rows with
set-based SQL, split into primary-key ranges (see `chunking`) that run on
parallel connections; then, in ONE transaction, empty the original table
(TRUNCATE gives it a new data file, the old one is unlinked at commit), fill
it from the staging copy, rebuild its indexes and foreign keys and refresh
its statistics (pg_statistic would otherwise keep original values). The
table keeps its OID, so grants, comments, sequences, views, policies and
triggers stay as they were. Anything that fails before COMMIT leaves the
database untouched; staging tables hold only masked data and are dropped.
The same transaction records the rules each table was masked with
(`applied`), so a later run can re-mask just the columns whose rule changed.

Why not create-as-select and rename (one heap write instead of two): the
second write (insert from the stage; WAL-free under wal_level=minimal since
TRUNCATE gave the table a new file in this transaction) is ~0.9 of ~9 CPU-s
per 1M users rows, and it is what keeps the table's OID -- views, policies,
grants, triggers, child tables, row-type dependencies and publications stay
attached without re-creating any of them. A renamed copy would be filled
either by parallel connections (committed, so WAL-logged even with
wal_level=minimal) or by one backend (no parallelism for INSERT ... SELECT in
PostgreSQL 15), which eats most of the saving.

It must not parse migrations, read rules files or print: progress goes
through the `Progress` port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

import psycopg
from psycopg import sql

from anonymizer import applied, schema, strategies
from anonymizer.planning import STAGE_SCHEMA, Conn, PlanError, TablePlan, linked, plan
from anonymizer.rules import Rules


class MaskingError(RuntimeError):
    """A masking run failed; the database was left untouched."""


class Progress(Protocol):
    def start(self, table: str, rows: int | None) -> None: ...
    def advance(self, table: str, rows: int) -> None: ...
    def phase(self, table: str, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class TableResult:
    name: str
    rows: int
    masked: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Result:
    tables: tuple[TableResult, ...]
    skipped: tuple[tuple[str, str], ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def _stage_all(
    dsn: str, plans: list[TablePlan], *, jobs: int, progress: Progress
) -> dict[str, int]:
    local = threading.local()
    conns: list[Conn] = []
    lock = threading.Lock()
    counts = {p.table.name: 0 for p in plans}

    def conn() -> Conn:
        if not hasattr(local, "conn"):
            c = psycopg.connect(dsn, autocommit=True)
            c.execute("SET synchronous_commit = off")
            with lock:
                conns.append(c)
            local.conn = c
        return local.conn  # type: ignore[no-any-return]

    def work(p: TablePlan, where: str) -> None:
        cur = conn().execute(
            f"INSERT INTO {p.stage} SELECT {p.select} FROM ONLY {p.table.ident} WHERE {where}"
        )
        with lock:
            counts[p.table.name] += cur.rowcount
        progress.advance(p.table.name, cur.rowcount)

    try:
        with psycopg.connect(dsn, autocommit=True) as admin:
            for p in plans:
                admin.execute(
                    f"CREATE UNLOGGED TABLE {p.stage} AS SELECT {p.select}"
                    f" FROM ONLY {p.table.ident} WITH NO DATA"
                )
                progress.start(p.table.name, p.rows)
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mask") as pool:
            futures: list[Future[None]] = [
                pool.submit(work, p, where) for p in plans for where in p.chunks
            ]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            for f in done:
                f.result()
    finally:
        for c in conns:
            c.close()
    return counts


def _swap(conn: Conn, plans: list[TablePlan], *, progress: Progress, jobs: int) -> None:
    run: Callable[[str], object] = conn.execute
    # Index builds use parallel workers (the leader plus jobs - 1) like the staging did.
    run(f"SET LOCAL max_parallel_maintenance_workers = {max(jobs - 1, 0)}")
    fkeys = schema.foreign_keys(conn, [p.table.oid for p in plans])
    for fk in fkeys:
        run(fk.drop)
    for p in plans:
        progress.phase(p.table.name, "swapping")
        for index in p.table.indexes:
            run(index.drop)
        for name, state in p.table.triggers:
            if state != "D":
                trigger = sql.Identifier(name).as_string()
                run(f"ALTER TABLE {p.table.ident} DISABLE TRIGGER {trigger}")
        if p.table.force_rls:
            run(f"ALTER TABLE {p.table.ident} NO FORCE ROW LEVEL SECURITY")
    run("TRUNCATE ONLY " + ", ".join(p.table.ident for p in plans))
    enable = {"O": "ENABLE", "A": "ENABLE ALWAYS", "R": "ENABLE REPLICA"}
    for p in plans:
        overriding = (
            " OVERRIDING SYSTEM VALUE" if any(c.identity_always for c in p.table.columns) else ""
        )
        target = f"{p.table.ident} ({p.columns})"
        run(f"INSERT INTO {target}{overriding} SELECT {p.columns} FROM {p.stage}")
        progress.phase(p.table.name, "indexing")
        for index in p.table.indexes:
            for statement in index.create:
                run(statement)
        for name, state in p.table.triggers:
            if state != "D":
                ident = sql.Identifier(name).as_string()
                run(f"ALTER TABLE {p.table.ident} {enable[state]} TRIGGER {ident}")
        if p.table.force_rls:
            run(f"ALTER TABLE {p.table.ident} FORCE ROW LEVEL SECURITY")
        # pg_statistic and extended statistics hold sample values: refresh them.
        if p.analyze:
            run(p.analyze)
    for fk in fkeys:
        for statement in fk.create:
            run(statement)


def _drop_stage(dsn: str) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {STAGE_SCHEMA} CASCADE")
    except psycopg.Error:
        pass  # best effort: the stage only ever holds masked rows


def run(
    dsn: str,
    rules: Rules,
    names: list[str],
    *,
    keys: strategies.Keys,
    jobs: int = 2,
    progress: Progress,
    force: bool = False,
    maintenance_work_mem: str = "512MB",
    partial: Mapping[str, frozenset[str]] | None = None,
) -> Result:
    """Mask the tables; either all of them are rewritten or none is (MaskingError).

    `names` are masked in full (with the tables linked to them by a pseudonymised
    key); `partial` maps more tables to the only columns to re-mask there (the
    columns whose rule changed, see `applied.changes`), the others are kept.
    """
    started = time.monotonic()
    try:
        coordinator = psycopg.connect(dsn)
    except psycopg.OperationalError as exc:
        raise MaskingError(f"cannot connect to the database: {str(exc).strip()}") from None
    with coordinator:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {STAGE_SCHEMA} CASCADE")
            admin.execute(f"CREATE SCHEMA {STAGE_SCHEMA}")
        counts: dict[str, int] = {}
        try:
            coordinator.execute("SET lock_timeout = '30s'")
            names = linked(coordinator, rules, names=names)
            only = {t: cols for t, cols in (partial or {}).items() if t not in names}
            effective = applied.restrict(rules, only)
            try:
                plans, skipped = plan(
                    coordinator, effective, [*names, *only], keys=keys, jobs=jobs, force=force
                )
            except PlanError as exc:
                raise MaskingError(str(exc)) from None
            if plans:
                idents = ", ".join(p.table.ident for p in plans)
                coordinator.execute(f"LOCK TABLE {idents} IN EXCLUSIVE MODE")
                counts = _stage_all(dsn, plans, jobs=jobs, progress=progress)
                coordinator.execute(
                    "SELECT set_config('maintenance_work_mem', %s, true)", (maintenance_work_mem,)
                )
                _swap(coordinator, plans, progress=progress, jobs=jobs)
            applied.record(coordinator, rules, [*names, *only])
            coordinator.commit()
        except psycopg.Error as exc:
            coordinator.rollback()
            hint = ""
            if isinstance(exc, psycopg.errors.LockNotAvailable):
                hint = " (another session holds a lock on these tables; end it and retry)"
            raise MaskingError(f"nothing was changed: {str(exc).strip()}{hint}") from None
        except BaseException:
            coordinator.rollback()
            raise
        finally:
            _drop_stage(dsn)
    results = tuple(TableResult(p.table.name, counts[p.table.name], p.masked) for p in plans)
    for p in plans:
        progress.phase(p.table.name, "done")
    return Result(results, tuple(skipped), time.monotonic() - started)
