"""Step records from the objects that embody each step (pure helpers of `observe`).

Volume: the PVC (Bound = done, Lost = failed). Migrations and masking: the
Job (Complete / Failed conditions). Deploy and routes: the step marker
ConfigMap, with the Deployments deciding whether a deploy is done. No I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.core.types import EnvKey, Reason, Step, StepRecord, StepStatus
from controller.k8s import names

Obj = dict[str, Any]
_FAILED = {Step.MIGRATIONS: Reason.MIGRATIONS_FAILED, Step.MASKING: Reason.MASKING_FAILED}


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def meta_of(obj: Obj) -> Obj:
    md: Obj = obj.get("metadata") or {}
    return md


def labels_of(obj: Obj) -> dict[str, str]:
    labels: dict[str, str] = meta_of(obj).get("labels") or {}
    return labels


def annotations_of(obj: Obj) -> dict[str, str]:
    ann: dict[str, str] = meta_of(obj).get("annotations") or {}
    return ann


def handed_over(pvc: Obj) -> bool:
    """A PR namespace's PVC carries the hand-over's last write, its `handed-over` mark."""
    return names.HANDED_OVER in annotations_of(pvc)


def key_from_annotations(obj: Obj) -> EnvKey | None:
    ann = annotations_of(obj)
    repo, number = ann.get(names.REPOSITORY_FULL), ann.get(names.NUMBER)
    if repo and number and number.isdigit():
        return EnvKey(repo, int(number))
    return None


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def started_at(recorded: str | None, obj: Obj) -> datetime:
    """The recorded start of a step, else the object's creation time."""
    when = parse_time(recorded) or parse_time(meta_of(obj).get("creationTimestamp"))
    if when is None:
        raise ValueError("object without creationTimestamp")
    return when


def volume_record(pvc: Obj) -> StepRecord:
    labels, ann = labels_of(pvc), annotations_of(pvc)
    started = parse_time(ann.get(names.STARTED_AT)) or parse_time(
        meta_of(pvc).get("creationTimestamp")
    )
    assert started is not None
    phase = (pvc.get("status") or {}).get("phase", "Pending")
    status = {"Bound": StepStatus.SUCCEEDED, "Lost": StepStatus.FAILED}.get(
        phase, StepStatus.RUNNING
    )
    return StepRecord(
        step=Step.VOLUME,
        sha="",
        status=status,
        started_at=started,
        attempt=int(labels.get(names.ATTEMPT, "1")),
        finished_at=started if status is not StepStatus.RUNNING else None,
        reason=Reason.CLONE_FAILED if status is StepStatus.FAILED else Reason.NONE,
        detail=ann.get(names.DETAIL, ""),
    )


def job_record(job: Obj, step: Step) -> StepRecord:
    labels, ann = labels_of(job), annotations_of(job)
    started = parse_time(ann.get(names.STARTED_AT)) or parse_time(
        meta_of(job).get("creationTimestamp")
    )
    assert started is not None
    done, failed = condition(job, "Complete"), condition(job, "Failed")
    status, reason, detail, finished = StepStatus.RUNNING, Reason.NONE, "", None
    if done is not None:
        status, finished = StepStatus.SUCCEEDED, parse_time(done.get("lastTransitionTime"))
    elif failed is not None:
        status, reason = StepStatus.FAILED, _FAILED[step]
        detail = str(failed.get("reason") or "")
        finished = parse_time(failed.get("lastTransitionTime"))
    return StepRecord(
        step=step,
        sha=ann.get(names.SHA, labels.get(names.SHA, "")),
        status=status,
        started_at=started,
        attempt=int(labels.get(names.ATTEMPT, "1")),
        finished_at=finished or (started if status is not StepStatus.RUNNING else None),
        reason=reason,
        detail=detail,
    )


def _available(dep: Obj) -> bool:
    spec, st = dep.get("spec") or {}, dep.get("status") or {}
    want = int(spec.get("replicas", 1))
    return (
        int(st.get("observedGeneration", 0)) >= int(meta_of(dep).get("generation", 1))
        and int(st.get("updatedReplicas", 0)) >= want
        and int(st.get("availableReplicas", 0)) >= want
    )


def marker_record(marker: Obj, step: Step, deployments: list[Obj]) -> StepRecord:
    data = marker.get("data") or {}
    sha, attempt = data.get("sha", ""), int(data.get("attempt", "1"))
    started = parse_time(data.get("startedAt")) or parse_time(
        meta_of(marker).get("creationTimestamp")
    )
    assert started is not None
    status = StepStatus.SUCCEEDED
    reason = Reason.NONE
    if step is Step.DEPLOY:
        wanted = [n for n in (data.get("objects") or "").split(",") if n]
        by_name = {meta_of(d).get("name"): d for d in deployments}
        for name in wanted:
            dep = by_name.get(name)
            if dep is None or annotations_of(dep).get(names.SHA) != sha:
                status = StepStatus.RUNNING
            elif condition(dep, "ReplicaFailure") is not None:
                status, reason = StepStatus.FAILED, Reason.DEPLOY_FAILED
                break
            elif not _available(dep):
                status = StepStatus.RUNNING
    return StepRecord(
        step=step,
        sha=sha,
        status=status,
        started_at=started,
        attempt=attempt,
        finished_at=started if status is not StepStatus.RUNNING else None,
        reason=reason,
    )
