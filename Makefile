# policywatch — `make demo` and `make test` work on a fresh clone (they create .venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# Most tests wait on child processes, local servers and timeouts: on 2 cores, 4 pytest workers kept both
# busy (a sample of the suite: 342 s with 2 workers, 208 s with 4).
PYTEST_WORKERS ?= 4

# Where PYTHONDONTWRITEBYTECODE is set (some CI images), every `policywatch` process a test starts would compile
# the project's modules again (~0.2 s of CPU each): compile them once, before the tests.
COMPILE = $(BIN)/python -m compileall -q monitor storage extractors spiders

.PHONY: venv demo test test-slow bench lock clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/policywatch demo

test: $(STAMP)
	@$(COMPILE)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --durations=15 tests --ignore=tests/slow

# The crash-consistency campaign (22 killed-check trials, ~10 min on 2 busy cores), run on its own.
test-slow: $(STAMP)
	@$(COMPILE)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests/slow

bench: $(STAMP)
	@$(COMPILE)
	$(BIN)/python bench/crawl.py

# Re-pin every dependency (run after changing pyproject.toml).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install -q --disable-pip-version-check '.[test]'
	.lockenv/bin/pip freeze --exclude policywatch | sort -f > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) build *.egg-info
