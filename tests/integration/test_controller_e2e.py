"""End to end on the cluster tier: signed webhook -> PreviewEnvironment -> every object ->
Jobs complete (kwok) -> Ready; synchronize re-runs migrations and masking; closed deletes
everything, the namespace finishes deleting, the finalizer goes last. GitHub Deployments
calls are checked on a local recording server."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

from controller.cli import app
from controller.core.types import Step
from controller.k8s import kube, metrics, names
from controller.k8s.deployments import DeploymentsReporter
from controller.webhook.github import GitHub
from tests.k8s.harness import Scenario, eventually
from tests.k8s.plane import mayfly_cluster_fixture, scenario_fixture  # noqa: F401
from tests.webhook.recording import Call, Reply, recording

pytestmark = pytest.mark.cluster

SHA1, SHA2 = "1a" * 20, "2b" * 20


def github_stub(call: Call) -> Reply:
    if call.method == "GET":
        return 200, [], {}
    if call.path.endswith("/deployments"):
        return 201, {"id": 77}, {}
    return 201, {"id": 1}, {}


def test_opened_synchronize_closed(scenario: Scenario) -> None:
    s = scenario
    with (
        recording(github_stub) as gh_server,
        s.controller(reporter=DeploymentsReporter(GitHub(gh_server.url))) as ctl,
        s.webhook() as url,
    ):
        resp = s.send(url, "opened", 1, SHA1)
        assert resp.status_code == 200, resp.text
        eventually("Ready", lambda: s.phase(1) == "Ready")
        ns = s.env_ns(1)
        obj = s.pe(1)
        assert obj is not None
        assert obj["metadata"]["finalizers"] == [names.FINALIZER]
        assert obj["status"]["url"] == f"https://{ns}.preview.example.com"
        phases = [t["phase"] for t in obj["status"]["phaseTimestamps"]]
        assert phases[0] == "Pending"
        assert phases[-1] == "Ready"
        assert {"Migrating", "Masking", "Deploying", "Routing"} <= set(phases)  # Cloning may
        # be over before the next report: the dev binder binds within a cycle
        namespace = s.api.get(kube.NAMESPACE, ns)
        assert namespace is not None
        labels = namespace["metadata"]["labels"]
        assert (labels[names.PR], labels[names.TEAM], labels[names.OWNER]) == (
            "1",
            "web",
            "octocat",
        )
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        for kind, wanted in (
            (kube.QUOTA, {"mayfly-quota"}),
            (kube.LIMITS, {"mayfly-limits"}),
            (kube.NETPOL, {"mayfly-deny-production"}),
            (kube.DEPLOYMENT, {"api", "web", "orders"}),
            (kube.SERVICE, {"api", "web", "orders"}),
            (kube.VIRTUAL_SERVICE, {"to-auth"}),
            (kube.DESTINATION_RULE, {"api", "web", "orders"}),
            (kube.SIDECAR, {"default"}),
        ):
            assert {o["metadata"]["name"] for o in s.in_ns(kind, 1)} == wanted, kind.kind
        for step in (Step.MIGRATIONS, Step.MASKING):
            (job,) = s.jobs(1, step)
            conditions = {c["type"]: c["status"] for c in job["status"]["conditions"]}
            assert conditions.get("Complete") == "True"
        (volume,) = s.volumes(1)
        assert volume["status"]["phase"] == "Bound"
        deps = {d["metadata"]["name"]: d for d in s.in_ns(kube.DEPLOYMENT, 1)}
        orders = deps["orders"]["spec"]["template"]["spec"]["containers"][0]
        assert orders["envFrom"] == [{"secretRef": {"name": names.DB_SECRET}}]
        assert "envFrom" not in deps["web"]["spec"]["template"]["spec"]["containers"][0]

        _check_status_and_trace(s, ns)
        scrape = generate_latest(metrics.REGISTRY).decode()
        assert 'mayfly_time_to_ready_seconds_bucket{le="90.0"}' in scrape
        assert "mayfly_reconcile_cycle_seconds_count" in scrape

        resp = s.send(url, "synchronize", 1, SHA2, before=SHA1)
        assert resp.json()["result"] == "applied"

        def ready_at_new_head() -> bool:
            status = (s.pe(1) or {}).get("status") or {}  # one read: phase and sha together
            return bool(status.get("phase") == "Ready" and status.get("sha") == SHA2)

        eventually("Ready at the new head", ready_at_new_head)
        for step in (Step.MIGRATIONS, Step.MASKING):
            (job,) = s.jobs(1, step)
            assert job["metadata"]["annotations"][names.SHA] == SHA2
        deps = {d["metadata"]["name"]: d for d in s.in_ns(kube.DEPLOYMENT, 1)}
        assert {d["metadata"]["annotations"][names.SHA] for d in deps.values()} == {SHA2}
        phases = [t["phase"] for t in (s.pe(1) or {})["status"]["phaseTimestamps"]]
        assert "Updating" in phases or "Migrating" in phases[phases.index("Ready") :]

        resp = s.send(url, "closed", 1, SHA2)
        assert resp.json()["result"] == "applied"
        eventually("namespace deleted", lambda: s.api.get(kube.NAMESPACE, ns) is None, timeout=120)
        eventually("finalizer removed", lambda: not (s.pe(1) or {})["metadata"].get("finalizers"))
        eventually("phase Gone", lambda: s.phase(1) == "Gone")
        assert s.volumes(1) == []
        assert ctl.cycles > 0
        time.sleep(6)  # a resync: within the 7-day retention the record stays
        assert s.phase(1) == "Gone"
        ctl.retain_gone = timedelta(0)
        eventually("record forgotten at the next resync", lambda: s.pe(1) is None, timeout=30)
        ctl.reporter.flush()  # type: ignore[union-attr]
    states = [c.body["state"] for c in gh_server.calls if c.path.endswith("/statuses")]
    assert {"in_progress", "success"} <= set(states)
    assert states[-1] == "inactive"
    success = next(c for c in gh_server.calls if c.body and c.body.get("state") == "success")
    assert success.body["environment_url"].startswith("https://pr-1-")
    created = [c for c in gh_server.calls if c.method == "POST" and c.path.endswith("/deployments")]
    assert created[0].body["transient_environment"] is True
    assert {c.body["ref"] for c in created} == {SHA1, SHA2}


def _check_status_and_trace(s: Scenario, ns: str) -> None:
    """`mayfly status` and `mayfly trace export` read what the controller wrote."""
    common = ["--kubeconfig", str(s.plane.kubeconfig), "--namespace", s.namespace]
    runner = CliRunner()
    result = runner.invoke(app, ["status", *common, "--json"])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.output.splitlines()]
    assert row["repository"] == s.repo
    assert (row["pr"], row["team"], row["phase"]) == (1, "web", "Ready")
    assert row["url"] == f"https://{ns}.preview.example.com"
    table = runner.invoke(app, ["status", *common])
    assert "Ready" in table.output
    trace = runner.invoke(app, ["trace", "export", *common])
    assert trace.exit_code == 0, trace.output
    records = [json.loads(line) for line in trace.output.splitlines()]
    assert records[0]["phase"] == "Pending"
    assert [r["seq"] for r in records] == list(range(len(records)))
    assert records[-1]["phase"] == "Ready"
    assert {r["number"] for r in records} == {1}
    assert all("author" not in r and "octocat" not in json.dumps(r) for r in records)
