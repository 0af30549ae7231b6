"""`observe.build`: listed objects -> the core's observed world (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from controller.blueprint_file import read_blueprint
from controller.core.schema import encode
from controller.core.types import EnvKey, PullRequest, Reason, SlotState, Step, StepStatus
from controller.k8s import names, pe
from controller.k8s import render_handover as rhand
from controller.k8s import render_namespace as rns
from controller.k8s import render_steps as rsteps
from controller.k8s.config import Quota, ShellConfig
from controller.k8s.observe import Snapshot, _Decoded, build

BP = read_blueprint(Path(__file__).parents[2] / "examples" / "blueprint.yaml")
KEY = EnvKey("acme/shop", 9)
NS = names.env_name(KEY)
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
SHA = "d" * 40
STAMP = encode(NOW)


def _pe(**meta: object) -> dict[str, object]:
    pr = PullRequest(
        repository="acme/shop", number=9, head_sha=SHA, base_sha="e" * 40, team="checkout",
        author="someone", opened_at=NOW, updated_at=NOW,
    )  # fmt: skip
    md = {"name": NS, "namespace": "mayfly-system", "creationTimestamp": STAMP, **meta}
    return {"apiVersion": names.API_VERSION, "kind": names.PE_KIND, "metadata": md,
            "spec": pe.spec_of(pr)}  # fmt: skip


def _job(step: Step, condition: str | None) -> dict[str, object]:
    job = rsteps.job(
        KEY, step, namespace=NS, sha=SHA, databases=("orders",), attempt=1, blueprint="shop",
        now=NOW, cfg=ShellConfig(),
    )  # fmt: skip
    if condition:
        job["status"] = {"conditions": [
            {"type": condition, "status": "True", "reason": "DeadlineExceeded",
             "lastTransitionTime": STAMP}
        ]}  # fmt: skip
    return job


def _framed_namespace() -> dict[str, Any]:
    """A PR namespace whose frame (quota, limits, egress policy) is all written."""
    ns = rns.namespace(KEY, NS, team="checkout", owner="someone", blueprint="shop")
    ns["metadata"]["annotations"].update(rns.framed(NS)["metadata"]["annotations"])
    return ns


def test_a_provisioning_environment() -> None:
    ns = _framed_namespace()
    volume = rhand.database_pvc(  # a clone handed over to the PR namespace
        KEY, namespace=NS, slot=None, volume={"metadata": {"name": "pv-1"}, "spec": {}},
        blueprint="shop", started=NOW,
    )  # fmt: skip
    volume["metadata"]["annotations"].update(  # the hand-over's last write
        rhand.handed_over(NS, "pv-1")["metadata"]["annotations"]
    )
    volume["status"] = {"phase": "Bound"}
    snap = Snapshot(
        pes=[_pe(finalizers=[names.FINALIZER], labels={names.ADMITTED: "true"})],
        namespaces=[ns],
        volumes=[volume],
        jobs=[_job(Step.MIGRATIONS, "Complete"), _job(Step.MASKING, "Failed")],
    )
    view = build(BP, snap)
    (env,) = view.observed.environments
    assert (env.finalizer, env.admitted, env.namespace_exists) == (True, True, True)
    assert env.deletion_requested is False
    assert env.slot_id == volume["metadata"]["name"]
    records = {r.step: r for r in env.steps}
    assert records[Step.VOLUME].status is StepStatus.SUCCEEDED
    assert records[Step.MIGRATIONS].status is StepStatus.SUCCEEDED
    masking = records[Step.MASKING]
    assert (masking.status, masking.reason, masking.detail) == (
        StepStatus.FAILED, Reason.MASKING_FAILED, "DeadlineExceeded",
    )  # fmt: skip
    assert env.db_access_sha is None
    assert view.desired.prs[0].key == KEY


def test_orphans_and_pool_slots() -> None:
    ns = rns.namespace(KEY, NS, team="checkout", owner="someone", blueprint="shop")
    slot = rsteps.slot_pvc("shop-g1-0", generation=1, snapshot=None, blueprint="shop",
                           cfg=ShellConfig())  # fmt: skip
    slot["metadata"]["creationTimestamp"] = STAMP
    slot["status"] = {"phase": "Bound"}
    view = build(BP, Snapshot(namespaces=[ns], volumes=[slot]))
    (env,) = view.observed.environments
    assert env.deletion_requested is True  # no PreviewEnvironment: an orphan to sweep
    assert env.namespace_exists is True
    (free,) = view.observed.slots
    assert free.state is SlotState.READY


@pytest.mark.parametrize(
    ("framed", "pe_meta", "state", "terminating", "exists"),
    [
        pytest.param(True, {}, "open", False, True, id="framed"),
        pytest.param(False, {}, "open", False, False, id="frame-cut-short-written-again"),
        pytest.param(False, {}, "closed", False, True, id="closed-torn-down-all-the-same"),
        pytest.param(False, {"deletionTimestamp": STAMP}, "open", False, True, id="pe-deleted"),
        pytest.param(False, {}, "open", True, True, id="terminating"),
        pytest.param(False, None, "open", False, True, id="orphan"),
    ],
)
def test_a_namespace_counts_once_its_frame_is_written_unless_on_the_way_out(
    framed: bool,
    pe_meta: dict[str, object] | None,
    state: str,
    terminating: bool,
    exists: bool,
) -> None:
    """A controller that died between the namespace and its quota, limits and egress policy
    leaves a namespace without the `framed` mark: the core must ask for the frame again,
    unless the environment is being torn down (then the namespace must still be deleted)."""
    ns = (
        _framed_namespace()
        if framed
        else rns.namespace(KEY, NS, team="checkout", owner="someone", blueprint="shop")
    )
    if terminating:
        ns["status"] = {"phase": "Terminating"}
    pes = []
    if pe_meta is not None:
        obj = _pe(**pe_meta)
        obj["spec"]["state"] = state
        pes.append(obj)
    (env,) = build(BP, Snapshot(pes=pes, namespaces=[ns])).observed.environments
    assert env.namespace_exists is exists
    assert env.has_resources is exists


def test_quota_is_rendered_with_defaults() -> None:
    quota = rns.resource_quota(KEY, NS, Quota(), blueprint="shop")
    assert quota["spec"]["hard"]["pods"] == "60"


def _version(obj: dict[str, Any], rv: str, **spec: object) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": rv},
            "spec": {**obj["spec"], **spec}}  # fmt: skip


def test_a_spec_and_status_are_decoded_once_per_resource_version() -> None:
    decoded = _Decoded(limit=4)
    first: dict[str, Any] = _pe(uid="u1", resourceVersion="10")
    first["status"] = {"phase": "Cloning", "phaseTimestamps": [{"phase": "Cloning", "time": STAMP}]}
    again = _version(first, "10")  # another dict of the same version: from the cache, the same
    assert decoded.pull_request(again) is decoded.pull_request(first)
    assert decoded.status(again) is decoded.status(first)
    status = decoded.status(first)
    assert status is not None
    assert status.phase.value == "Cloning"
    newer = _version(first, "11", headSha="f" * 40)
    assert decoded.pull_request(newer).head_sha == "f" * 40  # a new version is decoded anew
    assert decoded.pull_request(first).head_sha == SHA
    for rv in range(20, 40):  # bounded: old versions are forgotten, answers stay right
        assert decoded.pull_request(_version(first, str(rv))).head_sha == SHA
    assert len(decoded._specs) <= 4
    assert decoded.pull_request(_pe()).head_sha == SHA  # no version: decoded, never remembered
