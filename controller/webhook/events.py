"""pull_request payloads -> `PullRequest` values, and the pure rules that order events.

GitHub may redeliver an event or deliver events out of order. Each stored
PreviewEnvironment records the `updated_at` of the event it reflects and the
last delivery ids. `decide` compares an incoming event with that record:
a known delivery is a duplicate; an older event is stale; at an equal
timestamp a closed pull request stays closed and the head only moves forward
along a `synchronize` whose `before` is the stored head. So nothing ever
resurrects a closed environment or rolls a head SHA back. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from controller.core.schema import SchemaError
from controller.core.types import PRState, PullRequest
from controller.webhook import prcodec

SUPPORTED = frozenset(
    {
        "opened",
        "synchronize",
        "reopened",
        "closed",
        "labeled",
        "unlabeled",
        "ready_for_review",
        "converted_to_draft",
        "edited",
    }
)
MAX_DELIVERIES = 20


class PayloadError(ValueError):
    """The payload lacks a field we need or has one of the wrong type (HTTP 400)."""


class Verdict(StrEnum):
    APPLY = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Event:
    """One pull_request delivery, reduced to what the environment needs."""

    delivery: str
    action: str
    pr: PullRequest
    before: str | None = None
    paths_given: bool = False


@dataclass(frozen=True, slots=True)
class Stored:
    """What a PreviewEnvironment says about the last event applied to it."""

    pr: PullRequest
    event_at: datetime
    deliveries: tuple[str, ...]


def _get(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise PayloadError(f"missing field {path}")
        node = node[part]
    return node


def _str(data: Any, path: str) -> str:
    value = _get(data, path)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"field {path}: expected a non-empty string")
    return value


def parse(payload: Any, *, delivery: str, team: str) -> Event:
    """Build the event; raise `PayloadError` naming the first bad field."""
    if not isinstance(payload, dict):
        raise PayloadError("expected a JSON object")
    action = _str(payload, "action")
    pr = _get(payload, "pull_request")
    number = _get(pr, "number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise PayloadError("field pull_request.number: expected an integer")
    merged = bool(pr.get("merged"))
    state = _str(pr, "state")
    labels = pr.get("labels") or []
    if not isinstance(labels, list):
        raise PayloadError("field pull_request.labels: expected a list")
    paths = payload.get("changed_paths")
    if paths is not None and not (
        isinstance(paths, list) and all(isinstance(p, str) for p in paths)
    ):
        raise PayloadError("field changed_paths: expected a list of strings")
    raw = {
        "repository": _str(payload, "repository.full_name"),
        "number": number,
        "headSha": _str(pr, "head.sha"),
        "baseSha": _str(pr, "base.sha"),
        "team": team,
        "author": _str(pr, "user.login"),
        "openedAt": _str(pr, "created_at"),
        "updatedAt": _str(pr, "updated_at"),
        "labels": sorted({str(label.get("name", "")) for label in labels if label.get("name")}),
        "draft": bool(pr.get("draft", False)),
        "changedPaths": sorted(set(paths or ())),
        "state": PRState.MERGED if merged else PRState.CLOSED if state == "closed" else "open",
    }
    try:
        value = prcodec.load(raw, what="pull request")
    except SchemaError as exc:
        raise PayloadError("; ".join(str(e) for e in exc.errors)) from exc
    before = payload.get("before") if isinstance(payload.get("before"), str) else None
    return Event(delivery, action, value, before=before, paths_given=paths is not None)


def decide(stored: Stored | None, event: Event) -> Verdict:
    """Whether `event` may be written over `stored`."""
    if stored is None:
        return Verdict.APPLY
    if event.delivery in stored.deliveries:
        return Verdict.DUPLICATE
    at, seen = event.pr.updated_at, stored.event_at
    if at < seen:
        return Verdict.STALE
    if at == seen:
        if stored.pr.state is not PRState.OPEN and event.pr.state is PRState.OPEN:
            return Verdict.STALE  # a tie never reopens
        if event.pr.head_sha != stored.pr.head_sha:
            moves_forward = event.action == "synchronize" and event.before == stored.pr.head_sha
            return Verdict.APPLY if moves_forward else Verdict.STALE
    return Verdict.APPLY


def merged_spec(stored: Stored | None, event: Event) -> PullRequest:
    """The spec to write: the event's view, keeping known paths when the head did not move."""
    pr = event.pr
    if stored is not None and not event.paths_given and stored.pr.head_sha == pr.head_sha:
        pr = replace(pr, changed_paths=stored.pr.changed_paths)
    if stored is not None:
        pr = replace(pr, opened_at=min(pr.opened_at, stored.pr.opened_at))
    return pr


def remember(stored: Stored | None, delivery: str) -> tuple[str, ...]:
    previous = stored.deliveries if stored is not None else ()
    return (*previous, delivery)[-MAX_DELIVERIES:]
