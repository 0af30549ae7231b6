"""Walking one parsed statement: which relations it writes, alters or reads.

Role: the per-statement rules of the analysis -- a table is touched when a
statement creates, alters, renames, drops, truncates, indexes or writes it,
read when it is only read; CTE names are not tables; columns per table;
columns a statement adds. Works on pglast's JSON parse tree (plain dicts).

It must not parse text, read files or know about migration tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Node = dict[str, Any]
DEFAULT_SCHEMA = "public"

TABLE_OBJECTS = frozenset({"OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"})
_COLUMN_CMDS = frozenset(
    {"AT_AlterColumnType", "AT_DropColumn", "AT_ColumnDefault", "AT_SetNotNull", "AT_DropNotNull"}
)
# Parse-tree keys that never contain a relation: not worth walking.
_LEAVES = frozenset({"ColumnRef", "A_Const", "typeName", "TypeName", "ResTarget_name"})


@dataclass(slots=True)
class Acc:
    touched: dict[str, list[str]] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)
    added: list[tuple[str, str]] = field(default_factory=list)
    ctes: set[str] = field(default_factory=set)
    may_have_ctes: bool = True
    walk_reads: bool = True

    def touch(self, table: str | None, *columns: str) -> None:
        if table is None:
            return
        cols = self.touched.setdefault(table, [])
        for c in columns:
            if c not in cols:
                cols.append(c)


def qualify(name: str) -> str:
    """Canonical table name: `users` -> `public.users`; other schemas kept."""
    return name if "." in name else f"{DEFAULT_SCHEMA}.{name}"


def _rangevar(rv: Node, acc: Acc | None = None) -> str | None:
    if rv.get("relpersistence") == "t":
        return None
    schema, rel = rv.get("schemaname"), rv["relname"]
    if schema is None and acc is not None and rel in acc.ctes:
        return None
    return f"{schema or DEFAULT_SCHEMA}.{rel}"


def _names(items: list[Node]) -> str:
    parts = [i["String"]["sval"] for i in items if "String" in i]
    return qualify(".".join(parts[-2:]))


def _strings(items: list[Node] | None) -> list[str]:
    return [i["String"]["sval"] for i in items or () if "String" in i]


def _collect_ctes(node: Any, acc: Acc) -> None:
    """Gather every CTE name of the statement (they are not tables)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if type(cur) is dict:
            cte = cur.get("CommonTableExpr")
            if cte is not None:
                acc.ctes.add(cte["ctename"])
            stack.extend(v for v in cur.values() if type(v) is dict or type(v) is list)
        elif type(cur) is list:
            stack.extend(cur)


def _reads(node: Any, acc: Acc) -> None:
    """Every relation named anywhere below `node` is read (CTE names excluded)."""
    if not acc.walk_reads:
        return
    stack = [node]
    while stack:
        cur = stack.pop()
        if type(cur) is list:
            stack.extend(cur)
            continue
        if type(cur) is not dict:
            continue
        if "relname" in cur and "relpersistence" in cur:  # an unwrapped RangeVar field
            cur = {"RangeVar": cur}
        for key, value in cur.items():
            if key == "RangeVar":
                name = _rangevar(value, acc)
                if name:
                    acc.read.add(name)
            elif key in _WRITERS and type(value) is dict:
                _WRITERS[key](value, acc)
            elif key not in _LEAVES and (type(value) is dict or type(value) is list):
                stack.append(value)


def _insert(s: Node, acc: Acc) -> None:
    acc.touch(_rangevar(s["relation"], acc), *(c["ResTarget"]["name"] for c in s.get("cols", ())))
    _reads({k: v for k, v in s.items() if k != "relation"}, acc)


def _update(s: Node, acc: Acc) -> None:
    cols = [t["ResTarget"]["name"] for t in s.get("targetList", ()) if "ResTarget" in t]
    acc.touch(_rangevar(s["relation"], acc), *cols)
    _reads({k: v for k, v in s.items() if k not in ("relation", "targetList")}, acc)
    _reads([t["ResTarget"].get("val") for t in s.get("targetList", ())], acc)


def _delete(s: Node, acc: Acc) -> None:
    acc.touch(_rangevar(s["relation"], acc))
    _reads({k: v for k, v in s.items() if k != "relation"}, acc)


def _merge(s: Node, acc: Acc) -> None:
    acc.touch(_rangevar(s["relation"], acc))
    _reads({k: v for k, v in s.items() if k != "relation"}, acc)


_WRITERS = {
    "InsertStmt": _insert,
    "UpdateStmt": _update,
    "DeleteStmt": _delete,
    "MergeStmt": _merge,
}


def _create(s: Node, acc: Acc) -> None:
    table = _rangevar(s["relation"])
    cols = [e["ColumnDef"]["colname"] for e in s.get("tableElts", ()) if "ColumnDef" in e]
    acc.touch(table, *cols)
    acc.added.extend((table, c) for c in cols if table)
    for parent in s.get("inhRelations", ()):
        acc.touch(_rangevar(parent.get("RangeVar", {"relname": "?"})))
    _reads([e for e in s.get("tableElts", ()) if "ColumnDef" not in e], acc)
    _reads(
        [e["ColumnDef"].get("constraints") for e in s.get("tableElts", ()) if "ColumnDef" in e], acc
    )


def _alter(s: Node, acc: Acc) -> None:
    if s.get("objtype", "OBJECT_TABLE") not in TABLE_OBJECTS:
        return
    table = _rangevar(s["relation"])
    acc.touch(table)
    for cmd in (c["AlterTableCmd"] for c in s.get("cmds", ()) if "AlterTableCmd" in c):
        sub, definition = cmd.get("subtype"), cmd.get("def")
        if sub == "AT_AddColumn" and definition and "ColumnDef" in definition:
            col = definition["ColumnDef"]["colname"]
            acc.touch(table, col)
            if table:
                acc.added.append((table, col))
            _reads(definition["ColumnDef"].get("constraints"), acc)
        elif sub in _COLUMN_CMDS and cmd.get("name"):
            acc.touch(table, cmd["name"])
        elif definition is not None:
            _reads(definition, acc)


def _rename(s: Node, acc: Acc) -> None:
    rel = s.get("relation")
    if rel is None:
        return
    table = _rangevar(rel)
    kind = s.get("renameType")
    if kind in TABLE_OBJECTS and table:
        acc.touch(table)
        acc.touch(f"{table.split('.')[0]}.{s['newname']}")
    elif kind == "OBJECT_COLUMN" and table:
        acc.touch(table, s["subname"], s["newname"])
        acc.added.append((table, s["newname"]))
    elif s.get("relationType") in TABLE_OBJECTS or kind == "OBJECT_TABCONSTRAINT":
        acc.touch(table)


def statement(kind: str, s: Node, *, acc: Acc) -> None:
    if acc.may_have_ctes:
        _collect_ctes(s, acc)
    if kind in _WRITERS:
        _WRITERS[kind](s, acc)
    elif kind == "CreateStmt":
        _create(s, acc)
    elif kind == "CreateTableAsStmt":
        into = s["into"]
        table = _rangevar(into["rel"])
        acc.touch(table, *_strings(into.get("colNames")))
        _reads(s.get("query"), acc)
    elif kind == "ViewStmt":
        acc.touch(_rangevar(s["view"]))
        _reads(s.get("query"), acc)
    elif kind == "AlterTableStmt":
        _alter(s, acc)
    elif kind == "RenameStmt":
        _rename(s, acc)
    elif kind == "AlterObjectSchemaStmt" and s.get("objectType") in TABLE_OBJECTS:
        table = _rangevar(s["relation"])
        if table:
            acc.touch(table)
            acc.touch(f"{s['newschema']}.{table.split('.', 1)[1]}")
    elif kind == "DropStmt" and s.get("removeType") in TABLE_OBJECTS:
        for obj in s.get("objects", ()):
            acc.touch(_names(obj["List"]["items"]))
    elif kind == "TruncateStmt":
        for rel in s.get("relations", ()):
            acc.touch(_rangevar(rel["RangeVar"]))
    elif kind == "IndexStmt":
        cols = [p["IndexElem"].get("name") for p in s.get("indexParams", ())]
        acc.touch(_rangevar(s["relation"]), *(c for c in cols if c))
    elif kind == "CopyStmt":
        if s.get("relation") and s.get("is_from"):
            acc.touch(_rangevar(s["relation"]), *_strings(s.get("attlist")))
        elif s.get("relation"):
            acc.read.add(_rangevar(s["relation"]) or "")
        _reads(s.get("query"), acc)
    elif kind == "SelectStmt":
        into = s.get("intoClause")
        if into:
            acc.touch(_rangevar(into["rel"]))
        _reads({k: v for k, v in s.items() if k != "intoClause"}, acc)
    elif kind in ("CreateTrigStmt", "RefreshMatViewStmt", "CreatePolicyStmt", "RuleStmt"):
        acc.touch(_rangevar(s["relation"]))
