"""Pure rendering: namespace frame, Jobs, workloads, routes; the GDPR and isolation rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.blueprint_file import read_blueprint
from controller.core.routing import plan_routes
from controller.core.types import EnvKey, Step
from controller.k8s import names
from controller.k8s import render_namespace as rns
from controller.k8s import render_routes as rroutes
from controller.k8s import render_steps as rsteps
from controller.k8s import render_workloads as rwork
from controller.k8s.config import Quota, ShellConfig

BP = read_blueprint(Path(__file__).parents[2] / "examples" / "blueprint.yaml")
KEY = EnvKey("acme/shop", 42)
NS = names.env_name(KEY)
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
SHA = "c0ffee" * 6 + "abcd"


def test_namespace_frame_labels_and_policies() -> None:
    objs = rns.frame(
        KEY, NS, team="checkout", owner="Some.User", blueprint="shop",
        production=BP.production_namespaces, quota=Quota(),
    )  # fmt: skip
    assert [o["kind"] for o in objs] == [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
    ]
    labels = objs[0]["metadata"]["labels"]
    assert labels[names.PR] == "42"
    assert labels[names.TEAM] == "checkout"
    assert labels[names.OWNER] == "some-user"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels[names.MANAGED] == "true"
    assert objs[0]["metadata"]["annotations"][names.REPOSITORY_FULL] == "acme/shop"
    rule = objs[3]["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchExpressions"][0]
    assert (rule["operator"], rule["values"]) == ("NotIn", ["production", "production-data"])


@pytest.mark.parametrize("step", [Step.MIGRATIONS, Step.MASKING])
def test_jobs_never_carry_database_credentials(step: Step) -> None:
    job = rsteps.job(
        KEY, step, namespace=NS, sha=SHA, databases=("orders",), attempt=2,
        blueprint="shop", now=NOW, cfg=ShellConfig(),
    )  # fmt: skip
    assert job["metadata"]["name"] == f"{step.value}-{SHA[:12]}-2"
    assert job["spec"]["backoffLimit"] == 0
    assert names.DB_SECRET not in json.dumps(job)
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_only_database_owners_get_the_secret_and_only_with_access() -> None:
    services = ("checkout", "orders")
    granted = rwork.workloads(
        KEY, BP, services, namespace=NS, sha=SHA, attempt=1, db_access=True, progress_deadline=60
    )
    deps = {o["metadata"]["name"]: o for o in granted if o["kind"] == "Deployment"}
    assert "envFrom" in deps["orders"]["spec"]["template"]["spec"]["containers"][0]
    assert "envFrom" not in deps["checkout"]["spec"]["template"]["spec"]["containers"][0]
    assert deps["orders"]["metadata"]["annotations"][names.DB_ACCESS_SHA] == SHA
    revoked = rwork.workloads(
        KEY, BP, services, namespace=NS, sha=SHA, attempt=1, db_access=False, progress_deadline=60
    )
    assert names.DB_SECRET not in json.dumps(revoked)
    image = deps["orders"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"acme/orders:{SHA[:12]}"


def test_routes_stay_out_of_production() -> None:
    plan = plan_routes(BP, namespace=NS, changed_services=("orders", "catalog"))
    objs = rroutes.render(KEY, plan, blueprint="shop")
    text = json.dumps(objs)
    for denied in BP.production_namespaces:
        assert f".{denied}.svc" not in text
        assert f"{denied}/" not in text
    kinds = {o["kind"] for o in objs}
    assert kinds == {"VirtualService", "DestinationRule", "Sidecar"}
    vs = {o["metadata"]["name"] for o in objs if o["kind"] == "VirtualService"}
    assert "to-payments" in vs  # shared service, routed to its stable deployment
    sidecar = next(o for o in objs if o["kind"] == "Sidecar")
    assert sidecar["spec"]["outboundTrafficPolicy"]["mode"] == "REGISTRY_ONLY"


def test_clone_volume_uses_the_snapshot_in_the_pool_namespace() -> None:
    pvc = rsteps.clone_pvc(
        KEY, namespace=NS, attempt=1, generation=3, snapshot="golden-3", blueprint="shop",
        now=NOW, cfg=ShellConfig(),
    )  # fmt: skip
    assert pvc["metadata"]["namespace"] == names.POOL_NAMESPACE
    assert pvc["spec"]["dataSource"]["name"] == "golden-3"
    assert pvc["metadata"]["labels"][names.CLAIMED_BY] == NS
