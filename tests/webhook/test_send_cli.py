"""`mayfly webhook send`: waits for a webhook that is still starting; says so when none comes."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.webhook import signature
from tests.webhook.server import free_port

SECRET = "send-secret"


def _args(port: int, *extra: str) -> list[str]:
    return [
        "webhook", "send", "--repository", "acme/shop", "--number", "7",
        "--head-sha", "a" * 40, "--url", f"http://127.0.0.1:{port}/github", *extra,
    ]  # fmt: skip


def test_send_waits_for_a_starting_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAYFLY_WEBHOOK_SECRET", SECRET)
    port = free_port()
    received: list[tuple[bytes, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("X-Hub-Signature-256", "")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    servers: list[ThreadingHTTPServer] = []

    def start_late() -> None:
        time.sleep(1.0)  # the CLI has already been refused a few times by now
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        servers.append(server)
        server.serve_forever()

    threading.Thread(target=start_late, daemon=True).start()
    try:
        result = CliRunner().invoke(app, _args(port, "--wait", "10"))
    finally:
        for server in servers:
            server.shutdown()
    assert result.exit_code == 0, result.output
    assert result.output.startswith("200 ok")
    ((body, sig),) = received  # sent once, after the webhook came up
    assert signature.verify(SECRET.encode(), body, sig)


def test_send_gives_up_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAYFLY_WEBHOOK_SECRET", SECRET)
    started = time.monotonic()
    result = CliRunner().invoke(app, _args(free_port(), "--wait", "0.5"))
    assert result.exit_code == 1
    assert "is `mayfly webhook serve` running?" in result.output
    assert time.monotonic() - started >= 0.5
