"""ConceptDriftReader and PredictionExporter on every backend (tests/support/concept_data.py):
an injected label flip in one segment is found in that segment, a regression error shift
is found, nothing is flagged on unchanged data, statistics equal scipy's on the same rows,
and export returns every prediction with its label."""

from __future__ import annotations

from typing import Any

import pytest
from concept_data import CURRENT_END, CURRENT_START, REFERENCE_START, export_request, expected, feedback, predictions

from spanwise.analyze.concept_drift import ConceptDriftReport, concept_drift
from spanwise.analyze.export import flatten_export
from spanwise.analyze.feedback import FeedbackRecord, store_feedback
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.store import open_store
from spanwise.store.protocols import FeedbackWriter, ModelReader, TraceStore
from spanwise.store.protocols import ConceptDriftReader, ConceptWindows, PredictionExporter
from spanwise.store import Store
from spanwise.store.protocols import FeedbackWriter
from spanwise.store.protocols import ConceptDriftReader, ConceptWindows, PredictionExporter

PROTOCOLS = (ConceptDriftReader, PredictionExporter, FeedbackWriter)


@pytest.fixture(scope="module")
def rows(store: Store) -> list[dict[str, Any]]:
    made = predictions()
    store.write_spans(MlFieldsProcessor().process(decode_export_requests([export_request(made)]).batch).spans)
    records = [FeedbackRecord(r["label"], int(r["timestamp"] * 10**9), r["prediction_id"]) for r in feedback(made)]
    assert store_feedback(store, records).accepted == len(records)
    return made


def _drift(store: Store, model: str, task: str = "classification") -> ConceptDriftReport:
    windows = ConceptWindows(model, None, CURRENT_START, CURRENT_END, REFERENCE_START, CURRENT_START, task)
    return concept_drift(windows, store.error_shift_counts(windows))


def test_label_flip_in_one_segment_is_found_there(store: Store, rows: list[dict[str, Any]]) -> None:
    found = _drift(store, "fraud")
    assert found.drifted and found.overall.drifted
    want = expected(rows, "fraud")
    o = found.overall
    assert (o.statistic, o.p_value, o.reference_error, o.current_error) == pytest.approx(
        (want["statistic"], want["p_value"], want["reference_error_rate"], want["current_error_rate"]), rel=1e-9)
    segments = {(s.feature, s.value): s.shift for s in found.segments}
    assert set(segments) == {("region", r) for r in ("north", "south", "east")}
    assert [k for k, s in segments.items() if s.drifted] == [("region", "south")]
    south = expected(rows, "fraud", "region", "south")
    assert segments[("region", "south")].p_value == pytest.approx(south["p_value"], rel=1e-9)
    assert segments[("region", "south")].p_value_adjusted == pytest.approx(min(1.0, 6 * south["p_value"]), rel=1e-9)
    assert segments[("region", "south")].current_labelled == 100


def test_unchanged_data_flags_nothing(store: Store, rows: list[dict[str, Any]]) -> None:
    found = _drift(store, "steady")
    assert not found.drifted and len(found.segments) == 3 and found.flagged == []
    assert found.overall.p_value == pytest.approx(expected(rows, "steady")["p_value"], rel=1e-9)


def test_regression_error_shift(store: Store, rows: list[dict[str, Any]]) -> None:
    found = _drift(store, "eta", "regression")
    assert found.drifted and found.overall.drifted
    want = expected(rows, "eta")
    o = found.overall
    assert (o.statistic, o.p_value, o.reference_error, o.current_error) == pytest.approx(
        (want["statistic"], want["p_value"], want["reference_mae"], want["current_mae"]), rel=1e-9)
    paris = next(s.shift for s in found.segments if s.value == "paris")
    assert paris.p_value == pytest.approx(expected(rows, "eta", "city", "paris")["p_value"], rel=1e-9)


def test_min_count_and_empty_windows(store: Store, rows: list[dict[str, Any]]) -> None:
    windows = ConceptWindows("fraud", None, CURRENT_START, CURRENT_END, REFERENCE_START, CURRENT_START,
                             "classification", min_count=101)
    counts = store.error_shift_counts(windows)
    assert [c.feature for c in counts] == [""] and counts[0].n_current == 300
    empty = ConceptWindows("fraud", None, 0, 10, 0, 0, "classification")
    result = concept_drift(empty, store.error_shift_counts(empty))
    assert result.overall.p_value is None and not result.drifted


def test_export_returns_every_prediction_with_its_label(store: Store, rows: list[dict[str, Any]]) -> None:
    table = flatten_export(store.export_predictions("fraud", "v1", REFERENCE_START, CURRENT_END, 10_000))
    mine = [p for p in rows if p["model"] == "fraud"]
    assert table.num_rows == len(mine)
    got = {r["prediction_id"]: r for r in table.to_pylist()}
    for p in mine:
        r = got[p["id"]]
        assert r["label"] == p["actual"] and r["label_source"] == ("span" if p["on_span"] else "feedback")
        assert r["feature.amount"] == p["attributes"]["ml.feature.amount"]
        assert r["feature.region"] == p["attributes"]["ml.feature.region"]
        assert r["score.yes"] == pytest.approx(p["attributes"]["ml.prediction.proba.yes"])
        assert r["attribution.amount"] == pytest.approx(p["attributes"]["ml.explanation.amount"])
        assert r["prediction_label"] == p["attributes"]["ml.prediction.label"] and r["version"] == "v1"
        assert (r["label_timestamp"] is None) == p["on_span"]
        assert r["timestamp"].timestamp() == pytest.approx(p["start_ns"] / 1e9, abs=1e-6)
    assert [p.to_pylist() for p in (table.column("timestamp"),)][0] == sorted(table.column("timestamp").to_pylist())
    limited = store.export_predictions("fraud", None, REFERENCE_START, CURRENT_END, 5)
    assert limited.num_rows == 5
