"""Process handling: components stop cleanly, and die even if the test runner is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from controller.devcluster import processes


def _wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes.pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_free_port_is_bindable() -> None:
    port = processes.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    # A shell that ignores SIGTERM and has a grandchild: both must be gone.
    grandchild_file = tmp_path / "grandchild"
    script = f"trap '' TERM; sleep 300 & echo $! > {grandchild_file}; wait"
    proc = processes.spawn("stubborn", ["bash", "-c", script], log=tmp_path / "log")
    try:
        deadline = time.monotonic() + 5
        while not grandchild_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        grandchild = int(grandchild_file.read_text())
        proc.stop(timeout=1.0)
        assert not proc.alive()
        assert _wait_dead(grandchild)
    finally:
        grandchild_file.unlink(missing_ok=True)


def test_attached_children_die_when_the_parent_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import pathlib, time
                from controller.devcluster import processes
                log = pathlib.Path({str(tmp_path / "log")!r})
                p = processes.spawn("sleeper", ["sleep", "300"], log=log)
                pathlib.Path({str(pid_file)!r}).write_text(str(p.pid))
                time.sleep(300)
                """
            ),
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert processes.pid_alive(child)
        os.kill(parent.pid, signal.SIGKILL)  # no atexit, no finalizers run
        parent.wait()
        assert _wait_dead(child), "the component outlived a SIGKILLed test runner"
    finally:
        parent.kill()
        parent.wait()


def test_check_running_quotes_the_log_of_a_dead_component(tmp_path: Path) -> None:
    proc = processes.spawn("fails", ["bash", "-c", "echo boom-marker; exit 3"], log=tmp_path / "l")
    assert _wait_dead(proc.pid)
    with pytest.raises(processes.ProcessFailedError, match="boom-marker"):
        proc.check_running()
