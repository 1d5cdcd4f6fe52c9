"""The post history modal, the daily digest and the CSV export, as their readers get them, at the largest
sizes too: the modal and the digest are checked as the fake Slack checks `views.open` and
`chat.postMessage`; the CSV is read back with the `csv` module, as a spreadsheet would."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.domain.model import PostStatus
from bot.services.export import EXPORT_COLUMNS, ExportRow, render_csv
from bot.services.history import HistoryEntry
from bot.slack.ids import ViewId
from bot.slack.views.digest import build_digest
from bot.slack.views.history import build_history_modal
from tests.fakes.slack_workspace import POST_TEXT_MAX, Workspace
from tests.slack.test_home_views import NOW, accepted, snapshot, texts


def entry(
    minutes: int, actor: str, action: str, detail: str | None = None, version: int | None = None
) -> HistoryEntry:
    return HistoryEntry(
        at=NOW + timedelta(minutes=minutes), actor=actor, action=action, detail=detail, version=version
    )


# --- history --------------------------------------------------------------------------------------------


def test_the_history_tells_every_event_in_order_as_a_sentence() -> None:
    post = snapshot(12, status=PostStatus.PUBLISHED, version=3)
    entries = [
        entry(0, "U0ANA", "created", version=1),
        entry(5, "U0BO", "changes_requested", "Shorter please", version=1),
        entry(9, "U0ANA", "edited", "version 3"),
        entry(10, "postgate", "reminded", "U0BO, U0CY"),
        entry(10, "U0ANA", "rescheduled", "2026-11-23T09:00:00+00:00"),
        entry(11, "U0BO", "approval_recorded", version=3),
        entry(12, "U0CY", "approved", version=3),
        entry(13, "postgate", "handed_to_provider", "publora"),
        entry(14, "postgate", "retry_scheduled", "HTTP 503"),
        entry(20, "postgate", "published", "LinkedIn, X"),
        entry(21, "U0ANA", "frobnicated", "<!channel>"),
    ]

    view = accepted(build_history_modal(post, entries))

    assert view["callback_id"] == ViewId.HISTORY
    assert view["close"]["text"] == "Done" and "submit" not in view
    shown = texts(view)
    sentences = [
        "<@U0ANA> created the post (version 1)",
        "<@U0BO> asked for changes (version 1): Shorter please",
        "<@U0ANA> edited (version 3)",
        "Postgate reminded the approvers: <@U0BO>, <@U0CY>",
        "<@U0ANA> moved the publishing time to <!date^1795424400^",
        "<@U0BO> approved (version 3)",
        "<@U0CY> gave the approval that completed it (version 3)",
        "Postgate handed it to the provider: publora",
        "Postgate will try again shortly. Last error: HTTP 503",
        "Postgate published it: LinkedIn, X",
        "<@U0ANA> frobnicated: &lt;!channel&gt;",
    ]
    positions = [shown.index(s) for s in sentences]
    assert positions == sorted(positions)
    assert "<!channel>" not in shown
    assert shown.count("<!date^") >= len(entries)


def test_a_rejection_shows_its_reason_and_a_missed_post_its_time() -> None:
    entries = [
        entry(0, "postgate", "missed", "due 2026-11-23T09:00:00+00:00"),
        entry(1, "U0BO", "rejected", "Off-brand tone"),
    ]
    shown = texts(accepted(build_history_modal(snapshot(3), entries)))

    assert "Postgate marked it missed: its time (<!date^1795424400^" in shown
    assert "<@U0BO> rejected it. Reason: Off-brand tone" in shown


def test_a_long_history_shows_the_newest_entries_and_points_to_the_export() -> None:
    entries = [entry(i, "U0ANA", "changes_requested", "x" * 500, version=i) for i in range(5000)]

    view = accepted(build_history_modal(snapshot(1), entries))

    shown = texts(view)
    assert len(view["blocks"]) <= 100
    assert len(json.dumps(view)) < 250_000
    assert "(version 4999)" in shown and "(version 0)" not in shown
    shown_count = shown.count("asked for changes (version")
    assert f"{5000 - shown_count:,} earlier entries: use `/post export` for the full record." in shown
    assert shown.index("earlier entries") < shown.index("(version 4999)")


def test_a_history_of_the_longest_details_stays_within_slack_limits() -> None:
    entries = [entry(i, "U0ANA", "failed", "😀&<" * 2000) for i in range(300)]

    view = accepted(build_history_modal(snapshot(1, text="&" * 3000), entries))

    assert len(view["blocks"]) <= 100
    assert len(json.dumps(view)) < 250_000


# --- digest ---------------------------------------------------------------------------------------------


def posted(message: dict[str, Any]) -> dict[str, Any]:
    """The message as `chat.postMessage` takes it, after the fake Slack's content checks."""
    workspace = Workspace(
        team_id="T0POSTGATE", bot_user_id="U0BOT", bot_id="B0BOT", app_id="A0APP", root_url="http://127.0.0.1"
    )
    checked = workspace.check_content(message, text_max=POST_TEXT_MAX)
    assert checked["warning"] is None
    return message


def test_the_digest_lists_each_section_with_thread_links_and_times() -> None:
    pending = [snapshot(1, approvals=("U0BO",))]
    upcoming = [snapshot(2, status=PostStatus.APPROVED, publish_at=NOW + timedelta(hours=5))]

    message = posted(
        build_digest(day_label="Sat 21 Nov", pending=pending, upcoming=upcoming, failed=[], counts={})
    )

    shown = texts(message)
    assert message["blocks"][0]["text"]["text"] == "☀️ Postgate daily digest · Sat 21 Nov"
    assert "*Waiting for approval (1)*" in shown
    assert "<https://fake.slack.test/archives/C0APPROVE/p1|#1>" in shown and "1 of 2 approvals" in shown
    assert "*Scheduled in the next 24 hours (1)*" in shown
    assert "<https://fake.slack.test/archives/C0APPROVE/p2|#2>" in shown
    assert "<!date^" in shown
    assert "*Failed or needing attention (0)*\n_Nothing failed._" in shown
    assert "1 waiting for approval" in message["text"]


def test_an_empty_digest_says_nothing_is_waiting() -> None:
    message = posted(build_digest(day_label="Mon 23 Nov", pending=[], upcoming=[], failed=[], counts={}))

    shown = texts(message)
    assert "Nothing waiting." in shown and "Nothing scheduled." in shown and "Nothing failed." in shown


def test_a_huge_digest_counts_what_it_leaves_out_and_stays_within_slack_limits() -> None:
    worst = snapshot(
        1,
        text="&<" * 1500,
        last_error="<!channel> " * 500,
        permalink="https://fake.slack.test/archives/C0APPROVE/p" + "9" * 900,
    )
    many = [replace(worst, id=i) for i in range(1, 1001)]
    failed = [replace(p, status=PostStatus.FAILED) for p in many]

    message = posted(
        build_digest(
            day_label="D" * 400,
            pending=many,
            upcoming=many,
            failed=failed,
            counts={"pending": 1500, "upcoming": 1000, "failed": 1000},
        )
    )

    shown = texts(message)
    assert len(message["blocks"]) <= 50
    assert "<!channel>" not in shown
    blocks = message["blocks"]
    sections = [(i, b["text"]["text"]) for i, b in enumerate(blocks) if b["type"] == "section"]
    totals = []
    for index, text in sections:
        heading, *lines = text.split("\n")
        total = int(heading.rsplit("(", 1)[1].rstrip(")*"))
        totals.append(total)
        assert 1 <= len(lines) <= 10
        assert (
            blocks[index + 1]["elements"][0]["text"] == f"and {total - len(lines):,} more — use `/post list`"
        )
    assert totals == [1500, 1000, 1000]


# --- export ---------------------------------------------------------------------------------------------


def test_the_csv_round_trips_through_a_csv_reader() -> None:
    rows = [
        ExportRow(
            post_id=12,
            at="2026-11-21T12:00:00Z",
            actor="U0ANA",
            action="rejected",
            from_status="pending_approval",
            to_status="rejected",
            version=3,
            detail='Too long, "really"\nsecond line; ünïcödé 😀',
            post_text_first_line="Launch, day",
            accounts="linkedin:Acme Inc, twitter:Acme on X",
        ),
        ExportRow(
            post_id=13,
            at="2026-11-21T12:05:00Z",
            actor="postgate",
            action="created",
            from_status=None,
            to_status="pending_approval",
            version=None,
            detail=None,
            post_text_first_line="",
            accounts="",
        ),
    ]

    data = render_csv(rows)

    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.startswith(",".join(EXPORT_COLUMNS).encode() + b"\r\n")
    read = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert read[0] == list(EXPORT_COLUMNS)
    assert read[1] == [
        "12",
        "2026-11-21T12:00:00Z",
        "U0ANA",
        "rejected",
        "pending_approval",
        "rejected",
        "3",
        'Too long, "really"\nsecond line; ünïcödé 😀',
        "Launch, day",
        "linkedin:Acme Inc, twitter:Acme on X",
    ]
    assert read[2] == [
        "13",
        "2026-11-21T12:05:00Z",
        "postgate",
        "created",
        "",
        "pending_approval",
        "",
        "",
        "",
        "",
    ]


def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised() -> None:
    attacks = ['=HYPERLINK("https://evil.example","Click")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    rows = [
        ExportRow(
            post_id=1,
            at="2026-11-21T12:00:00Z",
            actor="U0ANA",
            action="created",
            from_status=None,
            to_status=None,
            version=1,
            detail=attack,
            post_text_first_line=attack,
            accounts="a = b",
        )
        for attack in attacks
    ]

    read = list(csv.reader(io.StringIO(render_csv(rows).decode("utf-8"), newline="")))[1:]

    for attack, row in zip(attacks, read, strict=True):
        assert row[7] == "'" + attack
        assert row[8] == "'" + attack
        assert row[9] == "a = b"
    assert read[0][8] == '\'=HYPERLINK("https://evil.example","Click")'
