"""The `mayfly` command: one entry point gathering every package's sub-commands, lazily.

Each package owns its commands in its own `cli` module, exposing
`register(app: typer.Typer)`. This module only lists which top-level command
lives in which module (with its one-line help) and imports a module when its
command is actually run, so `mayfly --help` and quick commands do not pay for
importing kubernetes, pandas or matplotlib. No logic lives here.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
import typer.core
import typer.main

# command -> (module with register(app), one-line help shown by `mayfly --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("sim.cli", "Simulate the organisation: spin-up times, SLA and cost."),
    "capacity": ("capacity.cli", "Capacity planning: sweeps, recommendations, reports."),
    "blueprint": ("controller.core_cli", "Validate and inspect blueprints."),
    "routes": ("controller.core_cli", "Which services run in the PR namespace, and why."),
    "migrations": ("anonymizer.cli", "Analyse migrations: which tables a change touches."),
    "masking": ("anonymizer.cli", "Check masking rules against schema and migrations."),
    "anonymize": ("anonymizer.cli", "Mask the tables a change touches, on a clone."),
    "db": ("anonymizer.cli", "Local copy-on-write database clones and warm pool."),
    "webhook": ("controller.webhook.cli", "The GitHub webhook receiver."),
    "controller": ("controller.k8s.cli", "The Kubernetes controller."),
    "status": ("controller.k8s.cli", "List preview environments and their phases."),
    "trace": ("controller.k8s.cli", "Export phase transitions for calibration."),
    "dev": ("controller.devcluster.cli", "Developer tooling: a local Kubernetes control plane."),
    "loadtest": ("loadtests.cli", "Locust bursts of signed webhooks, then a consistency check."),
}


class LazyGroup(typer.core.TyperGroup):
    """A command group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module = importlib.import_module(COMMANDS[cmd_name][0])
        holder = typer.Typer(add_completion=False)  # else a lone command gets the options
        module.register(holder)
        group: Any = typer.main.get_command(holder)
        if hasattr(group, "get_command"):
            return group.get_command(ctx, cmd_name)
        return group if group.name == cmd_name else None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="mayfly",
    help="Ephemeral, data-anonymised preview environments for every pull request.",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Ephemeral, data-anonymised preview environments for every pull request."""


def main(args: Any = None) -> None:
    """Console-script entry point."""
    app(args)
