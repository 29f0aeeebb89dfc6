"""Hypothesis strategies for the JSON Schema subset that FastAPI/pydantic emit in our OpenAPI document.

Why not hypothesis-jsonschema: its 0.23 release reaches into hypothesis internals that hypothesis 6.1xx no
longer has (`AttributeError: 'many' object has no attribute 'more'`). Our request schemas use a small subset
(objects, strings with lengths, patterns and `date`, bounded integers, enums, arrays, anyOf, $ref), so a
short converter gives schema-valid bodies that reach the services, not only the validation layer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import strategies as st

__all__ = ["from_schema"]

_TEXT = st.text(max_size=40)


def from_schema(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid under `schema` (its `$ref`s resolved in `root`, the OpenAPI document)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(root["components"]["schemas"][name], root))
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, root) for s in schema[key]])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _object(schema, root)
    if kind == "array":
        items = from_schema(schema.get("items", {}), root)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 5))
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        edges = [
            n
            for n in (-(2**63) - 1, 2**31, 2**63, 2**64)
            if (low is None or n >= low) and (high is None or n <= high)
        ]
        return st.integers(low, high) | (st.sampled_from(edges) if edges else st.nothing())
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return st.none() | st.booleans() | st.integers() | _TEXT  # an open schema: any scalar


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if schema.get("format") == "date":
        return st.dates().map(date.isoformat) | st.sampled_from([date.min.isoformat(), date.max.isoformat()])
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    # Mostly digits and station-like codes, so CCCD numbers and station codes are sometimes well formed.
    alphabet = st.sampled_from("0123456789L-") | st.characters(codec="utf-8")  # no lone surrogates
    text = st.text(alphabet, min_size=low, max_size=max(low, min(high, 40)))
    # A NUL somewhere, often: the schema allows it, PostgreSQL text columns do not.
    with_nul = text.filter(lambda t: len(t) >= max(low, 1)).map(lambda t: t[:-1] + "\x00")
    return text | with_nul


def _object(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fixed = {name: from_schema(properties[name], root) for name in sorted(required)}
    optional = {name: from_schema(s, root) for name, s in properties.items() if name not in required}
    if not properties and schema.get("additionalProperties", True) is not False:
        return st.dictionaries(_TEXT, _TEXT, max_size=4)
    return st.fixed_dictionaries(fixed, optional=optional)
