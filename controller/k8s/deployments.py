"""GitHub Deployments API reporting: one transient environment per pull request.

On each status change: find or create the deployment of (PR environment,
head SHA) (`transient_environment`, not production), then post a status:
`in_progress` while provisioning, `success` with the URL when Ready,
`failure` when Failed, `inactive` once torn down. Calls run on a background
thread so a slow GitHub never stalls reconciling; repeated identical states
are sent once. Failures are logged (without the token) and dropped: the
PreviewEnvironment status stays the source of truth.
"""

from __future__ import annotations

import logging
import queue
import threading

from controller.core.types import EnvKey, EnvStatus, Phase
from controller.webhook.github import GitHub, GitHubError

log = logging.getLogger("mayfly.deployments")

_STATE = {
    Phase.READY: "success",
    Phase.FAILED: "failure",
    Phase.TEARING_DOWN: "inactive",
    Phase.GONE: "inactive",
    Phase.EXPIRED: "inactive",
    Phase.QUEUED: "queued",
}


def state_of(phase: Phase) -> str:
    return _STATE.get(phase, "in_progress")


def environment_name(key: EnvKey) -> str:
    return f"preview/pr-{key.number}"


class DeploymentsReporter:
    """Implements `application.Reporter` on top of a `GitHub` client."""

    def __init__(self, gh: GitHub) -> None:
        self.gh = gh
        self._queue: queue.Queue[tuple[EnvKey, EnvStatus] | None] = queue.Queue()
        self._sent: dict[EnvKey, tuple[str, str]] = {}
        self._ids: dict[tuple[EnvKey, str], int] = {}
        self._flushed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="github-deployments", daemon=True)
        self._thread.start()

    def report(self, key: EnvKey, status: EnvStatus) -> None:
        self._queue.put((key, status))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued report was sent (tests, shutdown)."""
        done = threading.Event()
        self._flushed = done
        self._queue.put(None)
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._flushed.set()
                continue
            key, status = item
            try:
                self._send(key, status)
            except GitHubError as exc:
                log.warning("event=github_report_failed env=%s status=%s", key.number, exc.status)

    def _deployment(self, key: EnvKey, sha: str) -> int:
        known = self._ids.get((key, sha))
        if known is not None:
            return known
        env = environment_name(key)
        path = f"/repos/{key.repository}/deployments"
        found = self.gh.request("GET", path, params={"sha": sha, "environment": env}).json()
        if found:
            ident = int(found[0]["id"])
        else:
            body = {
                "ref": sha,
                "environment": env,
                "transient_environment": True,
                "production_environment": False,
                "auto_merge": False,
                "required_contexts": [],
                "description": "Mayfly preview environment",
            }
            ident = int(self.gh.request("POST", path, json=body).json()["id"])
        self._ids[(key, sha)] = ident
        return ident

    def _send(self, key: EnvKey, status: EnvStatus) -> None:
        state = state_of(status.phase)
        if not status.sha or self._sent.get(key) == (status.sha, state):
            return
        ident = self._deployment(key, status.sha)
        body: dict[str, object] = {"state": state, "description": status.phase.value}
        if status.url:
            body["environment_url"] = status.url
        if state == "inactive":
            body["auto_inactive"] = False
        self.gh.request("POST", f"/repos/{key.repository}/deployments/{ident}/statuses", json=body)
        self._sent[key] = (status.sha, state)
