"""The suite's helpers are the `support` package (tests/support/): its modules are rewritten for pytest's
assertion messages, and its fixtures and hooks load as a plugin."""

import pytest

pytest.register_assert_rewrite("support")

pytest_plugins = ["support.fixtures"]
