"""The system under test: control plane, controller and webhook, started and stopped as one.

`Stack.start` starts the `api` or `cluster` tier of the test control plane
(the code behind the pytest fixtures and `mayfly dev cluster up`), installs
the CRDs, writes the secret, the repository mapping and the blueprint, and
runs `mayfly controller run` and `mayfly webhook serve` as subprocesses of
the real commands (the webhook as its ServiceAccount, with a bound token and
deploy/rbac/webhook.yaml's Role, as in a cluster), on 127.0.0.1 only,
each in its own process group with its log under `<workdir>/logs`. It
checks readiness, nothing else.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from controller.devcluster import ControlPlane, Tier, accounts, manifests, start
from controller.devcluster.processes import ManagedProcess, free_port, spawn
from controller.devcluster.session import DEFAULT_CRD_DIRS
from controller.devcluster.tier import DEFAULT_FAKE_NODES
from loadtests.fleet import BLUEPRINT_NAME, Fleet, blueprint_doc

NAMESPACE = "mayfly-loadtest"
MAYFLY = str(Path(sys.executable).parent / "mayfly")
WEBHOOK_RBAC = Path(__file__).resolve().parents[1] / "deploy" / "rbac" / "webhook.yaml"


def webhook_rbac(namespace: str) -> list[dict[str, Any]]:
    """deploy/rbac/webhook.yaml (ServiceAccount, Role, RoleBinding) moved to `namespace`."""
    docs = list(manifests.load_documents([WEBHOOK_RBAC]))
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = namespace
    return docs


class StackError(RuntimeError):
    """A part of the system under test did not start; the message quotes its log."""


@dataclass(frozen=True, slots=True)
class StackOptions:
    tier: Tier = Tier.API
    controller: bool = True
    workers: int = 4
    max_concurrent: int = 200
    resync_s: float = 30.0
    timeout_s: float = 180.0
    fake_nodes: int = DEFAULT_FAKE_NODES  # cluster tier: kwok nodes (110 pods each)


@dataclass(eq=False)
class Stack:
    """A running control plane with the controller and the webhook pointed at it."""

    workdir: Path
    options: StackOptions
    plane: ControlPlane | None = None
    owns_plane: bool = True
    tag: str = ""
    secret_file: Path = Path()
    url: str = ""
    procs: list[ManagedProcess] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        workdir: Path,
        fleet: Fleet,
        options: StackOptions,
        *,
        plane: ControlPlane | None = None,
    ) -> Stack:
        """Start everything; with `plane`, use that running control plane (left running).

        On a shared plane the namespaces and the blueprint get a unique suffix,
        so the run's controller never sees another run's objects.
        """
        tag = secrets.token_hex(3) if plane is not None else ""
        stack = cls(workdir.resolve(), options, plane=plane, owns_plane=plane is None, tag=tag)
        try:
            stack._start(fleet)
        except BaseException:
            stack.stop()
            raise
        return stack

    def _suffixed(self, name: str) -> str:
        return f"{name}-{self.tag}" if self.tag else name

    @property
    def namespace(self) -> str:
        """Where the PreviewEnvironments of this run live."""
        return self._suffixed(NAMESPACE)

    @property
    def pool_namespace(self) -> str:
        return self._suffixed(f"{NAMESPACE}-pool")

    @property
    def blueprint(self) -> str:
        return self._suffixed(BLUEPRINT_NAME)

    @property
    def kubeconfig(self) -> Path:
        assert self.plane is not None
        return self.plane.kubeconfig

    def api_client(self) -> Any:
        assert self.plane is not None
        return self.plane.api_client()

    def _start(self, fleet: Fleet) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.plane is None:
            self.plane = start(
                self.options.tier,
                timeout=self.options.timeout_s,
                fake_nodes=self.options.fake_nodes,
            )
        with contextlib.closing(self.plane.api_client()) as api:
            manifests.install_crds(api, [d for d in DEFAULT_CRD_DIRS if d.is_dir()])
            for ns in (self.namespace, self.pool_namespace):
                manifests.apply(
                    api, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
                )
            # the webhook runs as its ServiceAccount with deploy/'s Role, as in a cluster
            rbac = webhook_rbac(self.namespace)
            manifests.apply(api, rbac)
            webhook_kubeconfig = accounts.token_kubeconfig(
                api, self.kubeconfig, self.workdir / "webhook-kubeconfig",
                namespace=self.namespace,
                name=next(d["metadata"]["name"] for d in rbac if d["kind"] == "ServiceAccount"),
            )  # fmt: skip
        self.secret_file = self.workdir / "webhook-secret"
        self.secret_file.write_text(secrets.token_hex(32) + "\n")
        self.secret_file.chmod(0o600)
        repos = self.workdir / "repositories.yaml"
        repos.write_text(yaml.safe_dump(fleet.mapping_doc(blueprint=self.blueprint)))
        blueprint = self.workdir / "blueprint.yaml"
        doc = blueprint_doc(fleet, name=self.blueprint, max_concurrent=self.options.max_concurrent)
        blueprint.write_text(yaml.safe_dump(doc, sort_keys=False))
        logs = self.workdir / "logs"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("MAYFLY_WEBHOOK_SECRET", None)
        if self.options.controller:
            argv = [
                MAYFLY, "controller", "run",
                "--kubeconfig", str(self.kubeconfig),
                "--namespace", self.namespace, "--pool-namespace", self.pool_namespace,
                "--blueprint", str(blueprint), "--metrics-port", "0",
                "--workers", str(self.options.workers),
                "--resync", str(self.options.resync_s),
                "--dev-volume-binder",
            ]  # fmt: skip
            self.procs.append(spawn("controller", argv, log=logs / "controller.log", env=env))
        port = free_port()
        argv = [
            MAYFLY, "webhook", "serve",
            "--repos", str(repos), "--secret-file", str(self.secret_file),
            "--host", "127.0.0.1", "--port", str(port),
            "--kubeconfig", str(webhook_kubeconfig), "--namespace", self.namespace,
        ]  # fmt: skip
        self.procs.append(spawn("webhook", argv, log=logs / "webhook.log", env=env))
        self.url = f"http://127.0.0.1:{port}"
        self._wait_ready(f"{self.url}/readyz")

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + self.options.timeout_s
        while time.monotonic() < deadline:
            for proc in self.procs:
                if not proc.alive():
                    raise StackError(f"{proc.name} exited early ({proc.log}):\n{proc.log_tail()}")
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(url, timeout=2) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.25)
        tails = "\n".join(f"--- {p.name}:\n{p.log_tail()}" for p in self.procs)
        raise StackError(
            f"the webhook was not ready at {url} after {self.options.timeout_s} s\n{tails}"
        )

    def check_alive(self) -> list[str]:
        """Names of components that died during the run."""
        dead = [p.name for p in self.procs if not p.alive()]
        if self.plane is not None and not self.plane.alive():
            dead.append("control plane")
        return dead

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=10.0)
        self.procs.clear()
        if self.plane is not None and self.owns_plane:
            self.plane.stop()
        self.plane = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
