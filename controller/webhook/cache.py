"""The webhook's informer: what each PreviewEnvironment of its namespace last said.

Filled by a list, then a watch resumed from the last resourceVersion
(bookmarks keep it moving, 410 Gone relists), and by the response of every
write the webhook makes, so its own writes are visible before their watch
events arrive. Per object it keeps the resourceVersion and the event record
(`store.stored_of`); an older resourceVersion never overwrites a newer one.

A cache may lag the API server. It is only ever used for decisions that a
lag cannot make wrong (a known delivery, an event strictly older than one
already stored) or as the precondition of a write, which the API server
refuses (409) when the object has moved on. It decides nothing itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from controller.k8s.errors import KubeError
from controller.webhook.apiserver import ApiServer
from controller.webhook.events import Stored
from controller.webhook.store import stored_of

log = logging.getLogger("mayfly.webhook.cache")
Obj = dict[str, Any]


class Entry:
    """One object as last seen: its resourceVersion, and its event record (None: unreadable).

    The record is decoded on first use: most watch events are replaced before any
    delivery asks for them, and decoding is the dearest step of a delivery.
    """

    __slots__ = ("_obj", "_stored", "resource_version")

    def __init__(self, obj: Obj) -> None:
        self.resource_version = str(obj["metadata"].get("resourceVersion", ""))
        self._obj: Obj | None = obj
        self._stored: Stored | None = None

    @property
    def stored(self) -> Stored | None:
        if self._obj is not None:
            self._stored, self._obj = stored_of(self._obj), None
        return self._stored


def _newer(candidate: str, current: str) -> bool:
    """Whether resourceVersion `candidate` is not older than `current` (opaque: assume so)."""
    if candidate.isdigit() and current.isdigit():
        return int(candidate) >= int(current)
    return True


class EnvCache:
    """PreviewEnvironments by name; `run()` keeps it current until cancelled."""

    def __init__(self, api: ApiServer, *, watch_timeout_s: int = 240) -> None:
        self.api, self.watch_timeout_s = api, watch_timeout_s
        self.entries: dict[str, Entry] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0

    def get(self, name: str) -> Entry | None:
        return self.entries.get(name)

    def put(self, obj: Obj) -> Entry:
        """Record `obj` (a watch event's or a write's answer) unless something newer is known."""
        name = obj["metadata"]["name"]
        entry = Entry(obj)
        current = self.entries.get(name)
        if current is None or _newer(entry.resource_version, current.resource_version):
            self.entries[name] = entry
            return entry
        return current

    def forget(self, obj: Obj) -> None:
        """The object was deleted (at its resourceVersion); a newer version stays."""
        meta = obj["metadata"]
        current = self.entries.get(meta["name"])
        if current is not None and _newer(
            str(meta.get("resourceVersion", "")), current.resource_version
        ):
            del self.entries[meta["name"]]

    def replace(self, items: Iterable[Obj], resource_version: str) -> None:
        self.entries = {item["metadata"]["name"]: Entry(item) for item in items}
        self.resource_version = resource_version
        self.relists += 1
        self.synced.set()

    async def run(self) -> None:
        """List, then watch from the list's resourceVersion; resume after drops, relist on 410."""
        backoff = 0.2
        while True:
            try:
                if not self.resource_version:
                    self.replace(*await self.api.list())
                await self._watch()
                backoff = 0.2
            except KubeError as exc:
                if exc.status == 410:
                    self.resource_version = ""
                    continue
                # 429 before the first list: a starting API server whose own watch cache
                # is still initialising; expected, and retried like any other failure
                starting = exc.status == 429 and not self.synced.is_set()
                log.log(
                    logging.INFO if starting else logging.WARNING,
                    "event=cache_watch_failed status=%s retry_in_s=%.1f",
                    exc.status,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _watch(self) -> None:
        async for event in self.api.watch(self.resource_version, timeout_s=self.watch_timeout_s):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    log.info("event=cache_watch_expired")
                    self.resource_version = ""
                    return
                raise KubeError(int(obj.get("code") or 0), str(obj.get("reason")), "watch error")
            rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            if rv:
                self.resource_version = rv
            if kind in ("ADDED", "MODIFIED"):
                self.put(obj)
            elif kind == "DELETED":
                self.forget(obj)
