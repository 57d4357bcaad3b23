"""Baselines and drift on every backend (tests/contract/conftest.py), with statistics
checked against scipy on the same rows (tests/support/drift_data.py)."""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pytest
from drift_data import CUR_END, CUR_START, MODEL, REF_START, VERSION, Row, request, rows, window
from scipy import stats
from scipy.spatial import distance

from spanwise.analyze.drift import DriftService, profile_of_table
from spanwise.analyze.drift_report import DriftReport, FeatureDrift
from spanwise.analyze.drift_stats import PSI_EPSILON
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.store import open_store
from spanwise.store.protocols import BaselineStore, DriftReader, TraceStore
from spanwise.store import Store
from spanwise.store.protocols import BaselineStore, DriftReader
from spanwise.store.profiles import LABEL, PREDICTION, Baseline, CategoricalProfile, NumericProfile, bin_counts

PROTOCOLS = (DriftReader, BaselineStore)


@pytest.fixture(scope="module")
def made(store: Store) -> list[Row]:
    data = rows()
    store.write_spans(MlFieldsProcessor().process(decode_export_requests([request(data)]).batch).spans)
    return data


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    r, c = ref / ref.sum(), cur / cur.sum()
    r, c = np.where(r == 0, PSI_EPSILON, r), np.where(c == 0, PSI_EPSILON, c)
    return float(np.sum((c - r) * np.log(c / r)))


def _check_numeric(found: FeatureDrift, ref: np.ndarray, cur: np.ndarray) -> None:
    """Every numeric statistic equals scipy's (or the formula's) on the same rows."""
    assert isinstance(found.reference, NumericProfile) and isinstance(found.current, NumericProfile)
    edges = found.reference.edges
    ref_counts, cur_counts = np.array(bin_counts(ref, edges)), np.array(bin_counts(cur, edges))
    assert list(found.reference.counts) == ref_counts.tolist() and list(found.current.counts) == cur_counts.tolist()
    methods = found.methods
    ks = stats.ks_2samp(ref, cur)
    assert methods["ks"].statistic == pytest.approx(ks.statistic, rel=1e-9)
    assert methods["ks"].value == pytest.approx(ks.pvalue, rel=1e-9)
    assert methods["wasserstein"].value == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)
    assert methods["jensenshannon"].value == pytest.approx(
        distance.jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()), rel=1e-9)
    assert methods["psi"].value == pytest.approx(_psi(ref_counts, cur_counts), rel=1e-9)


def _check_categorical(found: FeatureDrift, ref: list[str], cur: list[str]) -> None:
    keys = sorted(set(ref) | set(cur))
    table = np.array([[ref.count(k) for k in keys], [cur.count(k) for k in keys]])
    chi = stats.chi2_contingency(table)
    assert found.methods["chi2"].value == pytest.approx(chi.pvalue, rel=1e-9, abs=1e-300)
    assert found.methods["chi2"].statistic == pytest.approx(chi.statistic, rel=1e-9)
    assert found.methods["psi"].value == pytest.approx(_psi(table[0].astype(float), table[1].astype(float)), rel=1e-9)
    assert found.methods["jensenshannon"].value == pytest.approx(
        distance.jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum()), rel=1e-9)


def _by_feature(report: DriftReport) -> dict[str, FeatureDrift]:
    return {f.feature: f for f in report.features + report.predictions + ((report.label,) if report.label else ())}


def test_preceding_window_flags_the_shifted_feature_only(store: Store, made: list[Row]) -> None:
    report = DriftService(store).drift(MODEL, VERSION, CUR_START, CUR_END)
    assert report.reference.kind == "preceding" and report.reference.start_ns == REF_START
    assert report.reference.rows == report.current_rows == len(made) // 2
    features = _by_feature(report)
    assert sorted(report.drifted_features) == ["amount", "country"]
    # The default rule: KS / pooled chi-squared, adjusted across features, and an effect floor.
    amount, country = features["amount"], features["country"]
    assert amount.decision and amount.decision.method == "auto" and country.decision and country.decision.method == "auto"
    assert amount.auto and amount.auto.test == "ks" and amount.auto.p_value == amount.methods["ks"].value
    assert amount.value == amount.methods["wasserstein"].value and (amount.decision.q_value or 1) < 0.01
    assert country.auto and country.auto.test == "chi2_pooled" and "alpha" in country.decision.reason
    assert report.drifted and report.rule.alpha == 0.01
    assert country.new_categories == ("br",)
    assert not features["age"].drifted and not features["channel"].drifted
    # (Wasserstein / std alone, Evidently's rule for large references, is noisy on 400 values: 0.12 here.)
    assert not any(features["age"].methods[m].drifted for m in ("ks", "psi", "jensenshannon"))
    ref, cur = window(made, "ref"), window(made, "cur")
    for name in ("amount", "age"):
        _check_numeric(features[name], np.array([getattr(r, name) for r in ref]), np.array([getattr(r, name) for r in cur]))
    for name in ("country", "channel"):
        _check_categorical(features[name], [getattr(r, name) for r in ref], [getattr(r, name) for r in cur])
    assert features[PREDICTION].drifted
    _check_numeric(features[PREDICTION], np.array([r.prediction for r in ref]), np.array([r.prediction for r in cur]))
    assert features[LABEL].drifted
    _check_categorical(features[LABEL], [r.label for r in ref if r.label], [r.label for r in cur if r.label])


def test_window_baseline_is_profiled_once_and_reused(store: Store, made: list[Row]) -> None:
    service = DriftService(store)
    set_ = service.set_window_baseline(MODEL, VERSION, "launch", "window", REF_START, CUR_START)
    assert set_.profile and set_.profile.rows == len(made) // 2
    assert [b.name for b in service.baselines(MODEL)] == ["launch"]
    report = service.drift(MODEL, VERSION, CUR_START, CUR_END, baseline="launch")
    assert report.reference.kind == "window" and sorted(report.drifted_features) == ["amount", "country"]
    assert (report.reference.start_ns, report.reference.end_ns) == (REF_START, CUR_START)
    # The newest baseline of the version is the default reference.
    default = service.drift(MODEL, VERSION, CUR_START, CUR_END).reference.baseline
    assert default and default.name == "launch"


def test_rolling_baseline(store: Store, made: list[Row]) -> None:
    service = DriftService(store)
    service.set_window_baseline(MODEL, "", "last-2h", "rolling", rolling_s=7200)
    report = service.drift(MODEL, VERSION, CUR_START, CUR_END, baseline="last-2h")
    assert report.reference.kind == "rolling" and report.reference.rows == len(made) // 2
    assert report.reference.start_ns == CUR_START - 7200 * 10**9
    assert sorted(report.drifted_features) == ["amount", "country"]


def test_uploaded_training_profile(store: Store, made: list[Row]) -> None:
    ref, cur = window(made, "ref"), window(made, "cur")
    table = pa.table({
        "amount": [r.amount for r in ref], "ml.feature.age": [r.age for r in ref], "country": [r.country for r in ref],
        "channel": [r.channel for r in ref], "prediction": [r.prediction for r in ref],
    })
    profile = profile_of_table(table)
    assert profile.numeric["amount"].count == len(ref) and len(profile.numeric["amount"].counts) == 10
    service = DriftService(store)
    store.save_baseline(Baseline(
        MODEL, VERSION, "training", "profile", profile=profile, created_ns=1))
    report = service.drift(MODEL, VERSION, CUR_START, CUR_END, baseline="training")
    features = _by_feature(report)
    assert sorted(report.drifted_features) == ["amount", "country"]
    _check_numeric(features["amount"], np.array([r.amount for r in ref]), np.array([r.amount for r in cur]))
    _check_numeric(features["age"], np.array([r.age for r in ref]), np.array([r.age for r in cur]))
    _check_categorical(features["country"], [r.country for r in ref], [r.country for r in cur])
    assert features[PREDICTION].drifted


def test_unknown_baseline_and_empty_model(store: Store, made: list[Row]) -> None:
    from spanwise.errors import NotFound

    with pytest.raises(NotFound):
        DriftService(store).drift(MODEL, VERSION, CUR_START, CUR_END, baseline="nope")
    with pytest.raises(NotFound):
        DriftService(store).drift("no-such-model", None, CUR_START, CUR_END)


def test_label_drift_uses_feedback_over_span_labels(store: Store, made: list[Row]) -> None:
    from spanwise.analyze.feedback import FeedbackRecord, store_feedback

    cur = window(made, "cur")
    # cur-0 carried ml.label on its span: feedback overrides it; cur-1 and cur-2 had no label.
    records = [FeedbackRecord("disputed", CUR_START, r.prediction_id) for r in cur[:3]]
    assert store_feedback(store, records).accepted == 3
    report = DriftService(store).drift(MODEL, VERSION, CUR_START, CUR_END, baseline="launch")
    expected: dict[str, int] = {"disputed": 3}
    for r in cur[3:]:
        if r.label:
            expected[r.label] = expected.get(r.label, 0) + 1
    assert report.label and isinstance(report.label.current, CategoricalProfile)
    assert dict(report.label.current.counts) == expected
    assert report.label.new_categories == ("disputed",)
