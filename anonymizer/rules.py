"""The masking rules file: one YAML file per database, validated into frozen values.

Role: load and validate `masking-rules.yaml` -- for each table whether it
holds personal data and, per column, a masking strategy with its options --
and say precisely what is wrong with a bad file (path of the offending key,
what is allowed). Table names are canonical `schema.table`.

It must not talk to a database (see `check` for the schema checks) nor hold
the secret key: the file names the environment variable that carries it.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anonymizer.sqlscan import qualify


class RulesError(ValueError):
    """The rules file is missing, not YAML, or does not validate."""


class Strategy(enum.Enum):
    KEEP = "keep"
    NULL = "null"
    CONSTANT = "constant"
    PSEUDONYM = "pseudonym"
    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"
    ADDRESS = "address"
    PARTIAL = "partial"
    NOISE = "noise"
    DATE_NOISE = "date_noise"


# option -> (type, default); a default of None means required.
_OPTIONS: dict[Strategy, dict[str, tuple[type, Any]]] = {
    Strategy.KEEP: {},
    Strategy.NULL: {},
    Strategy.CONSTANT: {"value": (object, None)},
    Strategy.PSEUDONYM: {"prefix": (str, "")},
    Strategy.EMAIL: {"domain": (str, "")},
    Strategy.PHONE: {"prefix": (str, "+1 555 ")},
    Strategy.NAME: {"part": (str, "full")},
    Strategy.ADDRESS: {"part": (str, "full")},
    Strategy.PARTIAL: {"keep_first": (int, 1), "keep_last": (int, 0), "mask": (str, "*")},
    Strategy.NOISE: {"ratio": (float, 0.1)},
    Strategy.DATE_NOISE: {"days": (int, 30)},
}
_PARTS = {Strategy.NAME: ("first", "last", "full"), Strategy.ADDRESS: ("street", "city", "full")}
DEFAULT_KEY_ENV = "MAYFLY_MASKING_KEY"


@dataclass(frozen=True, slots=True)
class ColumnRule:
    strategy: Strategy
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str) -> Any:
        return dict(self.options)[name]


@dataclass(frozen=True, slots=True)
class TableRule:
    name: str
    personal: bool
    columns: tuple[tuple[str, ColumnRule], ...]

    def rule(self, column: str) -> ColumnRule | None:
        return dict(self.columns).get(column)

    @property
    def masks_anything(self) -> bool:
        return any(r.strategy is not Strategy.KEEP for _, r in self.columns)


@dataclass(frozen=True, slots=True)
class Rules:
    database: str
    key_env: str
    tables: tuple[tuple[str, TableRule], ...]

    def table(self, name: str) -> TableRule | None:
        return dict(self.tables).get(qualify(name))

    def key(self) -> bytes:
        """The secret masking key from the environment variable the file names."""
        value = os.environ.get(self.key_env, "")
        if len(value) < 16:
            raise RulesError(
                f"set {self.key_env} to the masking secret (at least 16 characters); "
                "the same key gives the same pseudonyms in every database"
            )
        return value.encode()


def _column_rule(where: str, raw: Any) -> ColumnRule:
    if isinstance(raw, str):
        raw = {"strategy": raw}
    if not isinstance(raw, dict) or "strategy" not in raw:
        raise RulesError(f"{where}: give a strategy name or a mapping with 'strategy:'")
    name = str(raw["strategy"])
    try:
        strategy = Strategy(name)
    except ValueError:
        allowed = ", ".join(s.value for s in Strategy)
        raise RulesError(f"{where}: unknown strategy {name!r} (choose from {allowed})") from None
    spec = _OPTIONS[strategy]
    unknown = sorted(set(raw) - {"strategy"} - set(spec))
    if unknown:
        allowed = ", ".join(sorted(spec)) or "none"
        raise RulesError(f"{where}: unknown option(s) {unknown} for {name} (allowed: {allowed})")
    options: list[tuple[str, Any]] = []
    for opt, (kind, default) in spec.items():
        if opt not in raw and default is None:
            raise RulesError(f"{where}: strategy {name} needs option {opt!r}")
        value = raw.get(opt, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is not object and not isinstance(value, kind):
            raise RulesError(f"{where}.{opt}: expected {kind.__name__}, got {value!r}")
        options.append((opt, value))
    rule = ColumnRule(strategy, tuple(options))
    _check_values(where, rule)
    return rule


def _check_values(where: str, rule: ColumnRule) -> None:
    opts = dict(rule.options)
    parts = _PARTS.get(rule.strategy)
    if parts and opts["part"] not in parts:
        raise RulesError(f"{where}.part: {opts['part']!r} is not one of {', '.join(parts)}")
    if rule.strategy is Strategy.PARTIAL and (opts["keep_first"] < 0 or opts["keep_last"] < 0):
        raise RulesError(f"{where}: keep_first and keep_last must be >= 0")
    if rule.strategy is Strategy.NOISE and not 0 < opts["ratio"] <= 1:
        raise RulesError(f"{where}.ratio: must be in (0, 1]")
    if rule.strategy is Strategy.DATE_NOISE and opts["days"] <= 0:
        raise RulesError(f"{where}.days: must be > 0")


def parse(data: Any, *, source: str = "rules") -> Rules:
    """Validate parsed YAML into `Rules`."""
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping with 'database' and 'tables'")
    unknown = sorted(set(data) - {"version", "database", "key_env", "tables"})
    if unknown:
        raise RulesError(f"{source}: unknown top-level key(s) {unknown}")
    if data.get("version", 1) != 1:
        raise RulesError(f"{source}: version {data.get('version')!r} is not supported (use 1)")
    tables_raw = data.get("tables")
    if not isinstance(tables_raw, dict) or not tables_raw:
        raise RulesError(f"{source}: 'tables' must map table names to their rules")
    tables: dict[str, TableRule] = {}
    for raw_name, spec in tables_raw.items():
        name = qualify(str(raw_name))
        where = f"{source}: tables.{raw_name}"
        if name in tables:
            raise RulesError(f"{where}: declared twice (public.x and x are the same table)")
        if not isinstance(spec, dict) or not isinstance(spec.get("personal"), bool):
            raise RulesError(f"{where}: needs 'personal: true' or 'personal: false'")
        extra = sorted(set(spec) - {"personal", "columns"})
        if extra:
            raise RulesError(f"{where}: unknown key(s) {extra} (allowed: personal, columns)")
        cols_raw = spec.get("columns") or {}
        if not isinstance(cols_raw, dict):
            raise RulesError(f"{where}.columns: must map column names to strategies")
        columns = tuple(
            (str(col), _column_rule(f"{where}.columns.{col}", raw)) for col, raw in cols_raw.items()
        )
        if not spec["personal"] and any(r.strategy is not Strategy.KEEP for _, r in columns):
            raise RulesError(f"{where}: masks columns but says personal: false; make it true")
        tables[name] = TableRule(name, spec["personal"], columns)
    key_env = str(data.get("key_env", DEFAULT_KEY_ENV))
    return Rules(str(data.get("database", "")), key_env, tuple(sorted(tables.items())))


def load(path: Path) -> Rules:
    """Read and validate a rules file."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from None
    return parse(data, source=str(path))


def changed_tables(previous: Rules, current: Rules) -> list[str]:
    """Tables whose rules differ between two versions of the rules file (re-mask them)."""
    return sorted(
        name for name, table in current.tables if table.personal and previous.table(name) != table
    )
