"""One simulated engineer's pull requests, turned into signed deliveries.

A `Developer` owns its pull requests exclusively (numbers come from a
per-worker allocator), so the deliveries for one pull request are sent in
order and the newest head SHA is known. Each method returns a `Delivery`:
the exact bytes and headers to POST and what the server must answer.
`updated_at` never goes backwards for a pull request, as on GitHub. Pure:
time comes from the clock passed in, randomness from the generator.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from loadtests import payloads, signing
from loadtests.fleet import Fleet
from loadtests.payloads import PrFacts

Clock = Callable[[], datetime]
LABELS = ("needs-review", "hotfix", "release-blocker", "wip", "dependencies", "preview")
MAX_OPEN = 6
REDELIVERY_MEMORY = 32


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST /github: what to send, and what it means for the ledger."""

    delivery: str
    kind: str  # genuine | redelivery | forged
    action: str
    repository: str
    number: int
    head_sha: str
    body: bytes
    headers: dict[str, str]
    expect: int  # 200 for genuine and redelivered, 401 for forged
    name: str  # Locust's `name=` group

    @property
    def closes(self) -> bool:
        return self.action == "closed"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


class Developer:
    """An engineer opening, pushing to, labelling and closing pull requests."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        secret: bytes,
        rng: random.Random,
        numbers: Iterator[int],
        forged_numbers: Iterator[int],
        clock: Clock = utc_now,
    ) -> None:
        self.fleet, self.secret, self.rng, self.clock = fleet, secret, rng, clock
        self.numbers, self.forged_numbers = numbers, forged_numbers
        self.author_index = rng.randrange(fleet.engineers)
        self.open_prs: list[tuple[PrFacts, str]] = []  # facts, description
        self.sent: deque[Delivery] = deque(maxlen=REDELIVERY_MEMORY)

    # -- building ------------------------------------------------------------------
    def _now_for(self, facts: PrFacts | None) -> datetime:
        now = self.clock()
        return max(now, facts.updated_at) if facts is not None else now

    def _changed_paths(self) -> tuple[str, ...]:
        services = self.fleet.services or ("orders",)
        chosen = self.rng.sample(services, k=min(len(services), 1 + int(self.rng.random() < 0.4)))
        paths = [f"services/{s}/{self.rng.choice(('handler', 'api', 'models'))}.py" for s in chosen]
        if self.rng.random() < 0.05:
            paths.append(f"services/{chosen[0]}/migrations/{self.rng.randrange(10**4):04d}_x.sql")
        return tuple(sorted(paths))

    def _deliver(self, action: str, facts: PrFacts, text: str, **extra: str | None) -> Delivery:
        body = payloads.event_body(action, facts, body=text, **extra)
        delivery = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        out = Delivery(
            delivery=delivery,
            kind="genuine",
            action=action,
            repository=facts.repository,
            number=facts.number,
            head_sha=facts.head_sha,
            body=body,
            headers=signing.headers(self.secret, body, delivery=delivery),
            expect=200,
            name=f"pull_request {action}",
        )
        self.sent.append(out)
        return out

    # -- actions -------------------------------------------------------------------
    def open(self, *, draft: bool | None = None) -> Delivery:
        now = self._now_for(None)
        title, text = payloads.title_and_body(self.rng)
        repo = (
            self.fleet.repository_of(self.author_index)
            if self.rng.random() < 0.8
            else self.rng.choice(self.fleet.repositories)
        )
        number = next(self.numbers)
        facts = PrFacts(
            repository=repo,
            number=number,
            author=self.fleet.author(self.author_index),
            head_sha=_sha(self.rng),
            base_sha=_sha(self.rng),
            branch=f"eng-{self.author_index:04d}/change-{number}",
            title=title,
            created_at=now,
            updated_at=now,
            draft=self.rng.random() < 0.15 if draft is None else draft,
            changed_paths=self._changed_paths(),
        )
        self.open_prs.append((facts, text))
        return self._deliver("opened", facts, text)

    def _pick(self) -> int | None:
        return self.rng.randrange(len(self.open_prs)) if self.open_prs else None

    def push(self) -> Delivery:
        i = self._pick()
        if i is None or len(self.open_prs) > MAX_OPEN * 2:
            return self.open() if i is None else self.close()
        facts, text = self.open_prs[i]
        before = facts.head_sha
        facts = replace(
            facts,
            head_sha=_sha(self.rng),
            updated_at=self._now_for(facts),
            changed_paths=self._changed_paths(),
        )
        self.open_prs[i] = (facts, text)
        return self._deliver("synchronize", facts, text, before=before)

    def label(self) -> Delivery:
        i = self._pick()
        if i is None:
            return self.open()
        facts, text = self.open_prs[i]
        new = self.rng.choice([x for x in LABELS if x not in facts.labels] or list(LABELS))
        facts = replace(
            facts, labels=tuple(sorted({*facts.labels, new})), updated_at=self._now_for(facts)
        )
        self.open_prs[i] = (facts, text)
        return self._deliver("labeled", facts, text, added_label=new)

    def close(self) -> Delivery:
        i = self._pick()
        if i is None:
            return self.open()
        facts, text = self.open_prs.pop(i)
        merged = self.rng.random() < 0.82
        facts = replace(facts, state="closed", merged=merged, updated_at=self._now_for(facts))
        return self._deliver("closed", facts, text)

    def redeliver(self) -> Delivery | None:
        """GitHub's "Redeliver": the very same body and headers as an earlier delivery."""
        if not self.sent:
            return None
        old = self.rng.choice(list(self.sent))
        return replace(old, kind="redelivery", name=f"redelivery {old.action}")

    def forge(self) -> Delivery:
        """A delivery with a bad signature: a fresh PR, or a push to one of ours."""
        kind = signing.pick_forgery(self.rng)
        now = self._now_for(None)
        i = self._pick()
        if i is not None and self.rng.random() < 0.5:
            facts, text = self.open_prs[i]
            action, before = "synchronize", facts.head_sha
            facts = replace(facts, head_sha=_sha(self.rng), updated_at=max(now, facts.updated_at))
        else:
            title, text = payloads.title_and_body(self.rng)
            facts = PrFacts(
                repository=self.rng.choice(self.fleet.repositories),
                number=next(self.forged_numbers),
                author=self.fleet.author(self.author_index),
                head_sha=_sha(self.rng),
                base_sha=_sha(self.rng),
                branch="forged",
                title=title,
                created_at=now,
                updated_at=now,
            )
            action, before = "opened", None
        body = payloads.event_body(action, facts, body=text, before=before)
        delivery = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        sent, headers = signing.forged_headers(self.secret, body, delivery=delivery, kind=kind)
        return Delivery(
            delivery=delivery,
            kind="forged",
            action=action,
            repository=facts.repository,
            number=facts.number,
            head_sha=facts.head_sha,
            body=sent,
            headers=headers,
            expect=401,
            name="bad signature (expected 401)",
        )
