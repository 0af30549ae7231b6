"""Load profiles: the replay follows the simulation's own arrival profile; bursts look like bursts.

Locust itself is never imported here (it would gevent-patch the test process);
the shapes wrap these functions and run inside the short-run test.
"""

from __future__ import annotations

import pytest

from loadtests import profiles
from sim.params import load_params
from sim.workload import arrival_rate


def test_replay_is_the_sim_arrival_rate_compressed() -> None:
    workload = load_params().workload
    for t in (0.0, 6.0, 9.0, 30.0, 45.0):
        expected = arrival_rate(8 * 3600 + t * 600, workload) * 600 / 3600
        got = profiles.replay_rate_per_s(t, compress=600, start_h=8)
        assert got == pytest.approx(expected * profiles.DELIVERIES_PER_PR)
    burst = profiles.replay_rate_per_s(10.0, compress=600, start_h=8)  # Monday 09:40
    assert burst > 5 * profiles.replay_rate_per_s(0.0, compress=600, start_h=8)  # 08:00


@pytest.mark.parametrize(
    "profile",
    [profiles.steady_hour, profiles.monday_morning, profiles.release_cut, profiles.flat],
    ids=lambda f: f.__name__,
)
def test_profiles_stay_within_the_peak(profile: object) -> None:
    values = [profile(i / 100) for i in range(101)]  # type: ignore[operator]
    assert all(0.0 < v <= 1.0 for v in values)
    assert max(values) == 1.0


def test_monday_morning_bursts_and_release_cut_freezes() -> None:
    assert profiles.monday_morning(0.05) < 0.2
    assert profiles.monday_morning(0.2) == 1.0
    assert profiles.release_cut(0.1) < profiles.release_cut(0.7)
    assert profiles.release_cut(0.9) < profiles.release_cut(0.7)
