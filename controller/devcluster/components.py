"""Command lines of the control-plane components, as pure functions.

Each builder turns a `Layout` (ports, files, directories of one control plane)
into the argv of one binary, with the flags envtest and kwokctl use for
single-machine clusters. Nothing here starts a process or touches the disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from controller.devcluster.pki import Pki

SERVICE_CIDR = "10.0.0.0/16"  # 65,534 Services: a /24 filled up after ~40 environments
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KUBE_API_QPS = 1000  # controller-manager and scheduler clients (see `_delegating`)


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything the components of one control plane share."""

    bins: Path
    workdir: Path
    pki: Pki
    kubeconfig: Path
    etcd_port: int
    etcd_peer_port: int
    apiserver_port: int
    controller_manager_port: int
    scheduler_port: int
    kwok_port: int

    @property
    def server(self) -> str:
        """The API server URL."""
        return f"https://127.0.0.1:{self.apiserver_port}"


# Go's garbage collector took about a fifth of kube-apiserver's CPU under a webhook
# load; GOGC=400 lets the heap grow 4x between collections instead of 2x, which cut
# its CPU per write by 14-21 % (three interleaved A/B pairs, load ~4) for a few
# hundred MB more memory: a fair trade for a throwaway single-machine control plane.
GO_GC = {"kube-apiserver": "400"}


def go_env(component: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Environment additions for `component`'s process (a GOGC set by the user wins)."""
    if "GOGC" in environ or component not in GO_GC:
        return {}
    return {"GOGC": GO_GC[component]}


def etcd(layout: Layout) -> list[str]:
    """A single-member etcd on loopback; fsync off because the data is throwaway."""
    client = f"http://127.0.0.1:{layout.etcd_port}"
    peer = f"http://127.0.0.1:{layout.etcd_peer_port}"
    return [
        str(layout.bins / "etcd"),
        "--name=mayfly",
        f"--data-dir={layout.workdir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=mayfly={peer}",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def kube_apiserver(layout: Layout, *, service_account_admission: bool) -> list[str]:
    """The API server: client-certificate auth, RBAC, service-account tokens."""
    pki = layout.pki
    argv = [
        str(layout.bins / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{layout.etcd_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={layout.apiserver_port}",
        f"--cert-dir={layout.workdir / 'apiserver'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--service-account-key-file={pki.sa_public_key}",
        f"--service-account-signing-key-file={pki.sa_private_key}",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        "--endpoint-reconciler-type=none",
        "--profiling=false",
    ]
    if not service_account_admission:
        # Without a controller manager nothing creates the `default` service
        # account, so pods could never be admitted on the api tier.
        argv.append("--disable-admission-plugins=ServiceAccount")
    return argv


def _delegating(layout: Layout, port: int, name: str) -> list[str]:
    kubeconfig = str(layout.kubeconfig)
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={layout.workdir / name}",
        "--leader-elect=false",
        # Client-side rate limits per controller client: the API server on this machine
        # is the only limit worth having. At 100/s, a 500-environment burst's ~4,500 pods
        # alone cost the ReplicaSet controller and the scheduler 45 s each of waiting.
        f"--kube-api-qps={KUBE_API_QPS}",
        f"--kube-api-burst={2 * KUBE_API_QPS}",
    ]


def kube_controller_manager(layout: Layout) -> list[str]:
    """Namespace, garbage-collector, Job and service-account controllers, and the rest."""
    pki = layout.pki
    return [
        str(layout.bins / "kube-controller-manager"),
        *_delegating(layout, layout.controller_manager_port, "controller-manager"),
        f"--service-account-private-key-file={pki.sa_private_key}",
        f"--root-ca-file={pki.ca_cert}",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--use-service-account-credentials=false",
        "--controllers=*,-nodeipam",
        # kwok's heartbeat stage reports every 20-45 s; don't let nodes flap NotReady.
        "--node-monitor-grace-period=120s",
    ]


def kube_scheduler(layout: Layout) -> list[str]:
    """The default scheduler, placing pods on kwok's fake nodes."""
    return [
        str(layout.bins / "kube-scheduler"),
        *_delegating(layout, layout.scheduler_port, "scheduler"),
    ]


def kwok(layout: Layout) -> list[str]:
    """kwok managing only the annotated fake nodes and the pods bound to them."""
    return [
        str(layout.bins / "kwok"),
        f"--kubeconfig={layout.kubeconfig}",
        f"--config={layout.bins / 'kwok-stages.yaml'}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
        "--cidr=10.244.0.1/16",
        "--node-ip=10.244.0.1",
        f"--server-address=127.0.0.1:{layout.kwok_port}",
    ]
