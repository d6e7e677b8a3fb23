# Ledgerlink: `make run` starts the whole product on the embedded default, `make test` runs
# the whole suite. Both install whatever is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install assets translations chromium services lint typecheck check format bench lock clean

run: install
	$(PY) -m webapp.cli.run_embedded

test: install chromium
	$(PY) -m tests.runner $(PYTEST_ARGS)

install: $(STAMP) assets translations

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	# The repository root on sys.path (what an editable install would do, without a build).
	$(PY) -c 'import pathlib, site; pathlib.Path(site.getsitepackages()[0], "ledgerlink.pth").write_text(str(pathlib.Path.cwd()) + "\n")'
	touch $(STAMP)

assets: static/vendor/htmx.min.js

static/vendor/htmx.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

translations: $(STAMP)
	$(VENV)/bin/pybabel compile -d translations >/dev/null

# Debian's Chromium for the browser tests; Playwright never downloads a browser here.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# What CI runs before the tests (and .pre-commit-config.yaml locally): lint, format, types.
check: lint typecheck

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	for f in bench/*.py; do $(PY) $$f || exit 1; done

# Regenerate the lock file after changing pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

# Extract translatable strings and merge them into both catalogues.
messages: install
	$(VENV)/bin/pybabel extract -q -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	$(VENV)/bin/pybabel update -q -i translations/messages.pot -d translations

clean:
	rm -rf $(VENV) node_modules static/vendor instance
