"""The leak guard fails a whole pytest session (with or without xdist) whose logs hold a secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
TESTS = Path(__file__).resolve().parents[1]

CONFTEST = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from support.leak_guard import LeakGuard, Needles

def pytest_configure(config):
    needles = Needles(secrets={{"webhook_secret": "guard-test-secret-0123456789"}})
    config.pluginmanager.register(LeakGuard(needles), "leak-guard")
"""
LEAKY = """
import logging

def test_that_passes_but_logs_a_cccd_number():
    logging.getLogger("ticketing.example").info("registered holder 079303001234")

def test_that_passes_but_logs_a_secret_at_info():
    logging.getLogger("some.library").info("using guard-test-secret-0123456789")
"""
CLEAN = """
import logging

def test_that_logs_only_the_masked_number():
    logging.getLogger("ticketing.example").warning("registered holder 0793******34")
"""


def _session(tmp_path: Path, tests: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_inner.py").write_text(tests, encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(tmp_path)]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_session_whose_passing_tests_log_secrets_fails_and_shows_them_masked(
    tmp_path: Path, xdist: list[str]
) -> None:
    result = _session(tmp_path, LEAKY, *xdist)

    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "2 passed" in result.stdout
    assert "CCCD number" in result.stdout
    assert "secret webhook_secret" in result.stdout
    assert "079303001234" not in result.stdout + result.stderr
    assert "guard-test-secret-0123456789" not in result.stdout + result.stderr


def test_a_session_that_logs_only_masked_numbers_passes(tmp_path: Path) -> None:
    result = _session(tmp_path, CLEAN)

    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "no leak" in result.stdout
