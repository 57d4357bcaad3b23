"""The demo's scikit-learn models, trained at start-up under SDK training runs (each run
uploads its training profile as the version's drift baseline), inside one recorded
training pipeline run whose steps predictions link to (their lineage), with an
attribution explainer for churn v1 (SHAP when installed, else a simple occlusion one)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from spanwise.demo import world
from spanwise.sdk import Spanwise
from spanwise.sdk.pipelines import LineageRef

log = logging.getLogger(__name__)
#: The explained model and the background rows its explainer compares against.
EXPLAINED = ("churn", "v1")
BACKGROUND_ROWS = 50


@dataclass
class Models:
    """Fitted pipelines by (model, version); `churn_v2_broken` is v2 after the bad deploy."""

    churn: dict[str, Any]
    ltv: dict[str, Any]
    churn_v2_broken: Any
    #: The training pipeline's fit step of each (model, version): predictions link to it.
    lineage: dict[tuple[str, str], LineageRef] = field(default_factory=dict)
    #: Attribution explainers by (model, version): churn v1 only.
    explainers: dict[tuple[str, str], Callable[[list[list[Any]]], Any]] = field(default_factory=dict)

    def churn_model(self, version: str, regressed: bool) -> Any:
        return self.churn_v2_broken if version == "v2" and regressed else self.churn[version]


def _encoder(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    return ColumnTransformer([("num", StandardScaler(), numeric),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])


def _drop_tenure(frame: pd.DataFrame) -> pd.DataFrame:
    """The v2 deploy bug: a renamed column makes tenure read as 0."""
    return frame.assign(tenure_months=0.0)


def train(sdk: Spanwise, rng: np.random.Generator, rows: int = 4000) -> Models:
    """Fit two versions of each model on generated data; upload their baselines."""
    data = world.customers(rng, rng.integers(0, 1_000_000, rows), np.zeros(rows, dtype=bool))
    churn_y, ltv_y = world.churn_labels(rng, data), world.lifetime_value(rng, data)
    churn_x, ltv_x = data[world.CHURN_FEATURES], data[world.LTV_FEATURES]
    churn_enc = ["tenure_months", "monthly_spend", "support_tickets"], ["plan"]
    ltv_enc = ["monthly_spend", "tenure_months", "visits_30d"], ["region"]
    churn = {
        "v1": make_pipeline(_encoder(*churn_enc), LogisticRegression(max_iter=500)),
        "v2": make_pipeline(_encoder(*churn_enc), RandomForestClassifier(n_estimators=40, max_depth=8, random_state=1)),
    }
    ltv = {
        "v1": make_pipeline(_encoder(*ltv_enc), Ridge()),
        "v2": make_pipeline(_encoder(*ltv_enc), RandomForestRegressor(n_estimators=30, max_depth=10, random_state=1)),
    }
    with sdk.pipeline_run("train-models", **{"pipeline.trigger": "demo start-up"}) as pipeline:
        with sdk.pipeline_step("load_customers") as load:
            load.record(data)
        lineage = {}
        for name, versions, X, y in (("churn", churn, churn_x, churn_y), ("ltv", ltv, ltv_x, ltv_y)):
            for version, model in versions.items():
                with sdk.pipeline_step(f"fit {name} {version}", **{"ml.model.name": name, "ml.model.version": version}) as step:
                    _fit(sdk, name, version, model, X, y, rows)
                    lineage[(name, version)] = step.ref
        pipeline.span.set_attribute("pipeline.models", len(lineage))
    broken = Pipeline([("bug", FunctionTransformer(_drop_tenure).fit(churn_x)), ("model", churn["v2"])])
    explainer = {EXPLAINED: explainer_for(churn["v1"], churn_x)}
    return Models(churn, ltv, broken, lineage, explainer)


def _fit(sdk: Spanwise, name: str, version: str, model: Any, X: pd.DataFrame, y: Any, rows: int) -> None:
    with sdk.training_run(name, version, params={"estimator": type(model[-1]).__name__, "rows": rows}) as run:
        with run.step("fit"):
            model.fit(X, y)
        with run.step("evaluate"):
            run.log_metric("train_score", float(model.score(X, y)))
        run.set_training_data(X, predictions=model.predict(X), labels=y)


def explainer_for(model: Any, X: pd.DataFrame) -> Callable[[list[list[Any]]], Any]:
    """SHAP (`sdk.shap_explainer`) when `shap` is installed, else `occlusion`."""
    from spanwise.sdk import shap_explainer

    background = X.sample(BACKGROUND_ROWS, random_state=0)
    try:
        return shap_explainer(model, background, max_background=BACKGROUND_ROWS)
    except ImportError:
        log.info("shap is not installed: churn v1 is explained by occlusion")
        return occlusion(model, background)


def occlusion(model: Any, background: pd.DataFrame) -> Callable[[list[list[Any]]], Any]:
    """A simple explainer: each feature's attribution is the change of the positive class's
    probability when that feature is replaced by the background's typical value (median,
    or most frequent category)."""
    typical = {c: background[c].median() if background[c].dtype.kind in "if" else background[c].mode()[0]
               for c in background.columns}

    def explain(rows: list[list[Any]]) -> Any:
        frame = pd.DataFrame(rows, columns=list(background.columns))
        base = model.predict_proba(frame)[:, -1]
        return np.column_stack([base - model.predict_proba(frame.assign(**{c: typical[c]}))[:, -1]
                                for c in background.columns])

    return explain
