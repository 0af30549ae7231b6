"""The `mayfly` command: one Typer application gathering every package's sub-commands.

Each package owns its commands in its own `cli` module and exposes a Typer app
(or a `register(app)` function); this module only wires them together. No
logic lives here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="mayfly",
    help="Ephemeral, data-anonymised preview environments for every pull request.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _register() -> None:
    from controller.core_cli import register as register_core

    register_core(app)
    __import__("anonymizer.cli", fromlist=["register"]).register(app)
    __import__("controller.devcluster.cli", fromlist=["register"]).register(app)
    __import__("controller.webhook.cli", fromlist=["register"]).register(app)
    __import__("controller.k8s.cli", fromlist=["register"]).register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
