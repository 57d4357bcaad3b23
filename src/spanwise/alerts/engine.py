"""The alerting component: evaluates due rules every `tick_s`, steps each label set's state
machine, records history, persists state and tells the receivers.

State lives in the store (`AlertStore`): rules made through the API, each alert's state
with its pending timer and what every receiver was already told, and silences. On start
everything is read back, so a restart neither forgets a pending or firing alert nor sends
a notification twice (at least once: a crash between a send and its record can repeat it).

Everything belongs to a project: a rule made through the API to the project it was made
in (config rules to the default project), an alert and its history to its rule's, a
silence to the project it was made in. The engine keeps all projects' state (it is the
platform's job, started and ticked as `SYSTEM`), evaluates each rule acting for its
project, so its sources read only that project's data, and writes each project's state
acting for that project. The API methods answer for the caller's project only
(`request_context.current_project()`), so one rule name lives in two projects independently.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from typing import Any, Callable

from spanwise.alerts import conditions
from spanwise.alerts.dispatch import Dispatcher, RuleKey
from spanwise.alerts.rules import RULE_KIND, parse_rule, rule_body, rule_json
from spanwise.alerts.series import rule_series
from spanwise.alerts.silences import SILENCE_KIND, Silence, parse_silence
from spanwise.alerts.sources import Labels, Sources
from spanwise.alerts.state import FIRING, PENDING, PROJECT_LABEL, Alert, render
from spanwise.errors import InvalidQuery, NotFound
from spanwise.core.alert_rules import AlertRule, AlertsConfig
from spanwise.periodic import PeriodicWorker
from spanwise.request_context import DEFAULT_PROJECT, RequestContext, acting, current, current_project, for_project
from spanwise.store.protocols import AlertStateChange, AlertStore

log = logging.getLogger(__name__)
STATE_KIND = "state"
#: Rules made through the API, per project.
MAX_API_RULES = 10_000
#: State changes waiting for a store that refused them (written on a later tick).
MAX_UNSAVED_HISTORY = 100_000
#: Silences kept at once per project (active, pending or expired; expired ones go when this is reached).
MAX_SILENCES = 1_000


class AlertEngine:
    """start()/shutdown() are idempotent; `tick()` is one evaluation cycle (tests call it)."""

    def __init__(self, config: AlertsConfig, store: AlertStore, sources: Sources,
                 clock: Callable[[], float] = time.time) -> None:
        self.config, self._store, self._sources, self._clock = config, store, sources, clock
        # The counters /api/v1/status shows are there from the start, at 0.
        self.stats: Counter[str] = Counter(evaluations=0, rule_errors=0)
        self._lock = threading.RLock()
        # Rules, alerts, silences and rule errors by (project, rule name or silence id).
        self._api_rules: dict[RuleKey, AlertRule] = {}
        self._alerts: dict[RuleKey, dict[Labels, Alert]] = {}
        self._last_eval: dict[RuleKey, float] = {}
        self._silences: dict[tuple[str, str], Silence] = {}
        self._errors: dict[RuleKey, str] = {}
        self._loaded = False
        self._unsaved: dict[tuple[str, str], Alert] = {}
        self._unsaved_history: list[tuple[str, AlertStateChange]] = []
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
        """Read back every project's rules, alerts and silences (as much as the caller
        sees: the server starts the engine as `SYSTEM`)."""
        with self._lock:
            if self._loaded:
                return
            prepare = getattr(self._store, "prepare_alerts", None)
            if prepare:
                prepare(self.config.history_days)
            for (project, name), body in self._store.alert_objects(RULE_KIND).items():
                try:
                    self._api_rules[(project, name)] = self._parse_rule(json.loads(body))
                except InvalidQuery as exc:
                    log.error("stored alert rule %s of project %s is no longer valid, skipped: %s", name, project, exc)
            for (project, old_key), body in self._store.alert_objects(STATE_KIND).items():
                alert = Alert.from_json(body)
                if alert.labels.get(PROJECT_LABEL) != project:  # kept by a build without projects
                    alert.labels[PROJECT_LABEL] = project
                    with self._acting_for(project):
                        self._store.put_alert_objects(STATE_KIND, {old_key: None, alert.key: alert.to_json()})
                self._alerts.setdefault((project, alert.rule), {})[_series(alert)] = alert
            for (project, silence_id), body in self._store.alert_objects(SILENCE_KIND).items():
                self._silences[(project, silence_id)] = Silence(**json.loads(body))
            self._loaded = True

    def _parse_rule(self, body: Any) -> AlertRule:
        """A rule checked against the configured receivers and the metrics rules may watch."""
        return parse_rule(body, {r.name for r in self.config.receivers}, self._sources.span_dimensions,
                          self._sources.custom_metrics)

    @staticmethod
    def _acting_for(project: str) -> AbstractContextManager[RequestContext]:
        """Act for `project` (the engine's own work: evaluating, saving state)."""
        return acting(for_project(project))

    # -- evaluation --

    def tick(self) -> None:
        """Evaluate every due rule, then notify."""
        self._load()
        started, cpu = time.perf_counter(), time.process_time()
        now = self._clock()
        with self._lock:
            changed: list[Alert] = []
            history: list[tuple[str, AlertStateChange]] = []
            rules = self._all_rules()
            due = 0
            for project in sorted({project for project, _ in rules}):
                with self._acting_for(project):
                    self._sources.new_cycle()  # a cached read is one project's
                    for key in [k for k in rules if k[0] == project]:
                        rule = rules[key]
                        if rule.enabled and now - self._last_eval.get(key, 0.0) >= rule.interval_s - 1e-3:
                            self._last_eval[key] = now
                            due += 1
                            self._evaluate(project, rule, now, changed, history)
            self._retire_deleted(set(rules), now, changed, history)
            self._save(changed, history)
        if due:  # the figures of the last tick that evaluated something, not of an idle one
            self.stats["eval_ms_last"] = int((time.perf_counter() - started) * 1000)
            self.stats["eval_cpu_ms_last"] = int((time.process_time() - cpu) * 1000)
            self.stats["eval_rules_last"] = due
        self.stats["store_queries"] = self._sources.queries
        self._notify(int(now * 1000))

    def _evaluate(self, project: str, rule: AlertRule, now: float, changed: list[Alert],
                  history: list[tuple[str, AlertStateChange]]) -> None:
        alerts = self._alerts.setdefault((project, rule.name), {})
        active = {labels for labels, a in alerts.items() if a.state in (PENDING, FIRING)}
        try:
            results = conditions.evaluate(rule, self._sources, int(now * 1e9), active)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
            self.stats["rule_errors"] += 1
            if self._errors.get((project, rule.name)) != str(exc):
                log.warning("alert rule %s of project %s failed: %s", rule.name, project, exc)
            self._errors[(project, rule.name)] = str(exc)
            return
        self._errors.pop((project, rule.name), None)
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
                labels = {"alertname": rule.name, **dict(result.labels), **rule.labels, PROJECT_LABEL: project}
                alert = alerts[result.labels] = Alert(rule.name, labels, series=[list(p) for p in result.labels])
            before = alert.step(result.active, result.value, now_ms, int(rule.for_s * 1000))
            alert.annotations = self._annotations(rule, alert)
            if before is not None:
                changed.append(alert)
                history.append((project, _state_change(alert, before, now_ms)))

    def _retire_deleted(self, keys: set[RuleKey], now: float, changed: list[Alert],
                        history: list[tuple[str, AlertStateChange]]) -> None:
        """Alerts of a deleted rule resolve (receivers that heard 'firing' hear 'resolved')."""
        for key in [k for k in self._alerts if k not in keys]:
            for alert in self._alerts[key].values():
                before = alert.step(False, alert.value, int(now * 1000), 0)
                if before is not None:
                    changed.append(alert)
                    history.append((key[0], _state_change(alert, before, int(now * 1000))))

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

    def _save(self, changed: list[Alert], history: list[tuple[str, AlertStateChange]]) -> None:
        """Write history and state, each project's acting for it; what a failing store
        refused is kept and written on a later tick (history up to MAX_UNSAVED_HISTORY
        rows, the oldest dropped and counted)."""
        for alert in changed:
            self._unsaved[(alert.project, alert.key)] = alert
        self._unsaved_history += history
        extra = len(self._unsaved_history) - MAX_UNSAVED_HISTORY
        if extra > 0:
            del self._unsaved_history[:extra]
            self.stats["history_rows_dropped"] += extra
        for project in sorted({project for project, _ in self._unsaved_history}):
            with self._acting_for(project):
                self._store.append_alert_history([change for p, change in self._unsaved_history if p == project])
            self._unsaved_history = [(p, change) for p, change in self._unsaved_history if p != project]
        self._persist([])

    def _persist(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self._unsaved[(alert.project, alert.key)] = alert
        for project in sorted({project for project, _ in self._unsaved}):
            pending = [a for (p, _), a in self._unsaved.items() if p == project]
            with self._acting_for(project):
                self._store.put_alert_objects(STATE_KIND, {a.key: None if a.settled() else a.to_json() for a in pending})
            for alert in pending:
                del self._unsaved[(project, alert.key)]
                if alert.settled():
                    self._alerts.get((project, alert.rule), {}).pop(_series(alert), None)
        keys = set(self._all_rules())
        for key in [k for k, found in self._alerts.items() if not found and k not in keys]:
            del self._alerts[key]

    def _notify(self, now_ms: int) -> None:
        with self._lock:
            alerts = [a for found in self._alerts.values() for a in found.values()]
            rules = self._all_rules()
        told = self.dispatcher.dispatch(alerts, rules, now_ms, self._generator_url)
        if told:
            with self._lock:
                self._persist(told)

    def _generator_url(self, rule: str) -> str:
        return f"{self.config.external_url.rstrip('/')}/alerts?rule={rule}"

    def _silenced(self, alert: Alert, now_ms: int) -> bool:
        """Only the alert's own project's silences apply to it."""
        return any(s.active(now_ms) and s.matches(alert.labels)
                   for (project, _), s in list(self._silences.items()) if project == alert.project)

    def _all_rules(self) -> dict[RuleKey, AlertRule]:
        """Every project's rules by (project, name); config rules are the default project's."""
        found: dict[RuleKey, AlertRule] = {(DEFAULT_PROJECT, r.name): r for r in self.config.rules}
        return {**found, **self._api_rules}

    # -- what the API asks (for the caller's project: `current_project()`) --

    def rules(self) -> list[AlertRule]:
        """The caller's project's rules: config rules first (the default project's), then
        API rules (a name is unique across both)."""
        project = current_project()
        config = list(self.config.rules) if project == DEFAULT_PROJECT else []
        return config + [rule for (p, _), rule in list(self._api_rules.items()) if p == project]

    def rule_states(self) -> list[dict[str, Any]]:
        project = current_project()
        with self._lock:
            config_names = {r.name for r in self.config.rules} if project == DEFAULT_PROJECT else set()
            out = []
            for rule in self.rules():
                alerts = list(self._alerts.get((project, rule.name), {}).values())
                states = [a.state for a in alerts]
                state = FIRING if FIRING in states else PENDING if PENDING in states else "inactive"
                out.append({**rule_json(rule), "source": "config" if rule.name in config_names else "api",
                            "state": state, "alerts": len([s for s in states if s in (PENDING, FIRING)]),
                            "error": self._errors.get((project, rule.name))})
            return out

    def put_rule(self, body: Any, name: str | None = None) -> dict[str, Any]:
        """Create (name None) or replace an API rule of the caller's project."""
        rule = self._parse_rule(body)
        project = current_project()
        key = (project, name or rule.name)
        with self._lock:
            if project == DEFAULT_PROJECT and any(r.name == key[1] for r in self.config.rules):
                raise InvalidQuery(f"name: rule {key[1]!r} is defined in the config file; change it there")
            if name is None and key in self._api_rules:
                raise InvalidQuery(f"name: rule {rule.name!r} exists; PUT /api/v1/alerts/rules/{rule.name} replaces it")
            if name is not None and key not in self._api_rules:
                raise NotFound(f"rule {name!r} not found")
            if name is not None and rule.name != name:
                raise InvalidQuery(f"name: the body names {rule.name!r}, the path {name!r}")
            if name is None and sum(p == project for p, _ in self._api_rules) >= MAX_API_RULES:
                raise InvalidQuery(f"at most {MAX_API_RULES} rules can be made through the API in a project")
            self._store.put_alert_objects(RULE_KIND, {rule.name: rule_body(rule)})
            self._api_rules[key] = rule
            self._last_eval.pop(key, None)
        return rule_json(rule)

    def delete_rule(self, name: str) -> None:
        key = (current_project(), name)
        with self._lock:
            if key not in self._api_rules:
                raise NotFound(f"rule {name!r} not found among the rules made through the API")
            self._store.put_alert_objects(RULE_KIND, {name: None})
            del self._api_rules[key]

    def alerts(self) -> list[dict[str, Any]]:
        """The caller's project's pending and firing alerts (and resolved ones not yet told
        to every receiver)."""
        project = current_project()
        with self._lock:
            now_ms = int(self._clock() * 1000)
            return [{**json.loads(a.to_json()), "fingerprint": a.fingerprint, "silenced": self._silenced(a, now_ms)}
                    for (p, _), found in self._alerts.items() if p == project for a in found.values()]

    def series(self, name: str, start_ns: int, end_ns: int) -> dict[str, Any]:
        """The rule's evaluated series over [start, end] (spanwise.alerts.series), read
        from the caller's project's data as the rule's evaluations are."""
        with self._lock:
            rule = next((r for r in self.rules() if r.name == name), None)
        if rule is None:
            raise NotFound(f"rule {name!r} not found")
        return rule_series(rule, self._sources.fresh(), start_ns, end_ns)

    def history(self, start_ns: int, end_ns: int, rule: str, limit: int) -> list[AlertStateChange]:
        """The caller's project's state changes (the store reads only its rows)."""
        current_project()  # fail closed: the platform's context would read every project's
        return self._store.alert_history(start_ns, end_ns, rule, limit)

    def silences(self) -> list[dict[str, Any]]:
        now_ms = int(self._clock() * 1000)
        mine = self._project_silences(current_project())
        return [s.to_json(now_ms) for s in sorted(mine.values(), key=lambda s: s.starts_at_ms)]

    def _project_silences(self, project: str) -> dict[str, Silence]:
        return {key: s for (p, key), s in list(self._silences.items()) if p == project}

    def add_silence(self, body: Any) -> dict[str, Any]:
        """A silence of the caller's project: it mutes only that project's alerts."""
        now_ms = int(self._clock() * 1000)
        silence = parse_silence(body, now_ms)
        project = current_project()
        with self._lock:
            mine = self._project_silences(project)
            if len(mine) >= MAX_SILENCES:
                expired = [key for key, s in mine.items() if s.ends_at_ms <= now_ms]
                if not expired:
                    raise InvalidQuery(f"at most {MAX_SILENCES} silences; expire some first")
                self._store.put_alert_objects(SILENCE_KIND, {key: None for key in expired})
                for key in expired:
                    del self._silences[(project, key)]
            self._store.put_alert_objects(SILENCE_KIND, {silence.id: json.dumps(silence.__dict__)})
            self._silences[(project, silence.id)] = silence
        return silence.to_json(now_ms)

    def delete_silence(self, silence_id: str) -> None:
        key = (current_project(), silence_id)
        with self._lock:
            if key not in self._silences:
                raise NotFound(f"silence {silence_id!r} not found")
            self._store.put_alert_objects(SILENCE_KIND, {silence_id: None})
            del self._silences[key]

    def test_receiver(self, name: str) -> dict[str, Any]:
        """Send a synthetic alert of the caller's project to one receiver now (raises
        NotifyError if it refuses)."""
        project = current_project()
        if name not in self.dispatcher.receiver_names():
            raise NotFound(f"receiver {name!r} not found")
        self.dispatcher.send_test(name, project, int(self._clock() * 1000), self._generator_url("SpanwiseTest"))
        return {"receiver": name, "sent": True}

    def receivers(self) -> list[dict[str, str]]:
        """Receivers are the platform's (the config file's), shared by every project."""
        return [{"name": r.name, "type": r.type} for r in self.config.receivers]

    def status(self) -> dict[str, Any]:
        """Engine counters, and the caller's project's rules, alerts and silences (every
        project's for the platform)."""
        project = current().project
        with self._lock:
            rules = self._all_rules() if project is None else {(project, r.name): r for r in self.rules()}
            states = Counter(a.state for (p, _), found in self._alerts.items() if project in (None, p)
                             for a in found.values())
            silences = sum(project in (None, p) for p, _ in self._silences)
            return {**dict(self.stats), "rules": len(rules), "firing": states[FIRING],
                    "pending": states[PENDING], "silences": silences}


def _series(alert: Alert) -> Labels:
    """The label set a source produced for this alert (its labels without rule labels)."""
    return tuple((k, v) for k, v in alert.series)


def _first_label(alert: Alert) -> str:
    return next((k for k, _ in alert.series), "alertname")


def _state_change(alert: Alert, before: str, now_ms: int) -> AlertStateChange:
    return AlertStateChange(now_ms, alert.rule, alert.fingerprint, before, alert.state, alert.value,
                            json.dumps(alert.labels, sort_keys=True))
