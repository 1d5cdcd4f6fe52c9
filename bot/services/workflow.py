"""Who may do what, per workspace: settings (stored in the database, environment as first defaults),
Slack user groups resolved to approvers, admins, and the approval progress of a post.

User-group members come from `usergroups.users.list`, cached for `group_ttl` seconds. A workspace on a
free Slack plan has no user groups: Postgate logs that once, remembers it (the settings modal and App
Home say so), and uses the listed users only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from bot.clock import Clock
from bot.db.engine import Database
from bot.db.tables import WorkspaceSettingsRow
from bot.domain.approval import Role
from bot.domain.policy import ApprovalRule, Progress, Target, evaluate, governing_rules
from bot.domain.workspace import WorkspaceSettings
from bot.errors import DomainError

log = logging.getLogger(__name__)

# Slack errors meaning "this workspace has no user groups to read".
_NO_GROUPS = {"plan_upgrade_required", "paid_only", "not_allowed_token_type", "missing_scope"}


_settings_table = WorkspaceSettingsRow.__table__  # type: ignore[attr-defined]  # SQLModel sets it
#: Where a session keeps the settings it has read (`Session.info`).
_SEEN_SETTINGS = "postgate_settings"
_REVISION = select(_settings_table.c.revision).where(_settings_table.c.team_id == bindparam("team"))


class StaleSettings(DomainError):
    """Someone else saved the settings since they were loaded."""


@dataclass(frozen=True)
class Standing:
    """A user's relation to one post."""

    roles: frozenset[Role]
    #: The user approves under the rules but wrote the post, and self-approval is off.
    self_approval_blocked: bool
    progress: Progress
    approver_hint: str


class Workflow:
    def __init__(
        self,
        *,
        db: Database,
        client: WebClient,
        clock: Clock,
        defaults: WorkspaceSettings,
        env_admins: Iterable[str] = (),
        group_ttl: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._client = client
        self._clock = clock
        self._defaults = defaults
        self._env_admins = frozenset(env_admins)
        self._group_ttl = group_ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._admins: dict[str, tuple[float, bool]] = {}
        self._parsed: dict[str, tuple[WorkspaceSettings, int]] = {}
        self.groups_unavailable: str | None = None

    # --- settings --------------------------------------------------------------------------------------

    def settings(self, team_id: str) -> WorkspaceSettings:
        return self.settings_with_revision(team_id)[0]

    def settings_with_revision(self, team_id: str) -> tuple[WorkspaceSettings, int]:
        """The stored settings, read again on every call (another replica may have saved), but parsed
        only when their revision changed: a decision asks several times, and parsing was most of it."""
        with self._db.read() as session:
            # A request asks several times (who approves, who is an admin, each post's progress), mostly
            # inside one session: the revision is read once per session (`save_settings` forgets it).
            seen: dict[str, tuple[WorkspaceSettings, int]] = session.info.setdefault(_SEEN_SETTINGS, {})
            known = seen.get(team_id)
            if known is None:
                known = seen[team_id] = self._read_settings(session, team_id)
            return known

    def _read_settings(self, session: Session, team_id: str) -> tuple[WorkspaceSettings, int]:
        # Core on the session's connection: the ORM's per-statement work cost more than the query.
        revision = session.connection().execute(_REVISION, {"team": team_id}).scalar_one_or_none()
        if revision is None:
            return self._defaults, 0
        cached = self._parsed.get(team_id)
        if cached is not None and cached[1] == revision:
            return cached
        row = session.get(WorkspaceSettingsRow, team_id)
        if row is None:  # deleted in between: there is no deleting, but the defaults are the answer
            return self._defaults, 0
        try:
            parsed = WorkspaceSettings.model_validate(row.data), row.revision
        except ValidationError:
            log.exception("stored settings of %s are unreadable; using the defaults", team_id)
            parsed = self._defaults, row.revision
        self._parsed[team_id] = parsed
        return parsed

    def save_settings(self, team_id: str, settings: WorkspaceSettings, *, user_id: str, revision: int) -> int:
        """Store `settings` if nobody saved since `revision` was read; the new revision."""
        now = self._clock.now()
        data = settings.model_dump(mode="json")
        with self._db.write() as session:
            session.info.pop(_SEEN_SETTINGS, None)
            row = session.get(WorkspaceSettingsRow, team_id, with_for_update=True)
            if row is None:
                if revision != 0:
                    raise StaleSettings("The settings changed meanwhile. Close this and open them again.")
                session.add(
                    WorkspaceSettingsRow(
                        team_id=team_id, data=data, revision=1, updated_by=user_id, updated_at=now
                    )
                )
                return 1
            result = session.execute(
                update(WorkspaceSettingsRow)
                .where(
                    col(WorkspaceSettingsRow.team_id) == team_id,
                    col(WorkspaceSettingsRow.revision) == revision,
                )
                .values(data=data, revision=revision + 1, updated_by=user_id, updated_at=now),
                execution_options={"synchronize_session": False},
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise StaleSettings(
                    "Someone else saved the settings while you were editing them. "
                    "Close this and open them again to see their change."
                )
        log.info("settings of %s saved by %s (revision %s)", team_id, user_id, revision + 1)
        return revision + 1

    # --- people --------------------------------------------------------------------------------------

    def is_admin(self, team_id: str, user_id: str) -> bool:
        """Slack admins and owners, POSTGATE_ADMINS, and admins named in the settings."""
        if user_id in self._env_admins or user_id in self.settings(team_id).admins:
            return True
        with self._lock:
            hit = self._admins.get(user_id)
            if hit and self._monotonic() - hit[0] < self._group_ttl:
                return hit[1]
        try:
            user = self._client.users_info(user=user_id).get("user") or {}
        except (SlackApiError, SlackClientError) as error:
            log.warning("users.info failed for %s: %s", user_id, type(error).__name__)
            return False
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        with self._lock:
            self._admins[user_id] = (self._monotonic(), admin)
        return admin

    def members(self, group_id: str) -> frozenset[str]:
        with self._lock:
            hit = self._groups.get(group_id)
            if hit and self._monotonic() - hit[0] < self._group_ttl:
                return hit[1]
        try:
            users = frozenset(self._client.usergroups_users_list(usergroup=group_id).get("users") or [])
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code in _NO_GROUPS:
                if self.groups_unavailable is None:
                    log.warning(
                        "Slack user groups are not available in this workspace (%s); approvers are the "
                        "listed users only",
                        code,
                    )
                self.groups_unavailable = code
                users = frozenset()
            else:
                log.warning("usergroups.users.list failed for %s: %s", group_id, code)
                # A transient failure keeps the last known members rather than locking approvers out.
                return hit[1] if hit else frozenset()
        except SlackClientError as error:
            log.warning("usergroups.users.list failed for %s: %s", group_id, type(error).__name__)
            return hit[1] if hit else frozenset()
        with self._lock:
            self._groups[group_id] = (self._monotonic(), users)
        return users

    def list_groups(self) -> list[tuple[str, str]]:
        """(id, "@handle · name") of the workspace's user groups; empty on a free plan."""
        try:
            groups = self._client.usergroups_list().get("usergroups") or []
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code in _NO_GROUPS:
                self.groups_unavailable = code
            return []
        except SlackClientError:
            return []
        return [
            (str(g["id"]), f"@{g.get('handle', '')} · {g.get('name', '')}") for g in groups if g.get("id")
        ]

    def warm(self, team_id: str) -> None:
        """Look up every rule's group members now, so checks made later under a row lock hit the cache."""
        for rule in self.settings(team_id).approval_rules():
            self.resolve(rule)

    def resolve(self, rule: ApprovalRule) -> frozenset[str]:
        members: set[str] = set(rule.users)
        for group in rule.groups:
            members |= self.members(group)
        return frozenset(members)

    # --- posts ---------------------------------------------------------------------------------------

    def rules_for(self, team_id: str, targets: Iterable[Target]) -> tuple[ApprovalRule, ...]:
        return governing_rules(self.settings(team_id).approval_rules(), targets)

    def progress(
        self, team_id: str, *, targets: Iterable[Target], approvals: list[str], author_id: str
    ) -> Progress:
        settings = self.settings(team_id)
        return evaluate(
            governing_rules(settings.approval_rules(), targets),
            approvals=approvals,
            author_id=author_id,
            allow_self_approval=settings.allow_self_approval,
            resolve=self.resolve,
        )

    def progress_of_many(
        self, team_id: str, posts: Iterable[tuple[Iterable[Target], list[str], str]]
    ) -> list[Progress]:
        """`progress` of each (targets, approvals, author) of one workspace, its settings read once (App
        Home and `/post list` check up to a few hundred pending posts)."""
        settings = self.settings(team_id)
        rules = settings.approval_rules()
        # Most pending posts go to the same few accounts with the same few approvals so far: each
        # distinct case is evaluated once.
        known: dict[tuple[tuple[Target, ...], tuple[str, ...], str], Progress] = {}
        progresses = []
        for targets, approvals, author_id in posts:
            case = (tuple(targets), tuple(approvals), author_id)
            progress = known.get(case)
            if progress is None:
                progress = known[case] = evaluate(
                    governing_rules(rules, case[0]),
                    approvals=approvals,
                    author_id=author_id,
                    allow_self_approval=settings.allow_self_approval,
                    resolve=self.resolve,
                )
            progresses.append(progress)
        return progresses

    def standing(
        self,
        team_id: str,
        *,
        user_id: str,
        author_id: str,
        targets: Iterable[Target],
        approvals: list[str],
    ) -> Standing:
        settings = self.settings(team_id)
        rules = governing_rules(settings.approval_rules(), list(targets))
        progress = evaluate(
            rules,
            approvals=approvals,
            author_id=author_id,
            allow_self_approval=settings.allow_self_approval,
            resolve=self.resolve,
        )
        roles = set()
        if user_id == author_id:
            roles.add(Role.AUTHOR)
        if user_id in progress.eligible:
            roles.add(Role.APPROVER)
        blocked = (
            user_id == author_id
            and not settings.allow_self_approval
            and any(user_id in self.resolve(rule) for rule in rules)
        )
        hint = "; ".join(r.who() for r in rules) or "the approvers"
        return Standing(
            roles=frozenset(roles), self_approval_blocked=blocked, progress=progress, approver_hint=hint
        )

    def now(self) -> datetime:
        return self._clock.now()
