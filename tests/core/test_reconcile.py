"""Reconcile, scenario by scenario, on the in-memory cluster with every invariant checked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.core.actions import (
    ApplyRoutes,
    DeployServices,
    ReleaseQuota,
    RemoveFinalizer,
    RevokeDatabaseAccess,
    RunMasking,
    RunMigrations,
    TearDown,
)
from controller.core.memory import OpKind
from controller.core.naming import namespace_for
from controller.core.policy import Policy
from controller.core.types import EnvKey, Phase, Reason, Step
from tests.core.world import World, blueprint

MIGRATION_CHANGE = 2
PLAIN_CHANGE = 0


def phases(world: World, key: EnvKey) -> list[Phase]:
    env = world.cluster.env(key)
    assert env is not None
    assert env.status is not None
    return [phase for phase, _at in env.status.transitions]


def drive(world: World) -> None:
    """Complete operations one reconcile at a time, so every phase is observed."""
    for _ in range(40):
        world.settle()
        if not world.cluster.pending():
            return
        world.cluster.complete(min(op.id for op in world.cluster.pending()))
    raise AssertionError("did not finish")


def test_pr_with_migrations_walks_every_phase_to_ready() -> None:
    world = World(blueprint(pool={"defaultSize": 0}))
    key = world.open(1, change=MIGRATION_CHANGE)
    drive(world)
    assert phases(world, key) == [
        Phase.PENDING,
        Phase.CLONING,
        Phase.MIGRATING,
        Phase.MASKING,
        Phase.DEPLOYING,
        Phase.ROUTING,
        Phase.READY,
    ]
    env = world.cluster.env(key)
    assert env is not None
    assert env.status is not None
    assert env.status.url == f"https://{namespace_for(key)}.preview.example.com"
    assert env.db_access_sha == world.prs[key].head_sha


def test_pr_without_migrations_skips_migration_and_masking_and_claims_warm_slot() -> None:
    world = World()
    world.settle()
    world.cluster.complete_all()  # the warm pool is ready
    key = world.open(1, change=PLAIN_CHANGE)
    drive(world)
    assert phases(world, key) == [
        Phase.PENDING,
        Phase.CLAIMING,
        Phase.DEPLOYING,
        Phase.ROUTING,
        Phase.READY,
    ]


def test_masking_failure_retries_with_backoff_then_fails_closed() -> None:
    world = World(policy=Policy(max_attempts=2, backoff_base=timedelta(seconds=10)))
    key = world.open(1, change=MIGRATION_CHANGE)
    for _ in range(10):
        world.settle()
        ops = [op for op in world.cluster.pending() if op.step is Step.MASKING]
        if ops:
            world.cluster.complete(ops[0].id, ok=False, reason=Reason.MASKING_FAILED)
            plan = world.step()
            if plan.requeue_after is not None and plan.requeue_after <= timedelta(seconds=10):
                world.advance(plan.requeue_after.total_seconds())
            continue
        world.cluster.complete_all()
    env = world.cluster.env(key)
    assert env is not None
    assert env.status is not None
    assert env.status.phase is Phase.FAILED
    assert env.status.reason is Reason.MASKING_FAILED
    assert "giving up" in env.status.message
    assert env.db_access_sha is None
    started = [a for _t, a in world.cluster.log if isinstance(a, RunMasking)]
    assert [a.attempt for a in started] == [1, 2]
    assert not any(isinstance(a, DeployServices) for _t, a in world.cluster.log)


def test_hung_step_times_out_and_is_retried() -> None:
    policy = Policy(step_timeouts=((Step.DEPLOY, timedelta(minutes=5)),))
    world = World(policy=policy)
    key = world.open(1, change=PLAIN_CHANGE)
    for _ in range(10):
        world.settle()
        if any(op.step is Step.DEPLOY for op in world.cluster.pending()):
            break
        world.cluster.complete_all()
    plan = world.plan()
    assert plan.requeue_after == timedelta(minutes=5)
    world.advance(300)
    world.settle()  # timed out: reported Failed, retry after backoff
    env = world.cluster.env(key)
    assert env is not None
    assert env.status is not None
    assert env.status.reason is Reason.STEP_TIMEOUT
    world.advance(policy.backoff(1).total_seconds())
    world.settle()
    deploys = [a for _t, a in world.cluster.log if isinstance(a, DeployServices)]
    assert [a.attempt for a in deploys] == [1, 2]


def test_close_tears_down_and_removes_the_finalizer_last() -> None:
    world = World()
    key = world.open(1, change=MIGRATION_CHANGE)
    world.run_to_completion()
    world.close(key)
    world.run_to_completion()
    actions = [a for _t, a in world.cluster.log if getattr(a, "key", None) == key]
    kinds = [type(a) for a in actions]
    assert kinds.index(TearDown) < kinds.index(ReleaseQuota) < kinds.index(RemoveFinalizer)
    assert kinds[-1] is RemoveFinalizer or all(
        type(a).__name__ == "ReportStatus" for a in actions[kinds.index(RemoveFinalizer) + 1 :]
    )
    env = world.cluster.env(key)
    assert env is not None
    assert env.status is not None
    assert env.status.phase is Phase.GONE
    assert not env.has_resources
    assert not env.finalizer


@pytest.mark.parametrize(
    ("advance", "reason"),
    [
        pytest.param(timedelta(hours=49), Reason.IDLE_EXPIRED, id="idle"),
        pytest.param(timedelta(days=8), Reason.TTL_EXPIRED, id="ttl"),
    ],
)
def test_expiry_tears_down(advance: timedelta, reason: Reason) -> None:
    world = World(blueprint(idleExpiry="48h", ttl="7d"))
    key = world.open(1)
    world.run_to_completion()
    if reason is Reason.TTL_EXPIRED:  # keep pushing so only the TTL can expire it
        for _ in range(8):
            world.advance(86400)
            world.push(key)
    else:
        world.advance(advance.total_seconds())
    plan = world.step()
    assert any(isinstance(a, TearDown) for a in plan.actions)
    env = world.cluster.env(key)
    assert env is not None
    assert env.status is not None
    assert env.status.phase is Phase.EXPIRED
    assert env.status.reason is reason
    world.run_to_completion()
    env = world.cluster.env(key)
    assert env is not None
    assert not env.has_resources


def test_expiry_is_a_requeue_deadline() -> None:
    world = World(blueprint(idleExpiry="2h", ttl="7d"))
    world.open(1)
    world.run_to_completion()
    assert world.plan().requeue_after == timedelta(hours=2)


def test_drafts_wait_for_review_when_the_blueprint_says_so() -> None:
    world = World()
    key = world.open(1, draft=True)
    world.run_to_completion()
    env = world.cluster.env(key)
    assert env is not None
    assert not env.has_resources
    assert env.status is not None
    assert env.status.reason is Reason.PR_DRAFT
    world.update(key, draft=False)
    world.run_to_completion()
    env = world.cluster.env(key)
    assert env is not None
    assert env.status is not None
    assert env.status.phase is Phase.READY


def test_queue_position_and_reason_are_reported() -> None:
    world = World(blueprint(quotas={"defaultPerTeam": 1}))
    world.open(1, team="alpha")
    second = world.open(2, team="alpha")
    world.settle()
    env = world.cluster.env(second)
    assert env is not None
    assert env.status is not None
    assert env.status.phase is Phase.QUEUED
    assert env.status.reason is Reason.TEAM_QUOTA
    assert env.status.queue_position == 1
    world.close(EnvKey("acme/shop", 1))
    world.run_to_completion()
    env = world.cluster.env(second)
    assert env is not None
    assert env.status is not None
    assert env.status.phase is Phase.READY


def test_push_on_ready_environment_revokes_then_remigrates_and_remasks() -> None:
    world = World()
    key = world.open(1, change=MIGRATION_CHANGE)
    world.run_to_completion()
    mark = len(world.cluster.log)
    world.push(key)
    world.settle()
    env = world.cluster.env(key)
    assert env is not None
    assert env.status is not None
    assert env.status.phase is Phase.UPDATING
    new = [a for _t, a in world.cluster.log[mark:]]
    kinds = [type(a) for a in new]
    assert kinds.index(RevokeDatabaseAccess) < kinds.index(RunMigrations)
    world.run_to_completion()
    sha = world.prs[key].head_sha
    later = [a for _t, a in world.cluster.log[mark:]]
    assert any(isinstance(a, RunMasking) and a.sha == sha for a in later)
    assert any(isinstance(a, ApplyRoutes) and a.sha == sha for a in later)


def test_orphan_namespace_is_swept() -> None:
    world = World()
    key = EnvKey("acme/shop", 99)
    world.cluster.add_orphan_namespace(key, namespace=namespace_for(key), team="alpha")
    plan = world.step()
    assert any(isinstance(a, TearDown) for a in plan.actions)
    world.run_to_completion()
    assert world.cluster.env(key) is None


def test_deleted_by_hand_is_torn_down_then_released() -> None:
    world = World()
    key = world.open(1)
    world.run_to_completion()
    world.delete(key)
    world.run_to_completion()
    assert world.cluster.env(key) is None
    assert all(s.claimed_by is None for s in world.cluster.observe().slots)


def test_same_inputs_same_plan() -> None:
    world = World()
    world.open(1, change=MIGRATION_CHANGE)
    world.open(2, team="beta")
    assert world.plan() == world.plan()


def test_pool_is_warmed_and_refreshed_without_emptying() -> None:
    world = World(blueprint(pool={"defaultSize": 2, "maxWarming": 4}))
    world.run_to_completion()
    ready = world.cluster.observe().slots
    assert len(ready) == 2
    world.cluster.refresh_golden()
    world.settle()
    slots = world.cluster.observe().slots
    assert {s.generation for s in slots} == {1, 2}  # stale kept until fresh are ready
    assert sum(1 for op in world.cluster.pending() if op.kind is OpKind.WARM) == 2
    world.run_to_completion()
    assert {s.generation for s in world.cluster.observe().slots} == {2}
