"""`mayfly webhook serve` and `mayfly webhook send`: run the intake, or post a signed event.

Thin: parse options, build the app or the payload, print. The secret is read
from `--secret-file` or $MAYFLY_WEBHOOK_SECRET and never printed.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from rich.console import Console

from controller.gctune import tune_for_serving
from controller.k8s import kube, names
from controller.webhook import mapping, signature
from controller.webhook.apiserver import ApiServer
from controller.webhook.app import Settings, create_app
from controller.webhook.cached_store import CachedStore
from controller.webhook.github import GitHub
from controller.webhook.payload import pull_request_payload, signed_request

webhook_app = typer.Typer(help="GitHub webhook intake.", no_args_is_help=True)
_err = Console(stderr=True)

SecretFile = Annotated[
    Path | None,
    typer.Option(help="file holding the webhook secret (default: $MAYFLY_WEBHOOK_SECRET)"),
]


def _secret(path: Path | None) -> bytes:
    try:
        return signature.load_secret(path)
    except (signature.SecretMissingError, OSError) as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


@webhook_app.command("serve")
def serve(
    repos: Annotated[Path, typer.Option(help="YAML mapping repositories to blueprint and team")],
    secret_file: SecretFile = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    kubeconfig: Annotated[
        str | None, typer.Option(help="kubeconfig (default: $KUBECONFIG)")
    ] = None,
    namespace: Annotated[str, typer.Option(help="namespace of PreviewEnvironments")] = (
        names.DEFAULT_NAMESPACE
    ),
    github_api: Annotated[
        str | None, typer.Option(help="GitHub API base URL for changed files (none: payload only)")
    ] = None,
    github_token_env: Annotated[str, typer.Option(help="env var holding a GitHub token")] = (
        "GITHUB_TOKEN"
    ),
    max_body: Annotated[int, typer.Option(help="largest accepted body in bytes")] = 1024 * 1024,
    api_concurrency: Annotated[
        int,
        typer.Option(
            envvar="MAYFLY_API_CONCURRENCY",
            help="API calls in flight at most; more wait in the webhook, first come first served",
        ),
    ] = 8,
) -> None:
    """Serve POST /github, /healthz, /readyz and /metrics."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    secret = _secret(secret_file)
    try:
        repo_map = mapping.load(repos)
    except (OSError, mapping.MappingError) as exc:
        _err.print(f"[red]error:[/] cannot use {repos}: {exc}")
        raise typer.Exit(2) from exc
    cfg = kube.connect(kubeconfig).api.configuration
    gh = GitHub(github_api, token=os.environ.get(github_token_env)) if github_api else None
    store = CachedStore(
        ApiServer(cfg, namespace=namespace, pool=api_concurrency),
        namespace=namespace,
        paths=(lambda pr: gh.pull_files(pr.repository, pr.number)) if gh else None,
    )
    app = create_app(Settings(secret, repo_map, store, max_body=max_body))
    tune_for_serving()
    # uvloop and httptools when installed (they are dependencies); no access log on the hot path
    uvicorn.run(
        app, host=host, port=port, log_level="warning", access_log=False,
        proxy_headers=False, server_header=False, date_header=False,
    )  # fmt: skip


@webhook_app.command("send")
def send(
    repository: Annotated[str, typer.Option(help="owner/name")],
    number: Annotated[int, typer.Option(help="pull request number")],
    head_sha: Annotated[str, typer.Option(help="head commit SHA (hex)")],
    action: Annotated[str, typer.Option(help="opened, synchronize, closed, ...")] = "opened",
    url: Annotated[str, typer.Option(help="webhook URL")] = "http://127.0.0.1:8080/github",
    secret_file: SecretFile = None,
    changed: Annotated[
        list[str] | None, typer.Option("--changed-path", help="a changed path (repeatable)")
    ] = None,
    label: Annotated[list[str] | None, typer.Option(help="a label (repeatable)")] = None,
    author: Annotated[str, typer.Option(help="GitHub login of the author")] = "octocat",
    before: Annotated[str | None, typer.Option(help="previous head (synchronize)")] = None,
    wait: Annotated[
        float,
        typer.Option(help="seconds to keep trying while nothing listens at URL (webhook starting)"),
    ] = 10.0,
) -> None:
    """Post one signed pull_request event, as GitHub would."""
    closed = action == "closed"
    payload = pull_request_payload(
        action=action,
        repository=repository,
        number=number,
        head_sha=head_sha,
        author=author,
        labels=tuple(label or ()),
        state="closed" if closed else "open",
        changed_paths=tuple(changed) if changed is not None else None,
        before=before,
    )
    body, headers = signed_request(_secret(secret_file), payload)
    deadline = time.monotonic() + wait
    while True:
        try:
            resp = httpx.post(url, content=body, headers=headers, timeout=30)
            break
        except httpx.ConnectError as exc:  # nothing was sent: trying again cannot duplicate
            if time.monotonic() < deadline:
                time.sleep(0.25)
                continue
            _err.print(
                f"[red]error:[/] cannot reach {url}: {exc}; is `mayfly webhook serve` running?"
            )
            raise typer.Exit(1) from exc
        except httpx.HTTPError as exc:
            _err.print(f"[red]error:[/] {url} did not answer: {exc}")
            raise typer.Exit(1) from exc
    print(f"{resp.status_code} {resp.text}")
    if not resp.is_success:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `mayfly webhook` to the application."""
    app.add_typer(webhook_app, name="webhook")
