"""The data plane's `mayfly` sub-commands: migrations, masking, anonymize, db.

Role: parse options, call the anonymizer modules, print results (rich on a
terminal, plain lines otherwise) and turn expected failures into a message
that says what to do plus a non-zero exit code.

It must not hold masking or analysis logic, and must not import `controller`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from anonymizer import migrations

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

migrations_app = typer.Typer(
    help="Analyse a pull request's database migrations.", no_args_is_help=True
)


def fail(message: str, *, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def load_report(
    files: list[Path] | None, repo: Path | None, base: str | None, head: str
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
    report = load_report(files, repo, base, head)
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


def register(app: typer.Typer) -> None:
    """Add the data plane's command groups to the `mayfly` application."""
    app.add_typer(migrations_app, name="migrations")
