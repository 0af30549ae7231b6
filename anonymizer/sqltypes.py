"""Records of the SQL analysis: analysed statements, warnings and parse errors.

Role: plain, frozen values shared by `sqlscan`, `plpgsql` and `migrations`.
It must not parse anything or do any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SqlParseError(ValueError):
    """The SQL does not parse; carries the 1-based line and the parser's message."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Statement:
    """One analysed statement: where it is, what kind, what it touches and reads."""

    line: int
    kind: str
    tables: tuple[str, ...]
    read: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    added: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "kind": self.kind,
            "tables": list(self.tables),
            "columns": {t: list(c) for t, c in self.columns.items()},
        }


@dataclass(frozen=True, slots=True)
class SqlWarning:
    """Something the analysis could not see into (dynamic SQL)."""

    line: int
    message: str
