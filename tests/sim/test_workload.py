"""The workload: arrival profile shape, teams, and pull-request plans."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from sim.params import load_params
from sim.run import blueprint_for
from sim.workload import HOUR, PlanFactory, arrival_rate, build_teams, peak_rate


def test_daily_volume_and_peak_hour_follow_the_parameters() -> None:
    w = replace(load_params().workload, monday_burst_factor=1.0, release_cut_factor=1.0)
    tuesday = [arrival_rate((24 + h) * HOUR, w) for h in range(24)]
    assert sum(tuesday) == pytest.approx(w.engineers * w.prs_per_engineer_day * 1.0)
    working = tuesday[w.workday_start_h : w.workday_end_h]
    assert max(working) / (sum(working) / len(working)) == pytest.approx(w.peak_factor)
    assert tuesday.index(max(tuesday)) == w.peak_h
    saturday = sum(arrival_rate((5 * 24 + h) * HOUR, w) for h in range(24))
    assert saturday == pytest.approx(0.1 * sum(tuesday))


def test_bursts_multiply_the_rate_in_their_windows() -> None:
    w = load_params().workload
    calm = replace(w, monday_burst_factor=1.0, release_cut_factor=1.0)
    assert arrival_rate(9.5 * HOUR, w) == pytest.approx(1.5 * arrival_rate(9.5 * HOUR, calm))
    cut = (3 * 24 + 14) * HOUR  # Thursday 14:00 of week 0, two hours before the cut
    assert arrival_rate(cut, w) == pytest.approx(2.0 * arrival_rate(cut, calm))
    assert arrival_rate(cut + 7 * 24 * HOUR, w) == pytest.approx(arrival_rate(cut, calm))
    assert peak_rate(w) >= max(arrival_rate(h * HOUR, w) for h in range(14 * 24))


def test_teams_are_uneven_and_hold_every_engineer() -> None:
    params = load_params()
    teams = build_teams(params.workload, blueprint_for(params), random.Random(3))
    sizes = [len(t.engineers) for t in teams]
    assert len(teams) == 40
    assert sum(sizes) == 500
    assert min(sizes) >= 3
    assert max(sizes) > 2 * min(sizes)
    assert all(t.services for t in teams)


def test_plans_change_blueprint_paths_and_migrations_at_the_configured_share() -> None:
    params = load_params()
    bp = blueprint_for(params)
    factory = PlanFactory(params.workload, bp, random.Random(5))
    plans = [factory.draw(0.0) for _ in range(4000)]
    share = sum(p.had_migrations for p in plans) / len(plans)
    assert 0.035 < share < 0.065
    assert all(p.changed_paths for p in plans)
    assert not any("services/auth/" in path for p in plans for path in p.changed_paths)
    merged = sum(p.merged for p in plans) / len(plans)
    assert 0.79 < merged < 0.85
    numbers = {(p.repository, p.number) for p in plans}
    assert len(numbers) == len(plans)
