"""Alert rules and receivers as typed values: the `alerts` section of the configuration and
the body of `POST /api/v1/alerts/rules` (both are built by `spanwise.config.load_config`, so
every error names its field, e.g. `alerts.rules[0].condition.op`). Evaluation lives in
`spanwise.alerts`; this module only says what a valid rule is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spanwise.core.metrics import COUNTER, HISTOGRAM, CustomMetric, label_name
from spanwise.core.otlp_metrics import AGGREGATIONS, MONOTONIC_ONLY, aggregations_text, kinds_of
from spanwise.core.otlp_metrics import HISTOGRAM as OTLP_HISTOGRAM

#: What a rule can watch, and the metrics of each kind (empty: any name the sender uses).
QUERY_METRICS: dict[str, tuple[str, ...]] = {
    # per service (or per operation when `service` is set or `by: operation`), from stored spans
    "span_metric": ("rate", "count", "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms"),
    # per model and version, from the predictions table
    "model_metric": ("predictions", "rate", "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms"),
    # the latest stored model signal in the window (spanwise.analyze.model_signals); `metric` is the signal name
    "model_signal": ("drift", "missing_rate", "accuracy", "mae", "label_coverage", "estimated_accuracy",
                     "estimated_f1", "estimated_roc_auc", "estimate_trustworthy"),
    # log records matching `search` (body text), `severity` and `service`, per service
    "logs": ("count", "rate"),
    # OTLP metrics from SDKs (users' own "custom" metrics too); `metric` is the metric's name
    "otlp_metric": (),
    # a custom metric derived from spans (metrics.counters, metrics.histograms); `metric` is its name
    "custom_metric": (),
}
#: Labels every span metric can be grouped by; configured `metrics.dimensions` come on top.
SPAN_GROUP_LABELS = ("service", "operation", "span_kind")
MAX_GROUP_BY = 4
MAX_ATTRIBUTE_FILTERS = 10
CONDITIONS = ("threshold", "absence", "rate_of_change", "anomaly")
OPERATORS = (">", "<", "outside")
RECEIVER_TYPES = ("alertmanager", "webhook", "slack", "email")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: An OTel instrument name, plus `:` (names from Prometheus sources).
_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,254}$")
#: How a window of a custom metric becomes one value, by its kind, in the OTLP rules' words:
#: a counter is a monotonic sum (its `increase`, or `rate` per second), a histogram gives
#: its `quantile` or `mean` from the buckets, or `count_rate` (observations per second).
CUSTOM_AGGREGATIONS: dict[str, tuple[str, ...]] = {
    COUNTER: MONOTONIC_ONLY,
    HISTOGRAM: AGGREGATIONS[OTLP_HISTOGRAM],
}
_CUSTOM_AGGREGATIONS = ", ".join(f"{', '.join(names)} ({kind})" for kind, names in CUSTOM_AGGREGATIONS.items())


@dataclass(frozen=True)
class AlertQuery:
    """What a rule watches over the last `window_s` seconds. Empty filters mean every
    service/model/feature, and then each one is its own alert (label set).

    `group_by` names the labels of each alert instead: for span_metric any of
    `SPAN_GROUP_LABELS` and the configured span-metric dimensions (checked against the
    configuration by `span_group_problem`), for otlp_metric point (or resource) attribute
    keys, for custom_metric the metric's labels (checked by `custom_metric_problem`). An
    otlp_metric rule reads the metric named `metric`, only points whose attributes equal
    `attributes`, and turns the window into one value per group with `aggregation`
    (`quantile` for aggregation quantile); a custom_metric rule does the same with the
    configured custom metric named `metric`, its series and their labels."""

    kind: str
    metric: str = ""
    service: str = ""
    operation: str = ""
    by: str = ""  # span_metric: "service" (default) or "operation"
    model: str = ""
    version: str = ""
    feature: str = ""  # model_signal: one feature; empty: every feature, one alert each
    search: str = ""  # logs: text in the body
    severity: str = ""  # logs: minimum severity (WARN, ERROR, 1-24)
    aggregation: str = ""  # otlp_metric, custom_metric: how a window becomes a value (AGGREGATIONS)
    quantile: float = 0.95  # otlp_metric, custom_metric: aggregation quantile
    attributes: dict[str, str] = field(default_factory=dict)  # otlp_metric, custom_metric: only these values
    group_by: list[str] = field(default_factory=list)
    window_s: float = 300.0

    def __post_init__(self) -> None:
        if self.kind not in QUERY_METRICS:
            raise ValueError(f"kind: must be one of {', '.join(QUERY_METRICS)}, got {self.kind!r}")
        if self.kind == "otlp_metric":
            self._check_otlp()
        elif self.kind == "custom_metric":
            self._check_custom()
        elif self.metric not in QUERY_METRICS[self.kind]:
            raise ValueError(f"metric: {self.kind} watches {', '.join(QUERY_METRICS[self.kind])}, got {self.metric!r}")
        elif self.aggregation or self.attributes:
            raise ValueError("aggregation, attributes: only otlp_metric and custom_metric rules have them")
        self._check_group_by()
        if self.by not in ("", "service", "operation"):
            raise ValueError(f"by: service or operation, got {self.by!r}")
        if (self.by == "operation" or self.operation) and not self.service:
            raise ValueError("service: watching operations needs the service they belong to")
        if self.kind == "model_signal" and not self.model:
            raise ValueError("model: a model_signal rule names its model")
        if not 1 <= self.window_s <= 7 * 86_400:
            raise ValueError("window_s: between 1 and 604800 seconds")

    def _check_otlp(self) -> None:
        if not _METRIC_NAME.match(self.metric):
            raise ValueError("metric: the OTLP metric's name (a letter or _, then letters, digits or _ . : / -, "
                             f"at most 255), got {self.metric!r}")
        if not kinds_of(self.aggregation):
            raise ValueError(f"aggregation: one of {aggregations_text()}, got {self.aggregation!r}")
        self._check_quantile_and_filters()

    def _check_custom(self) -> None:
        """What can be said without the configuration; `custom_metric_problem` checks the
        metric, its kind and its labels against it."""
        if not self.metric:
            raise ValueError("metric: the name of a custom metric (metrics.counters or metrics.histograms)")
        if not any(self.aggregation in names for names in CUSTOM_AGGREGATIONS.values()):
            raise ValueError(f"aggregation: one of {_CUSTOM_AGGREGATIONS}, got {self.aggregation!r}")
        if self.service:
            raise ValueError("service: custom metrics have no service; give the metric a service.name label "
                             "and filter with attributes")
        if self.window_s % 60:
            raise ValueError(f"window_s: custom metrics are read per minute: a multiple of 60, got {self.window_s:g}")
        self._check_quantile_and_filters()

    def _check_quantile_and_filters(self) -> None:
        if not 0 < self.quantile < 1:
            raise ValueError(f"quantile: between 0 and 1 (exclusive), got {self.quantile}")
        if len(self.attributes) > MAX_ATTRIBUTE_FILTERS or not all(self.attributes):
            raise ValueError(f"attributes: at most {MAX_ATTRIBUTE_FILTERS} filters, each with a non-empty key")

    def _check_group_by(self) -> None:
        if not self.group_by:
            return
        if self.kind not in ("span_metric", "otlp_metric", "custom_metric"):
            raise ValueError("group_by: only span_metric, otlp_metric and custom_metric rules group")
        if len(self.group_by) > MAX_GROUP_BY or len(set(self.group_by)) < len(self.group_by) or not all(self.group_by):
            raise ValueError(f"group_by: at most {MAX_GROUP_BY} distinct, non-empty names, got {self.group_by!r}")
        labels = [label_name(name) for name in self.group_by]
        if "alertname" in labels or any(label.startswith("__") for label in labels):
            raise ValueError("group_by: alertname and names starting with __ are reserved labels")
        if len(set(labels)) < len(labels):
            raise ValueError(f"group_by: two names give the same label ({', '.join(labels)})")
        if self.kind == "span_metric" and self.by:
            raise ValueError("by, group_by: give one (group_by: [operation] is by: operation)")
        if self.kind == "span_metric" and self.window_s % 60:
            raise ValueError(f"window_s: grouped span metrics are read per minute: a multiple of 60, "
                             f"got {self.window_s:g}")


def attribute_key(name: str, keys: tuple[str, ...]) -> str:
    """The attribute key of `keys` (span-metric dimensions, a custom metric's labels) that
    `name` stands for, by the key or its label name (`deployment.environment` or
    `deployment_environment`); "" for none."""
    return next((key for key in keys if name in (key, label_name(key))), "")


def span_group_problem(query: AlertQuery, dimensions: tuple[str, ...] | None) -> str:
    """Why a span_metric rule's `group_by` cannot be answered by span metrics with these
    `dimensions` (None: span metrics are off), as `group_by: ...`; "" when it can. The
    configuration is needed to say, so the loader and the rules API call this."""
    if query.kind != "span_metric" or not query.group_by:
        return ""
    if dimensions is None:
        return "group_by: grouping reads the span metrics, which are off (metrics.enabled: false)"
    known = SPAN_GROUP_LABELS + dimensions + tuple(label_name(key) for key in dimensions)
    unknown = [name for name in query.group_by if name not in known]
    if unknown:
        configured = ", ".join(dimensions) or "none configured"
        return (f"group_by: unknown dimension {', '.join(map(repr, unknown))}; span metrics group by "
                f"{', '.join(SPAN_GROUP_LABELS)} or a metrics.dimensions key ({configured})")
    return ""


def custom_metric_problem(query: AlertQuery, custom: tuple[CustomMetric, ...] | None) -> str:
    """Why a custom_metric rule cannot be answered by these configured custom metrics
    (None: span metrics, which compute them, are off), as `field: ...` naming the valid
    choices; "" when it can. The loader and the rules API call this, as for span groups."""
    if query.kind != "custom_metric":
        return ""
    if custom is None:
        return "metric: custom metrics are computed with the span metrics, which are off (metrics.enabled: false)"
    metric = next((m for m in custom if m.name == query.metric), None)
    if metric is None:
        defined = ", ".join(m.name for m in custom) or "none"
        return (f"metric: unknown custom metric {query.metric!r}; metrics.counters and metrics.histograms "
                f"define: {defined}")
    fitting = CUSTOM_AGGREGATIONS[metric.kind]
    if query.aggregation not in fitting:
        return (f"aggregation: {metric.name} is a {metric.kind}, which takes {', '.join(fitting)}, "
                f"got {query.aggregation!r}")
    for where, names in (("group_by", query.group_by), ("attributes", list(query.attributes))):
        unknown = [name for name in names if not attribute_key(name, metric.labels)]
        if unknown:
            labels = ", ".join(key if key == label_name(key) else f"{key} ({label_name(key)})" for key in metric.labels)
            return (f"{where}: {metric.name} has no label {', '.join(map(repr, unknown))}; "
                    f"its labels: {labels or 'none'}")
    return ""


@dataclass(frozen=True)
class AlertCondition:
    """When a value is bad. `threshold`: value `op` threshold (`outside`: below `low` or
    above `high`); `rate_of_change`: the relative change against the previous window
    ((now - before) / |before|) `op` threshold; `absence`: no data in the window;
    `anomaly`: the z-score of the value against the same window on each of the previous
    `baseline_days` days ((value - median) / scale, the scale from the days' spread and the
    window's sampling noise, `spanwise.alerts.conditions`) `op` threshold, only when the
    window has `min_samples` events and at least `min_baseline` days (and 3) had them too.
    `resolve_threshold` (hysteresis): an active alert resolves only once the value is back
    past it (below it for `>`, above it for `<`)."""

    type: str = "threshold"
    op: str = ">"
    threshold: float = 0.0
    low: float | None = None
    high: float | None = None
    resolve_threshold: float | None = None
    min_samples: int = 0
    baseline_days: int = 7
    min_baseline: int = 3
    lookback_s: float = 3600.0  # absence without a filter: who sent data in this time before the window

    def __post_init__(self) -> None:
        if self.type not in CONDITIONS:
            raise ValueError(f"type: must be one of {', '.join(CONDITIONS)}, got {self.type!r}")
        if self.op not in OPERATORS:
            raise ValueError(f"op: must be one of {', '.join(OPERATORS)}, got {self.op!r}")
        if self.op == "outside" and (self.low is None or self.high is None or self.low > self.high):
            raise ValueError("low, high: op outside needs low <= high")
        if self.resolve_threshold is not None and self.op != "outside":
            wrong = self.resolve_threshold > self.threshold if self.op == ">" else self.resolve_threshold < self.threshold
            if wrong:
                raise ValueError(f"resolve_threshold: must not be {'above' if self.op == '>' else 'below'} the threshold")
        if self.min_samples < 0 or not 1 <= self.baseline_days <= 60 or not 1 <= self.min_baseline <= self.baseline_days:
            raise ValueError("min_samples: not negative; baseline_days: 1-60; min_baseline: 1 to baseline_days")
        if self.lookback_s <= 0:
            raise ValueError("lookback_s: must be positive")
        if self.type == "anomaly":
            self._check_anomaly()

    def _check_anomaly(self) -> None:
        """Refuse anomaly rules that could never judge (a spread needs 3 days) or that would
        fire on ordinary windows (a z-score within one scale of the median is no anomaly)."""
        if self.baseline_days < 3:
            raise ValueError("baseline_days: an anomaly needs at least 3 days to measure their spread")
        ordinary = (self.op == ">" and self.threshold < 1) or (self.op == "<" and self.threshold > -1) or (
            self.op == "outside" and (self.low is None or self.high is None or self.low > -1 or self.high < 1))
        if ordinary:
            raise ValueError("threshold: an anomaly's threshold is a z-score: > at least 1 (3 to 4 is usual), "
                             "< at most -1, outside with low <= -1 and high >= 1")


@dataclass(frozen=True)
class AlertRule:
    """One rule. It is evaluated every `interval_s`; a label set whose condition holds is
    pending, and firing once it held for `for_s`. `labels` are added to every alert;
    `annotations` (summary, description, ...) may use `{{ $value }}` and
    `{{ $labels.<name> }}`. `receivers` names where it is sent (empty: every receiver)."""

    name: str
    query: AlertQuery
    condition: AlertCondition = field(default_factory=AlertCondition)
    interval_s: float = 60.0
    for_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    receivers: list[str] = field(default_factory=list)
    enabled: bool = True

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"name: 1-128 letters, digits or _ . : -, got {self.name!r}")
        if not 0.1 <= self.interval_s <= 86_400 or not 0 <= self.for_s <= 7 * 86_400:
            raise ValueError("interval_s: 0.1 to 86400; for_s: 0 to 604800")
        bad = [key for key in self.labels if not _LABEL.match(key) or key == "alertname"]
        if bad:
            raise ValueError(f"labels: invalid label name(s) {', '.join(bad)} (alertname is set by Spanwise)")


@dataclass(frozen=True)
class ReceiverConfig:
    """Where notifications go. `alertmanager`: `url` is the Alertmanager's base URL (its v2
    API); `webhook`: JSON POSTed to `url`, signed with HMAC-SHA256 of the body under
    `secret` (or the variable named by `secret_env`) in `X-Spanwise-Signature: sha256=<hex>`;
    `slack`: an incoming-webhook `url`; `email`: SMTP `smtp_host`:`smtp_port` from `sender`
    to `to`, with STARTTLS when `starttls` and login when `username` is set (password in
    `password` or the variable named by `password_env`). A failed send is retried
    `max_retries` times, waiting `backoff_s`, doubling up to 60 s."""

    name: str
    type: str
    url: str = ""
    secret: str = ""
    secret_env: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    starttls: bool = False
    ca_file: str = ""
    username: str = ""
    password: str = ""
    password_env: str = ""
    sender: str = "spanwise@localhost"
    to: list[str] = field(default_factory=list)
    timeout_s: float = 10.0
    max_retries: int = 3
    backoff_s: float = 1.0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"name: 1-128 letters, digits or _ . : -, got {self.name!r}")
        if self.type not in RECEIVER_TYPES:
            raise ValueError(f"type: must be one of {', '.join(RECEIVER_TYPES)}, got {self.type!r}")
        if self.type != "email" and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url: a {self.type} receiver needs an http(s) URL, got {self.url!r}")
        if self.type == "email" and not (self.smtp_host and self.to):
            raise ValueError("smtp_host, to: an email receiver needs a server and recipients")
        if self.max_retries < 0 or self.backoff_s < 0 or self.timeout_s <= 0:
            raise ValueError("max_retries, backoff_s: not negative; timeout_s: positive")


@dataclass(frozen=True)
class AlertsConfig:
    """Alerting (spanwise.alerts): rules are checked every `tick_s` and each runs on its own
    `interval_s`. A notification goes out per state change (firing, resolved), alerts of one
    rule that change in the same evaluation go out together, and a still-firing alert is
    re-sent every `repeat_interval_s` (to Alertmanager every `alertmanager_resend_s`, with
    endsAt four times that ahead, as Prometheus does). At most `max_alerts_per_rule` label
    sets are tracked per rule (the rest are counted as dropped); history is kept
    `history_days`. `external_url` is this server's address as users reach it (links)."""

    enabled: bool = True
    tick_s: float = 5.0
    rules: list[AlertRule] = field(default_factory=list)
    receivers: list[ReceiverConfig] = field(default_factory=list)
    repeat_interval_s: float = 4 * 3600.0
    alertmanager_resend_s: float = 60.0
    max_alerts_per_rule: int = 1000
    history_days: int = 30
    external_url: str = ""

    def __post_init__(self) -> None:
        names = [r.name for r in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rules: names must be unique, repeated: {', '.join(twice)}")
        receivers = {r.name for r in self.receivers}
        unknown = sorted({n for r in self.rules for n in r.receivers} - receivers)
        if unknown:
            raise ValueError(f"rules: unknown receiver(s) {', '.join(unknown)}")
        if not 0.1 <= self.tick_s <= 3600 or self.repeat_interval_s <= 0 or self.alertmanager_resend_s <= 0:
            raise ValueError("tick_s: 0.1 to 3600; repeat_interval_s, alertmanager_resend_s: positive")
        if self.max_alerts_per_rule <= 0 or self.history_days <= 0:
            raise ValueError("max_alerts_per_rule, history_days: positive")
