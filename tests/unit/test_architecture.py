"""The dependency rule of DESIGN.md, checked on the source: the rules decide, the shells do the I/O."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("fare_rules", "validator", "ticketing")
SERVER_ONLY = {"ticketing", "fastapi", "sqlmodel", "sqlalchemy", "starlette", "alembic", "uvicorn"}


def _sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", _sources("fare_rules"), ids=lambda p: p.name)
def test_fare_rules_imports_only_the_standard_library_and_itself(path: Path) -> None:
    foreign = {r for r in _imported_roots(path) if r not in sys.stdlib_module_names and r != "fare_rules"}

    assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


@pytest.mark.parametrize("path", _sources("fare_rules"), ids=lambda p: p.name)
def test_fare_rules_does_no_io(path: Path) -> None:
    io_modules = {"os", "io", "pathlib", "socket", "subprocess", "sqlite3", "time", "random", "secrets"}

    used = _imported_roots(path) & io_modules

    assert not used, f"{path.relative_to(ROOT)} imports I/O modules {sorted(used)}"


def _modules_imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


# The service's pure cores, each with the one module prefix of the service it may import (its own).
_PURE_CORES = {
    **dict.fromkeys(sorted((ROOT / "ticketing" / "issuing").rglob("*.py")), "ticketing.issuing"),
    ROOT / "ticketing" / "ingest" / "rules.py": "ticketing.ingest.rules",
}


@pytest.mark.parametrize("path", sorted(_PURE_CORES), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_services_pure_cores_import_no_database_web_framework_or_io(path: Path) -> None:
    imported = _modules_imported(path)
    io_modules = {"os", "io", "pathlib", "socket", "subprocess", "sqlite3", "time", "random", "secrets"}

    foreign = {
        m for m in imported if m.split(".")[0] not in sys.stdlib_module_names | {"fare_rules", "ticketing"}
    }
    outside = {m for m in imported if m.startswith("ticketing.") and not m.startswith(_PURE_CORES[path])}

    assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"
    assert not outside, f"{path.relative_to(ROOT)} imports the service's shell {sorted(outside)}"
    assert not {m.split(".")[0] for m in imported} & io_modules


_HTTP_LAYER: tuple[str, ...] = ("ticketing.routes", "ticketing.app", "ticketing.deps", "ticketing.handlers")
_HTTP_LAYER += ("fastapi", "starlette")
_BELOW_ROUTES = [
    p
    for part in ("services", "ingest", "issuing", "audit", "payments")
    for p in sorted((ROOT / "ticketing" / part).rglob("*.py"))
]


@pytest.mark.parametrize("path", _BELOW_ROUTES, ids=lambda p: str(p.relative_to(ROOT)))
def test_routes_import_services_and_never_the_other_way(path: Path) -> None:
    # The service's work knows nothing of HTTP: routes parse and answer, and call it.
    imported = _modules_imported(path)

    upward = {m for m in imported if any(m == top or m.startswith(f"{top}.") for top in _HTTP_LAYER)}

    assert not upward, f"{path.relative_to(ROOT)} imports the HTTP layer {sorted(upward)}"


@pytest.mark.parametrize("path", [*_sources("validator"), ROOT / "scanner_cli.py"], ids=lambda p: p.name)
def test_the_gate_never_imports_the_issuing_service_or_its_frameworks(path: Path) -> None:
    used = _imported_roots(path) & SERVER_ONLY

    assert not used, f"{path.relative_to(ROOT)} imports {sorted(used)}: a gate must work with the server down"


_RUNTIME = [p for p in _sources("validator") if p.name != "testing.py"] + [ROOT / "scanner_cli.py"]


@pytest.mark.parametrize("path", _RUNTIME, ids=lambda p: p.name)
def test_nothing_on_the_gates_runtime_path_imports_the_test_support_module(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) and node.module else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    modules = imported | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert not {m for m in modules if m == "validator.testing" or m.startswith("validator.testing.")}, (
        f"{path.relative_to(ROOT)} imports validator.testing, which is test support only"
    )


def test_scanner_cli_imports_only_the_validator_package_and_the_standard_library() -> None:
    foreign: list[str] = []
    names: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / "scanner_cli.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            foreign += [a.name for a in node.names if a.name.split(".")[0] not in sys.stdlib_module_names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if module == "validator":
                names.update(a.name for a in node.names)
            elif module.split(".")[0] not in sys.stdlib_module_names:
                foreign.append(module)
    unlisted = names - set(importlib.import_module("validator").__all__)

    assert not foreign, f"scanner_cli.py imports {sorted(foreign)}: it uses only `from validator import ...`"
    assert not unlisted, f"scanner_cli.py imports {sorted(unlisted)} from validator, not in its __all__"


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
            if ".migrations" not in info.name and not info.name.endswith("__main__"):
                names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _modules())
def test_every_module_lists_its_public_names_in_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)

    assert exported is not None, f"{module_name} has no __all__"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{module_name}.__all__ names {missing}, which it does not define"


@pytest.mark.parametrize(
    "path",
    [*(p for pkg in PACKAGES for p in _sources(pkg)), ROOT / "scanner_cli.py"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_function_of_the_product_is_longer_than_45_lines(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]

    lengths = {f.name: (f.end_lineno or f.lineno) - f.lineno + 1 for f in functions}
    long = {name: lines for name, lines in lengths.items() if lines > 45}

    assert not long, f"{path.relative_to(ROOT)}: {long} (a function reads best on one screen)"
