import sys
import threading
import uuid

from engagement.backends.base import BaseSmsBackend, OutgoingSms


class ConsoleBackend(BaseSmsBackend):
    """Writes each message to stdout (the development default): nothing leaves the machine."""

    def __init__(self, stream=None, **kwargs):
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send(self, message: OutgoingSms) -> str:
        provider_id = f"console-{uuid.uuid4().hex}"
        with self._lock:
            self.stream.write(
                f"SMS {provider_id}\nFrom: {message.from_number}\nTo: {message.to_number}\n\n"
                f"{message.body}\n{'-' * 40}\n"
            )
            self.stream.flush()
        return provider_id
