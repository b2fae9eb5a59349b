"""tally's Python client: batched usage, authorizations, balances, and meter()
for OpenAI and Anthropic client objects."""

from tally_client.batching import BufferStats, UsageBuffer
from tally_client.client import Authorization, Balance, TallyClient
from tally_client.errors import AuthorizationDenied, TallyError
from tally_client.metering import event_id, meter
from tally_client.transport import Transport
from tally_client.usage_formats import tally_units

__all__ = [
    "Authorization",
    "AuthorizationDenied",
    "Balance",
    "BufferStats",
    "TallyClient",
    "TallyError",
    "Transport",
    "UsageBuffer",
    "event_id",
    "meter",
    "tally_units",
]
__version__ = "0.1.0"
