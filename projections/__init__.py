"""Read models rebuilt from the event stream: followed in batches with
exactly-once tracking, dropped and rebuilt at will."""
