# One command to run the service, one to run every test. Both install what they need first,
# and every Python package comes from uv.lock (exact versions, hashes checked).
VENV      ?= .venv
PYTHON    ?= python3
BIN       := $(VENV)/bin
TOOLS     := .tools
UV        := $(TOOLS)/bin/uv
WHEEL_ENV := .venv-wheel

# uv installs into $(VENV) with this machine's Python, never one it would download.
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
SYNC := $(UV) sync --locked --quiet

.PHONY: serve test lint typecheck unit bench browser gateways screenshots wheel lock upgrade clean

serve: $(VENV)/.server  ## install the server from the lock, then serve on SQLite (./tokenward.db) at 127.0.0.1:8080
	$(BIN)/tokenward serve

test: lint typecheck unit  ## install from the lock, then run every check and test

lint: $(VENV)/.dev
	$(UV) lock --check --quiet  # fails when pyproject.toml and uv.lock disagree
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/ruff check src tests bench examples
	$(BIN)/lint-imports --no-cache  # the layers: [tool.importlinter] in pyproject.toml

# The tests are checked a folder at a time: pytest puts each test's folder on sys.path, so every
# folder's conftest.py and helpers are modules of the same bare names (conftest, server…).
TEST_DIRS := tests $(patsubst %/,%,$(sort $(dir $(wildcard tests/*/*.py))))

typecheck: $(VENV)/.dev
	$(BIN)/mypy
	for dir in $(TEST_DIRS); do MYPYPATH=tests:$$dir $(BIN)/mypy $$dir/*.py || exit 1; done

# The end-to-end tests run `tokenward serve` from the wheel, installed with [server] in a venv
# of its own, as users install it; everything else runs on the editable tree.
unit: $(VENV)/.dev $(WHEEL_ENV)/.installed browser gateways
	TOKENWARD_TEST_BIN=$(abspath $(WHEEL_ENV))/bin TOKENWARD_TEST_WHEEL=$$(ls $(abspath dist)/tokenward-*.whl) \
	TOKENWARD_TEST_UV=$(abspath $(UV)) \
	$(BIN)/pytest --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

browser:  ## the web UI tests drive Debian's Chromium (launched by path, never downloaded)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

gateways:  ## the gateway tests run Debian's nginx (with headers-more) and Caddy as their own processes
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx)
	test -e /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so \
		|| (apt-get update -qq && apt-get install -y -qq libnginx-mod-http-headers-more-filter)
	command -v caddy >/dev/null || (apt-get update -qq && apt-get install -y -qq caddy)

# Tests never write screenshots (so `make test` leaves the tree clean); this target does.
screenshots: $(VENV)/.dev browser  ## refresh docs/screenshots: every page of the web UI at 1280 px and at 375 px
	rm -f docs/screenshots/*.png
	TOKENWARD_SCREENSHOTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/web/test_web_pages.py

bench: $(VENV)/.dev  ## verify benchmark: GET /v1/self against a bare Starlette route (uvloop + httptools), with wrk
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/verify.py

wheel: dist/.built  ## build the wheel users install, into dist/

lock: $(UV)  ## after editing dependencies in pyproject.toml: resolve them into uv.lock
	$(UV) lock

upgrade: $(UV)  ## move every locked package to the newest version pyproject.toml allows
	$(UV) lock --upgrade

clean:
	rm -rf $(VENV) $(WHEEL_ENV) $(TOOLS) dist .pytest_cache .mypy_cache .ruff_cache .coverage

COVERAGE_FLOOR ?= 85

# -- installs ---------------------------------------------------------------------------------

$(UV): requirements/uv.txt  # uv itself: one pinned release, hashes checked by pip
	rm -rf $(TOOLS)
	$(PYTHON) -m pip install --quiet --no-deps --require-hashes --target $(TOOLS) -r requirements/uv.txt \
		|| { $(PYTHON) -m venv $(TOOLS) && \
		     $(TOOLS)/bin/pip install --quiet --no-deps --require-hashes -r requirements/uv.txt; }
	touch $@

$(VENV)/.server: $(UV) uv.lock pyproject.toml  # the server extra; leaves dev tools in place
	$(SYNC) --extra server --no-dev --inexact
	touch $@

$(VENV)/.dev: $(UV) uv.lock pyproject.toml  # exactly the lock: server extra and dev tools
	$(SYNC) --extra server
	touch $@ $(VENV)/.server

dist/.built: $(UV) pyproject.toml requirements/build.txt $(shell git ls-files src 2>/dev/null)
	rm -rf dist
	$(UV) build --quiet --wheel --out-dir dist --require-hashes --build-constraints requirements/build.txt
	touch $@

$(WHEEL_ENV)/.installed: dist/.built uv.lock
	rm -rf $(WHEEL_ENV)
	$(UV) venv --quiet $(WHEEL_ENV)
	$(UV) export --quiet --frozen --extra server --no-dev --no-emit-project \
		--format requirements-txt --output-file $(WHEEL_ENV)/requirements.txt
	$(UV) pip install --quiet --python $(WHEEL_ENV)/bin/python --require-hashes \
		-r $(WHEEL_ENV)/requirements.txt
	$(UV) pip install --quiet --python $(WHEEL_ENV)/bin/python --no-deps dist/tokenward-*.whl
	touch $@
