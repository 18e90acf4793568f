# The two commands a fresh machine needs: `make demo` and `make test`. Everything else is set-up they call.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: demo test test-all lint format system-deps install transformers-suites clean

# FFmpeg's shared libraries for torchcodec (PyAV wheels bundle their own); jemalloc for the allocator benchmarks.
system-deps:
	@if ! ldconfig -p | grep -q libavcodec || ! ldconfig -p | grep -q libjemalloc.so.2; then \
		echo "Installing FFmpeg shared libraries and jemalloc (Debian packages ffmpeg, libjemalloc2)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq ffmpeg libjemalloc2; \
	fi

$(VENV)/.installed: setup.cfg pyproject.toml
	$(MAKE) system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[train,dev]"
	touch $@

install: $(VENV)/.installed

# transformers' own common test suites (tests/*_common.py of the sdist of the installed transformers version),
# extracted into a cache inside $(VENV), never into the repository; see tests/videoswin/transformers_suites.py.
transformers-suites: install
	$(PY) tests/videoswin/transformers_suites.py

# `make test`: the tests a developer runs, without the ones marked slow (benchmark smoke runs, training runs, torchrun,
# subprocess conversions). CI (CI=true) runs every test through the same command; `make test-all` does so anywhere.
TEST_MARKS ?= $(if $(filter true,$(CI)),,not slow)

test: install transformers-suites
	$(PY) -m pytest -q $(if $(TEST_MARKS),-m "$(TEST_MARKS)") $(PYTEST_ARGS)

test-all: install transformers-suites
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: install
	$(PY) examples/demo.py --output-dir demo_output

# mlinter: transformers' modeling-structure linter (transformers-mlinter, pinned in setup.cfg's dev extras).
lint: install
	$(VENV)/bin/ruff check src tests examples conversion benchmarks
	$(VENV)/bin/ruff format --check src tests examples conversion benchmarks
	$(VENV)/bin/mlinter --no-progress src/transformers_videoswin

format: install
	$(VENV)/bin/ruff check --fix src tests examples conversion benchmarks
	$(VENV)/bin/ruff format src tests examples conversion benchmarks

clean:
	rm -rf $(VENV) demo_output build dist src/*.egg-info
