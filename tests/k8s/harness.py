"""Test harness for the controller on the real control plane: isolated namespaces, a
blueprint file, the controller in a thread or a subprocess, the webhook on uvicorn.

Each scenario gets its own PreviewEnvironment namespace, pool namespace,
blueprint name and repository, so controllers of different tests never see
each other's objects.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from controller.core.policy import Policy
from controller.core.types import Step
from controller.devcluster import ControlPlane
from controller.k8s import binder, kube, names
from controller.k8s.application import Reporter
from controller.k8s.config import ShellConfig
from controller.k8s.loop import Controller
from controller.webhook.app import Settings, create_app
from controller.webhook.mapping import RepoMap, Target
from controller.webhook.payload import pull_request_payload, signed_request
from controller.webhook.store import Store
from tests.webhook.server import serving

SECRET = b"e2e-secret"
REPO_ROOT = Path(__file__).resolve().parents[2]


def blueprint_doc(name: str, repo: str, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "repositories": [repo],
        "routingMode": "affected",
        "baselineNamespace": "staging",
        "productionNamespaces": ["production"],
        "maxConcurrentProvisions": 200,
        "quotas": {"defaultPerTeam": 200},
        "sharedServices": ["auth"],
        "pool": {"defaultSize": 0},
        "databases": [
            {
                "name": "orders",
                "migrations": ["services/orders/migrations/*.sql"],
                "maskingRules": "masking/orders.yaml",
            }
        ],
        "services": [
            {"name": "web", "team": "web", "image": "acme/web:stable", "paths": ["web/*"],
             "calls": ["api"]},
            {"name": "api", "team": "web", "image": "acme/api:stable", "paths": ["api/*"],
             "calls": ["orders", "auth"]},
            {"name": "orders", "team": "checkout", "image": "acme/orders:stable",
             "paths": ["services/orders/*"], "database": "orders"},
            {"name": "auth", "team": "identity", "image": "acme/auth:stable",
             "paths": ["auth/*"]},
        ],
    }  # fmt: skip
    doc.update(overrides)
    return doc


CHANGED = ("services/orders/migrations/0002_add.sql", "api/handler.py")


@dataclass
class Scenario:
    """Names of one isolated scenario, and helpers to act and look at it."""

    plane: ControlPlane
    tmp: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    bp_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.namespace = f"mayfly-{self.tag}"
        self.pool = f"mayfly-pool-{self.tag}"
        self.blueprint = f"bp-{self.tag}"
        self.repo = f"acme/shop-{self.tag}"
        self.bp_file = self.tmp / f"{self.blueprint}.yaml"
        doc = blueprint_doc(self.blueprint, self.repo, **self.bp_overrides)
        self.bp_file.write_text(yaml.safe_dump(doc))
        self.api = kube.Kube(self.plane.api_client())

    def config(self, **kw: Any) -> ShellConfig:
        base: dict[str, Any] = {
            "namespace": self.namespace,
            "pool_namespace": self.pool,
            "volume_size_gi": 1,
            "policy": Policy(),
        }
        base.update(kw)
        return ShellConfig(**base)

    # -- running the controller -------------------------------------------------
    @contextlib.contextmanager
    def controller(self, *, reporter: Reporter | None = None, **cfg: Any) -> Iterator[Controller]:
        ctl = Controller(
            kube.Kube(self.plane.api_client()),
            self.config(**cfg),
            blueprint_files=(self.bp_file,),
            reporter=reporter,
            resync_seconds=5,
        )
        stop = threading.Event()
        threads = [
            threading.Thread(target=ctl.run, args=(stop,), daemon=True),
            threading.Thread(target=binder.run, args=(ctl.api, self.pool, stop), daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            yield ctl
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)

    def spawn_controller(self, *extra: str, log: str = "controller") -> subprocess.Popen[bytes]:
        argv = [
            str(Path(sys.executable).parent / "mayfly"), "controller", "run",
            "--kubeconfig", str(self.plane.kubeconfig),
            "--namespace", self.namespace, "--pool-namespace", self.pool,
            "--blueprint", str(self.bp_file), "--metrics-port", "0",
            "--dev-volume-binder", "--resync", "5", *extra,
        ]  # fmt: skip
        out = open(self.tmp / f"{log}-{uuid.uuid4().hex[:4]}.log", "wb")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)

    @contextlib.contextmanager
    def webhook(self) -> Iterator[str]:
        store = Store(kube.Kube(self.plane.api_client()), namespace=self.namespace)
        repos = RepoMap({self.repo.lower(): Target(self.blueprint, "web")})
        with serving(create_app(Settings(SECRET, repos, store))) as url:
            yield url

    # -- acting -------------------------------------------------------------------
    def send(
        self,
        url: str,
        action: str,
        number: int,
        sha: str,
        *,
        updated_at: datetime | None = None,
        delivery: str = "",
        changed: tuple[str, ...] = CHANGED,
        **kw: Any,
    ) -> httpx.Response:
        payload = pull_request_payload(
            action=action,
            repository=self.repo,
            number=number,
            head_sha=sha,
            state="closed" if action == "closed" else "open",
            updated_at=updated_at or datetime.now(UTC),
            created_at=datetime(2026, 1, 1, tzinfo=UTC) if updated_at else None,
            changed_paths=changed,
            **kw,
        )
        body, headers = signed_request(SECRET, payload, delivery=delivery)
        return httpx.post(f"{url}/github", content=body, headers=headers, timeout=30)

    # -- looking ----------------------------------------------------------------------
    def env_ns(self, number: int) -> str:
        return names.env_name(self.key(number))

    def key(self, number: int) -> Any:
        from controller.core.types import EnvKey

        return EnvKey(self.repo, number)

    def pe(self, number: int) -> dict[str, Any] | None:
        return self.api.get(kube.PE, self.env_ns(number), self.namespace)

    def phase(self, number: int) -> str:
        obj = self.pe(number)
        return str(((obj or {}).get("status") or {}).get("phase", ""))

    def in_ns(self, kind: kube.Kind, number: int) -> list[dict[str, Any]]:
        items, _ = self.api.list(kind, namespace=self.env_ns(number))
        return items

    def jobs(self, number: int, step: Step) -> list[dict[str, Any]]:
        return [
            j for j in self.in_ns(kube.JOB, number)
            if j["metadata"]["labels"].get(names.STEP) == step.value
        ]  # fmt: skip

    def volumes(self, number: int) -> list[dict[str, Any]]:
        """The environment's PVCs: clones in the pool namespace, its handed-over database PVC."""
        items, _ = self.api.list(kube.PVC, selector=f"{names.CLAIMED_BY}={self.env_ns(number)}")
        return items


def eventually(what: str, check: Callable[[], Any], *, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s (last: {last!r})")


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
