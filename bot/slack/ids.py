"""Every Slack command, callback, action and block ID Postgate uses. `tests/test_manifest.py` checks them
against `manifest.yml` and the registered listeners."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    POST = "/post"


class Shortcut(StrEnum):
    NEW_POST = "postgate_new_post"
    DRAFT_FROM_MESSAGE = "postgate_draft_from_message"


class ViewId(StrEnum):
    COMPOSE = "postgate_compose"
    REJECT_REASON = "postgate_reject_reason"
    REQUEST_CHANGES = "postgate_request_changes"
    RESCHEDULE = "postgate_reschedule"
    HISTORY = "postgate_history"
    SETTINGS = "postgate_settings"
    SETTINGS_RULE = "postgate_settings_rule"
    SETTINGS_KEY = "postgate_settings_key"


class Action(StrEnum):
    APPROVE = "postgate_approve"
    REJECT = "postgate_reject"
    REQUEST_CHANGES = "postgate_request_changes"
    CANCEL = "postgate_cancel"
    EDIT = "postgate_edit"
    WITHDRAW = "postgate_withdraw"
    RESCHEDULE = "postgate_reschedule"
    PUBLISH_NOW = "postgate_publish_now"
    RETRY = "postgate_retry"
    HISTORY = "postgate_history"
    OPEN_SETTINGS = "postgate_open_settings"
    ADD_RULE = "postgate_add_rule"
    REMOVE_RULE = "postgate_remove_rule"
    ENTER_KEY = "postgate_enter_key"
    REMOVE_KEY = "postgate_remove_key"
    HOME_REFRESH = "postgate_home_refresh"
    # Inputs inside the compose modal (their values arrive with the submission, not as actions).
    TEXT = "postgate_text"
    TARGETS = "postgate_targets"
    WHEN = "postgate_when"
    PUBLISH_AT = "postgate_publish_at"
    QUEUE = "postgate_queue"
    MEDIA_FILES = "postgate_media_files"
    MEDIA_URLS = "postgate_media_urls"
    REJECT_REASON = "postgate_reject_reason_input"
    CHANGES_COMMENT = "postgate_changes_comment"
    NEW_TIME = "postgate_new_time"
    OVERRIDE_X = "postgate_override_x"
    OVERRIDE_OTHER = "postgate_override_other"
    FIRST_COMMENT = "postgate_first_comment"
    # Settings modal inputs.
    SETTINGS_CHANNEL = "postgate_settings_channel"
    SETTINGS_APPROVERS = "postgate_settings_approvers"
    SETTINGS_GROUPS = "postgate_settings_groups"
    SETTINGS_REQUIRED = "postgate_settings_required"
    SETTINGS_SELF_APPROVAL = "postgate_settings_self_approval"
    SETTINGS_REMIND_AFTER = "postgate_settings_remind_after"
    SETTINGS_REMIND_BEFORE = "postgate_settings_remind_before"
    SETTINGS_TZ = "postgate_settings_tz"
    SETTINGS_HOURS_START = "postgate_settings_hours_start"
    SETTINGS_HOURS_END = "postgate_settings_hours_end"
    SETTINGS_DAYS = "postgate_settings_days"
    SETTINGS_PROVIDERS = "postgate_settings_providers"
    SETTINGS_ACCOUNTS = "postgate_settings_accounts"
    SETTINGS_DIGEST = "postgate_settings_digest"
    SETTINGS_ADMINS = "postgate_settings_admins"
    RULE_SCOPE = "postgate_rule_scope"
    RULE_APPROVERS = "postgate_rule_approvers"
    RULE_GROUPS = "postgate_rule_groups"
    RULE_REQUIRED = "postgate_rule_required"
    # Provider key modal inputs.
    KEY_API = "postgate_key_api"
    KEY_WORKSPACE = "postgate_key_workspace"
    KEY_WORKSPACE_PICK = "postgate_key_workspace_pick"
    KEY_WEBHOOK = "postgate_key_webhook"


class Block(StrEnum):
    TEXT = "text"
    TARGETS = "targets"
    WHEN = "when"
    PUBLISH_AT = "publish_at"
    QUEUE = "queue"
    MEDIA_FILES = "media_files"
    MEDIA_URLS = "media_urls"
    REJECT_REASON = "reject_reason"
    CHANGES_COMMENT = "changes_comment"
    NEW_TIME = "new_time"
    OVERRIDE_X = "override_x"
    OVERRIDE_OTHER = "override_other"
    FIRST_COMMENT = "first_comment"
    DECISION_ACTIONS = "decision_actions"
    POST_ACTIONS = "post_actions"
    SETTINGS_CHANNEL = "settings_channel"
    SETTINGS_APPROVERS = "settings_approvers"
    SETTINGS_GROUPS = "settings_groups"
    SETTINGS_REQUIRED = "settings_required"
    SETTINGS_SELF_APPROVAL = "settings_self_approval"
    SETTINGS_REMIND_AFTER = "settings_remind_after"
    SETTINGS_REMIND_BEFORE = "settings_remind_before"
    SETTINGS_TZ = "settings_tz"
    SETTINGS_HOURS_START = "settings_hours_start"
    SETTINGS_HOURS_END = "settings_hours_end"
    SETTINGS_DAYS = "settings_days"
    SETTINGS_PROVIDERS = "settings_providers"
    SETTINGS_ACCOUNTS = "settings_accounts"
    SETTINGS_DIGEST = "settings_digest"
    SETTINGS_ADMINS = "settings_admins"
    RULE_SCOPE = "rule_scope"
    RULE_APPROVERS = "rule_approvers"
    RULE_GROUPS = "rule_groups"
    RULE_REQUIRED = "rule_required"
    KEY_API = "key_api"
    KEY_WORKSPACE = "key_workspace"
    KEY_WEBHOOK = "key_webhook"


class WhenChoice(StrEnum):
    ON_APPROVAL = "on_approval"
    AT_TIME = "at_time"
    QUEUE = "queue"
