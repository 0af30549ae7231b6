"""The status an environment reports, rebuilt from the observed world every time.

The phase history (`transitions`) is the only thing carried over from the
previous status: a phase entered now is appended with `now`, so the history is
the trace from which the simulation is calibrated. Messages are fixed texts
with names and numbers, never personal data.
"""

from __future__ import annotations

from datetime import datetime

from controller.core.blueprint import Blueprint
from controller.core.policy import Policy
from controller.core.types import EnvStatus, ObservedEnvironment, Phase, PullRequest, Reason

_MESSAGES: dict[Reason, str] = {
    Reason.TEAM_QUOTA: "waiting: the team's quota of live environments is reached",
    Reason.CONCURRENCY_CAP: "waiting: the global cap on concurrent provisions is reached",
    Reason.CLONE_FAILED: "the database volume could not be cloned",
    Reason.MIGRATIONS_FAILED: "the migrations failed",
    Reason.MASKING_FAILED: "masking failed; no workload was given the database",
    Reason.DEPLOY_FAILED: "the services could not be deployed",
    Reason.ROUTING_FAILED: "the mesh routes could not be applied",
    Reason.STEP_TIMEOUT: "a provisioning step exceeded its timeout",
    Reason.PR_CLOSED: "the pull request is closed",
    Reason.PR_DRAFT: "draft pull requests get no environment in this blueprint",
    Reason.TTL_EXPIRED: "the environment reached its time to live",
    Reason.IDLE_EXPIRED: "the environment was idle past its expiry",
    Reason.DELETED: "the environment was deleted",
}


def build_status(
    phase: Phase,
    env: ObservedEnvironment,
    pr: PullRequest | None,
    *,
    bp: Blueprint,
    policy: Policy,
    now: datetime,
    namespace: str,
    reason: Reason,
    queue_position: int | None,
    message: str,
    attempts: int,
) -> EnvStatus:
    """The status to report for `env` in `phase`."""
    previous = env.status.transitions if env.status is not None else ()
    transitions = previous
    if not previous or previous[-1][0] is not phase:
        transitions = (*previous, (phase, now))[-policy.max_transitions :]
    text = message or _MESSAGES.get(reason, "")
    if phase is Phase.FAILED and reason is not Reason.ROUTE_PLAN_INVALID:
        retrying = attempts < policy.max_attempts
        text = f"{text} (attempt {attempts} of {policy.max_attempts}" + (
            ", retrying)" if retrying else ", giving up)"
        )
    if queue_position is not None:
        text = f"{text} (position {queue_position})"
    live = env.admitted or env.namespace_exists
    fields = (
        phase,
        reason if phase is not Phase.READY else Reason.NONE,
        text if phase is not Phase.READY else "",
        namespace if live else "",
        bp.url_template.replace("{namespace}", namespace) if phase is Phase.READY else "",
        pr.head_sha if pr is not None else (env.status.sha if env.status else ""),
        queue_position,
        transitions,
    )
    old = env.status
    if old is not None and fields == (
        old.phase,
        old.reason,
        old.message,
        old.namespace,
        old.url,
        old.sha,
        old.queue_position,
        old.transitions,
    ):
        return old  # unchanged: no new object, and the caller's comparison is by identity
    return EnvStatus(*fields)
