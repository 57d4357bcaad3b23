"""The demo's services, wired over HTTP: web-frontend -> checkout-api -> feature-store,
churn-classifier, ltv-regressor, post-processor. Each has its own SDK instance (tracer
provider and resource); the models are SDK-wrapped scikit-learn pipelines."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import numpy as np
import pandas as pd
from opentelemetry import trace

from spanwise.demo import world
from spanwise.demo.http_service import HttpService, ServiceError, call
from spanwise.demo.models import Models
from spanwise.sdk import Spanwise

SERVICES = ("web-frontend", "checkout-api", "feature-store", "churn-classifier", "ltv-regressor", "post-processor")
ERROR_RATE, SLOW_RATE, STALE_RATE = 0.015, 0.03, 0.03
#: Share of live churn v1 predictions explained (SHAP runs inside the request).
EXPLAIN_RATE = 0.2
#: What a failed churn call says, in its log record and its span's status.
OVERLOADED = "model server overloaded: request rejected"


class DemoSystem:
    """Start with `start()`; `url` is the frontend's; `shutdown()` stops and flushes all."""

    def __init__(self, endpoint: str, api_url: str, models: Models, incidents: world.Incidents, seed: int) -> None:
        # Each service logs through Python logging into its own logger, exported as OTLP logs
        # correlated with the span that is current (shown under the trace's waterfall).
        self.sdks = {name: Spanwise(name, endpoint, protocol="http/protobuf", api_url=api_url, resource_attributes={
            "service.namespace": "spanwise-demo", "deployment.environment": "demo"},
            log_handler=_logger(name), log_level=logging.INFO) for name in SERVICES}
        self.incidents, self._rng, self._lock = incidents, np.random.default_rng(seed), threading.Lock()
        classifier, regressor = self.sdks["churn-classifier"], self.sdks["ltv-regressor"]
        self.lineage = models.lineage
        self.churn = {v: classifier.wrap(m, "churn", v, explainer=models.explainers.get(("churn", v)),
                                         explain_sample_rate=EXPLAIN_RATE) for v, m in models.churn.items()}
        self.churn_broken = classifier.wrap(models.churn_v2_broken, "churn", "v2")
        self.ltv = {v: regressor.wrap(_Throttled(m, self._ltv_delay), "ltv", v) for v, m in models.ltv.items()}
        self.services = {
            "feature-store": HttpService("feature-store", self.sdks["feature-store"], {"/features": self._features}),
            "churn-classifier": HttpService("churn-classifier", classifier, {"/predict": self._churn}),
            "ltv-regressor": HttpService("ltv-regressor", regressor, {"/predict": self._ltv}),
            "post-processor": HttpService("post-processor", self.sdks["post-processor"], {"/decide": self._decide}),
            "checkout-api": HttpService("checkout-api", self.sdks["checkout-api"], {"/score": self._score}),
            "web-frontend": HttpService("web-frontend", self.sdks["web-frontend"], {"/page": self._page}),
        }

    @property
    def url(self) -> str:
        return self.services["web-frontend"].url

    def start(self) -> None:
        for service in self.services.values():
            service.start()

    def shutdown(self, timeout_s: float = 15.0) -> None:
        for service in self.services.values():
            service.shutdown()
        for sdk in self.sdks.values():
            sdk.shutdown(timeout_s)

    def _random(self) -> float:
        with self._lock:
            return float(self._rng.random())

    # -- handlers --

    def _features(self, body: dict[str, Any]) -> dict[str, Any]:
        customer = int(body["customer_id"])
        now = time.time_ns()
        with self._lock:
            frame = world.customers(self._rng, np.array([customer]), self.incidents.drifted(np.array([now])))
            age = float(self._rng.exponential(600.0))
        if self._random() < STALE_RATE:
            age = 2 * 86_400 + age  # a failed refresh job: two days old
            _logger("feature-store").warning("features of customer %d are %.1f h old: the refresh job failed",
                                             customer, age / 3600, extra={"customer.id": customer})
        if self._random() < SLOW_RATE:
            _logger("feature-store").info("cache miss for customer %d: reading the offline store", customer)
            time.sleep(0.12)
        values = {k: _plain(v) for k, v in frame.iloc[0].items() if k != "customer_id"}
        with self.sdks["feature-store"].feature_lookup("customer_features", customer, max_age_s=86_400) as lookup:
            lookup.record(values, updated_at=now / 1e9 - age)
        return {"features": values}

    def _churn(self, body: dict[str, Any]) -> dict[str, Any]:
        version = world.version_of(int(body["customer_id"]))
        if self._random() < ERROR_RATE:
            _logger("churn-classifier").error("%s (churn %s)", OVERLOADED, version)
            # the server span names the model version it failed to call: a failed prediction of it
            trace.get_current_span().set_attributes({"ml.model.name": "churn", "ml.model.version": version})
            raise ServiceError(OVERLOADED)
        model = self.churn_broken if version == "v2" and self.incidents.regressed(time.time_ns()) else self.churn[version]
        time.sleep(0.004 + 0.01 * self._random())
        label, ids = model.predict_with_ids(pd.DataFrame([body["features"]])[world.CHURN_FEATURES],
                                            links=[self.lineage[("churn", version)]])
        return {"label": str(label[0]), "version": version, "prediction_id": ids[0]}

    def _ltv(self, body: dict[str, Any]) -> dict[str, Any]:
        version = world.version_of(int(body["customer_id"]))
        value, ids = self.ltv[version].predict_with_ids(pd.DataFrame([body["features"]])[world.LTV_FEATURES],
                                                        links=[self.lineage[("ltv", version)]])
        return {"value": float(value[0]), "version": version, "prediction_id": ids[0]}

    def _ltv_delay(self) -> float:
        """The model's compute time: 300-500 ms during a latency spike."""
        spiking = self.incidents.spiking(np.array([time.time_ns()]))[0]
        return 0.3 + 0.2 * self._random() if spiking else 0.01 * self._random()

    def _decide(self, body: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.002)
        offer = "retention_offer" if body["churn"] == "churn" and body["ltv"] > 900 else "none"
        return {"offer": offer}

    def _score(self, body: dict[str, Any]) -> dict[str, Any]:
        sdk, urls = self.sdks["checkout-api"], {n: s.url for n, s in self.services.items()}
        features = call(sdk, urls["feature-store"], "/features", body)["features"]
        request = {"customer_id": body["customer_id"], "features": features}
        churn = call(sdk, urls["churn-classifier"], "/predict", request)
        ltv = call(sdk, urls["ltv-regressor"], "/predict", request)
        decision = call(sdk, urls["post-processor"], "/decide", {"churn": churn["label"], "ltv": ltv["value"]})
        return {"features": features, "churn": churn, "ltv": ltv, **decision}

    def _page(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return call(self.sdks["web-frontend"], self.services["checkout-api"].url, "/score", body)
        except ServiceError as exc:
            _logger("web-frontend").error("checkout failed for customer %s: %s", body.get("customer_id"), exc)
            raise ServiceError(f"checkout failed: {exc}") from None


class _Throttled:
    """An estimator whose predict takes `delay()` seconds more (the spike incident: a
    starved model server), so the slowness is inside the prediction span."""

    def __init__(self, estimator: Any, delay: Callable[[], float]) -> None:
        self.estimator, self.delay = estimator, delay

    def predict(self, X: Any) -> Any:
        time.sleep(self.delay())
        return self.estimator.predict(X)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.estimator, name)


def _logger(service: str) -> logging.Logger:
    """The service's logger: exported as OTLP logs, kept out of the demo's console output."""
    logger = logging.getLogger(f"spanwise.demo.{service}")
    logger.propagate = False
    return logger


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
