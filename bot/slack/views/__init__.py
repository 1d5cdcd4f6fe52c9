"""Block Kit built in one place, from typed `slack_sdk.models` objects.

Builders are pure: data in, blocks out.
"""
