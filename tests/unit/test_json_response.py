"""Data routes' JSON: non-finite floats become null; everything else renders as Starlette's."""

from __future__ import annotations

import math

from starlette.responses import JSONResponse

from spanwise.serve.json_response import FiniteJSONResponse


def test_finite_bodies_render_byte_for_byte_as_starlette_does() -> None:
    body = {"a": [1, 2.5, 1e-05, None, "é"], "b": {"c": (True, -0.0)}}
    assert FiniteJSONResponse(body).body == JSONResponse(body).body


def test_nan_and_infinities_are_null_wherever_they_are() -> None:
    body = {"x": math.nan, "y": [1.0, math.inf, {"z": -math.inf}], "w": (math.nan,), "ok": 2.0}
    assert FiniteJSONResponse(body).body == b'{"x":null,"y":[1.0,null,{"z":null}],"w":[null],"ok":2.0}'
