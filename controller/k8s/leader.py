"""Lease-based leader election on coordination.k8s.io/v1, via the client's `leaderelection`.

The official client's `LeaderElection` with its `LeaseLock` (pointed at our
ApiClient instead of the global default). `run_as_leader` blocks: followers
wait for the lease; the leader runs `lead(stop)` and, if it ever fails to
renew, sets `stop` so the work stops (the process then exits, as
controller-runtime does, and restarts as a follower).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from kubernetes import client
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from controller.k8s import metrics

log = logging.getLogger("mayfly.leader")
LEASE_NAME = "mayfly-controller"


def identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def run_as_leader(
    api: client.ApiClient,
    lead: Callable[[threading.Event], None],
    *,
    namespace: str,
    name: str = LEASE_NAME,
    ident: str | None = None,
    lease_duration: int = 15,
    renew_deadline: int = 10,
    retry_period: int = 2,
) -> None:
    """Block until leadership is lost (returns) after running `lead` while leading."""
    lock = LeaseLock(name, namespace, ident or identity())  # type: ignore[no-untyped-call]
    lock.api_instance = client.CoordinationV1Api(api)
    stop = threading.Event()

    def started() -> None:  # runs on the election's own thread
        metrics.LEADER.set(1)
        log.info("event=leading lease=%s/%s", namespace, name)
        lead(stop)

    def stopped() -> None:
        metrics.LEADER.set(0)
        log.warning("event=lost_lease lease=%s/%s", namespace, name)
        stop.set()

    config = electionconfig.Config(  # type: ignore[no-untyped-call]
        lock, lease_duration, renew_deadline, retry_period, started, stopped
    )
    leaderelection.LeaderElection(config).run()  # type: ignore[no-untyped-call]
    stop.set()
