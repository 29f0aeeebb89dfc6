"""Hypothesis strategies for JSON documents and for mutating valid ones (journal batches, request bodies)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

__all__ = ["json_values", "mutate"]

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
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
