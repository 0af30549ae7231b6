"""Build pull_request payloads the way GitHub shapes them: for `mayfly webhook send` and tests.

Only the fields the webhook reads, plus the headers; `changed_paths` is the
Mayfly extension that spares a GitHub API call. No I/O.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from controller.webhook.signature import sign


def pull_request_payload(
    *,
    action: str,
    repository: str,
    number: int,
    head_sha: str,
    base_sha: str = "0" * 40,
    author: str = "octocat",
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    labels: tuple[str, ...] = (),
    draft: bool = False,
    state: str = "open",
    merged: bool = False,
    changed_paths: tuple[str, ...] | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    stamp = (updated_at or now).astimezone(UTC).isoformat().replace("+00:00", "Z")
    created = (created_at or updated_at or now).astimezone(UTC).isoformat()
    payload: dict[str, Any] = {
        "action": action,
        "number": number,
        "repository": {"full_name": repository},
        "pull_request": {
            "number": number,
            "state": state,
            "merged": merged,
            "draft": draft,
            "user": {"login": author},
            "head": {"sha": head_sha},
            "base": {"sha": base_sha, "ref": "main"},
            "labels": [{"name": label} for label in labels],
            "created_at": created.replace("+00:00", "Z"),
            "updated_at": stamp,
        },
    }
    if changed_paths is not None:
        payload["changed_paths"] = list(changed_paths)
    if before is not None:
        payload["before"] = before
    return payload


def signed_request(
    secret: bytes, payload: dict[str, Any], *, event: str = "pull_request", delivery: str = ""
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a delivery, signed with `secret`."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
    }
    return body, headers
