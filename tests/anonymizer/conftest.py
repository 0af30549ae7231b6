"""Fixtures of the anonymizer tests: the mayfly_mask C extension, built once per session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ENSURE = Path(__file__).resolve().parents[2] / "anonymizer" / "pgext" / "ensure"


@pytest.fixture(scope="session")
def pgext_installed() -> bool:
    """Build and install mayfly_mask into the test server's PostgreSQL (no-op when current)."""
    done = subprocess.run([str(ENSURE)], capture_output=True, text=True, check=False)
    return done.returncode == 0
