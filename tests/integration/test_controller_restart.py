"""The API server restarted under a running controller and webhook: deliveries made while
it is down answer 503 (GitHub redelivers), watches resume, and work completes."""

from __future__ import annotations

import time

import pytest

from controller.devcluster import ControlPlane, processes
from controller.k8s import kube
from controller.k8s.errors import KubeError
from tests.k8s.harness import Scenario, eventually
from tests.k8s.plane import mayfly_cluster_fixture, scenario_fixture  # noqa: F401

pytestmark = pytest.mark.cluster

SHA = "4d" * 20


def _ready(s: Scenario) -> bool:
    try:
        s.api.list(kube.NAMESPACE, selector="kubernetes.io/metadata.name=default")
    except KubeError:
        return False
    return True


def _restart_apiserver(plane: ControlPlane, *, down_for: float, during: object) -> None:
    index, proc = next((i, p) for i, p in enumerate(plane.processes) if p.name == "kube-apiserver")
    assert proc.popen is not None
    argv = [str(arg) for arg in proc.popen.args]  # type: ignore[union-attr]
    proc.stop()
    if callable(during):
        during()
    time.sleep(down_for)
    plane.processes[index] = processes.spawn(
        "kube-apiserver", argv, log=proc.log.with_name("kube-apiserver-restarted.log")
    )


def test_api_server_restart(scenario: Scenario) -> None:
    s = scenario
    with s.controller() as ctl, s.webhook() as url:
        assert s.send(url, "opened", 1, SHA).status_code == 200
        eventually("Ready before the restart", lambda: s.phase(1) == "Ready")
        answers: list[int] = []
        _restart_apiserver(
            s.plane,
            down_for=3,
            during=lambda: answers.append(
                s.send(url, "opened", 2, SHA, delivery="during-outage").status_code
            ),
        )
        assert answers == [503]
        eventually("API server ready again", lambda: _ready(s), timeout=120)
        # GitHub redelivers until it gets a 2xx; the webhook may still answer 503 (retry)
        # for a moment while its connections to the restarted API server are re-made
        redeliveries: list[int] = []

        def redelivered() -> bool:
            status = s.send(url, "opened", 2, SHA, delivery="during-outage").status_code
            redeliveries.append(status)
            return status == 200

        eventually("redelivery accepted", redelivered, timeout=60)
        assert set(redeliveries) <= {200, 503}, redeliveries
        eventually("Ready after the restart", lambda: s.phase(2) == "Ready", timeout=120)
        assert s.phase(1) == "Ready"
        assert ctl.cycles > 0
        for number in (1, 2):
            assert s.send(url, "closed", number, SHA).status_code == 200
        eventually("torn down", lambda: s.phase(1) == "Gone" and s.phase(2) == "Gone", timeout=120)
