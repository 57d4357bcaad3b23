"""Wrap any scikit-learn estimator or pipeline so that `predict` / `predict_proba` record
every row as a prediction: `model = sdk.wrap(clf, "churn", "v2")`.

A call with one row is one span; a batch is a `predict_batch` span with one child span per
row (so drift and quality see every row, and each row has its own prediction id for
feedback). Row spans carry the call's start and end. Classifiers also record each class's
probability (`predict_proba`, computed after the timed call) and the confidence.

The call's span (the batch span, or the single row's) is current while the estimator
runs, so whatever the model logs is correlated with it, and an exception marks it as an
error. Each call also adds its rows to the `spanwise.predictions` counter and its
duration to the `spanwise.prediction.latency` histogram.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from spanwise.core import ml_attributes as ml
from spanwise.sdk import attributes as attrs
from spanwise.sdk import explain, tables
from spanwise.sdk.predictions import LinkTarget, record, span_links

if TYPE_CHECKING:
    from spanwise.sdk.runtime import Spanwise

log = logging.getLogger(__name__)


class InstrumentedModel:
    """The estimator, with predictions recorded; every other attribute passes through."""

    def __init__(
        self, sdk: "Spanwise", estimator: Any, model: str, version: str = "", *,
        feature_names: Sequence[str] | None = None, explainer: explain.Explainer | None = None,
        explain_sample_rate: float = 0.1, record_proba: bool = True,
    ) -> None:
        self.estimator, self.model, self.version = estimator, model, version
        self.feature_names = list(feature_names) if feature_names is not None else _names_in(estimator)
        self.explainer, self.explain_sample_rate, self.record_proba = explainer, explain_sample_rate, record_proba
        self._sdk = sdk
        self._local = threading.local()
        #: Explainer calls that raised or returned an unusable shape: each is counted here
        #: and on the call's span (`ml.explainer.error`); the prediction goes on.
        self.explainer_failures = 0

    @property
    def last_prediction_ids(self) -> list[str]:
        """The prediction ids of this thread's latest call, one per row."""
        return list(getattr(self._local, "ids", []))

    def predict(self, X: Any, *, prediction_ids: Sequence[str] | None = None,
                links: Iterable[LinkTarget] | None = None, attributes: Mapping[str, Any] | None = None) -> Any:
        return self.predict_with_ids(X, prediction_ids=prediction_ids, links=links, attributes=attributes)[0]

    def predict_with_ids(self, X: Any, *, prediction_ids: Sequence[str] | None = None,
                         links: Iterable[LinkTarget] | None = None,
                         attributes: Mapping[str, Any] | None = None) -> tuple[Any, list[str]]:
        """`predict(X)` and the prediction id of each row."""
        names, rows = tables.rows(X, self.feature_names)
        links = list(links or ())
        with _Call(self._sdk.tracer, self.model, self.version, len(rows), links) as call:
            predicted = self.estimator.predict(X)
            call.end = time.time_ns()
            proba = self._proba(X) if self.record_proba else None
        ids = self._record(call, names, rows, _listed(predicted), proba, prediction_ids, links, attributes)
        return predicted, ids

    def predict_proba(self, X: Any, *, prediction_ids: Sequence[str] | None = None,
                      links: Iterable[LinkTarget] | None = None, attributes: Mapping[str, Any] | None = None) -> Any:
        """Class probabilities; the recorded label is the most probable class."""
        names, rows = tables.rows(X, self.feature_names)
        links = list(links or ())
        with _Call(self._sdk.tracer, self.model, self.version, len(rows), links) as call:
            proba = self.estimator.predict_proba(X)
            call.end = time.time_ns()
        classes = list(self.estimator.classes_)
        scores = _listed(proba)
        labels = [classes[max(range(len(r)), key=r.__getitem__)] for r in scores]
        self._record(call, names, rows, labels, scores, prediction_ids, links, attributes)
        return proba

    def __getattr__(self, name: str) -> Any:
        return getattr(self.estimator, name)

    def _proba(self, X: Any) -> list[list[float]] | None:
        if not hasattr(self.estimator, "classes_") or not hasattr(self.estimator, "predict_proba"):
            return None
        return _listed(self.estimator.predict_proba(X))

    def _outputs(self, predicted: list[Any], proba: list[list[float]] | None) -> list[dict[str, Any]]:
        if not hasattr(self.estimator, "classes_"):
            return [attrs.output(value=v) for v in predicted]
        classes = list(self.estimator.classes_)
        if proba is None:
            return [attrs.output(label=v) for v in predicted]
        return [attrs.output(label=v, scores=dict(zip(classes, p))) for v, p in zip(predicted, proba)]

    def _record(
        self, call: "_Call", names: list[str], rows: list[list[Any]], predicted: list[Any],
        proba: list[list[float]] | None, prediction_ids: Sequence[str] | None, links: list[LinkTarget],
        attributes: Mapping[str, Any] | None,
    ) -> list[str]:
        start, end = call.start, call.end
        ids = list(prediction_ids) if prediction_ids is not None else [attrs.new_prediction_id() for _ in rows]
        if len(ids) != len(rows):
            call.span.end(end_time=end)
            raise ValueError(f"{len(ids)} prediction ids for {len(rows)} rows")
        outputs = self._outputs(predicted, proba)
        explained = self._explanations(names, rows, ids, call.span)
        batch = len(rows) > 1
        context = trace.set_span_in_context(call.span) if batch else None
        for index, (row, pid, out) in enumerate(zip(rows, ids, outputs)):
            record(self._sdk.tracer, self.model, self.version, features=dict(zip(names, row)), prediction_id=pid,
                   attributions=explained.get(index), attributes={**out, **dict(attributes or {})}, links=links,
                   start_time=start, end_time=end, context=context, span=None if batch else call.span)
            if batch and (index + 1) % self._sdk.pace_rows == 0:
                self._sdk.pace()
        if batch:
            call.span.end(end_time=end)
        self._sdk.prediction_metrics.record(self.model, self.version, len(rows), (end - start) / 1e9)
        self._local.ids = ids
        return ids

    def _explanations(self, names: list[str], rows: list[list[Any]], ids: list[str],
                      span: Span) -> dict[int, dict[str, float]]:
        """Attributions of the sampled rows; none (logged once, counted) when the explainer
        fails, because an explanation must never cost the user's prediction."""
        if self.explainer is None:
            return {}
        chosen = [i for i, pid in enumerate(ids) if explain.sampled(pid, self.explain_sample_rate)]
        try:
            found = explain.attributions(self.explainer, names, [rows[i] for i in chosen])
        except Exception as exc:  # the user's explainer: anything may come out of it
            self.explainer_failures += 1
            span.set_attribute("ml.explainer.error", f"{type(exc).__name__}: {exc}"[:500])
            if self.explainer_failures == 1:
                log.warning("explainer of %s %s failed (predicting without attributions; later failures are "
                            "counted in explainer_failures, not logged)", self.model, self.version, exc_info=True)
            return {}
        return dict(zip(chosen, found))


class _Call:
    """The span of one predict call, current while the estimator runs: `predict_batch`
    for several rows (ended by the caller after the row spans), the row's own `predict`
    span for one (finished by `record`), none for zero rows. An exception from the
    estimator ends it as an error."""

    def __init__(self, tracer: Tracer, model: str, version: str, rows: int, links: list[LinkTarget]) -> None:
        self.start = time.time_ns()
        self.end = 0
        self.span: Span = trace.INVALID_SPAN
        if rows > 1:
            self.span = tracer.start_span("predict_batch", start_time=self.start, attributes={
                ml.MODEL_NAME: model, **({ml.MODEL_VERSION: version} if version else {}), "ml.batch.size": rows})
        elif rows == 1:
            self.span = tracer.start_span("predict", start_time=self.start, links=span_links(links))
        self._token: object | None = None

    def __enter__(self) -> "_Call":
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]
        self.end = self.end or time.time_ns()
        if error is not None:
            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            self.span.end(end_time=self.end)


def _names_in(estimator: Any) -> list[str] | None:
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def _listed(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)
