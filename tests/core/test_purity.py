"""The core imports only the standard library, networkx and itself (DESIGN.md section 2)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "controller" / "core"


def test_core_imports_only_stdlib_and_networkx() -> None:
    offenders = []
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if name.startswith("controller.core") or top in {"networkx", "__future__"}:
                    continue
                if top not in sys.stdlib_module_names:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_core_has_no_clock_or_randomness() -> None:
    banned = ("datetime.now", "datetime.utcnow", "time.time", "random.", "open(")
    for path in sorted(CORE.glob("*.py")):
        text = path.read_text()
        for needle in banned:
            assert needle not in text, f"{path.name} uses {needle}"
