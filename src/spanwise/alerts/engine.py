"""The alerting component: evaluates due rules every `tick_s`, steps each label set's state
machine, records history, persists state and tells the receivers.

State lives in the store (`AlertStore`): rules made through the API, each alert's state
with its pending timer and what every receiver was already told, and silences. On start
everything is read back, so a restart neither forgets a pending or firing alert nor sends
a notification twice (at least once: a crash between a send and its record can repeat it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from typing import Any, Callable

from spanwise.alerts import conditions
from spanwise.alerts.dispatch import Dispatcher
from spanwise.alerts.rules import RULE_KIND, parse_rule, rule_body, rule_json
from spanwise.alerts.series import rule_series
from spanwise.alerts.silences import SILENCE_KIND, Silence, parse_silence
from spanwise.alerts.sources import Labels, Sources
from spanwise.alerts.state import FIRING, PENDING, Alert, render
from spanwise.errors import InvalidQuery, NotFound
from spanwise.model.alert_rules import AlertRule, AlertsConfig
from spanwise.periodic import PeriodicWorker
from spanwise.store.alerts_api import AlertStore

log = logging.getLogger(__name__)
STATE_KIND = "state"
MAX_API_RULES = 10_000
#: State changes waiting for a store that refused them (written on a later tick).
MAX_UNSAVED_HISTORY = 100_000
#: Silences kept at once (active, pending or expired; expired ones go when this is reached).
MAX_SILENCES = 1_000


class AlertEngine:
    """start()/shutdown() are idempotent; `tick()` is one evaluation cycle (tests call it)."""

    def __init__(self, config: AlertsConfig, store: AlertStore, sources: Sources,
                 clock: Callable[[], float] = time.time) -> None:
        self.config, self._store, self._sources, self._clock = config, store, sources, clock
        self.stats: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._api_rules: dict[str, AlertRule] = {}
        self._alerts: dict[str, dict[Labels, Alert]] = {}
        self._last_eval: dict[str, float] = {}
        self._silences: dict[str, Silence] = {}
        self._errors: dict[str, str] = {}
        self._loaded = False
        self._unsaved: dict[str, Alert] = {}
        self._unsaved_history: list[dict[str, Any]] = []
        self._started = clock()
        self.dispatcher = Dispatcher(config, self._silenced, self.stats)
        self._worker = PeriodicWorker("spanwise-alerts", self.tick, config.tick_s, self.stats)

    # -- lifecycle --

    def start(self) -> None:
        self._load()
        self._worker.start()

    def shutdown(self) -> None:
        self._worker.shutdown()

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            prepare = getattr(self._store, "prepare_alerts", None)
            if prepare:
                prepare(self.config.history_days)
            receivers = {r.name for r in self.config.receivers}
            for name, body in self._store.alert_objects(RULE_KIND).items():
                try:
                    self._api_rules[name] = parse_rule(json.loads(body), receivers, self._sources.span_dimensions)
                except InvalidQuery as exc:
                    log.error("stored alert rule %s is no longer valid, skipped: %s", name, exc)
            for body in self._store.alert_objects(STATE_KIND).values():
                alert = Alert.from_json(body)
                self._alerts.setdefault(alert.rule, {})[_series(alert)] = alert
            for body in self._store.alert_objects(SILENCE_KIND).values():
                silence = Silence(**json.loads(body))
                self._silences[silence.id] = silence
            self._loaded = True

    # -- evaluation --

    def tick(self) -> None:
        """Evaluate every due rule, then notify."""
        self._load()
        started, cpu = time.perf_counter(), time.process_time()
        now = self._clock()
        with self._lock:
            self._sources.new_cycle()
            changed: list[Alert] = []
            history: list[dict[str, Any]] = []
            rules = self.rules()
            due = [r for r in rules if r.enabled and now - self._last_eval.get(r.name, 0.0) >= r.interval_s - 1e-3]
            for rule in due:
                self._last_eval[rule.name] = now
                self._evaluate(rule, now, changed, history)
            self._retire_deleted({r.name for r in rules}, now, changed, history)
            self._save(changed, history)
        if due:  # the figures of the last tick that evaluated something, not of an idle one
            self.stats["eval_ms_last"] = int((time.perf_counter() - started) * 1000)
            self.stats["eval_cpu_ms_last"] = int((time.process_time() - cpu) * 1000)
            self.stats["eval_rules_last"] = len(due)
        self.stats["store_queries"] = self._sources.queries
        self._notify(int(now * 1000))

    def _evaluate(self, rule: AlertRule, now: float, changed: list[Alert], history: list[dict[str, Any]]) -> None:
        alerts = self._alerts.setdefault(rule.name, {})
        active = {labels for labels, a in alerts.items() if a.state in (PENDING, FIRING)}
        try:
            results = conditions.evaluate(rule, self._sources, int(now * 1e9), active)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
            self.stats["rule_errors"] += 1
            if self._errors.get(rule.name) != str(exc):
                log.warning("alert rule %s failed: %s", rule.name, exc)
            self._errors[rule.name] = str(exc)
            return
        self._errors.pop(rule.name, None)
        self.stats["evaluations"] += 1
        now_ms = int(now * 1000)
        #: Right after a (re)start the window still holds the gap while the server was down
        #: (or before senders reconnected): for one window, evaluations neither end alerts
        #: nor raise absence alerts.
        grace = now - self._started < rule.query.window_s
        for result in results:
            alert = alerts.get(result.labels)
            if alert is not None and not result.active and (grace or not result.judged):
                continue
            if grace and rule.condition.type == "absence" and (alert is None or alert.state not in (PENDING, FIRING)):
                continue
            if alert is None:
                if not result.active:
                    continue
                if len(alerts) >= self.config.max_alerts_per_rule:
                    self.stats["dropped_label_sets"] += 1
                    continue
                labels = {"alertname": rule.name, **dict(result.labels), **rule.labels}
                alert = alerts[result.labels] = Alert(rule.name, labels, series=[list(p) for p in result.labels])
            before = alert.step(result.active, result.value, now_ms, int(rule.for_s * 1000))
            alert.annotations = self._annotations(rule, alert)
            if before is not None:
                changed.append(alert)
                history.append(_history_row(alert, before, now_ms))

    def _retire_deleted(self, names: set[str], now: float, changed: list[Alert], history: list[dict[str, Any]]) -> None:
        """Alerts of a deleted rule resolve (receivers that heard 'firing' hear 'resolved')."""
        for rule in [r for r in self._alerts if r not in names]:
            for alert in self._alerts[rule].values():
                before = alert.step(False, alert.value, int(now * 1000), 0)
                if before is not None:
                    changed.append(alert)
                    history.append(_history_row(alert, before, int(now * 1000)))

    def _annotations(self, rule: AlertRule, alert: Alert) -> dict[str, str]:
        defaults = {"summary": f"{rule.query.metric} of {{{{ $labels.{_first_label(alert)} }}}} is {{{{ $value }}}}",
                    "link": self._link(rule, alert.labels)}
        merged = {**defaults, **rule.annotations}
        return {key: render(text, alert.value, alert.labels) for key, text in merged.items()}

    def _link(self, rule: AlertRule, labels: dict[str, str]) -> str:
        base = self.config.external_url.rstrip("/")
        if rule.query.kind in ("model_metric", "model_signal") and labels.get("model"):
            return f"{base}/models/{labels['model']}"
        if labels.get("service"):
            return f"{base}/services?service={labels['service']}"
        return f"{base}/alerts?rule={rule.name}"

    def _save(self, changed: list[Alert], history: list[dict[str, Any]]) -> None:
        """Write history and state; what a failing store refused is kept and written on a
        later tick (history up to MAX_UNSAVED_HISTORY rows, the oldest dropped and counted)."""
        for alert in changed:
            self._unsaved[alert.key] = alert
        self._unsaved_history += history
        extra = len(self._unsaved_history) - MAX_UNSAVED_HISTORY
        if extra > 0:
            del self._unsaved_history[:extra]
            self.stats["history_rows_dropped"] += extra
        if self._unsaved_history:
            self._store.append_alert_history(self._unsaved_history)
            self._unsaved_history = []
        self._persist([])

    def _persist(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self._unsaved[alert.key] = alert
        if not self._unsaved:
            return
        pending = list(self._unsaved.values())
        self._store.put_alert_objects(STATE_KIND, {a.key: None if a.settled() else a.to_json() for a in pending})
        self._unsaved.clear()
        for alert in pending:
            if alert.settled():
                self._alerts.get(alert.rule, {}).pop(_series(alert), None)
        names = {x.name for x in self.rules()}
        for rule in [r for r, found in self._alerts.items() if not found and r not in names]:
            del self._alerts[rule]

    def _notify(self, now_ms: int) -> None:
        with self._lock:
            alerts = [a for found in self._alerts.values() for a in found.values()]
            rules = {r.name: r for r in self.rules()}
        told = self.dispatcher.dispatch(alerts, rules, now_ms, self._generator_url)
        if told:
            with self._lock:
                self._persist(told)

    def _generator_url(self, rule: str) -> str:
        return f"{self.config.external_url.rstrip('/')}/alerts?rule={rule}"

    def _silenced(self, labels: dict[str, str], now_ms: int) -> bool:
        return any(s.active(now_ms) and s.matches(labels) for s in list(self._silences.values()))

    # -- what the API asks --

    def rules(self) -> list[AlertRule]:
        """Config rules first, then API rules (a name is unique across both)."""
        return list(self.config.rules) + list(self._api_rules.values())

    def rule_states(self) -> list[dict[str, Any]]:
        with self._lock:
            config_names = {r.name for r in self.config.rules}
            out = []
            for rule in self.rules():
                alerts = list(self._alerts.get(rule.name, {}).values())
                states = [a.state for a in alerts]
                state = FIRING if FIRING in states else PENDING if PENDING in states else "inactive"
                out.append({**rule_json(rule), "source": "config" if rule.name in config_names else "api",
                            "state": state, "alerts": len([s for s in states if s in (PENDING, FIRING)]),
                            "error": self._errors.get(rule.name)})
            return out

    def put_rule(self, body: Any, name: str | None = None) -> dict[str, Any]:
        """Create (name None) or replace an API rule."""
        rule = parse_rule(body, {r.name for r in self.config.receivers}, self._sources.span_dimensions)
        with self._lock:
            if any(r.name == (name or rule.name) for r in self.config.rules):
                raise InvalidQuery(f"name: rule {name or rule.name!r} is defined in the config file; change it there")
            if name is None and rule.name in self._api_rules:
                raise InvalidQuery(f"name: rule {rule.name!r} exists; PUT /api/v1/alerts/rules/{rule.name} replaces it")
            if name is not None and name not in self._api_rules:
                raise NotFound(f"rule {name!r} not found")
            if name is not None and rule.name != name:
                raise InvalidQuery(f"name: the body names {rule.name!r}, the path {name!r}")
            if len(self._api_rules) >= MAX_API_RULES and name is None:
                raise InvalidQuery(f"at most {MAX_API_RULES} rules can be made through the API")
            self._store.put_alert_objects(RULE_KIND, {rule.name: rule_body(rule)})
            self._api_rules[rule.name] = rule
            self._last_eval.pop(rule.name, None)
        return rule_json(rule)

    def delete_rule(self, name: str) -> None:
        with self._lock:
            if name not in self._api_rules:
                raise NotFound(f"rule {name!r} not found among the rules made through the API")
            self._store.put_alert_objects(RULE_KIND, {name: None})
            del self._api_rules[name]

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (and resolved ones not yet told to every receiver)."""
        with self._lock:
            now_ms = int(self._clock() * 1000)
            return [{**json.loads(a.to_json()), "fingerprint": a.fingerprint,
                     "silenced": self._silenced(a.labels, now_ms)}
                    for found in self._alerts.values() for a in found.values()]

    def series(self, name: str, start_ns: int, end_ns: int) -> dict[str, Any]:
        """The rule's evaluated series over [start, end] (spanwise.alerts.series)."""
        with self._lock:
            rule = next((r for r in self.rules() if r.name == name), None)
        if rule is None:
            raise NotFound(f"rule {name!r} not found")
        return rule_series(rule, self._sources.fresh(), start_ns, end_ns)

    def history(self, start_ns: int, end_ns: int, rule: str, limit: int) -> list[dict[str, Any]]:
        rows = self._store.alert_history(start_ns, end_ns, rule, limit)
        return [{**r, "labels": json.loads(r["labels"] or "{}")} for r in rows]

    def silences(self) -> list[dict[str, Any]]:
        now_ms = int(self._clock() * 1000)
        return [s.to_json(now_ms) for s in sorted(self._silences.values(), key=lambda s: s.starts_at_ms)]

    def add_silence(self, body: Any) -> dict[str, Any]:
        now_ms = int(self._clock() * 1000)
        silence = parse_silence(body, now_ms)
        with self._lock:
            if len(self._silences) >= MAX_SILENCES:
                expired = [s.id for s in self._silences.values() if s.ends_at_ms <= now_ms]
                if not expired:
                    raise InvalidQuery(f"at most {MAX_SILENCES} silences; expire some first")
                self._store.put_alert_objects(SILENCE_KIND, {key: None for key in expired})
                for key in expired:
                    del self._silences[key]
            self._store.put_alert_objects(SILENCE_KIND, {silence.id: json.dumps(silence.__dict__)})
            self._silences[silence.id] = silence
        return silence.to_json(now_ms)

    def delete_silence(self, silence_id: str) -> None:
        with self._lock:
            if silence_id not in self._silences:
                raise NotFound(f"silence {silence_id!r} not found")
            self._store.put_alert_objects(SILENCE_KIND, {silence_id: None})
            del self._silences[silence_id]

    def test_receiver(self, name: str) -> dict[str, Any]:
        """Send a synthetic alert to one receiver now (raises NotifyError if it refuses)."""
        if name not in self.dispatcher.receiver_names():
            raise NotFound(f"receiver {name!r} not found")
        self.dispatcher.send_test(name, int(self._clock() * 1000), self._generator_url("SpanwiseTest"))
        return {"receiver": name, "sent": True}

    def receivers(self) -> list[dict[str, str]]:
        return [{"name": r.name, "type": r.type} for r in self.config.receivers]

    def status(self) -> dict[str, Any]:
        with self._lock:
            states = Counter(a.state for found in self._alerts.values() for a in found.values())
            return {**dict(self.stats), "rules": len(self.rules()), "firing": states[FIRING],
                    "pending": states[PENDING], "silences": len(self._silences)}


def _series(alert: Alert) -> Labels:
    """The label set a source produced for this alert (its labels without rule labels)."""
    return tuple((k, v) for k, v in alert.series)


def _first_label(alert: Alert) -> str:
    return next((k for k, _ in alert.series), "alertname")


def _history_row(alert: Alert, before: str, now_ms: int) -> dict[str, Any]:
    return {"at_ms": now_ms, "rule": alert.rule, "fingerprint": alert.fingerprint, "from_state": before,
            "to_state": alert.state, "value": alert.value, "labels": json.dumps(alert.labels, sort_keys=True)}
