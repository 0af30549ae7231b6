"""PL/pgSQL `DO` blocks: the static SQL inside them, and warnings for dynamic SQL.

Role: parse a DO block with pglast's PL/pgSQL parser, analyse every static
SQL statement it contains with `sqlscan`, and report `EXECUTE` of a string
(and other dynamic queries) as warnings with their line.

It must not guess what dynamic SQL does, read files or talk to a database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pglast import parser

from anonymizer.sqltypes import SqlParseError, SqlWarning, Statement

Analyze = Callable[..., tuple[list[Statement], list[SqlWarning]]]

_DYNAMIC = {
    "PLpgSQL_stmt_dynexecute": "EXECUTE of a dynamic string",
    "PLpgSQL_stmt_dynfors": "FOR ... IN EXECUTE of a dynamic string",
    "PLpgSQL_stmt_return_query": "RETURN QUERY EXECUTE of a dynamic string",
    "PLpgSQL_stmt_open": "OPEN ... FOR EXECUTE of a dynamic string",
}


def _language(body: dict[str, Any]) -> str:
    for arg in body.get("args", ()):
        elem = arg.get("DefElem", {})
        if elem.get("defname") == "language":
            return str(elem["arg"]["String"]["sval"])
    return "plpgsql"


def _source(body: dict[str, Any]) -> str:
    for arg in body.get("args", ()):
        elem = arg.get("DefElem", {})
        if elem.get("defname") == "as":
            return str(elem["arg"]["String"]["sval"])
    return ""


def analyze_do(
    chunk: str, body: dict[str, Any], *, first_line: int, analyze_sql: Analyze
) -> tuple[list[Statement], list[SqlWarning]]:
    """Analyse the DO statement text `chunk` (starting at file line `first_line`)."""
    if _language(body) != "plpgsql":
        warning = SqlWarning(first_line, f"DO block in language {_language(body)!r}")
        return [], [warning]
    source = _source(body)
    at = chunk.find(source) if source else -1
    base = first_line + (chunk.count("\n", 0, at) if at >= 0 else 0)
    try:
        tree = json.loads(parser.parse_plpgsql_json(chunk))
    except parser.ParseError as exc:
        raise SqlParseError(first_line, f"in DO block: {exc.args[0]}") from None
    statements: list[Statement] = []
    warnings: list[SqlWarning] = []
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, lineno = stack.pop()
        if isinstance(node, list):
            stack.extend((item, lineno) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        lineno = int(node.get("lineno", lineno))
        for key, value in node.items():
            if key in _DYNAMIC and isinstance(value, dict) and _is_dynamic(key, value):
                at_line = base + int(value.get("lineno", lineno)) - 1
                warnings.append(SqlWarning(at_line, f"{_DYNAMIC[key]}: not analysed"))
            if key == "PLpgSQL_expr":
                statements.extend(_expr(value, line=base + lineno - 1, analyze_sql=analyze_sql))
            else:
                stack.append((value, lineno))
    statements.sort(key=lambda s: s.line)
    warnings.sort(key=lambda w: w.line)
    return statements, warnings


def _is_dynamic(key: str, value: dict[str, Any]) -> bool:
    if key in ("PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors"):
        return True
    return "dynquery" in value


def _expr(expr: dict[str, Any], *, line: int, analyze_sql: Analyze) -> list[Statement]:
    query = str(expr.get("query", ""))
    mode = expr.get("parseMode", 0)
    if mode >= 3 and ":=" in query:
        query = query.split(":=", 1)[1]
    text = query if mode == 0 else f"SELECT {query}"
    try:
        parsed, _ = analyze_sql(text, first_line=line)
    except SqlParseError as exc:
        raise SqlParseError(line, f"in DO block: {exc.message}") from None
    return [s for s in parsed if s.tables or s.read]
