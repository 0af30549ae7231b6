"""What the load test sent, one JSON line per delivery, one file per worker process.

Writers append and flush each line, so a run stopped by a stop rule still
leaves a readable ledger. `fold` merges every file of a run into what the
API server must show afterwards: per pull request the newest accepted head
SHA and whether it was closed, the deliveries the server refused, and those
whose outcome is unknown (a timeout or an error: either result is legal).
No Locust and no Kubernetes here.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

PrKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Entry:
    """One delivery and the server's answer."""

    t: float
    delivery: str
    kind: str
    action: str
    repository: str
    number: int
    head_sha: str
    status: int  # 0: no HTTP answer (timeout, connection error)
    result: str
    latency_ms: float
    expect: int

    @property
    def key(self) -> PrKey:
        return (self.repository, self.number)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def uncertain(self) -> bool:
        return self.status == 0 or self.status >= 500


class Writer:
    """Appends entries to `<dir>/ledger-<pid>.jsonl`; safe across greenlets and threads."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"ledger-{os.getpid()}.jsonl"
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, entry: Entry) -> None:
        line = orjson.dumps(entry).decode()  # a dataclass, natively
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read(directory: Path) -> list[Entry]:
    """Every entry of a run, in send order (time, then file order)."""
    entries: list[tuple[float, int, Entry]] = []
    for path in sorted(directory.glob("ledger-*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                raw = json.loads(line)
                entries.append((raw["t"], n, Entry(**raw)))
    entries.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in entries]


@dataclass(slots=True)
class Expected:
    """What the API server must show for one pull request."""

    head_sha: str
    closed: bool
    last_delivery: str
    deliveries: int = 0
    maybe: set[str] = field(default_factory=set)  # head SHAs of uncertain deliveries
    maybe_closed: bool = False


@dataclass(slots=True)
class Folded:
    prs: dict[PrKey, Expected] = field(default_factory=dict)
    forged_keys: set[PrKey] = field(default_factory=set)
    forged_shas: set[str] = field(default_factory=set)
    forged_accepted: list[Entry] = field(default_factory=list)
    genuine_refused: list[Entry] = field(default_factory=list)
    uncertain: list[Entry] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def fold(entries: Iterable[Entry]) -> Folded:
    """Merge a run's entries into per-PR expectations (entries in send order)."""
    out = Folded()
    for e in entries:
        out.counts[e.kind] = out.counts.get(e.kind, 0) + 1
        if e.kind == "forged":
            out.forged_shas.add(e.head_sha)
            if e.action == "opened":
                out.forged_keys.add(e.key)
            if e.accepted:
                out.forged_accepted.append(e)
            continue
        if e.kind != "genuine":
            continue  # a redelivery must change nothing; the final state shows it
        if e.uncertain:
            out.uncertain.append(e)
            known = out.prs.get(e.key)
            if known is None:
                known = out.prs[e.key] = Expected("", False, "")
            known.maybe.add(e.head_sha)
            known.maybe_closed = known.maybe_closed or e.action == "closed"
            continue
        if not e.accepted:
            out.genuine_refused.append(e)
            continue
        known = out.prs.get(e.key)
        if known is None:
            known = out.prs[e.key] = Expected(e.head_sha, False, e.delivery)
        known.head_sha, known.last_delivery = e.head_sha, e.delivery
        known.closed = known.closed or e.action == "closed"
        known.deliveries += 1
    out.forged_keys -= set(out.prs)
    return out


def now() -> float:
    return time.time()
