"""Who is told what, and when: one notification per state change (firing, resolved), a
repeat while firing, grouping of a rule's alerts that are due together (a group never
mixes projects: a rule is one project's), silences, and retries with exponential back-off.

Nothing is marked as told until the receiver accepted it, so a failed send is tried again
on a later tick (after the receiver's back-off); `Alert.sent` records per receiver the
state told and when, and is persisted by the engine.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable

from spanwise.alerts.notify import NotifyError, Notifier, build_notifier
from spanwise.alerts.state import FIRING, PROJECT_LABEL, RESOLVED, Alert
from spanwise.core.alert_rules import AlertRule, AlertsConfig, ReceiverConfig

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 60.0
#: A rule is known by its project and name.
RuleKey = tuple[str, str]


class Dispatcher:
    def __init__(self, config: AlertsConfig, silenced: Callable[[Alert, int], bool],
                 stats: Counter[str]) -> None:
        self.config, self._silenced, self.stats = config, silenced, stats
        self._receivers: dict[str, tuple[ReceiverConfig, Notifier]] = {
            r.name: (r, build_notifier(r)) for r in config.receivers}
        self._failures: Counter[str] = Counter()
        self._retry_at: dict[str, float] = {}

    def receiver_names(self) -> list[str]:
        return list(self._receivers)

    def dispatch(self, alerts: list[Alert], rules: dict[RuleKey, AlertRule], now_ms: int,
                 generator_url: Callable[[str], str]) -> list[Alert]:
        """Send what is due to every receiver; the alerts whose `sent` changed."""
        told: dict[tuple[str, str], Alert] = {}
        for name, (config, notifier) in self._receivers.items():
            if time.monotonic() < self._retry_at.get(name, 0.0):
                continue
            groups: dict[RuleKey, list[Alert]] = {}
            for alert in alerts:
                rule = rules.get((alert.project, alert.rule))
                wanted = rule is None or not rule.receivers or name in rule.receivers
                if wanted and self._due(alert, config, now_ms):
                    groups.setdefault((alert.project, alert.rule), []).append(alert)
            for (_, rule_name), group in sorted(groups.items()):
                if not self._send(config, notifier, group, now_ms, generator_url(rule_name)):
                    break
                for alert in group:
                    alert.sent[name] = {"state": alert.state, "at_ms": now_ms}
                    told[(alert.project, alert.key)] = alert
        return list(told.values())

    def send_test(self, name: str, project: str, now_ms: int, generator_url: str) -> None:
        """Send a synthetic firing alert of `project` to one receiver now; raises NotifyError."""
        config, notifier = self._receivers[name]
        labels = {"alertname": "SpanwiseTest", "receiver": name, "severity": "none", PROJECT_LABEL: project}
        alert = Alert("SpanwiseTest", labels, FIRING, 1.0, now_ms, now_ms,
                      annotations={"summary": "Test notification from Spanwise"})
        notifier.send([alert], now_ms + 5 * 60_000, generator_url)

    def _due(self, alert: Alert, config: ReceiverConfig, now_ms: int) -> bool:
        told = alert.sent.get(config.name)
        if alert.state == RESOLVED:
            return bool(told and told["state"] == FIRING)
        if alert.state != FIRING or self._silenced(alert, now_ms):
            return False
        if not told or told["state"] != FIRING:
            return True
        return now_ms - int(told["at_ms"]) >= self._repeat_s(config) * 1000

    def _repeat_s(self, config: ReceiverConfig) -> float:
        """Alertmanager forgets an alert at its endsAt: re-send well before, as Prometheus does."""
        if config.type == "alertmanager":
            return min(self.config.alertmanager_resend_s, self.config.repeat_interval_s)
        return self.config.repeat_interval_s

    def _send(self, config: ReceiverConfig, notifier: Notifier, group: list[Alert], now_ms: int, url: str) -> bool:
        """Try now and `max_retries` more times with doubling waits; on failure, back off
        this receiver (doubling per failed tick, at most a minute) and report False."""
        ends_at = now_ms + int(4 * self._repeat_s(config) * 1000)
        wait = config.backoff_s
        for attempt in range(config.max_retries + 1):
            try:
                notifier.send(group, ends_at, url)
            except NotifyError as exc:
                self.stats["notify_errors"] += 1
                log.warning("alert notification to %s failed (attempt %d): %s", config.name, attempt + 1, exc)
                if attempt < config.max_retries:
                    time.sleep(min(wait, MAX_BACKOFF_S))
                    wait *= 2
                continue
            self._failures[config.name] = 0
            self.stats["notifications_sent"] += 1
            return True
        self._failures[config.name] += 1
        self.stats["notifications_failed"] += 1
        delay = min(config.backoff_s * 2 ** self._failures[config.name], MAX_BACKOFF_S)
        self._retry_at[config.name] = time.monotonic() + delay
        return False
