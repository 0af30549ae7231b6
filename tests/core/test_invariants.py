"""Hypothesis state machine: random PR events, step outcomes and time, every invariant checked.

Each rule changes the world (a PR event, a step completing, failing or hanging,
time passing, a golden-snapshot refresh), then the core reconciles to a fixed
point (invariant 1: convergence), with every planned action checked by
`World` for the GDPR gate (2), teardown order (3), isolation (4), quotas and
single claims (5), and lifecycle legality. At the end every PR is closed and
the world must come to rest with nothing left behind (3).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from controller.core.memory import OpKind
from controller.core.types import EnvKey, Reason
from tests.core.world import CHANGES, TEAMS, World

numbers = st.integers(min_value=1, max_value=8)


class CoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.rounds_used = 0

    def _key(self, number: int) -> EnvKey:
        return EnvKey("acme/shop", number)

    def _settle(self) -> None:
        self.rounds_used = self.world.settle()

    @rule(
        number=numbers,
        team=st.sampled_from(TEAMS),
        change=st.integers(0, len(CHANGES) - 1),
        hotfix=st.booleans(),
        draft=st.booleans(),
    )
    def open_pr(self, number: int, team: str, change: int, hotfix: bool, draft: bool) -> None:
        if self._key(number) in self.world.prs:
            return
        labels = ("hotfix",) if hotfix else ()
        self.world.open(number, team=team, change=change, labels=labels, draft=draft)
        self._settle()

    @rule(first=numbers, count=st.integers(2, 5), teams=st.permutations(TEAMS))
    def burst(self, first: int, count: int, teams: list[str]) -> None:
        """Several PRs opened between two reconciles (a webhook burst)."""
        for i in range(count):
            number = (first + i - 1) % 8 + 1
            if self._key(number) not in self.world.prs:
                self.world.open(number, team=teams[i % len(teams)], change=i)
        self._settle()

    @rule(number=numbers, change=st.none() | st.integers(0, len(CHANGES) - 1))
    def push(self, number: int, change: int | None) -> None:
        self.world.push(self._key(number), change=change)
        self._settle()

    @rule(number=numbers, on=st.booleans())
    def label(self, number: int, on: bool) -> None:
        self.world.update(self._key(number), labels=("hotfix",) if on else ())
        self._settle()

    @rule(number=numbers, draft=st.booleans())
    def draft(self, number: int, draft: bool) -> None:
        self.world.update(self._key(number), draft=draft)
        self._settle()

    @rule(number=numbers)
    def close(self, number: int) -> None:
        self.world.close(self._key(number))
        self._settle()

    @rule(number=numbers)
    def reopen(self, number: int) -> None:
        self.world.reopen(self._key(number))
        self._settle()

    @rule(number=numbers)
    def delete_by_hand(self, number: int) -> None:
        self.world.delete(self._key(number))
        self._settle()

    @precondition(lambda self: bool(self.world.cluster.pending()))
    @rule(index=st.integers(0, 50), ok=st.booleans())
    def finish_op(self, index: int, ok: bool) -> None:
        ops = sorted(self.world.cluster.pending(), key=lambda op: op.id)
        op = ops[index % len(ops)]
        reason = Reason.NONE if ok or op.kind is not OpKind.STEP else Reason.MASKING_FAILED
        self.world.cluster.complete(op.id, ok=ok, reason=reason)
        self._settle()

    @precondition(lambda self: bool(self.world.cluster.pending()))
    @rule()
    def finish_all(self) -> None:
        self.world.cluster.complete_all()
        self._settle()

    @rule(seconds=st.sampled_from([1, 30, 300, 3600, 6 * 3600, 3 * 86400]))
    def time_passes(self, seconds: int) -> None:
        self.world.advance(seconds)
        self._settle()

    @rule()
    def golden_refresh(self) -> None:
        self.world.cluster.refresh_golden()
        self._settle()

    @invariant()
    def converged_quickly(self) -> None:
        assert self.rounds_used <= 6, f"needed {self.rounds_used} rounds to converge"

    def teardown(self) -> None:
        for key in list(self.world.prs):
            self.world.close(key)
        self.world.run_to_completion()
        state = self.world.cluster.observe()
        for env in state.environments:
            assert not env.has_resources, f"{env.key} still owns resources"
            assert not env.finalizer, f"{env.key} still has its finalizer"
            assert not env.admitted, f"{env.key} still holds quota"
        assert all(s.claimed_by is None for s in state.slots), "a claimed volume was left"


CoreMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCoreInvariants = CoreMachine.TestCase
