"""Deliver one text message through the gateway, once (the worker's job calls this).

The message row is locked for the whole attempt (SELECT ... FOR UPDATE), so two runs of the same
job (a retry racing a worker that was thought dead) take turns, and the second finds it sent and
does nothing. The message id is the provider's idempotency key: a run that sent but died before
its commit is repeated, and the provider drops the repeat (at-least-once to the provider, once to
the sink, whose row commits with the `sent` state).
"""

from __future__ import annotations

from sqlalchemy import select

from app.core import clock
from app.extensions import db
from app.notify.models import SmsMessage
from app.notify.sms import Gateway
from app.notify.sms import GatewayError


def deliver(message_id: int, gateway: Gateway, *, last_attempt: bool = False) -> str | None:
    """Send the message unless it is already sent; answer the provider's reference (or None).

    A GatewayError is raised again after noting the attempt on the row (the caller commits that
    and lets the job retry); on the last attempt the message is marked failed.
    """
    message = db.session.scalar(
        select(SmsMessage).where(SmsMessage.id == message_id).with_for_update()
    )
    if message is None or message.state in ("sent", "skipped"):
        return None
    message.attempts += 1
    try:
        ref = gateway.send(message.id, message.phone, message.text)
    except GatewayError as exc:
        message.error = str(exc)[:500]
        if last_attempt:
            message.state = "failed"
        db.session.flush()
        raise
    message.state = "sent"
    message.sent_at = clock.now()
    message.provider_ref = ref
    message.error = None
    db.session.flush()
    return ref
