"""Which columns a rules change re-masks, decided from the recorded rules (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from anonymizer import applied, rules

BEFORE = {
    "tables": {
        "users": {
            "personal": True,
            "columns": {"id": "keep", "email": "email", "phone": "phone", "note": "null"},
        },
        "stats": {"personal": False},
    }
}


def _with(table: str, spec: Any) -> dict[str, Any]:
    return {"tables": {**BEFORE["tables"], table: spec}}


def _users(**columns: Any) -> dict[str, Any]:
    base = BEFORE["tables"]["users"]["columns"]
    return _with("users", {"personal": True, "columns": {**base, **columns}})


RECORD = {name: applied.table_doc(t) for name, t in rules.parse(BEFORE).tables}


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(BEFORE, {}, id="unchanged"),
        pytest.param(_users(phone="null"), {"public.users": {"phone"}}, id="new-strategy"),
        pytest.param(
            _users(phone={"strategy": "phone", "prefix": "+44 "}),
            {"public.users": {"phone"}},
            id="new-option",
        ),
        pytest.param(_users(email="keep"), {"public.users": set()}, id="now-keep"),
        pytest.param(_users(extra="null"), {"public.users": {"extra"}}, id="new-column"),
        pytest.param(
            _with("stats", {"personal": True, "columns": {"n": "keep", "who": "name"}}),
            {"public.stats": {"who"}},
            id="now-personal",
        ),
        pytest.param(
            _with("audit", {"personal": True, "columns": {"ip": "null", "at": "keep"}}),
            {"public.audit": {"ip"}},
            id="never-recorded",
        ),
    ],
)
def test_changes(after: dict[str, Any], expected: dict[str, set[str]]) -> None:
    found = applied.changes(RECORD, rules.parse(after))
    assert {t: set(cols) for t, cols in found.items()} == expected


def test_restrict_keeps_every_column_outside_the_changed_set() -> None:
    restricted = applied.restrict(rules.parse(BEFORE), {"public.users": frozenset({"phone"})})
    users = restricted.table("users")
    assert users is not None
    kept = {c for c, r in users.columns if r.strategy is rules.Strategy.KEEP}
    assert kept == {"id", "email", "note"}
    assert restricted.table("stats") == rules.parse(BEFORE).table("stats")
