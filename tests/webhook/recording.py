"""A local HTTP server that records requests and answers from a script (GitHub stand-in)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Recorder:
    handler: Callable[[Call], Reply]
    calls: list[Call] = field(default_factory=list)
    url: str = ""


@contextmanager
def recording(handler: Callable[[Call], Reply]) -> Iterator[Recorder]:
    rec = Recorder(handler)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            call = Call(
                self.command, self.path, json.loads(raw) if raw else None, dict(self.headers)
            )
            rec.calls.append(call)
            status, reply, headers = rec.handler(call)
            data = json.dumps(reply).encode()
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
