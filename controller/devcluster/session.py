"""The one detached control plane of `mayfly dev cluster`, remembered on disk.

`up` starts a tier whose processes outlive the command and records them in
`~/.cache/mayfly/devcluster/state.json`; `down` stops those process groups
and forgets them. The kubeconfig is copied next to the state so its path is
stable. This module holds no Typer or printing code.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from controller.devcluster import processes
from controller.devcluster.binaries import REPO_ROOT
from controller.devcluster.tier import DEFAULT_FAKE_NODES, Tier

DEFAULT_CRD_DIRS = (REPO_ROOT / "deploy" / "crds", REPO_ROOT / "deploy" / "test-crds")


def state_dir() -> Path:
    """Where the running dev cluster is recorded (MAYFLY_DEVCLUSTER_STATE overrides)."""
    given = os.environ.get("MAYFLY_DEVCLUSTER_STATE")
    if given:
        return Path(given).expanduser()
    return Path.home() / ".cache" / "mayfly" / "devcluster"


@dataclass(frozen=True, slots=True)
class Session:
    """What `up` started: enough for `down` and `kubeconfig` to act later."""

    tier: str
    server: str
    kubeconfig: str
    workdir: str
    pids: tuple[int, ...]

    def alive(self) -> bool:
        """Whether every recorded process still runs (and is still ours)."""
        return all(processes.pid_alive(pid) and self.workdir in _cmdline(pid) for pid in self.pids)


def load() -> Session | None:
    """The recorded session, or None when nothing was started."""
    path = state_dir() / "state.json"
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return Session(
        tier=raw["tier"],
        server=raw["server"],
        kubeconfig=raw["kubeconfig"],
        workdir=raw["workdir"],
        pids=tuple(raw["pids"]),
    )


def up(
    tier: Tier,
    *,
    crd_dirs: tuple[Path, ...] = DEFAULT_CRD_DIRS,
    timeout: float = 180.0,
    fake_nodes: int = DEFAULT_FAKE_NODES,
) -> Session:
    """Start `tier` detached, install the CRDs, record and return the session."""
    # Heavy (kubernetes client): imported only when a cluster is really started.
    from controller.devcluster import controlplane, manifests  # noqa: PLC0415

    current = load()
    if current is not None and current.alive():
        return current
    if current is not None:
        down()
    plane = controlplane.start(tier, detached=True, timeout=timeout, fake_nodes=fake_nodes)
    try:
        with contextlib.closing(plane.api_client()) as api:
            manifests.install_crds(api, [d for d in crd_dirs if d.is_dir()])
        directory = state_dir()
        directory.mkdir(parents=True, exist_ok=True)
        kubeconfig = directory / "kubeconfig"
        shutil.copyfile(plane.kubeconfig, kubeconfig)
        kubeconfig.chmod(0o600)
        session = Session(
            tier=tier.value,
            server=plane.server,
            kubeconfig=str(kubeconfig),
            workdir=str(plane.workdir),
            pids=tuple(p.pid for p in plane.processes),
        )
        (directory / "state.json").write_text(json.dumps(asdict(session), indent=2))
    except BaseException:
        plane.stop()
        raise
    return session


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def down() -> Session | None:
    """Stop the recorded session, newest process first; return what was stopped."""
    current = load()
    if current is None:
        return None
    for pid in reversed(current.pids):
        # After a reboot a recorded pid may belong to someone else: every
        # component we started names its work directory on its command line.
        if current.workdir in _cmdline(pid):
            processes.stop_group(pid)
    shutil.rmtree(current.workdir, ignore_errors=True)
    for name in ("state.json", "kubeconfig"):
        (state_dir() / name).unlink(missing_ok=True)
    return current
