"""Text-level helpers for SQL files: psql COPY data blocks and offset-to-line mapping.

Role: blank what the SQL grammar cannot parse in a migration file (psql
meta-commands, inline `COPY ... FROM stdin` data) without moving lines, and
turn parser byte offsets into 1-based line numbers cheaply.

It must not parse SQL.
"""

from __future__ import annotations

import bisect
import json
import re

_COPY_DATA = re.compile(r"^\s*COPY\b[^;]*\bFROM\s+stdin\b[^;]*;\s*$", re.IGNORECASE)


def blank_copy_data(text: str) -> str:
    """Blank psql meta-commands and inline COPY ... FROM stdin data, keeping line numbers."""
    if "\\" not in text:
        return text
    lines = text.split("\n")
    in_copy = False
    for i, line in enumerate(lines):
        if in_copy:
            in_copy = line.strip() != "\\."
            lines[i] = ""
        elif line.lstrip().startswith("\\"):
            lines[i] = ""
        elif _COPY_DATA.match(line):
            in_copy = True
    return "\n".join(lines)


class Lines:
    """Byte offset -> 1-based line, counting incrementally (offsets come in order)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset, self.line = data, 0, 1

    def at(self, offset: int) -> int:
        data = self.data
        while offset < len(data) and data[offset] in b" \t\r\n":
            offset += 1
        if offset < self.offset:
            self.offset, self.line = 0, 1
        self.line += data.count(b"\n", self.offset, offset)
        self.offset = offset
        return self.line


_RELNAME = re.compile(r'"relname":"((?:[^"\\]|\\.)*)"(?:,"inh":true)?,"relpersistence":"(\w)"')
_PREFIX = re.compile(
    r'\{(?:"catalogname":"(?:[^"\\]|\\.)*",)?(?:"schemaname":"((?:[^"\\]|\\.)*)",)?'
)


class ScanError(ValueError):
    """The JSON did not have the expected shape; walk the tree instead."""


def _unescape(value: str) -> str:
    return str(json.loads(f'"{value}"')) if "\\" in value else value


class RangeVarScan:
    """Every relation (RangeVar) of a parse tree's JSON text, with its byte offset.

    A regular-expression pass over the JSON the parser produced: much cheaper than
    walking the decoded tree. Temporary relations are left out; names are
    canonical `schema.table`.
    """

    def __init__(self, raw_json: str) -> None:
        found: list[tuple[int, str]] = []
        for m in _RELNAME.finditer(raw_json):
            if m.group(2) == "t":
                continue
            opening = raw_json.rfind("{", 0, m.start())
            prefix = _PREFIX.fullmatch(raw_json, opening, m.start())
            at = raw_json.find('"location":', m.end())
            if prefix is None or at < 0:
                raise ScanError(raw_json[opening : m.end()])
            digits = re.match(r"\d+", raw_json[at + 11 : at + 31])
            schema = _unescape(prefix.group(1)) if prefix.group(1) is not None else "public"
            offset = int(digits.group(0)) if digits else 0
            found.append((offset, f"{schema}.{_unescape(m.group(1))}"))
        found.sort()
        self._offsets = [o for o, _ in found]
        self._names = [n for _, n in found]

    def between(self, start: int, end: int) -> set[str]:
        """Relations whose offset lies in [start, end)."""
        lo = bisect.bisect_left(self._offsets, start)
        hi = bisect.bisect_left(self._offsets, end)
        return set(self._names[lo:hi])
