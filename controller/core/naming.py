"""Names of per-PR objects: DNS-1123 labels, stable, unique across repositories.

A namespace name is `pr-<number>-<repo slug>-<hash>` where the hash covers the
exact repository name and number, so two repositories whose sanitised slugs
collide still get different namespaces, and truncation never merges two PRs.
User input never reaches a name unsanitised.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from controller.core.types import EnvKey

MAX_LABEL = 63
_HASH_LEN = 8
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def slug(text: str) -> str:
    """Lower-case, non-alphanumerics to '-', no leading/trailing or repeated dashes."""
    cleaned = _DASHES.sub("-", _NOT_ALLOWED.sub("-", text.lower()))
    return cleaned.strip("-")


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_LEN]


@lru_cache(maxsize=65536)
def namespace_for(key: EnvKey, *, prefix: str = "pr") -> str:
    """The namespace of one pull request's environment."""
    digest = short_hash(f"{key.repository}#{key.number}")
    head = f"{slug(prefix) or 'pr'}-{key.number}"
    room = MAX_LABEL - len(head) - len(digest) - 2
    name_part = slug(key.repository.split("/")[-1])[: max(room, 0)].strip("-")
    parts = [head, name_part, digest] if name_part else [head, digest]
    name = "-".join(parts)
    if len(name) > MAX_LABEL:  # an absurd PR number: keep the hash, drop the rest
        name = f"pr-{digest}"
    return name


@lru_cache(maxsize=65536)
def slot_name(blueprint: str, generation: int, index: int) -> str:
    """Deterministic warm-pool slot name (a PVC name in the cluster)."""
    base = f"{slug(blueprint)[:30].strip('-') or 'bp'}-g{generation}-{index}"
    return base[:MAX_LABEL]
