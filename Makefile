# The two commands of the README: `make demo` runs the platform, `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration bench clean web web-test browser

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $(STAMP)

# The web app (web/): its packages, its API types made from the platform's OpenAPI schema, and its build, which
# the API nodes serve at `/`. A change to the API's contract that the app does not follow fails `tsc` here.
WEB_DEPS := web/node_modules/.installed
WEB_BUILD := web/dist/index.html
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/openapi.json: $(STAMP) $(shell find src/sportsbook -name '*.py')
	$(VENV)/bin/sportsbook openapi --output $@

$(WEB_BUILD): $(WEB_DEPS) web/openapi.json $(WEB_SOURCES)
	cd web && npm run gen && npm run build

web: $(WEB_BUILD)

web-test: $(WEB_BUILD)
	cd web && npm test

browser:
	bash scripts/browser.sh

demo: $(STAMP) $(WEB_BUILD)
	$(VENV)/bin/sportsbook demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck web-test browser
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/sportsbook bench ledger

clean:
	rm -rf $(VENV) var web/node_modules web/dist web/openapi.json web/src/api/schema.d.ts
