"""The `postgate` command: `run`, `migrate`, `doctor`, `outbox`, `keygen`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.errors import ConfigError, ProviderError
from bot.logs import configure_logging
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.providers.base import Provider
    from bot.providers.registry import Credentials


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"The configuration is not valid: {problems}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="postgate", description="Draft, approve and publish social posts from Slack."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT)")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("doctor", help="check the configuration, Slack, the providers and the database")
    sub.add_parser(
        "keygen", help="print a new POSTGATE_SECRET_KEY (encrypts the provider keys entered in Slack)"
    )
    _outbox_arguments(
        sub.add_parser("outbox", help="list the Slack messages Postgate gave up on; resend one")
    )
    args = parser.parse_args(argv)
    if args.command == "keygen":
        # Needs no settings: it is how the first POSTGATE_SECRET_KEY is made.
        from bot.services.credentials import KeyRing

        print(KeyRing.generate())
        return 0
    try:
        settings = _load_settings()
        configure_logging(settings.log_level, settings.secret_values())
        if args.command == "run":
            from bot.main import run

            return run(settings)
        if args.command == "migrate":
            from bot.db.engine import make_engine
            from bot.db.migrate import current_revision, upgrade

            engine = make_engine(settings.database_url)
            upgrade(engine)
            print(f"database is at revision {current_revision(engine)}")
            return 0
        if args.command == "outbox":
            return outbox(settings, args)
        return doctor(settings)
    except ConfigError as error:
        print(f"postgate: {error}", file=sys.stderr)
        return 2


def doctor(settings: Settings) -> int:
    """Check everything `run` depends on and say what is wrong in plain words. Exit 1 on any problem."""
    from slack_sdk.errors import SlackApiError

    from bot.db.engine import make_engine
    from bot.db.migrate import current_revision
    from bot.main import slack_clients
    from bot.providers.registry import KEYED_PROVIDERS, build_providers

    logging.getLogger().setLevel(logging.ERROR)
    problems = 0

    def ok(text: str) -> None:
        print(f"  ok    {text}")

    def bad(text: str) -> None:
        nonlocal problems
        problems += 1
        print(f"  FAIL  {text}")

    print("Settings")
    missing = settings.missing_for_run()
    if missing:
        bad("missing: " + ", ".join(missing))
    else:
        ok("all required settings are present")
    print(f"  mode  {'Socket Mode' if settings.socket_mode else f'HTTP on port {settings.port}'}")

    print("Database")
    try:
        engine = make_engine(settings.database_url)
        revision = current_revision(engine)
        if revision is None:
            bad(
                f"{engine.url.render_as_string(hide_password=True)} is reachable but not migrated; "
                "run `postgate migrate`"
            )
        else:
            ok(f"{engine.url.render_as_string(hide_password=True)} at revision {revision}")
        engine.dispose()
    except Exception as error:
        bad(f"cannot open the database: {type(error).__name__}: {error}")

    print("Slack")
    if settings.slack_bot_token is None:
        bad("SLACK_BOT_TOKEN is not set")
    else:
        client, _ = slack_clients(settings)
        try:
            auth = client.auth_test()
            ok(f"bot token works: @{auth.get('user')} in workspace {auth.get('team')}")
            if settings.approval_channel:
                try:
                    info = client.conversations_info(channel=settings.approval_channel)
                    channel = info.get("channel") or {}
                    ok(f"approval channel #{channel.get('name', settings.approval_channel)} exists")
                    if channel.get("is_private") and not channel.get("is_member"):
                        bad("the approval channel is private and the bot is not in it; /invite it there")
                except SlackApiError as error:
                    bad(f"approval channel {settings.approval_channel}: {error.response.get('error')}")
            for approver in settings.approvers:
                try:
                    if approver.startswith("S"):
                        client.usergroups_users_list(usergroup=approver)
                    else:
                        client.users_info(user=approver)
                except SlackApiError as error:
                    code = error.response.get("error")
                    if code == "plan_upgrade_required":
                        bad(f"approver group {approver}: this Slack plan has no user groups; list people")
                    else:
                        bad(f"approver {approver}: {code}")
        except SlackApiError as error:
            bad(f"Slack refused the bot token: {error.response.get('error')}")
        except Exception as error:
            bad(f"cannot reach Slack at {settings.slack_api_url}: {type(error).__name__}")

    print("Providers")
    stored = _stored_keys(settings, bad)
    for name in stored:
        ok(f"{KEYED_PROVIDERS.get(name, name)}: the key entered in Slack is in force")
    providers = build_providers(settings, stored=stored)
    if not providers:
        bad(
            "no provider is configured (set PUBLORA_API_KEY, PUBLER_API_KEY + PUBLER_WORKSPACE_ID, "
            "POSTORIA_API_KEY + POSTORIA_WORKSPACE_ID, or POSTGATE_DRY_RUN=true"
            + (", or enter a key in Slack: App Home → Settings)" if settings.secret_key else ")")
        )
    for name, workspace in (
        ("PUBLER", settings.publer_workspace_id),
        ("POSTORIA", settings.postoria_workspace_id),
    ):
        if getattr(settings, f"{name.lower()}_api_key") is not None and not workspace:
            bad(f"{name}_API_KEY is set but {name}_WORKSPACE_ID is not; {name.title()} is left out")
    for provider in providers.values():
        try:
            ok(f"{provider.display_name}: {provider.check_credentials()}")
            for account in provider.list_accounts():
                if account.cannot_post:
                    bad(f"{provider.display_name}: {account.label}: {account.cannot_post}")
        except ProviderError as error:
            bad(f"{provider.display_name}: {error.message}")
            wrong_workspace = _unreached_workspace(provider, settings)
            if wrong_workspace:
                bad(wrong_workspace)
    print("All good." if problems == 0 else f"{problems} problem(s) found.")
    return 0 if problems == 0 else 1


def _unreached_workspace(provider: Provider, settings: Settings) -> str | None:
    """When the provider lists the key's workspaces and the configured one is not among them, a line
    naming the ones it reaches (so the admin can copy the right id); None otherwise."""
    from bot.providers.base import ListsWorkspaces

    name = provider.name
    configured = getattr(settings, f"{name}_workspace_id", None)
    if not isinstance(provider, ListsWorkspaces) or not configured:
        return None
    try:
        reached = provider.list_workspaces()
    except ProviderError:
        return None  # the key itself failed; the line above says so
    if any(w.workspace_id == configured for w in reached):
        return None
    variable = f"{name.upper()}_WORKSPACE_ID"
    if not reached:
        return f"{variable} {configured} is not a workspace this key reaches, and it reaches none"
    names = ", ".join(f"{w.name} ({w.workspace_id})" for w in reached)
    return f"{variable} {configured} is not a workspace this key reaches; it reaches: {names}"


def _outbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=50, help="list at most this many (default 50)")
    actions = parser.add_subparsers(dest="outbox_command")
    resend = actions.add_parser("resend", help="send a message given up on again, with a fresh day of tries")
    resend.add_argument("id", type=int, help="the message's id, as `postgate outbox` lists it")


def outbox(settings: Settings, args: argparse.Namespace) -> int:
    """`postgate outbox`: the Slack messages given up on, newest first; `resend ID` puts one back as due.
    Only what the outbox table holds is shown (post, kind, Slack's error), never a token."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.clock import SystemClock
    from bot.db.engine import Database, make_engine
    from bot.errors import NotResendable
    from bot.services.undelivered import UndeliveredService
    from bot.slack.views.format import plain_from_mrkdwn
    from bot.slack.views.home import undelivered_what

    db = Database(make_engine(settings.database_url))
    service = UndeliveredService(db=db, clock=SystemClock())
    try:
        if args.outbox_command == "resend":
            try:
                message = service.resend(args.id)
            except NotResendable as error:
                print(f"postgate: {error.user_message}", file=sys.stderr)
                return 1
            what = plain_from_mrkdwn(undelivered_what(message))
            post = f" of post #{message.post_id}" if message.post_id is not None else ""
            print(
                f"Message {message.id} will be sent again ({what}{post}): a running Postgate delivers it "
                "within POSTGATE_SWEEP_SECONDS. If an earlier try did reach Slack, it is found and kept "
                "instead of posted twice."
            )
            return 0
        found = service.latest(team_id=None, limit=max(1, args.limit))
        if found.total == 0:
            print("All good: no Slack message is undelivered.")
            return 0
        noun = "message" if found.total == 1 else "messages"
        print(f"{found.total} Slack {noun} could not be delivered (newest first):")
        for message in found.latest:
            post = "no post"
            if message.post_id is not None:
                post = f"post #{message.post_id}"
                if message.post_text:
                    line = next((ln.strip() for ln in message.post_text.splitlines() if ln.strip()), "")
                    post += f" “{line[:60]}”"
            print(
                f"  {message.id:>6}  {message.given_up_at:%Y-%m-%d %H:%M} UTC  {post}  "
                f"{plain_from_mrkdwn(undelivered_what(message))}"
            )
            print(f"          {message.reason}")
        if found.total > len(found.latest):
            print(f"…and {found.total - len(found.latest)} more (use --limit).")
        print("Once the cause is fixed, resend one with `postgate outbox resend ID`.")
        return 0
    except SQLAlchemyError as error:
        print(
            f"postgate: cannot read the outbox ({type(error).__name__}); is the database migrated "
            "(`postgate migrate`) and DATABASE_URL right?",
            file=sys.stderr,
        )
        return 1
    finally:
        db.dispose()


def _stored_keys(settings: Settings, bad: Callable[[str], None]) -> dict[str, Credentials]:
    """The provider keys entered in Slack, when the database has them and they can be read."""
    from bot.db.engine import Database, make_engine
    from bot.logs import redact_also
    from bot.services.credentials import KeyRing, StoredCredentials

    try:
        keyring = KeyRing.from_setting(settings.secret_key)
        db = Database(make_engine(settings.database_url))
    except Exception:
        return {}  # the database check above already said what is wrong
    try:
        _, found = StoredCredentials(db=db, keyring=keyring, redact=redact_also).load()
        return found
    except ConfigError as error:
        bad(str(error))
        return {}
    except Exception:
        return {}  # not migrated yet, or unreachable: said above
    finally:
        db.dispose()
