"""Settings of the Kubernetes shell (not of an application: that is the Blueprint).

Plain frozen values built once by `mayfly controller run` from its options and
handed to the renderers and the loop. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.core.policy import Policy
from controller.core.types import Step
from controller.k8s import names


@dataclass(frozen=True, slots=True)
class Quota:
    """ResourceQuota and LimitRange values of every PR namespace."""

    pods: int = 60
    requests_cpu: str = "8"
    requests_memory: str = "16Gi"
    limits_cpu: str = "16"
    limits_memory: str = "32Gi"
    pvcs: int = 4
    default_cpu: str = "100m"
    default_memory: str = "128Mi"
    default_limit_cpu: str = "500m"
    default_limit_memory: str = "512Mi"


@dataclass(frozen=True, slots=True)
class ShellConfig:
    """Where things live and what the rendered workloads run."""

    namespace: str = names.DEFAULT_NAMESPACE
    pool_namespace: str = names.POOL_NAMESPACE
    job_image: str = "ghcr.io/mayfly-dev/mayfly:latest"
    migrate_command: tuple[str, ...] = ("mayfly", "migrations", "apply")
    mask_command: tuple[str, ...] = ("mayfly", "anonymize")
    storage_class: str | None = None
    volume_size_gi: int = 10
    job_deadline_seconds: tuple[tuple[Step, int], ...] = ()
    quota: Quota = field(default_factory=Quota)
    policy: Policy = field(default_factory=Policy)
    pr_image_tag: bool = True

    def job_deadline(self, step: Step) -> int:
        """Job activeDeadlineSeconds: the configured value, else 90 % of the step timeout."""
        for candidate, seconds in self.job_deadline_seconds:
            if candidate is step:
                return seconds
        return max(1, int(self.policy.timeout(step).total_seconds() * 0.9))
