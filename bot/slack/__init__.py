"""Everything that speaks Slack: the Bolt app, listeners, Block Kit views, and the IDs that bind them."""
