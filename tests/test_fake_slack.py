"""The Slack test harness itself: `FakeSlack` must fail where real Slack fails, and `SlackClient` must
send what real Slack sends. Everything goes through real `slack_sdk` / Bolt code over loopback HTTP."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from zoneinfo import ZoneInfo

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_catalog import METHODS, NOT_IN_REFERENCE
from tests.fakes.slack_client import SlackClient
from tests.fakes.slack_socket_mode import accept_key

SECRET = "test-signing-secret"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
GENERAL, PRIVATE, SECRET_ROOM, PUBLIC_UNJOINED = "C0GENERAL", "C0PRIVATE", "C0SECRET", "C0PUBLIC"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str, text: str = "Go", value: str = "v") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": plain(text), "value": value}


def text_input(block_id: str, **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(block_id.title()),
        "element": {"type": "plain_text_input", "action_id": f"{block_id}_input", **element},
    }


def an_input(
    block_id: str, kind: str, action_id: str, *, optional: bool = False, **element: Any
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(block_id.title()),
        "optional": optional,
        "element": {"type": kind, "action_id": action_id, **element},
    }


def modal(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "compose",
        "title": plain("New post"),
        "submit": plain("Send"),
    } | {
        "blocks": list(blocks),
        **extra,
    }


def api_error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        call()
    data: dict[str, Any] = caught.value.response.data
    return data


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        slack.add_user(ALICE, "alice")
        slack.add_user(BOB, "bob", tz="America/Los_Angeles", is_admin=True)
        slack.add_user(CAROL, "carol")
        slack.add_channel(GENERAL, "general", members=[ALICE, BOB])
        slack.add_channel(PRIVATE, "approvals", members=[ALICE], is_private=True)
        slack.add_channel(SECRET_ROOM, "secret", members=[ALICE], is_private=True, bot_is_member=False)
        slack.add_channel(PUBLIC_UNJOINED, "random", members=[ALICE], bot_is_member=False)
        yield slack


@pytest.fixture
def web(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.bot_token, base_url=fake.url)


# Web API basics


def test_auth_test_and_tokens(fake: FakeSlack, web: WebClient) -> None:
    info = web.auth_test()
    assert (info["team_id"], info["user_id"], info["bot_id"]) == ("T0POSTGATE", "U0BOT", "B0BOT")
    assert api_error(WebClient(base_url=fake.url).auth_test)["error"] == "not_authed"
    assert api_error(WebClient(token="xoxb-wrong", base_url=fake.url).auth_test)["error"] == "invalid_auth"
    response = httpx.post(fake.url + "chat.nope", headers={"Authorization": f"Bearer {fake.bot_token}"})
    assert response.status_code == 200
    assert response.json() == {"ok": False, "error": "unknown_method", "req_method": "chat.nope"}


def test_misspelled_argument_fails_loudly(fake: FakeSlack, web: WebClient) -> None:
    data = api_error(lambda: web.chat_postMessage(channel=GENERAL, text="hi", thread_tss="1.2"))
    assert data["error"] == "invalid_arguments"
    assert any("thread_tss" in m for m in data["response_metadata"]["messages"])
    assert fake.messages(GENERAL) == []
    assert fake.calls("chat.postMessage")[-1]["error"] == "invalid_arguments"


def test_missing_arguments_use_the_specific_error(web: WebClient) -> None:
    assert (
        api_error(lambda: web.api_call("chat.postMessage", json={"text": "x"}))["error"]
        == "channel_not_found"
    )
    assert api_error(lambda: web.api_call("users.info", params={}))["error"] == "user_not_found"
    assert (
        api_error(lambda: web.api_call("chat.update", json={"channel": GENERAL}))["error"]
        == "message_not_found"
    )
    data = api_error(lambda: web.api_call("views.publish", json={"view": {"type": "home", "blocks": []}}))
    assert data["error"] == "invalid_arguments"
    assert "user_id" in data["response_metadata"]["messages"][0]
    assert (
        api_error(lambda: web.api_call("chat.postMessage", json={"channel": GENERAL}))["error"] == "no_text"
    )


def test_form_bodies_with_json_strings_are_decoded(fake: FakeSlack, web: WebClient) -> None:
    blocks = [section("*hello*")]
    params = {"channel": GENERAL, "text": "hello", "blocks": json.dumps(blocks)}
    posted = web.api_call("chat.postMessage", params=params)
    assert fake.calls("chat.postMessage")[0]["params"]["blocks"] == blocks
    assert fake.message(GENERAL, posted["ts"])["blocks"][0]["text"]["text"] == "*hello*"
    bad = {"channel": GENERAL, "blocks": "[{not json"}
    assert api_error(lambda: web.api_call("chat.postMessage", params=bad))["error"] == "invalid_blocks_format"


# Messages and threads


def test_threads_history_and_permalinks(fake: FakeSlack, web: WebClient) -> None:
    root = web.chat_postMessage(
        channel=GENERAL, text="draft", metadata={"event_type": "post", "event_payload": {}}
    )
    first = web.chat_postMessage(channel=GENERAL, text="approved", thread_ts=root["ts"])
    fake.add_message(GENERAL, user=ALICE, text="thanks", thread_ts=root["ts"])
    assert api_error(lambda: web.chat_postMessage(channel=GENERAL, text="x", thread_ts=first["ts"]))[
        "error"
    ] == ("thread_not_found")
    assert api_error(lambda: web.chat_postMessage(channel=GENERAL, text="x", thread_ts="1.000001"))[
        "error"
    ] == ("thread_not_found")
    [stored] = fake.messages(GENERAL)
    assert (stored["reply_count"], stored["reply_users"], stored["edits"]) == (2, [ALICE, "U0BOT"], 0)
    assert [r["text"] for r in fake.replies(GENERAL, root["ts"])] == ["approved", "thanks"]
    replies = web.conversations_replies(channel=GENERAL, ts=root["ts"])["messages"]
    assert [m["text"] for m in replies] == ["draft", "approved", "thanks"]
    history = web.conversations_history(channel=GENERAL)["messages"]
    assert [m["text"] for m in history] == ["draft"] and "metadata" not in history[0]
    with_meta = web.conversations_history(channel=GENERAL, include_all_metadata=True)["messages"]
    assert with_meta[0]["metadata"]["event_type"] == "post"
    link = web.chat_getPermalink(channel=GENERAL, message_ts=root["ts"])["permalink"]
    assert link == f"https://fake.slack.test/archives/{GENERAL}/p{root['ts'].replace('.', '')}"


def test_channel_membership_rules(fake: FakeSlack, web: WebClient) -> None:
    assert api_error(lambda: web.chat_postMessage(channel="C0NOPE", text="x"))["error"] == "channel_not_found"
    assert api_error(lambda: web.chat_postMessage(channel=SECRET_ROOM, text="x"))["error"] == "not_in_channel"
    web.chat_postMessage(channel=PUBLIC_UNJOINED, text="chat:write.public allows this")
    assert api_error(lambda: web.conversations_history(channel=PUBLIC_UNJOINED))["error"] == "not_in_channel"
    assert api_error(lambda: web.conversations_info(channel=SECRET_ROOM))["error"] == "channel_not_found"
    assert web.conversations_join(channel=PUBLIC_UNJOINED)["channel"]["is_member"] is True
    info = web.conversations_info(channel=PRIVATE, include_num_members=True)["channel"]
    assert (info["name"], info["is_private"], info["num_members"]) == ("approvals", True, 2)
    assert web.team_info()["team"]["id"] == fake.team_id
    data = api_error(lambda: web.chat_postEphemeral(channel=GENERAL, user=CAROL, text="psst"))
    assert data["error"] == "user_not_in_channel"
    web.chat_postEphemeral(channel=GENERAL, user=BOB, text="only you")
    assert [e["text"] for e in fake.ephemerals(user=BOB)] == ["only you"]


def test_update_delete_and_text_limits(fake: FakeSlack, web: WebClient) -> None:
    posted = web.chat_postMessage(channel=GENERAL, text="x" * 40_001, blocks=[section("body")])
    assert posted["warning"] == "message_truncated"
    assert len(fake.message(GENERAL, posted["ts"])["text"]) == 40_000
    assert api_error(lambda: web.chat_update(channel=GENERAL, ts="1.000001", text="x"))["error"] == (
        "message_not_found"
    )
    assert api_error(lambda: web.chat_update(channel=GENERAL, ts=posted["ts"], text="y" * 4001))["error"] == (
        "msg_too_long"
    )
    web.chat_update(channel=GENERAL, ts=posted["ts"], text="decided")
    updated = fake.message(GENERAL, posted["ts"])
    assert (updated["text"], updated["blocks"][0]["text"]["text"], updated["edits"]) == ("decided", "body", 1)
    human = fake.add_message(GENERAL, user=ALICE, text="mine")
    data = api_error(lambda: web.chat_update(channel=GENERAL, ts=human["ts"], text="edited"))
    assert data["error"] == "cant_update_message"
    web.chat_delete(channel=GENERAL, ts=posted["ts"])
    assert [m["text"] for m in fake.messages(GENERAL)] == ["mine"]


def _many(n: int, make: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    return [make(i) for i in range(n)]


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        (_many(51, lambda i: section(f"s{i}")), "/blocks]"),
        ([section("x" * 3001)], "/blocks/0/text/text"),
        ([{"type": "header", "text": plain("h" * 151)}], "/blocks/0/text/text"),
        ([{"type": "actions", "elements": [button("a", text="b" * 76)]}], "/blocks/0/elements/0/text/text"),
        ([{"type": "actions", "elements": [button("a", value="v" * 2001)]}], "/blocks/0/elements/0/value"),
        ([{"type": "context", "elements": _many(11, lambda i: plain(str(i)))}], "/blocks/0/elements"),
        ([{"type": "actions", "elements": _many(26, lambda i: button(f"a{i}"))}], "/blocks/0/elements"),
        ([section("a", block_id="same"), section("b", block_id="same")], "/blocks/1/block_id"),
        ([section("")], "/blocks/0/text/text"),
    ],
    ids=[
        "51-blocks",
        "section",
        "header",
        "button-text",
        "button-value",
        "context",
        "actions",
        "dup-id",
        "empty",
    ],
)
def test_message_block_limits(web: WebClient, blocks: list[dict[str, Any]], pointer: str) -> None:
    data = api_error(lambda: web.chat_postMessage(channel=GENERAL, text="fallback", blocks=blocks))
    assert data["error"] == "invalid_blocks"
    assert any(pointer in m for m in data["response_metadata"]["messages"]), data


def test_home_tab_block_limit(fake: FakeSlack, web: WebClient) -> None:
    home = {"type": "home", "blocks": _many(100, lambda i: section(f"row {i}"))}
    published = web.views_publish(user_id=ALICE, view=home)["view"]
    assert len(fake.view(published["id"])["blocks"]) == 100
    too_many = {"type": "home", "blocks": _many(101, lambda i: section(f"row {i}"))}
    data = api_error(lambda: web.views_publish(user_id=ALICE, view=too_many))
    assert data["error"] == "invalid_arguments"
    assert any("/view/blocks]" in m for m in data["response_metadata"]["messages"]), data
    assert len(fake.view(published["id"])["blocks"]) == 100  # the rejected view changed nothing


def test_message_blocks_at_the_limits_pass(web: WebClient) -> None:
    blocks = _many(49, lambda i: section("x" * 3000)) + [
        {"type": "actions", "elements": _many(25, lambda i: button(f"a{i}", text="b" * 75, value="v" * 2000))}
    ]
    web.chat_postMessage(channel=GENERAL, text="fallback", blocks=blocks)


# Views


def _select(options: int = 2, *, text: str = "opt", groups: int = 0) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "static_select", "action_id": "pick"}
    opts = [{"text": plain(text), "value": f"v{i}"} for i in range(options)]
    if groups:
        element["option_groups"] = [{"label": plain(f"g{i}"), "options": opts} for i in range(groups)]
    else:
        element["options"] = opts
    return {"type": "input", "block_id": "pick", "label": plain("Pick"), "element": element}


@pytest.mark.parametrize(
    ("view", "error", "needle"),
    [
        (modal(title=plain("t" * 25)), "invalid_arguments", "/view/title/text"),
        (
            {"type": "modal", "title": plain("No submit"), "blocks": [text_input("a")]},
            "invalid_arguments",
            "submit",
        ),
        (modal(submit=plain("s" * 25)), "invalid_arguments", "/view/submit/text"),
        (modal(*_many(101, lambda i: section(str(i)))), "invalid_arguments", "/view/blocks]"),
        (modal(private_metadata="m" * 3001), "invalid_arguments", "/view/private_metadata"),
        (modal(callback_id="c" * 256), "invalid_arguments", "/view/callback_id"),
        (modal(text_input("a", max_length=3001)), "invalid_arguments", "max_length"),
        (modal(text_input("a", max_length=0)), "invalid_arguments", "max_length"),
        (modal(text_input("a") | {"label": plain("l" * 2001)}), "invalid_arguments", "/label/text"),
        (modal(_select(text="o" * 76)), "invalid_arguments", "/options/0/text/text"),
        (modal(_select(101)), "invalid_arguments", "/element/options]"),
        (modal(_select(1, groups=101)), "invalid_arguments", "/element/option_groups]"),
        (modal(*_many(90, lambda i: section("x" * 2900))), "view_too_large", None),
    ],
    ids=[
        "title",
        "no-submit",
        "submit-text",
        "101-blocks",
        "metadata",
        "callback",
        "max-3001",
        "max-0",
        "label",
        "option",
        "101-options",
        "101-groups",
        "250kB",
    ],
)
def test_modal_limits(
    fake: FakeSlack, web: WebClient, view: dict[str, Any], error: str, needle: str | None
) -> None:
    data = api_error(lambda: web.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=view))
    assert data["error"] == error
    if needle:
        assert any(needle in m for m in data["response_metadata"]["messages"]), data
    assert fake.views(ALICE) == []


def test_trigger_ids_expire_and_are_single_use(fake: FakeSlack, web: WebClient) -> None:
    trigger = fake.issue_trigger_id(ALICE)
    opened = web.views_open(trigger_id=trigger, view=modal(text_input("text")))["view"]
    assert [v["id"] for v in fake.views(ALICE)] == [opened["id"]]
    assert (
        api_error(lambda: web.views_open(trigger_id=trigger, view=modal()))["error"] == "exchanged_trigger_id"
    )
    assert (
        api_error(lambda: web.views_open(trigger_id="nonsense", view=modal()))["error"]
        == "invalid_trigger_id"
    )
    assert api_error(lambda: web.views_open(view=modal()))["error"] == "invalid_arguments"
    fake.trigger_ttl = 0.05
    stale = fake.issue_trigger_id(ALICE)
    time.sleep(0.1)
    assert api_error(lambda: web.views_open(trigger_id=stale, view=modal()))["error"] == "expired_trigger_id"


def test_views_update_push_and_publish(fake: FakeSlack, web: WebClient) -> None:
    root = web.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=modal(external_id="draft-1"))["view"]
    loaded = modal(title=plain("Loaded"), external_id="draft-1")
    updated = web.views_update(view_id=root["id"], hash=root["hash"], view=loaded)["view"]
    assert updated["id"] == root["id"] and updated["hash"] != root["hash"]
    data = api_error(lambda: web.views_update(view_id=root["id"], hash=root["hash"], view=modal()))
    assert data["error"] == "hash_conflict"
    web.views_update(external_id="draft-1", view=modal(title=plain("Again"), external_id="draft-1"))
    assert fake.view(root["id"])["title"]["text"] == "Again"
    assert api_error(lambda: web.views_update(view_id="VNOPE", view=modal()))["error"] == "not_found"
    for _ in range(2):
        web.views_push(trigger_id=fake.issue_trigger_id(ALICE), view=modal())
    data = api_error(lambda: web.views_push(trigger_id=fake.issue_trigger_id(ALICE), view=modal()))
    assert data["error"] == "push_limit_reached"
    assert len(fake.views(ALICE)) == 3
    home = web.views_publish(user_id=BOB, view={"type": "home", "blocks": [section("hi")]})["view"]
    assert fake.views(BOB)[0]["id"] == home["id"]
    assert api_error(lambda: web.views_publish(user_id=BOB, view=modal()))["error"] == "invalid_arguments"


# Directory, groups, reactions, files


def test_users_info_time_zone(web: WebClient) -> None:
    user = web.users_info(user=BOB)["user"]
    offset = datetime.now(ZoneInfo("America/Los_Angeles")).utcoffset()
    assert offset is not None
    assert (user["tz"], user["tz_offset"], user["is_admin"]) == (
        "America/Los_Angeles",
        offset.total_seconds(),
        True,
    )
    assert user["tz_label"] in ("Pacific Standard Time", "Pacific Daylight Time")
    assert api_error(lambda: web.users_info(user="U0NOBODY"))["error"] == "user_not_found"


def test_users_info_roles(fake: FakeSlack, web: WebClient) -> None:
    fake.add_user("U0OWNER", "olga", tz="Asia/Tokyo", is_primary_owner=True)
    fake.add_user("U0DEPUTY", "dave", is_owner=True)
    roles = {
        uid: (u["is_admin"], u["is_owner"], u["is_primary_owner"], u["tz"])
        for uid in ("U0OWNER", "U0DEPUTY", BOB, ALICE)
        for u in [web.users_info(user=uid)["user"]]
    }
    assert roles == {
        "U0OWNER": (True, True, True, "Asia/Tokyo"),
        "U0DEPUTY": (True, True, False, "Europe/Berlin"),
        BOB: (True, False, False, "America/Los_Angeles"),
        ALICE: (False, False, False, "Europe/Berlin"),
    }


def test_usergroups_on_a_paid_plan(fake: FakeSlack, web: WebClient) -> None:
    assert web.usergroups_list()["usergroups"] == []
    assert api_error(lambda: web.usergroups_users_list(usergroup="S0APPROVERS"))["error"] == "no_such_subteam"
    fake.add_usergroup("S0APPROVERS", "approvers", [ALICE, BOB])
    assert web.usergroups_users_list(usergroup="S0APPROVERS")["users"] == [ALICE, BOB]
    assert web.usergroups_list(include_users=True)["usergroups"][0]["users"] == [ALICE, BOB]
    assert "users" not in web.usergroups_list()["usergroups"][0]
    assert api_error(lambda: web.usergroups_users_list(usergroup="S0NOPE"))["error"] == "no_such_subteam"


def test_usergroups_on_a_free_plan() -> None:
    with FakeSlack(free_plan=True) as free:
        web = WebClient(token=free.bot_token, base_url=free.url)
        assert api_error(web.usergroups_list)["error"] == "plan_upgrade_required"
        data = api_error(lambda: web.usergroups_users_list(usergroup="S0APPROVERS"))
        assert data["error"] == "plan_upgrade_required"
        with pytest.raises(ValueError, match="free workspace"):
            free.add_usergroup("S0APPROVERS", "approvers", [ALICE])


def test_dms_reactions_and_files(fake: FakeSlack, web: WebClient) -> None:
    im = web.conversations_open(users=ALICE)["channel"]["id"]
    web.chat_postMessage(channel=ALICE, text="by user id")
    posted = web.chat_postMessage(channel=im, text="by IM id")
    assert [m["text"] for m in fake.dms(ALICE)] == ["by user id", "by IM id"]
    web.reactions_add(channel=im, timestamp=posted["ts"], name="white_check_mark")
    assert fake.message(im, posted["ts"])["reactions"][0]["name"] == "white_check_mark"
    data = api_error(lambda: web.reactions_add(channel=im, timestamp=posted["ts"], name="white_check_mark"))
    assert data["error"] == "already_reacted"
    info = fake.add_file("F0IMG", "cat.png", b"\x89PNG", mimetype="image/png", user=ALICE)
    assert web.files_info(file="F0IMG")["file"]["url_private_download"] == info["url_private_download"]
    assert api_error(lambda: web.files_info(file="F0NOPE"))["error"] == "file_not_found"
    authorised = httpx.get(
        info["url_private_download"], headers={"Authorization": f"Bearer {fake.bot_token}"}
    )
    assert authorised.content == b"\x89PNG"
    assert httpx.get(info["url_private_download"]).headers["content-type"].startswith("text/html")


def test_files_upload_v2_into_a_dm(fake: FakeSlack, web: WebClient) -> None:
    dm = web.conversations_open(users=ALICE)["channel"]["id"]
    result = web.files_upload_v2(
        channel=dm, content="a,b\n1,2\n", filename="x.csv", title="Export", initial_comment="Your export"
    )
    assert [c["method"] for c in fake.calls()] == [
        "conversations.open",
        "files.getUploadURLExternal",
        "upload_url",
        "files.completeUploadExternal",
    ]
    file_id = result["file"]["id"]
    assert result["file"]["shares"] == {}  # Slack shares asynchronously; the answer comes first
    [uploaded] = fake.uploaded_files(dm)
    assert (uploaded["id"], uploaded["content"], uploaded["name"], uploaded["title"]) == (
        file_id,
        b"a,b\n1,2\n",
        "x.csv",
        "Export",
    )
    assert (uploaded["channel"], uploaded["mimetype"]) == (dm, "text/csv")
    [message] = fake.dms(ALICE)
    assert (message["ts"], message["text"], message["bot_id"]) == (uploaded["ts"], "Your export", fake.bot_id)
    assert [(f["id"], f["title"]) for f in message["files"]] == [(file_id, "Export")]
    info = web.files_info(file=file_id)["file"]
    assert info["ims"] == [dm] and info["shares"]["private"][dm][0]["ts"] == message["ts"]
    download = httpx.get(info["url_private_download"], headers={"Authorization": f"Bearer {fake.bot_token}"})
    assert download.content == b"a,b\n1,2\n"
    assert fake.uploaded_files(GENERAL) == []


def test_upload_steps_and_their_errors(fake: FakeSlack, web: WebClient) -> None:
    def ticket(length: int = 5) -> tuple[str, str]:
        answer = web.files_getUploadURLExternal(filename="report.txt", length=length)
        return answer["upload_url"], answer["file_id"]

    root = web.chat_postMessage(channel=GENERAL, text="Weekly report")
    url, file_id = ticket()
    assert url.startswith(fake.root_url + "/upload/v1/")
    early = api_error(lambda: web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=GENERAL))
    assert early["error"] == "file_not_found"  # nothing reached the upload URL yet
    multipart = httpx.post(url, files={"filename": ("report.txt", b"hello", "text/plain")})  # curl -F
    assert (multipart.status_code, multipart.text) == (200, "OK - 5")
    done = web.files_completeUploadExternal(
        files=[{"id": file_id, "title": "Report"}], channel_id=GENERAL, thread_ts=root["ts"]
    )
    assert done["files"][0]["title"] == "Report"
    [uploaded] = fake.uploaded_files(GENERAL)
    assert (uploaded["content"], uploaded["thread_ts"]) == (b"hello", root["ts"])
    assert [r["files"][0]["id"] for r in fake.replies(GENERAL, root["ts"])] == [file_id]
    again = api_error(lambda: web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=GENERAL))
    assert again["error"] == "file_not_found"

    url, file_id = ticket()
    assert httpx.post(url, content=b"too long").status_code == 400  # 8 bytes announced as 5
    assert httpx.post(fake.root_url + "/upload/v1/forged", content=b"hello").status_code == 404
    assert httpx.post(url, content=b"hello").status_code == 200
    by_user_id = api_error(
        lambda: web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=ALICE)
    )
    assert by_user_id["error"] == "invalid_arguments"
    assert "[json-pointer:/channel_id]" in by_user_id["response_metadata"]["messages"][0]
    unjoined = api_error(
        lambda: web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=PUBLIC_UNJOINED)
    )
    assert unjoined["error"] == "not_in_channel"  # chat:write.public does not cover file shares
    hidden = api_error(
        lambda: web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=SECRET_ROOM)
    )
    assert hidden["error"] == "channel_not_found"
    web.files_completeUploadExternal(files=[{"id": file_id}])  # no channel: a private file
    assert [(f["title"], f["channel"]) for f in fake.uploaded_files()] == [
        ("Report", GENERAL),
        ("report.txt", None),
    ]
    assert api_error(lambda: web.files_getUploadURLExternal(filename="e.txt", length=0))["error"] == (
        "missing_argument"
    )
    data = api_error(lambda: web.files_getUploadURLExternal(filename="a.png", length=3, alt_txt="a" * 1001))
    assert data["error"] == "alt_txt_too_large"
    assert fake.calls("upload_url")[1]["error"].startswith("length_mismatch")
    url, file_id = ticket()
    httpx.post(url, content=b"howdy")
    web.files_completeUploadExternal(files=[{"id": file_id}], channels=[GENERAL, BOB], initial_comment="FYI")
    assert fake.uploaded_files()[-1]["channels"] == [GENERAL, "D0BOB"]
    assert [m["text"] for m in fake.dms(BOB)] == ["FYI"]


# Socket Mode


def test_apps_connections_open_takes_the_app_token_only(fake: FakeSlack) -> None:
    url = WebClient(base_url=fake.url).apps_connections_open(app_token=fake.app_token)["url"]
    assert url.startswith(f"ws://127.0.0.1:{fake.socket_mode.port}/link/?ticket=")
    bot_token = api_error(
        lambda: WebClient(base_url=fake.url).apps_connections_open(app_token=fake.bot_token)
    )
    assert bot_token["error"] == "not_allowed_token_type"
    wrong = api_error(lambda: WebClient(base_url=fake.url).apps_connections_open(app_token="xapp-1-wrong"))
    assert wrong["error"] == "invalid_auth"
    app_token_for_bot_method = api_error(WebClient(token=fake.app_token, base_url=fake.url).auth_test)
    assert app_token_for_bot_method["error"] == "not_allowed_token_type"


def test_socket_mode_round_trip_with_the_sdk_client(fake: FakeSlack) -> None:
    heard: list[dict[str, Any]] = []
    client = SocketModeClient(
        app_token=fake.app_token, web_client=WebClient(base_url=fake.url), auto_reconnect_enabled=False
    )
    client.message_listeners.append(lambda _client, message, _raw: heard.append(message))

    def answer(sm: BaseSocketModeClient, request: SocketModeRequest) -> None:
        reply = {"text": f"you said {request.payload['text']}"}
        sm.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=reply))

    client.socket_mode_request_listeners.append(answer)
    try:
        client.connect()
        server = fake.socket_mode
        server.wait_for_connections(1)
        fake.wait_for(lambda: any(m.get("type") == "hello" for m in heard))
        envelope_id = server.send_envelope("slash_commands", {"command": "/post", "text": "hi"})
        ack = server.wait_for_ack(envelope_id, timeout=5)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "you said hi"}}
        # The client pings right after the handshake and trusts the connection once a pong comes back.
        fake.wait_for(lambda: client.current_session and client.current_session.last_ping_pong_time)
        assert server.accepted() == 1 and [c["method"] for c in fake.calls()] == ["apps.connections.open"]
        server.close_connections()  # the client reads the close frame and stops (no auto-reconnect here)
        server.wait_for_connections(0)
        fake.wait_for(lambda: not client.is_connected())
    finally:
        client.close()
    with pytest.raises(AssertionError, match="no Socket Mode connection"):
        fake.socket_mode.send_envelope("interactive", {})


def _ws_handshake(port: int, path: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(b"0123456789abcdef").decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    received = b""
    for _ in range(100):
        if b"\r\n\r\n" in received:
            break
        received += sock.recv(4096)
    head, _, rest = received.partition(b"\r\n\r\n")
    if head.startswith(b"HTTP/1.1 101"):
        assert f"Sec-WebSocket-Accept: {accept_key(key)}".encode() in head
    return sock, head.split(b"\r\n")[0] + b"\n" + rest


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    return (
        bytes([0x80 | opcode, 0x80 | len(payload)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )


def test_socket_mode_server_tickets_pings_and_close(fake: FakeSlack) -> None:
    path = "/" + fake.socket_mode.issue_url().split("/", 3)[3]
    port = fake.socket_mode.port
    forged, status = _ws_handshake(port, "/link/?ticket=forged")
    forged.close()
    assert status.startswith(b"HTTP/1.1 401")
    sock, first = _ws_handshake(port, path)
    with sock:
        assert first.startswith(b"HTTP/1.1 101")
        assert b'"type": "hello"' in first or b'"type": "hello"' in sock.recv(4096)
        again, status = _ws_handshake(port, path)  # a ticket opens one connection only
        again.close()
        assert status.startswith(b"HTTP/1.1 401")
        sock.sendall(_masked(0x9, b"are you there"))
        assert sock.recv(4096) == b"\x8a\x0dare you there"
        sock.sendall(_masked(0x1, b'{"note": "not an ack"}'))
        sock.sendall(_masked(0x8, struct.pack("!H", 1000)))
        assert sock.recv(4096) == b"\x88\x02" + struct.pack("!H", 1000)
    fake.socket_mode.wait_for_connections(0)
    assert fake.socket_mode.messages() == [{"note": "not an ack"}] and fake.socket_mode.acks() == []


# Faults


def test_rate_limit_is_retried_by_the_sdk_handler(fake: FakeSlack) -> None:
    plain_client = WebClient(token=fake.bot_token, base_url=fake.url)
    fake.fail_next("chat.postMessage")
    with pytest.raises(SlackApiError) as caught:
        plain_client.chat_postMessage(channel=GENERAL, text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    retrying = WebClient(
        token=fake.bot_token,
        base_url=fake.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    fake.fail_next("chat.postMessage", retry_after=0)
    assert retrying.chat_postMessage(channel=GENERAL, text="after retry")["ok"]
    assert [c["error"] for c in fake.calls("chat.postMessage")] == ["ratelimited", "ratelimited", None]


def test_other_faults_and_reset(fake: FakeSlack, web: WebClient) -> None:
    fake.fail_next("chat.update", status=200, error="is_archived", times=2)
    fake.fail_next("views.open", status=500, error="internal_error")
    for _ in range(2):
        assert (
            api_error(lambda: web.chat_update(channel=GENERAL, ts="1.2", text="x"))["error"] == "is_archived"
        )
    assert (
        api_error(lambda: web.chat_update(channel=GENERAL, ts="1.2", text="x"))["error"]
        == "message_not_found"
    )
    with pytest.raises(SlackApiError) as caught:
        web.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=modal())
    assert caught.value.response.status_code == 500
    fake.fail_next("auth.test")
    fake.reset_faults()
    assert web.auth_test()["ok"]


def test_wait_for_reports_recent_calls(fake: FakeSlack, web: WebClient) -> None:
    web.chat_postMessage(channel=GENERAL, text="first")
    assert fake.wait_for(lambda: fake.messages(GENERAL))[0]["text"] == "first"
    with pytest.raises(AssertionError, match=r"(?s)not met within 0.1s.*chat.postMessage ok"):
        fake.wait_for(lambda: fake.message(GENERAL, "1.000001"), timeout=0.1)


def test_catalog_matches_the_reference_data() -> None:
    candidates = [Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")]
    folder = next((c / "slack" / "methods" for c in candidates if (c / "slack" / "methods").is_dir()), None)
    if folder is None:
        pytest.skip("shared/slack/methods is not beside this checkout")
    assert NOT_IN_REFERENCE.issubset(METHODS)
    for method, spec in METHODS.items():
        if method in NOT_IN_REFERENCE:
            assert not (folder / f"{method}.json").exists(), f"{method} has reference data now; check it"
            continue
        reference = json.loads((folder / f"{method}.json").read_text())
        assert spec.required == set(reference["args"].get("required", [])), method
        assert spec.args == set(reference["args"]["properties"]), method
        assert spec.errors == set(reference.get("errors", {})), method


# SlackClient against a recording app


class Recorder:
    """A stand-in app: records each request and answers with whatever `reply` says."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.reply: Callable[[bytes], tuple[int, bytes, str]] = lambda body: (200, b"", "text/plain")
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.requests.append((dict(self.headers.items()), body))
                status, answer, content_type = recorder.reply(body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def payload(self, index: int = -1) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(parse_qs(self.requests[index][1].decode())["payload"][0])
        return result

    def json_reply(self, body: dict[str, Any]) -> None:
        self.reply = lambda _: (200, json.dumps(body).encode(), "application/json")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    app = Recorder()
    yield app
    app.server.shutdown()
    app.server.server_close()


@pytest.fixture
def slack(fake: FakeSlack, recorder: Recorder) -> Iterator[SlackClient]:
    with SlackClient(app_url=recorder.url, signing_secret=SECRET, fake=fake) as client:
        yield client


def test_requests_are_signed_like_slack(fake: FakeSlack, recorder: Recorder, slack: SlackClient) -> None:
    verifier = SignatureVerifier(SECRET)
    slack.slash_command(ALICE, text="hello world")
    headers, body = recorder.requests[-1]
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    assert headers["X-Slack-Signature"] == verifier.generate_signature(
        timestamp=headers["X-Slack-Request-Timestamp"], body=body
    )
    stale = int(time.time()) - 600
    slack.send_raw(b"token=x", timestamp=stale)
    headers, body = recorder.requests[-1]
    assert headers["X-Slack-Signature"] == verifier.generate_signature(timestamp=str(stale), body=body)
    assert not verifier.is_valid_request(body, headers)  # correctly signed, but older than 5 minutes
    slack.send_raw(b"token=x", signature="v0=" + "0" * 64)
    headers, body = recorder.requests[-1]
    assert not verifier.is_valid_request(body, headers)


def test_slash_command_payload_and_ack_body(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    recorder.json_reply({"text": "Drafting…"})
    slack.slash_command(ALICE, "/post", "hello", channel_id=GENERAL)
    headers, body = recorder.requests[-1]
    form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    assert set(form) == {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name", "command",
        "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    }  # fmt: skip
    assert (form["channel_name"], form["user_name"], form["text"], form["is_enterprise_install"]) == (
        "general",
        "alice",
        "hello",
        "false",
    )
    assert [e["text"] for e in fake.ephemerals(channel=GENERAL, user=ALICE)] == ["Drafting…"]
    web.views_open(trigger_id=form["trigger_id"], view=modal())
    WebhookClient(form["response_url"]).send(text="Scheduled", replace_original=True)
    assert [(e["text"], e["edits"]) for e in fake.ephemerals(user=ALICE)] == [("Scheduled", 1)]
    WebhookClient(form["response_url"]).send(text="Posted for all", response_type="in_channel")
    assert fake.messages(GENERAL)[-1]["text"] == "Posted for all"


def test_click_payload_and_response_url(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    blocks = [section("Approve?"), {"type": "actions", "elements": [button("approve", "Approve", "post-7")]}]
    posted = web.chat_postMessage(channel=GENERAL, text="Approve?", blocks=blocks)
    message = fake.message(GENERAL, posted["ts"])
    slack.click(BOB, channel_id=GENERAL, message=message, action_id="approve")
    payload = recorder.payload()
    assert payload["type"] == "block_actions" and payload["user"]["id"] == BOB
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": GENERAL,
        "is_ephemeral": False,
    }
    [action] = payload["actions"]
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "approve",
        "post-7",
        message["blocks"][1]["block_id"],
    )
    assert "edits" not in payload["message"] and payload["channel"]["name"] == "general"
    WebhookClient(payload["response_url"]).send(text="Approved by bob", blocks=[], replace_original=True)
    assert fake.message(GENERAL, posted["ts"])["edits"] == 1
    with pytest.raises(AssertionError, match="reject"):
        slack.click(BOB, channel_id=GENERAL, message=message, action_id="reject")


def test_shortcut_and_click_in_view(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    slack.global_shortcut(ALICE, "postgate_new_post")
    shortcut = recorder.payload()
    assert (shortcut["type"], shortcut["callback_id"]) == ("shortcut", "postgate_new_post")
    assert "channel" not in shortcut
    view = modal(
        text_input("text", initial_value="Hi"), section("More?", accessory=button("preview", "Preview"))
    )
    opened = web.views_open(trigger_id=shortcut["trigger_id"], view=view)["view"]
    slack.click_in_view(ALICE, view_id=opened["id"], action_id="preview")
    clicked = recorder.payload()
    assert clicked["container"] == {"type": "view", "view_id": opened["id"]}
    assert clicked["view"]["state"]["values"]["text"]["text_input"]["value"] == "Hi"
    assert (clicked["actions"][0]["action_id"], clicked["actions"][0]["value"]) == ("preview", "v")
    web.views_push(trigger_id=clicked["trigger_id"], view=modal(title=plain("Preview")))
    assert len(fake.views(ALICE)) == 2


def test_submit_view_builds_state_like_slack(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    options = [{"text": plain(n), "value": n} for n in ("x", "linkedin", "mastodon")]
    view = modal(
        text_input("text", initial_value="Hello", max_length=280),
        an_input("targets", "multi_static_select", "t", options=options, initial_options=options[:1]),
        an_input("when", "radio_buttons", "w", options=options, initial_option=options[2]),
        an_input("at", "datetimepicker", "d", initial_date_time=1_800_000_000),
        an_input("day", "datepicker", "dp", optional=True),
        an_input("time", "timepicker", "tp", initial_time="09:30", timezone="Europe/Berlin"),
        an_input("who", "users_select", "u", optional=True),
        private_metadata="post-7",
    )
    opened = web.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=view)["view"]
    slack.submit_view(ALICE, opened["id"], {"targets": ["x", "mastodon"], "at": 1_900_000_000})
    submitted = recorder.payload()
    assert submitted["type"] == "view_submission" and submitted["response_urls"] == []
    sent = submitted["view"]
    assert (sent["id"], sent["hash"], sent["callback_id"], sent["private_metadata"]) == (
        opened["id"],
        opened["hash"],
        "compose",
        "post-7",
    )
    assert sent["state"]["values"] == {
        "text": {"text_input": {"type": "plain_text_input", "value": "Hello"}},
        "targets": {"t": {"type": "multi_static_select", "selected_options": [options[0], options[2]]}},
        "when": {"w": {"type": "radio_buttons", "selected_option": options[2]}},
        "at": {"d": {"type": "datetimepicker", "selected_date_time": 1_900_000_000}},
        "day": {"dp": {"type": "datepicker", "selected_date": None}},
        "time": {"tp": {"type": "timepicker", "selected_time": "09:30", "timezone": "Europe/Berlin"}},
        "who": {"u": {"type": "users_select", "selected_user": None}},
    }
    assert fake.views(ALICE) == []  # the empty 200 ack closed it


def _option(value: str) -> dict[str, Any]:
    return {"text": plain(value.title()), "value": value}


def test_every_approval_input_types_and_submits_like_slack(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    networks = [_option(n) for n in ("x", "linkedin")]
    steps = [_option(n) for n in ("legal", "brand")]
    view = modal(
        an_input("approvers", "multi_users_select", "au"),
        an_input("owner", "users_select", "ou"),
        an_input("room", "conversations_select", "cs", response_url_enabled=True),
        an_input("channel", "channels_select", "ch", optional=True),
        an_input("steps", "checkboxes", "cb", options=steps),
        an_input("at", "timepicker", "tp", timezone="America/Los_Angeles"),
        an_input("when", "datetimepicker", "dt"),
        an_input("network", "static_select", "ss", options=networks),
        an_input("networks", "multi_static_select", "ms", options=networks),
        an_input("quorum", "number_input", "ni", is_decimal_allowed=False, min_value="1", max_value="5"),
        text_input("note"),
        section("Check it", accessory=button("preview", "Preview")),
    )
    opened = web.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=view)["view"]
    typed = {"approvers": [BOB, CAROL], "owner": BOB, "room": GENERAL, "steps": ["legal", "brand"]}
    slack.click_in_view(ALICE, view_id=opened["id"], action_id="preview", inputs=typed)
    clicked = recorder.payload()
    assert clicked["container"] == {"type": "view", "view_id": opened["id"]}
    assert clicked["view"]["state"]["values"]["owner"] == {
        "ou": {"type": "users_select", "selected_user": BOB}
    }
    assert clicked["view"]["state"]["values"]["at"] == {
        "tp": {"type": "timepicker", "selected_time": None, "timezone": "America/Los_Angeles"}
    }
    more = {"at": "17:45", "when": 1_900_000_000, "network": "x", "networks": ["linkedin"], "quorum": 2}
    slack.submit_view(ALICE, opened["id"], more | {"note": "ship it"})
    submitted = recorder.payload()
    assert submitted["view"]["state"]["values"] == {
        "approvers": {"au": {"type": "multi_users_select", "selected_users": [BOB, CAROL]}},
        "owner": {"ou": {"type": "users_select", "selected_user": BOB}},
        "room": {"cs": {"type": "conversations_select", "selected_conversation": GENERAL}},
        "channel": {"ch": {"type": "channels_select", "selected_channel": None}},
        "steps": {"cb": {"type": "checkboxes", "selected_options": steps}},
        "at": {"tp": {"type": "timepicker", "selected_time": "17:45", "timezone": "America/Los_Angeles"}},
        "when": {"dt": {"type": "datetimepicker", "selected_date_time": 1_900_000_000}},
        "network": {"ss": {"type": "static_select", "selected_option": networks[0]}},
        "networks": {"ms": {"type": "multi_static_select", "selected_options": [networks[1]]}},
        "quorum": {"ni": {"type": "number_input", "value": "2"}},
        "note": {"note_input": {"type": "plain_text_input", "value": "ship it"}},
    }
    [room_url] = submitted["response_urls"]
    assert (room_url["block_id"], room_url["action_id"], room_url["channel_id"]) == ("room", "cs", GENERAL)
    WebhookClient(room_url["response_url"]).send(text="Queued", response_type="in_channel")
    assert fake.messages(GENERAL)[-1]["text"] == "Queued"


@pytest.mark.parametrize(
    ("inputs", "complaint"),
    [
        ({"quorum": "two"}, "not a number"),
        ({"quorum": "2.5"}, "decimal"),
        ({"quorum": 9}, "outside"),
        ({"at": "9:30"}, "HH:mm"),
        ({"owner": [BOB]}, "one id"),
        ({"approvers": BOB}, "list of ids"),
        ({"network": "mastodon"}, "no option"),
    ],
    ids=["nan", "decimal", "max", "time", "user", "users", "option"],
)
def test_slack_refuses_what_its_inputs_cannot_hold(
    fake: FakeSlack, web: WebClient, slack: SlackClient, inputs: dict[str, Any], complaint: str
) -> None:
    view = modal(
        an_input("quorum", "number_input", "ni", optional=True, is_decimal_allowed=False, max_value="5"),
        an_input("at", "timepicker", "tp", optional=True),
        an_input("owner", "users_select", "ou", optional=True),
        an_input("approvers", "multi_users_select", "au", optional=True),
        an_input("network", "static_select", "ss", optional=True, options=[_option("x")]),
    )
    opened = web.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=view)["view"]
    with pytest.raises(ValueError, match=complaint):
        slack.submit_view(ALICE, opened["id"], inputs)


def test_click_in_modal_pushes_and_only_the_top_modal_is_usable(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    opened = web.views_open(
        trigger_id=fake.issue_trigger_id(ALICE),
        view=modal(text_input("text"), section("More?", accessory=button("details", "Details"))),
    )["view"]
    slack.click_in_view(ALICE, view_id=opened["id"], action_id="details", inputs={"text": "draft"})
    pushed = web.views_push(
        trigger_id=recorder.payload()["trigger_id"],
        view=modal(section("Details", accessory=button("back", "Back")), title=plain("Details")),
    )["view"]
    assert [v["id"] for v in fake.views(ALICE)] == [opened["id"], pushed["id"]]
    with pytest.raises(ValueError, match="not the one"):
        slack.click_in_view(ALICE, view_id=opened["id"], action_id="details")
    with pytest.raises(ValueError, match="belongs to"):
        slack.click_in_view(BOB, view_id=pushed["id"], action_id="back")
    slack.click_in_view(ALICE, view_id=pushed["id"], action_id="back")
    assert recorder.payload()["view"]["previous_view_id"] == opened["id"]
    fake.close_view(pushed["id"])
    slack.submit_view(ALICE, opened["id"])
    # What was typed before the click stayed in the modal.
    assert recorder.payload()["view"]["state"]["values"]["text"]["text_input"]["value"] == "draft"


def test_click_in_home_tab_and_update_by_hash(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    home = {"type": "home", "blocks": [section("Queue", accessory=button("refresh", "Refresh", "q"))]}
    published = web.views_publish(user_id=BOB, view=home)["view"]
    slack.click_in_view(BOB, view_id=published["id"], action_id="refresh")
    clicked = recorder.payload()
    assert clicked["container"] == {"type": "view", "view_id": published["id"]}
    assert (clicked["view"]["type"], clicked["view"]["hash"]) == ("home", published["hash"])
    assert clicked["view"]["state"] == {"values": {}} and "user_id" not in clicked["view"]
    assert (clicked["actions"][0]["action_id"], clicked["actions"][0]["value"]) == ("refresh", "q")
    fresh = {"type": "home", "blocks": [section("Queue: 2 posts")]}
    web.views_update(view_id=published["id"], hash=clicked["view"]["hash"], view=fresh)
    stale = api_error(
        lambda: web.views_update(view_id=published["id"], hash=clicked["view"]["hash"], view=home)
    )
    assert stale["error"] == "hash_conflict"
    assert fake.view(published["id"])["blocks"][0]["text"]["text"] == "Queue: 2 posts"


def test_click_in_a_dm_message(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    blocks = [section("Approve?"), {"type": "actions", "elements": [button("approve", "Approve", "post-9")]}]
    posted = web.chat_postMessage(channel=ALICE, text="Approve?", blocks=blocks)
    dm = posted["channel"]
    assert dm.startswith("D")
    slack.click(ALICE, channel_id=dm, message=fake.message(dm, posted["ts"]), action_id="approve")
    payload = recorder.payload()
    assert payload["channel"] == {"id": dm, "name": "directmessage"}
    assert payload["container"]["channel_id"] == dm and payload["actions"][0]["value"] == "post-9"
    WebhookClient(payload["response_url"]).send(text="Approved", blocks=[], replace_original=True)
    assert [(m["text"], m["edits"]) for m in fake.dms(ALICE)] == [("Approved", 1)]


def test_message_shortcut_payload(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    message = fake.add_message(GENERAL, user=ALICE, text="Launch post draft", blocks=[section("Launch")])
    slack.message_shortcut(BOB, "postgate_from_message", channel_id=GENERAL, message=message)
    payload = recorder.payload()
    assert set(payload) == {
        "type", "token", "api_app_id", "team", "user", "enterprise", "is_enterprise_install", "trigger_id",
        "callback_id", "action_ts", "message_ts", "channel", "message", "response_url",
    }  # fmt: skip
    assert (payload["type"], payload["callback_id"], payload["message_ts"]) == (
        "message_action",
        "postgate_from_message",
        message["ts"],
    )
    assert payload["channel"] == {"id": GENERAL, "name": "general"}
    assert payload["team"] == {"id": fake.team_id, "domain": "postgate-test"}
    assert (payload["user"]["id"], payload["user"]["name"]) == (BOB, "bob")
    shown = payload["message"]
    assert (shown["type"], shown["text"], shown["user"], shown["ts"]) == (
        "message",
        "Launch post draft",
        ALICE,
        message["ts"],
    )
    assert shown["blocks"] == message["blocks"] and "edits" not in shown
    web.views_open(trigger_id=payload["trigger_id"], view=modal())
    WebhookClient(payload["response_url"]).send(text="Drafted from this message")
    assert [e["text"] for e in fake.ephemerals(channel=GENERAL, user=BOB)] == ["Drafted from this message"]
    assert fake.message(GENERAL, message["ts"])["text"] == "Launch post draft"


def test_submit_view_applies_response_actions(
    fake: FakeSlack, web: WebClient, recorder: Recorder, slack: SlackClient
) -> None:
    opened = web.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=modal(text_input("text")))["view"]
    with pytest.raises(ValueError, match="required"):
        slack.submit_view(ALICE, opened["id"])
    with pytest.raises(ValueError, match="no input blocks"):
        slack.submit_view(ALICE, opened["id"], {"txt": "typo"})
    recorder.json_reply({"response_action": "errors", "errors": {"text": "Too short"}})
    slack.submit_view(ALICE, opened["id"], {"text": "hi"})
    assert fake.view(opened["id"])["errors"] == {"text": "Too short"}
    recorder.json_reply(
        {"response_action": "update", "view": modal(text_input("text"), title=plain("Fixed"))}
    )
    slack.submit_view(ALICE, opened["id"])
    assert recorder.payload()["view"]["state"]["values"]["text"]["text_input"]["value"] == "hi"  # input kept
    assert fake.view(opened["id"])["title"]["text"] == "Fixed" and fake.view(opened["id"])["errors"] == {}
    recorder.json_reply({"response_action": "push", "view": modal(title=plain("Confirm"))})
    slack.submit_view(ALICE, opened["id"])
    root, pushed = fake.views(ALICE)
    assert (root["title"]["text"], pushed["title"]["text"]) == ("Fixed", "Confirm")
    with pytest.raises(ValueError, match="not the one"):
        slack.submit_view(ALICE, root["id"])
    recorder.json_reply({"response_action": "errors", "errors": {"not_an_input": "x"}})
    with pytest.raises(AssertionError, match="non-input"):
        slack.submit_view(ALICE, pushed["id"])
    recorder.reply = lambda _: (200, b"", "text/plain")
    slack.submit_view(ALICE, pushed["id"])
    assert [v["id"] for v in fake.views(ALICE)] == [root["id"]]
    recorder.json_reply({"response_action": "clear"})
    slack.submit_view(ALICE, root["id"])
    assert fake.views(ALICE) == []


def test_events_and_retries(fake: FakeSlack, recorder: Recorder, slack: SlackClient) -> None:
    slack.app_home_opened(ALICE)
    headers, body = recorder.requests[-1]
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback" and envelope["event"]["type"] == "app_home_opened"
    assert headers["Content-Type"] == "application/json" and "X-Slack-Retry-Num" not in headers
    slack.event(envelope["event"], retry_num=1, event_id=slack.last_event_id)
    headers, body = recorder.requests[-1]
    assert (headers["X-Slack-Retry-Num"], json.loads(body)["event_id"]) == ("1", envelope["event_id"])


# The whole loop with a real Bolt app


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_bolt_app_round_trip(fake: FakeSlack) -> None:
    app = App(client=WebClient(token=fake.bot_token, base_url=fake.url), signing_secret=SECRET)

    @app.command("/post")
    def open_composer(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(
            trigger_id=body["trigger_id"], view=modal(text_input("text", initial_value="draft"))
        )

    @app.view("compose")
    def submit(ack: Callable[..., None], view: dict[str, Any]) -> None:
        if view["state"]["values"]["text"]["text_input"]["value"] == "draft":
            ack(response_action="errors", errors={"text": "Write the post first"})
        else:
            ack()

    server = make_server("127.0.0.1", 0, SlackRequestHandler(app), _ThreadingWSGIServer, _QuietHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    try:
        with SlackClient(app_url=url, signing_secret=SECRET, fake=fake) as slack:
            assert slack.slash_command(ALICE).status_code == 200
            [opened] = fake.wait_for(lambda: fake.views(ALICE))
            assert slack.submit_view(ALICE, opened["id"]).status_code == 200
            assert fake.view(opened["id"])["errors"] == {"text": "Write the post first"}
            slack.submit_view(ALICE, opened["id"], {"text": "Launch day!"})
            assert fake.views(ALICE) == []
            assert slack.send_raw(b"command=%2Fpost", timestamp=int(time.time()) - 600).status_code == 401
    finally:
        server.shutdown()
        server.server_close()
    assert [c["method"] for c in fake.calls()] == ["auth.test", "views.open"]


def test_bolt_routes_message_shortcuts_and_view_actions(fake: FakeSlack) -> None:
    app = App(client=WebClient(token=fake.bot_token, base_url=fake.url), signing_secret=SECRET)

    @app.message_shortcut("postgate_from_message")
    def from_message(ack: Callable[..., None], shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        draft = text_input("text", initial_value=shortcut["message"]["text"])
        view = modal(
            draft, section("?", accessory=button("preview")), private_metadata=shortcut["message_ts"]
        )
        client.views_open(trigger_id=shortcut["trigger_id"], view=view)

    @app.action("preview")
    def preview(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        typed = body["view"]["state"]["values"]["text"]["text_input"]["value"]
        client.views_push(trigger_id=body["trigger_id"], view=modal(section(typed), title=plain("Preview")))

    server = make_server("127.0.0.1", 0, SlackRequestHandler(app), _ThreadingWSGIServer, _QuietHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    try:
        with SlackClient(app_url=url, signing_secret=SECRET, fake=fake) as slack:
            message = fake.add_message(GENERAL, user=ALICE, text="Big news")
            slack.message_shortcut(BOB, "postgate_from_message", channel_id=GENERAL, message=message)
            [opened] = fake.wait_for(lambda: fake.views(BOB))
            assert opened["private_metadata"] == message["ts"]
            slack.click_in_view(
                BOB, view_id=opened["id"], action_id="preview", inputs={"text": "Bigger news"}
            )
            root, pushed = fake.wait_for(lambda: fake.views(BOB)[1:] and fake.views(BOB))
            assert pushed["blocks"][0]["text"]["text"] == "Bigger news"
    finally:
        server.shutdown()
        server.server_close()
