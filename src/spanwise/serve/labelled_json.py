"""JSON of concept drift reports, exactly as the concept-drift route answers (the window
as `current`/`reference` start and end, the error named for the task: `*_error_rate` for
classification, `*_mae` for regression), kept apart from the values so analysis code and
alert rules read typed attributes and only this edge knows the wire."""

from __future__ import annotations

from typing import Any

from spanwise.analyze.concept_drift import ConceptDriftReport, ErrorShift
from spanwise.core.ml_tasks import REGRESSION

Json = dict[str, Any]


def concept_drift_json(r: ConceptDriftReport) -> Json:
    w = r.windows
    return {
        "name": w.model, "version": w.version, "min_count": w.min_count,
        "current": {"start": w.start_ns, "end": w.end_ns},
        "reference": {"start": w.reference_start_ns, "end": w.reference_end_ns},
        "task": r.task, "alpha": r.alpha, "test": r.test, "concept_drift": r.drifted,
        "overall": error_shift_json(r.overall, r.task), "segments_tested": len(r.segments),
        "segments_flagged": len(r.flagged),
        "segments": [{"feature": s.feature, "value": s.value, **error_shift_json(s.shift, r.task)} for s in r.segments],
    }


def error_shift_json(s: ErrorShift, task: str) -> Json:
    error = "mae" if task == REGRESSION else "error_rate"
    return {
        "reference_labelled": s.reference_labelled, "current_labelled": s.current_labelled,
        f"reference_{error}": s.reference_error, f"current_{error}": s.current_error,
        "statistic": s.statistic, "p_value": s.p_value, "p_value_adjusted": s.p_value_adjusted, "drift": s.drifted,
    }
