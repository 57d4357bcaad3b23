"""Training runs as traces (steps as child spans, metrics as span events) that upload the
training data's profile as the model version's drift baseline when they end.

The upload posts a CSV (one column per feature, plus `prediction` / `label` when given) to
`POST /api/v1/models/{name}/baselines`; the server keeps a profile, never the rows. A
failed upload is logged and kept in `run.baseline_error`; it does not fail the run.
"""

from __future__ import annotations

import csv
import io
import logging
import urllib.parse
from typing import Any, Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from spanwise import api_http
from spanwise.core import ml_attributes as ml
from spanwise.sdk import tables
from spanwise.sdk.attributes import label_text, scalar

log = logging.getLogger(__name__)


class TrainingRun:
    """`with TrainingRun(...) as run:` ... `run.step("fit")`, `run.log_metric("auc", 0.91)`,
    `run.set_training_data(X_train, predictions=..., labels=y_train)`."""

    def __init__(
        self, tracer: Tracer, api_url: str, model: str, version: str = "", *, baseline_name: str = "training",
        upload_baseline: bool = True, params: Mapping[str, Any] | None = None, timeout_s: float = 60.0,
    ) -> None:
        self._tracer, self._api_url, self.model, self.version = tracer, api_url, model, version
        self.baseline_name, self.upload_baseline, self.timeout_s = baseline_name, upload_baseline, timeout_s
        self._attributes: dict[str, Any] = {ml.MODEL_NAME: model, "training.run": True}
        if version:
            self._attributes[ml.MODEL_VERSION] = version
        self._attributes.update({f"training.param.{k}": v for k, v in (params or {}).items() if scalar(v) is not None})
        self.span: Span = trace.INVALID_SPAN
        self._token: object | None = None
        self._csv: bytes | None = None
        self.baseline: dict[str, Any] | None = None
        self.baseline_error: str | None = None

    def __enter__(self) -> "TrainingRun":
        self.span = self._tracer.start_span(f"train {self.model}", context=otel_context.Context(),
                                            attributes=self._attributes)
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self

    @contextmanager
    def step(self, name: str, **attributes: Any) -> Iterator[Span]:
        """A child span for one step (load, split, fit, evaluate...)."""
        with self._tracer.start_as_current_span(name, attributes=attributes) as span:
            yield span

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """A `metric` event on the run's span; the latest value is also an attribute."""
        event: dict[str, Any] = {"metric.name": name, "metric.value": float(value)}
        if step is not None:
            event["metric.step"] = step
        self.span.add_event("metric", event)
        self.span.set_attribute(f"training.metric.{name}", float(value))

    def set_training_data(self, features: Any, *, feature_names: Sequence[str] | None = None,
                          predictions: Any = None, labels: Any = None) -> None:
        """The data the model was trained on: its profile becomes the drift baseline.
        `predictions` are the model's outputs on it (numbers for regressors, classes for
        classifiers), `labels` the ground truth."""
        names, rows = tables.rows(features, feature_names)
        self._csv = training_csv(names, rows, predictions, labels, classes=_is_classes(predictions))
        self.span.set_attributes({"training.rows": len(rows), "training.features": len(names)})

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        try:
            if error is not None:
                self.span.record_exception(error)
                self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            elif self.upload_baseline and self._csv is not None:
                self._upload()
        finally:
            self.span.end()
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]

    def _upload(self) -> None:
        if not self._api_url:
            self.baseline_error = "no query API URL: pass api_url= to init() or set SPANWISE_API_URL"
            self.span.set_attribute("training.baseline_error", self.baseline_error)
            log.warning("training run of %s %s: baseline not uploaded: %s", self.model, self.version, self.baseline_error)
            return
        query = urllib.parse.urlencode({"version": self.version, "name": self.baseline_name})
        url = f"{self._api_url}/api/v1/models/{urllib.parse.quote(self.model, safe='')}/baselines?{query}"
        try:
            assert self._csv is not None
            self.baseline = api_http.post(url, self._csv, "text/csv", self.timeout_s)
            self.span.set_attribute("training.baseline", self.baseline_name)
        except api_http.ApiFailure as exc:
            self.baseline_error = str(exc)
            self.span.set_attribute("training.baseline_error", str(exc))
            log.warning("training run of %s %s: baseline upload failed: %s", self.model, self.version, exc)


def training_csv(names: Sequence[str], rows: list[list[Any]], predictions: Any = None,
                 labels: Any = None, classes: bool = False) -> bytes:
    """The CSV the baselines API profiles: features, then `prediction` (or, for classes,
    `prediction_label`, which the server always profiles as categories) and `label`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    output = ["prediction_label" if classes else "prediction"] if predictions is not None else []
    writer.writerow(list(names) + output + (["label"] if labels is not None else []))
    extra_p = ([label_text(v) for v in predictions] if classes else list(predictions)) if predictions is not None else None
    extra_l = [label_text(v) for v in labels] if labels is not None else None
    for index, row in enumerate(rows):
        cells = [_cell(v) for v in row]
        if extra_p is not None:
            cells.append(_cell(extra_p[index]))
        if extra_l is not None:
            cells.append(extra_l[index])
        writer.writerow(cells)
    return out.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    converted = scalar(value)
    if converted is None:
        return ""
    return str(converted).lower() if isinstance(converted, bool) else str(converted)


def _is_classes(predictions: Any) -> bool:
    """Class predictions: an estimator's labels (text, or integers), not real numbers."""
    if predictions is None:
        return False
    listed = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
    return any(isinstance(v, (str, bool, int)) for v in listed[:100])
