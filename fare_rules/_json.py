"""Small helpers to read JSON data files strictly, naming the offending field in every error."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fare_rules.errors import DataFileError

__all__ = ["check", "field", "parse_object"]

T = TypeVar("T")


def parse_object(text: str, what: str) -> dict[str, Any]:
    """The top-level JSON object of a data file, or DataFileError."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise DataFileError(f"{what}: the top level must be a JSON object")
    return data


def field(obj: dict[str, Any], key: str, kind: type[T], where: str) -> T:
    """`obj[key]` if present and of `kind`; DataFileError naming `where.key` otherwise."""
    if key not in obj:
        raise DataFileError(f"{where}.{key}: missing")
    return check(obj[key], kind, f"{where}.{key}")


def check(value: object, kind: type[T], where: str) -> T:
    """`value` if it is a `kind`. bool is refused where an int or float is wanted (JSON true is not 1)."""
    if isinstance(value, bool) and kind is not bool:
        raise DataFileError(f"{where}: expected {kind.__name__}, got a boolean")
    if kind is float and isinstance(value, int):
        return float(value)  # type: ignore[return-value]
    if not isinstance(value, kind):
        raise DataFileError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
    return value
