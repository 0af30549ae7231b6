"""Watchers: resume from the last resourceVersion, bookmarks advance it, 410 relists."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from controller.k8s import kube
from controller.k8s.errors import KubeError
from controller.k8s.watch import Watcher


class FakeKube:
    """Lists return one object; watches replay a script of events or errors."""

    def __init__(self, script: list[list[Any]], stop: threading.Event) -> None:
        self.script, self.stop = script, stop
        self.lists = 0
        self.watched_from: list[str] = []

    def list(self, kind: kube.Kind, **_: Any) -> tuple[list[dict[str, Any]], str]:
        self.lists += 1
        return [{"metadata": {"name": "listed", "resourceVersion": "10"}}], str(10 * self.lists)

    def watch(self, kind: kube.Kind, *, resource_version: str, **_: Any) -> Iterator[Any]:
        self.watched_from.append(resource_version)
        if not self.script:
            self.stop.set()
            return
        for item in self.script.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item


def _event(kind: str, rv: str) -> dict[str, Any]:
    return {"type": kind, "raw_object": {"metadata": {"name": "x", "resourceVersion": rv}}}


def test_resume_bookmarks_and_relist_on_410() -> None:
    stop = threading.Event()
    fake = FakeKube(
        [
            [_event("ADDED", "11"), _event("BOOKMARK", "15"), ConnectionResetError()],
            [_event("MODIFIED", "16"), KubeError(410, "Expired", "too old resource version")],
            [],
        ],
        stop,
    )
    seen: list[str] = []
    watcher = Watcher(fake, kube.PE, lambda o: seen.append(o["metadata"]["name"]), stop=stop)  # type: ignore[arg-type]
    watcher.run()
    # resumed after the drop, relisted on 410, resumed again after a clean timeout
    assert fake.watched_from == ["10", "15", "20", "20"]
    assert fake.lists == 2
    assert seen == ["listed", "x", "x", "listed"]  # bookmarks are not objects
