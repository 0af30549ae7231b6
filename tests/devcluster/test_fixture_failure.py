"""A control plane that cannot start fails the tests that need it, never skips them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("ci", [pytest.param("true", id="ci"), pytest.param("", id="local")])
def test_unavailable_control_plane_is_an_error_not_a_skip(tmp_path: Path, ci: str) -> None:
    (tmp_path / "test_needs_api.py").write_text(
        "def test_needs_api(k8s_api):\n    assert k8s_api.kubeconfig.exists()\n"
    )
    env = {**os.environ, "CI": ci, "MAYFLY_K8S_BINS": str(tmp_path / "nowhere")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.fixtures.k8s",
            "-p",
            "no:cacheprovider",
            "-rA",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path / "test_needs_api.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "1 error" in out, out
    assert "skipped" not in out, out
    assert "control plane could not be built or started" in out
    if ci:
        assert "CI=true" in out
