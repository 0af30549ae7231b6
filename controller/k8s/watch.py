"""Watches that turn any change into a work-queue key: list, then watch from its RV.

Each watcher lists once to get a resourceVersion, then watches from it with
bookmarks (the RV advances even when nothing it selects changes), resumes
from the last RV after a dropped connection, and relists on 410 Gone. The
callback gets every object it sees and returns nothing: watches only say
"look again" (level-triggered). An optional `Sink` (the informer cache)
also gets each list and each event, so cycles read the world from memory.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from controller.k8s import kube
from controller.k8s.errors import KubeError

log = logging.getLogger("mayfly.watch")
Obj = dict[str, Any]


class Sink(Protocol):
    """Where a watcher's lists and events go besides the callback (controller/k8s/cache.py)."""

    def replace(self, kind: str, items: Iterable[Obj], list_rv: str) -> None: ...

    def upsert(self, obj: Obj) -> None: ...

    def deleted(self, obj: Obj) -> None: ...

    def mark_synced(self, kind: str) -> None: ...


class Watcher(threading.Thread):
    def __init__(
        self,
        api: kube.Kube,
        kind: kube.Kind,
        on_object: Callable[[Obj], None],
        *,
        selector: str | None = None,
        stop: threading.Event,
        timeout: int = 240,
        sink: Sink | None = None,
    ) -> None:
        super().__init__(name=f"watch-{kind.plural}", daemon=True)
        self.api, self.kind, self.on_object, self.selector = api, kind, on_object, selector
        self.stop_event, self.timeout = stop, timeout
        self.resource_version = ""
        self.relists = 0
        self.sink = sink

    def _relist(self) -> None:
        items, rv = self.api.list(self.kind, selector=self.selector)
        self.relists += 1
        if self.sink is not None:
            self.sink.replace(self.kind.kind, items, rv)
        for item in items:
            self.on_object(item)
        self.resource_version = rv

    def run(self) -> None:
        backoff = 0.2
        while not self.stop_event.is_set():
            try:
                if not self.resource_version:
                    self._relist()
                for event in self.api.watch(
                    self.kind,
                    resource_version=self.resource_version,
                    selector=self.selector,
                    timeout=self.timeout,
                ):
                    if self.stop_event.is_set():
                        return
                    obj = event.get("raw_object") or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        self.resource_version = rv
                    kind = event.get("type")
                    if kind == "BOOKMARK":
                        continue
                    if self.sink is not None:
                        obj.setdefault("kind", self.kind.kind)
                        if kind == "DELETED":
                            self.sink.deleted(obj)
                        else:
                            self.sink.upsert(obj)
                    self.on_object(obj)
                backoff = 0.2
            except KubeError as exc:
                if exc.status == 410 or "410" in str(exc):
                    log.info("event=watch_expired kind=%s", self.kind.kind)
                    self.resource_version = ""  # relist
                    continue
                if exc.status == 404 and self.sink is not None:
                    self.sink.mark_synced(self.kind.kind)  # no such resource here: empty
                log.warning("event=watch_failed kind=%s status=%s", self.kind.kind, exc.status)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception as exc:  # a dropped stream: resume from the last RV
                log.warning(
                    "event=watch_dropped kind=%s error=%s", self.kind.kind, type(exc).__name__
                )
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
