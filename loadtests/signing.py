"""GitHub's webhook headers, computed independently of the webhook's own code.

`sign` is HMAC-SHA256 over the raw body (`X-Hub-Signature-256: sha256=<hex>`),
written here rather than imported from `controller.webhook` so that the load
test is a black-box check of the server's verification. `forge` builds the
wrong signatures a hostile or misconfigured sender produces. No I/O.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import random

PREFIX = "sha256="


class Forgery(enum.StrEnum):
    """Ways a delivery can carry a signature the server must refuse (401)."""

    WRONG_SECRET = "wrong-secret"
    TAMPERED_BODY = "tampered-body"
    MISSING = "missing"
    SHA1_ONLY = "sha1-only"
    TRUNCATED = "truncated"


def sign(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def headers(
    secret: bytes, body: bytes, *, delivery: str, event: str = "pull_request"
) -> dict[str, str]:
    """The headers of a genuine delivery, as GitHub sends them."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/loadtest",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "424242",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-Hub-Signature-256": sign(secret, body),
    }


def forged_headers(
    secret: bytes, body: bytes, *, delivery: str, kind: Forgery
) -> tuple[bytes, dict[str, str]]:
    """A (body, headers) pair whose signature must not verify; `body` may be altered."""
    genuine = headers(secret, body, delivery=delivery)
    sent = body
    if kind is Forgery.WRONG_SECRET:
        genuine["X-Hub-Signature-256"] = sign(secret + b"-rotated", body)
    elif kind is Forgery.TAMPERED_BODY:
        sent = body.replace(b'"action"', b'"action" ', 1)  # signed body != sent body
    elif kind is Forgery.MISSING:
        del genuine["X-Hub-Signature-256"]
    elif kind is Forgery.SHA1_ONLY:
        del genuine["X-Hub-Signature-256"]
        genuine["X-Hub-Signature"] = "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()
    else:
        genuine["X-Hub-Signature-256"] = genuine["X-Hub-Signature-256"][:-8]
    return sent, genuine


def pick_forgery(rng: random.Random) -> Forgery:
    return rng.choice(list(Forgery))
