"""Which tables and columns a piece of SQL touches, read from PostgreSQL's own grammar.

Role: parse SQL text with pglast (libpg_query, the server's parser) into its
JSON parse tree and walk it: a table is *touched* when a statement creates,
alters, renames, drops, truncates, indexes or writes it; a table that is only
read (the SELECT side of INSERT ... SELECT, UPDATE ... FROM, a view's query)
is *read*. PL/pgSQL `DO` blocks are parsed too; dynamic `EXECUTE` becomes a
warning. Names are canonical `schema.table` (`users` is `public.users`).

It must not read files, talk to a database or know about migration tools.
"""

from __future__ import annotations

import gc
import json
import re

from pglast import parser

from anonymizer import plpgsql
from anonymizer.sqlnodes import TABLE_OBJECTS, Acc, Node, qualify, statement
from anonymizer.sqltext import Lines, RangeVarScan, ScanError, blank_copy_data
from anonymizer.sqltypes import SqlParseError, SqlWarning, Statement

_KINDS = {
    "CreateStmt": "create_table",
    "CreateTableAsStmt": "create_table_as",
    "ViewStmt": "create_view",
    "AlterTableStmt": "alter_table",
    "RenameStmt": "rename",
    "AlterObjectSchemaStmt": "set_schema",
    "DropStmt": "drop",
    "TruncateStmt": "truncate",
    "IndexStmt": "create_index",
    "InsertStmt": "insert",
    "UpdateStmt": "update",
    "DeleteStmt": "delete",
    "MergeStmt": "merge",
    "CopyStmt": "copy",
    "SelectStmt": "select",
    "CreateTrigStmt": "create_trigger",
    "RefreshMatViewStmt": "refresh_materialized_view",
}
_FAST_KINDS = frozenset(
    {
        "InsertStmt",
        "UpdateStmt",
        "DeleteStmt",
        "MergeStmt",
        "SelectStmt",
        "CreateTableAsStmt",
        "ViewStmt",
        "CreateStmt",
        "CopyStmt",
    }
)


def _kind_name(kind: str) -> str:
    if kind in _KINDS:
        return _KINDS[kind]
    base = kind.removesuffix("Stmt")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()


def analyze(text: str, *, first_line: int = 1) -> tuple[list[Statement], list[SqlWarning]]:
    """Analyse SQL text; lines are reported from `first_line`. Raises SqlParseError."""
    # The parse tree is acyclic: pausing the cyclic GC while it is built and walked
    # makes the analysis ~2.5x faster on large files.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(text, first_line=first_line)
    finally:
        if enabled:
            gc.enable()


def _analyze(text: str, *, first_line: int) -> tuple[list[Statement], list[SqlWarning]]:
    text = blank_copy_data(text)
    try:
        raw_json = parser.parse_sql_json(text)
    except parser.ParseError as exc:
        message, index = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        raise SqlParseError(text.count("\n", 0, index) + first_line, message) from None
    tree = json.loads(raw_json)
    ctes = '"CommonTableExpr"' in raw_json
    scan = None if ctes else _scan(raw_json)
    data = text.encode()
    lines = Lines(data)
    statements: list[Statement] = []
    warnings: list[SqlWarning] = []
    for raw in tree.get("stmts", ()):
        start = raw.get("stmt_location", 0)
        end = start + raw["stmt_len"] if raw.get("stmt_len") else len(data)
        line = lines.at(start) + first_line - 1
        ((kind, body),) = raw["stmt"].items()
        if kind == "DoStmt":
            chunk = data[start:end].decode()
            inner, warned = plpgsql.analyze_do(chunk, body, first_line=line, analyze_sql=analyze)
            statements.extend(inner)
            warnings.extend(warned)
            continue
        reads = scan.between(start, end) if scan and _fast(kind, body) else None
        statements.append(analyze_node(kind, body, line=line, ctes=ctes, reads=reads))
    return statements, warnings


def _scan(raw_json: str) -> RangeVarScan | None:
    try:
        return RangeVarScan(raw_json)
    except ScanError:
        return None  # an unexpected shape: walk the tree instead


def _fast(kind: str, body: Node) -> bool:
    """Kinds whose reads are exactly every relation in their text (no CTE present)."""
    if kind == "AlterTableStmt":
        return body.get("objtype", "OBJECT_TABLE") in TABLE_OBJECTS
    return kind in _FAST_KINDS


def analyze_node(
    kind: str, body: Node, *, line: int, ctes: bool = True, reads: set[str] | None = None
) -> Statement:
    """Analyse one parsed statement node.

    `ctes=False` says the text has no WITH clause; `reads` are the statement's relations
    found by `RangeVarScan`, which then replaces the (slower) walk of the tree.
    """
    acc = Acc(may_have_ctes=ctes, walk_reads=reads is None)
    statement(kind, body, acc=acc)
    if reads is not None:
        acc.read = reads
    touched = tuple(sorted(acc.touched))
    read = tuple(sorted(acc.read - set(acc.touched) - {""}))
    columns = {t: tuple(c) for t, c in sorted(acc.touched.items()) if c}
    return Statement(line, _kind_name(kind), touched, read, columns, tuple(acc.added))


__all__ = ["SqlParseError", "SqlWarning", "Statement", "analyze", "analyze_node", "qualify"]
