"""Blueprint validation: every bad field is named with what is expected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.blueprint_file import read_blueprint
from controller.core.blueprint import PoolHour, PoolSchedule, load_blueprint
from controller.core.schema import SchemaError, encode, format_duration, parse_duration
from tests.core.world import BLUEPRINT_DOC

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "blueprint.yaml"


def test_example_blueprint_is_realistic() -> None:
    bp = read_blueprint(EXAMPLE)
    assert len(bp.services) >= 25
    assert len(bp.databases) == 3
    assert {"auth", "payments"} <= set(bp.shared_services)
    assert len({s.team for s in bp.services}) >= 5
    assert bp.ttl == timedelta(days=7)


def test_round_trip_through_the_plain_form() -> None:
    bp = read_blueprint(EXAMPLE)
    assert load_blueprint(encode(bp)) == bp


@pytest.mark.parametrize(
    ("changes", "path", "expected"),
    [
        pytest.param({"name": "Bad_Name"}, "name", "matching", id="pattern"),
        pytest.param(
            {"maxConcurrentProvisions": 0}, "maxConcurrentProvisions", ">= 1", id="minimum"
        ),
        pytest.param({"ttl": "a week"}, "ttl", "duration", id="duration"),
        pytest.param({"routingMode": "some"}, "routingMode", "one of", id="enum"),
        pytest.param({"repositories": []}, "repositories", "at least 1", id="min-items"),
        pytest.param({"colour": "red"}, "colour", "unknown field", id="unknown-field"),
        pytest.param(
            {"pool": {"hours": [{"hour": 25, "size": 1}]}},
            "pool.hours[0].hour",
            "<= 23",
            id="nested",
        ),
        pytest.param(
            {"sharedServices": ["ghost"]},
            "sharedServices[0]",
            "unknown service",
            id="cross-reference",
        ),
        pytest.param(
            {"baselineNamespace": "production"},
            "baselineNamespace",
            "productionNamespaces",
            id="baseline-is-production",
        ),
    ],
)
def test_invalid_fields_are_named(changes: dict[str, object], path: str, expected: str) -> None:
    with pytest.raises(SchemaError) as info:
        load_blueprint({**BLUEPRINT_DOC, **changes})
    messages = {e.path: e.message for e in info.value.errors}
    assert path in messages, messages
    assert expected in messages[path]


def test_missing_required_fields_all_reported() -> None:
    with pytest.raises(SchemaError) as info:
        load_blueprint({"services": [{"name": "x"}]})
    paths = {e.path for e in info.value.errors}
    assert {"name", "repositories", "services[0].team", "services[0].image"} <= paths


def test_unreadable_yaml_says_where(tmp_path: Path) -> None:
    bad = tmp_path / "bp.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SchemaError) as info:
        read_blueprint(bad)
    assert "not valid YAML" in str(info.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("48h", 172800), ("7d", 604800), ("1h30m", 5400), ("250ms", 0.25)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_duration_format_round_trip() -> None:
    for text in ("90s", "2d", "1h30m"):
        assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize(("hour", "size"), [(3, 4), (8, 16), (9, 16), (12, 24), (18, 12), (23, 4)])
def test_pool_schedule_by_hour(hour: int, size: int) -> None:
    schedule = PoolSchedule(
        hours=(PoolHour(0, 4), PoolHour(8, 16), PoolHour(10, 24), PoolHour(17, 12), PoolHour(20, 4))
    )
    assert schedule.size_at(hour) == size


def test_pool_schedule_time_zone() -> None:
    schedule = PoolSchedule(hours=(PoolHour(9, 10), PoolHour(18, 2)), utc_offset_hours=-5)
    assert schedule.size_at(14) == 10  # 09:00 local
    assert schedule.size_at(13) == 2  # 08:00 local: still the evening size
