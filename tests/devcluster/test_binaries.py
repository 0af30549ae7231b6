"""Locating the control-plane binaries: clear errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.devcluster.binaries import BinariesUnavailableError, locate


def test_missing_binaries_are_reported_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etcd").touch()
    monkeypatch.setenv("MAYFLY_K8S_BINS", str(tmp_path))
    with pytest.raises(BinariesUnavailableError, match=r"kube-apiserver.*k8s-test-bins"):
        locate()


def test_given_directory_with_everything_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
        (tmp_path / name).touch(mode=0o755)
    (tmp_path / "kwok-stages.yaml").write_text("---\n")
    monkeypatch.setenv("MAYFLY_K8S_BINS", str(tmp_path))
    assert locate() == tmp_path
