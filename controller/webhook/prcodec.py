"""`PullRequest` to and from its spec form, cheaply enough for the webhook's hot path.

The core's generic `schema.decode` walks type hints and field metadata on
every call (about 0.4 ms per pull request here, twice per delivery). `load`
builds the same value directly, applying the constraints of
`PullRequest`'s field metadata (read once at import); whatever it does not
accept as plainly valid goes to `decode`, which then gives the answer and
the error messages, so `load` never accepts what `decode` refuses. `dump`
is `schema.encode` with the field table resolved once. No I/O.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controller.core.schema import camel, decode, encode
from controller.core.types import PRState, PullRequest

_FIELDS = tuple((f.name, camel(f.name)) for f in dataclasses.fields(PullRequest) if f.init)
_KEY = dict(_FIELDS)
_KEYS = frozenset(_KEY.values())
_META = {f.name: f.metadata for f in dataclasses.fields(PullRequest)}
_PATTERNS = {n: re.compile(m["pattern"]) for n, m in _META.items() if "pattern" in m}
_STATES = {s.value: s for s in PRState}
_STRINGS = ("repository", "head_sha", "base_sha", "team", "author")
_LISTS = ("labels", "changed_paths")
#: the fast path knows every field, or it is off (a new field must not be dropped silently)
FAST = {name for name, _ in _FIELDS} == {
    *_STRINGS,
    *_LISTS,
    "number",
    "opened_at",
    "updated_at",
    "draft",
    "state",
}


class _NotPlainError(Exception):
    """Not plainly valid: let `schema.decode` decide and explain."""


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _NotPlainError
    pattern, longest = _PATTERNS.get(name), _META[name].get("max_length")
    if (pattern is not None and not pattern.fullmatch(value)) or (
        longest is not None and len(value) > longest
    ):
        raise _NotPlainError
    return value


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _NotPlainError
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))  # ValueError: slow path
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _NotPlainError
    return tuple(value)


def _fast(spec: Mapping[str, Any]) -> PullRequest:
    if not FAST or not _KEYS.issuperset(spec):
        raise _NotPlainError
    number = spec["number"]
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise _NotPlainError
    draft = spec.get("draft", False)
    if not isinstance(draft, bool):
        raise _NotPlainError
    values: dict[str, Any] = {n: _string(n, spec[_KEY[n]]) for n in _STRINGS}
    values |= {n: _strings(spec.get(_KEY[n], ())) for n in _LISTS}
    return PullRequest(
        **values,
        number=number,
        opened_at=_time(spec["openedAt"]),
        updated_at=_time(spec["updatedAt"]),
        draft=draft,
        state=_STATES[spec.get("state", PRState.OPEN.value)],
    )


def load(spec: Mapping[str, Any], *, what: str) -> PullRequest:
    """`schema.decode(PullRequest, spec)`, fast when `spec` is plainly valid."""
    try:
        return _fast(spec)
    except (_NotPlainError, KeyError, ValueError, TypeError):
        return decode(PullRequest, dict(spec), what=what)


def dump(pr: PullRequest) -> dict[str, Any]:
    """`schema.encode(pr)`: the spec form, camelCase keys."""
    return {key: encode(getattr(pr, name)) for name, key in _FIELDS}
