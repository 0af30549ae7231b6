"""The step writes of a plan (Jobs, workloads, credentials revocation, mesh routes).

A mixin of `application.Application`, split out to keep modules small: each
method renders with the pure `render_*` modules and applies the result, then
deletes what the new run supersedes (older Jobs, services no longer in the
plan, stale routes) and finally writes the step marker, so the step is
observed as started once the marker exists. It decides nothing.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from controller.core.blueprint import Blueprint
from controller.core.types import EnvKey, Step
from controller.k8s import kube, names
from controller.k8s import render_routes as rroutes
from controller.k8s import render_steps as rsteps
from controller.k8s import render_workloads as rwork
from controller.k8s.config import ShellConfig
from controller.k8s.errors import ConflictError
from controller.k8s.observe import View

Obj = dict[str, Any]


class StepWrites:
    api: kube.Kube
    view: View
    bp: Blueprint
    cfg: ShellConfig
    now: datetime

    def _ns(self, key: EnvKey) -> str:
        return names.env_name(key, prefix=self.cfg.policy.namespace_prefix)

    def _job(
        self, key: EnvKey, step: Step, sha: str, databases: tuple[str, ...], attempt: int
    ) -> None:
        ns = self._ns(key)
        job = rsteps.job(
            key,
            step,
            namespace=ns,
            sha=sha,
            databases=databases,
            attempt=attempt,
            blueprint=self.bp.name,
            now=self.now,
            cfg=self.cfg,
        )
        self.api.apply(job)
        for old in self.view.jobs.get(ns, []):  # superseded runs (older head or attempt)
            labels = old["metadata"].get("labels", {})
            if (
                labels.get(names.STEP) == step
                and old["metadata"]["name"] != job["metadata"]["name"]
            ):
                self.api.delete(kube.JOB, old["metadata"]["name"], ns)

    def _deploy(self, key: EnvKey, sha: str, services: tuple[str, ...], attempt: int) -> None:
        ns = self._ns(key)
        databases = tuple(d.name for d in self.bp.databases)
        with contextlib.suppress(ConflictError):  # created by an earlier attempt; never read
            self.api.create(
                rwork.credentials(key, namespace=ns, blueprint=self.bp.name, databases=databases)
            )
        deadline = int(self.cfg.policy.timeout(Step.DEPLOY).total_seconds())
        wanted = rwork.workloads(
            key,
            self.bp,
            services,
            namespace=ns,
            sha=sha,
            attempt=attempt,
            db_access=True,
            progress_deadline=deadline,
        )
        for obj in wanted:
            self.api.apply(obj)
        keep = set(services)
        for dep in self.view.deployments.get(ns, []):  # services no longer in the plan
            if dep["metadata"]["name"] not in keep:
                self.api.delete(kube.DEPLOYMENT, dep["metadata"]["name"], ns)
                self.api.delete(kube.SERVICE, dep["metadata"]["name"], ns)
        self.api.apply(
            rwork.step_marker(
                key,
                Step.DEPLOY,
                namespace=ns,
                sha=sha,
                attempt=attempt,
                now=self.now,
                blueprint=self.bp.name,
                objects=tuple(sorted(keep)),
            )
        )

    def _revoke(self, key: EnvKey) -> None:
        ns = self._ns(key)
        deadline = int(self.cfg.policy.timeout(Step.DEPLOY).total_seconds())
        for dep in self.view.deployments.get(ns, []):
            ann = dep["metadata"].get("annotations", {})
            for obj in rwork.workloads(
                key,
                self.bp,
                (dep["metadata"]["name"],),
                namespace=ns,
                sha=ann.get(names.SHA, ""),
                attempt=int(ann.get(names.ATTEMPT, "1")),
                db_access=False,
                progress_deadline=deadline,
            ):
                if obj["kind"] == "Deployment":
                    self.api.apply(obj)

    def _routes(self, key: EnvKey, sha: str, plan: Any, attempt: int) -> None:
        ns = self._ns(key)
        objs = rroutes.render(key, plan, blueprint=self.bp.name)
        for obj in objs:
            self.api.apply(obj)
        wanted = {(o["kind"], o["metadata"]["name"]) for o in objs}
        routed_before = any(
            m["metadata"].get("labels", {}).get(names.STEP) == Step.ROUTES
            for m in self.view.markers.get(ns, [])
        )
        for kind in (kube.VIRTUAL_SERVICE, kube.DESTINATION_RULE) if routed_before else ():
            existing, _ = self.api.list(kind, namespace=ns, selector=f"{names.ENV}={ns}")
            for obj in existing:
                if (kind.kind, obj["metadata"]["name"]) not in wanted:
                    self.api.delete(kind, obj["metadata"]["name"], ns)
        self.api.apply(
            rwork.step_marker(
                key,
                Step.ROUTES,
                namespace=ns,
                sha=sha,
                attempt=attempt,
                now=self.now,
                blueprint=self.bp.name,
                objects=tuple(sorted(n for _k, n in wanted)),
            )
        )
