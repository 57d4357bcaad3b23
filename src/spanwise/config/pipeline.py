"""The processors' configuration sections (redaction, sampling, enrichment, forwarding):
typed, validated in `__post_init__`, loaded by `spanwise.config` like every section."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RedactionConfig:
    """PII redaction (spanwise.process.redaction); on by default, before anything is
    stored or forwarded: spans, log records and metric points alike. All value `detectors` run by default, each with the action
    `actions[name]` (default `mask`). `key_rules` redact whole values by attribute key
    (they replace the default rule for credentials); `allow_keys` (exact or glob) are
    never redacted. `hash` actions are opt-in and need a key: `hash_key`, or the name of
    an environment variable holding it in `hash_key_env`."""

    DETECTORS = ("email", "phone", "credit_card", "iban", "us_ssn", "ipv4", "ipv6", "jwt", "api_key")
    ACTIONS = ("mask", "drop", "hash")
    MATCHES = ("exact", "glob", "regex")
    SECRET_KEYS = r"(?i)(passw(or)?d|secret|authorization|cookie|api[-_.]?key|private[-_.]?key|access[-_.]?token|refresh[-_.]?token)"

    @dataclass(frozen=True)
    class KeyRule:
        """Redact every value of attributes whose key matches `pattern`: the exact key, a
        glob (`user.*`), or a regex found anywhere in the key (`match: regex`)."""

        pattern: str
        match: str = "exact"
        action: str = "mask"
        name: str = ""  # in masks and counters; default: the pattern

        def __post_init__(self) -> None:
            if self.match not in RedactionConfig.MATCHES:
                raise ValueError(f"match must be one of {', '.join(RedactionConfig.MATCHES)}, got {self.match!r}")
            if self.action not in RedactionConfig.ACTIONS:
                raise ValueError(f"action must be one of {', '.join(RedactionConfig.ACTIONS)}, got {self.action!r}")
            if self.match == "regex":
                import re

                try:
                    re.compile(self.pattern)
                except re.error as exc:
                    raise ValueError(f"invalid regex {self.pattern!r}: {exc}") from exc

    enabled: bool = True
    detectors: list[str] = field(default_factory=lambda: list(RedactionConfig.DETECTORS))
    actions: dict[str, str] = field(default_factory=dict)
    key_rules: list[KeyRule] = field(
        default_factory=lambda: [RedactionConfig.KeyRule(RedactionConfig.SECRET_KEYS, "regex", "mask", "secret_key")]
    )
    allow_keys: list[str] = field(
        default_factory=lambda: ["service.name", "service.namespace", "service.version", "telemetry.sdk.*", "http.route"]
    )
    hash_key: str = ""
    hash_key_env: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.detectors) - set(self.DETECTORS))
        unknown += sorted(set(self.actions) - set(self.DETECTORS))
        if unknown:
            raise ValueError(f"unknown detector(s) {', '.join(unknown)}; known: {', '.join(self.DETECTORS)}")
        bad = {name: action for name, action in self.actions.items() if action not in self.ACTIONS}
        if bad:
            raise ValueError(f"actions must be one of {', '.join(self.ACTIONS)}; got {bad}")


@dataclass(frozen=True)
class TailSamplingConfig:
    """Tail sampling (spanwise.process.tail_sampling): a trace's spans wait (on disk,
    queryable) for `decision_wait_s` after its first span arrived (as the OTel Collector's
    tail sampler does), then the whole trace is kept if any policy says so; later spans
    follow the decision. Policies with 0 / empty values are off."""

    enabled: bool = False
    decision_wait_s: float = 10.0
    max_pending_traces: int = 100_000
    keep_errors: bool = True
    latency_threshold_ms: float = 0.0
    attributes: dict[str, str] = field(default_factory=dict)  # key -> RE2 pattern on the value
    confidence_below: float = 0.0
    rate_limit_traces_per_s: float = 0.0  # per root service
    probabilistic_rate: float = 0.0
    outlier_features: bool = False  # keep traces whose prediction has a feature outside its baseline's range
    outlier_refresh_s: float = 300.0
    remember_decisions_s: float = 3600.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.probabilistic_rate <= 1.0:
            raise ValueError(f"probabilistic_rate must be between 0 and 1, got {self.probabilistic_rate}")
        if self.decision_wait_s <= 0 or self.max_pending_traces <= 0:
            raise ValueError("decision_wait_s and max_pending_traces must be positive")


@dataclass(frozen=True)
class SamplingConfig:
    """Head sampling (spanwise.process.sampling); off by default. Rates are the share of
    traces whose spans are stored in full; `budget_spans_per_s` > 0 is per project: it
    lowers a project's rates when its traffic would exceed that many stored spans per
    second (measured over `budget_window_s`), so a noisy project never lowers another's.
    `tail` configures tail sampling, which applies to the traces head sampling kept."""

    enabled: bool = False
    tail: TailSamplingConfig = field(default_factory=TailSamplingConfig)
    default_rate: float = 1.0
    service_rates: dict[str, float] = field(default_factory=dict)
    budget_spans_per_s: float = 0.0
    budget_window_s: float = 10.0

    def __post_init__(self) -> None:
        for name, rate in {"default_rate": self.default_rate, **self.service_rates}.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"sampling rate for {name} must be between 0 and 1, got {rate}")
        if self.budget_spans_per_s > 0 and self.budget_window_s <= 0:
            raise ValueError(f"budget_window_s must be positive with a budget, got {self.budget_window_s}")


ENRICHMENT_ACTIONS = ("set", "copy", "rename", "derive")


@dataclass(frozen=True)
class EnrichmentRuleConfig:
    """One rule; see spanwise.process.enrichment for the actions."""

    action: str
    key: str
    value: str = ""
    source: str = ""
    pattern: str = ""
    replacement: str = ""
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.action not in ENRICHMENT_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ENRICHMENT_ACTIONS)}, got {self.action!r}")
        if not self.key:
            raise ValueError("an enrichment rule needs a target `key`")
        if self.action != "set" and not self.source:
            raise ValueError(f"action {self.action} needs a `source` key")
        if self.action == "derive" and not self.pattern:
            raise ValueError("action derive needs a `pattern`")


@dataclass(frozen=True)
class EnrichmentConfig:
    """Attribute enrichment rules (spanwise.process.enrichment), applied in order."""

    rules: list[EnrichmentRuleConfig] = field(default_factory=list)


@dataclass(frozen=True)
class ForwardConfig:
    """Forwarding of processed spans to another OTLP endpoint (spanwise.process.forward);
    off when `endpoint` is empty. For `http`, `endpoint` is a base URL (`/v1/traces` is
    appended) or the full URL ending in `/v1/traces`; for `grpc`, `host:port` (or
    `http://host:port`; `https://` uses TLS). At most `queue_max_spans` wait; a failed
    send is retried `max_retries` times with exponential back-off and jitter from
    `initial_backoff_s` up to `max_backoff_s`, giving up after `max_elapsed_s`. On
    shutdown the queue drains for at most `drain_timeout_s`. `projects` limits forwarding
    to those projects' spans (empty: every project's); spans of a project other than the
    default one carry the resource attribute `spanwise.project`."""

    endpoint: str = ""
    protocol: str = "http"
    headers: dict[str, str] = field(default_factory=dict)
    compression: str = "gzip"
    queue_max_spans: int = 100_000
    max_retries: int = 5
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_elapsed_s: float = 120.0
    timeout_s: float = 10.0
    drain_timeout_s: float = 5.0
    projects: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if any(not project for project in self.projects):
            raise ValueError("projects must name projects (an empty name matches none)")
        if self.protocol not in ("http", "grpc"):
            raise ValueError(f"protocol must be http or grpc, got {self.protocol!r}")
        if self.compression not in ("gzip", "none"):
            raise ValueError(f"compression must be gzip or none, got {self.compression!r}")
        if self.protocol == "http" and self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"an http endpoint must start with http:// or https://, got {self.endpoint!r}")
        if self.queue_max_spans <= 0 or self.max_retries < 0:
            raise ValueError("queue_max_spans must be positive and max_retries not negative")
        if min(self.initial_backoff_s, self.max_backoff_s, self.max_elapsed_s, self.timeout_s, self.drain_timeout_s) < 0:
            raise ValueError("back-off, elapsed, timeout and drain settings must not be negative")
