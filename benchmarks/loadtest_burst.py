"""Benchmark: a burst of 500 `opened` webhooks within 60 s on the cluster tier.

Target (issue 8): report how long until every environment's objects are
applied, and until each is Ready with kwok's default delays, p50/p95.
Starts the cluster tier (kube-apiserver, etcd, controller-manager,
scheduler, kwok), the real `mayfly controller run` and `mayfly webhook
serve`, sends the burst with the `burst-opened` locustfile (signed 22 KB
payloads), then polls until every environment is Ready (or --timeout).
Per environment, from the moment its webhook answered 2xx: objects applied
(latest `managedFields` time of the controller's field manager over every
object labelled with the environment, 1 s resolution) and Ready
(`status.phaseTimestamps`). Also the time spent per phase and the CPU used
by each component. Writes benchmarks/results/loadtest_burst.json and .md.

    .venv/bin/python benchmarks/loadtest_burst.py [--count 500] [--window-s 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from controller.devcluster import Tier, components, start
from loadtests import consistency, ledger, machine, timings
from loadtests.fleet import load_fleet
from loadtests.runner import LOCUSTFILES, percentile, run_locust, verify
from loadtests.settings import RunSettings
from loadtests.stack import Stack, StackOptions

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_s": round(percentile(values, 0.50), 1),
        "p95_s": round(percentile(values, 0.95), 1),
        "max_s": round(max(values, default=0.0), 1),
    }


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    pids = {p.name: p.pid for p in stack.procs}
    if stack.plane is not None:
        pids |= {p.name: p.pid for p in stack.plane.processes}
    out = {name: machine.cpu_seconds(pid) for name, pid in pids.items()}
    out["locust"] = machine.children_cpu_seconds()
    out["machine_busy"], out["machine_total"] = machine.machine_cpu_seconds()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--window-s", type=float, default=60.0)
    ap.add_argument("--users", type=int, default=25)
    ap.add_argument("--max-concurrent", type=int, default=500)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=1500.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/mayfly-bench-burst"))
    ap.add_argument("--name", default="loadtest_burst")
    ap.add_argument(
        "--fake-nodes",
        type=int,
        default=50,
        help="kwok nodes (110 pods each, as a real node's default): 500 environments of the "
        "example blueprint run ~4,500 pods, which 2 nodes (220 pods) could never hold",
    )
    ap.add_argument(
        "--service-cidr",
        default="10.96.0.0/16",
        help="Service IP range of the test control plane (a /16, like its default: a /24 "
        "holds only 254 Services, ~40 environments of the example blueprint); empty keeps "
        "the default",
    )
    args = ap.parse_args()
    if args.service_cidr:
        components.SERVICE_CIDR = args.service_cidr  # a run-time setting, not a code change
    facts = machine.facts()
    started, wall_start = time.monotonic(), time.time()
    shutil.rmtree(args.work, ignore_errors=True)
    opts = StackOptions(tier=Tier.CLUSTER, max_concurrent=args.max_concurrent, workers=args.workers)
    with (
        start(Tier.CLUSTER, fake_nodes=args.fake_nodes) as plane,
        Stack.start(args.work / "stack", load_fleet(), opts, plane=plane) as stack,
    ):
        settings = RunSettings(
            users=args.users, user_rps=args.count / args.window_s / args.users * 1.1,
            duration=args.window_s, spawn_rate=float(args.users), seed=11,
            max_fail_ratio=1.0, max_p99_ms=1e9, max_deliveries=args.count,
            ledger_dir=str(args.work / "ledger"),
        )  # fmt: skip
        cpu0 = cpu_snapshot(stack)
        code, load_s, violations = run_locust(
            stack, LOCUSTFILES / "burst_opened.py", settings, args.work / "locust"
        )
        entries = [e for e in ledger.read(args.work / "ledger") if e.kind == "genuine"]
        accepted = {e.key: e.t for e in entries if e.accepted}
        print(f"sent {len(entries)}, accepted {len(accepted)} in {load_s:.0f} s; waiting for Ready")
        deadline = time.monotonic() + args.timeout
        with contextlib.closing(stack.api_client()) as api:
            while True:
                envs = consistency.list_environments(api, stack.namespace)
                ready = sum(1 for env in envs if timings.ready_time(env) is not None)
                print(f"  {time.monotonic() - started:6.0f} s: {ready}/{len(accepted)} Ready")
                if ready >= len(accepted) or time.monotonic() > deadline:
                    break
                time.sleep(5.0)
            cpu1 = cpu_snapshot(stack)
            applied = timings.applied_times(api, stack.blueprint)
        check = verify(stack, ledger.read(args.work / "ledger"))
    facts["uptime_after"] = machine.uptime()
    by_name = {env["metadata"]["name"]: env for env in envs}
    keyed = {consistency.key_of(env): env for env in envs}
    to_applied: list[float] = []  # Ready environments: every object applied
    so_far: list[float] = []  # every environment: latest apply seen (unfinished ones too)
    to_ready: list[float] = []
    objects: list[int] = []
    for key, t_accept in accepted.items():
        env = keyed.get(key)
        if env is None:
            continue
        name = env["metadata"]["name"]
        ready_at = timings.ready_time(by_name[name])
        if name in applied:
            so_far.append(max(0.0, applied[name][0] - t_accept))
            if ready_at is not None:
                to_applied.append(max(0.0, applied[name][0] - t_accept))
                objects.append(applied[name][1])
        if ready_at is not None:
            to_ready.append(max(0.0, ready_at - t_accept))
    first, last = (min(accepted.values()), max(accepted.values())) if accepted else (0.0, 0.0)
    ready_abs = [t for env in envs if (t := timings.ready_time(env)) is not None]
    elapsed = (cpu1["machine_total"] - cpu0["machine_total"]) / (os.cpu_count() or 1)
    cpu = {
        k: round((cpu1[k] - cpu0[k]) / max(elapsed, 1e-9), 2) for k in cpu1 if k != "machine_total"
    }
    cpu["others"] = round(
        cpu["machine_busy"] - sum(v for k, v in cpu.items() if k != "machine_busy"), 2
    )
    lat = [e.latency_ms for e in entries if e.status]
    result = {
        "benchmark": f"burst of {args.count} opened webhooks within {args.window_s:g} s "
        "(cluster tier)",
        "command": f".venv/bin/python benchmarks/loadtest_burst.py --count {args.count} "
        f"--window-s {args.window_s:g} --users {args.users} --max-concurrent {args.max_concurrent} "
        f"--workers {args.workers} --service-cidr {args.service_cidr} "
        f"--fake-nodes {args.fake_nodes}",
        "fake_nodes": args.fake_nodes,
        "service_cidr": args.service_cidr or components.SERVICE_CIDR,
        "blueprint": "examples/blueprint.yaml (25 services, affected routing), no warm pool, "
        f"maxConcurrentProvisions {args.max_concurrent}, quotas 1000/team",
        "sent": len(entries),
        "accepted": len(accepted),
        "send_window_s": round(last - first, 1),
        "webhook_latency_ms": {
            "p50": round(percentile(lat, 0.5), 1),
            "p95": round(percentile(lat, 0.95), 1),
            "p99": round(percentile(lat, 0.99), 1),
        },
        "ready": len(to_ready),
        "accepted_to_objects_applied": stats(to_applied),
        "accepted_to_last_object_applied_so_far": stats(so_far),
        "accepted_to_ready": stats(to_ready),
        "first_accept_to_last_ready_s": round(max(ready_abs, default=first) - first, 1),
        "objects_per_environment": stats([float(n) for n in objects]),
        "phase_seconds": {
            phase: stats(values) for phase, values in timings.phase_durations(envs).items()
        },
        "cpu_cores_used": cpu,
        "controller_cycles": timings.controller_cycles(
            args.work / "stack/logs/controller.log", since=wall_start
        ),
        "locust_exit_code": code,
        "stop_rules": violations,
        "consistency": check,
        "machine": facts,
        "wall_s": round(time.monotonic() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(render_md(result))
    print(json.dumps({k: result[k] for k in ("accepted", "ready", "accepted_to_objects_applied",
                                            "accepted_to_ready")}))  # fmt: skip


def render_md(r: dict[str, Any]) -> str:
    a, rd = r["accepted_to_objects_applied"], r["accepted_to_ready"]
    sf = r.get("accepted_to_last_object_applied_so_far")
    m = r["machine"]
    lines = [
        f"# {r['benchmark']}",
        "",
        f"Command: `{r['command']}`  ",
        f"Blueprint: {r['blueprint']}.",
        "",
        f"Sent {r['sent']}, accepted {r['accepted']} within {r['send_window_s']} s "
        f"(webhook latency p50/p95/p99 {r['webhook_latency_ms']['p50']}/"
        f"{r['webhook_latency_ms']['p95']}/{r['webhook_latency_ms']['p99']} ms).",
        "",
        "| from the webhook's 2xx to | n | p50 s | p95 s | max s |",
        "|---|---:|---:|---:|---:|",
        f"| every object applied (Ready ones) | {a['n']} | {a.get('p50_s', '-')} "
        f"| {a.get('p95_s', '-')} | {a.get('max_s', '-')} |",
        f"| Ready (kwok default delays) | {rd['n']} | {rd['p50_s']} | {rd['p95_s']} "
        f"| {rd['max_s']} |",
    ]
    if sf:
        lines.append(
            f"| latest apply so far (all, unfinished too) | {sf['n']} | {sf['p50_s']} "
            f"| {sf['p95_s']} | {sf['max_s']} |"
        )
    lines += [
        "",
        f"Ready at the end of the wait: {r['ready']} of {r['accepted']}. "
        f"First accepted to last Ready: {r['first_accept_to_last_ready_s']} s. "
        f"Objects per environment: p50 {r['objects_per_environment']['p50_s']:g}.",
        "",
        "Seconds spent in each phase (p50 / p95 / max):",
        "",
    ]
    for phase, s in r["phase_seconds"].items():
        lines.append(f"- {phase}: {s['p50_s']} / {s['p95_s']} / {s['max_s']} (n={s['n']})")
    lines += [
        "",
        f"CPU cores used from the burst to the end: {json.dumps(r['cpu_cores_used'])}",
        "",
        f"Controller reconcile cycles (one per Blueprint key): "
        f"{json.dumps(r.get('controller_cycles', {}))}",
        "",
        f"Consistency: ok={r['consistency']['ok']}, problems {r['consistency']['problems']}.",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['mem_gib']} GiB, Python {m['python']}, "
        f"commit {m['commit']}; shared with other engineers' work (`others` above).",
        f"- before: `{m['uptime_before']}`",
        f"- after: `{m['uptime_after']}`",
        "",
    ]
    lines += [f"Note: {note}" for note in r.get("notes", [])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
