"""Pure domain: post states, the approval state machine, networks and draft rules. No Slack, HTTP or DB."""
