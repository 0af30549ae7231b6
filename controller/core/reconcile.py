"""`reconcile(desired, observed, *, now, policy) -> Plan`: the one decision function.

Level-triggered: no event is passed in, so the same inputs always give the
same plan. For every environment it derives facts from the observed world,
reads the phase off the lifecycle table, and plans the actions that move the
world one step toward what the pull request asks for; then it plans the warm
pool. It performs no I/O and reads no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from controller.core import admission, lifecycle
from controller.core.actions import (
    Action,
    AddFinalizer,
    Admit,
    ClaimWarmSlot,
    CloneVolume,
    CreateNamespace,
    Plan,
    ReleaseQuota,
    RemoveFinalizer,
    ReportStatus,
    RevokeDatabaseAccess,
    TearDown,
)
from controller.core.blueprint import Blueprint
from controller.core.lifecycle import Facts
from controller.core.memo import QUIET, Quiet, QuietMemo
from controller.core.naming import namespace_for
from controller.core.policy import Policy
from controller.core.pool import claimable, plan_pool
from controller.core.routing import (
    RoutePlan,
    RoutingError,
    databases_for_paths,
    plan_routes,
    services_for_paths,
)
from controller.core.status import build_status
from controller.core.steps import StepContext, plan_step
from controller.core.types import (
    DesiredState,
    EnvKey,
    ObservedEnvironment,
    ObservedState,
    Phase,
    PRState,
    PullRequest,
    Reason,
    Slot,
    Step,
    StepRecord,
    StepStatus,
)


class _Progress(NamedTuple):
    """Where provisioning of the head SHA stands."""

    next_step: Step | None
    record: StepRecord | None  # the run of next_step for the head, if started
    failed_reason: Reason
    failed_at: datetime | None
    running_deadline: datetime | None
    updating: bool
    databases: tuple[str, ...]
    route_plan: RoutePlan | None = None
    message: str = ""


def _team_of(pr: PullRequest | None, env: ObservedEnvironment) -> str:
    """The team a ticket counts against: the one it was granted to, once admitted."""
    return env.team if env.admitted and env.team else (pr.team if pr else env.team)


def _unwanted_reason(
    pr: PullRequest | None, env: ObservedEnvironment, bp: Blueprint, now: datetime
) -> Reason:
    if pr is None or env.deletion_requested:
        return Reason.DELETED
    if pr.state is not PRState.OPEN:
        return Reason.PR_CLOSED
    if pr.draft and not bp.provision_drafts:
        return Reason.PR_DRAFT
    if now - pr.opened_at >= bp.ttl:
        return Reason.TTL_EXPIRED
    if now - pr.updated_at >= bp.idle_expiry:
        return Reason.IDLE_EXPIRED
    return Reason.NONE


def _progress(
    pr: PullRequest, env: ObservedEnvironment, bp: Blueprint, now: datetime, policy: Policy
) -> _Progress:
    databases = databases_for_paths(bp, pr.changed_paths)
    deploy = env.step(Step.DEPLOY)
    updating = (
        deploy is not None and deploy.status is StepStatus.SUCCEEDED and deploy.sha != pr.head_sha
    )
    for step in lifecycle.STEP_ORDER:
        if step is Step.VOLUME and not bp.databases:
            continue
        if step in (Step.MIGRATIONS, Step.MASKING) and not databases:
            continue
        rec = env.step(step)
        if rec is not None and step is not Step.VOLUME and rec.sha != pr.head_sha:
            rec = None
        if rec is not None and rec.status is StepStatus.SUCCEEDED:
            continue
        failed_reason, failed_at, deadline = Reason.NONE, None, None
        if rec is not None and rec.status is StepStatus.FAILED:
            failed_reason = rec.reason or lifecycle.STEP_FAILURE[step]
            failed_at = rec.finished_at or rec.started_at
        elif rec is not None:
            deadline = rec.started_at + policy.timeout(step)
            if now >= deadline:
                failed_reason, failed_at, deadline = Reason.STEP_TIMEOUT, deadline, None
        route_plan, message = None, ""
        startable = rec is None or failed_reason is not Reason.NONE
        if step in (Step.DEPLOY, Step.ROUTES) and startable:
            try:
                route_plan = plan_routes(
                    bp,
                    namespace=namespace_for(pr.key, prefix=policy.namespace_prefix),
                    changed_services=services_for_paths(bp, pr.changed_paths),
                    changed_databases=databases,
                )
            except RoutingError as exc:
                failed_reason, failed_at, message = Reason.ROUTE_PLAN_INVALID, now, str(exc)
        return _Progress(
            step, rec, failed_reason, failed_at, deadline, updating, databases, route_plan, message
        )
    return _Progress(None, None, Reason.NONE, None, None, False, databases)


def reconcile(
    desired: DesiredState,
    observed: ObservedState,
    *,
    now: datetime,
    policy: Policy,
    memo: QuietMemo | None = None,
    changed: Iterable[EnvKey] | None = None,
) -> Plan:
    """Plan the actions that move the observed world toward the desired one.

    `memo` and `changed` only change the cost, never the plan. `changed` is a
    shell's promise that no other environment's pull request or observed state
    differs from the previous call on the same memo (a controller's work-queue
    keys); without it every environment is looked at.
    """
    quiet_memo = QUIET if memo is None else memo
    bp = desired.blueprint
    prs = quiet_memo.prs_of(desired)
    index = quiet_memo.index_of(observed)
    envs = index.environments
    active = _active_keys(quiet_memo, prs, envs, bp=bp, policy=policy, now=now, changed=changed)
    free_slots = quiet_memo.pool_view(index.unclaimed, claimable)
    claimed_now: set[str] = set()
    actions: list[Action] = []
    deadline = quiet_memo.next_deadline()
    timers: list[datetime] = [deadline] if deadline is not None else []

    views: dict[EnvKey, tuple[PullRequest | None, ObservedEnvironment, Reason]] = {}
    progress: dict[EnvKey, _Progress] = {}
    live_by_team = dict(quiet_memo.live)
    in_flight = quiet_memo.in_flight
    candidates: list[admission.Candidate] = []
    env_timers: dict[EnvKey, list[datetime]] = {}
    for key in active:
        pr = prs.get(key)
        env = envs.get(key) or ObservedEnvironment(key=key, team=pr.team if pr else "")
        reason = _unwanted_reason(pr, env, bp, now)
        views[key] = (pr, env, reason)
        team = _team_of(pr, env)
        own_timers = env_timers[key] = []
        if pr is not None and reason is Reason.NONE:
            started = progress[key] = _progress(pr, env, bp, now, policy)
            if started.running_deadline is not None:  # a step times out then: facts change
                own_timers.append(started.running_deadline)
        if pr is not None and pr.state is PRState.OPEN:  # expiry (and its reason) changes then
            expiries = (pr.opened_at + bp.ttl, pr.updated_at + bp.idle_expiry)
            own_timers.extend(t for t in expiries if t > now)
        if env.admitted:
            live_by_team[team] = live_by_team.get(team, 0) + 1
            prog = progress.get(key)
            if prog is not None and prog.next_step is not None and not prog.failed_reason:
                in_flight += 1
        elif pr is not None and reason is Reason.NONE and not env.namespace_terminating:
            since = env.first_seen or pr.opened_at
            candidates.append(admission.Candidate(key, pr.team, bp.priority_of(pr.labels), since))

    decision = admission.decide(
        candidates,
        live_by_team=live_by_team,
        quota_of={q.team: q.max_environments for q in bp.quotas.teams},
        default_quota=bp.quotas.default_per_team,
        in_flight=in_flight,
        cap=bp.max_concurrent_provisions,
    )
    admit_now = set(decision.admitted)

    for key in active:
        pr, env, reason = views[key]
        own_timers = env_timers[key]
        namespace = namespace_for(key, prefix=policy.namespace_prefix)
        wanted = reason is Reason.NONE
        prog = progress.get(key)
        via_slot = False
        if prog is not None and prog.next_step is Step.VOLUME:
            rec = prog.record
            via_slot = rec.detail.startswith("slot:") if rec else bool(free_slots)
        facts = Facts(
            wanted=wanted,
            unwanted_reason=reason,
            admitted=env.admitted,
            admit_now=key in admit_now,
            has_resources=env.has_resources,
            terminating=env.namespace_terminating,
            finalizer=env.finalizer,
            next_step=prog.next_step if prog else None,
            via_slot=via_slot,
            failed=prog is not None and prog.failed_reason is not Reason.NONE,
            updating=prog is not None and prog.updating and prog.next_step is not None,
        )
        phase = lifecycle.derive_phase(facts)
        env_actions: list[Action] = []
        status_reason = reason
        message = ""
        queue_position: int | None = None
        if phase in (Phase.TEARING_DOWN, Phase.EXPIRED):
            if env.has_resources and not env.namespace_terminating:
                env_actions.append(TearDown(key, namespace, env.slot_id))
            elif not env.has_resources and not env.namespace_terminating:
                if env.admitted:
                    env_actions.append(ReleaseQuota(key, env.team or (pr.team if pr else "")))
                if env.finalizer:
                    env_actions.append(RemoveFinalizer(key))
        elif phase is Phase.QUEUED:
            queue_position, status_reason = decision.queued.get(key, (None, Reason.NONE))
        elif pr is not None and prog is not None and phase is not Phase.GONE:
            if not env.finalizer:
                env_actions.append(AddFinalizer(key))
            if phase is Phase.PENDING:
                env_actions.append(Admit(key, pr.team))
            if not env.namespace_exists:
                env_actions.append(CreateNamespace(key, namespace, pr.team))
            status_reason = prog.failed_reason
            message = prog.message
            step_actions, timer = _drive(
                pr,
                env,
                prog,
                now=now,
                policy=policy,
                bp=bp,
                namespace=namespace,
                free_slots=free_slots,
                claimed_now=claimed_now,
                generation=observed.golden_generation,
            )
            env_actions.extend(step_actions)
            if timer is not None:
                own_timers.append(timer)
        status = build_status(
            phase,
            env,
            pr,
            bp=bp,
            policy=policy,
            now=now,
            namespace=namespace,
            reason=status_reason,
            queue_position=queue_position,
            message=message,
            attempts=prog.record.attempt if prog and prog.record else 0,
        )
        reportable = pr is not None or env.finalizer  # an orphan has no object to report on
        if reportable and status != env.status:
            env_actions.append(ReportStatus(key, status))
        actions.extend(env_actions)
        timers.extend(own_timers)
        if env_actions or phase in (Phase.QUEUED, Phase.PENDING):
            quiet_memo.unquiet.add(key)
        else:
            prog_now = progress.get(key)
            quiet_memo.remember(
                key,
                Quiet(
                    pr=pr,
                    env=env,
                    blueprint=bp,
                    policy=policy,
                    since=now,
                    until=min(own_timers) if own_timers else None,
                    team=_team_of(pr, env),
                    admitted=env.admitted,
                    in_flight=bool(
                        env.admitted
                        and prog_now is not None
                        and prog_now.next_step is not None
                        and not prog_now.failed_reason
                    ),
                ),
            )

    claimed = frozenset(claimed_now)
    pool_inputs = (index.unclaimed, claimed, observed.golden_generation, bp.pool, now.hour, bp.name)
    pool = quiet_memo.pool_plan(
        pool_inputs,
        index.slots,
        lambda: plan_pool(
            index.unclaimed,
            claimed_now=claimed,
            golden_generation=observed.golden_generation,
            schedule=bp.pool,
            hour_utc=now.hour,
            blueprint=bp.name,
            taken=index.slots,
        ),
    )
    if pool.drain is not None:
        actions.append(pool.drain)
    if pool.replenish is not None:
        actions.append(pool.replenish)
    if bp.pool.hours:
        timers.append(quiet_memo.next_hour(now))
    future = [t for t in timers if t > now]
    requeue = min(future) - now if future else None
    return Plan(tuple(actions), requeue)


def _active_keys(
    memo: QuietMemo,
    prs: Mapping[EnvKey, PullRequest],
    envs: Mapping[EnvKey, ObservedEnvironment],
    *,
    bp: Blueprint,
    policy: Policy,
    now: datetime,
    changed: Iterable[EnvKey] | None,
) -> list[EnvKey]:
    """The environments to compute now; every other one is quiet and counted by the memo."""
    if changed is not None and memo.context == (bp, policy):
        suspects = set(changed) | memo.unquiet | memo.due(now)
    else:
        present = prs.keys() | envs.keys()
        suspects = {k for k in memo.remembered() if k not in present}
        for key in present:
            env = envs.get(key)
            if (
                env is None
                or memo.lookup(key, prs.get(key), env, blueprint=bp, policy=policy, now=now) is None
            ):
                suspects.add(key)
    memo.context = (bp, policy)
    memo.unquiet = set()
    for key in suspects:
        memo.forget(key)
    return sorted(k for k in suspects if k in prs or k in envs)


def _drive(
    pr: PullRequest,
    env: ObservedEnvironment,
    prog: _Progress,
    *,
    now: datetime,
    policy: Policy,
    bp: Blueprint,
    namespace: str,
    free_slots: list[Slot],
    claimed_now: set[str],
    generation: int,
) -> tuple[list[Action], datetime | None]:
    """Actions for the next provisioning step of an admitted environment, and a timer."""
    step, rec = prog.next_step, prog.record
    if step is None:
        return [], None
    if prog.failed_reason is Reason.ROUTE_PLAN_INVALID:
        return [], None  # terminal until the blueprint or the change is fixed
    if prog.failed_reason is not Reason.NONE:
        attempt = rec.attempt if rec else 1
        if attempt >= policy.max_attempts:
            return [], None  # terminal: stays Failed until a new push, close or expiry
        retry_at = (prog.failed_at or now) + policy.backoff(attempt)
        if now < retry_at:
            return [], retry_at
        return _start(
            step,
            pr,
            env,
            prog,
            attempt=attempt + 1,
            bp=bp,
            namespace=namespace,
            free_slots=free_slots,
            claimed_now=claimed_now,
            generation=generation,
        )
    if rec is not None:  # running: wait for it, up to its timeout
        return [], prog.running_deadline
    return _start(
        step,
        pr,
        env,
        prog,
        attempt=1,
        bp=bp,
        namespace=namespace,
        free_slots=free_slots,
        claimed_now=claimed_now,
        generation=generation,
    )


def _start(
    step: Step,
    pr: PullRequest,
    env: ObservedEnvironment,
    prog: _Progress,
    *,
    attempt: int,
    bp: Blueprint,
    namespace: str,
    free_slots: list[Slot],
    claimed_now: set[str],
    generation: int,
) -> tuple[list[Action], datetime | None]:
    if step is Step.VOLUME:
        if attempt == 1 and free_slots:
            slot = free_slots.pop(0)
            claimed_now.add(slot.id)
            return [ClaimWarmSlot(pr.key, slot.id)], None
        return [CloneVolume(pr.key, generation, attempt)], None
    actions: list[Action] = []
    if step is Step.MIGRATIONS and env.db_access_sha is not None:
        actions.append(RevokeDatabaseAccess(pr.key))
    ctx = StepContext(
        pr=pr, namespace=namespace, databases=prog.databases, route_plan=prog.route_plan
    )
    actions.append(plan_step(step, ctx, attempt=attempt))
    return actions, None
