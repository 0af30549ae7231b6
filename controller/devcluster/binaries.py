"""Where the control-plane binaries are: a given directory or the build script.

`MAYFLY_K8S_BINS` names a ready directory; otherwise `scripts/k8s-test-bins`
(idempotent, cached outside the repository) is run and its last output line
is the directory. This module only locates binaries; it never starts them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "k8s-test-bins"
REQUIRED = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kwok-stages.yaml",
)


class BinariesUnavailableError(RuntimeError):
    """The control plane could not be found or built; the message says what to do."""


def _check(directory: Path) -> Path:
    missing = [name for name in REQUIRED if not (directory / name).exists()]
    if missing:
        raise BinariesUnavailableError(
            f"{directory} lacks {', '.join(missing)}; run {BUILD_SCRIPT} to build them"
        )
    return directory


def locate() -> Path:
    """The directory holding the binaries, building them first on a cold cache."""
    given = os.environ.get("MAYFLY_K8S_BINS")
    if given:
        return _check(Path(given).expanduser())
    if not BUILD_SCRIPT.exists():
        raise BinariesUnavailableError(
            f"{BUILD_SCRIPT} is missing; set MAYFLY_K8S_BINS to a directory with "
            "etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok"
        )
    result = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        tail = "\n".join(result.stderr.strip().splitlines()[-25:])
        raise BinariesUnavailableError(
            f"{BUILD_SCRIPT} failed (exit {result.returncode}); it needs Go >= 1.25 and "
            f"access to the Go module proxy. Last lines:\n{tail}"
        )
    return _check(Path(lines[-1]))
