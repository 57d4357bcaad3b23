"""Seven days of history, recorded with explicit past start and end times: the same
services, versions, errors, slow calls and incidents as the live system, and delayed
ground truth timestamped when it became known. Model calls are batched through the real
models (churn with each class's probability, so ROC AUC covers the week, and a sample of
churn v1 explained); predictions link to the training pipeline's fit step of their model
version; spans are written per request through each service's own SDK instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from spanwise.demo import world
from spanwise.demo.models import Models
from spanwise.demo.system import OVERLOADED
from spanwise.sdk import Spanwise, explain
from spanwise.sdk.pipelines import LineageRef

MS = 10**6
#: Backfilled churn v1 predictions explained (SHAP is the slow part of the backfill).
EXPLAINED_ROWS = 20


@dataclass(frozen=True)
class History:
    """The backfilled requests: times, features, versions and what the models said."""

    times: np.ndarray
    frame: pd.DataFrame
    versions: np.ndarray
    churn: np.ndarray
    churn_proba: np.ndarray
    churn_scores: list[dict[str, float]]
    attributions: dict[int, dict[str, float]]
    ltv: np.ndarray
    errors: np.ndarray
    true_churn: np.ndarray
    true_ltv: np.ndarray
    lineage: dict[tuple[str, str], LineageRef]


def simulate(models: Models, incidents: world.Incidents, rng: np.random.Generator, start: int, end: int,
             requests: int) -> History:
    times = np.sort(rng.integers(start, end, requests))
    frame = world.customers(rng, rng.integers(1, 200_000, requests), incidents.drifted(times))
    versions = np.array([world.version_of(int(c)) for c in frame["customer_id"]])
    churn = np.empty(requests, dtype=object)
    proba = np.zeros(requests)
    scores: list[dict[str, float]] = [{} for _ in range(requests)]
    ltv = np.zeros(requests)
    regressed = times >= incidents.regression_start
    for version in ("v1", "v2"):
        for broken in (False, True):
            rows = (versions == version) & (regressed == broken)
            if not rows.any():
                continue
            model = models.churn_model(version, broken)
            churn[rows] = model.predict(frame.loc[rows, world.CHURN_FEATURES])
            probabilities = model.predict_proba(frame.loc[rows, world.CHURN_FEATURES])
            proba[rows] = probabilities.max(axis=1)
            classes = [str(c) for c in model.classes_]
            for i, p in zip(np.flatnonzero(rows).tolist(), probabilities.tolist()):
                scores[i] = dict(zip(classes, p))
        rows = versions == version
        ltv[rows] = models.ltv[version].predict(frame.loc[rows, world.LTV_FEATURES])
    errors = rng.random(requests) < 0.015
    attributions = _explain(models, frame, np.flatnonzero((versions == "v1") & ~errors), rng)
    return History(times, frame, versions, churn, proba, scores, attributions, ltv, errors,
                   world.churn_labels(rng, frame), world.lifetime_value(rng, frame), models.lineage)


def _explain(models: Models, frame: pd.DataFrame, candidates: np.ndarray,
             rng: np.random.Generator) -> dict[int, dict[str, float]]:
    """Attributions of `EXPLAINED_ROWS` churn v1 rows, by row index (none without an explainer)."""
    explainer = models.explainers.get(("churn", "v1"))
    if explainer is None or not len(candidates):
        return {}
    chosen = np.sort(rng.choice(candidates, min(EXPLAINED_ROWS, len(candidates)), replace=False)).tolist()
    rows = frame.loc[chosen, world.CHURN_FEATURES]
    found = explain.per_row(explainer(rows.to_numpy().tolist()), world.CHURN_FEATURES, len(chosen))
    return dict(zip(chosen, found))


def record(sdks: dict[str, Spanwise], history: History, incidents: world.Incidents, rng: np.random.Generator,
           run_id: str, label_share: float = 0.85) -> int:
    """Write the history's spans and queue its feedback; returns predictions recorded.
    Prediction ids are `<run_id>-churn-<i>` / `<run_id>-ltv-<i>`."""
    spiking = incidents.spiking(history.times)
    labelled = (rng.random(len(history.times)) < label_share) & ~history.errors
    delays = rng.uniform(3600, 36 * 3600, len(history.times))
    recorded = 0
    for i, (t, row) in enumerate(zip(history.times.tolist(), history.frame.to_dict("records"))):
        recorded += _request(sdks, history, i, int(t), row, bool(spiking[i]), rng, run_id)
        if i % 4000 == 3999:
            for sdk in sdks.values():
                sdk.pace()
    for sdk in sdks.values():  # predictions first, so their labels find them
        sdk.pace()
    feedback = sdks["checkout-api"]
    for i in np.flatnonzero(labelled).tolist():
        at = float(history.times[i]) / 1e9 + float(delays[i])
        feedback.feedback(f"{run_id}-churn-{i}", str(history.true_churn[i]), at)
        feedback.feedback(f"{run_id}-ltv-{i}", float(history.true_ltv[i]), at)
    return recorded


def _request(sdks: dict[str, Spanwise], h: History, i: int, t: int, row: dict[str, Any], spike: bool,
             rng: np.random.Generator, run_id: str) -> int:
    """One request's spans: frontend > api > feature lookup, churn, ltv, post-processing."""
    feature_ms = 2 + (120 if rng.random() < 0.03 else 0) + rng.random() * 3
    churn_ms = 5 + rng.random() * 10
    ltv_ms = (300 + rng.random() * 200) if spike else 1 + rng.random() * 10
    api_start = t + MS
    frontend = sdks["web-frontend"].tracer.start_span("POST /page", context=Context(), kind=SpanKind.SERVER,
                                                      start_time=t, attributes={"http.route": "/page"})
    api = sdks["checkout-api"].tracer.start_span("POST /score", context=set_span_in_context(frontend),
                                                 kind=SpanKind.SERVER, start_time=api_start, attributes={"http.route": "/score"})
    inside = set_span_in_context(api)
    at = api_start + MS
    lookup = sdks["feature-store"].tracer.start_span("feature_lookup", context=inside, kind=SpanKind.CLIENT, start_time=at,
                                                     attributes={"feature_store.name": "customer_features",
                                                                 "feature_store.entity_id": str(row["customer_id"])})
    at += int(feature_ms * MS)
    lookup.end(end_time=at)
    features = {k: v for k, v in row.items() if k != "customer_id"}
    version = str(h.versions[i])
    churn_sdk, recorded = sdks["churn-classifier"], 0
    if h.errors[i]:
        failed = churn_sdk.tracer.start_span("predict", context=inside, start_time=at)
        failed.set_status(Status(StatusCode.ERROR, OVERLOADED))
        failed.end(end_time=at + int(churn_ms * MS))
        for span in (api, frontend):
            span.set_status(Status(StatusCode.ERROR, "checkout failed"))
        at += int(churn_ms * MS)
    else:
        churn_sdk.record_prediction("churn", version, features={k: features[k] for k in world.CHURN_FEATURES},
                                    label=h.churn[i], confidence=float(h.churn_proba[i]), scores=h.churn_scores[i],
                                    attributions=h.attributions.get(i), prediction_id=f"{run_id}-churn-{i}",
                                    links=[h.lineage[("churn", version)]], start_time=at,
                                    end_time=at + int(churn_ms * MS), context=inside)
        at += int(churn_ms * MS)
        sdks["ltv-regressor"].record_prediction("ltv", version, features={k: features[k] for k in world.LTV_FEATURES},
                                                value=float(h.ltv[i]), prediction_id=f"{run_id}-ltv-{i}",
                                                links=[h.lineage[("ltv", version)]], start_time=at,
                                                end_time=at + int(ltv_ms * MS), context=inside)
        at += int(ltv_ms * MS)
        post = sdks["post-processor"].tracer.start_span("POST /decide", context=inside, kind=SpanKind.SERVER, start_time=at)
        at += 2 * MS
        post.end(end_time=at)
        recorded = 2
    api.end(end_time=at + MS)
    frontend.end(end_time=at + 2 * MS)
    return recorded
