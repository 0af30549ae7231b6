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
    EnvStatus,
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


class _View(NamedTuple):
    """One active environment as the first pass saw it."""

    key: EnvKey
    pr: PullRequest | None
    env: ObservedEnvironment
    reason: Reason
    progress: _Progress | None
    timers: list[datetime]
    candidate: admission.Candidate | None
    seen: _Waiting | None  # what an earlier call found for the same inputs, if still valid


class _Waiting(NamedTuple):
    """A queued environment as a call left it (kept in the memo's `waiting`).

    Valid for the same pull request, observed environment, blueprint and
    policy (by identity) while `since <= now < until`: nothing in the first
    pass depends on the time but its timers, and a queued environment's
    status depends on the time only when its phase changes.
    """

    pr: PullRequest
    env: ObservedEnvironment
    blueprint: Blueprint
    policy: Policy
    since: datetime
    until: datetime | None
    reason: Reason
    progress: _Progress | None
    timers: tuple[datetime, ...]
    candidate: admission.Candidate | None
    place: tuple[int | None, Reason]  # queue position and reason
    status: EnvStatus  # what build_status gave (the reported one, if the same object)


# what admission decides with no candidates (nothing), without asking it
_NO_DECISION = admission.decide(
    (), live_by_team={}, quota_of={}, default_quota=0, in_flight=0, cap=0
)


_NAMESPACES: dict[str, dict[EnvKey, str]] = {}


def _namespaces(prefix: str) -> dict[EnvKey, str]:
    """Namespace names by key for one prefix: `namespace_for` with a plain dict in front."""
    names = _NAMESPACES.get(prefix)
    if names is None or len(names) >= 65536:
        names = _NAMESPACES[prefix] = {}
    return names


def _namespace(names: dict[EnvKey, str], key: EnvKey, prefix: str) -> str:
    name = names[key] = namespace_for(key, prefix=prefix)
    return name


def _keepable(prog: _Progress | None) -> bool:
    """Whether a first pass may be reused: an invalid route plan is dated `now`."""
    return prog is None or prog.failed_reason is not Reason.ROUTE_PLAN_INVALID


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
    records, head = env.steps, pr.head_sha
    updating = False
    for deploy in records:
        if deploy.step is Step.DEPLOY:
            updating = deploy.status is StepStatus.SUCCEEDED and deploy.sha != head
            break
    for step in lifecycle.STEP_ORDER:
        if step is Step.VOLUME:
            if not bp.databases:
                continue
        elif (step is Step.MIGRATIONS or step is Step.MASKING) and not databases:
            continue
        rec: StepRecord | None = None
        for candidate in records:  # the latest record of the step (a few at most)
            if candidate.step is step:
                rec = candidate
                break
        if rec is not None and step is not Step.VOLUME and rec.sha != head:
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
        if (step is Step.DEPLOY or step is Step.ROUTES) and startable:
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

    views: list[_View] = []
    live_here: dict[str, int] = {}  # admitted environments among the active ones, by team
    in_flight = quiet_memo.in_flight
    candidates: list[admission.Candidate] = []
    ttl, idle_expiry = bp.ttl, bp.idle_expiry
    waiting: dict[EnvKey, _Waiting] = quiet_memo.waiting
    for key in active:
        pr = prs.get(key)
        env = envs.get(key) or ObservedEnvironment(key=key, team=pr.team if pr else "")
        seen = waiting.get(key)
        candidate: admission.Candidate | None = None
        if (
            seen is not None
            and seen.pr is pr
            and seen.env is env
            and seen.blueprint is bp
            and seen.policy is policy
            and seen.since <= now
            and (seen.until is None or now < seen.until)
        ):
            reason, prog, candidate = seen.reason, seen.progress, seen.candidate
            own_timers = list(seen.timers)
        else:
            seen = None
            reason = _unwanted_reason(pr, env, bp, now)
            own_timers = []
            prog = None
            if pr is not None and reason is Reason.NONE:
                prog = _progress(pr, env, bp, now, policy)
                if prog.running_deadline is not None:  # a step times out then: facts change
                    own_timers.append(prog.running_deadline)
            if pr is not None and pr.state is PRState.OPEN:  # expiry (and its reason) then
                for expiry in (pr.opened_at + ttl, pr.updated_at + idle_expiry):
                    if expiry > now:
                        own_timers.append(expiry)
        if env.admitted:
            team = _team_of(pr, env)
            live_here[team] = live_here.get(team, 0) + 1
            if prog is not None and prog.next_step is not None and not prog.failed_reason:
                in_flight += 1
        elif pr is not None and reason is Reason.NONE and not env.namespace_terminating:
            if candidate is None:
                since = env.first_seen or pr.opened_at
                priority = bp.priority_of(pr.labels) if pr.labels else 0  # no label, no weight
                candidate = admission.Candidate(key, pr.team, priority, since)
            candidates.append(candidate)
        views.append(_View(key, pr, env, reason, prog, own_timers, candidate, seen))

    decision = _NO_DECISION
    if candidates:  # admission only ever admits or queues candidates
        live_by_team = dict(quiet_memo.live)
        for team, count in live_here.items():
            live_by_team[team] = live_by_team.get(team, 0) + count
        decision = admission.decide(
            candidates,
            live_by_team=live_by_team,
            quota_of={q.team: q.max_environments for q in bp.quotas.teams},
            default_quota=bp.quotas.default_per_team,
            in_flight=in_flight,
            cap=bp.max_concurrent_provisions,
        )
    admit_now = decision.admitted

    names = _namespaces(policy.namespace_prefix)
    for key, pr, env, reason, prog, own_timers, candidate, seen in views:
        namespace = names.get(key) or _namespace(names, key, policy.namespace_prefix)
        next_step = prog.next_step if prog is not None else None
        via_slot = False
        if next_step is Step.VOLUME:
            rec = prog.record  # type: ignore[union-attr]  # next_step is set only with prog
            via_slot = rec.detail.startswith("slot:") if rec else bool(free_slots)
        phase = lifecycle.phase_of(
            reason is Reason.NONE,
            reason,
            env.admitted,
            key in admit_now,
            env.has_resources,
            env.namespace_terminating,
            env.finalizer,
            next_step,
            via_slot,
            prog is not None and prog.failed_reason is not Reason.NONE,
            prog is not None and prog.updating and next_step is not None,
        )
        env_actions: list[Action] = []
        status_reason = reason
        message = ""
        queue_position: int | None = None
        place: tuple[int | None, Reason] = (None, Reason.NONE)
        if phase in (Phase.TEARING_DOWN, Phase.EXPIRED):
            if env.has_resources and not env.namespace_terminating:
                env_actions.append(TearDown(key, namespace, env.slot_id))
            elif not env.has_resources and not env.namespace_terminating:
                if env.admitted:
                    env_actions.append(ReleaseQuota(key, env.team or (pr.team if pr else "")))
                if env.finalizer:
                    env_actions.append(RemoveFinalizer(key))
        elif phase is Phase.QUEUED:
            place = decision.queued.get(key, (None, Reason.NONE))
            queue_position, status_reason = place
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
        if (
            seen is not None
            and phase is Phase.QUEUED
            and place == seen.place
            and env.status is not None
            and seen.status is env.status
        ):
            status = env.status  # still waiting in the same place: the status it reports
        else:
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
            if phase is Phase.QUEUED and pr is not None and _keepable(prog):
                if len(waiting) >= 4096:
                    waiting.clear()
                until = min(own_timers) if own_timers else None
                waiting[key] = _Waiting(
                    pr, env, bp, policy, now, until, reason, prog, tuple(own_timers),
                    candidate, place, status,
                )  # fmt: skip
            else:
                waiting.pop(key, None)
        reportable = pr is not None or env.finalizer  # an orphan has no object to report on
        if reportable and status is not env.status and status != env.status:
            env_actions.append(ReportStatus(key, status))
        actions.extend(env_actions)
        timers.extend(own_timers)
        if env_actions or phase in (Phase.QUEUED, Phase.PENDING):
            quiet_memo.unquiet.add(key)
        else:
            quiet_memo.remember(
                key,
                Quiet(  # in field order: pr, env, blueprint, policy, since, until, team, ...
                    pr,
                    env,
                    bp,
                    policy,
                    now,
                    min(own_timers) if own_timers else None,
                    _team_of(pr, env),
                    env.admitted,
                    bool(
                        env.admitted
                        and prog is not None
                        and prog.next_step is not None
                        and not prog.failed_reason
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
    soonest: datetime | None = None
    for timer in timers:
        if timer > now and (soonest is None or timer < soonest):
            soonest = timer
    return Plan(tuple(actions), None if soonest is None else soonest - now)


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
        suspects = memo.unquiet  # replaced below: extended in place
        suspects.update(changed)
        suspects.update(memo.due(now))
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
    memo.forget_all(suspects)
    active = [k for k in suspects if k in prs or k in envs]
    active.sort()
    return active


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
