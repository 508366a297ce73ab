#!/bin/sh
# Set up a virtual environment in .venv and run the demo or the test suite.
#   ./dev.sh demo    run the service with its dashboard on a starter configuration in
#                    .entrepot-demo/, feed it files, events and a CSV; Ctrl-C stops it
#   ./dev.sh demo --once   the same, checked through the dashboard's API, then stop (CI)
#   ./dev.sh test    lint, type-check and run every test (real servers included)
set -eu
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".$1"
}

case "${1:-}" in
    demo)
        setup "[service]"
        shift
        exec "$VENV/bin/entrepot" demo "$@"
        ;;
    test)
        setup "[test]"
        shift
        "$VENV/bin/ruff" check src tests bench
        "$VENV/bin/ruff" format --check src tests bench
        "$VENV/bin/mypy"
        exec "$VENV/bin/pytest" -n 2 --dist loadgroup "$@"
        ;;
    *)
        echo "usage: ./dev.sh demo|test [args...]" >&2
        exit 2
        ;;
esac
