"""The Blueprint: how to build a preview environment for the repositories it serves.

Frozen dataclasses whose field metadata (see `schema.py`) is the single source
of truth for the YAML loader's validation and for the Blueprint CRD schema.
`load_blueprint` adds the cross-field checks a schema cannot express (unknown
service names, duplicate names). It parses no files: the caller hands it the
mapping it read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from controller.core.schema import FieldError, SchemaError, decode

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
REPOSITORY = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"


def _f(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A dataclass field carrying schema metadata (and a tuple-safe default)."""
    if isinstance(default, tuple | list):
        value = tuple(default)
        return field(default_factory=lambda: value, metadata=meta)
    return field(default=default, metadata=meta)


class RoutingMode(StrEnum):
    """Which services run inside the PR namespace (DESIGN.md section 4)."""

    FULL = "full"
    AFFECTED = "affected"


@dataclass(frozen=True, slots=True)
class Service:
    """A service of the application, who calls it and which files belong to it."""

    name: str = _f(pattern=DNS_LABEL, max_length=50, doc="service name (DNS label)")
    team: str = _f(pattern=DNS_LABEL, doc="owning team")
    image: str = _f(doc="container image of the stable build")
    port: int = _f(8080, minimum=1, maximum=65535, doc="port the service listens on")
    paths: tuple[str, ...] = _f((), doc="glob patterns of repository paths owned by the service")
    calls: tuple[str, ...] = _f((), doc="names of the services this one calls")
    database: str | None = _f(None, doc="name of the database this service owns")


@dataclass(frozen=True, slots=True)
class Database:
    """A production database provided to environments as a masked copy-on-write clone."""

    name: str = _f(pattern=DNS_LABEL, doc="database name (DNS label)")
    migrations: tuple[str, ...] = _f(
        min_items=1, doc="glob patterns of the migration files of this database"
    )
    masking_rules: str = _f(doc="path of the masking rules file in the repository")
    size_gb: float = _f(0.0, minimum=0, doc="size of the production database in GB")


@dataclass(frozen=True, slots=True)
class TeamQuota:
    """The number of live environments one team may hold."""

    team: str = _f(pattern=DNS_LABEL)
    max_environments: int = _f(minimum=0, maximum=10000)


@dataclass(frozen=True, slots=True)
class Quotas:
    """Per-team quotas of live environments."""

    default_per_team: int = _f(5, minimum=0, maximum=10000, doc="quota of teams not listed")
    teams: tuple[TeamQuota, ...] = _f((), doc="per-team overrides")

    def for_team(self, team: str) -> int:
        for quota in self.teams:
            if quota.team == team:
                return quota.max_environments
        return self.default_per_team


@dataclass(frozen=True, slots=True)
class PoolHour:
    """Warm-pool size from this hour of the day on (local time of the schedule)."""

    hour: int = _f(minimum=0, maximum=23)
    size: int = _f(minimum=0, maximum=10000)


@dataclass(frozen=True, slots=True)
class PoolSchedule:
    """How many warm database clones to keep ready, by hour of day."""

    default_size: int = _f(0, minimum=0, maximum=10000, doc="size when no hour entry applies")
    hours: tuple[PoolHour, ...] = _f((), doc="size from each listed hour until the next one")
    max_warming: int = _f(10, minimum=1, maximum=1000, doc="slots warming at once, at most")
    utc_offset_hours: int = _f(0, minimum=-12, maximum=14, doc="time zone of the schedule")

    def size_at(self, hour_utc: int) -> int:
        """Target pool size at a UTC hour: the latest listed hour at or before it wins."""
        if not self.hours:
            return self.default_size
        local = (hour_utc + self.utc_offset_hours) % 24
        best: PoolHour | None = None
        for entry in self.hours:
            if entry.hour <= local and (best is None or entry.hour > best.hour):
                best = entry
        if best is None:  # before the first entry: the last entry of the previous day
            best = max(self.hours, key=lambda e: e.hour)
        return best.size


@dataclass(frozen=True, slots=True)
class Priority:
    """A label that moves pull requests up the admission queue."""

    label: str
    weight: int = _f(minimum=-1000, maximum=1000)


@dataclass(frozen=True, slots=True)
class Blueprint:
    """How to build preview environments for a set of repositories."""

    name: str = _f(pattern=DNS_LABEL, max_length=40, doc="blueprint name (DNS label)")
    repositories: tuple[str, ...] = _f(min_items=1, doc="owner/name of the served repositories")
    services: tuple[Service, ...] = _f(min_items=1, doc="the service graph")
    databases: tuple[Database, ...] = _f((), doc="databases cloned per environment")
    shared_services: tuple[str, ...] = _f(
        (), doc="services that never run per PR: always routed to their stable deployment"
    )
    routing_mode: RoutingMode = _f(RoutingMode.AFFECTED, doc="full or affected")
    baseline_namespace: str = _f("staging", pattern=DNS_LABEL, doc="where stable services run")
    production_namespaces: tuple[str, ...] = _f(
        ("production",), doc="namespaces no environment may ever reach"
    )
    ttl: timedelta = _f(timedelta(days=7), doc="environments are removed this long after opening")
    idle_expiry: timedelta = _f(timedelta(hours=48), doc="and after this long without a push")
    quotas: Quotas = _f(Quotas(), doc="live environments per team")
    max_concurrent_provisions: int = _f(20, minimum=1, maximum=10000, doc="global cap")
    pool: PoolSchedule = _f(PoolSchedule(), doc="warm pool of database clones")
    provision_drafts: bool = _f(False, doc="whether draft pull requests get an environment")
    priorities: tuple[Priority, ...] = _f(
        (Priority("hotfix", 100),), doc="labels that move a pull request up the queue"
    )
    url_template: str = _f(
        "https://{namespace}.preview.example.com", doc="environment URL; {namespace} is replaced"
    )

    def service(self, name: str) -> Service | None:
        for svc in self.services:
            if svc.name == name:
                return svc
        return None

    def priority_of(self, labels: tuple[str, ...]) -> int:
        return sum(p.weight for p in self.priorities if p.label in labels)


def _duplicates(names: list[str]) -> set[str]:
    seen: set[str] = set()
    return {n for n in names if n in seen or seen.add(n)}  # type: ignore[func-returns-value]


def cross_check(bp: Blueprint) -> tuple[FieldError, ...]:
    """Checks that need the whole blueprint: references and uniqueness."""
    errors: list[FieldError] = []
    names = [s.name for s in bp.services]
    known = set(names)
    dbs = {d.name for d in bp.databases}
    for dup in sorted(_duplicates(names)):
        errors.append(FieldError("services", f"service {dup!r} is declared more than once"))
    for dup in sorted(_duplicates([d.name for d in bp.databases])):
        errors.append(FieldError("databases", f"database {dup!r} is declared more than once"))
    for i, svc in enumerate(bp.services):
        for j, callee in enumerate(svc.calls):
            if callee not in known:
                errors.append(
                    FieldError(
                        f"services[{i}].calls[{j}]",
                        f"unknown service {callee!r}; expected one of the declared services",
                    )
                )
        if svc.database is not None and svc.database not in dbs:
            errors.append(
                FieldError(
                    f"services[{i}].database",
                    f"unknown database {svc.database!r}; declare it under databases",
                )
            )
    for i, shared in enumerate(bp.shared_services):
        if shared not in known:
            errors.append(
                FieldError(f"sharedServices[{i}]", f"unknown service {shared!r}; declare it")
            )
    if bp.baseline_namespace in bp.production_namespaces:
        errors.append(FieldError("baselineNamespace", "must not be one of productionNamespaces"))
    hours = [h.hour for h in bp.pool.hours]
    for dup in sorted(_duplicates([str(h) for h in hours])):
        errors.append(FieldError("pool.hours", f"hour {dup} is listed more than once"))
    if "{namespace}" not in bp.url_template:
        errors.append(FieldError("urlTemplate", "expected a template containing {namespace}"))
    return tuple(errors)


def load_blueprint(data: Mapping[str, Any]) -> Blueprint:
    """Validate a blueprint mapping; raise `SchemaError` naming every bad field."""
    bp = decode(Blueprint, data, what="blueprint")
    errors = cross_check(bp)
    if errors:
        raise SchemaError("blueprint", errors)
    return bp
