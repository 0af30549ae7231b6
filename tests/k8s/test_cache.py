"""The informer cache: resourceVersion order, tombstones, relists, write-through, selection."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.blueprint import load_blueprint
from controller.k8s import kube, names
from controller.k8s.cache import Cache
from controller.k8s.config import ShellConfig
from tests.k8s.harness import blueprint_doc


def _job(name: str, rv: str, *, ns: str = "pr-1", bp: str = "bp", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": ns,
            "resourceVersion": rv,
            "labels": {names.BLUEPRINT: bp, names.ENV: ns, **labels},
        },
    }


def _names(cache: Cache) -> list[tuple[str, str]]:
    return sorted(
        (o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in cache.items(kube.JOB)
    )


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([("up", "a", "5"), ("up", "a", "7")], [("a", "7")], id="newer-wins"),
        pytest.param([("up", "a", "7"), ("up", "a", "5")], [("a", "7")], id="late-event-ignored"),
        pytest.param([("up", "a", "5"), ("del", "a", "6"), ("up", "a", "5")], [], id="tombstone"),
        pytest.param(
            [("up", "a", "5"), ("del", "a", "6"), ("up", "a", "9")], [("a", "9")], id="recreated"
        ),
        pytest.param([("up", "a", "9"), ("del", "a", "6")], [("a", "9")], id="stale-delete"),
    ],
)
def test_resource_version_order(events: list[tuple[str, str, str]], expected: list[Any]) -> None:
    cache = Cache()
    for op, name, rv in events:
        if op == "up":
            cache.upsert(_job(name, rv))
        else:
            cache.deleted(_job(name, rv))
    assert _names(cache) == expected


def test_relist_replaces_but_keeps_newer_writes() -> None:
    cache = Cache()
    cache.upsert(_job("gone", "3"))  # deleted while the watch was down
    cache.written(_job("fresh", "12"))  # written after the list was taken
    cache.replace("Job", [_job("listed", "8")], "10")
    assert _names(cache) == [("fresh", "12"), ("listed", "8")]


def test_write_through_of_deletes() -> None:
    cache = Cache()
    cache.upsert(_job("a", "5"))
    cache.gone(kube.JOB, "a", "pr-1", None)
    cache.upsert(_job("a", "5"))  # the watch catching up with the old state
    assert _names(cache) == []


def test_snapshot_selects_one_blueprint() -> None:
    bp = load_blueprint(blueprint_doc("bp", "acme/shop"))
    cfg = ShellConfig(namespace="mayfly-x", pool_namespace="pool-x")
    cache = Cache()
    cache.upsert(_job("mine", "1"))
    cache.upsert(_job("other", "2", bp="bp2"))
    cache.upsert(
        {
            "kind": names.PE_KIND,
            "metadata": {"name": "pr-1", "namespace": "mayfly-x", "resourceVersion": "3"},
            "spec": {"repository": "acme/shop"},
        }
    )
    cache.upsert(
        {
            "kind": names.PE_KIND,
            "metadata": {"name": "pr-2", "namespace": "elsewhere", "resourceVersion": "4"},
            "spec": {"repository": "acme/shop"},
        }
    )
    snap = cache.snapshot(bp, cfg)
    assert [o["metadata"]["name"] for o in snap.jobs] == ["mine"]
    assert [o["metadata"]["name"] for o in snap.pes] == ["pr-1"]


def test_synced_once_every_kind_listed_or_absent() -> None:
    cache = Cache()
    for kind in ("PreviewEnvironment", "Namespace", "PersistentVolumeClaim", "Job", "Deployment"):
        cache.replace(kind, [], "1")
    cache.replace("ConfigMap", [], "1")
    assert not cache.wait_synced(0.01)
    cache.mark_synced("VolumeSnapshot")  # no CRD on this cluster
    assert cache.wait_synced(0.01)
