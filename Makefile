# R9 CRM on a fresh Debian 12 machine: `make run` or `make test`.
#
# Both first install what is missing: Debian packages (as root, or through
# sudo), the virtual environment in .venv (pip runs again only when
# pyproject.toml changes) and the compiled translations.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run
# The setup steps depend on each other's results, so never run them in
# parallel even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful pip install; older than pyproject.toml means stale.
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

# chromium: the Playwright browser tests drive /usr/bin/chromium (Playwright's
#   own browser download is never used).
# xvfb, xauth: a virtual display for the window test where there is none.
# dbus-daemon: the private session bus on which the window test serves its
#   own desktop notification service.
# fonts-noto-cjk: Chinese text in Chromium and in the Qt window.
# libxcb-*, libxkbcommon-x11-0: libraries of Qt 6's xcb platform plugin (from
#   ldd on PyQt6's libqxcb.so). Debian 12 images here lack only icccm4 and
#   keysyms1, but the whole set is listed for slimmer images.
SYSTEM_PACKAGES := chromium xvfb xauth dbus-daemon fonts-noto-cjk \
	libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
	libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 \
	libxkbcommon-x11-0

.PHONY: run test bench dist lint clean setup system-packages translations mariadb

run: setup
	$(BIN)/r9crm run

# The window test starts its own Xvfb when there is no display, so pytest
# runs the same way here, on a desktop and in CI.
test: setup mariadb
	@status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

bench: setup mariadb
	$(BIN)/python -m bench

# The release build, window included; see build_spec/r9crm.spec for options.
dist: setup
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build \
		build_spec/r9crm.spec

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Leaves .venv; delete it by hand for a full reinstall.
clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune \
		-exec rm -rf {} +
	find crm_web/translations -name '*.mo' -delete 2>/dev/null || true

setup: system-packages $(INSTALLED) translations

system-packages:
	scripts/ensure-system-packages.sh $(SYSTEM_PACKAGES)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off \
		-e '.[dev,window]'
	touch $@

translations: $(INSTALLED)
	@if find crm_web/translations -name '*.po' 2>/dev/null | grep -q .; then \
		$(BIN)/pybabel compile -d crm_web/translations -f; \
	fi

mariadb:
	scripts/ensure-mariadb.sh
