"""The organisation's pull requests: arrival profile, teams, and one plan per pull request.

`arrival_rate` is a plain function of time and parameters (the Locust load
shape imports it). `pr_arrivals` is the SimPy process that opens pull
requests as a non-homogeneous Poisson process, piecewise constant by hour; `pull_request_life`
plays one pull request (pushes, ready-for-review, close, re-open) against a
`PullRequestSink`. Everything random is drawn from the generator passed in,
in arrival order. This module knows nothing of environments and decides
nothing about them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import simpy

from controller.core.blueprint import Blueprint
from sim.dists import sample
from sim.params import WorkloadParams

HOUR = 3600.0
DAY = 24 * HOUR


@lru_cache(maxsize=32)
def _hour_weights(p: WorkloadParams) -> tuple[float, ...]:
    """24 relative hourly weights: a triangular peak in working hours, low elsewhere."""
    work = range(p.workday_start_h, p.workday_end_h)
    tri = {h: max(0.0, 1.0 - abs(h - p.peak_h) / p.peak_spread_h) for h in work}
    m = sum(tri.values()) / max(len(tri), 1)
    k = (p.peak_factor - 1.0) / (1.0 - p.peak_factor * m) if p.peak_factor * m < 1 else 0.0
    raw = {h: 1.0 + k * tri[h] for h in work}
    mean_work = sum(raw.values()) / max(len(raw), 1)
    return tuple(raw[h] / mean_work if h in raw else p.off_hours_ratio for h in range(24))


def arrival_rate(t_seconds: float, params: WorkloadParams) -> float:
    """Org-wide pull-request openings per hour at `t_seconds` since Monday 00:00 local."""
    if params.profile == "constant":
        return params.constant_rate_per_hour
    hour_index = int(t_seconds // HOUR)
    day, hour = divmod(hour_index, 24)
    weekday, week = day % 7, day // 7
    weights = _hour_weights(params)
    daily = params.engineers * params.prs_per_engineer_day * params.weekday_weights[weekday]
    rate = daily * weights[hour] / sum(weights)
    if weekday == 0 and params.monday_burst_start_h <= hour < params.monday_burst_end_h:
        rate *= params.monday_burst_factor
    cut = params.release_cut_hour
    if (
        weekday == params.release_cut_weekday
        and week % max(params.release_cut_every_weeks, 1) == 0
        and cut - params.release_cut_lead_h <= hour < cut
    ):
        rate *= params.release_cut_factor
    return rate


@lru_cache(maxsize=32)
def peak_rate(params: WorkloadParams) -> float:
    """An upper bound of `arrival_rate` over all time (for thinning)."""
    weeks = max(params.release_cut_every_weeks, 1)
    return max(arrival_rate(h * HOUR, params) for h in range(weeks * 7 * 24)) or 1e-9


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    engineers: tuple[str, ...]
    services: tuple[str, ...]


def build_teams(params: WorkloadParams, blueprint: Blueprint, rng: random.Random) -> list[Team]:
    """Teams of uneven (lognormal) size; blueprint owners first, each with its services."""
    shared = set(blueprint.shared_services) if params.exclude_shared_services else set()
    owned: dict[str, list[str]] = {}
    for svc in blueprint.services:
        if svc.name not in shared:
            owned.setdefault(svc.team, []).append(svc.name)
    names = sorted(owned)[: params.teams]
    names += [f"team-{i:02d}" for i in range(len(names) + 1, params.teams + 1)]
    weights = [math.exp(rng.gauss(0.0, params.team_size_sigma)) for _ in names]
    floor = min(3, params.engineers // max(params.teams, 1))
    spare = params.engineers - floor * len(names)
    exact = [spare * w / sum(weights) for w in weights]
    sizes = [floor + int(x) for x in exact]
    order = sorted(range(len(names)), key=lambda i: int(exact[i]) - exact[i])
    for i in order[: params.engineers - sum(sizes)]:
        sizes[i] += 1
    pool = sorted(s for svcs in owned.values() for s in svcs)
    teams, engineer = [], 0
    for name, size in zip(names, sizes, strict=True):
        services = owned.get(name) or rng.sample(pool, k=min(2, len(pool)))
        members = tuple(f"eng-{engineer + j:04d}" for j in range(size))
        engineer += size
        teams.append(Team(name, members, tuple(services)))
    return teams


@dataclass(frozen=True, slots=True)
class PullRequestPlan:
    """Everything about one pull request, drawn when it is opened (times in seconds)."""

    serial: int
    repository: str
    number: int
    team: str
    author: str
    opened_at_s: float
    lifetime_s: float
    merged: bool
    draft: bool
    ready_after_s: float | None
    push_offsets_s: tuple[float, ...]
    changed_paths: tuple[str, ...]
    labels: tuple[str, ...]
    had_migrations: bool
    reopen_after_s: float | None


def _paths(blueprint: Blueprint, services: list[str], migration_db: str | None) -> list[str]:
    out = []
    for name in services:
        svc = blueprint.service(name)
        if svc is not None and svc.paths:
            out.append(svc.paths[0].replace("*", "handler.py"))
    for db in blueprint.databases:
        if db.name == migration_db:
            out.append(db.migrations[0].replace("*", "0042_change"))
    return out


class PlanFactory:
    """Draws pull-request plans in arrival order from one generator."""

    def __init__(self, params: WorkloadParams, blueprint: Blueprint, rng: random.Random) -> None:
        self.params, self.blueprint, self.rng = params, blueprint, rng
        self.teams = build_teams(params, blueprint, rng)
        self.engineers = [(t, e) for t in self.teams for e in t.engineers]
        self.activity = [math.exp(rng.gauss(0.0, params.activity_sigma)) for _ in self.engineers]
        self.cum = [sum(self.activity[: i + 1]) for i in range(len(self.activity))]
        self.numbers: dict[str, int] = {}
        self.serial = 0
        shared = set(blueprint.shared_services) if params.exclude_shared_services else set()
        self.all_services = [s.name for s in blueprint.services if s.name not in shared]

    def draw(self, now_s: float) -> PullRequestPlan:
        p, rng, bp = self.params, self.rng, self.blueprint
        team, author = rng.choices(self.engineers, cum_weights=self.cum)[0]
        services = [rng.choice(team.services)]
        while rng.random() < p.extra_services_mean / (1.0 + p.extra_services_mean):
            services.append(rng.choice(self.all_services))
        services = sorted(set(services))
        migration_db: str | None = None
        if bp.databases and rng.random() < p.migration_fraction:
            migration_db = rng.choice(bp.databases).name
        merged = rng.random() < p.merge_fraction
        life = sample(p.lifetime_merged, rng) * (1.0 if merged else p.closed_lifetime_factor)
        life = min(max(life, 60.0), p.lifetime_max_h * HOUR)
        draft = rng.random() < p.draft_fraction
        ready_after = (
            rng.uniform(0, life) if draft and rng.random() < p.draft_ready_fraction else None
        )
        pushes = _poisson(p.pushes_mean, rng)
        offsets = tuple(sorted(rng.uniform(0, life) for _ in range(pushes)))
        labels = ("hotfix",) if rng.random() < p.hotfix_fraction else ()
        reopen = sample(p.reopen_after, rng) if rng.random() < p.reopen_rate else None
        frontend = all(path.startswith("frontend/") for path in _paths(bp, services, None))
        repo = bp.repositories[1] if frontend and len(bp.repositories) > 1 else bp.repositories[0]
        self.numbers[repo] = self.numbers.get(repo, 0) + 1
        self.serial += 1
        return PullRequestPlan(
            serial=self.serial,
            repository=repo,
            number=self.numbers[repo],
            team=team.name,
            author=author,
            opened_at_s=now_s,
            lifetime_s=life,
            merged=merged,
            draft=draft,
            ready_after_s=ready_after,
            push_offsets_s=offsets,
            changed_paths=tuple(_paths(bp, services, migration_db)),
            labels=labels,
            had_migrations=migration_db is not None,
            reopen_after_s=reopen,
        )


def _poisson(lam: float, rng: random.Random) -> int:
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


class PullRequestSink(Protocol):
    """What the workload tells the world (the webhook, in production)."""

    def opened(self, plan: PullRequestPlan) -> None: ...

    def pushed(self, plan: PullRequestPlan, push: int) -> None: ...

    def ready_for_review(self, plan: PullRequestPlan) -> None: ...

    def closed(self, plan: PullRequestPlan) -> None: ...

    def reopened(self, plan: PullRequestPlan) -> None: ...


Proc = Generator[simpy.Event, Any, None]


def pull_request_life(env: simpy.Environment, plan: PullRequestPlan, sink: PullRequestSink) -> Proc:
    """One pull request from opening to closing (and an optional re-open)."""
    sink.opened(plan)
    events: list[tuple[float, int]] = [(o, i + 1) for i, o in enumerate(plan.push_offsets_s)]
    if plan.ready_after_s is not None:
        events.append((plan.ready_after_s, 0))
    elapsed = 0.0
    for offset, what in sorted(events):
        yield env.timeout(offset - elapsed)
        elapsed = offset
        if what == 0:
            sink.ready_for_review(plan)
        else:
            sink.pushed(plan, what)
    yield env.timeout(plan.lifetime_s - elapsed)
    sink.closed(plan)
    if plan.reopen_after_s is not None:
        yield env.timeout(plan.reopen_after_s)
        sink.reopened(plan)
        yield env.timeout(plan.lifetime_s)
        sink.closed(plan)


def pr_arrivals(
    env: simpy.Environment,
    params: WorkloadParams,
    factory: PlanFactory,
    *,
    rng: random.Random,
    start: Callable[[PullRequestPlan], None],
) -> Proc:
    """Open pull requests at `arrival_rate`: Poisson at each hour's rate.

    The rate is constant within each hour, and the exponential gap is
    memoryless, so a gap that crosses the next hour is drawn afresh from there:
    exact, and one event per pull request (thinning against the peak rate
    took one per candidate, ten times as many).
    """
    hour = int(env.now // HOUR)
    while True:
        rate = arrival_rate(hour * HOUR, params)
        boundary = (hour + 1) * HOUR
        gap = rng.expovariate(rate / HOUR) if rate > 0 else math.inf
        if env.now + gap >= boundary:
            yield env.timeout(max(boundary - env.now, 0.0))
            hour += 1
            continue
        yield env.timeout(gap)
        start(factory.draw(env.now))
