#!/usr/bin/env bash
# Run the whole test suite (unit, contract, end-to-end) after installing what it needs.
SPANWISE_EXTRAS=test
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# The span-metrics e2e test scrapes /metrics with a real Prometheus (Debian's package).
if ! command -v prometheus >/dev/null; then
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
    || echo "scripts/test.sh: could not install prometheus; tests/e2e/test_span_metrics.py will fail" >&2
fi
exec "$ROOT/.venv/bin/python" -m pytest "$@"
