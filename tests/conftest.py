"""Shared pytest configuration: the fixture plugins of the real services.

Each real part (PostgreSQL, the Kubernetes control plane) has its own plugin
module under tests/fixtures; add it to `pytest_plugins` when it exists.
"""

pytest_plugins: list[str] = [
    "tests.fixtures.postgres",
    "tests.fixtures.k8s",
    "sim.pytest_scenarios",
]
