"""Rules files: validation errors say where and what is allowed; strategy/type checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anonymizer import rules, strategies
from anonymizer.schema import Column


def _one(columns: dict[str, Any], personal: bool = True) -> dict[str, Any]:
    return {"tables": {"users": {"personal": personal, "columns": columns}}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param([], "expected a mapping", id="not-a-mapping"),
        pytest.param({"tables": {}}, "'tables' must map", id="no-tables"),
        pytest.param({"tables": {"t": {}}}, "needs 'personal: true'", id="no-personal"),
        pytest.param(_one({"email": "emial"}), "unknown strategy 'emial'", id="typo-strategy"),
        pytest.param(
            _one({"n": {"strategy": "partial", "keep": 2}}),
            r"unknown option\(s\) \['keep'\] for partial",
            id="unknown-option",
        ),
        pytest.param(_one({"c": {"strategy": "constant"}}), "needs option 'value'", id="required"),
        pytest.param(
            _one({"n": {"strategy": "name", "part": "middle"}}), "'middle' is not one of", id="part"
        ),
        pytest.param(_one({"s": {"strategy": "noise", "ratio": 2}}), "must be in", id="ratio"),
        pytest.param(_one({"e": "email"}, personal=False), "make it true", id="masks-non-personal"),
        pytest.param(
            {"tables": {"users": {"personal": False}, "public.users": {"personal": False}}},
            "declared twice",
            id="public-qualified-duplicate",
        ),
        pytest.param({"version": 2, "tables": {}}, "version 2 is not supported", id="version"),
        pytest.param({"tabels": {}}, "unknown top-level key", id="top-level-typo"),
    ],
)
def test_bad_rules_say_what_is_wrong(data: Any, message: str) -> None:
    with pytest.raises(rules.RulesError, match=message):
        rules.parse(data)


def test_good_rules_and_names_are_canonical() -> None:
    loaded = rules.parse(_one({"id": "keep", "email": {"strategy": "email"}}))
    table = loaded.table("public.users")
    assert table is not None
    assert loaded.table("users") is table
    rule = table.rule("email")
    assert rule is not None
    assert rule.strategy is rules.Strategy.EMAIL


def test_example_rules_file_loads() -> None:
    loaded = rules.load(Path(__file__).parents[2] / "examples" / "masking-rules.yaml")
    assert loaded.table("public.users") is not None


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(rules.RulesError, match="cannot read"):
        rules.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables: [unclosed\n")
    with pytest.raises(rules.RulesError, match="not valid YAML"):
        rules.load(bad)


def test_key_must_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = rules.parse(_one({"id": "keep"}))
    monkeypatch.delenv("MAYFLY_MASKING_KEY", raising=False)
    with pytest.raises(rules.RulesError, match="set MAYFLY_MASKING_KEY"):
        loaded.key()
    monkeypatch.setenv("MAYFLY_MASKING_KEY", "x" * 16)
    assert loaded.key() == b"x" * 16


TEXT = Column("c", "text", "S", False, False, False, False)
UNIQUE_TEXT = Column("c", "text", "S", True, False, False, True)
DATE = Column("d", "date", "D", False, False, False, False)
INT_UNIQUE = Column("i", "integer", "N", True, False, False, True)


@pytest.mark.parametrize(
    ("strategy", "column", "message"),
    [
        pytest.param("email", DATE, "needs a text column", id="email-on-date"),
        pytest.param("noise", TEXT, "needs a numeric column", id="noise-on-text"),
        pytest.param("date_noise", TEXT, "needs a date", id="date-noise-on-text"),
        pytest.param("null", UNIQUE_TEXT, "NOT NULL", id="null-on-not-null"),
        pytest.param("partial", UNIQUE_TEXT, "cannot keep a unique column unique", id="partial"),
        pytest.param("pseudonym", INT_UNIQUE, "31-bit", id="int4-pseudonym-unique"),
    ],
)
def test_strategy_must_fit_column(strategy: str, column: Column, message: str) -> None:
    rule = rules.ColumnRule(rules.Strategy(strategy), ())
    spec = rules.parse(_one({column.name: strategy}))
    table = spec.table("users")
    assert table is not None
    rule = table.rule(column.name) or rule
    with pytest.raises(strategies.StrategyError, match=message):
        strategies.expression(rule, column, keys=strategies.Keys.from_secret(b"k" * 16))


def test_tables_whose_rules_changed_are_re_masked() -> None:
    before = rules.parse(
        {
            "tables": {
                "a": {"personal": True, "columns": {"x": "keep"}},
                "b": {"personal": True, "columns": {"y": "email"}},
                "c": {"personal": False},
            }
        }
    )
    after = rules.parse(
        {
            "tables": {
                "a": {"personal": True, "columns": {"x": "name"}},
                "b": {"personal": True, "columns": {"y": "email"}},
                "c": {"personal": False},
                "d": {"personal": True, "columns": {"z": "phone"}},
            }
        }
    )
    assert rules.changed_tables(before, after) == ["public.a", "public.d"]
