"""A faithful in-memory cluster: applies actions, exposes asynchronous steps as operations.

It honours the same contract as the Kubernetes shell: an action's effect is
observable as soon as it is applied (a started step is Running), and
asynchronous work (clones, Jobs, deployments, route propagation, namespace
deletion, pool warming) completes only when the owner of the cluster says so,
through `complete`, `fail`, or by leaving it to hang. Tests drive it directly;
the simulation completes operations after sampled latencies. It makes no
decisions: anything it is asked to do that a real cluster would refuse (a
slot claimed twice, a drained slot that is claimed) raises `ClusterError`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import assert_never

from controller.core.actions import (
    Action,
    AddFinalizer,
    Admit,
    ApplyRoutes,
    ClaimWarmSlot,
    CloneVolume,
    CreateNamespace,
    DeployServices,
    DrainSlots,
    ReleaseQuota,
    RemoveFinalizer,
    ReplenishPool,
    ReportStatus,
    RevokeDatabaseAccess,
    RunMasking,
    RunMigrations,
    TearDown,
)
from controller.core.snapshot import Snapshots
from controller.core.types import (
    EnvKey,
    EnvStatus,
    ObservedEnvironment,
    ObservedIndex,
    ObservedState,
    Reason,
    Slot,
    SlotState,
    Step,
    StepRecord,
    StepStatus,
)


class ClusterError(RuntimeError):
    """The cluster refused an action: the plan asked for something impossible."""


class OpKind(StrEnum):
    STEP = "step"
    TEARDOWN = "teardown"
    WARM = "warm"


@dataclass(frozen=True, slots=True)
class Op:
    """One piece of asynchronous work in flight."""

    id: int
    kind: OpKind
    key: EnvKey | None = None
    step: Step | None = None
    slot_id: str | None = None
    sha: str = ""
    attempt: int = 1
    databases: tuple[str, ...] = ()


@dataclass(slots=True)
class _Env:
    key: EnvKey
    team: str = ""
    finalizer: bool = False
    admitted: bool = False
    deletion_requested: bool = False
    namespace: str = ""
    namespace_exists: bool = False
    terminating: bool = False
    slot_id: str | None = None
    steps: dict[Step, StepRecord] = field(default_factory=dict)
    db_access_sha: str | None = None
    status: EnvStatus | None = None
    first_seen: datetime | None = None


class InMemoryCluster:
    """Mutable cluster state; `observe()` gives the immutable view reconcile reads."""

    def __init__(self, *, now: datetime | None = None, golden_generation: int = 1) -> None:
        self.now = now or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self.golden_generation = golden_generation
        self._envs: dict[EnvKey, _Env] = {}
        self._slots: dict[str, Slot] = {}
        self._ops: dict[int, Op] = {}
        self._next_op = 1
        self.log: list[tuple[datetime, Action]] = []
        # observe() hands out the same objects for what did not change, as an
        # informer cache does (reconcile's memory of quiet environments relies on
        # it), with an index by key; the snapshot is copied (in C) only on change
        self._views: Snapshots[EnvKey, ObservedEnvironment] = Snapshots()
        self._dirty: set[EnvKey] = set()
        self._slot_views: Snapshots[str, Slot] = Snapshots()
        self._unclaimed: dict[str, Slot] = {}
        self._unclaimed_view: tuple[Slot, ...] | None = None
        self._state: ObservedState | None = None
        self._changes: set[EnvKey] = set()

    # -- what reconcile sees ------------------------------------------------
    def observe(self) -> ObservedState:
        if self._state is not None and self._state.golden_generation == self.golden_generation:
            return self._state
        for key in self._dirty:
            env = self._envs.get(key)
            if env is None:
                self._views.pop(key)
            else:
                self._views[key] = self._view(env)
        self._dirty.clear()
        if self._unclaimed_view is None:
            self._unclaimed_view = tuple(self._unclaimed.values())
        envs, slots = self._views.snapshot(), self._slot_views.snapshot()
        index = ObservedIndex(envs, slots, self._unclaimed_view)
        self._state = ObservedState(envs.values(), slots.values(), self.golden_generation, index)
        return self._state

    def ready_slots(self) -> int:
        """Ready slots nobody claimed (the pool's depth), without building a view."""
        return sum(1 for s in self._unclaimed.values() if s.state is SlotState.READY)

    def take_changes(self) -> set[EnvKey]:
        """Keys whose environment changed since the last call (a watch's events)."""
        changes, self._changes = self._changes, set()
        return changes

    @staticmethod
    def _view(e: _Env) -> ObservedEnvironment:
        return ObservedEnvironment(
            key=e.key,
            team=e.team,
            finalizer=e.finalizer,
            admitted=e.admitted,
            deletion_requested=e.deletion_requested,
            namespace_exists=e.namespace_exists,
            namespace_terminating=e.terminating,
            slot_id=e.slot_id,
            steps=tuple(e.steps.values()),
            db_access_sha=e.db_access_sha,
            status=e.status,
            first_seen=e.first_seen,
        )

    def _changed(self, key: EnvKey | None = None) -> None:
        if key is not None:
            self._dirty.add(key)
            self._changes.add(key)
        self._state = None

    def _put_slot(self, slot: Slot) -> None:
        """Every change of a slot goes through here and `_drop_slot` (the index follows)."""
        self._slots[slot.id] = slot
        self._slot_views[slot.id] = slot
        self._state = None
        if slot.claimed_by is None and slot.state is not SlotState.CLAIMED:
            self._unclaimed[slot.id] = slot
            self._unclaimed_view = None
        elif self._unclaimed.pop(slot.id, None) is not None:
            self._unclaimed_view = None

    def _drop_slot(self, slot_id: str) -> None:
        if self._slots.pop(slot_id, None) is not None:
            self._slot_views.pop(slot_id)
            self._state = None
            if self._unclaimed.pop(slot_id, None) is not None:
                self._unclaimed_view = None

    def env(self, key: EnvKey) -> ObservedEnvironment | None:
        return self.observe().index.environments.get(key)  # type: ignore[union-attr]

    def pending(self) -> list[Op]:
        return list(self._ops.values())

    # -- what happens outside the controller ---------------------------------
    def touch(self, key: EnvKey, *, team: str) -> None:
        """A PreviewEnvironment object exists for this pull request."""
        self._changed(key)
        env = self._envs.setdefault(key, _Env(key=key, team=team, first_seen=self.now))
        if not env.admitted:  # a ticket keeps the team it was granted to
            env.team = team

    def request_deletion(self, key: EnvKey) -> None:
        """Someone deleted the PreviewEnvironment (kubectl delete)."""
        env = self._envs.get(key)
        if env is None:
            return
        env.deletion_requested = True
        self._changed(key)
        self._collect(key)

    def add_orphan_namespace(self, key: EnvKey, *, namespace: str, team: str) -> None:
        """A labelled namespace whose owner object is gone (crash between steps)."""
        self._envs[key] = _Env(
            key=key,
            team=team,
            namespace=namespace,
            namespace_exists=True,
            deletion_requested=True,
            first_seen=self.now,
        )
        self._changed(key)

    def refresh_golden(self) -> None:
        """A newer golden snapshot became ready."""
        self.golden_generation += 1
        self._changed()

    def complete(self, op_id: int, *, ok: bool = True, reason: Reason = Reason.NONE) -> None:
        """Finish an operation, successfully or not."""
        op = self._ops.pop(op_id, None)
        if op is None:
            return  # cancelled by a teardown or a drain: its result goes nowhere
        self._changed(op.key)
        if op.kind is OpKind.WARM:
            slot = self._slots.get(op.slot_id or "")
            if slot is not None and slot.state is SlotState.WARMING:
                if ok:
                    self._put_slot(dataclasses.replace(slot, state=SlotState.READY))
                else:
                    self._drop_slot(slot.id)
            return
        assert op.key is not None
        env = self._envs.get(op.key)
        if env is None:
            return
        if op.kind is OpKind.TEARDOWN:
            env.namespace_exists = env.terminating = False
            env.steps.clear()
            env.db_access_sha = None
            if env.slot_id is not None:
                self._drop_slot(env.slot_id)
                env.slot_id = None
            self._collect(op.key)
            return
        assert op.step is not None
        rec = env.steps.get(op.step)
        if rec is None or rec.attempt != op.attempt or rec.sha != op.sha:
            return  # superseded by a retry or a new push
        status = StepStatus.SUCCEEDED if ok else StepStatus.FAILED
        env.steps[op.step] = dataclasses.replace(
            rec, status=status, finished_at=self.now, reason=reason
        )

    def complete_all(self) -> None:
        for op_id in sorted(self._ops):
            if op_id in self._ops:
                self.complete(op_id)

    # -- applying plans ------------------------------------------------------
    def apply_all(self, actions: tuple[Action, ...]) -> list[Op]:
        started: list[Op] = []
        for action in actions:
            started.extend(self.apply(action))
        return started

    def apply(self, action: Action) -> list[Op]:
        """Apply one action; return the asynchronous operations it started."""
        self.log.append((self.now, action))
        self._changed(getattr(action, "key", None))
        match action:
            case AddFinalizer(key):
                self._env(key).finalizer = True
            case Admit(key, team):
                env = self._env(key)
                env.admitted, env.team = True, team
            case CreateNamespace(key, namespace, team):
                env = self._env(key)
                env.namespace, env.team = namespace, team
                env.namespace_exists, env.terminating = True, False
            case ClaimWarmSlot(key, slot_id):
                return self._claim(key, slot_id)
            case CloneVolume(key, generation, attempt):
                return self._clone(key, generation, attempt)
            case RunMigrations(key, sha, databases, attempt):
                return self._start(key, Step.MIGRATIONS, sha, attempt, databases=databases)
            case RunMasking(key, sha, databases, attempt):
                return self._start(key, Step.MASKING, sha, attempt, databases=databases)
            case DeployServices(key, sha, _services, attempt):
                ops = self._start(key, Step.DEPLOY, sha, attempt)
                self._env(key).db_access_sha = sha
                return ops
            case ApplyRoutes(key, sha, _plan, attempt):
                return self._start(key, Step.ROUTES, sha, attempt)
            case RevokeDatabaseAccess(key):
                self._env(key).db_access_sha = None
            case ReportStatus(key, status):
                self._env(key).status = status
            case TearDown(key, _namespace, _slot_id):
                return self._teardown(key)
            case ReleaseQuota(key, _team):
                self._env(key).admitted = False
            case RemoveFinalizer(key):
                self._env(key).finalizer = False
                self._collect(key)
            case ReplenishPool(slot_ids, generation):
                return self._warm(slot_ids, generation)
            case DrainSlots(slot_ids):
                self._drain(slot_ids)
            case _:
                assert_never(action)
        return []

    # -- helpers ---------------------------------------------------------------
    def _env(self, key: EnvKey) -> _Env:
        env = self._envs.get(key)
        if env is None:
            env = self._envs[key] = _Env(key=key, first_seen=self.now)
            self._changed(key)
        return env

    def _op(self, **kwargs: object) -> Op:
        op = Op(id=self._next_op, **kwargs)  # type: ignore[arg-type]
        self._next_op += 1
        self._ops[op.id] = op
        return op

    def _require_namespace(self, env: _Env, what: str) -> None:
        if not env.namespace_exists or env.terminating:
            raise ClusterError(f"{what} for {env.key}: namespace does not exist")

    def _start(
        self,
        key: EnvKey,
        step: Step,
        sha: str,
        attempt: int,
        *,
        databases: tuple[str, ...] = (),
        detail: str = "",
    ) -> list[Op]:
        env = self._env(key)
        self._require_namespace(env, f"start {step}")
        env.steps[step] = StepRecord(
            step=step,
            sha=sha,
            status=StepStatus.RUNNING,
            started_at=self.now,
            attempt=attempt,
            detail=detail,
        )
        return [
            self._op(
                kind=OpKind.STEP, key=key, step=step, sha=sha, attempt=attempt, databases=databases
            )
        ]

    def _claim(self, key: EnvKey, slot_id: str) -> list[Op]:
        slot = self._slots.get(slot_id)
        if slot is None or slot.state is not SlotState.READY or slot.claimed_by is not None:
            raise ClusterError(f"slot {slot_id} is not ready and free (claimed twice?)")
        env = self._env(key)
        self._release_volume(env)
        self._put_slot(dataclasses.replace(slot, state=SlotState.CLAIMED, claimed_by=key))
        env.slot_id = slot_id
        return self._start(key, Step.VOLUME, "", 1, detail=f"slot:{slot_id}")

    def _clone(self, key: EnvKey, generation: int, attempt: int) -> list[Op]:
        env = self._env(key)
        self._release_volume(env)
        volume = f"{env.namespace or key.number}-db"
        self._put_slot(
            Slot(
                id=volume,
                generation=generation,
                state=SlotState.CLAIMED,
                created_at=self.now,
                claimed_by=key,
            )
        )
        env.slot_id = volume
        return self._start(key, Step.VOLUME, "", attempt, detail="clone")

    def _release_volume(self, env: _Env) -> None:
        if env.slot_id is not None:
            self._drop_slot(env.slot_id)
            env.slot_id = None

    def _teardown(self, key: EnvKey) -> list[Op]:
        env = self._env(key)
        for op_id in [i for i, op in self._ops.items() if op.key == key]:
            del self._ops[op_id]
        env.terminating = env.namespace_exists
        return [self._op(kind=OpKind.TEARDOWN, key=key)]

    def _warm(self, slot_ids: tuple[str, ...], generation: int) -> list[Op]:
        ops = []
        for slot_id in slot_ids:
            if slot_id in self._slots:
                continue  # idempotent: already warming or ready
            self._put_slot(
                Slot(
                    id=slot_id, generation=generation, state=SlotState.WARMING, created_at=self.now
                )
            )
            ops.append(self._op(kind=OpKind.WARM, slot_id=slot_id))
        return ops

    def _drain(self, slot_ids: tuple[str, ...]) -> None:
        for slot_id in slot_ids:
            slot = self._slots.get(slot_id)
            if slot is not None and slot.claimed_by is not None:
                raise ClusterError(f"slot {slot_id} is claimed by {slot.claimed_by}; not drained")
            self._drop_slot(slot_id)
        for op_id in [i for i, op in self._ops.items() if op.slot_id in slot_ids]:
            del self._ops[op_id]

    def _collect(self, key: EnvKey) -> None:
        """Kubernetes semantics: a deleted object goes once its last finalizer is removed."""
        env = self._envs.get(key)
        if env is not None and env.deletion_requested and not env.finalizer:
            if env.namespace_exists:
                return  # orphan namespace: kept until torn down
            del self._envs[key]
