"""Argument names, required arguments and error codes of the Slack Web API methods the fake serves.

Owns the method catalogue only. Derived from the method reference data in `shared/slack/methods/*.json`
(slack-ruby/slack-api-ref, MIT, scraped from docs.slack.dev); `tests/test_fake_slack.py` checks this
copy against those files when they are present, so CI without `shared/` still has the catalogue.
Methods in `NOT_IN_REFERENCE` have no file there yet and are written from the method reference by hand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodSpec:
    required: frozenset[str]
    args: frozenset[str]
    errors: frozenset[str]
    token: str = "bot"  # the token type the method takes: "bot", or "app" (app-level, xapp-)


def _spec(required: str, args: str, errors: str, *, token: str = "bot") -> MethodSpec:
    return MethodSpec(
        frozenset(required.split()), frozenset(args.split()), frozenset(errors.split()), token=token
    )


NOT_IN_REFERENCE = frozenset(
    {"apps.connections.open", "files.getUploadURLExternal", "files.completeUploadExternal"}
)


METHODS: dict[str, MethodSpec] = {
    "apps.connections.open": _spec(
        "token",
        "token",
        "invalid_auth missing_args not_allowed_token_type",
        token="app",
    ),
    "auth.test": _spec(
        "token",
        "token",
        "internal_error invalid_auth",
    ),
    "chat.delete": _spec(
        "token ts channel",
        "token as_user channel ts",
        "cant_delete_message channel_not_found message_not_found",
    ),
    "chat.getPermalink": _spec(
        "token channel message_ts",
        "token channel message_ts",
        "channel_not_found message_not_found",
    ),
    "chat.postEphemeral": _spec(
        "token user channel",
        (
            "token as_user attachments blocks channel icon_emoji icon_url link_names markdown_text "
            "metadata parse text thread_ts user username"
        ),
        (
            "channel_not_found invalid_blocks invalid_blocks_format is_archived markdown_text_conflict "
            "message_limit_exceeded messages_tab_disabled msg_too_long no_text restricted_action "
            "too_many_attachments user_not_in_channel not_in_channel invalid_attachments "
            "cannot_reply_to_message"
        ),
    ),
    "chat.postMessage": _spec(
        "token channel",
        (
            "token as_user attachments blocks channel current_draft_last_updated_ts icon_emoji icon_url "
            "link_names markdown_text metadata mrkdwn parse reply_broadcast text thread_ts unfurl_links "
            "unfurl_media username"
        ),
        (
            "app_access_restricted as_user_not_supported channel_not_found draft_already_deleted "
            "draft_already_sent draft_has_conflict draft_not_found duplicate_channel_not_found "
            "duplicate_message_not_found ekm_access_denied invalid_blocks invalid_blocks_format "
            "invalid_metadata_format invalid_metadata_schema is_archived markdown_text_conflict "
            "message_limit_exceeded messages_tab_disabled metadata_must_be_sent_from_app "
            "metadata_too_large msg_blocks_too_long no_text not_in_channel rate_limited "
            "restricted_action restricted_action_non_threadable_channel "
            "restricted_action_read_only_channel restricted_action_thread_locked "
            "restricted_action_thread_only_channel send_on_behalf_not_allowed "
            "slack_connect_canvas_sharing_blocked slack_connect_file_link_sharing_blocked "
            "slack_connect_lists_sharing_blocked team_not_found too_many_attachments "
            "too_many_contact_cards cannot_reply_to_message missing_file_data "
            "attachment_payload_limit_exceeded"
        ),
    ),
    "chat.update": _spec(
        "token ts channel",
        (
            "token as_user attachments unfurled_attachments blocks markdown_text metadata channel "
            "link_names parse text ts reply_broadcast file_ids"
        ),
        (
            "as_user_not_supported blocked_file_type block_mismatch cant_broadcast_message "
            "cant_update_message channel_not_found edit_window_closed external_channel_migrating "
            "file_deleted file_is_deleted file_not_found file_share_limit_reached invalid_attachments "
            "invalid_blocks invalid_blocks_format invalid_metadata_format invalid_metadata_schema "
            "is_inactive markdown_text_conflict max_file_sharing_exceeded message_limit_exceeded "
            "message_not_found metadata_must_be_sent_from_app metadata_too_large msg_too_long "
            "no_dual_broadcast_content_update no_text posting_to_channel_denied "
            "slack_connect_blocked_file_type slack_connect_canvas_sharing_blocked "
            "slack_connect_clip_sharing_blocked slack_connect_file_link_sharing_blocked "
            "slack_connect_file_upload_sharing_blocked streaming_state_conflict team_not_found "
            "too_many_attachments unable_to_share_files update_failed"
        ),
    ),
    "conversations.history": _spec(
        "token channel",
        "token channel cursor include_all_metadata inclusive latest limit oldest",
        (
            "channel_is_limited_access channel_not_found invalid_cursor invalid_metadata_filter_keys "
            "invalid_ts_latest invalid_ts_oldest not_in_channel"
        ),
    ),
    "conversations.info": _spec(
        "token channel",
        "token channel include_locale include_num_members",
        "channel_is_limited_access channel_not_found missing_scope",
    ),
    "conversations.join": _spec(
        "token channel",
        "token channel",
        (
            "channel_is_limited_access channel_not_found is_archived "
            "method_not_supported_for_channel_type missing_scope too_many_members"
        ),
    ),
    "conversations.open": _spec(
        "token",
        "token channel return_im users prevent_creation",
        (
            "channel_not_found invalid_user_combination method_not_supported_for_channel_type "
            "missing_scope not_enough_users too_many_users user_disabled user_not_found "
            "user_not_visible users_list_not_supplied"
        ),
    ),
    "conversations.replies": _spec(
        "token channel ts",
        "token channel cursor include_all_metadata inclusive latest limit oldest ts",
        (
            "channel_not_found invalid_cursor invalid_metadata_filter_keys invalid_ts_latest "
            "invalid_ts_oldest missing_scope thread_not_found method_not_supported_for_channel_type "
            "list_record_comment_fetch_failed"
        ),
    ),
    # Errors as slack-ruby/slack-api-ref lists them for the method, less the ones every method shares;
    # channel_not_found and not_in_channel are what Slack answers in practice for a wrong or unjoined
    # channel (the reference lists invalid_channel).
    "files.completeUploadExternal": _spec(
        "token files",
        "token files channel_id channels initial_comment thread_ts blocks",
        (
            "invalid_channel posting_to_channel_denied file_not_found access_denied file_update_failed "
            "channel_not_found not_in_channel"
        ),
    ),
    "files.getUploadURLExternal": _spec(
        "token filename length",
        "token filename length alt_txt snippet_type",
        (
            "missing_argument storage_limit_reached file_uploads_disabled file_upload_size_restricted "
            "snippet_too_large unknown_snippet_type unknown_subtype alt_txt_too_large"
        ),
    ),
    "files.info": _spec(
        "token file",
        "token count cursor file limit page",
        (
            "access_denied file_deleted file_not_found canvas_globally_disabled "
            "canvas_disabled_user_team canvas_disabled_file_team not_visible template_not_visible "
            "slack_connect_canvas_sharing_blocked"
        ),
    ),
    "reactions.add": _spec(
        "token name timestamp channel",
        "channel name timestamp token",
        (
            "already_reacted bad_timestamp channel_not_found external_channel_migrating invalid_name "
            "is_archived message_not_found no_item_specified not_reactable thread_locked too_many_emoji "
            "too_many_reactions no_access"
        ),
    ),
    "team.info": _spec(
        "token",
        "token domain team",
        (
            "enterprise_not_found fail_to_get_teams_for_restricted_user missing_user org_not_found "
            "team_not_found team_not_on_enterprise user_not_found"
        ),
    ),
    "usergroups.list": _spec(
        "token",
        "token include_count include_disabled include_users team_id",
        "missing_argument plan_upgrade_required invalid_cursor users_not_found invalid_team",
    ),
    "usergroups.users.list": _spec(
        "token usergroup",
        "token include_disabled usergroup team_id",
        "no_such_subteam plan_upgrade_required invalid_cursor",
    ),
    "users.info": _spec(
        "token user",
        "token include_locale user",
        "too_many_users user_not_found user_not_visible",
    ),
    "views.open": _spec(
        "token view",
        "token trigger_id interactivity_pointer view",
        ("duplicate_external_id exchanged_trigger_id expired_trigger_id invalid_trigger_id view_too_large"),
    ),
    "views.publish": _spec(
        "token user_id view",
        "token user_id view hash interactivity_pointer",
        (
            "duplicate_external_id hash_conflict missing_profile_id not_allowed_token_type not_enabled "
            "not_implemented view_too_large"
        ),
    ),
    "views.push": _spec(
        "token view",
        "token trigger_id interactivity_pointer view",
        (
            "duplicate_external_id exchanged_trigger_id expired_trigger_id invalid_trigger_id not_found "
            "push_limit_reached view_too_large"
        ),
    ),
    "views.update": _spec(
        "token view",
        "token view_id external_id view hash",
        "duplicate_external_id hash_conflict not_found view_too_large",
    ),
}
