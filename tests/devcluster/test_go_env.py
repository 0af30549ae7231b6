"""The Go runtime settings given to the control-plane processes."""

from __future__ import annotations

from controller.devcluster.components import go_env


def test_the_api_server_collects_garbage_less_often() -> None:
    assert go_env("kube-apiserver", {}) == {"GOGC": "400"}


def test_other_components_keep_the_go_default() -> None:
    assert go_env("etcd", {}) == {}
    assert go_env("kwok", {}) == {}


def test_a_gogc_set_by_the_user_wins() -> None:
    assert go_env("kube-apiserver", {"GOGC": "100"}) == {}
