"""A small typed family of API errors: what the shell may retry and what it must not.

Maps `kubernetes` client exceptions (HTTP statuses, connection failures) to
`RetryableError` (429, 5xx, 409 conflicts, timeouts, refused connections) or
`TerminalError` (400, 403, 404 on a write, 422: retrying cannot help). Callers
catch the family, never raw `ApiException`. This module performs no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import DynamicApiError
from urllib3.exceptions import HTTPError


class KubeError(Exception):
    """Base of every API error the shell raises."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status} {reason}: {message}" if status else message)


class RetryableError(KubeError):
    """Transient: rate limited, server trouble, conflict or connection lost; retry later."""

    def __init__(self, status: int, reason: str, message: str, *, retry_after: float = 0) -> None:
        super().__init__(status, reason, message)
        self.retry_after = retry_after


class ConflictError(RetryableError):
    """409: a resourceVersion precondition failed or the object already exists."""


class TerminalError(KubeError):
    """The request itself is wrong (invalid, forbidden): retrying cannot help."""


class NotFoundError(TerminalError):
    """404: the object (or its namespace) does not exist."""


def _details(body: Any) -> tuple[str, str]:
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else {}
    except ValueError:
        return "", str(body)[:200]
    return str(data.get("reason", "")), str(data.get("message", ""))[:500]


def classify(exc: BaseException) -> KubeError:
    """The shell's error for any exception raised by a call to the API server."""
    if isinstance(exc, KubeError):
        return exc
    if isinstance(exc, ApiException | DynamicApiError):
        status = int(getattr(exc, "status", 0) or 0)
        reason, message = _details(getattr(exc, "body", ""))
        reason = reason or str(getattr(exc, "reason", "") or "")
        headers = getattr(exc, "headers", None) or {}
        retry_after = float(headers.get("Retry-After", 0) or 0) if hasattr(headers, "get") else 0.0
        if status == 409:
            return ConflictError(status, reason, message)
        if status == 404:
            return NotFoundError(status, reason, message)
        if status == 429 or status >= 500 or status == 0:
            return RetryableError(status, reason, message, retry_after=retry_after)
        return TerminalError(status, reason, message)
    if isinstance(exc, HTTPError | OSError | TimeoutError):
        return RetryableError(0, "ConnectionError", type(exc).__name__)
    raise exc
