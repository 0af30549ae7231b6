"""The database-volume writes of a plan: claim a warm slot, clone, release at teardown.

A mixin of `application.Application`. Claiming a slot hands its volume over
to the PR namespace (see `render_handover`): lock the pool PVC (its
resourceVersion makes a double claim fail with 409), keep and label its
PersistentVolume, re-point the volume's `claimRef` to the PR namespace's PVC,
delete the pool PVC, create the PR PVC pre-bound to the volume. Each step is
idempotent and a hand-over interrupted by a crash is resumed (found by the
volume's label) the next time the core asks for a claim, so no volume is
lost or claimed twice. It decides nothing.
"""

from __future__ import annotations

from typing import Any

from controller.core.types import EnvKey
from controller.k8s import kube, names
from controller.k8s import render_handover as rhand
from controller.k8s import render_steps as rsteps
from controller.k8s.errors import ConflictError
from controller.k8s.records import labels_of, meta_of
from controller.k8s.step_writes import StepWrites

Obj = dict[str, Any]
# one field manager per apply body: one body applied after another by the same
# manager would remove the fields the first set (labels, reclaim policy)
HOLD, POINT, RELEASE = "mayfly-hold", "mayfly-point", "mayfly-release"


class VolumeWrites(StepWrites):
    def _own_volumes(self, key: EnvKey) -> list[Obj]:
        """The environment's PVCs: clones and locked slots in the pool, its database PVC."""
        vols = self.view.volumes.get(self._ns(key), [])
        return [v for v in vols if labels_of(v).get(names.CLAIMED_BY)]

    def _held_volumes(self, key: EnvKey) -> list[Obj]:
        """PersistentVolumes handed over (or being handed over) to the environment."""
        items, _ = self.api.list(kube.PV, selector=f"{names.ENV}={names.env_name(key)}")
        return [v for v in items if not meta_of(v).get("deletionTimestamp")]

    def _claim(self, key: EnvKey, slot_id: str) -> None:
        pool = self.cfg.pool_namespace
        locked = [
            v
            for v in self._own_volumes(key)
            if meta_of(v).get("namespace") == pool and labels_of(v).get(names.COMPONENT) == "slot"
        ]
        held = self._held_volumes(key)
        if held:  # resume an interrupted hand-over
            volume = held[0]
            slot = labels_of(volume).get(names.SLOT, slot_id)
        else:
            if not locked:
                free = self.view.slots.get(slot_id)
                if free is None:
                    raise ConflictError(
                        409, "SlotGone", f"slot {slot_id} vanished before the claim"
                    )
                claim = rsteps.claim_patch(free, key, now=self.now)
                locked = [self.api.apply(claim, manager="mayfly-claim")]
            slot = meta_of(locked[0])["name"]
            pv_name = (locked[0].get("spec") or {}).get("volumeName")
            if not pv_name:
                raise ConflictError(409, "SlotUnbound", f"slot {slot} has no volume yet")
            volume = self.api.apply(
                rhand.hold_volume(pv_name, key, slot=slot, blueprint=self.bp.name),
                manager=HOLD,
            )
        ns = self._ns(key)
        volume = self.api.apply(
            rhand.point_volume(meta_of(volume)["name"], namespace=ns), manager=POINT
        )
        for vol in locked:
            self.api.delete(kube.PVC, meta_of(vol)["name"], pool)
        self.api.apply(
            rhand.database_pvc(
                key,
                namespace=ns,
                slot=slot,
                volume=volume,
                blueprint=self.bp.name,
                started=self.now,
            )
        )

    def _drop_volumes(self, key: EnvKey) -> None:
        """Delete the environment's PVCs; handed-over volumes go with them (reclaim: Delete)."""
        for volume in self._held_volumes(key):
            name = meta_of(volume)["name"]
            self.api.apply(rhand.release_volume(name), manager=RELEASE)
            if (volume.get("status") or {}).get("phase") != "Bound":
                self.api.delete(kube.PV, name)  # no claim left to release it
        for vol in self._own_volumes(key):
            md = meta_of(vol)
            self.api.delete(kube.PVC, md["name"], md.get("namespace"))

    def _clone(self, key: EnvKey, generation: int, attempt: int) -> None:
        self._drop_volumes(key)
        self.api.apply(
            rsteps.clone_pvc(
                key,
                namespace=self._ns(key),
                attempt=attempt,
                generation=generation,
                snapshot=self.view.golden.get(generation),
                blueprint=self.bp.name,
                now=self.now,
                cfg=self.cfg,
            )
        )
