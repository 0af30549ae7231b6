"""`http1.Http1` against a scripted loopback server: keep-alive reuse, chunked bodies,
a stale idle connection retried once, a half answer never retried, Connection: close."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from controller.webhook.http1 import ConnectionLostError, Http1

# how the server answers the n-th request on a connection (n counts from 0)
Script = Callable[[int, bytes], bytes]


def ok(body: bytes = b'{"ok":true}', extra: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def run(script: Script, act: Callable[[Http1], Awaitable[object]]) -> tuple[object, list[int]]:
    """Serve `script`; return what `act` returned and the requests seen per connection."""
    per_conn: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = len(per_conn)
        per_conn.append(0)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                body = await reader.readexactly(length)
                n = per_conn[index]
                per_conn[index] += 1
                answer = script(n, body)
                if not answer:
                    break  # close without answering
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer or answer.endswith(b"HALF"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def main() -> object:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Http1("127.0.0.1", port, ssl_context=None, limit=4)
        try:
            return await act(client)
        finally:
            client.close()
            server.close()

    return asyncio.run(main()), per_conn


async def _twice(client: Http1) -> list[tuple[int, bytes]]:
    out = []
    for body in (b"one", b"two"):
        status, _, data = await client.request("POST", "/x", headers={}, body=body)
        out.append((status, data))
    return out


def test_keep_alive_reuses_one_connection() -> None:
    result, per_conn = run(lambda n, body: ok(body), _twice)
    assert result == [(200, b"one"), (200, b"two")]
    assert per_conn == [2]


def test_chunked_body_and_headers() -> None:
    chunked = (
        b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\nRetry-After: 2\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )

    async def act(client: Http1) -> object:
        return await client.request("GET", "/x", headers={"Accept": "application/json"})

    (status, headers, body), _ = run(lambda n, b: chunked, act)  # type: ignore[misc]
    assert (status, body, headers["retry-after"]) == (409, b"hello world", "2")


def test_connection_close_is_not_reused() -> None:
    result, per_conn = run(lambda n, body: ok(body, "Connection: close\r\n"), _twice)
    assert result == [(200, b"one"), (200, b"two")]
    assert per_conn == [1, 1]


def test_a_stale_idle_connection_is_retried_on_a_new_one() -> None:
    # the server reads the second request on the first connection and closes without a byte
    result, per_conn = run(lambda n, body: ok(body) if n == 0 else b"", _twice)
    assert result == [(200, b"one"), (200, b"two")]
    assert per_conn == [2, 1]


def test_a_half_answer_is_an_error_and_never_resent() -> None:
    def script(n: int, body: bytes) -> bytes:
        return ok(body) if n == 0 else b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHALF"

    with pytest.raises(ConnectionLostError):
        run(script, _twice)
