"""The production write path: decide on the watch cache, write once with a precondition.

Per delivery, in the common case, exactly one API call: a create (POST) when
the cache knows no such object, or a server-side apply carrying the cached
`resourceVersion`. A stale cache cannot cause a rollback or a resurrection:
the API server refuses a write whose precondition no longer holds (409,
also for a create racing another), and then the object is read afresh and
the decision made again. Without a write the answer comes from the cache
only where its lag cannot matter: a delivery it already records
(duplicate), or an event strictly older than the stored one (stale; the
stored time only grows). A tie in time is confirmed on a fresh read first.

Runs on the event loop; the GitHub lookup of changed paths (rare: payloads
usually carry them) runs in a worker thread. Until the cache has synced,
every decision reads the object first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from starlette.concurrency import run_in_threadpool

from controller.k8s import names
from controller.k8s.errors import ConflictError, NotFoundError
from controller.webhook.apiserver import ApiServer
from controller.webhook.cache import Entry, EnvCache
from controller.webhook.events import Event, Verdict, decide, merged_spec
from controller.webhook.store import PathSource, needs_paths, render

log = logging.getLogger("mayfly.webhook.store")


class CachedStore:
    """An async `Writer`: start it inside the event loop (the app's lifespan does)."""

    def __init__(self, api: ApiServer, *, namespace: str, paths: PathSource | None = None) -> None:
        self.api, self.namespace, self.paths = api, namespace, paths
        self.cache = EnvCache(api)
        self.fresh_reads = 0  # decisions that needed a GET (cache cold, conflicts, ties)
        self.conflicts = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.api.start()
        self._task = asyncio.create_task(self.cache.run(), name="pe-cache")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.api.stop()

    def ready(self) -> bool:
        return self.cache.synced.is_set()

    async def _read(self, name: str) -> Entry | None:
        self.fresh_reads += 1
        obj = await self.api.get(name)
        if obj is None:
            return None
        return self.cache.put(obj)

    async def write(self, event: Event, *, blueprint: str, attempts: int = 5) -> Verdict:
        """Apply `event` if the ordering rules allow; 2xx-worthy only once the server accepted."""
        name = names.env_name(event.pr.key)
        fresh = not self.cache.synced.is_set()
        entry = await self._read(name) if fresh else self.cache.get(name)
        for _ in range(attempts):
            stored = entry.stored if entry is not None else None
            verdict = decide(stored, event)
            if (
                verdict is Verdict.STALE
                and not fresh
                and stored is not None
                and event.pr.updated_at == stored.event_at
            ):
                entry, fresh = await self._read(name), True  # a tie: decide on fresh data
                continue
            if verdict is not Verdict.APPLY:
                return verdict
            pr = merged_spec(stored, event)
            if self.paths is not None and needs_paths(stored, event, pr):
                found = await run_in_threadpool(self.paths, pr)
                pr = dataclasses.replace(pr, changed_paths=found)
            rv = entry.resource_version if entry is not None else None
            body = render(stored, event, pr, namespace=self.namespace, blueprint=blueprint,
                          resource_version=rv)  # fmt: skip
            try:
                if entry is None:
                    written = await self.api.create(body, manager=names.WEBHOOK_FIELD_MANAGER)
                else:
                    written = await self.api.apply(body, manager=names.WEBHOOK_FIELD_MANAGER)
            except ConflictError:
                self.conflicts += 1  # someone wrote first (or the cache lagged): look again
                log.info("event=write_conflict delivery=%s name=%s", event.delivery, name)
                entry, fresh = await self._read(name), True
                continue
            except NotFoundError:
                if entry is None:
                    raise  # the namespace itself is missing: the caller answers 503
                entry, fresh = await self._read(name), True  # deleted under a stale cache
                continue
            self.cache.put(written)
            return Verdict.APPLY
        raise ConflictError(409, "Conflict", f"{attempts} write conflicts in a row")
