"""Outgoing webhooks signed per the Standard Webhooks specification with the
`standardwebhooks` library: `webhook-id`, `webhook-timestamp` and
`webhook-signature` headers over the exact body sent. The timestamp is this
machine's wall clock (receivers check it against theirs)."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

TIMEOUT_SECONDS = 5.0
USER_AGENT = "tally-webhooks/1"


class StandardWebhookSender:
    def send(self, url: str, secret: str, message_id: str, payload: str) -> tuple[int | None, str | None]:
        """POST one message; (status code, None) or (None, why it failed)."""
        now = datetime.now(UTC)
        signature = Webhook(secret).sign(message_id, now, payload)
        request = urllib.request.Request(
            url,
            data=payload.encode(),
            method="POST",
            headers={
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": message_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return int(response.status), None
        except urllib.error.HTTPError as error:
            return int(error.code), None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            return None, str(getattr(error, "reason", error))[:200]
