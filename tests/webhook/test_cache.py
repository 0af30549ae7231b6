"""The webhook's informer (`cache.EnvCache`) against a scripted API server: ordering by
resourceVersion, deletes, bookmarks, resuming after a dropped watch, relisting on 410."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from controller.k8s import names
from controller.k8s.errors import RetryableError
from controller.webhook.apiserver import ApiServer
from controller.webhook.cache import EnvCache

Obj = dict[str, Any]


def pe(name: str, rv: int, sha: str = "ab" * 20) -> Obj:
    return {
        "metadata": {
            "name": name,
            "resourceVersion": str(rv),
            "annotations": {names.EVENT_AT: "2026-03-02T09:00:00Z", names.DELIVERIES: "d1"},
        },
        "spec": {
            "repository": "acme/shop", "number": 1, "headSha": sha, "baseSha": "cd" * 20,
            "team": "web", "author": "octocat", "openedAt": "2026-03-02T09:00:00Z",
            "updatedAt": "2026-03-02T09:00:00Z",
        },
    }  # fmt: skip


class ScriptedApi:
    """`list` answers from `lists`; each `watch` call plays the next script (an exception
    ends it, like a dropped connection); the calls are recorded."""

    def __init__(self, lists: list[tuple[list[Obj], str]], watches: list[list[Any]]) -> None:
        self.lists, self.watches = lists, watches
        self.calls: list[str] = []
        self.done = asyncio.Event()

    async def list(self) -> tuple[list[Obj], str]:
        self.calls.append("list")
        return self.lists.pop(0)

    async def watch(self, resource_version: str, *, timeout_s: int = 240) -> AsyncIterator[Obj]:
        self.calls.append(f"watch@{resource_version}")
        if not self.watches:
            self.done.set()
            await asyncio.sleep(3600)
        for item in self.watches.pop(0):
            if isinstance(item, BaseException):
                raise item
            yield item


def _run(api: ScriptedApi) -> EnvCache:
    async def main() -> EnvCache:
        cache = EnvCache(cast(ApiServer, api))
        task = asyncio.create_task(cache.run())
        await asyncio.wait_for(api.done.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return cache

    return asyncio.run(main())


def test_an_older_version_never_overwrites_a_newer_one() -> None:
    cache = EnvCache(cast(ApiServer, None))
    cache.put(pe("pr-1", 20, sha="aa" * 20))
    cache.put(pe("pr-1", 19, sha="bb" * 20))  # a watch event behind our own write's answer
    entry = cache.get("pr-1")
    assert entry is not None
    assert entry.resource_version == "20"
    assert entry.stored is not None
    assert entry.stored.pr.head_sha == "aa" * 20
    cache.forget(pe("pr-1", 18))  # a delete older than what we know: ignored
    assert cache.get("pr-1") is not None
    cache.forget(pe("pr-1", 21))
    assert cache.get("pr-1") is None


def test_an_unreadable_object_is_kept_with_no_record() -> None:
    cache = EnvCache(cast(ApiServer, None))
    broken = pe("pr-1", 5)
    broken["spec"]["headSha"] = "not a sha"
    entry = cache.put(broken)
    assert entry.resource_version == "5"
    assert entry.stored is None


def test_list_then_watch_events_bookmarks_and_deletes() -> None:
    api = ScriptedApi(
        lists=[([pe("pr-1", 10), pe("pr-2", 11)], "11")],
        watches=[
            [
                {"type": "MODIFIED", "object": pe("pr-1", 12, sha="cc" * 20)},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
                {"type": "DELETED", "object": pe("pr-2", 16)},
                {"type": "ADDED", "object": pe("pr-3", 17)},
            ]
        ],
    )
    cache = _run(api)
    assert cache.synced.is_set()
    assert sorted(cache.entries) == ["pr-1", "pr-3"]
    entry = cache.get("pr-1")
    assert entry is not None
    stored = entry.stored
    assert stored is not None
    assert stored.pr.head_sha == "cc" * 20
    assert api.calls == ["list", "watch@11", "watch@17"]  # a watch that ends is resumed


def test_a_dropped_watch_resumes_and_410_relists() -> None:
    api = ScriptedApi(
        lists=[([pe("pr-1", 10)], "10"), ([pe("pr-9", 40)], "40")],
        watches=[
            [{"type": "ADDED", "object": pe("pr-2", 12)}, RetryableError(0, "Dropped", "eof")],
            [{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}],
        ],
    )
    cache = _run(api)
    assert api.calls == ["list", "watch@10", "watch@12", "list", "watch@40"]
    assert sorted(cache.entries) == ["pr-9"]  # the relist replaced what was known
    assert cache.relists == 2
