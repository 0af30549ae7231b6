"""Find a pull request's changed migrations and report what they touch.

Role: pick migration files out of a git range or a list of paths (Flyway
`V<ver>__*.sql` and changed `R__*.sql`, golang-migrate `*.up.sql`, plain SQL
migration directories, Alembic and Django Python migrations), analyse each
one and gather the per-file and overall touched/read tables into a `Report`
whose `as_json()` is the documented output shape.

It must not talk to a database or decide anything about masking.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from anonymizer import pymigrations
from anonymizer.sqlscan import SqlParseError, SqlWarning, Statement, analyze

_FLYWAY = re.compile(r"^(V[0-9][0-9._]*|R)__.+\.sql$", re.IGNORECASE)
_FLYWAY_UNDO = re.compile(r"^U[0-9][0-9._]*__.+\.sql$", re.IGNORECASE)
_MIGRATION_DIRS = ("migrat", "versions", "db/migrate", "schema")


class MigrationError(RuntimeError):
    """A migration source could not be read (bad path, bad git range)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A parse error or a warning, tied to a file and a line."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class FileReport:
    path: str
    statements: tuple[Statement, ...]
    warnings: tuple[Problem, ...]
    error: Problem | None

    @property
    def tables(self) -> list[str]:
        return sorted({t for s in self.statements for t in s.tables})

    @property
    def read(self) -> list[str]:
        touched = set(self.tables)
        return sorted({t for s in self.statements for t in s.read} - touched)


@dataclass(frozen=True, slots=True)
class Report:
    files: tuple[FileReport, ...]

    @property
    def tables(self) -> list[str]:
        return sorted({t for f in self.files for t in f.tables})

    @property
    def read(self) -> list[str]:
        return sorted({t for f in self.files for t in f.read} - set(self.tables))

    @property
    def errors(self) -> list[Problem]:
        return [f.error for f in self.files if f.error]

    @property
    def warnings(self) -> list[Problem]:
        return [w for f in self.files for w in f.warnings]

    def added_columns(self) -> list[tuple[str, str, str, int]]:
        """(table, column, file, line) for every column a migration adds."""
        return [
            (t, c, f.path, s.line) for f in self.files for s in f.statements for t, c in s.added
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "read": self.read,
            "files": [
                {
                    "path": f.path,
                    "tables": f.tables,
                    "read": f.read,
                    "statements": [s.as_json() for s in f.statements],
                }
                for f in self.files
            ],
        }


def is_migration(path: str) -> bool:
    """Whether a repository path looks like a forward migration file."""
    p = PurePosixPath(path)
    name = p.name
    if name.endswith(".down.sql") or name == "__init__.py" or _FLYWAY_UNDO.match(name):
        return False
    if _FLYWAY.match(name) or name.endswith(".up.sql"):
        return True
    in_dir = any(marker in str(p.parent).lower() for marker in _MIGRATION_DIRS)
    return in_dir and name.endswith((".sql", ".py"))


def analyze_text(path: str, text: str) -> FileReport:
    """Analyse one migration's content; parse errors become the report's `error`."""
    try:
        if path.endswith(".py"):
            kind = pymigrations.kind_of(text)
            if kind is None:
                return FileReport(path, (), (), None)
            if kind == "alembic":
                statements, warnings = pymigrations.alembic(text)
            else:
                statements, warnings = pymigrations.django(text, path=path)
        else:
            statements, warnings = analyze(text)
    except SqlParseError as exc:
        return FileReport(path, (), (), Problem(path, exc.line, exc.message))
    except SyntaxError as exc:
        return FileReport(path, (), (), Problem(path, exc.lineno or 0, f"Python: {exc.msg}"))
    problems = tuple(Problem(path, w.line, w.message) for w in warnings)
    return FileReport(path, tuple(statements), problems, None)


def _sort_key(path: str) -> tuple[int, list[Any]]:
    name = PurePosixPath(path).name
    repeatable = 1 if name.upper().startswith("R__") else 0
    parts = [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]
    return repeatable, [str(PurePosixPath(path).parent), *parts]


def from_paths(paths: list[Path]) -> Report:
    """Analyse files and (recursively) directories of migrations, in version order."""
    files: list[str] = []
    for p in paths:
        if p.is_dir():
            files.extend(str(f) for f in p.rglob("*") if f.is_file() and _in_dir_ok(f))
        elif p.is_file():
            files.append(str(p))
        else:
            raise MigrationError(f"{p}: no such file or directory")
    files.sort(key=_sort_key)
    return Report(tuple(analyze_text(f, Path(f).read_text(errors="replace")) for f in files))


def _in_dir_ok(f: Path) -> bool:
    return (
        f.suffix in (".sql", ".py") and not f.name.endswith(".down.sql") and f.name != "__init__.py"
    )


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise MigrationError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout


def from_git(repo: Path, *, base: str, head: str) -> Report:
    """Analyse the migrations added or changed between `base` and `head` (merge-base diff)."""
    out = _git(repo, "diff", "--name-only", "--diff-filter=ACMR", f"{base}...{head}")
    changed = sorted((p for p in out.splitlines() if is_migration(p)), key=_sort_key)
    reports = [analyze_text(p, _git(repo, "show", f"{head}:{p}")) for p in changed]
    return Report(tuple(reports))


__all__ = [
    "FileReport",
    "MigrationError",
    "Problem",
    "Report",
    "SqlWarning",
    "from_git",
    "from_paths",
]
