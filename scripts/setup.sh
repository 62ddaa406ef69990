#!/usr/bin/env bash
# Sets up everything the course needs on a Debian-like machine, idempotently:
#   1. Debian packages, when we can install them: Fashion-MNIST (offline data), and with
#      `--tests` (what `make test` passes) the test suite's PostgreSQL (the shared-gradebook tests
#      start a server), Chromium and its driver (the browser test);
#   2. a virtual environment in .venv/ with the pinned toolchain (requirements.txt);
#   3. this repository's packages (coursekit, autograder) installed in editable mode.
# A second run with nothing changed takes a couple of seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: not a Debian system; install ${missing[*]} yourself (see README)" >&2
        return 0
    fi
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

apt_install dataset-fashion-mnist
# The test suite's servers and browser, only for `make test` (`--tests`): a reader's `make book`
# and a student's setup need neither.
if [ "${1:-}" = "--tests" ] && [ -d tests ]; then
    apt_install postgresql chromium chromium-driver
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.requirements.sha256
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing the pinned toolchain into .venv (about a minute the first time)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r requirements.txt
    .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
    .venv/bin/python -m pip check
    echo "$want" > "$stamp"
fi
echo "setup: ready (.venv/bin/python)"
