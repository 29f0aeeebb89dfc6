"""The suite's shared fixtures and hooks (a plugin: tests/conftest.py registers it): a real database on both
engines, the issuing service over a TestClient, and the leak guard.

`database_url` runs each test on SQLite (a fresh file copied from a migrated template) and on PostgreSQL
(one database per test session and xdist worker, migrated once, truncated between tests). Without a
PostgreSQL server the PostgreSQL runs are skipped and the summary says so loudly; with `CI` set they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from support.issuing import Api, Clock, make_settings, seed, truncate
from support.leak_guard import LeakGuard, Needles
from ticketing.app import create_app
from ticketing.db import migrate
from ticketing.settings import SECRET_FIELDS

__all__ = ["PG_ADMIN_DSN", "PG_SKIP_REASON"]

PG_ADMIN_DSN = os.environ.get("METRO_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_SKIP_REASON = "PostgreSQL unreachable"


def _pg_reachable() -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def pytest_configure(config: pytest.Config) -> None:
    # The whole session's logs and unread output are scanned for the test settings' secrets, CCCD numbers,
    # private keys and tokens; a leak fails the run (tests/support/leak_guard.py).
    settings = make_settings("sqlite://", Path("."))
    secrets = {name: settings.secret(name).decode() for name in SECRET_FIELDS}
    secrets["cccd_hash_key (hex)"] = settings.secret("cccd_hash_key").hex()
    config.pluginmanager.register(LeakGuard(Needles(secrets=secrets)), "leak-guard")


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """A fresh, migrated database for this session and worker; dropped at the end."""
    problem = _pg_reachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_SKIP_REASON} under CI ({PG_ADMIN_DSN}): {problem}", pytrace=False)
        pytest.skip(f"{PG_SKIP_REASON} ({PG_ADMIN_DSN}): {problem}")
    name = f"metro_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    url = f"postgresql+psycopg://{params.get('user', 'postgres')}@{params['host']}:{params['port']}/{name}"
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test copies the file (much faster than migrating per test)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "metro.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    truncate(url)
    return url


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """xdist's worker id ("gw0", ...) or "main" without xdist."""
    worker_input = getattr(request.config, "workerinput", None)
    return str(worker_input["workerid"]) if worker_input else "main"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if PG_SKIP_REASON in str(r.longrepr)]
    if not skipped:
        return
    terminalreporter.write_sep("!", "POSTGRESQL TESTS SKIPPED", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(skipped)} PostgreSQL test(s) did NOT run: no server at {PG_ADMIN_DSN}. "
        "The same code ships for PostgreSQL; start one (or set METRO_TEST_PG_DSN) and run again. "
        "Set CI=1 to make this a failure.",
        red=True,
        bold=True,
    )


# --- the issuing service over TestClient, on both engines -------------------------------------------


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings for `api`, by indirect parametrisation; a "policy" dict becomes a policy file."""
    overrides = dict(getattr(request, "param", None) or {})
    if "policy" in overrides:
        path = tmp_path / "policy.json"
        path.write_text(json.dumps(overrides.pop("policy")), encoding="utf-8")
        overrides["policy_file"] = path
    return overrides


@pytest.fixture
def api(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path, **settings_overrides)
    admin_token = seed(database_url, b"test-passphrase")
    clock = Clock()
    app = create_app(settings, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, clock, admin_token, database_url, settings)
    app.state.engine.dispose()
