"""Hypothesis strategies for JSON documents and for mutating valid ones (journal batches, request bodies)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

__all__ = ["EDGE_TEXTS", "edge_values", "json_values", "mutate"]

# Values that have reached a database column or datetime arithmetic unchecked before: integers past 32 and 64
# bits, booleans where integers go (JSON true is Python's 1), NUL characters (PostgreSQL text refuses them),
# times at the calendar's limits. Drawn often, not left to chance.
EDGE_TEXTS = (
    "\x00", "L1\x0001", "a\x00b", "0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31",
    "9999-12-31T23:59:59-01:00", "0000-00-00", "2025-02-30", "1e400", "-0", "٣",
)  # fmt: skip
edge_values = st.sampled_from(
    [True, False, 2**31, -(2**31) - 1, 2**40, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, *EDGE_TEXTS]
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | edge_values
)
json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def mutate(data: st.DataObject, document: Any) -> Any:
    """A copy of `document` with one node replaced by arbitrary JSON, deleted, or a list item repeated."""
    result = copy.deepcopy(document)
    path = data.draw(st.sampled_from(_paths(result)), label="path")
    if not path:
        return data.draw(json_values, label="whole document")
    parent = result
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = data.draw(st.sampled_from(["replace", "delete", "repeat"]), label="action")
    if action == "replace":
        parent[last] = data.draw(json_values, label="new value")
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    else:
        parent[last] = [parent[last], parent[last]]
    return result
