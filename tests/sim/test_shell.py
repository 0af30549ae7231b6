"""The simulation shell's cheap copy of a pull request matches `dataclasses.replace`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.core.types import PRState, PullRequest
from sim.shell import revised

OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PR = PullRequest(
    repository="acme/shop",
    number=7,
    head_sha="00000001" + "0000",
    base_sha="0" * 12,
    team="payments",
    author="dev",
    opened_at=OPENED,
    updated_at=OPENED,
    labels=("hotfix",),
    draft=True,
    changed_paths=("services/cart/main.py",),
)
LATER = OPENED + timedelta(hours=1)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="time-only"),
        pytest.param({"head_sha": "000000010001"}, id="push"),
        pytest.param({"draft": False}, id="ready-for-review"),
        pytest.param({"state": PRState.MERGED}, id="closed"),
        pytest.param({"state": PRState.OPEN}, id="reopened"),
    ],
)
def test_revised_is_replace(changes: dict[str, Any]) -> None:
    assert revised(PR, updated_at=LATER, **changes) == dataclasses.replace(
        PR, updated_at=LATER, **changes
    )


def test_revised_copies_every_field() -> None:
    """A new PullRequest field must be copied by `revised` too (it lists them all)."""
    names = [f.name for f in dataclasses.fields(PullRequest) if f.init]
    copy = revised(PR, updated_at=PR.updated_at)
    assert copy == PR
    assert [getattr(copy, n) for n in names] == [getattr(PR, n) for n in names]
    assert len(names) == 12, "a field was added to PullRequest: copy it in sim.shell.revised"
