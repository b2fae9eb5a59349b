"""The pure core of tally: money, accounts, journal entries, prices, plans, rating
and the event-sourced aggregates. No I/O, no clock, no framework beyond
eventsourcing's domain module."""
