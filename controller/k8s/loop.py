"""The controller loop: watches feed Blueprint keys into the work queue; workers reconcile.

Per key (one Blueprint, the core's global view of all its pull requests):
fetch, build the core values, `reconcile`, apply the plan, then requeue
after `requeue_after` (or at once when the plan did something, so the next
step starts without waiting for a watch event). Failures are retried per key
with exponential backoff; a periodic resync re-queues every Blueprint so
expiry and the orphan sweep run even when nothing changes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.blueprint_file import read_blueprint
from controller.core.actions import Plan
from controller.core.blueprint import Blueprint, load_blueprint
from controller.core.reconcile import reconcile
from controller.core.schema import SchemaError
from controller.k8s import kube, metrics, names, observe
from controller.k8s.application import Application, Reporter
from controller.k8s.config import ShellConfig
from controller.k8s.errors import ConflictError, KubeError, RetryableError
from controller.k8s.watch import Watcher
from controller.k8s.workqueue import WorkQueue

log = logging.getLogger("mayfly.controller")
Obj = dict[str, Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Controller:
    def __init__(
        self,
        api: kube.Kube,
        cfg: ShellConfig,
        *,
        blueprint_files: tuple[Path, ...] = (),
        reporter: Reporter | None = None,
        clock: Callable[[], datetime] = utcnow,
        workers: int = 2,
        apply_workers: int = 16,
        resync_seconds: float = 30.0,
    ) -> None:
        self.api, self.cfg, self.reporter, self.clock = api, cfg, reporter, clock
        self.files = blueprint_files
        self.queue = WorkQueue()
        self.workers, self.resync_seconds = workers, resync_seconds
        self.apply_workers = apply_workers
        self._blueprints: dict[str, Blueprint] = {}
        self._lock = threading.Lock()
        self.cycles = 0
        self.partial_retry = 1.0

    # -- blueprints -----------------------------------------------------------
    def load_blueprints(self) -> dict[str, Blueprint]:
        found: dict[str, Blueprint] = {}
        for path in self.files:
            bp = read_blueprint(path)
            found[bp.name] = bp
        items, _ = self.api.list(kube.BLUEPRINT, namespace=self.cfg.namespace)
        for obj in items:
            name = obj["metadata"]["name"]
            try:
                found[name] = load_blueprint({"name": name, **(obj.get("spec") or {})})
            except SchemaError as exc:
                log.warning("event=invalid_blueprint name=%s errors=%d", name, len(exc.errors))
        with self._lock:
            self._blueprints = found
        return found

    def blueprint_for(self, obj: Obj) -> list[str]:
        """Which Blueprint keys a changed object concerns."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if labels.get(names.BLUEPRINT):
            return [labels[names.BLUEPRINT]]
        if obj.get("kind") == names.BP_KIND:
            self.load_blueprints()
            return [obj["metadata"]["name"]]
        repo = (obj.get("spec") or {}).get("repository")
        with self._lock:
            return [n for n, bp in self._blueprints.items() if repo in bp.repositories]

    def enqueue_object(self, obj: Obj) -> None:
        for key in self.blueprint_for(obj):
            self.queue.add(key)
        metrics.QUEUE_DEPTH.set(len(self.queue))

    # -- one cycle --------------------------------------------------------------
    def reconcile_once(self, name: str) -> float | None:
        """One observe -> reconcile -> apply cycle; the delay before the next, if any."""
        with self._lock:
            bp = self._blueprints.get(name)
        if bp is None:
            return None
        metrics.RECONCILES.inc()
        self.cycles += 1
        started = time.perf_counter()
        snap = observe.fetch(self.api, bp, self.cfg)
        fetched = time.perf_counter()
        view = observe.build(bp, snap, prefix=self.cfg.policy.namespace_prefix)
        now = self.clock()
        plan = reconcile(view.desired, view.observed, now=now, policy=self.cfg.policy)
        decided = time.perf_counter()
        try:
            return self._apply(bp, view, plan, now)
        finally:
            metrics.CYCLE_SECONDS.labels("fetch").observe(fetched - started)
            metrics.CYCLE_SECONDS.labels("decide").observe(decided - fetched)
            metrics.CYCLE_SECONDS.labels("apply").observe(time.perf_counter() - decided)
            log.info(
                "event=cycle blueprint=%s environments=%d actions=%d fetch=%.3f decide=%.3f "
                "apply=%.3f",
                name,
                len(view.observed.environments),
                len(plan.actions),
                fetched - started,
                decided - fetched,
                time.perf_counter() - decided,
            )

    def _apply(self, bp: Blueprint, view: observe.View, plan: Plan, now: datetime) -> float | None:
        phases: dict[str, int] = {}
        for env in view.observed.environments:
            if env.status is not None:
                phases[env.status.phase.value] = phases.get(env.status.phase.value, 0) + 1
        for phase, count in phases.items():
            metrics.ENVIRONMENTS.labels(phase).set(count)
        if plan.actions:
            app = Application(self.api, view, bp=bp, cfg=self.cfg, now=now, reporter=self.reporter)
            errors = app.apply(plan, workers=self.apply_workers)
            if errors and len(errors) >= app.groups:
                retryable = [e for e in errors if isinstance(e, RetryableError)]
                raise (retryable or errors)[0]  # nothing went through: back off
            if errors:
                return self.partial_retry  # others progressed: retry the failed soon
            if app.skipped < len(plan.actions):
                return 0.0  # something changed: look again now
        return plan.requeue_after.total_seconds() if plan.requeue_after is not None else None

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            try:
                delay = self.reconcile_once(key)
            except KubeError as exc:
                metrics.RECONCILE_ERRORS.labels(type(exc).__name__).inc()
                backoff = self.queue.add_rate_limited(key)
                log.warning(
                    "event=reconcile_failed blueprint=%s status=%s reason=%s retry_in=%.2f",
                    key,
                    exc.status,
                    exc.reason,
                    backoff,
                )
            except Exception:
                metrics.RECONCILE_ERRORS.labels("unexpected").inc()
                log.exception("event=reconcile_crashed blueprint=%s", key)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
                if delay is not None:
                    self.queue.add_after(key, delay)
            finally:
                self.queue.done(key)
                metrics.QUEUE_DEPTH.set(len(self.queue))

    # -- running -----------------------------------------------------------------
    def ensure_namespaces(self) -> None:
        """Create the PreviewEnvironment and pool namespaces if missing; never relabel them."""
        for ns, labels in (
            (self.cfg.namespace, {names.MANAGED_BY: "mayfly"}),
            (self.cfg.pool_namespace, {names.MANAGED: "true", names.MANAGED_BY: "mayfly"}),
        ):
            if self.api.get(kube.NAMESPACE, ns) is not None:
                continue
            body = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": labels},
            }
            with contextlib.suppress(ConflictError):  # another replica created it
                self.api.create(body)

    def watchers(self, stop: threading.Event) -> list[Watcher]:
        owned = f"{names.MANAGED_BY}=mayfly"
        specs: list[tuple[kube.Kind, str | None]] = [
            (kube.PE, None),
            (kube.BLUEPRINT, None),
            (kube.NAMESPACE, f"{names.MANAGED}=true"),
            (kube.JOB, owned),
            (kube.DEPLOYMENT, owned),
            (kube.PVC, owned),
        ]
        return [Watcher(self.api, k, self.enqueue_object, selector=s, stop=stop) for k, s in specs]

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set: watchers, workers and the periodic resync."""
        self.ensure_namespaces()
        for name in self.load_blueprints():
            self.queue.add(name)
        threads: list[threading.Thread] = list(self.watchers(stop))
        threads += [
            threading.Thread(target=self._work, args=(stop,), name=f"worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        log.info("event=controller_started blueprints=%d", len(self._blueprints))
        last = time.monotonic()
        while not stop.wait(0.5):
            if time.monotonic() - last >= self.resync_seconds:
                last = time.monotonic()
                try:
                    for name in self.load_blueprints():
                        self.queue.add(name)
                except (KubeError, SchemaError, OSError) as exc:
                    log.warning("event=resync_failed error=%s", type(exc).__name__)
        self.queue.shutdown()
