"""docs/threat-model.md cannot drift: every claim names a test, and every test it names exists."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "threat-model.md"
REFERENCE = re.compile(r"`(tests/[\w/.-]+\.py)::(test_\w+)`")


def _claim_rows() -> list[str]:
    """The table rows of the attacker sections (the claims), without header and separator rows."""
    text = DOC.read_text(encoding="utf-8")
    claims = text.split("## Attackers", 1)[1].split("## What remains", 1)[0]
    rows = [line for line in claims.splitlines() if line.startswith("|")]
    return [row for row in rows if not row.startswith(("| Attack |", "|---"))]


@cache
def _test_names(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )


def test_the_threat_model_makes_claims() -> None:
    assert len(_claim_rows()) >= 40


def test_every_claim_names_at_least_one_test() -> None:
    unchecked = [row[:100] for row in _claim_rows() if not REFERENCE.search(row.split("|")[-2])]

    assert unchecked == []


def test_every_test_the_threat_model_names_exists() -> None:
    references = REFERENCE.findall(DOC.read_text(encoding="utf-8"))
    missing = [
        f"{path}::{name}"
        for path, name in references
        if not (ROOT / path).is_file() or name not in _test_names(path)
    ]

    assert len(references) >= 60
    assert missing == []


def test_the_residual_risks_are_stated() -> None:
    residual = DOC.read_text(encoding="utf-8").split("## What remains", 1)[1]

    assert residual.count("\n- **") >= 5
