"""How long environments took after their webhook was answered: objects applied, Ready.

For the burst benchmark. `applied_times` lists every object the controller
applied for a blueprint (by its `mayfly.dev/blueprint` label, any
namespace) and keeps per environment the latest time the controller's field
manager wrote one (`managedFields`, second resolution). `ready_times` reads
the Ready transition from each PreviewEnvironment's `status.phaseTimestamps`.
Only reads; the official client's dynamic API, no controller code.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import dynamic

from controller.k8s import names

Obj = dict[str, Any]
KINDS = (
    ("v1", "Namespace"), ("v1", "ResourceQuota"), ("v1", "LimitRange"),
    ("v1", "PersistentVolumeClaim"), ("v1", "Service"), ("v1", "Secret"), ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"), ("networking.k8s.io/v1", "NetworkPolicy"), ("batch/v1", "Job"),
    ("apps/v1", "Deployment"), ("networking.istio.io/v1", "VirtualService"),
    ("networking.istio.io/v1", "DestinationRule"), ("networking.istio.io/v1", "Sidecar"),
)  # fmt: skip


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _applied_at(obj: Obj, manager: str) -> float | None:
    times = [
        parse_time(entry["time"])
        for entry in (obj.get("metadata") or {}).get("managedFields") or ()
        if entry.get("manager") == manager and entry.get("time")
    ]
    return max(times) if times else None


def applied_times(
    api: Any, blueprint: str, *, manager: str = names.FIELD_MANAGER
) -> dict[str, tuple[float, int]]:
    """Per environment name: (latest apply time by `manager`, number of objects)."""
    dyn = dynamic.DynamicClient(api)  # type: ignore[no-untyped-call]
    out: dict[str, tuple[float, int]] = {}
    for api_version, kind in KINDS:
        try:
            resource = dyn.resources.get(api_version=api_version, kind=kind)
        except Exception:  # a kind this tier does not serve: nothing of it to time
            continue
        listing = resource.get(label_selector=f"{names.BLUEPRINT}={blueprint}").to_dict()
        for obj in listing.get("items") or ():
            env = ((obj.get("metadata") or {}).get("labels") or {}).get(names.ENV)
            at = _applied_at(obj, manager)
            if not env or at is None:
                continue
            latest, count = out.get(env, (0.0, 0))
            out[env] = (max(latest, at), count + 1)
    return out


def phase_times(env: Obj) -> list[tuple[str, float]]:
    """(phase, time) transitions of a PreviewEnvironment, oldest first."""
    stamps = (env.get("status") or {}).get("phaseTimestamps") or ()
    return [(str(s["phase"]), parse_time(s["time"])) for s in stamps if s.get("time")]


def ready_time(env: Obj) -> float | None:
    """When the environment last became Ready (None if it is not Ready now)."""
    if (env.get("status") or {}).get("phase") != "Ready":
        return None
    readies = [t for phase, t in phase_times(env) if phase == "Ready"]
    return readies[-1] if readies else None


def phase_durations(envs: Iterable[Obj]) -> dict[str, list[float]]:
    """Seconds spent in each phase before the next one, over all environments."""
    out: dict[str, list[float]] = {}
    for env in envs:
        stamps = phase_times(env)
        for (phase, t), (_, t_next) in itertools.pairwise(stamps):
            out.setdefault(phase, []).append(t_next - t)
    return out


_CYCLE = re.compile(
    r"event=cycle blueprint=\S+ environments=(\d+) actions=(\d+) "
    r"fetch=([0-9.]+) decide=([0-9.]+) apply=([0-9.]+)"
)


def _logged_at(line: str) -> float:
    try:
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    except ValueError:
        return 0.0


def controller_cycles(log: Path, *, since: float = 0.0) -> dict[str, Any]:
    """The controller's reconcile cycles logged after `since` (local-time log stamps)."""
    rows = [
        tuple(float(x) for x in m.groups())
        for line in log.read_text(errors="replace").splitlines()
        if (m := _CYCLE.search(line)) and _logged_at(line) >= since
    ]
    if not rows:
        return {"cycles": 0}
    out: dict[str, Any] = {"cycles": len(rows)}
    for i, name in enumerate(("environments", "actions", "fetch_s", "decide_s", "apply_s")):
        values = sorted(r[i] for r in rows)
        out[name] = {
            "p50": round(values[len(values) // 2], 3),
            "max": round(values[-1], 3),
            "total": round(sum(values), 1),
        }
    return out
