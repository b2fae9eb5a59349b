"""What an operator watches: Prometheus metrics, one log line per request,
and OpenTelemetry traces when an OTLP endpoint is configured."""
