"""Cluster objects -> the core's `DesiredState` and `ObservedState` for one Blueprint.

`fetch` lists what one reconcile cycle needs (a handful of label-selected
lists, consistent reads from the API server, so the effect of every write
made before is visible: the actions contract). `build` is pure: it turns
those lists into core values, deriving each step's record from the object
that embodies it (volume: the PVC; migrations and masking: the newest Job;
deploy and routes: the step marker plus the Deployments; a claimed warm slot
or a bound clone counts once its volume is handed over to the PR namespace's
PVC, and that PVC is Bound). Nothing here writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from controller.core.blueprint import Blueprint
from controller.core.schema import SchemaError
from controller.core.types import (
    DesiredState,
    EnvKey,
    EnvStatus,
    ObservedEnvironment,
    ObservedState,
    PRState,
    PullRequest,
    Slot,
    SlotState,
    Step,
    StepRecord,
)
from controller.k8s import kube, names, pe
from controller.k8s.config import ShellConfig
from controller.k8s.records import (
    annotations_of,
    handed_over,
    job_record,
    key_from_annotations,
    labels_of,
    marker_record,
    meta_of,
    parse_time,
    volume_record,
)

Obj = dict[str, Any]
T = TypeVar("T")
log = logging.getLogger("mayfly.observe")


@dataclass(slots=True)
class Snapshot:
    """The raw objects of one Blueprint, as listed at the start of a cycle."""

    pes: list[Obj] = field(default_factory=list)
    namespaces: list[Obj] = field(default_factory=list)
    volumes: list[Obj] = field(default_factory=list)
    jobs: list[Obj] = field(default_factory=list)
    deployments: list[Obj] = field(default_factory=list)
    markers: list[Obj] = field(default_factory=list)
    snapshots: list[Obj] = field(default_factory=list)


def fetch(api: kube.Kube, bp: Blueprint, cfg: ShellConfig) -> Snapshot:
    """List everything `build` needs for `bp` (7 requests, whatever the number of PRs)."""
    sel = f"{names.BLUEPRINT}={bp.name}"
    pes, _ = api.list(kube.PE, namespace=cfg.namespace)
    repos = set(bp.repositories)
    snap = Snapshot(pes=[o for o in pes if (o.get("spec") or {}).get("repository") in repos])
    snap.namespaces, _ = api.list(kube.NAMESPACE, selector=f"{names.MANAGED}=true,{sel}")
    snap.volumes, _ = api.list(kube.PVC, selector=sel)  # pool PVCs and PR database PVCs
    snap.jobs, _ = api.list(kube.JOB, selector=sel)
    snap.deployments, _ = api.list(kube.DEPLOYMENT, selector=sel)
    snap.markers, _ = api.list(kube.CONFIGMAP, selector=f"{sel},{names.STEP}")
    try:
        snap.snapshots, _ = api.list(
            kube.SNAPSHOT, namespace=cfg.pool_namespace, selector=names.GOLDEN
        )
    except Exception:  # no VolumeSnapshot CRD: clones start empty
        snap.snapshots = []
    return snap


def _newest(objs: list[Obj]) -> Obj:
    return max(
        objs,
        key=lambda o: (
            annotations_of(o).get(names.STARTED_AT, ""),
            int(labels_of(o).get(names.ATTEMPT, "0")),
        ),
    )


def _handing_over(pvc: Obj) -> bool:
    """A PVC of a hand-over still under way: no volume record, so the core asks again.

    A locked slot or a bound clone in the pool (a clone is Lost once its
    volume's claimRef points to the PR namespace's PVC), or the PR namespace's
    PVC before its `handed-over` mark, the hand-over's last write: a hand-over
    a crash interrupted is then resumed by the next claim or clone, not waited
    on until the volume step times out.
    """
    component = labels_of(pvc).get(names.COMPONENT)
    if component == "database":
        return not handed_over(pvc)
    phase = (pvc.get("status") or {}).get("phase")
    return component == "slot" or (component == "clone" and phase in ("Bound", "Lost"))


def _framed(ns: Obj) -> bool:
    """The namespace's frame (quota, limits, egress policy) is all written: its last write."""
    return annotations_of(ns).get(names.FRAMED) == "true"


def _by_env(objs: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for obj in objs:
        if meta_of(obj).get("deletionTimestamp"):
            continue
        env = labels_of(obj).get(names.ENV) or labels_of(obj).get(names.CLAIMED_BY)
        if env:
            out.setdefault(env, []).append(obj)
    return out


@dataclass(slots=True)
class View:
    """What `build` found, for the executor: the PE objects and pool volumes by env name."""

    desired: DesiredState
    observed: ObservedState
    pes: dict[EnvKey, Obj]
    volumes: dict[str, list[Obj]]
    slots: dict[str, Obj]
    golden: dict[int, str]
    deployments: dict[str, list[Obj]]
    jobs: dict[str, list[Obj]] = field(default_factory=dict)
    markers: dict[str, list[Obj]] = field(default_factory=dict)


class _Decoded:
    """PreviewEnvironment spec and status decoded once per resourceVersion (bounded).

    Every cycle reads every PreviewEnvironment of its Blueprint from the cache;
    decoding 500 unchanged specs and statuses took a good part of a cycle.
    The values are frozen, so sharing them between cycles changes nothing.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._lock = threading.Lock()  # workers of different Blueprints build at once
        self._specs: dict[tuple[str, str], tuple[PullRequest]] = {}
        self._statuses: dict[tuple[str, str], tuple[EnvStatus | None]] = {}

    def pull_request(self, obj: Obj) -> PullRequest:
        return self._decoded(self._specs, obj, pe.pull_request)  # a SchemaError: not kept

    def status(self, obj: Obj) -> EnvStatus | None:
        return self._decoded(self._statuses, obj, pe.status_of)

    def _decoded(
        self, memo: dict[tuple[str, str], tuple[T]], obj: Obj, decode: Callable[[Obj], T]
    ) -> T:
        md = meta_of(obj)
        uid, rv = md.get("uid"), md.get("resourceVersion")
        if not (isinstance(uid, str) and isinstance(rv, str) and uid and rv):
            return decode(obj)  # not from the API server: never remembered
        found = memo.get((uid, rv))
        if found is not None:
            return found[0]
        value = decode(obj)
        with self._lock:
            memo[(uid, rv)] = (value,)
            self._trim(memo)
        return value

    def _trim(self, memo: dict[Any, Any]) -> None:
        if len(memo) > self.limit:  # oldest first (insertion order): stale versions go
            for stale in list(memo)[: len(memo) // 2]:
                memo.pop(stale, None)


_DECODED = _Decoded()


def status_of(obj: Obj) -> EnvStatus | None:
    """`pe.status_of`, decoded once per resourceVersion (shared with every cycle's `build`)."""
    return _DECODED.status(obj)


def build(bp: Blueprint, snap: Snapshot, *, prefix: str = "pr") -> View:
    """Pure: the core's view of `bp` from the listed objects."""
    prs: list[PullRequest] = []
    pes: dict[EnvKey, Obj] = {}
    for obj in snap.pes:
        try:
            pr = _DECODED.pull_request(obj)
        except SchemaError as exc:
            log.warning(
                "event=invalid_spec name=%s errors=%d", meta_of(obj).get("name"), len(exc.errors)
            )
            continue
        prs.append(pr)
        pes[pr.key] = obj
    open_prs = {pr.key for pr in prs if pr.state is PRState.OPEN}
    keys: dict[str, EnvKey] = {names.env_name(k, prefix=prefix): k for k in pes}
    namespaces = {}
    for ns in snap.namespaces:
        key = key_from_annotations(ns)
        if key is not None:
            keys.setdefault(meta_of(ns)["name"], key)
            namespaces[key] = ns
    volumes = _by_env(snap.volumes)
    for env_name, objs in volumes.items():
        key = key_from_annotations(objs[0])
        if key is not None:
            keys.setdefault(env_name, key)
    jobs, deps, markers = _by_env(snap.jobs), _by_env(snap.deployments), _by_env(snap.markers)
    envs: list[ObservedEnvironment] = []
    for env_name, key in sorted(keys.items(), key=lambda kv: kv[1]):
        pe_obj = pes.get(key)
        md: Obj = meta_of(pe_obj) if pe_obj is not None else {}
        ns_obj = namespaces.get(key)
        ns_md: Obj = meta_of(ns_obj) if ns_obj is not None else {}
        terminating = bool(ns_md.get("deletionTimestamp")) or (
            (ns_obj or {}).get("status", {}).get("phase") == "Terminating"
        )
        steps: list[StepRecord] = []
        own = [v for v in volumes.get(env_name, []) if labels_of(v).get(names.CLAIMED_BY)]
        slot_id = meta_of(_newest(own))["name"] if own else None
        handed = [v for v in own if not _handing_over(v)]
        if handed:  # a locked slot or a bound clone: hand-over still under way, no record yet
            steps.append(volume_record(_newest(handed)))
        for step in (Step.MIGRATIONS, Step.MASKING):
            mine = [j for j in jobs.get(env_name, []) if labels_of(j).get(names.STEP) == step]
            if mine:
                steps.append(job_record(_newest(mine), step))
        env_deps = deps.get(env_name, [])
        for step in (Step.DEPLOY, Step.ROUTES):
            for marker in markers.get(env_name, []):
                if labels_of(marker).get(names.STEP) == step:
                    steps.append(marker_record(marker, step, env_deps))
        access = sorted({annotations_of(d).get(names.DB_ACCESS_SHA, "") for d in env_deps} - {""})
        deletion = pe_obj is None or bool(md.get("deletionTimestamp"))
        # an unframed namespace counts as not there yet only while the environment is wanted
        # (an open PR, its record not being deleted): then `CreateNamespace` writes the frame
        # again; on the way out it counts, so that teardown deletes it
        wanted = key in open_prs and not deletion
        envs.append(
            ObservedEnvironment(
                key=key,
                team=(pe_obj or {}).get("spec", {}).get("team", "")
                or labels_of(ns_obj or {}).get(names.TEAM, ""),
                finalizer=names.FINALIZER in (md.get("finalizers") or ()),
                admitted=(md.get("labels") or {}).get(names.ADMITTED) == "true",
                deletion_requested=deletion,
                namespace_exists=ns_obj is not None
                and (terminating or _framed(ns_obj) or not wanted),
                namespace_terminating=ns_obj is not None and terminating,
                slot_id=slot_id,
                steps=tuple(steps),
                db_access_sha=access[-1] if access else None,
                status=_DECODED.status(pe_obj) if pe_obj is not None else None,
                first_seen=parse_time(md.get("creationTimestamp")),
            )
        )
    slots: list[Slot] = []
    slot_objs: dict[str, Obj] = {}
    for vol in snap.volumes:
        labels = labels_of(vol)
        if labels.get(names.COMPONENT) != "slot" or meta_of(vol).get("deletionTimestamp"):
            continue
        claimed = keys.get(labels.get(names.CLAIMED_BY, ""))
        bound = (vol.get("status") or {}).get("phase") == "Bound"
        state = SlotState.CLAIMED if claimed else SlotState.READY if bound else SlotState.WARMING
        created = parse_time(meta_of(vol).get("creationTimestamp"))
        assert created is not None
        slot_objs[meta_of(vol)["name"]] = vol
        slots.append(
            Slot(
                meta_of(vol)["name"],
                int(labels.get(names.GENERATION, "1")),
                state,
                created,
                claimed,
            )
        )
    golden: dict[int, str] = {}
    for snapshot in snap.snapshots:
        if (snapshot.get("status") or {}).get("readyToUse"):
            gen = int(labels_of(snapshot).get(names.GENERATION, "1"))
            golden[gen] = meta_of(snapshot)["name"]
    observed = ObservedState(tuple(envs), tuple(sorted(slots)), max(golden, default=1))
    return View(
        desired=DesiredState(bp, tuple(prs)),
        observed=observed,
        pes=pes,
        volumes=volumes,
        slots=slot_objs,
        golden=golden,
        deployments=deps,
        jobs=jobs,
        markers=markers,
    )
