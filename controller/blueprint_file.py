"""Reading blueprint files: YAML on disk -> a validated `Blueprint`.

The core validates mappings; this module only does the I/O and turns YAML
syntax errors into the same `SchemaError` shape (file, line, what to fix).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from controller.core.blueprint import Blueprint, load_blueprint
from controller.core.schema import FieldError, SchemaError


def read_blueprint(path: Path) -> Blueprint:
    """Load and validate a blueprint file; raise `SchemaError` or `OSError`."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        raise SchemaError(
            f"blueprint {path}", (FieldError(where, f"not valid YAML: {exc}"),)
        ) from exc
    if isinstance(data, dict) and data.get("kind") == "Blueprint" and "spec" in data:
        data = {"name": data.get("metadata", {}).get("name", ""), **data["spec"]}
    if not isinstance(data, dict):
        raise SchemaError(
            f"blueprint {path}", (FieldError(".", "expected a mapping of blueprint fields"),)
        )
    try:
        return load_blueprint(data)
    except SchemaError as exc:
        raise SchemaError(f"blueprint {path}", exc.errors) from exc
