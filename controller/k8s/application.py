"""Apply one plan: every effect of a reconcile cycle goes through this module.

Actions are grouped by environment and each group is applied in plan order
(the core orders them: finalizer first, status after the work), groups in
parallel on a small thread pool, pool actions last. Every action is matched
exhaustively; each write is a server-side apply or a delete whose effect the
next cycle sees (the cache stores each response), so reconciling again never
starts work twice.
API failures are collected as `KubeError`s for the loop to retry; a group
stops at its first failure. `apply` runs a whole plan and waits; the loop's
pipeline (controller/k8s/pipeline.py) instead runs groups one by one through
`run_group`. It decides nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, assert_never

from controller.core.actions import (
    Action,
    AddFinalizer,
    Admit,
    ApplyRoutes,
    ClaimWarmSlot,
    CloneVolume,
    CreateNamespace,
    DeployServices,
    DrainSlots,
    Plan,
    ReleaseQuota,
    RemoveFinalizer,
    ReplenishPool,
    ReportStatus,
    RevokeDatabaseAccess,
    RunMasking,
    RunMigrations,
    TearDown,
)
from controller.core.blueprint import Blueprint
from controller.core.types import EnvKey, EnvStatus, Step
from controller.k8s import kube, metrics, names, pe
from controller.k8s import render_namespace as rns
from controller.k8s import render_steps as rsteps
from controller.k8s.config import ShellConfig
from controller.k8s.errors import KubeError, NotFoundError
from controller.k8s.observe import View
from controller.k8s.volume_writes import VolumeWrites

Obj = dict[str, Any]
log = logging.getLogger("mayfly.apply")
FRAMED = "mayfly-framed"  # field manager of the namespace's `framed` mark


_META = (AddFinalizer, Admit, ReleaseQuota, RemoveFinalizer)


class Reporter(Protocol):
    """Where statuses go besides the PreviewEnvironment (GitHub Deployments)."""

    def report(self, key: EnvKey, status: EnvStatus) -> None: ...


@dataclass(slots=True)
class EnvState:
    obj: Obj | None
    finalizer: bool
    admitted: bool
    defer: bool = False  # another metadata change follows: write both at once
    skipped: int = 0  # actions of this group with nothing to write


def group_actions(plan: Plan) -> tuple[dict[EnvKey, list[Action]], list[Action]]:
    """The plan's actions by environment (in plan order), and the pool actions."""
    groups: dict[EnvKey, list[Action]] = {}
    pool: list[Action] = []
    for action in plan.actions:
        key = getattr(action, "key", None)
        if isinstance(key, EnvKey):
            groups.setdefault(key, []).append(action)
        else:
            pool.append(action)
    return groups, pool


class Application(VolumeWrites):
    """Applies the actions of one plan against the API for one Blueprint's view."""

    def __init__(
        self,
        api: kube.Kube,
        view: View,
        *,
        bp: Blueprint,
        cfg: ShellConfig,
        now: datetime,
        reporter: Reporter | None = None,
    ) -> None:
        self.api, self.view, self.bp, self.cfg, self.now = api, view, bp, cfg, now
        self.reporter = reporter
        self.skipped = 0  # actions with nothing to write (no PreviewEnvironment left)
        self.groups = 0
        self.prs = {pr.key: pr for pr in view.desired.prs}
        self.envs = {env.key: env for env in view.observed.environments}

    # -- the plan -------------------------------------------------------------
    def apply(self, plan: Plan, *, workers: int = 8) -> list[KubeError]:
        groups, pool = group_actions(plan)
        errors: list[KubeError] = []
        items = list(groups.items())
        self.groups = len(items) + len(pool)
        if len(items) > 1 and workers > 1:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply") as ex:
                results = list(ex.map(lambda item: self._group(*item), items))
        else:
            results = [self._group(k, a) for k, a in items]
        errors.extend(e for e in results if e is not None)
        for action in pool:
            try:
                self.execute(action, None)
            except KubeError as exc:
                errors.append(exc)
        return errors

    def env_state(self, key: EnvKey) -> EnvState:
        """What one environment's group carries from action to action (its PE object)."""
        env = self.envs.get(key)
        return EnvState(
            obj=self.view.pes.get(key),
            finalizer=env.finalizer if env else False,
            admitted=env.admitted if env else False,
        )

    def _group(
        self, key: EnvKey, actions: list[Action], state: EnvState | None = None
    ) -> KubeError | None:
        """Apply one environment's actions in order; stop at the first failure."""
        state = state if state is not None else self.env_state(key)
        for index, action in enumerate(actions):
            following = actions[index + 1] if index + 1 < len(actions) else None
            state.defer = isinstance(action, _META) and isinstance(following, _META)
            try:
                self.execute(action, state)
            except KubeError as exc:
                metrics.RECONCILE_ERRORS.labels(type(exc).__name__).inc()
                log.warning(
                    "event=action_failed action=%s env=%s status=%s reason=%s message=%r",
                    type(action).__name__,
                    names.env_name(key),
                    exc.status,
                    exc.reason,
                    str(exc)[:300],
                )
                return exc
        return None

    def run_group(
        self, key: EnvKey, actions: list[Action], state: EnvState | None = None
    ) -> KubeError | None:
        return self._group(key, actions, state)

    # -- one action -------------------------------------------------------------
    def execute(self, action: Action, state: EnvState | None) -> None:
        metrics.ACTIONS.labels(type(action).__name__).inc()
        match action:
            case AddFinalizer(key):
                self._pe_meta(key, state, finalizer=True)
            case RemoveFinalizer(key):
                self._pe_meta(key, state, finalizer=False)
            case Admit(key, _team):
                self._pe_meta(key, state, admitted=True)
            case ReleaseQuota(key, _team):
                self._pe_meta(key, state, admitted=False)
            case CreateNamespace(key, namespace, team):
                self._create_namespace(key, namespace, team)
            case ClaimWarmSlot(key, slot_id):
                self._claim(key, slot_id)
            case CloneVolume(key, generation, attempt):
                self._clone(key, generation, attempt)
            case RunMigrations(key, sha, databases, attempt):
                self._job(key, Step.MIGRATIONS, sha, databases, attempt)
            case RunMasking(key, sha, databases, attempt):
                self._job(key, Step.MASKING, sha, databases, attempt)
            case DeployServices(key, sha, services, attempt):
                self._deploy(key, sha, services, attempt)
            case RevokeDatabaseAccess(key):
                self._revoke(key)
            case ApplyRoutes(key, sha, plan, attempt):
                self._routes(key, sha, plan, attempt)
            case ReportStatus(key, status):
                self._report(key, status, state)
            case TearDown(key, namespace, _slot_id):
                self._teardown(key, namespace)
            case ReplenishPool(slot_ids, generation):
                snapshot = self.view.golden.get(generation)
                self._each(
                    slot_ids,
                    lambda slot_id: self.api.apply(
                        rsteps.slot_pvc(
                            slot_id,
                            generation=generation,
                            snapshot=snapshot,
                            blueprint=self.bp.name,
                            cfg=self.cfg,
                        )
                    ),
                )
            case DrainSlots(slot_ids):
                self._each(
                    slot_ids,
                    lambda slot_id: self.api.delete(kube.PVC, slot_id, self.cfg.pool_namespace),
                )
            case _:
                assert_never(action)

    @staticmethod
    def _each(slot_ids: tuple[str, ...], write: Callable[[str], object]) -> None:
        """One write per pool slot, eight at a time; the first failure is raised after all ran."""
        if len(slot_ids) <= 1:
            for slot_id in slot_ids:
                write(slot_id)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(slot_ids)), thread_name_prefix="pool") as ex:
            futures = [ex.submit(write, slot_id) for slot_id in slot_ids]
        failures = [exc for f in futures if (exc := f.exception()) is not None]
        if failures:
            raise failures[0]

    # -- helpers ------------------------------------------------------------------
    def _pe_meta(
        self,
        key: EnvKey,
        state: EnvState | None,
        *,
        finalizer: bool | None = None,
        admitted: bool | None = None,
    ) -> None:
        if state is None or state.obj is None:
            self.skipped += 1
            if state is not None:
                state.skipped += 1
            return  # no PreviewEnvironment left: nothing to mark
        if finalizer is not None:
            state.finalizer = finalizer
        if admitted is not None:
            state.admitted = admitted
        if state.defer:
            return
        md = state.obj["metadata"]
        body: Obj = {
            "apiVersion": names.API_VERSION,
            "kind": names.PE_KIND,
            "metadata": {
                "name": md["name"],
                "namespace": md["namespace"],
                "resourceVersion": md["resourceVersion"],
                "finalizers": [names.FINALIZER] if state.finalizer else [],
                "labels": {names.ADMITTED: "true"} if state.admitted else {},
            },
        }
        try:
            state.obj = self.api.apply(body)
        except NotFoundError:
            state.obj = None  # deleted meanwhile: nothing left to mark

    def _create_namespace(self, key: EnvKey, namespace: str, team: str) -> None:
        pr = self.prs.get(key)
        for obj in rns.frame(
            key,
            namespace,
            team=team,
            owner=pr.author if pr else "",
            blueprint=self.bp.name,
            production=self.bp.production_namespaces,
            quota=self.cfg.quota,
        ):
            self.api.apply(obj)
        # last, by its own field manager (one body per manager: see volume_writes.HOLD)
        self.api.apply(rns.framed(namespace), manager=FRAMED)

    def _report(self, key: EnvKey, status: EnvStatus, state: EnvState | None) -> None:
        env = self.envs.get(key)
        md = state.obj["metadata"] if state is not None and state.obj is not None else None
        if md is not None and md.get("deletionTimestamp") and not md.get("finalizers"):
            md = None  # the last finalizer went: the object is being removed
        if state is not None and md is not None:
            try:
                state.obj = self.api.apply(
                    pe.status_patch(md["name"], md["namespace"], status), subresource="status"
                )
            except NotFoundError:
                state.obj = None
        else:
            self.skipped += 1
            if state is not None:
                state.skipped += 1
        metrics.observe_transition(env.status if env else None, status)
        log.info(
            "event=phase env=%s phase=%s reason=%s",
            self._ns(key),
            status.phase.value,
            status.reason.value or "-",
        )
        if self.reporter is not None:
            self.reporter.report(key, status)

    def _teardown(self, key: EnvKey, namespace: str) -> None:
        if key not in self.prs:
            metrics.ORPHANS_REMOVED.inc()
        self._drop_volumes(key)
        self.api.delete(kube.NAMESPACE, namespace)
