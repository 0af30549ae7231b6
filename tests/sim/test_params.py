"""Parameters: every knob documented, overrides validated, sweep keys present."""

from __future__ import annotations

import re

import pytest

from sim.params import DEFAULT_PATH, ParamsError, load_params, with_overrides

SWEEP_KEYS = [
    ("pool.size", 12),
    ("admission.max_concurrent_provisions", 7),
    ("cluster.nodes", 9),
    ("workload.engineers", 120),
    ("workload.teams", 12),
    ("run.days", 2.5),
    ("cost.per_node_hour", 0.9),
]


@pytest.mark.parametrize(("key", "value"), SWEEP_KEYS, ids=[k for k, _ in SWEEP_KEYS])
def test_sweep_override_keys_exist(key: str, value: float) -> None:
    params = load_params(overrides={key: value})
    section, name = key.split(".")
    assert getattr(getattr(params, section), name) == value


def test_every_parameter_line_has_a_comment_with_a_source() -> None:
    for line in DEFAULT_PATH.read_text().splitlines():
        if re.match(r"^\s+[a-z_]+:", line):
            assert "#" in line, line
            assert "[" in line.split("#", 1)[1], line


def test_unknown_keys_and_bad_values_are_rejected() -> None:
    with pytest.raises(ParamsError, match="unknown parameter"):
        load_params(overrides={"pool.sizee": 3})
    with pytest.raises(ParamsError, match="expected a number"):
        load_params(overrides={"cluster.nodes": "many"})
    with pytest.raises(ParamsError, match="whole number"):
        load_params(overrides={"cluster.nodes": 2.5})


def test_pool_size_defaults_to_the_blueprint_schedule_and_file_merges(tmp_path: object) -> None:
    assert load_params().pool.size is None
    params = with_overrides(load_params(), {"faults.crash_loop": {"start_h": 1, "end_h": 2}})
    assert params.faults.crash_loop is not None
    assert params.faults.crash_loop.up_s == 60.0
