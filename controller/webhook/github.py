"""A small GitHub REST client (httpx): retries, rate limits, pagination; base URL configurable.

Used for a pull request's changed files when the payload lacks them, and by
the controller for the Deployments API. Transient failures (connection
errors, 5xx) are retried with exponential backoff; a rate limit (403/429
with `X-RateLimit-Remaining: 0` or `Retry-After`) waits until the reset,
capped, then retries. The token is sent, never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

log = logging.getLogger("mayfly.github")


class GitHubError(RuntimeError):
    """A request failed for good (4xx other than rate limits, or retries exhausted)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"GitHub API {status}: {message}")


class GitHub:
    def __init__(
        self,
        base_url: str = "https://api.github.com",
        *,
        token: str | None = None,
        retries: int = 4,
        backoff: float = 0.2,
        max_wait: float = 30.0,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self.retries, self.backoff, self.max_wait, self.sleep = retries, backoff, max_wait, sleep

    def close(self) -> None:
        self.http.close()

    def _rate_wait(self, resp: httpx.Response) -> float | None:
        if resp.status_code not in (403, 429):
            return None
        if "Retry-After" in resp.headers:
            return min(float(resp.headers["Retry-After"]), self.max_wait)
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            reset = float(resp.headers.get("X-RateLimit-Reset", "0"))
            return min(max(reset - time.time(), 0.0) + 0.5, self.max_wait)
        return None if resp.status_code == 403 else self.backoff

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; return a 2xx response or raise `GitHubError`."""
        last = "no attempt"
        for attempt in range(self.retries + 1):
            try:
                resp = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                last = type(exc).__name__
                self.sleep(self.backoff * 2**attempt)
                continue
            if resp.is_success:
                return resp
            wait = self._rate_wait(resp)
            if wait is not None:
                log.warning("event=github_rate_limited wait=%.1f", wait)
                self.sleep(wait)
                last = f"rate limited ({resp.status_code})"
                continue
            if resp.status_code >= 500:
                last = str(resp.status_code)
                self.sleep(self.backoff * 2**attempt)
                continue
            raise GitHubError(resp.status_code, resp.text[:200])
        raise GitHubError(0, f"gave up after {self.retries + 1} attempts: {last}")

    def pull_files(self, repository: str, number: int, *, max_pages: int = 30) -> tuple[str, ...]:
        """Paths a pull request changes (GitHub lists at most 3000)."""
        paths: list[str] = []
        for page in range(1, max_pages + 1):
            resp = self.request(
                "GET",
                f"/repos/{repository}/pulls/{number}/files",
                params={"per_page": 100, "page": page},
            )
            batch = resp.json()
            paths += [str(f["filename"]) for f in batch if "filename" in f]
            paths += [str(f["previous_filename"]) for f in batch if f.get("previous_filename")]
            if len(batch) < 100 or 'rel="next"' not in resp.headers.get("Link", 'rel="next"'):
                break
        return tuple(sorted(set(paths)))
