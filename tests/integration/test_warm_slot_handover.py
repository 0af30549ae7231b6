"""A claimed warm slot or a clone becomes the PR namespace's database volume (cluster tier).

The slot's (or the bound clone's) PersistentVolume is handed over: the PR
namespace's PVC is bound to it, the pool PVC is gone, the pool is
replenished, and after `closed` nothing of the environment is left (PVC,
volume, namespace). A hand-over interrupted at any of its writes (a crash)
is completed by the next controller.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from controller.core.types import EnvKey
from controller.k8s import binder, kube, names
from controller.k8s import render_handover as rhand
from controller.k8s import render_namespace as rns
from controller.k8s import render_steps as rsteps
from controller.k8s.volume_writes import HOLD, POINT
from tests.k8s.harness import Scenario, eventually
from tests.k8s.plane import mayfly_cluster_fixture  # noqa: F401

pytestmark = pytest.mark.cluster

SHA = "5d" * 20


def _slots(s: Scenario) -> list[dict[str, Any]]:
    items, _ = s.api.list(kube.PVC, namespace=s.pool, selector=f"{names.COMPONENT}=slot")
    return [o for o in items if (o.get("status") or {}).get("phase") == "Bound"]


def _free_slot(s: Scenario) -> dict[str, Any] | None:
    free = [o for o in _slots(s) if names.CLAIMED_BY not in o["metadata"]["labels"]]
    return free[0] if free else None


def _assert_handed_over(s: Scenario, slot: dict[str, Any]) -> str:
    ns, pv_name = s.env_ns(1), slot["spec"]["volumeName"]
    pvc = s.api.get(kube.PVC, names.DB_VOLUME, ns) or {}
    assert pvc["status"]["phase"] == "Bound", (pvc, s.api.get(kube.PV, pv_name))
    assert pvc["spec"]["volumeName"] == pv_name
    assert pvc["metadata"]["annotations"][names.DETAIL] == f"slot:{slot['metadata']['name']}"
    pv = s.api.get(kube.PV, pv_name) or {}
    ref = pv["spec"]["claimRef"]
    assert (ref["namespace"], ref["name"], ref["uid"]) == (
        ns,
        names.DB_VOLUME,
        pvc["metadata"]["uid"],
    )
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    left = s.api.get(kube.PVC, slot["metadata"]["name"], s.pool)  # or a new slot of that name
    assert left is None or (
        names.CLAIMED_BY not in left["metadata"]["labels"]
        and left["spec"].get("volumeName") != pv_name
    ), left
    return str(pv_name)


def _close_and_check_gone(s: Scenario, url: str, pv_name: str) -> None:
    assert s.send(url, "closed", 1, SHA).status_code == 200
    eventually(
        "namespace gone", lambda: s.api.get(kube.NAMESPACE, s.env_ns(1)) is None, timeout=120
    )
    eventually("Gone", lambda: s.phase(1) == "Gone")
    assert s.volumes(1) == []
    eventually("volume deleted", lambda: s.api.get(kube.PV, pv_name) is None, timeout=60)


def test_claimed_slot_becomes_the_pr_database_volume(mayfly_cluster: Any, tmp_path: Any) -> None:
    s = Scenario(mayfly_cluster, tmp_path, bp_overrides={"pool": {"defaultSize": 1}})
    with s.controller(), s.webhook() as url:
        slot = eventually("a ready slot", lambda: _free_slot(s))
        assert s.send(url, "opened", 1, SHA).status_code == 200
        eventually("Ready", lambda: s.phase(1) == "Ready")
        pv_name = _assert_handed_over(s, slot)
        phases = [t["phase"] for t in (s.pe(1) or {})["status"]["phaseTimestamps"]]
        assert "Cloning" not in phases
        fresh = eventually("pool replenished", lambda: _free_slot(s))
        assert fresh["spec"]["volumeName"] != pv_name
        _close_and_check_gone(s, url, pv_name)


#: how far the dead controller got: each stage adds the next write of the hand-over
STAGES = ("held", "pr-pvc", "pointed", "pool-pvc-deleted")


@pytest.mark.parametrize("stage", STAGES)
def test_interrupted_handover_is_completed(mayfly_cluster: Any, tmp_path: Any, stage: str) -> None:
    """A controller died half-way through a slot's hand-over (after locking the slot and
    keeping its volume, after creating the PR PVC, after re-pointing the volume, after
    deleting the pool PVC: all before the last write, the mark). The next one sees no
    volume record, resumes the hand-over whether the core then claims a slot or clones
    (here the only slot is locked, so it clones), and nothing is left after `closed`."""
    s = Scenario(mayfly_cluster, tmp_path, bp_overrides={"pool": {"defaultSize": 1}})
    with s.controller():
        slot = eventually("a ready slot", lambda: _free_slot(s))
    key, ns = EnvKey(s.repo, 1), s.env_ns(1)
    with s.webhook() as url:  # the PR is opened while no controller runs
        assert s.send(url, "opened", 1, SHA).status_code == 200
    # what the dead controller managed to write
    s.api.apply(rsteps.claim_patch(slot, key, now=datetime.now(UTC)), manager="mayfly-claim")
    pv_name, slot_name = slot["spec"]["volumeName"], slot["metadata"]["name"]
    pv = s.api.apply(rhand.hold_volume(pv_name, key, slot=slot_name, blueprint=s.blueprint),
                     manager=HOLD)  # fmt: skip
    if stage != "held":
        s.api.apply(rns.namespace(key, ns, team="web", owner="someone", blueprint=s.blueprint))
        now = datetime.now(UTC)
        body = rhand.database_pvc(key, namespace=ns, slot=slot_name, volume=pv,
                                  blueprint=s.blueprint, started=now)  # fmt: skip
        claim = s.api.apply(body)
    if stage in ("pointed", "pool-pvc-deleted"):
        uid = claim["metadata"]["uid"]
        s.api.apply(rhand.point_volume(pv_name, namespace=ns, uid=uid), manager=POINT)
    if stage == "pool-pvc-deleted":
        s.api.delete(kube.PVC, slot_name, s.pool)
    with s.controller(), s.webhook() as url:
        eventually("Ready", lambda: s.phase(1) == "Ready")
        assert _assert_handed_over(s, slot) == pv_name
        pvc = s.api.get(kube.PVC, names.DB_VOLUME, ns) or {}
        assert pvc["metadata"]["annotations"][names.HANDED_OVER] == pv_name
        assert [v["metadata"]["name"] for v in s.volumes(1)] == [names.DB_VOLUME]
        _close_and_check_gone(s, url, pv_name)


def test_a_clone_becomes_the_pr_database_volume(mayfly_cluster: Any, tmp_path: Any) -> None:
    """No warm slot (pool size 0): the clone is made in the pool namespace (its snapshot must
    be there) and its volume handed over once bound; the record counts only then."""
    s = Scenario(mayfly_cluster, tmp_path)
    assert s.bp_overrides == {}  # the harness blueprint has no pool
    ns = s.env_ns(1)
    with s.controller(), s.webhook() as url:
        assert s.send(url, "opened", 1, SHA).status_code == 200
        eventually("Ready", lambda: s.phase(1) == "Ready")
        pvc = s.api.get(kube.PVC, names.DB_VOLUME, ns) or {}
        assert pvc["status"]["phase"] == "Bound"
        assert pvc["metadata"]["annotations"][names.DETAIL] == "clone"
        pv = s.api.get(kube.PV, pvc["spec"]["volumeName"]) or {}
        ref = pv["spec"]["claimRef"]
        assert (ref["namespace"], ref["name"], ref["uid"]) == (
            ns,
            names.DB_VOLUME,
            pvc["metadata"]["uid"],
        )
        assert pvc["metadata"]["annotations"][names.HANDED_OVER] == pv["metadata"]["name"]
        clone = names.clone_name(ns, 1)  # the PV was provisioned for the clone
        assert pv["metadata"]["annotations"][names.DETAIL] == f"{s.pool}/{clone}"
        assert names.SLOT not in pv["metadata"]["labels"]
        eventually("no PVC left in the pool", lambda: not s.api.list(kube.PVC, namespace=s.pool)[0])
        assert [v["metadata"]["name"] for v in s.volumes(1)] == [names.DB_VOLUME]
        phases = [t["phase"] for t in (s.pe(1) or {})["status"]["phaseTimestamps"]]
        assert "Cloning" in phases
        _close_and_check_gone(s, url, pv["metadata"]["name"])


def test_interrupted_clone_handover_is_resumed(mayfly_cluster: Any, tmp_path: Any) -> None:
    """A controller died after its clone was bound and its volume kept: the next one
    finishes handing that volume over (no second clone, no pool PVC left)."""
    s = Scenario(mayfly_cluster, tmp_path)
    key, ns = EnvKey(s.repo, 1), s.env_ns(1)
    with s.controller():  # sets up its namespaces
        eventually("controller started", lambda: s.api.get(kube.NAMESPACE, s.pool))
    with s.webhook() as url:  # the PR is opened while no controller runs
        assert s.send(url, "opened", 1, SHA).status_code == 200
    # what the dead controller managed to write: the clone (bound) and the kept volume
    clone = rsteps.clone_pvc(key, namespace=ns, attempt=1, generation=1, snapshot=None,
                             blueprint=s.blueprint, now=datetime.now(UTC),
                             cfg=s.config())  # fmt: skip
    s.api.apply(clone)
    name = clone["metadata"]["name"]
    binder.bind_pending(s.api, s.pool)

    def bound() -> str | None:
        pvc = s.api.get(kube.PVC, name, s.pool) or {}
        return pvc["spec"].get("volumeName") if pvc["status"].get("phase") == "Bound" else None

    pv_name = eventually("clone bound", bound)
    s.api.apply(rhand.hold_volume(pv_name, key, blueprint=s.blueprint), manager=HOLD)
    with s.controller(), s.webhook() as url:
        eventually("Ready", lambda: s.phase(1) == "Ready")
        pvc = s.api.get(kube.PVC, names.DB_VOLUME, ns) or {}
        assert (pvc["status"]["phase"], pvc["spec"]["volumeName"]) == ("Bound", pv_name)
        eventually("no PVC left in the pool", lambda: not s.api.list(kube.PVC, namespace=s.pool)[0])
        _close_and_check_gone(s, url, pv_name)
