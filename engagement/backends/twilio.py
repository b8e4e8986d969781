"""Twilio's Messages API: SMS_BACKEND=engagement.backends.twilio.TwilioBackend in production.

Needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN; TWILIO_API_BASE_URL points elsewhere for tests.
Standard library only (urllib), so the production image needs no extra client package.
"""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from engagement.backends.base import BaseSmsBackend, OutgoingSms, SmsBackendError, SmsRejected


class TwilioBackend(BaseSmsBackend):
    def __init__(
        self,
        account_sid: str = "",
        auth_token: str = "",
        api_base_url: str = "",
        timeout_s: float = 10,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.api_base_url = (api_base_url or settings.TWILIO_API_BASE_URL).rstrip("/")
        self.timeout_s = timeout_s
        if not self.account_sid or not self.auth_token:
            raise ImproperlyConfigured("TwilioBackend needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")

    def send(self, message: OutgoingSms) -> str:
        fields = {"From": message.from_number, "To": message.to_number, "Body": message.body}
        if message.status_callback_url:
            fields["StatusCallback"] = message.status_callback_url
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(
            f"{self.api_base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Authorization": f"Basic {credentials}", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            detail = _error_detail(error)
            if 400 <= error.code < 500 and error.code != 429:
                raise SmsRejected(f"Twilio refused the message: {detail}", code=detail.get("code")) from None
            raise SmsBackendError(f"Twilio answered {error.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise SmsBackendError(f"Twilio could not be reached: {error}") from None
        except ValueError:
            raise SmsBackendError("Twilio's answer was not JSON.") from None
        sid = body.get("sid")
        if not sid:
            raise SmsBackendError("Twilio's answer has no message sid.")
        return sid


def _error_detail(error: urllib.error.HTTPError) -> dict:
    try:
        detail = json.loads(error.read() or b"{}")
    except ValueError:
        return {"status": error.code}
    return {"code": str(detail.get("code", "")), "message": str(detail.get("message", ""))[:200]}
