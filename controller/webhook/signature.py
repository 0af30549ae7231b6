"""GitHub's X-Hub-Signature-256: HMAC-SHA256 of the raw body, compared in constant time.

The secret comes from a file or an environment variable and is never logged
or echoed; a missing secret is a startup error, not an open door.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

SECRET_ENV = "MAYFLY_WEBHOOK_SECRET"
PREFIX = "sha256="


class SecretMissingError(RuntimeError):
    """No webhook secret configured: refuse to start."""


def load_secret(file: Path | None = None, *, env: str = SECRET_ENV) -> bytes:
    """The shared secret from `file` (trailing newline stripped) or the environment."""
    if file is not None:
        value = file.read_bytes().rstrip(b"\r\n")
    else:
        value = os.environ.get(env, "").encode()
    if not value:
        where = f"file {file}" if file is not None else f"${env}"
        raise SecretMissingError(f"the webhook secret is empty or missing ({where}); set it")
    return value


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True only for a well-formed header whose HMAC matches, compared in constant time."""
    if not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
