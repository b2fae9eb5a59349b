"""Use cases: the eventsourcing application and the ports it needs."""
