"""GitHub Deployments reporting against a local recording server."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.core.types import EnvKey, EnvStatus, Phase
from controller.k8s.deployments import DeploymentsReporter
from controller.webhook.github import GitHub
from tests.webhook.recording import Call, Reply, recording

KEY = EnvKey("acme/shop", 4)
AT = datetime(2026, 1, 1, tzinfo=UTC)


def handler(call: Call) -> Reply:
    if call.method == "GET":
        return 200, [], {}
    if call.path.endswith("/deployments"):
        return 201, {"id": 41}, {}
    return 201, {"id": 1}, {}


def test_transient_deployment_lifecycle() -> None:
    with recording(handler) as server:
        reporter = DeploymentsReporter(GitHub(server.url))
        for phase, url in (
            (Phase.PENDING, ""),
            (Phase.CLONING, ""),
            (Phase.READY, "https://pr-4.example"),
            (Phase.READY, "https://pr-4.example"),
            (Phase.TEARING_DOWN, ""),
        ):
            reporter.report(KEY, EnvStatus(phase, url=url, sha="f" * 40))
        reporter.flush()
    creates = [c for c in server.calls if c.method == "POST" and c.path.endswith("/deployments")]
    assert len(creates) == 1
    assert creates[0].body["transient_environment"] is True
    assert creates[0].body["environment"] == "preview/pr-4"
    statuses = [c.body for c in server.calls if c.path.endswith("/deployments/41/statuses")]
    assert [s["state"] for s in statuses] == ["in_progress", "success", "inactive"]
    assert statuses[1]["environment_url"] == "https://pr-4.example"
