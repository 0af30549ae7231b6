"""Starting and stopping the api tier: nothing left behind, port races retried."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.devcluster import Tier, controlplane, processes, start


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.api
def test_a_taken_port_is_retried_and_stop_leaves_nothing(
    occupied_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = processes.free_port
    calls = {"n": 0}

    def racy_free_port() -> int:
        calls["n"] += 1
        return occupied_port if calls["n"] == 1 else real()  # etcd's port, first attempt

    monkeypatch.setattr(processes, "free_port", racy_free_port)
    plane = start(Tier.API)
    try:
        assert plane.alive()
        assert calls["n"] > 6, "a second set of ports was drawn"
        assert str(occupied_port) not in plane.server
        pids = [p.pid for p in plane.processes]
        assert (plane.workdir / "etcd").is_dir()
        assert plane.workdir.parent == controlplane.tmp_root()  # /dev/shm when writable
    finally:
        plane.stop()
    assert not any(processes.pid_alive(pid) for pid in pids)
    assert not plane.workdir.exists()


def test_stale_work_directories_are_swept(tmp_path: Path) -> None:
    stale = tmp_path / f"{controlplane.WORKDIR_PREFIX}old"
    live = tmp_path / f"{controlplane.WORKDIR_PREFIX}live"
    for path, pid in ((stale, 2**22 + 12345), (live, 1)):  # a dead pid, and init
        path.mkdir()
        (path / "owners").write_text(f"{pid}\n")
    assert controlplane.sweep_stale_workdirs(tmp_path) == [stale]
    assert live.exists()
    assert not stale.exists()
