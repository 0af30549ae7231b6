"""Namespace names: DNS-1123, stable, unique across repositories, sanitised."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from controller.core.naming import DNS1123_LABEL, namespace_for, slot_name
from controller.core.types import EnvKey

repos = st.text(min_size=1, max_size=120).map(lambda s: f"owner/{s}")


@given(repos, st.integers(1, 10**12))
def test_namespace_is_a_dns_label(repo: str, number: int) -> None:
    name = namespace_for(EnvKey(repo, number))
    assert len(name) <= 63
    assert DNS1123_LABEL.match(name), name


@given(repos, repos, st.integers(1, 10**6))
def test_distinct_repositories_never_share_a_namespace(a: str, b: str, number: int) -> None:
    if a != b:
        assert namespace_for(EnvKey(a, number)) != namespace_for(EnvKey(b, number))


def test_stable_and_readable() -> None:
    key = EnvKey("Acme/My_Shop", 42)
    assert namespace_for(key) == namespace_for(EnvKey("Acme/My_Shop", 42))
    assert namespace_for(key).startswith("pr-42-my-shop-")
    assert namespace_for(EnvKey("acme/my-shop", 42)) != namespace_for(key)


def test_hostile_input_is_sanitised() -> None:
    name = namespace_for(EnvKey("evil/../../x; rm -rf $HOME" + "a" * 200, 7))
    assert DNS1123_LABEL.match(name)
    assert slot_name("Shop!", 3, 12) == "shop-g3-12"
