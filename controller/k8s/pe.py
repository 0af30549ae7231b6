"""The PreviewEnvironment object <-> core values: spec <-> PullRequest, status <-> EnvStatus.

One codec shared by the webhook (which writes specs) and the controller
(which reads specs and writes status), built on `controller.core.schema` so
the camelCase field names are the CRD's. `status_body` is a pure function of
`EnvStatus`, and `status_of` its inverse, so a status read back compares
equal to the one written and reconciling again plans no new report. No I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.core.schema import decode, encode
from controller.core.types import EnvKey, EnvStatus, Phase, PullRequest, Reason
from controller.k8s import names

Obj = dict[str, Any]
_EPOCH = "1970-01-01T00:00:00Z"


def spec_of(pr: PullRequest) -> Obj:
    data: Obj = encode(pr)
    return data


def pull_request(obj: Obj) -> PullRequest:
    """Decode a PreviewEnvironment's spec; raises `SchemaError` naming bad fields."""
    return decode(PullRequest, obj.get("spec") or {}, what=f"{names.PE_KIND} spec")


def key_of(obj: Obj) -> EnvKey | None:
    spec = obj.get("spec") or {}
    repo, number = spec.get("repository"), spec.get("number")
    if isinstance(repo, str) and isinstance(number, int):
        return EnvKey(repo, number)
    return None


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def status_body(status: EnvStatus) -> Obj:
    """The `.status` of the object for `status` (conditions and per-phase times derived)."""
    transitions = [{"phase": p.value, "time": encode(t)} for p, t in status.transitions]
    since = status.transitions[-1][1] if status.transitions else None
    ready = status.phase is Phase.READY
    body: Obj = {
        "phase": status.phase.value,
        "reason": status.reason.value,
        "message": status.message,
        "namespace": status.namespace,
        "url": status.url,
        "sha": status.sha,
        "phaseTimestamps": transitions,
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "Ready" if ready else (status.reason.value or status.phase.value),
                "message": status.message,
                "lastTransitionTime": encode(since) if since else _EPOCH,
            }
        ],
    }
    if status.queue_position is not None:
        body["queuePosition"] = status.queue_position
    return body


def status_of(obj: Obj) -> EnvStatus | None:
    """The status last written, or None if the controller never wrote one."""
    raw = obj.get("status") or {}
    phase = raw.get("phase")
    if not phase:
        return None
    try:
        transitions = tuple(
            (Phase(t["phase"]), _time(t["time"])) for t in raw.get("phaseTimestamps") or ()
        )
        return EnvStatus(
            phase=Phase(phase),
            reason=Reason(raw.get("reason") or ""),
            message=raw.get("message") or "",
            namespace=raw.get("namespace") or "",
            url=raw.get("url") or "",
            sha=raw.get("sha") or "",
            queue_position=raw.get("queuePosition"),
            transitions=transitions,
        )
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: rebuilt and rewritten by the next report


def status_patch(obj_name: str, namespace: str, status: EnvStatus) -> Obj:
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.PE_KIND,
        "metadata": {"name": obj_name, "namespace": namespace},
        "status": status_body(status),
    }
