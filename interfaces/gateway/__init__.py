"""The gateway: the providers' own APIs, metered in flight."""
