"""One typed, validated configuration, loaded once at the edge and passed down.

The sections (schemas) and `load_config` are here; the generic YAML/environment/dataclass
building is `config.loader`, the processor sections `config.pipeline`, auth `config.auth`,
warnings about valid but suspicious settings `config.check`.

Sources, later ones winning: defaults, a YAML file (`--config`), environment variables
`SPANWISE_<SECTION>_<KEY>` (e.g. `SPANWISE_SERVER_HTTP_PORT=14318`), command-line flags.
Unknown keys and wrong types are errors that name the offending key (and its line).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from spanwise.errors import ConfigError
from spanwise.core import alert_rules, metrics as metrics_model, retention as retention_model
from spanwise.core.ml_tasks import CLASSIFICATION, TASKS
from spanwise.core.time_window import TimeWindow
from spanwise.config.auth import AUTH_ROLES, OidcConfig, OidcMappingConfig  # noqa: F401 - auth.oidc
from spanwise.config.loader import BAD, build, from_environ, merge, read_yaml
from spanwise.config.pipeline import (  # noqa: F401 - sections of Config, importable from here
    ENRICHMENT_ACTIONS,
    EnrichmentConfig,
    EnrichmentRuleConfig,
    ForwardConfig,
    RedactionConfig,
    SamplingConfig,
    TailSamplingConfig,
)


#: The oldest accepted records in days: an insert may touch this many daily partitions (the
#: store allows 1000 per insert).
MAX_AGE_DAYS = 990


@dataclass(frozen=True)
class ServerConfig:
    """Where Spanwise listens and keeps its data."""

    data_dir: str = "./spanwise-data"
    store: str = ""  # store URL; empty means chdb://<data_dir>
    # Loopback by default; another address needs auth.enabled or allow_unauthenticated (serve.access).
    host: str = "127.0.0.1"
    allow_unauthenticated: bool = False  # listen beyond loopback without auth: a trusted network only
    grpc_port: int = 4317
    http_port: int = 4318
    query_port: int = 16686
    max_body_bytes: int = 20 * 1024 * 1024
    max_inflight_bytes: int = 0  # OTLP bodies read/decoded at once, else 429; 0: 4 x max_body_bytes
    allowed_hosts: list[str] = field(default_factory=list)  # more Host names for :16686 (see serve.host_check)
    # Spans of one trace per answer: the native trace API's largest (and default) page, and
    # the Jaeger API's cap per trace (the rest is left out with a warning on the trace).
    max_trace_spans: int = 10_000
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if self.max_trace_spans <= 0:
            raise ValueError("max_trace_spans must be positive")
        if 0 < self.max_inflight_bytes < self.max_body_bytes:
            raise ValueError("max_inflight_bytes must be 0 (4 x max_body_bytes) or at least max_body_bytes")

    @property
    def store_url(self) -> str:
        return self.store or f"chdb://{os.path.abspath(self.data_dir)}"

    @property
    def inflight_limit(self) -> int:
        return self.max_inflight_bytes or 4 * self.max_body_bytes


@dataclass(frozen=True)
class AuthConfig:
    """Access control (`serve.access`, `serve.auth`). Off: no credentials, one default
    project, and every port listens on loopback only unless `server.allow_unauthenticated`.
    On: every API and OTLP request needs a token (`Authorization: Bearer`, or the web UI's
    session cookie); the first start writes an admin token to `<data_dir>/admin-token`.
    `signin_per_minute` bounds sign-in attempts per client address (429 beyond);
    `session_hours` is how long a web UI sign-in lasts; `audit_days` how long audit
    entries are kept (0: forever). `oidc` also accepts JWTs from an identity provider."""

    enabled: bool = False
    signin_per_minute: int = 10
    session_hours: float = 12.0
    audit_days: int = 365
    oidc: OidcConfig = field(default_factory=OidcConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.signin_per_minute <= 10_000:
            raise ValueError("signin_per_minute must be between 1 and 10000")
        if not 0 < self.session_hours <= 24 * 365:
            raise ValueError("session_hours must be more than 0 and at most 8760 (a year)")
        if not 0 <= self.audit_days <= 36_500:
            raise ValueError("audit_days must be 0 (forever) to 36500")


@dataclass(frozen=True)
class TlsConfig:
    """TLS on all three ports (`serve.tls`) from PEM files: `cert_file` (the server's
    certificate, then any intermediates) and `key_file` (its unencrypted private key), both
    or neither. With `client_ca_file`, the two OTLP ports (:4317, :4318) also require a
    client certificate signed by that CA (mutual TLS); the query API and UI do not. The
    files are checked every `reload_interval_s` seconds and reloaded when they change (new
    connections get the new certificate; a set that does not load keeps the old one)."""

    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""
    reload_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("cert_file and key_file go together: set both (TLS on) or neither (TLS off)")
        if self.client_ca_file and not self.cert_file:
            raise ValueError("client_ca_file (mutual TLS) needs cert_file and key_file")
        if not 0.1 <= self.reload_interval_s <= 86_400:
            raise ValueError("reload_interval_s must be between 0.1 and 86400")

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file)


@dataclass(frozen=True)
class IngestConfig:
    """The ingest log: how often and how much to move into the store, how much may wait
    (beyond it, senders are told to retry later), and whether to fsync every append and
    every store insert. Which record times are accepted: at most `max_age_days` old and
    `max_ahead_s` ahead of this clock (others are rejected through partial_success);
    `max_age_days: 0` accepts any age, for importing old recordings (a batch then spanning
    more daily partitions than the store takes in one insert is quarantined)."""

    flush_interval_ms: float = 500.0
    flush_rows: int = 100_000
    max_pending_rows: int = 500_000
    max_pending_bytes: int = 512 * 1024 * 1024
    fsync: bool = False
    max_age_days: float = 30.0
    max_ahead_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_pending_rows <= 0 or self.max_pending_bytes <= 0 or self.flush_rows <= 0:
            raise ValueError("flush_rows, max_pending_rows and max_pending_bytes must be positive")
        if not 0 <= self.max_age_days <= MAX_AGE_DAYS:
            raise ValueError(f"max_age_days must be between 0 (any age) and {MAX_AGE_DAYS} "
                             "(one insert may span that many daily partitions)")
        if not 0 <= self.max_ahead_s <= 7 * 86_400:
            raise ValueError("max_ahead_s must be between 0 and 604800 (a week)")

    @property
    def time_window(self) -> TimeWindow:
        return TimeWindow(self.max_age_days * 86_400 if self.max_age_days else math.inf, self.max_ahead_s)


@dataclass(frozen=True)
class StoreConfig:
    """Retention: days to keep stored data (0: forever; `retention.projects` may set other
    days per project and kind). Read queries stop past `query_timeout_s` seconds or
    `query_max_memory_mb` MiB (503; 0 lifts a limit); inserts are not limited."""

    retention_days: int = 0
    query_timeout_s: float = 30.0
    query_max_memory_mb: int = 2048

    def __post_init__(self) -> None:
        if not 0 <= self.retention_days <= retention_model.MAX_DAYS:
            raise ValueError(f"retention_days must be 0 (forever) to {retention_model.MAX_DAYS}")
        if not (0 <= self.query_timeout_s <= 86400 and self.query_max_memory_mb >= 0):
            raise ValueError("query_timeout_s must be 0 (no limit) to 86400, query_max_memory_mb 0 (no limit) or more")


@dataclass(frozen=True)
class ProjectRetentionConfig:
    """Days one project keeps each kind of data (0: forever; left out: `store.retention_days`)."""

    spans_days: int | None = None
    logs_days: int | None = None
    metrics_days: int | None = None
    predictions_days: int | None = None
    labels_days: int | None = None

    def __post_init__(self) -> None:
        bad = [f"{kind}_days" for kind, days in self.kinds().items() if not 0 <= days <= retention_model.MAX_DAYS]
        if bad:
            raise ValueError(f"{', '.join(bad)}: days must be 0 (forever) to {retention_model.MAX_DAYS}")

    def kinds(self) -> dict[str, int]:
        """The kinds this project sets, and their days."""
        return {kind: days for kind in retention_model.KINDS if (days := getattr(self, f"{kind}_days")) is not None}


#: What a project may be called (the same rule as `POST /api/v1/projects`).
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class RetentionConfig:
    """Retention per project and kind of data, applied by the store as TTL rules
    (`projects: {team-a: {spans_days: 7, labels_days: 365}}`); what a project does not
    set it keeps as long as `store.retention_days` says."""

    projects: dict[str, ProjectRetentionConfig] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [name for name in self.projects if not PROJECT_NAME.match(name)]
        if bad:
            raise ValueError(f"projects: {', '.join(map(repr, bad))} is not a project name "
                             "(letters, digits, '.', '_', '-'; at most 63)")

    def policy(self, default_days: int) -> retention_model.RetentionPolicy:
        return retention_model.RetentionPolicy(default_days, {p: c.kinds() for p, c in self.projects.items()})


@dataclass(frozen=True)
class MlConfig:
    """Extra attribute names for canonical AI fields: canonical -> [user keys]."""

    mappings: dict[str, list[str]] = field(default_factory=dict)


KNOWN_PROCESSORS = ("enrichment", "redaction", "ml_fields", "sampling", "forward")


@dataclass(frozen=True)
class PipelineConfig:
    """Processors in the order they run (see `spanwise.process.factory`); `ml_fields`
    is required. A processor listed but not configured does nothing."""

    processors: list[str] = field(default_factory=lambda: list(KNOWN_PROCESSORS))

    def __post_init__(self) -> None:
        unknown = [p for p in self.processors if p not in KNOWN_PROCESSORS]
        if unknown:
            raise ValueError(f"unknown processor(s) {', '.join(unknown)}; known: {', '.join(KNOWN_PROCESSORS)}")
        if "ml_fields" not in self.processors:
            raise ValueError("processors must include ml_fields")
        if len(set(self.processors)) != len(self.processors):
            raise ValueError("a processor is listed twice")


@dataclass(frozen=True)
class CustomMetricConfig:
    """A business metric over one span (else resource) attribute: a counter counts the
    spans that carry `attribute` (`value: sum` adds up its numeric value instead); a
    histogram observes its numeric value in `buckets` (default: Prometheus' defaults).
    `labels` are attribute keys whose values label the series."""

    name: str = ""
    attribute: str = ""
    labels: list[str] = field(default_factory=list)
    buckets: list[float] = field(default_factory=list)
    value: str = "count"
    description: str = ""


@dataclass(frozen=True)
class MetricsConfig:
    """Span metrics computed from 100% of spans and exposed at /metrics. `dimensions`
    are attribute keys added as labels to the span metrics (like the spanmetrics
    connector's); `counters` and `histograms` are custom business metrics. /metrics
    exposes at most `max_series` series per metric (the rest summed into one series
    labelled `otel_metric_overflow="true"`) and only series with spans in the last
    `stale_after_s` seconds (0: every series ever seen)."""

    enabled: bool = True
    dimensions: list[str] = field(default_factory=list)
    counters: list[CustomMetricConfig] = field(default_factory=list)
    histograms: list[CustomMetricConfig] = field(default_factory=list)
    max_series: int = metrics_model.DEFAULT_MAX_SERIES
    stale_after_s: float = metrics_model.DEFAULT_STALE_AFTER_S

    def __post_init__(self) -> None:
        found = [f"counters[{i}].buckets: only histograms have buckets" for i, c in enumerate(self.counters) if c.buckets]
        found += [f"counters[{i}].value: count or sum, got {c.value!r}" for i, c in enumerate(self.counters)
                  if c.value not in ("count", "sum")]
        found += [f"histograms[{i}].value: histograms observe the value; leave it out" for i, h in enumerate(self.histograms)
                  if h.value != "count"]
        found += metrics_model.problems(self.spec())
        if found:
            raise ValueError("; ".join(found))

    def spec(self) -> metrics_model.MetricsSpec:
        """The plain value the store and the query side take."""
        custom = [
            metrics_model.CustomMetric(c.name, kind, c.attribute, tuple(c.labels), tuple(c.buckets), c.value == "sum", c.description)
            for kind, defined in ((metrics_model.COUNTER, self.counters), (metrics_model.HISTOGRAM, self.histograms))
            for c in defined
        ]
        return metrics_model.MetricsSpec(self.enabled, tuple(self.dimensions), tuple(custom), self.max_series,
                                         self.stale_after_s)


@dataclass(frozen=True)
class ModelScheduleConfig:
    """One model's schedule: how often, over how long a window, and its task for quality."""

    interval_s: float = 300.0
    window_s: float = 3600.0
    task: str = CLASSIFICATION

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be classification or regression, got {self.task!r}")


@dataclass(frozen=True)
class ModelsConfig:
    """Scheduled model signals (spanwise.analyze.model_signals): every `schedule_interval_s`
    (0 = off) drift, data quality and quality over the last `window_s` are stored as time
    series; `per_model` overrides both per model name. Labels whose prediction is not
    stored yet wait up to `feedback_expiry_s` for it."""

    schedule_interval_s: float = 300.0
    window_s: float = 3600.0
    per_model: dict[str, ModelScheduleConfig] = field(default_factory=dict)
    feedback_expiry_s: float = 7 * 86_400.0

    def __post_init__(self) -> None:
        if self.feedback_expiry_s <= 0:
            raise ValueError("feedback_expiry_s must be positive")


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    ml: MlConfig = field(default_factory=MlConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    redaction: RedactionConfig = field(default_factory=RedactionConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    enrichment: EnrichmentConfig = field(default_factory=EnrichmentConfig)
    forward: ForwardConfig = field(default_factory=ForwardConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    alerts: alert_rules.AlertsConfig = field(default_factory=alert_rules.AlertsConfig)

    def retention_policy(self) -> retention_model.RetentionPolicy:
        """Retention per project and kind, defaulting to `store.retention_days`."""
        return self.retention.policy(self.store.retention_days)


def load_config(
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Build the configuration from a YAML file, the environment and explicit overrides.

    Every problem is reported at once, each on its own line as `file:line: key: message`.
    """
    raw: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if path:
        raw, lines = read_yaml(path)
    merged = merge(raw, from_environ(os.environ if environ is None else environ, Config))
    merged = merge(merged, {k: dict(v) for k, v in (overrides or {}).items()})
    errors: list[tuple[str, str]] = []
    config = build(Config, merged, "", errors)
    if config is not BAD and not any(key.startswith("metrics") for key, _ in errors):
        errors += _alert_rule_checks(config, merged.get("alerts"))
    if errors:
        def where(key: str) -> str:
            line = lines.get(key) or lines.get(key.rsplit(".", 1)[0])
            return f"{path}:{line}: " if path and line else ""

        raise ConfigError("\n".join(f"{where(key)}{key or 'config'}: {message}" for key, message in errors))
    return config


def _alert_rule_checks(config: Config, alerts: Any) -> list[tuple[str, str]]:
    """Rule problems that need another section: span-metric groups name configured
    dimensions, custom-metric rules a configured custom metric, its kind's aggregations
    and its labels. Each rule's query is checked on its own, so a broken rule elsewhere
    does not hide these."""
    rules = alerts.get("rules") if isinstance(alerts, dict) else None
    if not isinstance(rules, list):
        return []
    spec = config.metrics.spec()
    dimensions, custom = (spec.dimensions, spec.custom) if spec.enabled else (None, None)
    found = []
    for index, rule in enumerate(rules):
        query = rule.get("query") if isinstance(rule, dict) else None
        built = build(alert_rules.AlertQuery, query, "", []) if isinstance(query, dict) else None
        if not isinstance(built, alert_rules.AlertQuery):
            continue
        problem = alert_rules.span_group_problem(built, dimensions) or alert_rules.custom_metric_problem(built, custom)
        if problem:
            found.append((f"alerts.rules[{index}].query", problem))
    return found


def with_server(config: Config, **changes: Any) -> Config:
    """The same configuration with some server settings replaced."""
    return replace(config, server=replace(config.server, **changes))
