#!/usr/bin/env bash
# Start Spanwise with the embedded store in ./spanwise-data (creates .venv on first run).
# Extra arguments go to `spanwise serve`, e.g. --data-dir /var/lib/spanwise.
SPANWISE_EXTRAS=server
source "$(dirname "$0")/env.sh"
exec "$ROOT/.venv/bin/spanwise" serve "$@"
