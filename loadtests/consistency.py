"""After a run: does the API server show exactly what the ledger says was accepted?

Reads every PreviewEnvironment of the load test's namespace (the official
client, no controller code) and compares it with the folded ledger: each
pull request with an accepted delivery has exactly one environment, at the
newest head SHA, closed if it was closed, with its last delivery recorded;
refused (forged) deliveries left nothing; nothing appeared that was never
sent. On the cluster tier, `settle` also waits for closed pull requests to
be torn down and open ones to be Ready at their head. Decides nothing about
the system under test; it only compares.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from kubernetes import client

from controller.k8s import names
from loadtests.ledger import Folded, PrKey

Obj = dict[str, Any]


@dataclass(slots=True)
class Report:
    """Counts and the first examples of every kind of inconsistency."""

    expected_prs: int = 0
    environments: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, float] = field(default_factory=dict)

    def add(self, kind: str, example: str) -> None:
        self.problems.setdefault(kind, []).append(example)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in sorted(self.problems.items())}


def list_environments(api: Any, namespace: str) -> list[Obj]:
    """Every PreviewEnvironment in `namespace` (paged)."""
    custom = client.CustomObjectsApi(api)
    items: list[Obj] = []
    token: str | None = None
    while True:
        kw: dict[str, Any] = {"limit": 500}
        if token:
            kw["_continue"] = token
        page: Obj = cast(
            Obj,
            custom.list_namespaced_custom_object(
                names.GROUP, names.VERSION, namespace, names.PE_PLURAL, **kw
            ),
        )
        items.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items


def key_of(obj: Obj) -> PrKey | None:
    spec = obj.get("spec") or {}
    repo, number = spec.get("repository"), spec.get("number")
    return (repo, number) if isinstance(repo, str) and isinstance(number, int) else None


def _label(key: PrKey) -> str:
    return f"{key[0]}#{key[1]}"


def check(folded: Folded, environments: list[Obj]) -> Report:
    """Compare the ledger with the environments the API server holds."""
    report = Report(expected_prs=len(folded.prs), environments=len(environments))
    by_key: dict[PrKey, list[Obj]] = {}
    for obj in environments:
        key = key_of(obj)
        if key is None:
            report.add("unreadable", obj["metadata"]["name"])
            continue
        by_key.setdefault(key, []).append(obj)
    for e in folded.forged_accepted:
        report.add("forged_accepted", f"{e.delivery} {_label(e.key)} answered {e.status}")
    for e in folded.genuine_refused:
        report.add("genuine_refused", f"{e.delivery} {_label(e.key)} {e.action} -> {e.status}")
    for key, want in folded.prs.items():
        objs = by_key.get(key, [])
        if not objs:
            if want.deliveries:  # only uncertain deliveries may legitimately leave nothing
                report.add("lost", _label(key))
            continue
        if len(objs) > 1:
            report.add("duplicated", f"{_label(key)} x{len(objs)}")
        spec = objs[0].get("spec") or {}
        head, state = spec.get("headSha"), spec.get("state")
        if head != want.head_sha and head not in want.maybe:
            report.add("stale_head", f"{_label(key)} has {head}, newest sent {want.head_sha}")
        if want.closed and state == "open":
            report.add("not_closed", _label(key))
        if not want.closed and state != "open" and not want.maybe_closed:
            report.add("closed_unexpectedly", f"{_label(key)} is {state}")
        annotations = (objs[0].get("metadata") or {}).get("annotations") or {}
        recorded = annotations.get(names.DELIVERIES, "").split(",")
        if want.last_delivery and want.last_delivery not in recorded and not want.maybe:
            report.add("delivery_unrecorded", f"{_label(key)} lacks {want.last_delivery}")
    for key in folded.forged_keys & set(by_key):
        report.add("forged_left_object", _label(key))
    for key, objs in by_key.items():
        if key not in folded.prs and key not in folded.forged_keys:
            report.add("phantom", f"{_label(key)} ({objs[0]['metadata']['name']})")
        for obj in objs:
            if (obj.get("spec") or {}).get("headSha") in folded.forged_shas:
                report.add("forged_head", _label(key))
    report.facts["accepted_deliveries"] = sum(p.deliveries for p in folded.prs.values())
    report.facts["closed_prs"] = sum(1 for p in folded.prs.values() if p.closed)
    report.facts["uncertain_deliveries"] = len(folded.uncertain)
    return report


def _phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def converged(folded: Folded, environments: list[Obj]) -> tuple[list[str], list[str]]:
    """(closed PRs not yet Gone, open PRs not yet Ready at their newest head)."""
    by_key = {k: o for o in environments if (k := key_of(o)) is not None}
    not_gone, not_ready = [], []
    for key, want in folded.prs.items():
        obj = by_key.get(key)
        if obj is None:
            continue
        if want.closed:
            if _phase(obj) != "Gone":
                not_gone.append(f"{_label(key)} {_phase(obj) or '-'}")
        elif _phase(obj) != "Ready" or (obj.get("status") or {}).get("sha") != want.head_sha:
            not_ready.append(f"{_label(key)} {_phase(obj) or '-'}")
    return not_gone, not_ready


def settle(
    folded: Folded,
    fetch: Callable[[], list[Obj]],
    *,
    timeout_s: float,
    report: Report,
    progress: Callable[[int, int], None] | None = None,
) -> list[Obj]:
    """Wait for teardown and readiness (cluster tier); add what did not converge to `report`."""
    deadline = time.monotonic() + timeout_s
    start = time.monotonic()
    while True:
        envs = fetch()
        not_gone, not_ready = converged(folded, envs)
        if progress is not None:
            progress(len(not_gone), len(not_ready))
        if (not not_gone and not not_ready) or time.monotonic() >= deadline:
            break
        time.sleep(2.0)
    report.facts["settle_s"] = round(time.monotonic() - start, 1)
    for item in not_gone:
        report.add("not_torn_down", item)
    for item in not_ready:
        report.add("not_ready", item)
    return envs
