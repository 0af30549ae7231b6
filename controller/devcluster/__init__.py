"""A real, local Kubernetes control plane for tests and for trying Mayfly.

Binaries come from `scripts/k8s-test-bins` (built from the Go module proxy,
cached outside the repository); this package starts them as an `api` tier
(etcd + kube-apiserver) or a `cluster` tier (plus controller-manager,
scheduler and kwok fake nodes), for the pytest fixtures and for
`mayfly dev cluster up|down|kubeconfig`. It is test and developer tooling:
the controller itself must never import it.
"""

from controller.devcluster.controlplane import ControlPlane, Tier, start

__all__ = ["ControlPlane", "Tier", "start"]
