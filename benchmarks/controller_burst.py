"""Benchmark: a burst of N signed `opened` webhooks against the real control plane.

Starts the cluster tier (etcd, kube-apiserver, controller-manager, scheduler,
kwok), `mayfly controller run` and `mayfly webhook serve` as subprocesses,
fires N `opened` deliveries at once (20 concurrent senders), and watches the
cluster from this process. Per environment it records the time from the
webhook's 2xx to every object of the environment applied (namespace, quota,
limits, policy, volume, both Jobs, Deployments, Services, Istio objects,
step markers), and subtracts the Jobs' own run time (first seen -> seen
Complete) to give the control-plane latency, and also without volume binding
(PVC first seen -> Bound: the dev binder and kube-controller-manager's PV
controller); also 2xx -> Ready, the CPU cores each process used from the burst
to the last environment, and the API server's server-side applies per second
from 16 threads, measured right after. Results go to
benchmarks/results/controller_burst.{json,md} with machine facts and load.

Run: .venv/bin/python benchmarks/controller_burst.py [--prs 100] [--warm-pool N]
[--apply-workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.core.types import EnvKey  # noqa: E402
from controller.devcluster import Tier, start  # noqa: E402
from controller.k8s import kube, names  # noqa: E402
from controller.webhook.payload import pull_request_payload, signed_request  # noqa: E402
from loadtests import apiserver, timings  # noqa: E402
from loadtests import machine as mfacts  # noqa: E402
from tests.k8s.harness import blueprint_doc  # noqa: E402
from tests.k8s.plane import install_crds  # noqa: E402
from tests.webhook.server import free_port  # noqa: E402

SECRET = b"bench-secret"
REPO = "acme/burst"
# The test cluster's Service CIDR is a /24 (about 250 ClusterIPs), so each burst
# environment runs one service: the PR changes `orders` (code and a migration),
# which nothing calls, and orders calls the shared `auth` (one VirtualService).
CHANGED = ("services/orders/migrations/0002_add.sql", "services/orders/api.py")
SERVICES = [
    {
        "name": "web",
        "team": "web",
        "image": "acme/web:stable",
        "paths": ["web/*"],
        "calls": ["api"],
    },
    {
        "name": "api",
        "team": "web",
        "image": "acme/api:stable",
        "paths": ["api/*"],
        "calls": ["auth"],
    },
    {
        "name": "orders",
        "team": "checkout",
        "image": "acme/orders:stable",
        "paths": ["services/orders/*"],
        "database": "orders",
        "calls": ["auth"],
    },
    {"name": "auth", "team": "identity", "image": "acme/auth:stable", "paths": ["auth/*"]},
]
EXPECTED = {  # kind -> objects per environment
    "Namespace": 1, "ResourceQuota": 1, "LimitRange": 1, "NetworkPolicy": 1,
    "Job": 2, "Deployment": 1, "Service": 1, "VirtualService": 1, "DestinationRule": 1,
    "Sidecar": 1, "ConfigMap": 2, "PersistentVolumeClaim": 1,
}  # fmt: skip
WATCHED = [
    kube.NAMESPACE, kube.QUOTA, kube.LIMITS, kube.NETPOL, kube.JOB, kube.DEPLOYMENT,
    kube.SERVICE, kube.VIRTUAL_SERVICE, kube.DESTINATION_RULE, kube.SIDECAR, kube.CONFIGMAP,
    kube.PVC, kube.PE,
]  # fmt: skip


class Recorder:
    """First-seen times of objects per environment, Job completion times, Ready times."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
        self.job_done: dict[tuple[str, str], float] = {}
        self.bound: dict[str, float] = {}  # env -> its volume first seen Bound
        self.ready: dict[str, float] = {}

    def on(self, obj: dict[str, Any]) -> None:
        now = time.monotonic()
        md = obj.get("metadata") or {}
        labels = md.get("labels") or {}
        kind = obj.get("kind", "")
        with self.lock:
            if kind == names.PE_KIND:
                if (obj.get("status") or {}).get("phase") == "Ready":
                    self.ready.setdefault(md["name"], now)
                return
            env = labels.get(names.ENV) or labels.get(names.CLAIMED_BY)
            if not env or labels.get(names.MANAGED_BY) != "mayfly":
                return
            if kind == "ConfigMap" and names.STEP not in labels:
                return
            self.seen[env].setdefault((kind, md["name"]), now)
            if (
                kind == "PersistentVolumeClaim"
                and (obj.get("status") or {}).get("phase") == "Bound"
            ):
                self.bound.setdefault(env, now)
            if kind == "Job":
                conds = {
                    c["type"]: c["status"]
                    for c in (obj.get("status") or {}).get("conditions") or ()
                }
                if conds.get("Complete") == "True":
                    self.job_done.setdefault((env, md["name"]), now)


def watch_all(api: kube.Kube, rec: Recorder, stop: threading.Event) -> list[threading.Thread]:
    def loop(kind: kube.Kind) -> None:
        rv = ""
        while not stop.is_set():
            try:
                if not rv:
                    items, rv = api.list(kind)
                    for item in items:
                        rec.on(item)
                for event in api.watch(kind, resource_version=rv, timeout=30):
                    obj = event.get("raw_object") or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        obj.setdefault("kind", kind.kind)
                        rec.on(obj)
                    if stop.is_set():
                        return
            except Exception:
                rv = ""
                time.sleep(0.2)

    threads = [threading.Thread(target=loop, args=(k,), daemon=True) for k in WATCHED]
    for t in threads:
        t.start()
    return threads


def wait_pool(api: kube.Kube, slots: int, *, deadline: float) -> None:
    """Block until `slots` warm-pool volumes are Bound (the pool is made before the burst)."""
    while slots > 0:
        items, _ = api.list(
            kube.PVC, namespace=names.POOL_NAMESPACE, selector=f"{names.COMPONENT}=slot"
        )
        if sum((o.get("status") or {}).get("phase") == "Bound" for o in items) >= slots:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the warm pool did not reach {slots} bound slots")
        time.sleep(1)


def api_writes_per_second(api: kube.Kube, *, writers: int = 16, each: int = 40) -> float:
    """Server-side applies per second this API server takes from `writers` threads (ConfigMaps)."""
    ns = "bench-writes"
    with contextlib.suppress(Exception):
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def write(worker: int) -> None:
        for i in range(each):
            api.apply({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"w{worker}-{i}", "namespace": ns}, "data": {"i": str(i)},
            })  # fmt: skip

    started = time.monotonic()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))
    return writers * each / (time.monotonic() - started)


def _by_verb_and_resource(labels: dict[str, str]) -> str:
    sub = f"/{labels['subresource']}" if labels.get("subresource") else ""
    return f"{labels.get('verb')} {labels.get('resource')}{sub}"


def api_requests(api: kube.Kube) -> dict[str, float]:
    """The API server's request counters (`apiserver_request_total`) by verb and resource."""
    return apiserver.request_counts(api.api, _by_verb_and_resource)


def phase_seconds(api: kube.Kube) -> dict[str, dict[str, float]]:
    """Mean and p95 seconds each environment spent per phase, from `status.phaseTimestamps`."""
    items, _ = api.list(kube.PE)
    return {
        phase: {"mean": round(statistics.fmean(v), 2), "p95": round(percentile(v, 95), 2)}
        for phase, v in timings.phase_durations(items).items()
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prs", type=int, default=100)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--apply-workers", type=int, default=16, help="controller's writers")
    parser.add_argument(
        "--warm-pool", type=int, default=0,
        help="warm-pool slots made (and bound) before the burst; 0: every volume is a cold clone",
    )  # fmt: skip
    args = parser.parse_args()
    load_before = uptime()
    work = Path(tempfile.mkdtemp(prefix="mayfly-bench-"))
    plane = start(Tier.CLUSTER)
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    try:
        install_crds(plane)
        bp = work / "bp.yaml"
        doc = blueprint_doc("burst", REPO, services=SERVICES, pool={"defaultSize": args.warm_pool})
        bp.write_text(yaml.safe_dump(doc))
        repos = work / "repos.yaml"
        repos.write_text(
            yaml.safe_dump({"repositories": {REPO: {"blueprint": "burst", "team": "web"}}})
        )
        port = free_port()
        penv = {**os.environ, "MAYFLY_WEBHOOK_SECRET": SECRET.decode(), "PYTHONUNBUFFERED": "1"}
        mayfly = str(Path(sys.executable).parent / "mayfly")
        common = ["--kubeconfig", str(plane.kubeconfig)]
        procs.append(subprocess.Popen(
            [mayfly, "controller", "run", *common, "--blueprint", str(bp), "--no-leader-elect",
             "--dev-volume-binder", "--metrics-port", "0",
             "--apply-workers", str(args.apply_workers)],
            stdout=open(work / "controller.log", "wb"), stderr=subprocess.STDOUT, env=penv,  # noqa: SIM115
        ))  # fmt: skip
        procs.append(subprocess.Popen(
            [mayfly, "webhook", "serve", *common, "--repos", str(repos), "--port", str(port)],
            stdout=open(work / "webhook.log", "wb"), stderr=subprocess.STDOUT, env=penv,  # noqa: SIM115
        ))  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("webhook did not become ready")
            time.sleep(0.2)
        api = kube.Kube(plane.api_client())
        rec = Recorder()
        watch_all(api, rec, stop)
        time.sleep(2)  # controller started and idle; watches established
        wait_pool(api, args.warm_pool, deadline=time.monotonic() + 300)
        pids = {"controller": procs[0].pid, "webhook": procs[1].pid}
        pids |= {p.name: p.pid for p in plane.processes}
        cpu_before = {name: mfacts.cpu_seconds(pid) for name, pid in pids.items()}
        cpu_before["bench"] = time.process_time()
        busy_before = mfacts.machine_cpu_seconds()
        requests_before = api_requests(api)
        accepted: dict[str, float] = {}
        # one keep-alive client per sender thread: a client per request builds a TLS
        # context each time (about 20 ms of CPU), which the burst's window would pay
        senders, clients = threading.local(), []

        def send(number: int) -> None:
            payload = pull_request_payload(
                action="opened", repository=REPO, number=number, head_sha=f"{number:040x}",
                changed_paths=CHANGED,
            )  # fmt: skip
            body, headers = signed_request(SECRET, payload)
            if not hasattr(senders, "client"):
                senders.client = httpx.Client(timeout=60)
                clients.append(senders.client)
            resp = senders.client.post(f"{url}/github", content=body, headers=headers)
            resp.raise_for_status()
            accepted[names.env_name(EnvKey(REPO, number))] = time.monotonic()

        t_burst = time.monotonic()
        with ThreadPoolExecutor(args.senders) as pool:
            list(pool.map(send, range(1, args.prs + 1)))
        burst_seconds = time.monotonic() - t_burst
        for client in clients:
            client.close()

        def complete(env: str) -> bool:
            counts: dict[str, int] = defaultdict(int)
            for kind, _name in rec.seen.get(env, {}):
                counts[kind] += 1
            return all(counts[k] >= n for k, n in EXPECTED.items()) and env in rec.ready

        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and not all(complete(e) for e in accepted):
            time.sleep(0.5)
        done = [e for e in accepted if complete(e)]
        wall = time.monotonic() - t_burst
        cpu = {name: mfacts.cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        cpu["bench"] = time.process_time() - cpu_before["bench"]
        busy_after = mfacts.machine_cpu_seconds()
        requests_after = api_requests(api)
        grown = {k: v - requests_before.get(k, 0.0) for k, v in requests_after.items()}
        requests = {k: int(v) for k, v in sorted(grown.items(), key=lambda kv: -kv[1]) if v >= 1}
        cpu_cores = {name: round(sec / wall, 2) for name, sec in cpu.items()}
        cpu_cores["machine_busy"] = round((busy_after[0] - busy_before[0]) / wall, 2)
        applied, control, control_no_volume, ready = [], [], [], []
        for env in done:
            seen = rec.seen[env]
            last = max(seen.values())
            jobs = sum(
                rec.job_done[(env, name)] - first
                for (kind, name), first in seen.items()
                if kind == "Job" and (env, name) in rec.job_done
            )
            applied.append(last - accepted[env])
            control.append(last - accepted[env] - jobs)
            pvc_first = min(
                (t for (kind, _n), t in seen.items() if kind == "PersistentVolumeClaim"),
                default=None,
            )
            binding = rec.bound[env] - pvc_first if pvc_first and env in rec.bound else 0.0
            control_no_volume.append(last - accepted[env] - jobs - max(binding, 0.0))
            ready.append(rec.ready[env] - accepted[env])
        load_after = uptime()
        phases = phase_seconds(api)
        writes_per_second = api_writes_per_second(api)  # after the burst: the cluster is settled

        def stats(values: list[float]) -> dict[str, float]:
            if not values:
                return {}
            return {
                "p50": round(percentile(values, 50), 3),
                "p95": round(percentile(values, 95), 3),
                "max": round(max(values), 3),
                "mean": round(statistics.fmean(values), 3),
            }

        result = {
            "benchmark": "controller_burst",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "prs": args.prs,
            "completed": len(done),
            "senders": args.senders,
            "burst_send_seconds": round(burst_seconds, 3),
            "all_objects_applied_seconds": stats(applied),
            "control_plane_seconds_excluding_job_runtime": stats(control),
            "control_plane_seconds_excluding_job_runtime_and_volume_binding": stats(
                control_no_volume
            ),
            "warm_pool": args.warm_pool,
            "controller_apply_workers": args.apply_workers,
            "api_server_writes_per_second_16_writers": round(writes_per_second, 1),
            "cpu_cores_during_burst": cpu_cores,
            "seconds_per_phase": phases,
            "api_requests_during_burst": requests,
            "api_requests_per_environment": round(sum(requests.values()) / max(1, args.prs), 1),
            "burst_wall_seconds": round(wall, 1),
            "commit": mfacts.facts()["commit"],
            "ready_seconds": stats(ready),
            "target": "p95 of control_plane_seconds_excluding_job_runtime < 5",
            "machine": machine(),
            "uptime_before": load_before,
            "uptime_after": load_after,
            "kubernetes": "v1.35.4 (kube-apiserver, controller-manager, scheduler), kwok v0.8.0",
        }
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "controller_burst.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "controller_burst.md").write_text(render_md(result))
        print(json.dumps(result, indent=2))
        return 0 if len(done) == args.prs else 1
    finally:
        stop.set()
        for proc in procs:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
        plane.stop()


def render_md(r: dict[str, Any]) -> str:
    def row(name: str, key: str) -> str:
        s = r[key]
        return f"| {name} | {s.get('p50', '-')} | {s.get('p95', '-')} | {s.get('max', '-')} |"

    m = r["machine"]
    return "\n".join(
        [
            "# Controller burst benchmark",
            "",
            f"{r['prs']} signed `opened` webhooks sent at once ({r['senders']} concurrent senders, "
            f"all answered 2xx in {r['burst_send_seconds']} s); {r['completed']} environments "
            "completed. Times in seconds from each webhook's 2xx.",
            "",
            "| measure | p50 | p95 | max |",
            "|---|---|---|---|",
            row("every object applied (control plane only, Jobs' run time excluded)",
                "control_plane_seconds_excluding_job_runtime"),
            row("same, also excluding volume binding (PVC created -> Bound)",
                "control_plane_seconds_excluding_job_runtime_and_volume_binding"),
            row("every object applied (including Jobs' run time under kwok)",
                "all_objects_applied_seconds"),
            row("phase Ready", "ready_seconds"),
            "",
            f"Target: {r['target']}.",
            "",
            f"Warm pool: {r['warm_pool']} slots made before the burst"
            + (" (every volume a cold clone bound by the dev binder and kube-controller-manager's "
               "PV controller)." if not r["warm_pool"] else "."),
            "",
            f"API server throughput measured right after, same machine: "
            f"{r['api_server_writes_per_second_16_writers']} server-side applies/s "
            "(16 threads, 640 ConfigMaps).",
            "",
            f"CPU cores used from the burst to the last environment ({r['burst_wall_seconds']} s): "
            f"`{json.dumps(r['cpu_cores_during_burst'])}`",
            "",
            "Seconds per phase (from `status.phaseTimestamps`): "
            f"`{json.dumps(r.get('seconds_per_phase', {}))}`",
            "",
            f"API requests during the burst (the API server's `apiserver_request_total`, every "
            f"client): {r.get('api_requests_per_environment', '-')} per environment; the largest: "
            f"`{json.dumps(dict(list(r.get('api_requests_during_burst', {}).items())[:16]))}`",
            "",
            f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, Python "
            f"{m['python']}, kernel {m['kernel']}; {r['kubernetes']}; everything (control "
            "plane, controller, webhook, senders, watchers, other engineers' jobs) on this "
            "machine.",
            "",
            f"- load before: `{r['uptime_before']}`",
            f"- load after: `{r['uptime_after']}`",
            f"- measured {r['when']} by "
            f"`.venv/bin/python benchmarks/controller_burst.py --prs {r['prs']}"
            + (f" --warm-pool {r['warm_pool']}" if r["warm_pool"] else "") + "` at commit "
            f"{r['commit']}",
            "",
        ]
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
