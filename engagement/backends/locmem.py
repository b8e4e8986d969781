"""A backend that keeps sent messages in memory, like Django's `mail.outbox`, for tests."""

import uuid

from engagement.backends.base import BaseSmsBackend, OutgoingSms

outbox: list[OutgoingSms] = []


class LocMemBackend(BaseSmsBackend):
    """Appends each message to `engagement.backends.locmem.outbox`; nothing is sent."""

    def send(self, message: OutgoingSms) -> str:
        outbox.append(message)
        return f"locmem-{uuid.uuid4().hex}"
