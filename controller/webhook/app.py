"""The webhook service (Starlette): POST /github, /healthz, /readyz, /metrics.

Order of checks for /github: body size (400), signature (401, before the
body is parsed, nothing written), JSON (400), event type (`ping` 200, others
202), fields (400), repository mapping (unknown: 202), then the write
through the writer (`CachedStore` on the event loop in production, or a
synchronous `Writer` such as `store.Store` in a worker thread); 2xx only
once the API server accepted it. An async writer is started and stopped
with the app (lifespan) and tells readiness (its cache has synced). API
failures answer 503 (GitHub shows it; redelivery is safe) or 400 when the
server rejected the object as invalid. Logs carry the delivery id,
repository and number, never the author or the secret.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from controller.k8s.errors import KubeError, NotFoundError, RetryableError
from controller.webhook import events, signature
from controller.webhook.mapping import RepoMap

log = logging.getLogger("mayfly.webhook")


class Writer(Protocol):
    """Where verified events go (`store.Store` in production)."""

    def write(self, event: events.Event, *, blueprint: str) -> events.Verdict: ...


@runtime_checkable
class AsyncWriter(Protocol):
    """A writer on the event loop (`cached_store.CachedStore`), started with the app."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> bool: ...

    async def write(self, event: events.Event, *, blueprint: str) -> events.Verdict: ...


WriteFn = Callable[..., Awaitable[events.Verdict]]


def _write_fn(store: Writer | AsyncWriter) -> WriteFn:
    if isinstance(store, AsyncWriter):
        return store.write
    sync = store

    async def threaded(event: events.Event, *, blueprint: str) -> events.Verdict:
        return await run_in_threadpool(sync.write, event, blueprint=blueprint)

    return threaded


@dataclass(slots=True)
class Settings:
    secret: bytes
    repos: RepoMap
    store: Writer | AsyncWriter
    max_body: int = 1024 * 1024
    ready: Callable[[], bool] | None = None


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mayfly_webhook_requests_total",
            "Webhook deliveries by HTTP status and outcome.",
            ["status", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mayfly_webhook_write_seconds",
            "Time from a verified delivery to the API server accepting the write.",
            registry=self.registry,
        )


def _answer(m: _Metrics, status: int, outcome: str, message: str = "") -> JSONResponse:
    m.requests.labels(str(status), outcome).inc()
    return JSONResponse({"result": outcome, "message": message}, status_code=status)


async def _body(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: Settings) -> ASGIApp:
    m = _Metrics()
    write = _write_fn(settings.store)
    seen: OrderedDict[str, str] = OrderedDict()  # delivery -> outcome, this replica's shortcut

    async def github(request: Request) -> Response:
        body = await _body(request, settings.max_body)
        if body is None:
            return _answer(m, 400, "rejected", f"body larger than {settings.max_body} bytes")
        if not signature.verify(settings.secret, body, request.headers.get("x-hub-signature-256")):
            return _answer(m, 401, "unauthorized", "missing or invalid X-Hub-Signature-256")
        try:
            payload = orjson.loads(body)
        except ValueError:
            return _answer(m, 400, "rejected", "body is not valid JSON")
        kind = request.headers.get("x-github-event", "")
        delivery = request.headers.get("x-github-delivery", "")
        if kind == "ping":
            return _answer(m, 200, "pong")
        if kind != "pull_request":
            return _answer(m, 202, "ignored", f"event {kind or '(none)'} is not handled")
        if not delivery:
            return _answer(m, 400, "rejected", "missing X-GitHub-Delivery header")
        if delivery in seen:
            return _answer(m, 200, events.Verdict.DUPLICATE.value)
        action = payload.get("action") if isinstance(payload, dict) else None
        if action not in events.SUPPORTED:
            return _answer(m, 202, "ignored", f"action {action!r} is not handled")
        try:
            repo = events._str(payload, "repository.full_name")
            author = events._str(payload, "pull_request.user.login")
            target = settings.repos.lookup(repo, author)
            if target is None:
                return _answer(m, 202, "ignored", "repository is not configured")
            event = events.parse(payload, delivery=delivery, team=target.team)
        except events.PayloadError as exc:
            return _answer(m, 400, "rejected", str(exc))
        start = time.perf_counter()
        try:
            verdict = await write(event, blueprint=target.blueprint)
        except (RetryableError, NotFoundError) as exc:  # 404: our namespace is not there yet
            log.warning("event=write_failed delivery=%s status=%s", delivery, exc.status)
            return _answer(m, 503, "retry", "the API server is unavailable; redeliver later")
        except KubeError as exc:
            log.warning("event=write_rejected delivery=%s status=%s", delivery, exc.status)
            status = 400 if exc.status in (400, 422) else 500
            return _answer(m, status, "rejected", f"the API server rejected the object: {exc}")
        m.latency.observe(time.perf_counter() - start)
        seen[delivery] = verdict.value
        while len(seen) > 4096:
            seen.popitem(last=False)
        log.info(
            "event=delivery delivery=%s action=%s repository=%s number=%d outcome=%s",
            delivery,
            event.action,
            event.pr.repository,
            event.pr.number,
            verdict.value,
        )
        return _answer(m, 200, verdict.value)

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_request: Request) -> Response:
        if settings.ready is not None:
            ok = await run_in_threadpool(settings.ready)
        else:
            ok = not isinstance(settings.store, AsyncWriter) or settings.store.ready()
        return PlainTextResponse("ok" if ok else "not ready", status_code=200 if ok else 503)

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(m.registry), media_type="text/plain; version=0.0.4")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        store = settings.store
        if isinstance(store, AsyncWriter):
            await store.start()
        try:
            yield
        finally:
            if isinstance(store, AsyncWriter):
                await store.stop()

    routes = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/github", github, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        """POST /github straight to its handler (Starlette's middleware and router cost about
        as much as the handler's own work); everything else, lifespan included, to `routes`."""
        if scope["type"] == "http" and scope["path"] == "/github" and scope["method"] == "POST":
            response = await github(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await routes(scope, receive, send)

    return app
