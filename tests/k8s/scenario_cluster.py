"""Run the scenarios' `ClusterPlan`s on the cluster tier and measure what the sim would report.

One controller (in a thread, with the dev volume binder) serves every
scenario without a controller fault, each scenario its own Blueprint and
repository in shared PreviewEnvironment and pool namespaces, as one
production controller serves many blueprints. A crash-loop scenario gets its
own controller process, SIGKILLed and restarted while provisioning; a golden
refresh (per pool namespace) and clone failures (a short volume timeout, per
controller) get their own controller thread and namespaces. Each
scenario sends signed `opened` webhooks to its real webhook (a burst, or
about a second apart), applies its faults (an unprovisioned first clone, a
new golden snapshot), waits, measures, closes every PR and counts what is
left. The summary uses the sim's metric names where the cluster has a
counterpart, plus cluster invariants (`volumes_shared`, `stale_slots`,
`unsettled`, `not_gone`). It measures; `plan_for` decides what is checked.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from controller.core.policy import Policy
from controller.core.types import Step
from controller.devcluster import ControlPlane
from controller.k8s import binder, kube, names
from controller.k8s.loop import Controller
from controller.k8s.records import parse_time
from tests.k8s.harness import Scenario, kill
from tests.k8s.scenario_plan import ClusterPlan

GAP_S = 1.0  # between arrivals outside a burst: minutes compressed to a second
SLA_S = 90.0
POLL_S = 1.0  # one list per poll: six scenarios share a loaded API server


@dataclass
class Outcome:
    plan: ClusterPlan
    summary: dict[str, float | int | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # reason: message of Failed ones
    volumes: list[str] = field(default_factory=list)  # PR number: where its database came from


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(POLL_S)
    return check()


def _phases(s: Scenario) -> dict[int, str]:
    items, _ = s.api.list(kube.PE, namespace=s.namespace)
    out: dict[int, str] = {}
    for pe in items:
        spec = pe.get("spec") or {}
        if spec.get("repository") == s.repo:
            out[int(spec.get("number", 0))] = str((pe.get("status") or {}).get("phase", ""))
    return out


def _slots(s: Scenario) -> list[kube.Obj]:
    sel = f"{names.COMPONENT}=slot,{names.BLUEPRINT}={s.blueprint}"
    items, _ = s.api.list(kube.PVC, namespace=s.pool, selector=sel)
    return [o for o in items if not o["metadata"].get("deletionTimestamp")]


def _warm(s: Scenario) -> list[kube.Obj]:
    return [o for o in _slots(s) if (o.get("status") or {}).get("phase") == "Bound"]


def _refresh_golden(s: Scenario) -> None:
    """A new golden snapshot (generation 2) becomes ready: the pool is rebuilt from it."""
    md = {
        "name": f"golden-2-{s.tag}",
        "namespace": s.pool,
        "labels": {names.GOLDEN: "true", names.GENERATION: "2", names.BLUEPRINT: s.blueprint},
    }
    body = {"apiVersion": kube.SNAPSHOT.api_version, "kind": kube.SNAPSHOT.kind, "metadata": md}
    s.api.apply({**body, "spec": {"source": {"persistentVolumeClaimName": "golden"}}},
                manager="scenario")  # fmt: skip
    s.api.apply({**body, "status": {"readyToUse": True}}, manager="scenario", subresource="status")


def _attempts(s: Scenario, number: int) -> int:
    objs = s.volumes(number) + s.in_ns(kube.JOB, number)
    return max((int(o["metadata"]["labels"].get(names.ATTEMPT, "1")) for o in objs), default=1)


def _measure(s: Scenario, numbers: list[int], out: Outcome) -> None:
    spinups: list[float] = []
    failed = with_failures = from_slot = 0
    volumes: list[str] = []
    for n in numbers:
        pe = s.pe(n) or {}
        status = pe.get("status") or {}
        if status.get("phase") == "Failed":
            failed += 1
            out.failures.append(f"{status.get('reason')}: {status.get('message')}")
        ready = [t["time"] for t in status.get("phaseTimestamps") or () if t["phase"] == "Ready"]
        created = parse_time(pe.get("metadata", {}).get("creationTimestamp"))
        at = parse_time(ready[0]) if ready else None
        if created is not None and at is not None:
            spinups.append((at - created).total_seconds())
        attempts = _attempts(s, n)
        with_failures += attempts > 1
        for vol in s.volumes(n):
            if vol["spec"].get("volumeName"):
                volumes.append(str(vol["spec"]["volumeName"]))
            detail = vol["metadata"].get("annotations", {}).get(names.DETAIL, "")
            from_slot += detail.startswith("slot:")
            out.volumes.append(f"PR {n}: {detail or '?'} (attempt {attempts})")
    spinups.sort()
    out.summary.update(
        environments=len(numbers),
        sla_attainment=round(sum(x <= SLA_S for x in spinups) / len(numbers), 4),
        failed_environments=failed,
        environments_with_failures=with_failures,
        pool_hit_rate=round(from_slot / len(numbers), 4),
        volumes_shared=len(volumes) - len(set(volumes)),
        spinup_p50_s=round(statistics.median(spinups), 2) if spinups else None,
        spinup_max_s=round(spinups[-1], 2) if spinups else None,
    )


def _settled(s: Scenario, number: int) -> bool:
    """Ready, or Failed for good: a failure the core will retry is still under way."""
    status = (s.pe(number) or {}).get("status") or {}
    if status.get("phase") == "Ready":
        return True
    return status.get("phase") == "Failed" and ", retrying)" not in status.get("message", "")


def _leftovers(s: Scenario) -> int:
    sel = f"{names.BLUEPRINT}={s.blueprint}"
    namespaces, _ = s.api.list(kube.NAMESPACE, selector=sel)
    pvcs, _ = s.api.list(kube.PVC, selector=f"{sel},{names.CLAIMED_BY}")
    pvs, _ = s.api.list(kube.PV, selector=sel)
    return len(namespaces) + len(pvcs) + len(pvs)


def drive(s: Scenario, plan: ClusterPlan, restart: Callable[[], None] | None) -> Outcome:
    """Open, fault, wait, measure, close, count leftovers: one scenario's scaled-down run."""
    out, rng, started = Outcome(plan), random.Random(plan.seed), time.monotonic()
    numbers = list(range(1, plan.prs + 1))
    shas = {n: f"{rng.getrandbits(160):040x}" for n in numbers}
    with s.webhook() as url:
        if plan.pool_size:  # warm: the slots' clones are provisioned (Bound), not just asked for
            warm = _wait(lambda: len(_warm(s)) >= plan.pool_size, 60)
            assert warm, f"{plan.name}: {len(_warm(s))} of {plan.pool_size} slots Bound in 60 s"
        for index, n in enumerate(numbers):
            assert s.send(url, "opened", n, shas[n]).status_code == 200
            if plan.golden_refresh and index == len(numbers) // 2:
                _refresh_golden(s)
            if restart is not None and index in (0, len(numbers) - 1):
                time.sleep(1.0)  # mid-provisioning
                restart()
            if not plan.burst:
                time.sleep(GAP_S)
        _wait(lambda: all(_settled(s, n) for n in numbers), 90)
        out.summary["unsettled"] = sum(not _settled(s, n) for n in numbers)
        _measure(s, numbers, out)
        if plan.golden_refresh:
            gen2 = names.GENERATION

            def rebuilt() -> bool:
                return all(o["metadata"]["labels"].get(gen2) == "2" for o in _slots(s))

            _wait(rebuilt, 30)
            out.summary["stale_slots"] = sum(
                o["metadata"]["labels"].get(gen2) != "2" for o in _slots(s)
            )
        for n in numbers:
            assert s.send(url, "closed", n, shas[n]).status_code == 200
        _wait(lambda: all(_phases(s).get(n) == "Gone" for n in numbers), 60)
        _wait(lambda: _leftovers(s) == 0, 30)
        out.summary["not_gone"] = sum(_phases(s).get(n) != "Gone" for n in numbers)
        out.summary["orphans"] = _leftovers(s)
    out.summary["wall_seconds"] = round(time.monotonic() - started, 1)
    return out


@contextlib.contextmanager
def _crash_loop(s: Scenario) -> Iterator[Callable[[], None]]:
    procs = [s.spawn_controller("--no-leader-elect", log="crashloop")]

    def restart() -> None:
        kill(procs[-1])
        procs.append(s.spawn_controller("--no-leader-elect", log="crashloop"))

    try:
        yield restart
    finally:
        kill(procs[-1])


@contextlib.contextmanager
def _shared_controller(
    plane: ControlPlane, scenarios: list[Scenario], failing: set[str]
) -> Iterator[None]:
    """One controller thread for several blueprints, and the dev binder (with clone faults)."""

    def fails(pvc: kube.Obj) -> bool:
        labels = pvc["metadata"].get("labels") or {}
        first = labels.get(names.COMPONENT) == "clone" and labels.get(names.ATTEMPT) == "1"
        return first and labels.get(names.ENV) in failing

    policy = Policy()
    if failing:  # an unprovisioned clone fails fast, then is retried
        timeouts = tuple(
            (step, timedelta(seconds=15) if step is Step.VOLUME else limit)
            for step, limit in policy.step_timeouts
        )
        policy = Policy(step_timeouts=timeouts, backoff_base=timedelta(seconds=1))
    api = kube.Kube(plane.api_client())
    cfg = scenarios[0].config(policy=policy)
    files = tuple(s.bp_file for s in scenarios)
    ctl = Controller(api, cfg, blueprint_files=files, resync_seconds=5)
    stop = threading.Event()
    threads = [
        threading.Thread(target=ctl.run, args=(stop,), daemon=True),
        threading.Thread(
            target=binder.run, args=(api, cfg.pool_namespace, stop), kwargs={"fails": fails},
            daemon=True,
        ),
    ]  # fmt: skip
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)


def run_all(
    plane: ControlPlane, dirs: dict[str, Path], plans: dict[str, ClusterPlan]
) -> dict[str, Outcome]:
    """Every plan at once: the shared controller for most, a crash-looping one where asked."""
    scenarios: dict[str, Scenario] = {}
    for stem, plan in plans.items():
        bp: dict[str, Any] = {
            "pool": {"defaultSize": plan.pool_size},
            "maxConcurrentProvisions": plan.max_concurrent,
        }
        scenarios[stem] = Scenario(plane, dirs[stem], bp_overrides=bp)
    alone = {k for k, p in plans.items() if p.crash_restarts or p.golden_refresh}
    alone |= {k for k, p in plans.items() if p.clone_failures}  # a shorter volume timeout
    shared = [scenarios[k] for k in plans if k not in alone]
    for s in shared[1:]:
        s.namespace, s.pool = shared[0].namespace, shared[0].pool

    def one(stem: str) -> tuple[str, Outcome]:
        s, plan = scenarios[stem], plans[stem]
        if plan.crash_restarts:
            with _crash_loop(s) as restart:
                return stem, drive(s, plan, restart)
        if stem in alone:  # golden snapshot per pool namespace; volume timeout per controller
            numbers = random.Random(plan.seed).sample(range(1, plan.prs + 1), plan.clone_failures)
            with _shared_controller(plane, [s], {s.env_ns(n) for n in numbers}):
                return stem, drive(s, plan, None)
        return stem, drive(s, plan, None)

    with _shared_controller(plane, shared, set()), ThreadPoolExecutor(len(plans)) as ex:
        return dict(ex.map(one, plans))
