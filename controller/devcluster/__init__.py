"""A real, local Kubernetes control plane for tests and for trying Mayfly.

Binaries come from `scripts/k8s-test-bins` (built from the Go module proxy,
cached outside the repository); this package starts them as an `api` tier
(etcd + kube-apiserver) or a `cluster` tier (plus controller-manager,
scheduler and kwok fake nodes), for the pytest fixtures and for
`mayfly dev cluster up|down|kubeconfig`. It is test and developer tooling:
the controller itself must never import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controller.devcluster.tier import Tier

if TYPE_CHECKING:
    from controller.devcluster.controlplane import ControlPlane, start

__all__ = ["ControlPlane", "Tier", "start"]


def __getattr__(name: str) -> Any:
    """Import the kubernetes-heavy parts only when used (`mayfly --help` stays fast)."""
    if name in ("ControlPlane", "start"):
        from controller.devcluster import controlplane  # noqa: PLC0415

        return getattr(controlplane, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
