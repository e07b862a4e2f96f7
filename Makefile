# Lotsen-LTI. Two commands do everything on a fresh Debian machine with Python 3.11+:
#   make run   – install, migrate, import the catalogue, start the tool with the demo LMS
#   make test  – install, start a throwaway PostgreSQL, run every test on SQLite and PostgreSQL,
#                and the browser tests in Debian's Chromium with axe-core (tests/browser)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test install browser-deps lint bench clean translations

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 oder neuer nötig ($(PYTHON))."; exit 1; }
	@# Debian ships venv without ensurepip unless python3-venv is installed.
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
		[ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# The UI's catalogues (translations/, see README „Sprachen“): the .mo files are built here, never
# committed; without them every page is German.
CATALOGUES := $(wildcard translations/*/LC_MESSAGES/messages.po)
TRANSLATED := $(filter-out de,$(patsubst translations/%/LC_MESSAGES/messages.po,%,$(CATALOGUES)))

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -l $* -i $< -o $@

install: $(BIN)/.installed $(CATALOGUES:.po=.mo)

# After changing a text in the code or a template: messages.pot from the code, then every
# catalogue updated (German copies each new text as it is; the other languages get new entries
# for a translator, and tests/test_translations.py fails until each has its text).
translations: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext --sort-by-file --width 100 \
		--project Lotsen-LTI --header-comment "# The texts of the Lotsen-LTI UI, made by make translations." \
		-o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l de \
		--ignore-obsolete --no-fuzzy-matching --width 100
	$(BIN)/python translations/german.py translations/de/LC_MESSAGES/messages.po
	for language in $(TRANSLATED); do \
		$(BIN)/pybabel update -i translations/messages.pot -d translations -l $$language \
			--ignore-obsolete --width 100 || exit 1; \
	done
	$(MAKE) --no-print-directory $(CATALOGUES:.po=.mo)

# The browser tests (tests/browser) drive Debian's chromium through Playwright (its own browser
# download is not reachable here) and inject axe-core from the npm package. As root both are
# installed when missing; otherwise a warning, and the tests say what is missing (in CI they fail).
CHROMIUM ?= /usr/bin/chromium

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; } || true
	@if command -v npm >/dev/null; then \
		npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "WARNUNG: npm fehlt (nicht root?): axe-core für die Browser-Tests fehlt."; fi

browser-deps: node_modules/.installed
	@[ -x $(CHROMIUM) ] || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "WARNUNG: $(CHROMIUM) fehlt und kann nicht installiert werden (nicht root?)."

run: install
	$(FLASK) db upgrade
	$(FLASK) lti keys ensure
	$(FLASK) courses import
	$(FLASK) demo-lms setup --base-url http://$(HOST):$(PORT)
	$(FLASK) courses demo-projects
	@echo
	@echo "  Lotsen-LTI läuft gleich auf http://$(HOST):$(PORT)/"
	@echo "  Demo-LMS mit Beispielkurs:  http://$(HOST):$(PORT)/demo-lms/"
	@echo "  Dort „Als … starten“ klicken: als Navigator/in oder als Lotse/Lotsin."
	@echo
	PUBLIC_BASE_URL=http://$(HOST):$(PORT) $(FLASK) run --host $(HOST) --port $(PORT) --no-reload

test: install browser-deps
	$(BIN)/lint-imports
	$(BIN)/python -m tests.support.pgcluster ensure
	$(BIN)/pytest -q

lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy

# Gradebook delivery, then complete launches under gunicorn on SQLite and PostgreSQL against the
# pylti1p3 baseline (bench/launch_bench.py --quick for a short run).
bench: install
	$(BIN)/python -m tests.support.pgcluster ensure
	$(BIN)/python bench/ags_bench.py
	$(BIN)/python bench/launch_bench.py
	$(BIN)/python bench/overview_bench.py

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
	rm -f translations/*/LC_MESSAGES/*.mo
