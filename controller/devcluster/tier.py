"""The two tiers of the local control plane, as a light enum (no Kubernetes imports).

Kept apart so that the CLI can offer `--tier` and answer `--help` without
importing the kubernetes client; the tiers' meaning lives in `controlplane`.
"""

from __future__ import annotations

import enum

DEFAULT_FAKE_NODES = 2  # kwok nodes of the cluster tier unless asked (110 pods each)


class Tier(enum.StrEnum):
    """How much of Kubernetes runs: the API alone, or enough to run workloads."""

    API = "api"
    CLUSTER = "cluster"
