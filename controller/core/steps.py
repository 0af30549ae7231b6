"""The action that starts each provisioning step after the volume.

One small table from `Step` to the action it starts, so reconcile stays free
of per-step branches. The GDPR gate lives in the step order itself: the
deploy step, the only one that hands out database credentials, comes after
masking, and reconcile only ever starts the first unfinished step.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.actions import Action, ApplyRoutes, DeployServices, RunMasking, RunMigrations
from controller.core.routing import RoutePlan
from controller.core.types import PullRequest, Step


@dataclass(frozen=True, slots=True)
class StepContext:
    """What the step actions need to know about the environment."""

    pr: PullRequest
    namespace: str
    databases: tuple[str, ...]
    route_plan: RoutePlan | None


def plan_step(step: Step, ctx: StepContext, *, attempt: int) -> Action:
    """The action that starts `step` for the pull request's head."""
    key, sha = ctx.pr.key, ctx.pr.head_sha
    if step is Step.MIGRATIONS:
        return RunMigrations(key, sha, ctx.databases, attempt)
    if step is Step.MASKING:
        return RunMasking(key, sha, ctx.databases, attempt)
    if ctx.route_plan is None:
        raise AssertionError(f"{step} needs a route plan")  # reconcile always supplies it
    if step is Step.DEPLOY:
        return DeployServices(key, sha, ctx.route_plan.in_pr, attempt)
    if step is Step.ROUTES:
        return ApplyRoutes(key, sha, ctx.route_plan, attempt)
    raise AssertionError(f"{step} is started by reconcile itself")
