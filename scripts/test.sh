#!/usr/bin/env bash
# Run the whole test suite (unit, contract, end-to-end) after installing what it needs.
SPANWISE_EXTRAS=test
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# Debian packages the end-to-end tests drive: a real Prometheus scrapes /metrics
# (tests/e2e/test_span_metrics.py) and Chromium runs the web UI tests (tests/ui/, through
# Playwright, which must not download a browser of its own here).
missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
# A real Alertmanager receives Spanwise's alerts (tests/e2e/test_alerts_alertmanager.py).
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-liberation)
if [ ${#missing[@]} -gt 0 ]; then
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
    || echo "scripts/test.sh: could not install ${missing[*]}; the tests that need them will fail" >&2
fi
# Two workers (one per core of the reference machine; SPANWISE_TEST_WORKERS=0 runs in one
# process). A worker takes a whole test file at a time, so a module's server starts once.
exec "$ROOT/.venv/bin/python" -m pytest -n "${SPANWISE_TEST_WORKERS:-2}" --dist loadfile "$@"
