"""`mayfly dev cluster up|kubeconfig|down` against the real binaries (api tier)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import typer
from kubernetes import client, config
from typer.testing import CliRunner

from controller.devcluster import processes, session
from controller.devcluster.cli import register


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("MAYFLY_DEVCLUSTER_STATE", str(tmp_path / "state"))
    main = typer.Typer()
    register(main)
    return main


def test_kubeconfig_without_a_cluster_says_how_to_start_one(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["dev", "cluster", "kubeconfig"])
    assert result.exit_code == 1
    assert "mayfly dev cluster up" in result.output


def test_down_without_a_cluster_is_harmless(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["dev", "cluster", "down"])
    assert result.exit_code == 0
    assert "nothing to stop" in result.output


@pytest.mark.api
def test_up_kubeconfig_down_round_trip(app: typer.Typer) -> None:
    runner = CliRunner()
    up = runner.invoke(app, ["dev", "cluster", "up", "--tier", "api"])
    try:
        assert up.exit_code == 0, up.output
        export = up.output.strip().splitlines()[-1]
        assert export.startswith("export KUBECONFIG=")
        kubeconfig = Path(export.removeprefix("export KUBECONFIG="))
        assert kubeconfig.is_file()
        started = session.load()
        assert started is not None
        assert started.alive()

        shown = runner.invoke(app, ["dev", "cluster", "kubeconfig"])
        assert shown.output.strip() == str(kubeconfig)

        with contextlib.closing(config.new_client_from_config(str(kubeconfig))) as api:
            names = {
                c.metadata.name
                for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items
            }
        assert "previewenvironments.mayfly.dev" in names
        assert "virtualservices.networking.istio.io" in names

        again = runner.invoke(app, ["dev", "cluster", "up", "--tier", "api"])
        assert "already running" in again.output
        assert session.load() == started
        other = runner.invoke(app, ["dev", "cluster", "up", "--tier", "cluster"])
        assert other.exit_code == 1
        assert "mayfly dev cluster down" in other.output
    finally:
        down = runner.invoke(app, ["dev", "cluster", "down"])
    assert down.exit_code == 0
    assert all(not processes.pid_alive(pid) for pid in started.pids)
    assert not Path(started.workdir).exists()
    assert session.load() is None
