"""The SMS gateway interface: an HTTP provider set by configuration, or the local sink.

`SMS_GATEWAY=sink` (the default) records each message in the `sms_sink` table, in the delivery's
own transaction, so development and tests read what would have been sent. `SMS_GATEWAY=http`
POSTs JSON to `SMS_PROVIDER_URL` with `SMS_PROVIDER_TOKEN`; the message id travels as the
idempotency key, so a provider that saw a message already does not send it twice.
"""

from __future__ import annotations

from typing import Protocol

import requests
from flask import current_app
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.notify.models import SinkMessage


class GatewayError(Exception):
    """The provider did not take the message (network, timeout, non-2xx): try again later."""


class Gateway(Protocol):
    """Sends one text message; answers the provider's reference for it."""

    def send(self, message_id: int, phone: str, text: str) -> str:
        """Send `text` to `phone`; `message_id` is the idempotency key. Raise GatewayError."""
        ...


class SinkGateway:
    """Records each message instead of sending it: once per message (a unique message id)."""

    def send(self, message_id: int, phone: str, text: str) -> str:
        """Write the message to sms_sink in the caller's transaction."""
        stmt = (
            insert(SinkMessage)
            .values(message_id=message_id, phone=phone, text=text)
            .on_conflict_do_nothing(index_elements=["message_id"])
        )
        db.session.execute(stmt)
        return f"sink-{message_id}"


class HttpGateway:
    """A provider's HTTP API: a JSON POST with a bearer token and a timeout."""

    def __init__(self, url: str, token: str | None, timeout: float = 10.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, message_id: int, phone: str, text: str) -> str:
        """POST {"id", "phone", "text"}; a 2xx answer's "id" (or "ref") is the reference."""
        headers = {"Idempotency-Key": f"gridgov-sms-{message_id}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"id": f"gridgov-sms-{message_id}", "phone": phone, "text": text}
        try:
            response = requests.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise GatewayError(f"provider unreachable: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise GatewayError(f"provider answered {response.status_code}: {response.text[:200]}")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        ref = answer.get("id") or answer.get("ref") if isinstance(answer, dict) else None
        return str(ref or f"http-{message_id}")[:100]


def gateway() -> Gateway:
    """The configured gateway (SMS_GATEWAY, SMS_PROVIDER_URL, SMS_PROVIDER_TOKEN)."""
    config = current_app.config
    if config["SMS_GATEWAY"] == "http":
        return HttpGateway(
            config["SMS_PROVIDER_URL"],
            config["SMS_PROVIDER_TOKEN"],
            config["SMS_PROVIDER_TIMEOUT"],
        )
    return SinkGateway()
