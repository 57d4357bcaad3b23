"""Debian's Chromium as the browser tests launch it (tests/ui and the e2e tests that open a page)."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
# Flags from the machine notes: without the background-networking ones Chromium keeps
# trying (and failing) to reach Google's hosts on this closed network.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
