"""The operator's CLI where it meets the data folder: a command pointed at the wrong folder refuses and
creates nothing, an unmigrated database is named as such, the database's files are the owner's only, `keys
list` prints one time format, and a start warns once about development secrets. On both engines where there
is a database to read."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
import uvicorn
from psycopg import sql
from support.fixtures import PG_ADMIN_DSN

from ticketing import app as app_module
from ticketing.cli import EXIT_ERROR, EXIT_OK, main
from ticketing.db import make_engine
from ticketing.settings import DEV_SECRETS_FILE


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that is not the project folder, and no data folder or database named."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("METRO_DATA_DIR", raising=False)  # main() sets it from --data-dir; restored after
    monkeypatch.delenv("METRO_DATABASE_URL", raising=False)
    return tmp_path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that exists and has no tables: an empty SQLite file, an empty PostgreSQL database."""
    if request.param == "sqlite":
        (tmp_path / "empty.db").touch()
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    migrated: str = request.getfixturevalue("postgres_url")  # skips (loudly) without PostgreSQL
    name = f"metro_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield migrated.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


_COMMANDS = [["gates", "list"], ["keys", "list"], ["passes", "list"], ["tokens", "list"], ["audit", "gates"]]


@pytest.mark.parametrize("command", [*_COMMANDS, ["serve"]], ids=" ".join)
def test_a_command_run_outside_the_project_folder_refuses_naming_the_database_and_creates_nothing(
    elsewhere: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    status = main(command)
    err = capsys.readouterr().err.strip()

    assert status == EXIT_ERROR
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: no_database: no database at {elsewhere / 'var' / 'metro.db'}")
    assert f"data folder {elsewhere / 'var'}" in err
    for way in ("--data-dir", "METRO_DATA_DIR", "project folder", "init"):
        assert way in err
    assert list(elsewhere.iterdir()) == []  # no var/, no dev-secrets.json, no empty metro.db


def test_a_data_dir_without_a_database_is_refused_and_left_empty(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = elsewhere / "wrong"
    folder.mkdir()

    status = main(["--data-dir", str(folder), "keys", "list"])

    assert status == EXIT_ERROR
    assert f"no database at {folder / 'metro.db'}" in capsys.readouterr().err
    assert list(folder.iterdir()) == []


def test_a_database_without_tables_is_reported_as_not_initialised(
    elsewhere: Path, unmigrated_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRO_DATABASE_URL", unmigrated_url)

    status = main(["--data-dir", str(elsewhere / "data"), "gates", "list"])
    err = capsys.readouterr().err.strip()

    assert status == EXIT_ERROR
    assert err.startswith("error: not_initialised: the database at ")
    assert "not initialised" in err
    assert "init" in err
    assert "no such table" not in err
    assert not (elsewhere / "data").exists()


def test_init_then_serve_with_init_if_missing_make_the_data_folder_where_they_are_pointed(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda *_args, **_kwargs: None)

    assert main(["--data-dir", str(elsewhere / "a"), "init"]) == EXIT_OK
    assert main(["serve", "--data-dir", str(elsewhere / "b"), "--init-if-missing"]) == EXIT_OK
    assert main(["--data-dir", str(elsewhere / "a"), "gates", "list"]) == EXIT_OK

    for folder in ("a", "b"):
        assert (elsewhere / folder / "metro.db").is_file()
        assert (elsewhere / folder / DEV_SECRETS_FILE).is_file()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_services_sqlite_database_and_its_wal_and_shm_files_are_the_owners_only(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_umask = os.umask(0o022)  # a usual login's umask: files are world-readable unless made otherwise
    try:
        assert main(["--data-dir", str(elsewhere), "init"]) == EXIT_OK
        engine = make_engine(f"sqlite:///{elsewhere / 'metro.db'}")
        with engine.connect() as connection:  # an open connection keeps the -wal and -shm files there
            connection.execute(sa.text("SELECT count(*) FROM gates")).scalar_one()
            files = {name: _mode(elsewhere / name) for name in ("metro.db", "metro.db-wal", "metro.db-shm")}
        engine.dispose()
    finally:
        os.umask(old_umask)

    assert files == {"metro.db": 0o600, "metro.db-wal": 0o600, "metro.db-shm": 0o600}
    assert _mode(elsewhere / DEV_SECRETS_FILE) == 0o600


def test_init_makes_a_world_readable_database_of_an_earlier_version_the_owners_only(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(elsewhere), "init"]) == EXIT_OK
    (elsewhere / "metro.db").chmod(0o644)

    assert main(["--data-dir", str(elsewhere), "init"]) == EXIT_OK

    assert _mode(elsewhere / "metro.db") == 0o600


_KEY_LINE = re.compile(
    r"^ *\d+  \w+ +signs from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"
    r"  not_after (-|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)  fingerprint [0-9a-f ]+$"
)


def test_keys_list_prints_every_time_as_iso_to_the_second_with_its_zone_and_a_dash_for_none(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRO_DATABASE_URL", database_url)
    assert main(["--data-dir", str(tmp_path), "init"]) == EXIT_OK
    assert main(["--data-dir", str(tmp_path), "keys", "rotate"]) == EXIT_OK
    capsys.readouterr()

    assert main(["--data-dir", str(tmp_path), "keys", "list"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()

    assert len(lines) == 2  # init's key and the one published ahead
    assert [line for line in lines if not _KEY_LINE.match(line)] == []
    assert "not_after -" not in lines[0]  # init's key: signs until its last tickets expire
    assert "not_after -" in lines[1]  # the waiting key: no end yet
    assert "None" not in "".join(lines)


def test_serve_warns_once_about_development_secrets(
    elsewhere: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(target: str, **kwargs: Any) -> None:
        assert target == "ticketing.app:app_from_env"
        app_module.app_from_env().state.engine.dispose()  # as uvicorn's worker builds its app

    monkeypatch.setattr(uvicorn, "run", run)

    with caplog.at_level(logging.WARNING):
        assert main(["serve", "--data-dir", str(elsewhere), "--init-if-missing"]) == EXIT_OK

    warnings = [r.getMessage() for r in caplog.records if "development secrets" in r.getMessage()]
    assert len(warnings) == 1, warnings
