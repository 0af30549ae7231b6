"""A test world: pull requests, the in-memory cluster, the core, and invariant checks.

Every action the core plans is checked against the invariants of DESIGN.md
section 2 at the moment it is applied, with the world as it was just before.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta

from controller.core import lifecycle
from controller.core.actions import (
    Action,
    Admit,
    ApplyRoutes,
    ClaimWarmSlot,
    DeployServices,
    Plan,
    RemoveFinalizer,
    ReportStatus,
)
from controller.core.blueprint import Blueprint, load_blueprint
from controller.core.memo import QuietMemo
from controller.core.memory import InMemoryCluster
from controller.core.naming import namespace_for
from controller.core.policy import Policy
from controller.core.reconcile import reconcile
from controller.core.routing import databases_for_paths
from controller.core.types import (
    DesiredState,
    EnvKey,
    ObservedState,
    PRState,
    PullRequest,
    SlotState,
    Step,
    StepStatus,
)

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TEAMS = ("alpha", "beta", "gamma")

BLUEPRINT_DOC: dict[str, object] = {
    "name": "shop",
    "repositories": ["acme/shop"],
    "services": [
        {"name": "web", "team": "alpha", "image": "web", "paths": ["web/*"], "calls": ["api"]},
        {
            "name": "api",
            "team": "alpha",
            "image": "api",
            "paths": ["api/*"],
            "calls": ["orders", "auth"],
        },
        {
            "name": "orders",
            "team": "beta",
            "image": "orders",
            "paths": ["orders/*"],
            "calls": ["auth"],
            "database": "orders",
        },
        {"name": "auth", "team": "gamma", "image": "auth", "paths": ["auth/*"]},
    ],
    "databases": [
        {"name": "orders", "migrations": ["orders/migrations/*"], "maskingRules": "orders.yaml"}
    ],
    "sharedServices": ["auth"],
    "quotas": {"defaultPerTeam": 2},
    "maxConcurrentProvisions": 3,
    "pool": {"defaultSize": 2, "maxWarming": 2},
}

CHANGES: tuple[tuple[str, ...], ...] = (
    ("web/index.html",),
    ("api/handler.py",),
    ("orders/migrations/V2__add_column.sql", "orders/model.py"),
    ("README.md",),
)


def blueprint(**overrides: object) -> Blueprint:
    return load_blueprint({**BLUEPRINT_DOC, **overrides})


class InvariantError(AssertionError):
    """An invariant of DESIGN.md section 2 did not hold."""


class World:
    """Pull requests + in-memory cluster + the core, with every action checked."""

    def __init__(self, bp: Blueprint | None = None, policy: Policy | None = None) -> None:
        self.bp = bp or blueprint()
        self.policy = policy or Policy()
        self.cluster = InMemoryCluster(now=START)
        self.prs: dict[EnvKey, PullRequest] = {}
        self.pushes = 0
        self.memo = QuietMemo()
        self.pr_changes: set[EnvKey] = set()

    @property
    def now(self) -> datetime:
        return self.cluster.now

    # -- events --------------------------------------------------------------
    def open(
        self,
        number: int,
        *,
        team: str = "alpha",
        change: int = 0,
        labels: tuple[str, ...] = (),
        draft: bool = False,
    ) -> EnvKey:
        """Open a PR; like the webhook, wait while an object of that name is being deleted."""
        pr = PullRequest(
            repository="acme/shop",
            number=number,
            head_sha=f"{number:04x}" + "0" * 36,
            base_sha="b" * 40,
            team=team,
            author="dev",
            opened_at=self.now,
            updated_at=self.now,
            labels=labels,
            draft=draft,
            changed_paths=CHANGES[change % len(CHANGES)],
        )
        existing = self.cluster.env(pr.key)
        if existing is not None and existing.deletion_requested:
            return pr.key
        self.prs[pr.key] = pr
        self.pr_changes.add(pr.key)
        self.cluster.touch(pr.key, team=team)
        return pr.key

    def update(self, key: EnvKey, **changes: object) -> None:
        if key in self.prs:
            self.prs[key] = dataclasses.replace(self.prs[key], **changes)  # type: ignore[arg-type]
            self.pr_changes.add(key)

    def push(self, key: EnvKey, *, change: int | None = None) -> None:
        if key not in self.prs:
            return
        self.pushes += 1
        pr = self.prs[key]
        paths = pr.changed_paths if change is None else CHANGES[change % len(CHANGES)]
        self.update(
            key, head_sha=f"{self.pushes:08x}" + "1" * 32, updated_at=self.now, changed_paths=paths
        )

    def close(self, key: EnvKey) -> None:
        self.update(key, state=PRState.CLOSED)

    def reopen(self, key: EnvKey) -> None:
        self.update(key, state=PRState.OPEN, updated_at=self.now)

    def delete(self, key: EnvKey) -> None:
        self.prs.pop(key, None)
        self.pr_changes.add(key)
        self.cluster.request_deletion(key)

    def advance(self, seconds: float) -> None:
        self.cluster.now = self.now + timedelta(seconds=seconds)

    # -- driving the core ----------------------------------------------------
    def desired(self) -> DesiredState:
        """The pull requests, with the index by key that a shell keeps anyway."""
        index = {k: self.prs[k] for k in sorted(self.prs)}
        return DesiredState(self.bp, tuple(index.values()), index)

    def plan(self) -> Plan:
        """The plan, computed incrementally (changed keys only, from the cluster's index) and
        checked against a from-scratch computation from plain tuples (no index) and a full
        scan with the shared memo."""
        desired, observed = self.desired(), self.cluster.observe()
        assert observed.index is not None
        assert set(observed.index.environments.values()) == set(observed.environments)
        changed = self.cluster.take_changes() | self.pr_changes
        self.pr_changes = set()
        plan = reconcile(
            desired, observed, now=self.now, policy=self.policy, memo=self.memo, changed=changed
        )
        plain = ObservedState(observed.environments, observed.slots, observed.golden_generation)
        fresh = reconcile(
            DesiredState(self.bp, desired.prs),
            plain,
            now=self.now,
            policy=self.policy,
            memo=QuietMemo(),
        )
        scan = reconcile(desired, observed, now=self.now, policy=self.policy)
        if not plan == fresh == scan:
            raise InvariantError(f"memo changed the plan: {plan} != {fresh} (scan {scan})")
        return plan

    def step(self) -> Plan:
        """One reconcile, every action checked and applied."""
        plan = self.plan()
        for action in plan.actions:
            self.check_action(action, self.cluster.observe())
            self.cluster.apply(action)
            self.check_state(self.cluster.observe())
        return plan

    def settle(self, *, rounds: int = 12) -> int:
        """Reconcile until the plan is empty (convergence); return rounds used."""
        for used in range(1, rounds + 1):
            if not self.step().actions:
                return used
        raise InvariantError(f"no fixed point after {rounds} rounds: {self.plan().actions}")

    def run_to_completion(self, *, limit: int = 60) -> None:
        """Complete every operation and reconcile until nothing is pending or planned."""
        for _ in range(limit):
            self.settle()
            if not self.cluster.pending():
                plan = self.plan()
                if not plan.actions and plan.requeue_after is None:
                    return
                if not plan.actions and plan.requeue_after is not None:
                    if plan.requeue_after > timedelta(hours=1):
                        return
                    self.advance(plan.requeue_after.total_seconds())
                continue
            self.cluster.complete_all()
        raise InvariantError("the world did not come to rest")

    # -- invariants ------------------------------------------------------------
    def check_action(self, action: Action, before: ObservedState) -> None:
        envs = {e.key: e for e in before.environments}
        match action:
            case DeployServices(key, sha, _services, _attempt):
                pr = self.prs.get(key)
                env = envs.get(key)
                assert pr is not None
                assert env is not None
                if databases_for_paths(self.bp, pr.changed_paths):
                    for step in (Step.MIGRATIONS, Step.MASKING):
                        rec = env.step(step)
                        if rec is None or rec.sha != sha or rec.status is not StepStatus.SUCCEEDED:
                            raise InvariantError(
                                f"GDPR: {key} deployed with the database before {step} of {sha}"
                            )
            case ApplyRoutes(key, _sha, plan, _attempt):
                allowed = {namespace_for(key), self.bp.baseline_namespace}
                for route in plan.routes:
                    if route.namespace not in allowed:
                        raise InvariantError(f"isolation: {route} leaves {allowed}")
                    if route.namespace in self.bp.production_namespaces:
                        raise InvariantError(f"isolation: {route} reaches production")
                    if route.target.value == "shared" and (
                        route.destination not in self.bp.shared_services
                    ):
                        raise InvariantError(f"isolation: {route} is not a listed shared one")
            case RemoveFinalizer(key):
                env = envs.get(key)
                if env is not None and (
                    env.has_resources or env.namespace_terminating or env.admitted
                ):
                    raise InvariantError(f"teardown: finalizer of {key} removed too early")
            case ClaimWarmSlot(_key, slot_id):
                slot = next((s for s in before.slots if s.id == slot_id), None)
                if slot is None or slot.claimed_by is not None or slot.state is not SlotState.READY:
                    raise InvariantError(f"pool: slot {slot_id} claimed twice or not ready")
            case Admit(key, team):
                live = sum(1 for e in before.environments if e.admitted and e.team == team)
                if live + 1 > self.bp.quotas.for_team(team):
                    raise InvariantError(f"quota: {team} admitted past its quota ({key})")
            case ReportStatus(key, status):
                env = envs.get(key)
                if (
                    env is not None
                    and env.status is not None
                    and not lifecycle.is_legal(env.status.phase, status.phase)
                ):
                    raise InvariantError(
                        f"lifecycle: {key} moved {env.status.phase} -> {status.phase}"
                    )
            case _:
                pass

    def check_state(self, state: ObservedState) -> None:
        claimed = Counter(s.claimed_by for s in state.slots if s.claimed_by is not None)
        for key, count in claimed.items():
            if count > 1:
                raise InvariantError(f"pool: {key} holds {count} volumes")
        admitted = Counter(e.team for e in state.environments if e.admitted)
        for team, count in admitted.items():
            if count > self.bp.quotas.for_team(team):
                raise InvariantError(f"quota: {team} holds {count} live environments")
        for env in state.environments:
            pr = self.prs.get(env.key)
            if env.has_resources and not env.finalizer and not env.deletion_requested:
                raise InvariantError(f"teardown: {env.key} has resources but no finalizer")
            if env.db_access_sha is None or pr is None:
                continue
            masking = env.step(Step.MASKING)
            if (
                masking is not None
                and masking.sha == env.db_access_sha
                and (masking.status is not StepStatus.SUCCEEDED)
            ):
                raise InvariantError(f"GDPR: {env.key} has the database, masking not done")
