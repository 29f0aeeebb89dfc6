# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper they call.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= var
PORT ?= 8000

.PHONY: run test lint typecheck unit bench fuzz setup zbar chromium faketime tmux clean

setup: $(STAMP) zbar

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "metro-qr needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# pyzbar loads the zbar C library at run time; pip cannot install it. zbarimg (zbar-tools) is the second,
# independent reader the end-to-end tests check rendered tickets with; it is optional off CI.
zbar:
	@if ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' && command -v zbarimg >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing libzbar0 and zbar-tools (zbar for pyzbar, zbarimg for the tests) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzbar0 zbar-tools >/dev/null; \
	elif ! ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0'; then \
		echo "pyzbar needs the zbar library: run 'sudo apt-get install libzbar0' (Debian/Ubuntu)" \
		     "or 'brew install zbar' (macOS), then run make again" >&2; exit 1; \
	fi

# The rider web app's browser tests (tests/e2e/test_web_app.py) drive Debian's Chromium through Playwright;
# Playwright's own browser download is not used. Off CI they skip without it; under CI they fail.
chromium:
	@if command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium (for the web app's browser tests) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif [ -n "$$CI" ]; then \
		echo "the browser tests need chromium: run 'sudo apt-get install chromium'" >&2; exit 1; \
	fi

# The clock tests (tests/e2e/test_gate_clock.py) move a real gate process's clock with Debian's faketime
# (libfaketime). Off CI they skip without it; under CI they fail.
faketime:
	@if command -v faketime >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing faketime (for the gate clock tests) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; \
	elif [ -n "$$CI" ]; then \
		echo "the gate clock tests need faketime: run 'sudo apt-get install faketime'" >&2; exit 1; \
	fi

# The station display's test (tests/e2e/test_station_display_tmux.py) runs `listen` in a real terminal,
# tmux's, and reads its screen. Off CI it skips without tmux; under CI it fails.
tmux:
	@if command -v tmux >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing tmux (for the station display's terminal test) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; \
	elif [ -n "$$CI" ]; then \
		echo "the station display test needs tmux: run 'sudo apt-get install tmux'" >&2; exit 1; \
	fi

run: setup
	$(PY) -m ticketing serve --data-dir $(DATA_DIR) --port $(PORT) --init-if-missing

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

test: lint typecheck chromium faketime tmux
	$(PY) -m pytest

# Every benchmarks/bench_*.py, each in a few minutes. bench_audit's default (10 million scan events) takes
# hours, so it runs here with --events 200000; bench_load runs its default 60 s (--quick: 15 s). Run a file by
# hand for its full default. bench_load exits non-zero when its books do not balance, which stops the loop.
BENCH_ARGS_bench_audit := --events 200000
bench: setup
	@for b in benchmarks/bench_*.py; do \
		case $$(basename $$b .py) in bench_audit) args="$(BENCH_ARGS_bench_audit)" ;; *) args="" ;; esac; \
		echo "== $$b $$args"; $(PY) $$b $$args || exit 1; \
	done

# Two minutes of coverage-guided fuzzing of the payload decoder; stops by itself, findings land in fuzz/.
FUZZ_SECONDS ?= 120
fuzz: setup
	$(PY) -m pip install --quiet -e '.[fuzz]'
	cd fuzz && ../$(PY) fuzz_decode.py -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=./

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
