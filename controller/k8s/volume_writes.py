"""The database-volume writes of a plan: claim a warm slot, clone, release at teardown.

A mixin of `application.Application`. Both ways end the same: the pool PVC's
volume is handed over to the PR namespace (see `render_handover`). Claiming a
slot locks its pool PVC (its resourceVersion makes a double claim fail with
409); a clone is created in the pool namespace (its snapshot `dataSource` must
be there) and handed over once Bound (`observe` gives no volume record for it
then, so the core asks again). The hand-over keeps and labels the
PersistentVolume, creates the PR PVC pre-bound to it, re-points the volume's
`claimRef` to that PVC (with its uid), deletes the environment's pool PVCs and
marks the PR PVC handed over: in that order the PV binder binds at once (see
`render_handover`). Each step is idempotent and a hand-over interrupted by a
crash is resumed (found by the volume's label) the next time the core asks for
a claim or a clone, so no volume is lost or claimed twice. It decides nothing.
"""

from __future__ import annotations

from typing import Any

from controller.core.types import EnvKey
from controller.k8s import kube, names
from controller.k8s import render_handover as rhand
from controller.k8s import render_steps as rsteps
from controller.k8s.errors import ConflictError
from controller.k8s.records import handed_over, labels_of, meta_of
from controller.k8s.step_writes import StepWrites

Obj = dict[str, Any]
# one field manager per apply body: one body applied after another by the same
# manager would remove the fields the first set (labels, reclaim policy)
HOLD, POINT, RELEASE = "mayfly-hold", "mayfly-point", "mayfly-release"
HANDED = "mayfly-handed-over"


class VolumeWrites(StepWrites):
    def _own_volumes(self, key: EnvKey) -> list[Obj]:
        """The environment's PVCs: clones and locked slots in the pool, its database PVC."""
        vols = self.view.volumes.get(self._ns(key), [])
        return [v for v in vols if labels_of(v).get(names.CLAIMED_BY)]

    def _held_volumes(self, key: EnvKey) -> list[Obj]:
        """PersistentVolumes handed over (or being handed over) to the environment."""
        items, _ = self.api.list(kube.PV, selector=f"{names.ENV}={names.env_name(key)}")
        return [v for v in items if not meta_of(v).get("deletionTimestamp")]

    def _pool_volumes(self, key: EnvKey) -> list[Obj]:
        """The environment's PVCs still in the pool namespace: locked slots and clones."""
        pool = self.cfg.pool_namespace
        return [v for v in self._own_volumes(key) if meta_of(v).get("namespace") == pool]

    def _resume(self, key: EnvKey) -> bool:
        """Hand over the volume of an interrupted hand-over, a locked slot or a bound clone.

        False (nothing written) when there is none.
        """
        pool = self._pool_volumes(key)
        held = [
            v
            for v in self._held_volumes(key)
            if (v.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Retain"
        ]
        ready = [
            v
            for v in pool
            if labels_of(v).get(names.COMPONENT) == "slot"
            or (v.get("status") or {}).get("phase") == "Bound"
        ]
        if not held and not ready:
            return False
        self._hand_over(key, held[0] if held else self._hold(key, ready[0]), pool)
        return True

    def _hold(self, key: EnvKey, pvc: Obj) -> Obj:
        """Keep the volume of a pool PVC (a locked slot or a bound clone) for the environment."""
        md, labels = meta_of(pvc), labels_of(pvc)
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name:
            raise ConflictError(409, "SlotUnbound", f"{md['name']} has no volume yet")
        slot = md["name"] if labels.get(names.COMPONENT) == "slot" else None
        body = rhand.hold_volume(
            pv_name,
            key,
            blueprint=self.bp.name,
            slot=slot,
            attempt=int(labels.get(names.ATTEMPT, "1")),
            source=f"{md.get('namespace')}/{md['name']}",
        )
        return self.api.apply(body, manager=HOLD)

    def _hand_over(self, key: EnvKey, volume: Obj, pool: list[Obj]) -> None:
        """Give the held volume to the PR namespace's PVC; the pool PVCs go."""
        ns, pv_name = self._ns(key), meta_of(volume)["name"]
        labels = labels_of(volume)
        claim = self.api.apply(
            rhand.database_pvc(
                key,
                namespace=ns,
                slot=labels.get(names.SLOT),
                volume=volume,
                blueprint=self.bp.name,
                started=self.now,
                attempt=int(labels.get(names.ATTEMPT, "1")),
            )
        )
        uid = meta_of(claim)["uid"]
        self.api.apply(rhand.point_volume(pv_name, namespace=ns, uid=uid), manager=POINT)
        for vol in pool:
            self.api.delete(kube.PVC, meta_of(vol)["name"], self.cfg.pool_namespace)
        self.api.apply(rhand.handed_over(ns, pv_name), manager=HANDED)

    def _claim(self, key: EnvKey, slot_id: str) -> None:
        if self._resume(key):
            return
        free = self.view.slots.get(slot_id)
        if free is None:
            raise ConflictError(409, "SlotGone", f"slot {slot_id} vanished before the claim")
        locked = self.api.apply(rsteps.claim_patch(free, key, now=self.now), manager="mayfly-claim")
        self._hand_over(key, self._hold(key, locked), [*self._pool_volumes(key), locked])

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
        """Create a clone in the pool namespace, or hand over one that is bound.

        With a PR PVC marked handed over, the core is retrying a failed volume: start afresh.
        """
        handed = any(handed_over(v) for v in self._own_volumes(key))
        if not handed and self._resume(key):
            return
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
