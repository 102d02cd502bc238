#!/usr/bin/env bash
# Installs what the browser tests (tests/server/test_browser.py) need, idempotently:
# Debian's Chromium at /usr/bin/chromium, and Playwright's Python package in the venv.
# Playwright drives that system Chromium; `playwright install` is never run, because it
# downloads its own browser build from outside the package registries.
set -euo pipefail

VENV_BIN="${VENV_BIN:-.venv/bin}"
CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-browser: $CHROMIUM is missing and installing it needs root (apt-get install chromium)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi

if ! "$VENV_BIN/python" -c 'import playwright' 2>/dev/null; then
    # The dev extra pins the same requirement; this covers a venv made without it.
    "$VENV_BIN/pip" install --quiet 'playwright>=1.45'
fi

"$CHROMIUM" --version
