"""The JSON response of every data route.

OTLP carries NaN and ±Infinity as valid doubles (a gauge, a sum, a histogram's sum, an
attribute), so stored data may hold them; JSON has no such numbers, and Starlette's
`JSONResponse` refuses them (a 500). Here they are `null`, as Prometheus-style clients and
the OTLP/JSON-to-JS world treat a missing value. A body without one renders byte for byte
as `JSONResponse` does; only a body that holds one is walked again.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import JSONResponse


class FiniteJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:  # "Out of range float values are not JSON compliant"
            return super().render(_finite(content))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
