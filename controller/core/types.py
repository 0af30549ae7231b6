"""Value types of the reconciliation core: pull requests, observed world, status.

Everything here is a frozen, slotted dataclass holding tuples, or an enum. No
I/O, no clock, no randomness: the shells build these values from what they
see (the Kubernetes API, a simulated cluster) and hand them to `reconcile`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from controller.core.blueprint import REPOSITORY, Blueprint

SHA = r"^[0-9a-f]{7,64}$"


class PRState(StrEnum):
    """State of a pull request as GitHub reports it."""

    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class Phase(StrEnum):
    """Lifecycle phase of one preview environment (see `lifecycle.py`)."""

    PENDING = "Pending"
    QUEUED = "Queued"
    CLAIMING = "Claiming"
    CLONING = "Cloning"
    MIGRATING = "Migrating"
    MASKING = "Masking"
    DEPLOYING = "Deploying"
    ROUTING = "Routing"
    READY = "Ready"
    UPDATING = "Updating"
    EXPIRED = "Expired"
    TEARING_DOWN = "TearingDown"
    GONE = "Gone"
    FAILED = "Failed"


class Reason(StrEnum):
    """Why an environment is where it is: expected problems are data, not exceptions."""

    NONE = ""
    TEAM_QUOTA = "TeamQuotaReached"
    CONCURRENCY_CAP = "ConcurrencyCapReached"
    CLONE_FAILED = "CloneFailed"
    MIGRATIONS_FAILED = "MigrationsFailed"
    MASKING_FAILED = "MaskingFailed"
    DEPLOY_FAILED = "DeployFailed"
    ROUTING_FAILED = "RoutingFailed"
    STEP_TIMEOUT = "StepTimedOut"
    ROUTE_PLAN_INVALID = "RoutePlanInvalid"
    PR_CLOSED = "PullRequestClosed"
    PR_DRAFT = "PullRequestIsDraft"
    TTL_EXPIRED = "TTLExpired"
    IDLE_EXPIRED = "IdleExpired"
    DELETED = "EnvironmentDeleted"


class Step(StrEnum):
    """An asynchronous provisioning step, in the order they run."""

    VOLUME = "volume"
    MIGRATIONS = "migrations"
    MASKING = "masking"
    DEPLOY = "deploy"
    ROUTES = "routes"


class StepStatus(StrEnum):
    """Progress of one run of a step."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class SlotState(StrEnum):
    """A warm-pool slot: a database volume cloned from the golden snapshot ahead of demand."""

    WARMING = "Warming"
    READY = "Ready"
    CLAIMED = "Claimed"


class EnvKey(NamedTuple):
    """Identity of a preview environment: one per pull request of one repository.

    A named tuple rather than a dataclass: keys are hashed and compared hundreds
    of times per reconcile, and tuples do both in C.
    """

    repository: str
    number: int

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"


@dataclass(frozen=True, slots=True)
class PullRequest:
    """What a pull request asks for: the desired side of reconciliation."""

    repository: str = field(metadata={"pattern": REPOSITORY, "doc": "owner/name"})
    number: int = field(metadata={"minimum": 1, "doc": "pull request number"})
    head_sha: str = field(metadata={"pattern": SHA, "doc": "commit the environment runs"})
    base_sha: str = field(metadata={"pattern": SHA, "doc": "commit of the base branch"})
    team: str = field(metadata={"pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "doc": "team"})
    author: str = field(metadata={"max_length": 39, "doc": "GitHub login of the author"})
    opened_at: datetime = field(metadata={"doc": "when the pull request was opened"})
    updated_at: datetime = field(metadata={"doc": "time of the latest push"})
    labels: tuple[str, ...] = field(default=(), metadata={"doc": "pull request labels"})
    draft: bool = field(default=False, metadata={"doc": "whether the PR is a draft"})
    changed_paths: tuple[str, ...] = field(
        default=(), metadata={"doc": "repository paths the pull request changes"}
    )
    state: PRState = field(default=PRState.OPEN, metadata={"doc": "open, closed or merged"})
    key: EnvKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", EnvKey(self.repository, self.number))


@dataclass(frozen=True, slots=True)
class StepRecord:
    """The latest run of one step of one environment, as observed."""

    step: Step
    sha: str
    status: StepStatus
    started_at: datetime
    attempt: int = 1
    finished_at: datetime | None = None
    reason: Reason = Reason.NONE
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EnvStatus:
    """What the environment reports (PreviewEnvironment status, GitHub deployment)."""

    phase: Phase
    reason: Reason = Reason.NONE
    message: str = ""
    namespace: str = ""
    url: str = ""
    sha: str = ""
    queue_position: int | None = None
    transitions: tuple[tuple[Phase, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class ObservedEnvironment:
    """Everything that exists for one environment, rebuilt from the world each time."""

    key: EnvKey
    team: str = ""
    finalizer: bool = False
    admitted: bool = False
    deletion_requested: bool = False
    namespace_exists: bool = False
    namespace_terminating: bool = False
    slot_id: str | None = None
    steps: tuple[StepRecord, ...] = ()
    db_access_sha: str | None = None
    status: EnvStatus | None = None
    first_seen: datetime | None = None

    def step(self, step: Step) -> StepRecord | None:
        """The latest record of `step`, if it ever ran."""
        for record in self.steps:
            if record.step is step:
                return record
        return None

    @property
    def has_resources(self) -> bool:
        """True while anything in the cluster still belongs to this environment."""
        return self.namespace_exists or self.slot_id is not None


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One warm-pool slot."""

    id: str
    generation: int
    state: SlotState
    created_at: datetime
    claimed_by: EnvKey | None = None


@dataclass(frozen=True, slots=True)
class ObservedIndex:
    """The observed world by key, as an observer that keeps an index hands it over.

    Optional: an observer that keeps its cache indexed (an informer, the
    in-memory cluster) passes it so that `reconcile` need not index the
    tuples itself on every call. It must describe exactly the same world as
    the tuples of its `ObservedState`; the mappings must not change afterwards.
    """

    environments: Mapping[EnvKey, ObservedEnvironment]
    slots: Mapping[str, Slot]
    unclaimed: tuple[Slot, ...]  # warming or ready slots that nobody claimed

    @staticmethod
    def of(environments: Iterable[ObservedEnvironment], slots: Iterable[Slot]) -> ObservedIndex:
        """Index plain collections (what `reconcile` does when no index is given)."""
        by_id = {s.id: s for s in slots}
        unclaimed = tuple(
            s for s in by_id.values() if s.claimed_by is None and s.state is not SlotState.CLAIMED
        )
        return ObservedIndex({e.key: e for e in environments}, by_id, unclaimed)


@dataclass(frozen=True, slots=True)
class ObservedState:
    """The observed world: environments, warm-pool slots, newest golden snapshot."""

    environments: Collection[ObservedEnvironment] = ()  # a tuple, or a view of `index`
    slots: Collection[Slot] = ()
    golden_generation: int = 1
    index: ObservedIndex | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DesiredState:
    """What is asked for: the blueprint and the pull requests it serves.

    `index` (optional, by key) is the pull requests as a mapping the shell keeps
    anyway; it must hold exactly `prs` and must not change afterwards.
    """

    blueprint: Blueprint
    prs: tuple[PullRequest, ...] = field(default=())
    index: Mapping[EnvKey, PullRequest] | None = field(default=None, compare=False, repr=False)
