"""Hypothesis settings for the fuzz tests: CI-sized by default, longer with
HYPOTHESIS_PROFILE=long (e.g. `HYPOTHESIS_PROFILE=long pytest tests/fuzz`).

No example database: a failure prints the falsifying example (and a @reproduce_failure
line), which is what a regression test should be made of; nothing is written to the tree.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = settings(
    database=None,
    deadline=3000,  # ms per example: a decoder that hangs on some input fails here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    print_blob=True,
)
settings.register_profile("ci", _COMMON, max_examples=150)
settings.register_profile("long", _COMMON, max_examples=20_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
