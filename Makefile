# PointsMart — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
## empty: `pointsmart run` picks 8443 on a village and 0 (plain HTTP only) on a county
HTTPS_PORT ?=
export POINTSMART_TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run test test-sqlite test-postgresql fuzz lint browser-deps js-deps vendor-js gallery bench translations translations-update clean

## npm from Debian when it is missing (for js-deps and vendor-js).
define ensure_npm
@if ! command -v npm >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; \
	fi
endef

$(BIN)/pointsmart: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

translations: $(BIN)/pointsmart
	$(BIN)/pybabel compile --statistics -d pointsmart/translations 2>&1 | tail -n 1

## After changing UI strings: re-extract, update the English catalogue (then translate its empty entries).
translations-update: $(BIN)/pointsmart
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --no-wrap \
	  --project=PointsMart --copyright-holder=PointsMart -o pointsmart/translations/messages.pot .
	$(BIN)/pybabel update --no-wrap --ignore-obsolete \
	  -i pointsmart/translations/messages.pot -d pointsmart/translations
	$(BIN)/pybabel compile --statistics -d pointsmart/translations

install: $(BIN)/pointsmart translations vendor-js

## Install, then `pointsmart run`: migrate, load the demo village (once), make the village's CA (once), serve
## https://$(HOST):8443/ and http://$(HOST):$(PORT)/ (which moves browsers to HTTPS). HTTPS_PORT=0: HTTP only.
## In county mode (POINTSMART_MODE=county) plain HTTP alone on $(PORT), no CA, unless HTTPS_PORT is given.
run: install
	HOST=$(HOST) PORT=$(PORT) HTTPS_PORT=$(HTTPS_PORT) $(BIN)/pointsmart run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Lint, then the whole suite on SQLite, then again on PostgreSQL.
test: install browser-deps js-deps lint test-sqlite test-postgresql

test-sqlite: install
	POINTSMART_TEST_DB=sqlite $(BIN)/pytest -q --durations=25

test-postgresql: install
	POINTSMART_TEST_DB=postgresql $(BIN)/pytest -q --durations=25

## Only the API fuzzer (Schemathesis against both tiers' documents; `make test` runs it too), with its numbers.
fuzz: install
	POINTSMART_TEST_DB=sqlite $(BIN)/pytest -q -s tests/test_api_fuzz.py

## Debian's Chromium and a Chinese font, for the browser tests (Playwright drives /usr/bin/chromium); certutil
## (libnss3-tools) for the HTTPS test's NSS database trusting the village CA; npm for js-deps.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi wenquanyi || ! command -v certutil >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei libnss3-tools >/dev/null; \
	fi
	$(ensure_npm)

## Test-time JavaScript for the browser tests (axe-core), from the npm registry by the committed lock file.
JS := tests/js
js-deps: $(JS)/node_modules/.package-lock.json

$(JS)/node_modules/.package-lock.json: $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Run-time JavaScript the app serves itself (never a CDN): the counter's WebAssembly QR decoder
## (zxing-wasm, its reader build), from the npm registry by the committed top-level package-lock.json.
## Only the files the page loads are copied into static/vendor/ (gitignored; the wheel carries them).
VENDOR := static/vendor/zxing-wasm
ZXING := node_modules/zxing-wasm
vendor-js: $(VENDOR)/zxing-reader.js

$(VENDOR)/zxing-reader.js: package.json package-lock.json
	$(ensure_npm)
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp $(ZXING)/dist/reader/zxing_reader.wasm $(ZXING)/LICENSE $(VENDOR)/
	cp $(ZXING)/dist/iife/reader/index.js $@

## The page gallery alone: every page as each role, at 1366 and 390 px and on A4, checked; screenshots,
## PDFs and an index.html in gallery/ to look at (`make test` runs it too, in its SQLite pass).
gallery: install browser-deps js-deps
	status=0; POINTSMART_TEST_DB=sqlite $(BIN)/pytest -q tests/browser/test_gallery.py || status=$$?; \
	  echo "gallery: open gallery/index.html (problems per page in gallery/results.txt)"; exit $$status

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache $(JS)/node_modules node_modules static/vendor gallery
