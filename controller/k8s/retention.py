"""Forget long-gone environments: delete the PreviewEnvironments of closed pull requests.

When a pull request closes, the controller tears its environment down and
leaves the PreviewEnvironment in phase `Gone` with its finalizer removed: a
record that keeps the webhook idempotent (a redelivered or late `opened`
for a closed PR finds it and does not resurrect the environment) and holds
the phase trace. Kept forever, those records would grow etcd, every watch
cache and every cycle's input by one object per pull request ever opened.

`expired` selects the records whose environment has been `Gone` for longer
than the retention window and whose pull request is still closed; `collect`
deletes them with their resourceVersion as a precondition, so a webhook
write in between (a reopen) wins and the record stays. The default window,
7 days, is over twice GitHub's 3 days in which a delivery can be
redelivered. The simulation models the same record as deleted at once
(`sim.shell`), which this is with a window of 0. It renders nothing and
calls no core function: the core never sees a record it would act on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from controller.core.types import Phase, PRState
from controller.k8s import kube, metrics, observe
from controller.k8s.errors import ConflictError, KubeError
from controller.k8s.records import meta_of

Obj = dict[str, Any]
log = logging.getLogger("mayfly.retention")

DEFAULT_RETAIN = timedelta(days=7)


def gone_since(obj: Obj) -> datetime | None:
    """When the environment became `Gone`, if it is a removable record; else None.

    Removable: phase `Gone`, pull request closed or merged, no finalizer
    left and not already being deleted.
    """
    md = meta_of(obj)
    if md.get("finalizers") or md.get("deletionTimestamp"):
        return None
    if (obj.get("spec") or {}).get("state", PRState.OPEN.value) == PRState.OPEN.value:
        return None
    status = observe.status_of(obj)  # the cycles' memo: usually decoded already
    if status is None or status.phase is not Phase.GONE:
        return None
    times = [t for phase, t in status.transitions if phase is Phase.GONE]
    return times[-1] if times else None


def expired(objs: Iterable[Obj], *, now: datetime, retain: timedelta) -> list[Obj]:
    """The removable records `Gone` for at least `retain` at `now`, oldest first."""
    aged = [(since, obj) for obj in objs if (since := gone_since(obj)) is not None]
    return [obj for since, obj in sorted(aged, key=lambda p: p[0]) if now - since >= retain]


def collect(
    api: kube.Kube, objs: Iterable[Obj], *, now: datetime, retain: timedelta, limit: int = 200
) -> int:
    """Delete up to `limit` expired records (a reopened one is kept); returns how many went."""
    removed = 0
    for obj in expired(objs, now=now, retain=retain)[:limit]:
        md = meta_of(obj)
        try:
            if api.delete(
                kube.PE, md["name"], md.get("namespace"), resource_version=md["resourceVersion"]
            ):
                removed += 1
        except ConflictError:
            continue  # written since it was read (a reopen): no longer a stale record
        except KubeError as exc:
            log.warning("event=retention_failed env=%s status=%s", md["name"], exc.status)
            break  # the API server is unwell: try again at the next sweep
    if removed:
        metrics.RECORDS_FORGOTTEN.inc(removed)
        log.info("event=records_forgotten count=%d retain_s=%d", removed, retain.total_seconds())
    return removed
