"""A local Kubernetes control plane in two tiers, started and stopped as one.

`api`: etcd and kube-apiserver. `cluster`: adds kube-controller-manager,
kube-scheduler and kwok with fake nodes, so namespaces finish deleting,
owned objects are garbage-collected and Jobs complete. State lives in a
temporary directory on tmpfs where possible; ports are free loopback ports.
This module orchestrates; command lines are in `components`, process
handling in `processes`, certificates in `pki`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from kubernetes import client, config

from controller.devcluster import components, pki, processes
from controller.devcluster.binaries import locate
from controller.devcluster.nodes import create_fake_nodes, fake_node_names, wait_cluster_ready
from controller.devcluster.tier import DEFAULT_FAKE_NODES, Tier

WORKDIR_PREFIX = "mayfly-k8s-"
_OWNERS_FILE = "owners"
_PORT_RETRIES = 3
__all__ = ["ControlPlane", "Tier", "start", "sweep_stale_workdirs", "tmp_root"]


def tmp_root() -> Path:
    """Where work directories go: tmpfs (/dev/shm) when writable, else the temp dir."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def sweep_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove work directories whose owning processes are all gone."""
    removed: list[Path] = []
    for path in (root or tmp_root()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            if path.stat().st_uid != os.getuid():
                continue
            pids = [int(p) for p in (path / _OWNERS_FILE).read_text().split()]
        except (OSError, ValueError):
            continue
        if not any(processes.pid_alive(pid) for pid in pids):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _http_ok(url: str, context: ssl.SSLContext | None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    watch: list[processes.ManagedProcess],
) -> None:
    """Poll `check` until true; fail early, with logs, if a watched process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in watch:
            proc.check_running()
        if check():
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name} ({p.log}):\n{p.log_tail()}" for p in watch)
    raise processes.ProcessFailedError(f"{what} not ready after {timeout:.0f} s\n{logs}")


@dataclass(eq=False)
class ControlPlane:
    """A running control plane: its kubeconfig, its processes, how to stop it."""

    tier: Tier
    workdir: Path
    kubeconfig: Path
    server: str
    processes: list[processes.ManagedProcess] = field(default_factory=list)
    _finalizer: weakref.finalize[Any, Any] | None = field(default=None, repr=False)

    def api_client(self) -> client.ApiClient:
        """A fresh `kubernetes.client.ApiClient` authenticated as system:masters; close it."""
        api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig)
        )
        return api

    def alive(self) -> bool:
        """Whether every component is still running."""
        return all(p.alive() for p in self.processes)

    def stop(self) -> None:
        """Stop every component (newest first) and remove the work directory."""
        if self._finalizer is not None:
            self._finalizer()
        else:
            _teardown(list(self.processes), self.workdir)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _teardown(procs: list[processes.ManagedProcess], workdir: Path) -> None:
    for proc in reversed(procs):
        proc.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def start(
    tier: Tier,
    *,
    bins: Path | None = None,
    workdir: Path | None = None,
    detached: bool = False,
    timeout: float = 120.0,
    fake_nodes: int = DEFAULT_FAKE_NODES,
) -> ControlPlane:
    """Start `tier` and return when it is ready; on any failure nothing is left running.

    `fake_nodes`: how many kwok nodes (110 pods each) the cluster tier gets.

    A free port can be taken by someone else before a component binds it; that
    (and only that) is retried with fresh ports.
    """
    sweep_stale_workdirs()
    bins = bins or locate()
    for attempt in range(_PORT_RETRIES):
        try:
            return _start_once(
                tier, bins, workdir=workdir, detached=detached, timeout=timeout,
                nodes=fake_node_names(fake_nodes),
            )  # fmt: skip
        except processes.ProcessFailedError as error:
            if "address already in use" not in str(error) or attempt == _PORT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _start_once(
    tier: Tier,
    bins: Path,
    *,
    workdir: Path | None,
    detached: bool,
    timeout: float,
    nodes: tuple[str, ...],
) -> ControlPlane:
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=tmp_root()))
    workdir.mkdir(parents=True, exist_ok=True)
    owners = workdir / _OWNERS_FILE
    owners.write_text(f"{os.getpid()}\n")
    keys = pki.generate(workdir / "pki")
    layout = components.Layout(
        bins=bins,
        workdir=workdir,
        pki=keys,
        kubeconfig=workdir / "kubeconfig",
        etcd_port=processes.free_port(),
        etcd_peer_port=processes.free_port(),
        apiserver_port=processes.free_port(),
        controller_manager_port=processes.free_port(),
        scheduler_port=processes.free_port(),
        kwok_port=processes.free_port(),
    )
    pki.write_kubeconfig(layout.kubeconfig, keys, server=layout.server)
    plane = ControlPlane(tier, workdir, layout.kubeconfig, layout.server)
    if not detached:
        plane._finalizer = weakref.finalize(plane, _teardown, plane.processes, workdir)
    try:
        _start_components(plane, layout, detached=detached, timeout=timeout, nodes=nodes)
    except BaseException:
        _teardown(plane.processes, workdir)
        raise
    if detached:
        owners.write_text("".join(f"{p.pid}\n" for p in plane.processes))
    return plane


def _start_components(
    plane: ControlPlane,
    layout: components.Layout,
    *,
    detached: bool,
    timeout: float,
    nodes: tuple[str, ...],
) -> None:
    logs = layout.workdir / "logs"

    def run(name: str, argv: list[str]) -> processes.ManagedProcess:
        env = {**os.environ, **components.go_env(name, os.environ)}
        proc = processes.spawn(name, argv, log=logs / f"{name}.log", detached=detached, env=env)
        plane.processes.append(proc)
        return proc

    etcd = run("etcd", components.etcd(layout))
    wait_until(
        "etcd",
        lambda: _http_ok(f"http://127.0.0.1:{layout.etcd_port}/health", None),
        timeout=timeout,
        watch=[etcd],
    )
    cluster = plane.tier is Tier.CLUSTER
    apiserver = run(
        "kube-apiserver",
        components.kube_apiserver(layout, service_account_admission=cluster),
    )
    trusted = ssl.create_default_context(cafile=str(layout.pki.ca_cert))
    trusted.load_cert_chain(str(layout.pki.client_cert), str(layout.pki.client_key))
    wait_until(
        "kube-apiserver /readyz",
        lambda: _http_ok(f"{layout.server}/readyz", trusted),
        timeout=timeout,
        watch=[etcd, apiserver],
    )
    if not cluster:
        return
    self_signed = ssl.create_default_context()
    self_signed.check_hostname = False
    self_signed.verify_mode = ssl.CERT_NONE
    for name, argv, port in (
        (
            "kube-controller-manager",
            components.kube_controller_manager(layout),
            layout.controller_manager_port,
        ),
        ("kube-scheduler", components.kube_scheduler(layout), layout.scheduler_port),
    ):
        proc = run(name, argv)
        wait_until(
            f"{name} /healthz",
            functools.partial(_http_ok, f"https://127.0.0.1:{port}/healthz", self_signed),
            timeout=timeout,
            watch=[etcd, apiserver, proc],
        )
    run("kwok", components.kwok(layout))
    with contextlib.closing(plane.api_client()) as client:
        create_fake_nodes(client, nodes)
        wait_until(
            "fake nodes and default service account",
            lambda: wait_cluster_ready(client, nodes),
            timeout=timeout,
            watch=plane.processes,
        )
