"""`ScoreReader` on every backend (tests/contract/conftest.py), against the store
Protocols: every prediction's positive-class probability (its own score, else the binary
score, else its confidence or one minus it) lands in 0.01 buckets per window, version and
predicted class; failed calls and predictions without a usable score are left out; the
predicted labels of a model are listed."""

from __future__ import annotations

from typing import Any

import pytest
from metric_spans import HOUR, NOW, export_request, write

from spanwise.store import Store
from spanwise.store.protocols import ScoreBucket, ScoreQuery, ScoreReader

PROTOCOLS = (ScoreReader,)
THIS_HOUR = NOW // HOUR * HOUR
LO, HI = THIS_HOUR - HOUR, THIS_HOUR + HOUR - 1
HOSTILE_MODEL, HOSTILE_LABEL = "s-o'brien\\", "y'es\\{pos:String}"


def _prediction(label: str, version: str = "v1", start: int = NOW, status: int = 0, **ml: Any) -> dict[str, Any]:
    """A prediction span; `ml` holds ml.prediction.* attributes by their last part (`proba_yes`
    for ml.prediction.proba.yes)."""
    attrs = {"ml.model.version": version} | ({"ml.prediction.label": label} if label else {})
    attrs |= {"ml.prediction." + key.replace("proba_", "proba."): value for key, value in ml.items()}
    return {"ms": 5, "start": start, "status": status, "attrs": attrs}


def _write(store: Store, model: str, predictions: list[dict[str, Any]]) -> None:
    for p in predictions:
        p["attrs"]["ml.model.name"] = model
    write(store, export_request("s-service", predictions))


@pytest.fixture(scope="module", autouse=True)
def predictions(store: Store) -> None:
    _write(store, "s-fraud", [
        _prediction("yes", confidence=0.8),
        _prediction("yes", confidence=0.801),  # the same bucket
        _prediction("no", confidence=0.7),  # binary: 0.3 for "yes"
        _prediction("yes", confidence=0.9, proba_yes=0.62),  # its own probability wins
        _prediction("no", score=0.25),  # the binary score
        _prediction("yes"),  # no score: left out
        _prediction("", confidence=0.5),  # no predicted class: left out
        _prediction("yes", confidence=0.8, status=2),  # a failed call: left out
        _prediction("yes", version="v2", confidence=0.55),
        _prediction("yes", start=THIS_HOUR - HOUR // 2, confidence=0.9),  # the previous hour
        _prediction("maybe", start=THIS_HOUR - 3 * HOUR, confidence=0.9),  # before the range
    ])
    _write(store, "s-other", [_prediction("other", confidence=0.5)])
    _write(store, HOSTILE_MODEL, [_prediction(HOSTILE_LABEL, confidence=0.6), _prediction("no", confidence=0.9)])


def _buckets(store: Store, model: str = "s-fraud", version: str | None = None, positive: str = "yes",
             binary: bool = True, step_s: int = 3600) -> list[ScoreBucket]:
    return store.score_buckets(ScoreQuery(model, version, LO, HI, step_s, positive, binary))


def test_positive_class_probability_per_window_version_and_bucket(store: Store) -> None:
    found = _buckets(store)
    assert [(b.start_ns, b.version, b.predicted_positive, b.bucket, b.count) for b in found] == [
        (THIS_HOUR - HOUR, "v1", True, 0.9, 1),
        (THIS_HOUR, "v1", False, 0.25, 1),
        (THIS_HOUR, "v1", False, 0.3, 1),
        (THIS_HOUR, "v1", True, 0.62, 1),
        (THIS_HOUR, "v1", True, 0.8, 2),
        (THIS_HOUR, "v2", True, 0.55, 1),
    ]
    assert [b.mass for b in found] == pytest.approx([0.9, 0.25, 0.3, 0.62, 1.601, 0.55])


def test_version_filter_and_one_window_for_the_whole_range(store: Store) -> None:
    assert [(b.version, b.bucket) for b in _buckets(store, version="v2")] == [("v2", 0.55)]
    whole = _buckets(store, step_s=0)
    assert len({b.start_ns for b in whole}) == 1
    assert sum(b.count for b in whole) == 7 and sum(b.mass for b in whole) == pytest.approx(4.221)


def test_more_than_two_classes_count_only_the_positive_class_s_own_score(store: Store) -> None:
    found = _buckets(store, binary=False)
    assert 0.3 not in [b.bucket for b in found], "one minus another class's confidence is not a probability"
    assert (True, 0.62) in [(b.predicted_positive, b.bucket) for b in found]


def test_values_that_need_escaping(store: Store) -> None:
    found = _buckets(store, HOSTILE_MODEL, positive=HOSTILE_LABEL)
    assert [(b.predicted_positive, b.bucket) for b in found] == [(False, 0.1), (True, 0.6)]
    assert _buckets(store, "s-o'brien") == []


def test_predicted_labels_of_a_model_in_the_range(store: Store) -> None:
    assert store.predicted_labels("s-fraud", LO, HI, 10) == ["no", "yes"]
    assert store.predicted_labels("s-fraud", THIS_HOUR - 4 * HOUR, HI, 10) == ["maybe", "no", "yes"]
    assert store.predicted_labels("s-fraud", THIS_HOUR - HOUR, THIS_HOUR - 1, 10) == ["yes"]
    assert len(store.predicted_labels("s-fraud", LO, HI, 1)) == 1
    assert store.predicted_labels(HOSTILE_MODEL, LO, HI, 10) == ["no", HOSTILE_LABEL]
    assert store.predicted_labels("no-such-model", LO, HI, 10) == []
