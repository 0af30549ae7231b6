"""Before a release cut: pushes, release-blocker labels and merges pile up, then the freeze.

Run by `mayfly loadtest --scenario release-cut`, or by hand against a running
webhook: `MAYFLY_WEBHOOK_SECRET=... locust -f loadtests/locustfiles/release_cut.py
--host http://127.0.0.1:8080 --headless`.
"""

from __future__ import annotations

from typing import ClassVar

from loadtests.shapes import ReleaseCut
from loadtests.users import WebhookUser

__all__ = ["ReleaseCut", "ReleaseEngineer"]


class ReleaseEngineer(WebhookUser):
    weights: ClassVar[dict[str, int]] = {"open": 4, "push": 16, "label": 6, "close": 14}
