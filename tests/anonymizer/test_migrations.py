"""Finding changed migrations in a git range; Flyway, golang-migrate, Alembic, Django."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from anonymizer import migrations

ALEMBIC = """
from alembic import op
import sqlalchemy as sa

def upgrade():
    op.create_table("invoices", sa.Column("id", sa.Integer), sa.Column("email", sa.Text))
    op.add_column("users", sa.Column("nickname", sa.Text), schema="app")
    op.execute("UPDATE users SET nickname = name FROM people WHERE people.id = users.id")

def downgrade():
    op.drop_table("should_not_count")
"""

DJANGO = """
from django.db import migrations, models

class Migration(migrations.Migration):
    operations = [
        migrations.CreateModel(
            name="Customer",
            fields=[("id", models.AutoField()), ("team", models.ForeignKey(to="x.Team"))],
        ),
        migrations.AddField(model_name="customer", name="phone", field=models.TextField()),
        migrations.RunPython(lambda apps, schema: None),
    ]
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("db/V12__add_phone.sql", True, id="flyway-versioned"),
        pytest.param("db/R__views.sql", True, id="flyway-repeatable"),
        pytest.param("migrations/0003_x.up.sql", True, id="golang-migrate-up"),
        pytest.param("migrations/0003_x.down.sql", False, id="golang-migrate-down"),
        pytest.param("db/migration/U12__undo_phone.sql", False, id="flyway-undo"),
        pytest.param("sql/migrations/2024_add.sql", True, id="plain-sql-dir"),
        pytest.param("shop/migrations/0002_auto.py", True, id="django"),
        pytest.param("alembic/versions/ab12_add.py", True, id="alembic"),
        pytest.param("shop/migrations/__init__.py", False, id="init"),
        pytest.param("src/queries/report.sql", False, id="not-a-migration"),
    ],
)
def test_is_migration(path: str, expected: bool) -> None:
    assert migrations.is_migration(path) is expected


def test_alembic_upgrade_only() -> None:
    report = migrations.analyze_text("alembic/versions/ab12_add.py", ALEMBIC)
    assert report.tables == ["app.users", "public.invoices", "public.users"]
    assert report.read == ["public.people"]
    added = {(t, c) for s in report.statements for t, c in s.added}
    assert ("app.users", "nickname") in added
    assert ("public.invoices", "email") in added


def test_django_operations() -> None:
    report = migrations.analyze_text("shop/migrations/0002_customer.py", DJANGO)
    assert report.tables == ["public.shop_customer"]
    added = [c for s in report.statements for _, c in s.added]
    assert added == ["id", "team_id", "phone"]
    assert [w.message for w in report.warnings] == ["RunPython: Python data migration not analysed"]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_git_range_reports_changed_migrations_only(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "db").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "db" / "V1__init.sql").write_text("CREATE TABLE users (id int);\n")
    (repo / "db" / "R__views.sql").write_text("CREATE OR REPLACE VIEW v AS SELECT * FROM users;\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "db" / "V2__phone.sql").write_text("-- x\nALTER TABLE users ADD COLUMN phone text;\n")
    (repo / "db" / "R__views.sql").write_text("CREATE OR REPLACE VIEW v AS SELECT id FROM users;\n")
    (repo / "db" / "V3__bad.sql").write_text("SELECT 1;\nALTER TABLEE users;\n")
    (repo / "README.md").write_text("not a migration\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "pr")
    report = migrations.from_git(repo, base=base, head="HEAD")
    assert [f.path for f in report.files] == [
        "db/V2__phone.sql",
        "db/V3__bad.sql",
        "db/R__views.sql",
    ]
    assert report.tables == ["public.users", "public.v"]
    assert report.read == []
    assert [str(e) for e in report.errors] == ['db/V3__bad.sql:2: syntax error at or near "TABLEE"']
    assert report.files[0].statements[0].line == 2


def test_bad_git_range_is_a_clear_error(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    with pytest.raises(migrations.MigrationError, match="git diff"):
        migrations.from_git(tmp_path, base="nope", head="HEAD")


def test_alembic_batch_mode_and_django_runsql_list() -> None:
    alembic = (
        "from alembic import op\nimport sqlalchemy as sa\n\ndef upgrade():\n"
        "    with op.batch_alter_table('users', schema='app') as batch_op:\n"
        "        batch_op.add_column(sa.Column('phone', sa.Text))\n"
        "        batch_op.drop_column('fax')\n"
    )
    report = migrations.analyze_text("alembic/versions/x1_phone.py", alembic)
    assert report.tables == ["app.users"]
    assert [a for s in report.statements for a in s.added] == [("app.users", "phone")]
    django = (
        "from django.db import migrations\n\nclass Migration(migrations.Migration):\n"
        "    operations = [migrations.RunSQL(['UPDATE a SET x = 1', 'DELETE FROM b'])]\n"
    )
    report = migrations.analyze_text("shop/migrations/0003_sql.py", django)
    assert report.tables == ["public.a", "public.b"]
