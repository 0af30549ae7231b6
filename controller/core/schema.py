"""One source of truth for external formats: dataclass fields -> validation and OpenAPI.

The core's configuration types (the blueprint, the pull-request spec) are
plain frozen dataclasses whose fields carry their constraints in
`dataclasses.field(metadata=...)`. This module reads those declarations to
decode and validate plain dictionaries (from YAML or a custom resource) and to
emit the OpenAPI v3 schema used by the CRDs. It must not know any concrete
type: everything comes from the annotations and the metadata keys below.

Metadata keys: ``doc`` (description), ``pattern``, ``minimum``, ``maximum``,
``min_items``, ``max_length``, ``example``.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any, TypeVar, Union

T = TypeVar("T")

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


@dataclasses.dataclass(frozen=True, slots=True)
class FieldError:
    """One validation problem: where it is and what was expected there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SchemaError(ValueError):
    """Raised with every problem found in a document; nothing is partially accepted."""

    def __init__(self, what: str, errors: tuple[FieldError, ...]) -> None:
        self.what = what
        self.errors = errors
        lines = "\n".join(f"  - {e}" for e in errors)
        super().__init__(f"invalid {what} ({len(errors)} problem(s)):\n{lines}")


def camel(name: str) -> str:
    """snake_case field name -> the camelCase key used in YAML and in the CRDs."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def parse_duration(text: str) -> timedelta:
    """Parse '90s', '48h', '7d', '1h30m' (Go-style units plus d and w)."""
    text = text.strip()
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"expected a duration such as '90s', '48h' or '7d', got {text!r}")
    seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of `parse_duration`, using the largest exact units."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@lru_cache(maxsize=256)
def _hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass (resolving them is dear; classes are few)."""
    return typing.get_type_hints(cls)


def _optional_inner(tp: Any) -> Any | None:
    """For `X | None` return X, else None."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _check_constraints(value: Any, meta: Mapping[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if isinstance(value, str):
        pattern = meta.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            errors.append(FieldError(path, f"expected a string matching {pattern}, got {value!r}"))
        max_length = meta.get("max_length")
        if max_length is not None and len(value) > max_length:
            errors.append(FieldError(path, f"expected at most {max_length} characters"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = meta.get("minimum"), meta.get("maximum")
        if low is not None and value < low:
            errors.append(FieldError(path, f"expected a number >= {low}, got {value}"))
        if high is not None and value > high:
            errors.append(FieldError(path, f"expected a number <= {high}, got {value}"))
    if isinstance(value, tuple):
        min_items = meta.get("min_items")
        if min_items is not None and len(value) < min_items:
            errors.append(FieldError(path, f"expected at least {min_items} item(s)"))
    return errors


def _decode_value(tp: Any, data: Any, path: str, errors: list[FieldError]) -> Any:
    inner = _optional_inner(tp)
    if inner is not None:
        return None if data is None else _decode_value(inner, data, path, errors)
    origin = typing.get_origin(tp)
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        if not isinstance(data, list | tuple):
            errors.append(FieldError(path, f"expected a list, got {type(data).__name__}"))
            return ()
        return tuple(
            _decode_value(item_tp, item, f"{path}[{i}]", errors) for i, item in enumerate(data)
        )
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _decode_dataclass(tp, data, path, errors)
    if isinstance(tp, type) and issubclass(tp, Enum):
        allowed = [m.value for m in tp]
        if data not in allowed:
            errors.append(FieldError(path, f"expected one of {allowed}, got {data!r}"))
            return next(iter(tp))
        return tp(data)
    if tp is timedelta:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return timedelta(seconds=data)
        try:
            return parse_duration(str(data))
        except ValueError as exc:
            errors.append(FieldError(path, str(exc)))
            return timedelta(0)
    if tp is datetime:
        if isinstance(data, datetime):
            return data if data.tzinfo else data.replace(tzinfo=UTC)
        try:
            parsed = datetime.fromisoformat(str(data).replace("Z", "+00:00"))
        except ValueError:
            errors.append(FieldError(path, f"expected an RFC 3339 timestamp, got {data!r}"))
            return datetime.fromtimestamp(0, UTC)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if tp is bool:
        if not isinstance(data, bool):
            errors.append(FieldError(path, f"expected true or false, got {data!r}"))
        return bool(data)
    if tp is int:
        if not isinstance(data, int) or isinstance(data, bool):
            errors.append(FieldError(path, f"expected an integer, got {data!r}"))
            return 0
        return data
    if tp is float:
        if not isinstance(data, int | float) or isinstance(data, bool):
            errors.append(FieldError(path, f"expected a number, got {data!r}"))
            return 0.0
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            errors.append(FieldError(path, f"expected a string, got {data!r}"))
            return ""
        return data
    raise TypeError(f"schema: unsupported annotation {tp!r} at {path}")


def _decode_dataclass(cls: type[T], data: Any, path: str, errors: list[FieldError]) -> T:
    if not isinstance(data, Mapping):
        errors.append(FieldError(path or ".", f"expected a mapping, got {type(data).__name__}"))
        data = {}
    hints = _hints(cls)  # type: ignore[arg-type]
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    known = {camel(f.name) for f in fields}
    for key in data:
        if key not in known:
            errors.append(
                FieldError(
                    f"{path}.{key}".lstrip("."),
                    f"unknown field; expected one of {sorted(known)}",
                )
            )
    kwargs: dict[str, Any] = {}
    for f in fields:
        key = camel(f.name)
        fpath = f"{path}.{key}".lstrip(".")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if key not in data:
            if required:
                errors.append(FieldError(fpath, "required field is missing"))
            continue
        before = len(errors)
        value = _decode_value(hints[f.name], data[key], fpath, errors)
        if len(errors) == before:
            errors.extend(_check_constraints(value, f.metadata, fpath))
        kwargs[f.name] = value
    if any(
        f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in kwargs
        for f in fields
    ):
        return typing.cast(T, None)
    return cls(**kwargs)


def decode(cls: type[T], data: Any, *, what: str | None = None) -> T:
    """Build `cls` from a plain mapping, or raise `SchemaError` listing every problem."""
    errors: list[FieldError] = []
    value = _decode_dataclass(cls, data, "", errors)
    if errors:
        raise SchemaError(what or cls.__name__, tuple(errors))
    return value


def encode(value: Any) -> Any:
    """The plain (YAML/JSON) form of a dataclass value, camelCase keys, defaults kept."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel(f.name): encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.init
        }
    if isinstance(value, tuple):
        return [encode(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _schema_of(tp: Any, meta: Mapping[str, Any]) -> dict[str, Any]:
    inner = _optional_inner(tp)
    if inner is not None:
        return {**_schema_of(inner, meta), "nullable": True}
    origin = typing.get_origin(tp)
    schema: dict[str, Any]
    if origin is tuple:
        schema = {"type": "array", "items": _schema_of(typing.get_args(tp)[0], {})}
        if "min_items" in meta:
            schema["minItems"] = meta["min_items"]
    elif dataclasses.is_dataclass(tp) and isinstance(tp, type):
        schema = openapi_schema(tp)
    elif isinstance(tp, type) and issubclass(tp, Enum):
        schema = {"type": "string", "enum": [m.value for m in tp]}
    elif tp is timedelta:
        schema = {"type": "string", "pattern": DURATION_PATTERN}
    elif tp is datetime:
        schema = {"type": "string", "format": "date-time"}
    elif tp is bool:
        schema = {"type": "boolean"}
    elif tp is int:
        schema = {"type": "integer"}
    elif tp is float:
        schema = {"type": "number"}
    elif tp is str:
        schema = {"type": "string"}
    else:
        raise TypeError(f"schema: unsupported annotation {tp!r}")
    for key, target in (("minimum", "minimum"), ("maximum", "maximum")):
        if key in meta:
            schema[target] = meta[key]
    if "pattern" in meta:
        schema["pattern"] = meta["pattern"]
    if "max_length" in meta:
        schema["maxLength"] = meta["max_length"]
    if "doc" in meta:
        schema["description"] = meta["doc"]
    return schema


def openapi_schema(cls: type) -> dict[str, Any]:
    """OpenAPI v3 (structural, as Kubernetes CRDs want it) for a dataclass."""
    hints = _hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = camel(f.name)
        properties[key] = _schema_of(hints[f.name], f.metadata)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(key)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if cls.__doc__:
        schema["description"] = cls.__doc__.strip().splitlines()[0]
    return schema
