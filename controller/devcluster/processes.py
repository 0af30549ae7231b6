"""Child processes of a local control plane: start, watch, stop, never leak.

Every component runs in its own process group (session) with its output in a
log file. Attached processes (tests) also get a parent-death signal, so they
die with the Python process even when it is killed with SIGKILL, and are
stopped at interpreter exit. Detached processes (`mayfly dev cluster up`)
outlive the command and are stopped later by process-group id. This module
knows nothing about Kubernetes.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_LIVE: dict[ManagedProcess, None] = {}  # insertion-ordered set
_LIVE_LOCK = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ProcessFailedError(RuntimeError):
    """A component exited or never became ready; the message quotes its log."""


@dataclass(eq=False)
class ManagedProcess:
    """One running component, identified by its name, pid and log file."""

    name: str
    popen: subprocess.Popen[bytes] | None
    pid: int
    log: Path
    _stopped: bool = field(default=False, repr=False)

    def alive(self) -> bool:
        """Whether the process is still running."""
        if self.popen is not None:
            return self.popen.poll() is None
        return pid_alive(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the component's log, for error messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def check_running(self) -> None:
        """Raise ProcessFailedError with the log tail if the process has exited."""
        if not self.alive():
            raise ProcessFailedError(
                f"{self.name} exited early; last lines of {self.log}:\n{self.log_tail()}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `timeout`."""
        if self._stopped:
            return
        self._stopped = True
        stop_group(self.pid, timeout=timeout)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=1)
        with _LIVE_LOCK:
            _LIVE.pop(self, None)


def pid_alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop_group(pgid: int, *, timeout: float = 10.0) -> None:
    """Terminate a process group led by `pgid`, escalating to SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pgid, os.WNOHANG)
            if not pid_alive(pgid):
                return
            time.sleep(0.05)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    detached: bool = False,
    env: dict[str, str] | None = None,
) -> ManagedProcess:
    """Start `argv` in a new session, output to `log`.

    Attached processes die with this Python process and are stopped at exit;
    detached ones are left running for a later `stop_group(pid)`.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # prctl must run in the child; spawn is only called from the main thread.
            preexec_fn=None if detached else _die_with_parent,  # noqa: PLW1509
            env=env,
            close_fds=True,
        )
    proc = ManagedProcess(name=name, popen=popen, pid=popen.pid, log=log)
    if not detached:
        with _LIVE_LOCK:
            _LIVE[proc] = None
    return proc


def stop_all() -> None:
    """Stop every attached process still running (registered with atexit)."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in reversed(procs):
        proc.stop(timeout=5.0)


atexit.register(stop_all)
