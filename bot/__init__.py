"""Postgate: draft social-media posts in Slack, approve them in a thread, publish them on time."""

__version__ = "0.1.0"
