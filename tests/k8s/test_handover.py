"""The warm-slot hand-over: its apply bodies, and how `observe.build` reads each stage (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from controller.blueprint_file import read_blueprint
from controller.core.schema import encode
from controller.core.types import EnvKey, SlotState, Step, StepStatus
from controller.k8s import names
from controller.k8s import render_handover as rhand
from controller.k8s import render_namespace as rns
from controller.k8s import render_steps as rsteps
from controller.k8s.config import ShellConfig
from controller.k8s.observe import Snapshot, build

BP = read_blueprint(Path(__file__).parents[2] / "examples" / "blueprint.yaml")
KEY = EnvKey("acme/shop", 9)
NS = names.env_name(KEY)
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
PV: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "PersistentVolume",
    "metadata": {"name": "pv-1"},
    "spec": {
        "capacity": {"storage": "10Gi"},
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast",
        "volumeMode": "Filesystem",
    },
}


def test_the_pr_pvc_is_pre_bound_to_the_slot_volume() -> None:
    pvc = rhand.database_pvc(
        KEY, namespace=NS, slot="shop-g1-0", volume=PV, blueprint="shop", started=NOW
    )
    assert (pvc["metadata"]["namespace"], pvc["metadata"]["name"]) == (NS, names.DB_VOLUME)
    assert pvc["spec"]["volumeName"] == "pv-1"
    assert pvc["spec"]["storageClassName"] == "fast"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert pvc["metadata"]["annotations"][names.DETAIL] == "slot:shop-g1-0"
    assert pvc["metadata"]["labels"][names.CLAIMED_BY] == NS


def test_no_default_storage_class_is_filled_in() -> None:
    bare = {**PV, "spec": {"capacity": {"storage": "1Gi"}}}
    pvc = rhand.database_pvc(KEY, namespace=NS, slot="s", volume=bare, blueprint="b", started=NOW)
    assert pvc["spec"]["storageClassName"] == ""


def test_the_volume_is_kept_then_re_pointed_without_the_old_uid() -> None:
    hold = rhand.hold_volume("pv-1", KEY, slot="shop-g1-0", blueprint="shop")
    assert hold["spec"] == {"persistentVolumeReclaimPolicy": "Retain"}
    assert hold["metadata"]["labels"][names.ENV] == NS
    ref = rhand.point_volume("pv-1", namespace=NS)["spec"]["claimRef"]
    assert (ref["namespace"], ref["name"], ref["uid"]) == (NS, names.DB_VOLUME, "")
    assert rhand.release_volume("pv-1")["spec"] == {"persistentVolumeReclaimPolicy": "Delete"}


def test_the_volume_points_to_the_pr_claim_by_uid_then_the_claim_is_marked() -> None:
    ref = rhand.point_volume("pv-1", namespace=NS, uid="u-1")["spec"]["claimRef"]
    assert (ref["namespace"], ref["name"], ref["uid"]) == (NS, names.DB_VOLUME, "u-1")
    mark = rhand.handed_over(NS, "pv-1")
    assert (mark["kind"], mark["metadata"]["name"], mark["metadata"]["namespace"]) == (
        "PersistentVolumeClaim", names.DB_VOLUME, NS,
    )  # fmt: skip
    assert mark["metadata"]["annotations"] == {names.HANDED_OVER: "pv-1"}
    assert "spec" not in mark  # an annotation only: never a second opinion on the spec


def _slot(*, locked: bool) -> dict[str, Any]:
    slot = rsteps.slot_pvc("shop-g1-0", generation=1, snapshot=None, blueprint="shop",
                           cfg=ShellConfig())  # fmt: skip
    slot["metadata"].update(creationTimestamp=encode(NOW), resourceVersion="7")
    slot["status"] = {"phase": "Bound"}
    if locked:
        patch = rsteps.claim_patch(slot, KEY, now=NOW)["metadata"]
        slot["metadata"]["labels"].update(patch["labels"])
        slot["metadata"]["annotations"] = patch["annotations"]
    return slot


def _marked(pvc: dict[str, Any], marked: bool) -> dict[str, Any]:
    """The PR PVC, with the hand-over's last write (the mark) or before it."""
    if marked:
        pvc["metadata"]["annotations"].update(
            rhand.handed_over(NS, "pv-1")["metadata"]["annotations"]
        )
    return pvc


def _database(phase: str, *, marked: bool = True) -> dict[str, Any]:
    pvc = rhand.database_pvc(KEY, namespace=NS, slot="shop-g1-0", volume=PV,
                             blueprint="shop", started=NOW)  # fmt: skip
    pvc["metadata"]["creationTimestamp"] = encode(NOW)
    pvc["status"] = {"phase": phase}
    return _marked(pvc, marked)


@pytest.mark.parametrize(
    ("volumes", "record", "slot_state"),
    [
        pytest.param([_slot(locked=True)], None, SlotState.CLAIMED, id="locked-no-record-yet"),
        pytest.param(
            [_slot(locked=True), _database("Pending", marked=False)],
            None,
            SlotState.CLAIMED,
            id="pr-pvc-not-marked-yet",
        ),
        pytest.param(
            [_slot(locked=True), _database("Bound", marked=False)],
            None,
            SlotState.CLAIMED,
            id="re-pointed-pool-pvc-left",
        ),
        pytest.param(
            [_database("Bound", marked=False)], None, None, id="pool-pvc-gone-not-marked-yet"
        ),
        pytest.param(
            [_slot(locked=True), _database("Pending")],
            StepStatus.RUNNING,
            SlotState.CLAIMED,
            id="pr-pvc-pending",
        ),
        pytest.param([_database("Bound")], StepStatus.SUCCEEDED, None, id="handed-over"),
    ],
)
def test_observe_reads_each_stage(
    volumes: list[dict[str, Any]], record: StepStatus | None, slot_state: SlotState | None
) -> None:
    ns = rns.namespace(KEY, NS, team="checkout", owner="someone", blueprint="shop")
    view = build(BP, Snapshot(namespaces=[ns], volumes=volumes))
    (env,) = view.observed.environments
    assert env.slot_id is not None  # the environment holds a volume: teardown releases it
    got = env.step(Step.VOLUME)
    assert (got.status if got else None) is record
    if got is not None:
        assert got.detail == "slot:shop-g1-0"
    states = [s.state for s in view.observed.slots]
    assert states == ([slot_state] if slot_state else [])


def _clone(phase: str, attempt: int = 1) -> dict[str, Any]:
    pvc = rsteps.clone_pvc(KEY, namespace=NS, attempt=attempt, generation=1, snapshot="golden-1",
                           blueprint="shop", now=NOW, cfg=ShellConfig())  # fmt: skip
    pvc["status"] = {"phase": phase}
    return pvc


def _cloned_database(phase: str, *, marked: bool = True) -> dict[str, Any]:
    pvc = rhand.database_pvc(KEY, namespace=NS, slot=None, volume=PV, blueprint="shop",
                             started=NOW, attempt=2)  # fmt: skip
    pvc["status"] = {"phase": phase}
    return _marked(pvc, marked)


@pytest.mark.parametrize(
    ("volumes", "record"),
    [
        pytest.param([_clone("Pending")], StepStatus.RUNNING, id="clone-pending"),
        pytest.param([_clone("Bound")], None, id="clone-bound-not-handed-yet"),
        pytest.param([_clone("Lost")], None, id="clone-re-pointed"),
        pytest.param(
            [_clone("Bound"), _cloned_database("Pending", marked=False)],
            None,
            id="pr-pvc-not-marked-yet",
        ),
        pytest.param(
            [_clone("Lost"), _cloned_database("Pending")], StepStatus.RUNNING, id="pr-pvc-pending"
        ),
        pytest.param([_cloned_database("Bound")], StepStatus.SUCCEEDED, id="handed-over"),
    ],
)
def test_observe_reads_each_stage_of_a_clone(
    volumes: list[dict[str, Any]], record: StepStatus | None
) -> None:
    """A clone counts only once the PR namespace's PVC is bound to its volume."""
    ns = rns.namespace(KEY, NS, team="checkout", owner="someone", blueprint="shop")
    (env,) = build(BP, Snapshot(namespaces=[ns], volumes=volumes)).observed.environments
    assert env.slot_id is not None  # teardown still has something to release
    got = env.step(Step.VOLUME)
    assert (got.status if got else None) is record
    if got is not None:
        assert got.detail == "clone"


def test_a_clone_volume_is_held_without_a_slot_and_remembers_where_it_came_from() -> None:
    hold = rhand.hold_volume("pv-1", KEY, blueprint="shop", attempt=2, source="pool/pr-9-db-2")
    assert names.SLOT not in hold["metadata"]["labels"]
    assert hold["metadata"]["labels"][names.ATTEMPT] == "2"
    assert hold["metadata"]["annotations"][names.DETAIL] == "pool/pr-9-db-2"
    pvc = _cloned_database("Pending")
    assert pvc["metadata"]["annotations"][names.DETAIL] == "clone"
    assert pvc["metadata"]["labels"][names.ATTEMPT] == "2"
