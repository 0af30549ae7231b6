"""The masking run: rewrite tables with masked values, all or nothing.

Role: in ONE transaction, rewrite each table so that only masked rows are
left in new data files (the old ones are unlinked at commit), keeping the
table's OID, so grants, comments, sequences, views, policies and triggers
stay as they were. Two ways, chosen per table by `planning`:

* in place (`inplace`): one ALTER TABLE re-types the masked columns to their
  own type through the masking expressions. PostgreSQL writes the new heap
  once (WAL-free under wal_level=minimal) and rebuilds the indexes itself.
  One process, one write: ~2x less CPU than the staged way on a users table.
* staged, for tables PostgreSQL cannot re-type in place (a view or policy
  on a masked column, inheritance, ...): a staging copy is filled with
  set-based SQL split into primary-key ranges (see `chunking`) on parallel
  connections, then the original is emptied (TRUNCATE gives it a new file),
  refilled from the stage and its indexes rebuilt.

Foreign keys between the tables are dropped first and re-created last, and
statistics are refreshed (pg_statistic would otherwise keep original values).
Anything that fails before COMMIT leaves the database untouched; staging
tables hold only masked data and are dropped. The same transaction records
the rules each table was masked with (`applied`), so a later run can
re-mask just the columns whose rule changed.

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

from anonymizer import applied, inplace, native, schema, strategies
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


def _swap(conn: Conn, plans: list[TablePlan], *, progress: Progress) -> None:
    """Empty the staged tables and refill them from their stage (foreign keys already dropped)."""
    run: Callable[[str], object] = conn.execute
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
    if plans:
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


# PostgreSQL refuses ALTER ... TYPE for a shape `inplace.eligible` did not foresee.
_REFUSED = (psycopg.errors.FeatureNotSupported, psycopg.errors.InvalidTableDefinition)


def _rewrite(conn: Conn, p: TablePlan, *, progress: Progress) -> int | None:
    """Rewrite one table in place; None when PostgreSQL refuses (nothing changed then)."""
    progress.phase(p.table.name, "rewriting")
    statement = inplace.statement(
        conn, oid=p.table.oid, ident=p.table.ident, rewrites=list(p.rewrites)
    )
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the table as it was
            conn.execute(statement)
    except _REFUSED:
        return None
    # Rebuilding the indexes counted the rows exactly (pg_class.reltuples, visible to
    # this transaction until ANALYZE replaces it by an estimate): no second scan.
    query = "SELECT reltuples::bigint FROM pg_class WHERE oid = %s"
    row = conn.execute(query, (p.table.oid,)).fetchone()
    if not p.table.indexes or row is None or int(row[0]) < 0:
        row = conn.execute(f"SELECT count(*) FROM ONLY {p.table.ident}").fetchone()
    rows = int(row[0]) if row else 0
    progress.advance(p.table.name, rows)
    return rows


def _stage_here(conn: Conn, p: TablePlan, *, progress: Progress) -> int:
    """Stage one table on the coordinator itself (the fallback when ALTER was refused)."""
    cur = conn.execute(
        f"CREATE UNLOGGED TABLE {p.stage} AS SELECT {p.select} FROM ONLY {p.table.ident}"
    )
    progress.advance(p.table.name, cur.rowcount)
    return cur.rowcount


def _mask(
    conn: Conn, dsn: str, plans: list[TablePlan], *, jobs: int, progress: Progress, memory: str
) -> dict[str, int]:
    """Rewrite every planned table inside the coordinator's (uncommitted) transaction."""
    staged = [p for p in plans if not p.in_place]
    # Parallel staging reads the tables, so it runs before this transaction's DDL locks them.
    counts = _stage_all(dsn, staged, jobs=jobs, progress=progress)
    conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (memory,))
    # Index builds use parallel workers (the leader plus jobs - 1) like the staging did.
    conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {max(jobs - 1, 0)}")
    fkeys = schema.foreign_keys(conn, [p.table.oid for p in plans])
    for fk in fkeys:
        conn.execute(fk.drop)
    for p in plans:
        if not p.in_place:
            continue
        progress.start(p.table.name, p.rows)
        rows = _rewrite(conn, p, progress=progress)
        if rows is None:
            rows = _stage_here(conn, p, progress=progress)
            staged.append(p)
        counts[p.table.name] = rows
    _swap(conn, staged, progress=progress)
    for p in plans:
        # pg_statistic and extended statistics hold sample values: refresh them.
        if p.analyze:
            progress.phase(p.table.name, "analyzing")
            conn.execute(p.analyze)
    for fk in fkeys:
        for statement in fk.create:
            conn.execute(statement)
    return counts


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
    native_functions: bool = True,
) -> Result:
    """Mask the tables; either all of them are rewritten or none is (MaskingError).

    `names` are masked in full (with the tables linked to them by a pseudonymised
    key); `partial` maps more tables to the only columns to re-mask there (the
    columns whose rule changed, see `applied.changes`), the others are kept.
    `native_functions`: use the mayfly_mask C extension when the server has it
    (same values as the SQL expressions, less CPU); False forces the SQL ones.
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
            c_functions = native_functions and native.install(admin)
        counts: dict[str, int] = {}
        try:
            coordinator.execute("SET lock_timeout = '30s'")
            names = linked(coordinator, rules, names=names)
            only = {t: cols for t, cols in (partial or {}).items() if t not in names}
            effective = applied.restrict(rules, only)
            try:
                plans, skipped = plan(
                    coordinator,
                    effective,
                    [*names, *only],
                    keys=keys,
                    jobs=jobs,
                    force=force,
                    c_functions=c_functions,
                )
            except PlanError as exc:
                raise MaskingError(str(exc)) from None
            if plans:
                idents = ", ".join(p.table.ident for p in plans)
                coordinator.execute(f"LOCK TABLE {idents} IN EXCLUSIVE MODE")
                counts = _mask(
                    coordinator,
                    dsn,
                    plans,
                    jobs=jobs,
                    progress=progress,
                    memory=maintenance_work_mem,
                )
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
