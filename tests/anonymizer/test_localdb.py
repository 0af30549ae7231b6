"""Local clones: golden, reflink (loop-mounted XFS where allowed) and plain-copy fallback, pool."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from anonymizer import clones, localdb, rules, strategies

KEYS = strategies.Keys.from_secret(b"test-secret-0123456789")
SQL = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text UNIQUE NOT NULL, filler text);
INSERT INTO customers SELECT g, 'person' || g || '@corp.example.org', repeat('x', 500)
FROM generate_series(1, 20000) g;
CREATE TABLE countries (code text PRIMARY KEY);
INSERT INTO countries VALUES ('FR'), ('DE');
"""
RULES = rules.parse(
    {
        "tables": {
            "customers": {
                "personal": True,
                "columns": {"id": "keep", "email": "email", "filler": "keep"},
            },
            "countries": {"personal": False},
        }
    }
)


class Quiet:
    def start(self, table: str, rows: int | None) -> None: ...
    def advance(self, table: str, rows: int) -> None: ...
    def phase(self, table: str, text: str) -> None: ...


def _loop_mounts_work() -> bool:
    if os.geteuid() != 0 or not shutil.which("mkfs.xfs") or not shutil.which("losetup"):
        return False
    return subprocess.run(["losetup", "-f"], capture_output=True, check=False).returncode == 0


def _store(*, loop: bool) -> Iterator[clones.Store]:
    # Not pytest's tmp_path: pytest resets /tmp/pytest-of-<user> to 0700 at any time (another
    # session starting), and the server runs as an unprivileged user that must traverse it.
    base = Path(tempfile.mkdtemp(prefix="mayfly-store-"))
    base.chmod(0o755)
    store = clones.Store(base / "store")
    sql = base / "load.sql"
    sql.write_text(SQL)
    localdb.make_golden(
        store,
        RULES,
        keys=KEYS,
        sql_files=[sql],
        source_dsn=None,
        progress=Quiet(),
        loop=loop,
        image_gb=1,
    )
    try:
        yield store
    finally:
        for name in [p.name for p in (store.area / "clones").glob("*")]:
            localdb.drop(store, name)
        store.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def copy_store() -> Iterator[clones.Store]:
    yield from _store(loop=False)


@pytest.fixture
def loop_store() -> Iterator[clones.Store]:
    if not _loop_mounts_work():
        why = "needs root, losetup and mkfs.xfs (xfsprogs) for a loop-mounted XFS image"
        if os.environ.get("CI") == "true":  # CI runs as root here: a missing part is a failure
            pytest.fail(f"reflink clones cannot be tested: {why}")
        pytest.skip(why)
    yield from _store(loop=True)


def _emails(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT email FROM customers ORDER BY id LIMIT 3")]


def test_golden_is_masked_and_copy_fallback_clones_it(copy_store: clones.Store) -> None:
    assert copy_store.state()["mode"] == "copy"  # tmp is ext4 here: no reflinks
    made = localdb.clone(copy_store, "pr-1")
    assert made.method == "copy"
    emails = _emails(made.dsn)
    assert len(emails) == 3
    assert not any("corp.example.org" in e for e in emails)
    with psycopg.connect(made.dsn) as conn:  # the clone is writable and independent
        conn.execute("DELETE FROM customers")
    again = localdb.clone(copy_store, "pr-2")
    assert _emails(again.dsn) == emails


def test_reflink_clone_on_loop_mounted_xfs_shares_blocks(loop_store: clones.Store) -> None:
    assert loop_store.state()["mode"] == "loop-reflink"
    before = shutil.disk_usage(loop_store.area).used
    made = localdb.clone(loop_store, "pr-1")
    after = shutil.disk_usage(loop_store.area).used
    golden_size = sum(f.stat().st_size for f in loop_store.golden.rglob("*") if f.is_file())
    assert made.method == "reflink"
    assert after - before < golden_size / 4, "a reflink clone must not copy the data blocks"
    assert len(_emails(made.dsn)) == 3


def test_pool_keeps_clones_warm_and_never_hands_one_out_twice(copy_store: clones.Store) -> None:
    made, _ = localdb.pool(copy_store, 2)
    assert len(made) == 2
    first, dsn1 = localdb.claim(copy_store, "pr-7")
    second, _ = localdb.claim(copy_store, "pr-8")
    assert first != second
    assert len(_emails(dsn1)) == 3
    with pytest.raises(clones.CloneError, match="no warm clone"):
        localdb.claim(copy_store, "pr-9")
    refill = localdb.release(copy_store, first)
    assert len(refill) == 2  # both warm slots were claimed: two new warm clones
    name, _ = localdb.claim(copy_store, "pr-9")
    assert name not in (first, second)
