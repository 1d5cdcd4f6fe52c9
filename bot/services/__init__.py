"""Use cases: each one loads, applies a domain transition, persists and owes Slack messages via the outbox."""
