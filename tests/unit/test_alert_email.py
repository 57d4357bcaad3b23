"""E-mail notifications against a real SMTP server (aiosmtpd): STARTTLS with a
certificate the receiver trusts through `ca_file`, login, and a refused login."""

from __future__ import annotations

import subprocess
from email import message_from_string
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from server_process import free_port

from spanwise.alerts.notify import EmailNotifier, NotifyError
from spanwise.alerts.state import FIRING, Alert
from spanwise.core.alert_rules import ReceiverConfig


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_string(envelope.content.decode()))
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"hunter2")
    return AuthResult(success=ok, handled=False)


@pytest.fixture()
def tls_smtp(tmp_path: Path) -> Iterator[tuple[int, Inbox, str]]:
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticate, auth_require_tls=True)
    controller.start()
    yield port, inbox, str(cert)
    controller.stop()


def alert() -> Alert:
    return Alert("DiskFull", {"alertname": "DiskFull", "host": "db-1", "project": "shop"}, FIRING, 0.97, 1000, 1000,
                 annotations={"summary": "disk almost full", "description": "db-1 at 97%"})


def test_starttls_and_login(tls_smtp: tuple[int, Inbox, str]) -> None:
    port, inbox, ca = tls_smtp
    config = ReceiverConfig("mail", "email", smtp_host="127.0.0.1", smtp_port=port, starttls=True, ca_file=ca,
                            username="alerts", password="hunter2", sender="spanwise@example.com", to=["a@example.com"])
    EmailNotifier(config).send([alert()], 5000, "http://spanwise/alerts?rule=DiskFull")
    [mail] = inbox.messages
    assert mail["Subject"] == "[FIRING:1] DiskFull (project shop)" and mail["To"] == "a@example.com"
    assert "host=db-1, project=shop" in mail.get_payload() and "db-1 at 97%" in mail.get_payload()


def test_wrong_password_and_untrusted_certificate_are_errors(tls_smtp: tuple[int, Inbox, str]) -> None:
    port, inbox, ca = tls_smtp
    base = dict(smtp_host="127.0.0.1", smtp_port=port, starttls=True, username="alerts", to=["a@example.com"])
    with pytest.raises(NotifyError, match="SMTPAuthenticationError"):
        EmailNotifier(ReceiverConfig("mail", "email", password="wrong", ca_file=ca, **base)).send([alert()], 0, "")
    with pytest.raises(NotifyError, match="CERTIFICATE_VERIFY_FAILED"):
        EmailNotifier(ReceiverConfig("mail", "email", password="hunter2", **base)).send([alert()], 0, "")
    assert inbox.messages == []
