"""Facts about the machine a benchmark ran on: CPU, memory, load, commit; CPU use over time.

Read-only: it looks at /proc and git, and changes nothing.
"""

from __future__ import annotations

import os
import platform
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def uptime() -> str:
    """`uptime`'s line (load averages: the CPU is shared with other work)."""
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""


def facts() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_gib": _mem_gib(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
        "uptime_before": uptime(),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a running process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of this process's waited-for children (Locust runs as one)."""
    import resource  # noqa: PLC0415

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    ticks = [int(x) for x in first]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


class CpuSampler(threading.Thread):
    """CPU seconds of named processes and of the whole machine, sampled every `every_s`.

    `used(t0, t1)` gives what each used between the first sample at or after
    wall-clock time `t0` and the last at or before `t1` (so a run's start-up
    and shutdown can be left out), with the seconds that spans.
    """

    def __init__(self, pids: dict[str, int], *, every_s: float = 0.25) -> None:
        super().__init__(name="cpu-sampler", daemon=True)
        self.pids, self.every_s = dict(pids), every_s
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._halt = threading.Event()

    def add(self, name: str, pid: int) -> None:
        self.pids[name] = pid

    def sample(self) -> None:
        cpu = {name: cpu_seconds(pid) for name, pid in list(self.pids.items())}
        cpu["machine_busy"], cpu["machine_total"] = machine_cpu_seconds()
        self.samples.append((time.time(), cpu))

    def run(self) -> None:
        while not self._halt.wait(self.every_s):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def used(self, t0: float, t1: float) -> tuple[dict[str, float], float]:
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2:
            return {}, 0.0
        (a_t, a), (b_t, b) = inside[0], inside[-1]
        return {k: b[k] - a[k] for k in b if k in a}, b_t - a_t
