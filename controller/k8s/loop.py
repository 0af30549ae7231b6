"""The controller loop: watches feed Blueprint keys into the work queue; workers reconcile.

Per key (one Blueprint, the core's global view of all its pull requests):
read the Blueprint's objects from the informer cache (controller/k8s/cache.py,
filled by the watches and written through by every write), build the core
values, `reconcile`, and hand the plan to the write pipeline
(controller/k8s/pipeline.py), which writes shared effects before the cycle
ends and the rest in the background, queueing the key again as each
environment's writes finish; then requeue after `requeue_after`. Failures
are retried per key (pool actions) or per environment (its writes) with
exponential backoff; a periodic resync re-queues every Blueprint so expiry
and the orphan sweep run even when nothing changes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controller.blueprint_file import read_blueprint
from controller.core.actions import Plan
from controller.core.blueprint import Blueprint, load_blueprint
from controller.core.reconcile import reconcile
from controller.core.schema import SchemaError
from controller.k8s import kube, metrics, names, observe, retention
from controller.k8s.application import Application, Reporter
from controller.k8s.cache import CACHED, Cache
from controller.k8s.config import ShellConfig
from controller.k8s.errors import ConflictError, KubeError, RetryableError
from controller.k8s.pipeline import Pipeline, apply_pipelined
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
        retain_gone: timedelta = retention.DEFAULT_RETAIN,
    ) -> None:
        self.api, self.cfg, self.reporter, self.clock = api, cfg, reporter, clock
        self.retain_gone = retain_gone
        self.files = blueprint_files
        self.queue = WorkQueue()
        self.workers, self.resync_seconds = workers, resync_seconds
        self.apply_workers = apply_workers
        self._blueprints: dict[str, Blueprint] = {}
        self._lock = threading.Lock()
        self.cycles = 0
        self.partial_retry = 1.0
        # see `_work`: 100-PR burst p95 32.1 s at (1.0, 0.5), 29.5 at (3, 0.5), 28.5 at (6, 1.0)
        self.pace, self.max_pause = 4.0, 1.0
        self.cache: Cache | None = None  # set by `run`: cycles read it instead of listing
        self.pipeline: Pipeline | None = None  # set by `run`: writes overlap the next cycle

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
        mark = self.pipeline.mark() if self.pipeline is not None else 0
        if self.cache is not None:
            snap = self.cache.snapshot(bp, self.cfg)
        else:
            snap = observe.fetch(self.api, bp, self.cfg)
        fetched = time.perf_counter()
        view = observe.build(bp, snap, prefix=self.cfg.policy.namespace_prefix)
        now = self.clock()
        plan = reconcile(view.desired, view.observed, now=now, policy=self.cfg.policy)
        decided = time.perf_counter()
        dropped = 0
        try:
            delay, dropped = self._apply(bp, view, plan, now, mark)
            return delay
        finally:
            metrics.CYCLE_SECONDS.labels("fetch").observe(fetched - started)
            metrics.CYCLE_SECONDS.labels("decide").observe(decided - fetched)
            metrics.CYCLE_SECONDS.labels("apply").observe(time.perf_counter() - decided)
            log.info(
                "event=cycle blueprint=%s environments=%d actions=%d fetch=%.3f decide=%.3f "
                "apply=%.3f in_flight=%d dropped=%d",
                name,
                len(view.observed.environments),
                len(plan.actions),
                fetched - started,
                decided - fetched,
                time.perf_counter() - decided,
                self.pipeline.in_flight() if self.pipeline is not None else 0,
                dropped,
            )

    def _apply(
        self, bp: Blueprint, view: observe.View, plan: Plan, now: datetime, mark: int
    ) -> tuple[float | None, int]:
        """Apply `plan`: shared effects and pool actions now, the rest through the pipeline."""
        phases: dict[str, int] = {}
        for env in view.observed.environments:
            if env.status is not None:
                phases[env.status.phase.value] = phases.get(env.status.phase.value, 0) + 1
        for phase, count in phases.items():
            metrics.ENVIRONMENTS.labels(phase).set(count)
        requeue = plan.requeue_after.total_seconds() if plan.requeue_after is not None else None
        if not plan.actions:
            return requeue, 0
        app = Application(self.api, view, bp=bp, cfg=self.cfg, now=now, reporter=self.reporter)
        if self.pipeline is None:  # not running: apply the whole plan and wait
            failures = app.apply(plan, workers=self.apply_workers)
            if failures and len(failures) >= app.groups:
                retryable = [e for e in failures if isinstance(e, RetryableError)]
                raise (retryable or failures)[0]  # nothing went through: back off
            if failures:
                return self.partial_retry, 0
            return (0.0 if app.skipped < len(plan.actions) else requeue), 0
        outcome = apply_pipelined(
            app, plan, self.pipeline, blueprint=bp.name, mark=mark, workers=self.apply_workers
        )
        if outcome.pool_errors:
            if not outcome.claimed:
                retryable = [e for e in outcome.pool_errors if isinstance(e, RetryableError)]
                raise (retryable or outcome.pool_errors)[0]  # nothing went through: back off
            return self.partial_retry, outcome.dropped
        return requeue, outcome.dropped

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            started = time.perf_counter()
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
                # Pace: hold the key `pace` times as long as the cycle took (at most
                # `max_pause`), so the writes finishing meanwhile are decided on together
                # and a busy Blueprint takes at most about a fifth of a core of deciding
                # from the API server's share (a cycle costs what the Blueprint's
                # environments number, not what changed). A 2 ms cycle waits 8 ms.
                pause = min((time.perf_counter() - started) * self.pace, self.max_pause)
                if self.pipeline is not None and pause > 0.002:
                    stop.wait(pause)
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

    def watchers(self, stop: threading.Event, cache: Cache | None = None) -> list[Watcher]:
        """One watch per kind: each change queues its Blueprint; `cache` gets everything."""
        owned = f"{names.MANAGED_BY}=mayfly"
        specs: list[tuple[kube.Kind, str | None]] = [
            (kube.PE, None),
            (kube.BLUEPRINT, None),
            (kube.NAMESPACE, f"{names.MANAGED}=true"),
            (kube.JOB, owned),
            (kube.DEPLOYMENT, owned),
            (kube.PVC, owned),
        ]
        if cache is not None:
            specs += [(kube.CONFIGMAP, CACHED[kube.CONFIGMAP.kind])]
            specs += [(kube.SNAPSHOT, CACHED[kube.SNAPSHOT.kind])]
        return [
            Watcher(self.api, k, self.enqueue_object, selector=s, stop=stop, sink=cache)
            for k, s in specs
        ]

    def forget_gone(self) -> int:
        """Delete the records of environments gone for longer than `retain_gone` (`retention`)."""
        if self.cache is None:
            return 0
        return retention.collect(
            self.api, self.cache.items(kube.PE), now=self.clock(), retain=self.retain_gone
        )

    def run(self, stop: threading.Event, *, sync_timeout: float = 60.0) -> None:
        """Run until `stop` is set: watches filling the cache, workers, the periodic resync."""
        self.ensure_namespaces()
        cache = self.cache = Cache()
        self.api.listener = cache
        for name in self.load_blueprints():
            self.queue.add(name)
        self.pipeline = Pipeline(workers=self.apply_workers, on_done=self.queue.add_after)
        watchers = self.watchers(stop, cache)
        for watcher in watchers:
            watcher.start()
        while not cache.wait_synced(0.5):  # decide only on a complete picture
            if stop.is_set() or sync_timeout <= 0:
                break
            sync_timeout -= 0.5
        threads = [
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
                    self.forget_gone()
                except (KubeError, SchemaError, OSError) as exc:
                    log.warning("event=resync_failed error=%s", type(exc).__name__)
        self.queue.shutdown()
        self.pipeline.shutdown()
        self.api.listener = None
