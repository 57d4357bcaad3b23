"""The concept-drift renderer: the error's keys are named for the task, segments carry
their feature and value first, and the keys and their order are the API's."""

from __future__ import annotations

import json

from spanwise.analyze.concept_drift import concept_drift
from spanwise.serve.labelled_json import concept_drift_json
from spanwise.store.protocols import ConceptWindows, ErrorShiftCounts

TOP = ["name", "version", "min_count", "current", "reference", "task", "alpha", "test", "concept_drift", "overall",
       "segments_tested", "segments_flagged", "segments"]
TESTED = ["statistic", "p_value", "p_value_adjusted", "drift"]


def _windows(task: str) -> ConceptWindows:
    return ConceptWindows("m", "v1", 100, 200, 0, 100, task, min_count=5)


def test_classification_report_names_error_rates() -> None:
    counts = [ErrorShiftCounts("", "", 200, 200, errors_reference=10, errors_current=60),
              ErrorShiftCounts("region", "south", 100, 100, errors_reference=5, errors_current=55)]
    found = concept_drift_json(concept_drift(_windows("classification"), counts))
    assert list(found) == TOP
    assert (found["current"], found["reference"]) == ({"start": 100, "end": 200}, {"start": 0, "end": 100})
    assert (found["test"], found["concept_drift"], found["segments_tested"], found["segments_flagged"]) == ("chi2", True, 1, 1)
    assert list(found["overall"]) == ["reference_labelled", "current_labelled", "reference_error_rate",
                                      "current_error_rate", *TESTED]
    assert (found["overall"]["reference_error_rate"], found["overall"]["current_error_rate"]) == (0.05, 0.3)
    assert list(found["segments"][0])[:2] == ["feature", "value"]
    assert found["segments"][0]["p_value_adjusted"] == min(1.0, 2 * found["segments"][0]["p_value"])
    json.dumps(found, allow_nan=False)  # plain JSON: lists and dicts, no dataclasses


def test_regression_report_names_mean_absolute_errors() -> None:
    counts = [ErrorShiftCounts("", "", 0, 4, error_sum_current=8.0)]
    found = concept_drift_json(concept_drift(_windows("regression"), counts))
    assert found["test"] == "mann_whitney_u" and found["segments"] == [] and not found["concept_drift"]
    assert found["overall"] == {"reference_labelled": 0, "current_labelled": 4, "reference_mae": None, "current_mae": 2.0,
                                "statistic": None, "p_value": None, "p_value_adjusted": None, "drift": False}
