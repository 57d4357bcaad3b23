"""Parsing of ground-truth feedback bodies (spanwise.analyze.feedback) and quality formulas."""

from __future__ import annotations

import pytest

from spanwise.analyze.feedback import FeedbackRecord, parse_feedback
from spanwise.analyze.quality import Binary, ClassScores, RegressionMetrics, classification_metrics, regression_metrics
from spanwise.errors import MalformedPayload

NOW = 1_800_000_000 * 10**9


def test_json_records_with_ids_spans_numbers_and_timestamps() -> None:
    body = (b'[{"prediction_id": "p1", "label": "cat", "timestamp": 1700000000},'
            b' {"trace_id": "AB", "span_id": "CD", "label": 2.0, "timestamp": "2024-01-02T03:04:05Z"},'
            b' {"prediction_id": "p3", "label": true}]')
    records = parse_feedback(body, "application/json", NOW)
    assert records == [
        FeedbackRecord("cat", 1_700_000_000 * 10**9, "p1"),
        FeedbackRecord("2", 1_704_164_645 * 10**9, "", "ab", "cd"),
        FeedbackRecord("true", NOW, "p3"),
    ]
    assert records[1].key == "ab:cd"


def test_csv_records() -> None:
    body = b"prediction_id,label,timestamp\np1,yes,1700000000\np2,3.5,\n"
    assert parse_feedback(body, "text/csv", NOW) == [
        FeedbackRecord("yes", 1_700_000_000 * 10**9, "p1"), FeedbackRecord("3.5", NOW, "p2")
    ]


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (b"{", "application/json", "malformed JSON"),
        (b'{"prediction_id": "p"}', "application/json", "JSON array"),
        (b'[{"prediction_id": "p", "label": "x"}, {"label": "y"}]', "application/json", "item 1"),
        (b'[{"prediction_id": "p", "label": ""}]', "application/json", "item 0"),
        (b'[{"prediction_id": "p", "label": "x", "timestamp": "soon"}]', "application/json", "item 0: timestamp"),
        (b"id,label\np,x\n", "text/csv", "line 1"),
        (b"prediction_id,label\np,x\nq\n", "text/csv", "line 3"),
        (b"prediction_id,label\np,x,extra\n", "text/csv", "line 2"),
    ],
)
def test_malformed_bodies_name_the_item_or_line(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        parse_feedback(body, content_type, NOW)


def test_classification_from_confusion_counts() -> None:
    confusion = (("a", "a", 3), ("a", "b", 1), ("b", "b", 2), ("c", "a", 1))
    result = classification_metrics(confusion, "a")
    assert result.classes == ("a", "b", "c")
    assert result.confusion_matrix == ((3, 1, 0), (0, 2, 0), (1, 0, 0))
    assert result.accuracy == 5 / 7
    assert result.binary == Binary("a", 3 / 4, 3 / 4, 3 / 4)
    assert result.per_class["c"] == ClassScores(precision=0.0, recall=0.0, f1=0.0, support=1)


def test_regression_without_rows() -> None:
    assert regression_metrics({}) == RegressionMetrics(n=0, mae=None, rmse=None, mape=None, r2=None)
