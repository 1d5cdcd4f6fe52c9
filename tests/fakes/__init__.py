"""Fakes of the outside services Postgate talks to (Slack, the publishing API), for tests."""
