"""Text-level helpers for SQL files: psql COPY data blocks and offset-to-line mapping.

Role: blank what the SQL grammar cannot parse in a migration file (psql
meta-commands, inline `COPY ... FROM stdin` data) without moving lines, and
turn parser byte offsets into 1-based line numbers cheaply.

It must not parse SQL.
"""

from __future__ import annotations

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
