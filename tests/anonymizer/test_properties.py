"""Property tests of the masking strategies, evaluated by the real PostgreSQL.

Invariants: the same input gives the same output (joins survive, in any table
and any run with the same key); on unique columns distinct inputs stay
distinct; NULL stays NULL; the output never contains the input.
"""

from __future__ import annotations

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizer import pgserver, rules, strategies
from anonymizer.schema import Column

KEYS = strategies.Keys.from_secret(b"property-secret-0123456789")
UNIQUE = Column("v", "text", "S", False, False, False, True)
values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=3,
    max_size=40,
)


def _masked(server: pgserver.PgServer, strategy: str, inputs: list[str | None]) -> list[str | None]:
    rule = rules.ColumnRule(rules.Strategy(strategy), ())
    table = rules.parse({"tables": {"t": {"personal": True, "columns": {"v": strategy}}}}).table(
        "t"
    )
    assert table is not None
    rule = table.rule("v") or rule
    expr = strategies.expression(rule, UNIQUE, keys=KEYS).replace("%", "%%")
    with psycopg.connect(server.dsn()) as conn:
        rows = conn.execute(
            f"SELECT {expr} FROM unnest(%s::text[]) WITH ORDINALITY AS x(v, i) ORDER BY i",
            (inputs,),
        ).fetchall()
    return [r[0] for r in rows]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(values, min_size=1, max_size=30, unique=True),
    st.sampled_from(["email", "pseudonym", "name", "phone", "address"]),
)
def test_deterministic_unique_and_null_preserving(
    postgres_server: pgserver.PgServer, inputs: list[str], strategy: str
) -> None:
    doubled: list[str | None] = [*inputs, *inputs, None]
    out = _masked(postgres_server, strategy, doubled)
    n = len(inputs)
    assert out[:n] == out[n : 2 * n], "same input, same output"
    assert len(set(out[:n])) == n, "distinct inputs stay distinct on a unique column"
    assert out[-1] is None
    for original, masked in zip(inputs, out[:n], strict=True):
        assert masked is not None
        assert original not in masked or len(original) < 4
