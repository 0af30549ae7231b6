"""Cheap snapshots of a mapping that changes a little at a time: a frozen base plus recent changes.

An observer that hands out its whole cache on every call (the in-memory
cluster, once per reconcile) would copy every entry each time. `Snapshots`
keeps a base dict that is never changed once shared and a small dict of the
changes since; a snapshot copies only the changes, and the changes are
folded into a fresh base (one copy, in C) once there are more than a few.
Reads are a dict lookup or two. Pure data structure: no I/O, no policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_GONE: object = object()  # a deleted key, in the changes


class Snapshot(Mapping[K, V], Generic[K, V]):
    """One immutable view: `base` overlaid with `changes` (never changed after creation)."""

    __slots__ = ("_base", "_changes", "_len")

    def __init__(self, base: dict[K, V], changes: dict[K, object], length: int) -> None:
        self._base, self._changes, self._len = base, changes, length

    def __getitem__(self, key: K) -> V:
        value = self._changes.get(key, self)
        if value is self:
            return self._base[key]
        if value is _GONE:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def get(self, key: K, default: object = None) -> V | None:  # type: ignore[override]
        value = self._changes.get(key, self)
        if value is self:
            return self._base.get(key, default)  # type: ignore[return-value]
        return default if value is _GONE else value  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        value = self._changes.get(key, self)  # type: ignore[arg-type]
        return key in self._base if value is self else value is not _GONE

    def __iter__(self) -> Iterator[K]:
        changes = self._changes
        for key in self._base:
            if key not in changes:
                yield key
        for key, value in changes.items():
            if value is not _GONE:
                yield key

    def __len__(self) -> int:
        return self._len


class Snapshots(Generic[K, V]):
    """The mutable side: set and delete keys, take snapshots."""

    def __init__(self, fold_at: int = 32) -> None:
        self._base: dict[K, V] = {}
        self._changes: dict[K, object] = {}
        self._len = 0
        self._fold_at = fold_at
        self._snapshot: Snapshot[K, V] | None = None

    def __len__(self) -> int:
        return self._len

    def __setitem__(self, key: K, value: V) -> None:
        if key not in self:
            self._len += 1
        self._changes[key] = value
        self._snapshot = None

    def pop(self, key: K) -> None:
        """Delete `key` if present."""
        if key in self:
            self._len -= 1
            if key in self._base:
                self._changes[key] = _GONE
            else:
                del self._changes[key]
            self._snapshot = None

    def __contains__(self, key: K) -> bool:
        value = self._changes.get(key, self)
        return key in self._base if value is self else value is not _GONE

    def snapshot(self) -> Snapshot[K, V]:
        """The current contents, frozen; the same object until the next change."""
        if self._snapshot is None:
            if len(self._changes) > self._fold_at:
                base = dict(self._base)
                for key, value in self._changes.items():
                    if value is _GONE:
                        del base[key]
                    else:
                        base[key] = value  # type: ignore[assignment]
                self._base, self._changes = base, {}
            self._snapshot = Snapshot(self._base, dict(self._changes), self._len)
        return self._snapshot
