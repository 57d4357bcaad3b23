"""Deterministic drift data: model `fraud` v1, a reference hour and a current hour.

Injected changes in the current hour: `amount` (numeric) shifts its mean from 50 to 70,
`country` (categorical) gains a new category `br`, and the prediction value follows
`amount`. Unchanged: `age` (numeric) and `channel` (categorical). Labels arrive on the
span (`ml.label`) for every third prediction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_build import add_attributes

HOUR = 3600 * 10**9
#: The reference hour starts three clock hours ago; the current hour follows it.
REF_START = time.time_ns() // HOUR * HOUR - 3 * HOUR
CUR_START = REF_START + HOUR
CUR_END = CUR_START + HOUR
PER_WINDOW = 400
MODEL, VERSION = "fraud", "v1"


@dataclass
class Row:
    prediction_id: str
    start_ns: int
    amount: float
    age: float
    country: str
    channel: str
    prediction: float
    label: str | None

    def attributes(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "ml.model.name": MODEL, "ml.model.version": VERSION, "ml.prediction.id": self.prediction_id,
            "ml.feature.amount": self.amount, "ml.feature.age": self.age, "ml.feature.country": self.country,
            "ml.feature.channel": self.channel, "ml.prediction.value": self.prediction,
        }
        if self.label is not None:
            found["ml.label"] = self.label
        return found


def rows() -> list[Row]:
    rng = np.random.default_rng(7)
    made = []
    for window, start in (("ref", REF_START), ("cur", CUR_START)):
        shifted = window == "cur"
        amounts = np.round(rng.normal(70.0 if shifted else 50.0, 10.0, PER_WINDOW), 3)
        ages = np.round(rng.normal(40.0, 5.0, PER_WINDOW), 3)
        countries = rng.choice(["us", "de", "fr", "br"] if shifted else ["us", "de", "fr"],
                               PER_WINDOW, p=[0.4, 0.2, 0.1, 0.3] if shifted else [0.5, 0.3, 0.2])
        channels = rng.choice(["web", "app"], PER_WINDOW, p=[0.6, 0.4])
        for i in range(PER_WINDOW):
            amount = float(amounts[i])
            made.append(Row(
                f"{window}-{i}", start + i * 8 * 10**9, amount, float(ages[i]), str(countries[i]), str(channels[i]),
                round(amount / 100, 4), ("fraud" if amount > 60 else "ok") if i % 3 == 0 else None,
            ))
    return made


def window(made: list[Row], name: str) -> list[Row]:
    return [r for r in made if r.prediction_id.startswith(name + "-")]


def request(made: list[Row]) -> bytes:
    """One OTLP export request with a span per row."""
    body = ExportTraceServiceRequest()
    rs = body.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "fraud-service"
    scope = rs.scope_spans.add()
    for i, r in enumerate(made):
        s = scope.spans.add()
        s.trace_id, s.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        s.name, s.kind = "predict", 2
        s.start_time_unix_nano, s.end_time_unix_nano = r.start_ns, r.start_ns + 5 * 10**6
        add_attributes(s, r.attributes())
    return body.SerializeToString()
