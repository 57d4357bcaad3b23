#!/usr/bin/env bash
# Run the whole test suite (unit, contract, end-to-end) after installing what it needs.
SPANWISE_EXTRAS=test
source "$(dirname "$0")/env.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
