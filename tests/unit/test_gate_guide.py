"""The gate guide's commands work as written: each names the gate's data folder, since the default folder
belongs to another gate than the one section 1 provisioned."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_COMMAND = re.compile(r"python scanner_cli\.py[^\n`]*")


def test_every_gate_command_in_the_docs_names_its_data_folder() -> None:
    commands = [
        (doc.name, found)
        for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for found in _COMMAND.findall(doc.read_text(encoding="utf-8"))
        if "--help" not in found
    ]

    assert len(commands) > 10
    assert [c for c in commands if "--data-dir" not in c[1]] == []
