"""Planning a masking run: which tables, which SQL, which chunks -- decided before any change.

Role: resolve the tables to rewrite (adding tables joined through a
pseudonymised foreign key, which must be re-masked together), check that
every column of a personal table has a fitting rule, and build each table's
masked SELECT list and its ranges for parallel connections (primary-key
ranges, see `chunking`). Any gap is reported as a whole, before anything is touched.

It must not modify the database: it only reads catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from anonymizer import chunking, inplace, native, schema, strategies
from anonymizer.rules import Rules, Strategy

STAGE_SCHEMA = "mayfly_stage"
Conn = psycopg.Connection[tuple[Any, ...]]


class PlanError(RuntimeError):
    """The rules do not cover the tables to mask; nothing was changed."""


@dataclass(frozen=True, slots=True)
class TablePlan:
    table: schema.Table
    select: str
    columns: str
    stage: str
    chunks: tuple[str, ...]
    masked: tuple[str, ...]
    rows: int | None
    analyze: str | None
    rewrites: tuple[tuple[str, str, str], ...]  # (column, type, expression) to re-type
    in_place: bool  # one ALTER TABLE rewrite (see `inplace`) instead of the staged one


def _analyze(conn: Conn, table: schema.Table, masked: list[str]) -> str | None:
    """The ANALYZE that replaces every statistic that could hold an original value.

    Masked and generated columns only (kept columns hold the same values, so their
    statistics stay true; sampling fewer columns saves ~25% of the ANALYZE), or the
    whole table when it has extended statistics, which a column list leaves behind.
    """
    ext = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_statistic_ext WHERE stxrelid = %s)", (table.oid,)
    ).fetchone()
    if ext and ext[0]:
        return f"ANALYZE {table.ident}"
    columns = [*masked, *(c.name for c in table.columns if c.generated)]
    if not columns:
        return None
    return f"ANALYZE {table.ident} ({', '.join(sql.Identifier(c).as_string() for c in columns)})"


def plan(
    conn: Conn,
    rules: Rules,
    names: list[str],
    *,
    keys: strategies.Keys,
    jobs: int,
    force: bool = False,
    c_functions: bool = False,
) -> tuple[list[TablePlan], list[tuple[str, str]]]:
    """Decide what to rewrite; raise MaskingError (before touching anything) on any gap.

    `c_functions`: the database has the mayfly_mask extension (see `native`).
    """
    express = native.expression if c_functions else strategies.expression
    plans: list[TablePlan] = []
    skipped: list[tuple[str, str]] = []
    problems: list[str] = []
    for name in names:
        rule = rules.table(name)
        if rule is None:
            problems.append(f"{name}: not in the rules file; declare it (personal: true/false)")
            continue
        if not (rule.personal and (rule.masks_anything or force)):
            skipped.append((rule.name, "no personal data" if not rule.personal else "all keep"))
            continue
        try:
            table = schema.table(conn, rule.name)
        except schema.SchemaError as exc:
            problems.append(str(exc))
            continue
        exprs, cols, masked, rewrites = [], [], [], []
        for column in table.columns:
            col_rule = rule.rule(column.name)
            if col_rule is None:
                problems.append(
                    f"{table.name}.{column.name}: no masking rule and the table holds personal "
                    "data; add a rule (or 'keep') to the rules file"
                )
                continue
            if column.generated:
                continue
            try:
                expr = express(col_rule, column, keys=keys)
            except strategies.StrategyError as exc:
                problems.append(f"{table.name}: {exc}")
                continue
            ident = sql.Identifier(column.name).as_string()
            exprs.append(f"{expr} AS {ident}")
            cols.append(ident)
            if col_rule.strategy is not Strategy.KEEP:
                masked.append(column.name)
                rewrites.append((column.name, column.type, expr))
        unknown = sorted({c for c, _ in rule.columns} - {c.name for c in table.columns})
        problems.extend(f"{table.name}.{c}: rule for a column that does not exist" for c in unknown)
        rows = conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s", (table.oid,)
        ).fetchone()
        pages = conn.execute(
            "SELECT pg_relation_size(%s) / current_setting('block_size')::int", (table.oid,)
        ).fetchone()
        if not rewrites and table.columns:  # forced: rewrite through a no-op
            first = next((c for c in table.columns if not c.generated), table.columns[0])
            rewrites.append((first.name, first.type, inplace.noop(first.name)))
        plans.append(
            TablePlan(
                table,
                ", ".join(exprs),
                ", ".join(cols),
                f"{STAGE_SCHEMA}.s{table.oid}",
                chunking.ranges(
                    conn,
                    oid=table.oid,
                    name=table.name,
                    ident=table.ident,
                    pages=int(pages[0]) if pages else 0,
                    jobs=jobs,
                ),
                tuple(masked),
                int(rows[0]) if rows and int(rows[0]) >= 0 else None,
                _analyze(conn, table, masked),
                tuple(rewrites),
                inplace.eligible(conn, table.oid, [c for c, _, _ in rewrites]),
            )
        )
    if problems:
        raise PlanError("nothing was changed:\n  " + "\n  ".join(problems))
    return plans, skipped


_FK_COLUMNS = """
SELECT format('%s.%s', sn.nspname, s.relname), format('%s.%s', tn.nspname, t.relname),
       ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.conrelid
             AND attnum = ANY (c.conkey)),
       ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.confrelid
             AND attnum = ANY (c.confkey))
FROM pg_constraint c
JOIN pg_class s ON s.oid = c.conrelid JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = c.confrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE c.contype = 'f'
"""


def linked(conn: Conn, rules: Rules, *, names: list[str]) -> list[str]:
    """Add tables joined by a foreign key whose columns are pseudonymised on either side.

    Re-masking one side of a pseudonymised key would break the key; masking both sides
    with the same function keeps them equal.
    """

    def keyed(table: str, cols: list[str]) -> bool:
        rule = rules.table(table)
        return rule is not None and any(
            (r := rule.rule(c)) is not None and r.strategy is Strategy.PSEUDONYM for c in cols
        )

    chosen = list(dict.fromkeys(names))
    edges = conn.execute(_FK_COLUMNS).fetchall()
    grew = True
    while grew:
        grew = False
        for src, dst, src_cols, dst_cols in edges:
            if not (keyed(src, src_cols) or keyed(dst, dst_cols)):
                continue
            for a, b in ((src, dst), (dst, src)):
                if a in chosen and b not in chosen and rules.table(b) is not None:
                    chosen.append(b)
                    grew = True
    return chosen
