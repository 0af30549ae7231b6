"""Copy-on-write clones of a PostgreSQL data directory on one machine.

Role: the `CloneBackend` port (the cluster's CSI VolumeSnapshot backend sits
beside these later) and its local implementations -- `ReflinkBackend`
(`cp --reflink=always` on XFS/btrfs: constant time, shared blocks) and
`CopyBackend` (plain copy, the fallback) -- plus the `Store`: a directory
holding the golden data directory and its clones, which, as root on a
filesystem without reflinks, lives on a loop-mounted XFS image.

It must not mask data or start servers; it only moves directories.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class CloneError(RuntimeError):
    """A clone or the store could not be created; the message says what to do."""


@dataclass(frozen=True, slots=True)
class CloneResult:
    path: Path
    method: str  # "reflink" or "copy"
    seconds: float


class CloneBackend(Protocol):
    """Makes an independent, writable copy of a (stopped) data directory."""

    @property
    def name(self) -> str: ...

    def clone(self, source: Path, target: Path) -> CloneResult: ...

    def remove(self, target: Path) -> None: ...


def _cp(args: list[str], source: Path, *, target: Path) -> float:
    if target.exists():
        raise CloneError(f"{target} already exists; remove it first (mayfly db drop)")
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        ["cp", "-a", *args, str(source), str(target)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise CloneError(f"cloning {source} failed: {done.stderr.strip()}")
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class ReflinkBackend:
    """Block-sharing copy: needs source and target on one XFS (reflink=1) or btrfs."""

    name: str = "reflink"

    def clone(self, source: Path, target: Path) -> CloneResult:
        return CloneResult(target, "reflink", _cp(["--reflink=always"], source, target=target))

    def remove(self, target: Path) -> None:
        shutil.rmtree(target, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class CopyBackend:
    """Plain byte copy: works everywhere, costs time and space proportional to size."""

    name: str = "copy"

    def clone(self, source: Path, target: Path) -> CloneResult:
        return CloneResult(target, "copy", _cp(["--reflink=never"], source, target=target))

    def remove(self, target: Path) -> None:
        shutil.rmtree(target, ignore_errors=True)


def supports_reflink(directory: Path) -> bool:
    """Probe: can this directory's filesystem share blocks between files?"""
    directory.mkdir(parents=True, exist_ok=True)
    probe, copy = directory / ".mayfly-reflink-probe", directory / ".mayfly-reflink-probe2"
    try:
        probe.write_bytes(b"x" * 4096)
        done = subprocess.run(
            ["cp", "--reflink=always", str(probe), str(copy)], capture_output=True, check=False
        )
        return done.returncode == 0
    finally:
        probe.unlink(missing_ok=True)
        copy.unlink(missing_ok=True)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CloneError(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout.strip()}")


@dataclass(frozen=True, slots=True)
class Store:
    """Where the golden data directory and its clones live."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "store.json"

    def state(self) -> dict[str, str]:
        if not self.state_file.exists():
            raise CloneError(
                f"{self.root} is not prepared; run 'mayfly db golden --store {self.root}'"
            )
        data: dict[str, str] = json.loads(self.state_file.read_text())
        return data

    @property
    def area(self) -> Path:
        return Path(self.state()["area"])

    @property
    def golden(self) -> Path:
        return self.area / "golden"

    def clone_dir(self, name: str) -> Path:
        return self.area / "clones" / name

    def backend(self) -> CloneBackend:
        return ReflinkBackend() if self.state()["mode"] != "copy" else CopyBackend()

    def prepare(self, *, loop: bool = True, image_gb: int = 8) -> dict[str, str]:
        """Pick the clone method: reflink here, a loop-mounted XFS image (root), or copy."""
        if self.state_file.exists():
            state = self.state()
            if state["mode"] == "loop-reflink" and not os.path.ismount(state["area"]):
                self._mount(Path(state["image"]), Path(state["area"]))
            return state
        self.root.mkdir(parents=True, exist_ok=True)
        if supports_reflink(self.root):
            state = {"mode": "reflink", "area": str(self.root)}
        elif loop and os.geteuid() == 0 and shutil.which("mkfs.xfs") and shutil.which("losetup"):
            image, area = self.root / "xfs.img", self.root / "mnt"
            try:
                with image.open("wb") as f:
                    f.truncate(image_gb << 30)
                _run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", str(image)])
                self._mount(image, area)
                state = {"mode": "loop-reflink", "area": str(area), "image": str(image)}
            except CloneError:
                image.unlink(missing_ok=True)
                state = {"mode": "copy", "area": str(self.root)}
        else:
            state = {"mode": "copy", "area": str(self.root)}
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")
        return state

    @staticmethod
    def _mount(image: Path, area: Path) -> None:
        area.mkdir(parents=True, exist_ok=True)
        _run(["mount", "-o", "loop", str(image), str(area)])
        area.chmod(0o755)

    def destroy(self) -> None:
        """Unmount the loop image (if any) and delete the store."""
        if self.state_file.exists():
            state = self.state()
            if state["mode"] == "loop-reflink" and os.path.ismount(state["area"]):
                _run(["umount", state["area"]])
        shutil.rmtree(self.root, ignore_errors=True)


def method_note(result: CloneResult) -> str:
    """What the user should be told about how the clone was made."""
    if result.method == "reflink":
        return f"reflink clone (copy-on-write) in {result.seconds:.2f}s"
    return (
        f"plain copy in {result.seconds:.2f}s: this filesystem has no reflinks "
        "(use XFS with reflink=1 or btrfs, or run as root for a loop-mounted XFS image)"
    )
