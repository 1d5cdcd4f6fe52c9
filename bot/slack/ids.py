"""Every Slack command, callback, action and block ID Postgate uses. `tests/test_manifest.py` checks them
against `manifest.yml` and the registered listeners."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    POST = "/post"


class Shortcut(StrEnum):
    NEW_POST = "postgate_new_post"


class ViewId(StrEnum):
    COMPOSE = "postgate_compose"
    REJECT_REASON = "postgate_reject_reason"


class Action(StrEnum):
    APPROVE = "postgate_approve"
    REJECT = "postgate_reject"
    CANCEL = "postgate_cancel"
    # Inputs inside the compose modal (their values arrive with the submission, not as actions).
    TEXT = "postgate_text"
    TARGETS = "postgate_targets"
    WHEN = "postgate_when"
    PUBLISH_AT = "postgate_publish_at"
    QUEUE = "postgate_queue"
    MEDIA_FILES = "postgate_media_files"
    MEDIA_URLS = "postgate_media_urls"
    REJECT_REASON = "postgate_reject_reason_input"


class Block(StrEnum):
    TEXT = "text"
    TARGETS = "targets"
    WHEN = "when"
    PUBLISH_AT = "publish_at"
    QUEUE = "queue"
    MEDIA_FILES = "media_files"
    MEDIA_URLS = "media_urls"
    REJECT_REASON = "reject_reason"
    DECISION_ACTIONS = "decision_actions"
    POST_ACTIONS = "post_actions"


class WhenChoice(StrEnum):
    ON_APPROVAL = "on_approval"
    AT_TIME = "at_time"
    QUEUE = "queue"
