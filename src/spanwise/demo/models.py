"""The demo's scikit-learn models, trained at start-up under SDK training runs (each run
uploads its training profile as the version's drift baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from spanwise.demo import world
from spanwise.sdk import Spanwise


@dataclass
class Models:
    """Fitted pipelines by (model, version); `churn_v2_broken` is v2 after the bad deploy."""

    churn: dict[str, Any]
    ltv: dict[str, Any]
    churn_v2_broken: Any

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
    for name, versions, X, y in (("churn", churn, churn_x, churn_y), ("ltv", ltv, ltv_x, ltv_y)):
        for version, model in versions.items():
            with sdk.training_run(name, version, params={"estimator": type(model[-1]).__name__, "rows": rows}) as run:
                with run.step("fit"):
                    model.fit(X, y)
                with run.step("evaluate"):
                    run.log_metric("train_score", float(model.score(X, y)))
                run.set_training_data(X, predictions=model.predict(X), labels=y)
    broken = Pipeline([("bug", FunctionTransformer(_drop_tenure).fit(churn_x)), ("model", churn["v2"])])
    return Models(churn, ltv, broken)
