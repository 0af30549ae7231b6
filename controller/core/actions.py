"""The closed union of actions a plan may contain, and the plan itself.

Shells (the Kubernetes controller, the simulation, the in-memory cluster)
match on `Action` exhaustively with `assert_never`, so adding a kind here
makes every shell that forgot it fail type checking. Actions are data: they
say what to do, never how.

Contract with the shells: executing an action makes its effect observable at
once (an asynchronous step is observed as Running from the moment it is
started), so reconciling again never starts the same work twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from controller.core.routing import RoutePlan
from controller.core.types import EnvKey, EnvStatus


@dataclass(frozen=True, slots=True)
class AddFinalizer:
    """Put `mayfly.dev/teardown` on the environment before anything is created."""

    key: EnvKey


@dataclass(frozen=True, slots=True)
class Admit:
    """Grant the environment a live-environment ticket against its team's quota."""

    key: EnvKey
    team: str


@dataclass(frozen=True, slots=True)
class CreateNamespace:
    """Create the PR namespace with its quota, limits and deny-production policy."""

    key: EnvKey
    namespace: str
    team: str


@dataclass(frozen=True, slots=True)
class ClaimWarmSlot:
    """Bind a ready warm-pool clone to the environment (fast path)."""

    key: EnvKey
    slot_id: str


@dataclass(frozen=True, slots=True)
class CloneVolume:
    """Clone the database volume from the golden snapshot (slow path, no slot free)."""

    key: EnvKey
    generation: int
    attempt: int


@dataclass(frozen=True, slots=True)
class RunMigrations:
    """Run the PR's migrations for these databases on the clone."""

    key: EnvKey
    sha: str
    databases: tuple[str, ...]
    attempt: int


@dataclass(frozen=True, slots=True)
class RunMasking:
    """Re-mask what the PR's migrations touched, for these databases."""

    key: EnvKey
    sha: str
    databases: tuple[str, ...]
    attempt: int


@dataclass(frozen=True, slots=True)
class DeployServices:
    """Deploy the services of the route plan at `sha`, with database credentials.

    Only ever planned once masking of `sha` has succeeded (the GDPR gate).
    """

    key: EnvKey
    sha: str
    services: tuple[str, ...]
    attempt: int


@dataclass(frozen=True, slots=True)
class RevokeDatabaseAccess:
    """Take database credentials away from the workloads before a re-migration."""

    key: EnvKey


@dataclass(frozen=True, slots=True)
class ApplyRoutes:
    """Apply the mesh routes (and deny-production egress) of the route plan."""

    key: EnvKey
    sha: str
    plan: RoutePlan
    attempt: int


@dataclass(frozen=True, slots=True)
class ReportStatus:
    """Write the environment's status (and report it to GitHub)."""

    key: EnvKey
    status: EnvStatus


@dataclass(frozen=True, slots=True)
class TearDown:
    """Delete the namespace and everything in it, and the claimed volume."""

    key: EnvKey
    namespace: str
    slot_id: str | None


@dataclass(frozen=True, slots=True)
class ReleaseQuota:
    """Return the environment's ticket to its team once nothing of it is left."""

    key: EnvKey
    team: str


@dataclass(frozen=True, slots=True)
class RemoveFinalizer:
    """Remove `mayfly.dev/teardown`: always the last action for an environment."""

    key: EnvKey


@dataclass(frozen=True, slots=True)
class ReplenishPool:
    """Start warming new pool slots from the golden snapshot `generation`."""

    slot_ids: tuple[str, ...]
    generation: int


@dataclass(frozen=True, slots=True)
class DrainSlots:
    """Delete unclaimed slots: stale after a golden refresh, or above the target size."""

    slot_ids: tuple[str, ...]


Action = (
    AddFinalizer
    | Admit
    | CreateNamespace
    | ClaimWarmSlot
    | CloneVolume
    | RunMigrations
    | RunMasking
    | DeployServices
    | RevokeDatabaseAccess
    | ApplyRoutes
    | ReportStatus
    | TearDown
    | ReleaseQuota
    | RemoveFinalizer
    | ReplenishPool
    | DrainSlots
)

ENV_ACTIONS = (
    AddFinalizer,
    Admit,
    CreateNamespace,
    ClaimWarmSlot,
    CloneVolume,
    RunMigrations,
    RunMasking,
    DeployServices,
    RevokeDatabaseAccess,
    ApplyRoutes,
    ReportStatus,
    TearDown,
    ReleaseQuota,
    RemoveFinalizer,
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do now, in order, and when to look again (None: only on change)."""

    actions: tuple[Action, ...] = ()
    requeue_after: timedelta | None = None
