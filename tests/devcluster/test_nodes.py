"""The fake nodes of the cluster tier: how many, what they hold, bad counts refused."""

from __future__ import annotations

import pytest

from controller.devcluster.nodes import FAKE_NODES, fake_node, fake_node_names


def test_default_is_the_two_nodes_the_tests_use() -> None:
    assert fake_node_names() == FAKE_NODES


def test_a_burst_cluster_gets_as_many_distinct_nodes_as_asked() -> None:
    names = fake_node_names(50)
    assert len(set(names)) == 50
    assert names[:2] == FAKE_NODES
    assert all(fake_node(n)["status"]["allocatable"]["pods"] == "110" for n in names)


@pytest.mark.parametrize("count", [0, -3])
def test_a_cluster_without_nodes_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="at least one fake node"):
        fake_node_names(count)
