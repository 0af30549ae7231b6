"""Alembic and Django migrations, read from their Python AST (never imported or run).

Role: find the schema operations of a Python migration (`op.create_table`,
`op.add_column`, ... in Alembic's `upgrade()`; `migrations.CreateModel`,
`AddField`, ... in Django's `operations`) and turn them into the same
`Statement` records the SQL analysis produces. Literal SQL passed to
`op.execute` / `RunSQL` is analysed with the SQL grammar; anything else it
cannot see into (RunPython, non-literal SQL) becomes a warning.

It must not import or execute the migration, nor talk to a database.
"""

from __future__ import annotations

import ast
from pathlib import PurePath

from anonymizer.sqlscan import SqlWarning, Statement, analyze, qualify

_FK_FIELDS = frozenset({"ForeignKey", "OneToOneField"})


def kind_of(source: str) -> str | None:
    """'alembic', 'django' or None when the file is neither."""
    if "alembic" in source and "def upgrade" in source:
        return "alembic"
    if "django.db" in source and "migrations" in source and "operations" in source:
        return "django"
    return None


def _const(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _arg(call: ast.Call, index: int, *, name: str) -> ast.expr | None:
    return call.args[index] if len(call.args) > index else _kw(call, name)


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _st(line: int, kind: str, table: str, cols: list[str], *, added: bool = False) -> Statement:
    columns = {table: tuple(cols)} if cols else {}
    new = tuple((table, c) for c in cols) if added else ()
    return Statement(line, kind, (table,), (), columns, new)


def _sql(call: ast.Call, line: int) -> tuple[list[Statement], list[SqlWarning]]:
    node = _arg(call, 0, name="sql") or _arg(call, 0, name="sqltext")
    text = _const(node)
    if isinstance(node, ast.List | ast.Tuple):  # Django RunSQL(["...", "..."])
        parts = [_const(e) for e in node.elts]
        text = ";\n".join(p for p in parts if p) if all(parts) else None
    if text is None:
        return [], [SqlWarning(line, "SQL that is not a string literal: not analysed")]
    return analyze(text, first_line=line)


def _batches(tree: ast.AST) -> dict[str, tuple[str, ast.expr | None]]:
    """`with op.batch_alter_table("t") as batch_op:` -> {"batch_op": ("t", schema)}."""
    found: dict[str, tuple[str, ast.expr | None]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.With):
            continue
        for item in node.items:
            ctx = item.context_expr
            if (
                isinstance(ctx, ast.Call)
                and _callee(ctx) == "batch_alter_table"
                and isinstance(item.optional_vars, ast.Name)
            ):
                table = _const(_arg(ctx, 0, name="table_name"))
                if table:
                    found[item.optional_vars.id] = (table, _kw(ctx, "schema"))
    return found


def _unbatch(call: ast.Call, batches: dict[str, tuple[str, ast.expr | None]]) -> ast.Call:
    """A batch operation as the equivalent `op.*` call (the table as first argument)."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return call
    if func.value.id not in batches:
        return call
    table, schema = batches[func.value.id]
    keywords = list(call.keywords)
    if schema is not None:
        keywords.append(ast.keyword(arg="schema", value=schema))
    args = [ast.Constant(table), *call.args]
    return ast.Call(func=func, args=args, keywords=keywords, lineno=call.lineno, col_offset=0)


def alembic(source: str) -> tuple[list[Statement], list[SqlWarning]]:
    tree = ast.parse(source)
    upgrade = next(
        (f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "upgrade"), None
    )
    statements: list[Statement] = []
    warnings: list[SqlWarning] = []
    batches = _batches(upgrade or tree)
    calls = (_unbatch(n, batches) for n in ast.walk(upgrade or tree) if isinstance(n, ast.Call))
    for call in calls:
        name, line = _callee(call), call.lineno
        schema = _const(_kw(call, "schema"))

        def table_at(
            index: int, kw: str = "table_name", call: ast.Call = call, schema: str | None = schema
        ) -> str:
            raw = _const(_arg(call, index, name=kw)) or "?"
            return qualify(f"{schema}.{raw}" if schema else raw)

        if name == "create_table":
            names = [_const(c.args[0]) for c in call.args[1:] if isinstance(c, ast.Call) and c.args]
            statements.append(
                _st(line, "create_table", table_at(0), [c for c in names if c], added=True)
            )
        elif name == "add_column":
            column = _arg(call, 1, name="column")
            cname = _const(column.args[0]) if isinstance(column, ast.Call) and column.args else None
            statements.append(
                _st(line, "alter_table", table_at(0), [cname] if cname else [], added=True)
            )
        elif name in ("drop_column", "alter_column"):
            old_col = _const(_arg(call, 1, name="column_name"))
            new = _const(_kw(call, "new_column_name"))
            changed = [c for c in (old_col, new) if c]
            table = table_at(0)
            added = ((table, new),) if new else ()
            statements.append(
                Statement(line, "alter_table", (table,), (), {table: tuple(changed)}, added)
            )
        elif name in ("drop_table", "create_index", "bulk_insert", "create_unique_constraint"):
            idx = 1 if name in ("create_index", "create_unique_constraint") else 0
            raw = _arg(call, idx, name="table_name")
            if name == "bulk_insert" and isinstance(raw, ast.Call):
                raw = raw.args[0] if raw.args else None
            table = qualify(_const(raw) or "?")
            statements.append(_st(line, name, table, []))
        elif name == "rename_table":
            old, new = table_at(0, "old_table_name"), table_at(1, "new_table_name")
            statements.append(Statement(line, "rename", tuple(sorted({old, new})), (), {}))
        elif name == "create_foreign_key":
            src, ref = table_at(1, "source_table"), table_at(2, "referent_table")
            statements.append(Statement(line, "alter_table", (src,), (ref,), {}))
        elif name == "execute":
            found, warned = _sql(call, line)
            statements.extend(found)
            warnings.extend(warned)
    return statements, warnings


def django(source: str, *, path: str) -> tuple[list[Statement], list[SqlWarning]]:
    parts = PurePath(path).parts
    app = parts[-3] if len(parts) >= 3 else "app"
    tree = ast.parse(source)
    statements: list[Statement] = []
    warnings: list[SqlWarning] = []
    tables: dict[str, str] = {}

    def table(model: str | None) -> str:
        model = (model or "?").lower()
        return tables.get(model, qualify(f"{app}_{model}"))

    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name, line = _callee(call), call.lineno
        if name == "CreateModel":
            model = (_const(_arg(call, 0, name="name")) or "?").lower()
            options = _kw(call, "options")
            if isinstance(options, ast.Dict):
                for k, v in zip(options.keys, options.values, strict=True):
                    if _const(k) == "db_table" and _const(v):
                        tables[model] = qualify(str(_const(v)))
            fields = _arg(call, 1, name="fields")
            cols: list[str] = []
            for item in getattr(fields, "elts", []):
                if isinstance(item, ast.Tuple) and len(item.elts) == 2:
                    cols.append(_column(item.elts[0], item.elts[1]))
            statements.append(_st(line, "create_table", table(model), cols, added=True))
        elif name in ("AddField", "AlterField", "RemoveField", "RenameField"):
            field_model = _const(_arg(call, 0, name="model_name"))
            if name == "RenameField":
                old, new = (
                    _const(_arg(call, 1, name="old_name")),
                    _const(_arg(call, 2, name="new_name")),
                )
                statements.append(
                    _st(line, "alter_table", table(field_model), [c for c in (old, new) if c])
                )
                continue
            col = _column(_arg(call, 1, name="name"), _arg(call, 2, name="field"))
            kind = "alter_table"
            statements.append(_st(line, kind, table(field_model), [col], added=name == "AddField"))
        elif name in ("DeleteModel", "AddIndex", "AlterUniqueTogether", "AddConstraint"):
            key = "name" if name == "DeleteModel" else "model_name"
            statements.append(_st(line, name.lower(), table(_const(_arg(call, 0, name=key))), []))
        elif name == "RenameModel":
            old, new = (
                _const(_arg(call, 0, name="old_name")),
                _const(_arg(call, 1, name="new_name")),
            )
            statements.append(
                Statement(line, "rename", tuple(sorted({table(old), table(new)})), (), {})
            )
        elif name == "RunSQL":
            found, warned = _sql(call, line)
            statements.extend(found)
            warnings.extend(warned)
        elif name == "RunPython":
            warnings.append(SqlWarning(line, "RunPython: Python data migration not analysed"))
    return statements, warnings


def _column(name: ast.expr | None, field: ast.expr | None) -> str:
    col = _const(name) or "?"
    if isinstance(field, ast.Call):
        db_column = _const(_kw(field, "db_column"))
        if db_column:
            return db_column
        if _callee(field) in _FK_FIELDS:
            return f"{col}_id"
    return col
