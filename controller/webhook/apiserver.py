"""A lean asyncio client for the webhook's hot path: PreviewEnvironments in one namespace.

The official client costs about 1.3 ms of CPU per call here and holds a
thread per call in flight; this one runs on the event loop (`http1` for
calls, aiohttp for the watch stream; raw JSON, keep-alive) and knows five
calls: get, create, apply (with the `metadata.resourceVersion` in the body
as a precondition), list and watch. Server, TLS and credentials come from the official client's
`Configuration` (so kubeconfig and in-cluster rules stay its own); its bearer token (a
ServiceAccount's, in a cluster) is asked for once a minute or after a 401, since the
client's refresh hook costs about 0.16 ms a call.
Failures leave as `controller.k8s.errors` types, mapped by `classify`.
It decides nothing and caches nothing.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import httptools
import orjson
from kubernetes.client import Configuration
from kubernetes.client.exceptions import ApiException

from controller.k8s import kube
from controller.k8s.errors import KubeError, NotFoundError, RetryableError, classify
from controller.webhook.http1 import Http1

Obj = dict[str, Any]
APPLY = "application/apply-patch+yaml"
# The default ("Warn") has the API server parse every apply body a second time, strictly,
# to find unknown or duplicate fields: about 3 % of its CPU per write, for warnings this
# client never reads. Bodies come from `store.render`; tests/webhook create one with
# "Strict" against the real CRD, so a field the schema lacks fails there, not silently here.
FIELD_VALIDATION = "Ignore"
AUTH_REFRESH_S = 60.0  # the client's in-cluster loader re-reads a rotated token about as often


def _ssl(cfg: Configuration) -> ssl.SSLContext | None:
    if not cfg.host.startswith("https"):
        return None
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    if not cfg.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    return ctx


def _error(status: int, body: bytes, headers: Any = None) -> KubeError:
    exc = ApiException(status=status, reason="", body=body.decode(errors="replace"))
    exc.headers = headers
    return classify(exc)


class ApiServer:
    """PreviewEnvironment calls in `namespace`; open with `start()` inside the event loop."""

    def __init__(
        self, cfg: Configuration, *, namespace: str, pool: int = 64, timeout: float = 30.0
    ) -> None:
        self.cfg, self.namespace, self.pool, self.timeout = cfg, namespace, pool, timeout
        self.collection = kube.PE.path(namespace)
        self._session: aiohttp.ClientSession | None = None  # the watch
        self._http: Http1 | None = None  # everything else
        self._auth: str | None = None
        self._auth_until = 0.0  # monotonic time when the token is asked for again

    async def start(self) -> None:
        tls = _ssl(self.cfg)
        url = urlsplit(self.cfg.host)
        port = url.port or (443 if url.scheme == "https" else 80)
        self._http = Http1(url.hostname or "localhost", port, ssl_context=tls,
                           limit=self.pool)  # fmt: skip
        self._session = aiohttp.ClientSession(
            self.cfg.host,
            connector=aiohttp.TCPConnector(ssl=tls if tls is not None else False, limit=2),
            read_bufsize=4 * 1024 * 1024,  # a watch event is one line
            skip_auto_headers=("User-Agent",),
        )

    async def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _authorization(self) -> str | None:
        now = time.monotonic()
        if now >= self._auth_until:
            # "BearerToken" is where kubeconfig and in-cluster loaders put a token
            self._auth = self.cfg.get_api_key_with_prefix("BearerToken", alias="authorization")
            self._auth_until = now + AUTH_REFRESH_S
        return self._auth

    def _headers(self, content_type: str = "") -> dict[str, str]:
        headers = {"Accept": "application/json"}
        auth = self._authorization()
        if auth:
            headers["Authorization"] = auth
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def _call(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str = "",
        params: dict[str, str] | None = None,
    ) -> Obj:  # fmt: skip
        if self._http is None:
            raise RuntimeError("ApiServer.start() was not awaited")
        target = f"{path}?{urlencode(params)}" if params else path
        try:
            async with asyncio.timeout(self.timeout):
                status, headers, data = await self._http.request(
                    method, target, headers=self._headers(content_type), body=body or b""
                )
        except (TimeoutError, OSError, httptools.HttpParserError) as exc:
            raise RetryableError(0, "ConnectionError", type(exc).__name__) from exc
        if status >= 400:
            if status == 401:
                self._auth_until = 0.0  # a rotated token: ask the client again next time
            raise _error(status, data, headers)
        obj: Obj = orjson.loads(data or b"{}")
        return obj

    async def get(self, name: str) -> Obj | None:
        try:
            return await self._call("GET", f"{self.collection}/{name}")
        except NotFoundError:
            return None

    async def create(self, obj: Obj, *, manager: str) -> Obj:
        body = orjson.dumps(obj)
        return await self._call(
            "POST", self.collection, body=body, content_type="application/json",
            params={"fieldManager": manager, "fieldValidation": FIELD_VALIDATION},
        )  # fmt: skip

    async def apply(self, obj: Obj, *, manager: str) -> Obj:
        """Server-side apply; a `metadata.resourceVersion` in `obj` is a precondition (409)."""
        body = orjson.dumps(obj)
        path = f"{self.collection}/{obj['metadata']['name']}"
        return await self._call(
            "PATCH", path, body=body, content_type=APPLY,
            params={"fieldManager": manager, "force": "true",
                    "fieldValidation": FIELD_VALIDATION},
        )  # fmt: skip

    async def list(self) -> tuple[list[Obj], str]:
        """Every PreviewEnvironment of the namespace and the list's resourceVersion."""
        data = await self._call("GET", self.collection)
        rv = str((data.get("metadata") or {}).get("resourceVersion", ""))
        return list(data.get("items") or []), rv

    async def watch(self, resource_version: str, *, timeout_s: int = 240) -> AsyncIterator[Obj]:
        """Watch events (`type`, `object`) from `resource_version`, bookmarks included."""
        if self._session is None:
            raise RuntimeError("ApiServer.start() was not awaited")
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_s),
        }
        try:
            async with self._session.get(
                self.collection,
                params=params,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=timeout_s + 30, sock_read=timeout_s + 30),
            ) as resp:
                if resp.status >= 400:
                    raise _error(resp.status, await resp.read(), resp.headers)
                async for line in resp.content:
                    if line.strip():
                        event: Obj = orjson.loads(line)
                        yield event
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RetryableError(0, "ConnectionError", type(exc).__name__) from exc
