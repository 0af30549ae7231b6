"""Every manifest in deploy/ is accepted by a real API server (server-side dry run)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from controller.devcluster import ControlPlane, manifests

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
pytestmark = pytest.mark.api


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in manifests.manifest_files(DEPLOY)
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


@pytest.fixture(scope="module")
def api(k8s_api: ControlPlane) -> Iterator[Any]:
    with contextlib.closing(k8s_api.api_client()) as client:
        # Namespaced objects can only be dry-run into a namespace that exists.
        manifests.apply(client, manifests.load_documents([DEPLOY / "namespace.yaml"]))
        yield client


@pytest.mark.parametrize(
    ("path", "doc"),
    [
        pytest.param(p, d, id=f"{p.relative_to(DEPLOY)}:{d['kind']}/{d['metadata']['name']}")
        for p, d in _documents()
    ],
)
def test_manifest_applies_with_server_side_dry_run(
    api: Any, path: Path, doc: dict[str, Any]
) -> None:
    (result,) = manifests.apply(api, [doc], dry_run=True)
    assert result.kind == doc["kind"]
    assert result.metadata.name == doc["metadata"]["name"]


def test_kustomization_lists_every_installed_manifest() -> None:
    """Everything in deploy/ is installed, except test-only CRDs and files whose
    header says they are "not part of the installation" (e.g. an on-demand Job)."""
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    listed = {DEPLOY / r for r in kustomization["resources"]}
    assert all(path.is_file() for path in listed)
    on_disk = {
        p
        for p in manifests.manifest_files(DEPLOY)
        if p.name != "kustomization.yaml"
        and "test-crds" not in p.parts
        and "not part of the installation" not in p.read_text()[:400].lower()
    }
    assert listed == on_disk


def test_workloads_run_as_non_root_with_two_replicas() -> None:
    deployments = [d for _, d in _documents() if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"mayfly-controller", "mayfly-webhook"}
    for deployment in deployments:
        assert deployment["spec"]["replicas"] == 2
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    budgets = {d["metadata"]["name"] for _, d in _documents() if d["kind"] == "PodDisruptionBudget"}
    assert budgets == {"mayfly-controller", "mayfly-webhook"}


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in dockerfile if line.startswith("USER ")]
    assert users, "the image must switch to an unprivileged user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0


def _parse_cli(args: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse `mayfly ARGS` exactly as the container would, without running anything."""
    from controller.cli import app

    command: Any = typer.main.get_command(app)
    ctx = command.make_context("mayfly", list(args))
    while hasattr(command, "resolve_command"):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)
    return command.name, ctx.params


@pytest.mark.parametrize("name", ["mayfly-controller", "mayfly-webhook"])
def test_container_arguments_are_accepted_by_the_mayfly_cli(name: str) -> None:
    (deployment,) = [
        d for _, d in _documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == name
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    command, params = _parse_cli(container["args"])
    assert command in {"run", "serve"}
    assert params["namespace"] == "mayfly-system"
    with pytest.raises(Exception, match="No such option"):
        _parse_cli([*container["args"], "--no-such-flag"])
