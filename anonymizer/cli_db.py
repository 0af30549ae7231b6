"""`mayfly db ...`: the local golden database, copy-on-write clones and the warm pool.

Role: options and output for `localdb`/`clones`; expected failures become a
message saying what to do and a non-zero exit code.

It must not hold cloning or masking logic, and must not import `controller`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from anonymizer import clones, localdb, masking, pgserver, progress, rules, strategies

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
db_app = typer.Typer(
    help="Local anonymised PostgreSQL: golden copy, clones, warm pool.", no_args_is_help=True
)


def _default_store() -> Path:
    env = os.environ.get("MAYFLY_STORE")
    if env:
        return Path(env)
    return Path("/var/lib/mayfly") if os.geteuid() == 0 else Path.home() / ".local/share/mayfly"


StoreOpt = Annotated[
    Path,
    typer.Option(
        "--store", default_factory=_default_store, help="Store directory ($MAYFLY_STORE)."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@db_app.command("golden")
def golden(
    rules_file: Annotated[Path, typer.Option("--rules", help="Masking rules YAML file.")],
    store: StoreOpt,
    sql: Annotated[
        list[Path] | None, typer.Option(help="SQL file or directory to load (repeatable).")
    ] = None,
    source_dsn: Annotated[
        str | None, typer.Option(help="Copy this database (pg_dump) first.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild an existing golden copy.")] = False,
    loop: Annotated[
        bool,
        typer.Option(help="As root, use a loop-mounted XFS image when the store has no reflinks."),
    ] = True,
    image_gb: Annotated[int, typer.Option(help="Size of the loop image (sparse).")] = 8,
) -> None:
    """Prepare the golden data directory: load, mask every personal table, shut down cleanly."""
    if not sql and not source_dsn:
        raise _fail("give --sql FILE/DIR and/or --source-dsn DSN to load the golden copy", 2)
    try:
        loaded = rules.load(rules_file)
        keys = strategies.Keys.from_secret(loaded.key())
        with progress.for_console(err) as bars:
            path, result = localdb.make_golden(
                clones.Store(store),
                loaded,
                keys=keys,
                sql_files=sql or [],
                source_dsn=source_dsn,
                progress=bars,
                loop=loop,
                image_gb=image_gb,
                force=force,
            )
    except (
        rules.RulesError,
        clones.CloneError,
        masking.MaskingError,
        pgserver.PostgresError,
    ) as exc:
        raise _fail(str(exc)) from None
    mode = clones.Store(store).state()["mode"]
    out.print(f"golden ready: {path} ({result.rows} rows masked in {len(result.tables)} tables)")
    out.print(
        f"clone method: {mode}"
        + ("" if mode != "copy" else " (no reflinks: clones are plain copies)")
    )


@db_app.command("clone")
def clone(
    name: Annotated[str, typer.Argument(help="Name of the clone, e.g. pr-123.")],
    store: StoreOpt,
    as_json: AsJson = False,
) -> None:
    """Copy-on-write clone of the golden data directory, with PostgreSQL started on it."""
    try:
        made = localdb.clone(clones.Store(store), name)
    except (clones.CloneError, pgserver.PostgresError) as exc:
        raise _fail(str(exc)) from None
    note = clones.method_note(clones.CloneResult(made.datadir, made.method, made.clone_seconds))
    if as_json:
        print(
            json.dumps(
                {
                    "name": name,
                    "dsn": made.dsn,
                    "method": made.method,
                    "clone_seconds": round(made.clone_seconds, 3),
                    "ready_seconds": round(made.ready_seconds, 3),
                }
            )
        )
        return
    out.print(f"{name}: {note}; accepting connections after {made.ready_seconds:.2f}s")
    out.print(f"dsn: {made.dsn}")


@db_app.command("drop")
def drop(
    name: Annotated[str, typer.Argument(help="Clone to stop and delete.")], store: StoreOpt
) -> None:
    """Stop a clone's server and delete it."""
    try:
        localdb.drop(clones.Store(store), name)
    except clones.CloneError as exc:
        raise _fail(str(exc)) from None
    out.print(f"dropped {name}")


@db_app.command("pool")
def pool(
    store: StoreOpt,
    size: Annotated[int, typer.Option(min=0, help="Number of warm clones to keep.")] = 2,
) -> None:
    """Keep N clones running and unclaimed (idempotent: run it again to top up)."""
    try:
        made, state = localdb.pool(clones.Store(store), size)
    except (clones.CloneError, pgserver.PostgresError) as exc:
        raise _fail(str(exc)) from None
    for m in made:
        out.print(f"warmed {m.name} ({m.method}, ready in {m.ready_seconds:.2f}s)")
    warm = sum(1 for c in state["clones"].values() if c["state"] == "warm")
    claimed = len(state["clones"]) - warm
    out.print(f"pool: {warm} warm, {claimed} claimed (size {size})")


@db_app.command("claim")
def claim(
    store: StoreOpt,
    owner: Annotated[str, typer.Option(help="Who claims it, e.g. pr-123.")] = "anonymous",
    as_json: AsJson = False,
) -> None:
    """Take a warm clone from the pool; prints its name and DSN."""
    try:
        name, dsn = localdb.claim(clones.Store(store), owner)
    except clones.CloneError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps({"name": name, "dsn": dsn, "owner": owner}))
    else:
        out.print(f"claimed {name} for {owner}\ndsn: {dsn}")


@db_app.command("release")
def release(
    name: Annotated[str, typer.Argument(help="Claimed clone to give back.")], store: StoreOpt
) -> None:
    """Give a claimed clone back: it is destroyed and the pool refilled."""
    try:
        made = localdb.release(clones.Store(store), name)
    except (clones.CloneError, pgserver.PostgresError) as exc:
        raise _fail(str(exc)) from None
    out.print(f"released {name}; warmed {len(made)} replacement(s)")


@db_app.command("destroy")
def destroy(store: StoreOpt) -> None:
    """Stop every clone, unmount the loop image and delete the store."""
    st = clones.Store(store)
    if st.state_file.exists():
        for path in (st.area / "clones").glob("*"):
            localdb.drop(st, path.name)
    st.destroy()
    out.print(f"destroyed {store}")
