"""The fail-closed check: are the masking rules complete for this schema and these migrations?

Role: compare the rules with (a) the pull request's migrations -- every table
they touch must be declared, and every column they add to a table holding
personal data needs a rule -- and (b) optionally the live schema: every
column of a personal table has a rule, rules name existing columns, and each
strategy fits its column's type and uniqueness. Findings name the table,
column and, for migrations, the file and line.

It must not change the database or the rules; it only reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from anonymizer import schema, strategies
from anonymizer.migrations import Report
from anonymizer.rules import Rules


@dataclass(frozen=True, slots=True)
class Finding:
    table: str
    column: str | None
    message: str
    source: str | None = None  # "file:line" for migration findings

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        origin = f" (added by {self.source})" if self.source else ""
        return f"{where}{origin}: {self.message}"


def against_migrations(rules: Rules, report: Report) -> list[Finding]:
    """Tables the migrations touch must be declared; added personal columns need rules."""
    findings: list[Finding] = []
    seen: set[tuple[str, str | None]] = set()
    for f in report.files:
        for st in f.statements:
            if st.kind == "drop":
                continue
            for table in st.tables:
                if rules.table(table) is None and (table, None) not in seen:
                    seen.add((table, None))
                    findings.append(
                        Finding(
                            table,
                            None,
                            "touched by a migration but not in the rules; declare it with "
                            "'personal: true' (and column rules) or 'personal: false'",
                            f"{f.path}:{st.line}",
                        )
                    )
            for table, column in st.added:
                rule = rules.table(table)
                if rule is None or not rule.personal or rule.rule(column) is not None:
                    continue
                if (table, column) in seen:
                    continue
                seen.add((table, column))
                findings.append(
                    Finding(
                        table,
                        column,
                        "new column in a table holding personal data has no masking rule; "
                        "add one (or 'keep' if it holds no personal data)",
                        f"{f.path}:{st.line}",
                    )
                )
    return findings


def against_schema(rules: Rules, conn: psycopg.Connection[tuple[Any, ...]]) -> list[Finding]:
    """Every column of a personal table has a fitting rule; rules name real columns."""
    findings: list[Finding] = []
    keys = strategies.Keys.from_secret(b"check-only-not-a-real-key")
    existing = schema.existing_tables(conn)
    for name, rule in rules.tables:
        if name not in existing:
            findings.append(Finding(name, None, "in the rules but not in the database"))
            continue
        if not rule.personal:
            continue
        try:
            table = schema.table(conn, name)
        except schema.SchemaError as exc:
            findings.append(Finding(name, None, str(exc)))
            continue
        for column in table.columns:
            col_rule = rule.rule(column.name)
            if col_rule is None:
                findings.append(
                    Finding(name, column.name, "no masking rule in a table holding personal data")
                )
                continue
            try:
                strategies.expression(col_rule, column, keys=keys)
            except strategies.StrategyError as exc:
                findings.append(Finding(name, column.name, str(exc).split(": ", 1)[-1]))
        for col, _ in rule.columns:
            if table.column(col) is None:
                findings.append(Finding(name, col, "rule for a column that does not exist"))
    return findings
