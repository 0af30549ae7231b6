"""The data plane's `mayfly` sub-commands: migrations, masking, anonymize, db.

Role: parse options, call the anonymizer modules, print results (rich on a
terminal, plain lines otherwise) and turn expected failures into a message
that says what to do plus a non-zero exit code.

It must not hold masking or analysis logic, and must not import `controller`.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console

from anonymizer import (
    applied,
    check,
    masking,
    migrations,
    progress,
    rules,
    schema,
    sqlscan,
    strategies,
)
from anonymizer.cli_db import db_app

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

migrations_app = typer.Typer(
    help="Analyse a pull request's database migrations.", no_args_is_help=True
)
masking_app = typer.Typer(help="Check masking rules (fail closed).", no_args_is_help=True)

Files = Annotated[
    list[Path] | None,
    typer.Option("--migrations", help="Migration file or directory (repeatable)."),
]
Repo = Annotated[Path | None, typer.Option(help="Git repository for --base/--head (default: .).")]
Base = Annotated[str | None, typer.Option(help="Base revision: migrations changed since it.")]
Head = Annotated[str, typer.Option(help="Head revision of the pull request.")]
RulesFile = Annotated[Path, typer.Option("--rules", help="Masking rules YAML file.")]


def fail(message: str, *, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def load_report(
    files: list[Path] | None, repo: Path | None, *, base: str | None, head: str
) -> migrations.Report:
    """Migrations from explicit files/directories or from a git range."""
    try:
        if base is not None:
            return migrations.from_git(repo or Path("."), base=base, head=head)
        if files:
            return migrations.from_paths(files)
    except migrations.MigrationError as exc:
        raise fail(str(exc)) from None
    raise fail("give migration FILEs/directories, or --base REV (with --repo and --head)")


@migrations_app.command("touched")
def touched(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Migration files or directories.")
    ] = None,
    repo: Annotated[Path | None, typer.Option(help="Git repository (default: .).")] = None,
    base: Annotated[str | None, typer.Option(help="Base revision of the pull request.")] = None,
    head: Annotated[str, typer.Option(help="Head revision of the pull request.")] = "HEAD",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the tables the migrations touch (create, alter, write) and only read."""
    report = load_report(files, repo, base=base, head=head)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        for f in report.files:
            out.print(f"[bold]{f.path}[/bold]")
            for s in f.statements:
                cols = "; ".join(f"{t}({', '.join(c)})" for t, c in s.columns.items())
                out.print(f"  line {s.line:>4}  {s.kind:<14} {', '.join(s.tables) or '-'}  {cols}")
        out.print(f"touched: {', '.join(report.tables) or '(none)'}")
        out.print(f"read:    {', '.join(report.read) or '(none)'}")
    for error in report.errors:
        err.print(f"[red]parse error:[/red] {error}")
    if report.errors:
        raise fail(f"{len(report.errors)} migration(s) do not parse; fix them and rerun")


def load_rules(path: Path) -> rules.Rules:
    try:
        return rules.load(path)
    except rules.RulesError as exc:
        raise fail(str(exc), code=2) from None


@masking_app.command("check")
def masking_check(
    rules_file: RulesFile,
    files: Files = None,
    repo: Repo = None,
    base: Base = None,
    head: Head = "HEAD",
    dsn: Annotated[
        str | None, typer.Option(help="Also check against this database's schema.")
    ] = None,
) -> None:
    """Validate the rules against the PR's migrations (and a schema): fail closed on gaps."""
    loaded = load_rules(rules_file)
    findings: list[check.Finding] = []
    report = load_report(files, repo, base=base, head=head) if files or base else None
    if report is not None:
        for warning in report.warnings:
            err.print(f"[yellow]warning:[/yellow] {warning} (tables it touches are not checked)")
        for error in report.errors:
            err.print(f"[red]parse error:[/red] {error}")
        if report.errors:
            raise fail("migrations do not parse, so the rules cannot be checked against them")
        findings += check.against_migrations(loaded, report)
    if dsn is not None:
        pending = set(report.tables) if report else set()
        try:
            with psycopg.connect(dsn) as conn:
                findings += [
                    f
                    for f in check.against_schema(loaded, conn)
                    if not (f.table in pending and "not in the database" in f.message)
                ]
        except psycopg.OperationalError as exc:
            raise fail(f"cannot connect to the database: {str(exc).strip()}") from None
    for finding in findings:
        err.print(f"[red]missing:[/red] {finding}")
    if findings:
        raise fail(f"{len(findings)} problem(s): masking would not be complete; fix the rules")
    columns = sum(len(t.columns) for _, t in loaded.tables)
    out.print(f"rules OK: {len(loaded.tables)} tables, {columns} column rules")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def anonymize(
    dsn: Annotated[str, typer.Option(help="The clone to mask (libpq connection string).")],
    rules_file: RulesFile,
    tables: Annotated[str | None, typer.Option(help="Comma-separated tables to mask.")] = None,
    files: Files = None,
    repo: Repo = None,
    base: Base = None,
    head: Head = "HEAD",
    all_tables: Annotated[
        bool, typer.Option("--all", help="Mask every table in the rules.")
    ] = False,
    previous_rules: Annotated[
        Path | None,
        typer.Option(
            help="The rules before this PR: tables whose rules changed are re-masked in full "
            "(not needed: the rules a database was masked with are recorded in it)."
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Parallel connections.")] = 2,
    index_memory: Annotated[
        str, typer.Option(help="maintenance_work_mem for the index rebuilds.")
    ] = "512MB",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Mask tables of a database clone: all of them or none (the masking Job's entry point).

    Every run also re-masks the columns whose rule changed since this database was
    last masked (the rules are recorded in the database, mayfly_masking.applied).
    """
    loaded = load_rules(rules_file)
    try:
        keys = strategies.Keys.from_secret(loaded.key())
    except rules.RulesError as exc:
        raise fail(str(exc), code=2) from None
    explicit = bool(tables or files or base or all_tables)
    names = []
    if explicit:
        names = _targets(
            dsn,
            loaded,
            tables=tables,
            files=files,
            repo=repo,
            base=base,
            head=head,
            all_tables=all_tables,
        )
    if previous_rules is not None:
        changed = rules.changed_tables(load_rules(previous_rules), loaded)
        names += [t for t in changed if t not in names]
    partial = _rule_changes(dsn, loaded)
    if partial is None and not explicit and previous_rules is None:
        raise fail(
            "this database has no record of an earlier masking run, so there are no rule "
            "changes to apply; give --all for a first masking (or --tables/--migrations)",
            code=2,
        )
    partial = {t: cols for t, cols in (partial or {}).items() if t not in names}
    for table, cols in sorted(partial.items()):
        err.print(f"rules changed for {table}: re-masking {', '.join(sorted(cols)) or 'nothing'}")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with progress.for_console(err) as bars:
            result = masking.run(
                dsn,
                loaded,
                names,
                keys=keys,
                jobs=jobs,
                progress=bars,
                maintenance_work_mem=index_memory,
                partial=partial,
            )
    except masking.MaskingError as exc:
        raise fail(f"masking failed; {exc}") from None
    except KeyboardInterrupt:
        raise fail(
            "interrupted: the transaction was rolled back, nothing was changed", code=130
        ) from None
    summary: dict[str, Any] = {
        "tables": [
            {"table": t.name, "rows": t.rows, "masked": list(t.masked)} for t in result.tables
        ],
        "skipped": [{"table": n, "reason": r} for n, r in result.skipped],
        "rule_changes": {t: sorted(cols) for t, cols in sorted(partial.items())},
        "rows": result.rows,
        "seconds": round(result.seconds, 3),
    }
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    for t in result.tables:
        out.print(f"masked {t.name}: {t.rows} rows, columns {', '.join(t.masked) or '-'}")
    for name, reason in result.skipped:
        out.print(f"skipped {name}: {reason}")
    out.print(f"done: {result.rows} rows in {result.seconds:.2f}s")


def _rule_changes(dsn: str, loaded: rules.Rules) -> dict[str, frozenset[str]] | None:
    try:
        with psycopg.connect(dsn) as conn:
            return applied.pending(conn, loaded)
    except psycopg.OperationalError as exc:
        raise fail(f"cannot connect to the database: {str(exc).strip()}") from None


def _targets(
    dsn: str,
    loaded: rules.Rules,
    *,
    tables: str | None,
    files: list[Path] | None,
    repo: Path | None,
    base: str | None,
    head: str,
    all_tables: bool,
) -> list[str]:
    if sum(bool(x) for x in (tables, files or base, all_tables)) != 1:
        raise fail("give only one of --tables, --migrations/--base or --all", code=2)
    if tables:
        return [sqlscan.qualify(t.strip()) for t in tables.split(",") if t.strip()]
    if all_tables:
        return [name for name, _ in loaded.tables]
    report = load_report(files, repo, base=base, head=head)
    if report.errors:
        for error in report.errors:
            err.print(f"[red]parse error:[/red] {error}")
        raise fail("migrations do not parse; cannot tell which tables to mask")
    try:
        with psycopg.connect(dsn) as conn:
            existing = schema.existing_tables(conn)
    except psycopg.OperationalError as exc:
        raise fail(f"cannot connect to the database: {str(exc).strip()}") from None
    return [t for t in report.tables if t in existing]


def register(app: typer.Typer) -> None:
    """Add the data plane's command groups to the `mayfly` application."""
    app.add_typer(migrations_app, name="migrations")
    app.add_typer(masking_app, name="masking")
    app.add_typer(db_app, name="db")
    app.command("anonymize")(anonymize)
