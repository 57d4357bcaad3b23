"""Notifiers behind one Protocol: Prometheus Alertmanager (v2 API), a signed JSON webhook,
a Slack incoming webhook and e-mail over SMTP. Each sends one group of alerts (alerts of
one rule that changed together) and raises `NotifyError` when the receiver did not accept.
Every alert's labels name its project (`project`), and so does every group's header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from spanwise.alerts.state import FIRING, PROJECT_LABEL, Alert
from spanwise.errors import RetryableError
from spanwise.core.alert_rules import ReceiverConfig

SIGNATURE_HEADER = "X-Spanwise-Signature"


class NotifyError(RetryableError):
    """A receiver did not accept a notification (network, status, SMTP error)."""


class Notifier(Protocol):
    name: str

    def send(self, alerts: list[Alert], ends_at_ms: int, generator_url: str) -> None:
        """Deliver one group; `ends_at_ms` is when a firing alert expires unless re-sent."""
        ...


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")


def alert_json(alert: Alert, ends_at_ms: int, generator_url: str) -> dict[str, Any]:
    """One alert as Alertmanager's v2 API (and its webhook format) has it."""
    firing = alert.state == FIRING
    return {
        "status": "firing" if firing else "resolved",
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": iso(alert.fired_at_ms or alert.active_at_ms),
        "endsAt": iso(ends_at_ms if firing else alert.resolved_at_ms),
        "generatorURL": generator_url,
        "fingerprint": alert.fingerprint,
        "value": alert.value,
    }


def build_notifier(config: ReceiverConfig) -> Notifier:
    if config.type == "alertmanager":
        return AlertmanagerNotifier(config)
    if config.type == "webhook":
        return WebhookNotifier(config)
    return SlackNotifier(config) if config.type == "slack" else EmailNotifier(config)


class _Http:
    def __init__(self, config: ReceiverConfig) -> None:
        self.name, self.config = config.name, config

    def _post(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            response = httpx.post(url, content=body, timeout=self.config.timeout_s,
                                  headers={"Content-Type": "application/json", **(headers or {})})
        except httpx.HTTPError as exc:
            raise NotifyError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise NotifyError(f"{self.name}: HTTP {response.status_code}: {response.text[:200]}")


class AlertmanagerNotifier(_Http):
    """POST /api/v2/alerts, as Prometheus does; Alertmanager routes, groups and dedupes."""

    def send(self, alerts: list[Alert], ends_at_ms: int, generator_url: str) -> None:
        payload = [{k: v for k, v in alert_json(a, ends_at_ms, generator_url).items()
                    if k in ("labels", "annotations", "startsAt", "endsAt", "generatorURL")} for a in alerts]
        self._post(self.config.url.rstrip("/") + "/api/v2/alerts", json.dumps(payload).encode())


def group_payload(receiver: str, alerts: list[Alert], ends_at_ms: int, generator_url: str) -> dict[str, Any]:
    """Alertmanager's webhook body shape, so existing webhook consumers understand it."""
    firing = any(a.state == FIRING for a in alerts)
    common = dict(set.intersection(*(set(a.labels.items()) for a in alerts))) if alerts else {}
    return {
        "version": "4", "receiver": receiver, "status": "firing" if firing else "resolved",
        "groupLabels": {"alertname": alerts[0].rule, PROJECT_LABEL: alerts[0].project} if alerts else {},
        "commonLabels": common,
        "externalURL": generator_url, "alerts": [alert_json(a, ends_at_ms, generator_url) for a in alerts],
    }


class WebhookNotifier(_Http):
    """JSON with an HMAC-SHA256 of the exact body: `X-Spanwise-Signature: sha256=<hex>`."""

    def send(self, alerts: list[Alert], ends_at_ms: int, generator_url: str) -> None:
        body = json.dumps(group_payload(self.name, alerts, ends_at_ms, generator_url)).encode()
        secret = self.config.secret or (os.environ.get(self.config.secret_env, "") if self.config.secret_env else "")
        headers = {SIGNATURE_HEADER: "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()} if secret else {}
        self._post(self.config.url, body, headers)


def summary_lines(alerts: list[Alert]) -> list[str]:
    return [f"[{a.state.upper()}] {a.rule} {_labels_text(a.labels)} value={a.value:.4g}"
            + (f": {a.annotations['summary']}" if a.annotations.get("summary") else "") for a in alerts]


def subject(alerts: list[Alert]) -> str:
    firing = sum(a.state == FIRING for a in alerts)
    status = f"FIRING:{firing}" if firing else "RESOLVED"
    if not alerts:
        return "[spanwise]"
    project = alerts[0].labels.get(PROJECT_LABEL)
    return f"[{status}] {alerts[0].rule}" + (f" (project {project})" if project else "")


class SlackNotifier(_Http):
    """Slack's incoming-webhook format: `text` with one line per alert."""

    def send(self, alerts: list[Alert], ends_at_ms: int, generator_url: str) -> None:
        text = "\n".join([f"*{subject(alerts)}*", *summary_lines(alerts), f"<{generator_url}|Open in Spanwise>"])
        self._post(self.config.url, json.dumps({"text": text}).encode())


class EmailNotifier:
    """One mail per group over SMTP, with STARTTLS and login when configured."""

    def __init__(self, config: ReceiverConfig) -> None:
        self.name, self.config = config.name, config

    def send(self, alerts: list[Alert], ends_at_ms: int, generator_url: str) -> None:
        c = self.config
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject(alerts), c.sender, ", ".join(c.to)
        details = [f"{a.rule}: {a.annotations.get('description', '')}" for a in alerts if a.annotations.get("description")]
        message.set_content("\n".join([*summary_lines(alerts), "", *details, "", generator_url]))
        try:
            with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout_s) as smtp:
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=c.ca_file or None))
                if c.username:
                    smtp.login(c.username, c.password or os.environ.get(c.password_env, ""))
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"{self.name}: {type(exc).__name__}: {exc}") from exc


def _labels_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname") + "}"
