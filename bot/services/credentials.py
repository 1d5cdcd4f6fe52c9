"""Provider keys entered in Slack: encrypted with POSTGATE_SECRET_KEY (Fernet), stored, checked with the
provider before they are saved, audited, and handed to the live provider set.

A key in plain text exists only in memory: in the providers built from it and, for a moment, in the check
of a key an admin typed. The database holds Fernet tokens; logs, Slack and the errors people see get the
provider's name, who changed its key and when, never the key. Every key this module learns is added to the
log redaction (`redact`) before anything can log it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as CheckTimedOut
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from bot.clock import Clock, as_utc
from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import ProviderCredential
from bot.domain.model import Workspace
from bot.errors import ConfigError, DomainError, ProviderAuthError, ProviderError, ProviderRejected
from bot.providers.base import ListsWorkspaces, Provider
from bot.providers.registry import (
    KEYED_PROVIDERS,
    NEEDS_WORKSPACE,
    Credentials,
    LiveProviders,
    Origin,
)
from bot.settings import secret_key_parts

log = logging.getLogger(__name__)

#: How long the check of a typed key may take: the modal's acknowledgement must reach Slack within 3 s.
CHECK_SECONDS = 2.0
_MESSAGE_MAX = 200


class KeyRing:
    """POSTGATE_SECRET_KEY as Fernet keys: the first encrypts, every one decrypts (rotation)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self._primary = Fernet(keys[0])
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_setting(cls, value: SecretStr | None) -> KeyRing | None:
        parts = secret_key_parts(value) if value is not None else []
        return cls(parts) if parts else None

    @staticmethod
    def generate() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, credentials: Credentials) -> str:
        fields = {
            "api_key": credentials.api_key,
            "workspace_id": credentials.workspace_id,
            "webhook_secret": credentials.webhook_secret,
        }
        return self._fernet.encrypt(json.dumps(fields).encode()).decode()

    def decrypt(self, token: str) -> Credentials:
        """Raises InvalidToken when none of the keys made `token` (or it was altered)."""
        fields = json.loads(self._fernet.decrypt(token.encode()))
        return Credentials(
            api_key=str(fields["api_key"]),
            workspace_id=_optional(fields.get("workspace_id")),
            webhook_secret=_optional(fields.get("webhook_secret")),
        )

    def reencrypted(self, token: str) -> str | None:
        """`token` encrypted with the first key, or None when it already is (or no key can read it)."""
        try:
            self._primary.decrypt(token.encode())
            return None
        except InvalidToken:
            pass
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            return None


def _optional(value: Any) -> str | None:
    return str(value) if value else None


def _display(provider: str) -> str:
    return KEYED_PROVIDERS.get(provider, provider)


class StoredCredentials:
    """The `provider_credential` rows, decrypted: the live provider set's source of keys entered in Slack."""

    def __init__(
        self,
        *,
        db: Database,
        keyring: KeyRing | None,
        redact: Callable[[Iterable[str]], None] = lambda _secrets: None,
    ) -> None:
        self._db = db
        self.keyring = keyring
        self._redact = redact

    def fingerprint(self) -> Hashable:
        with self._db.read() as session:
            return repo.provider_credential_revisions(session)

    def rows(self) -> list[ProviderCredential]:
        with self._db.read() as session:
            return repo.provider_credentials(session)

    def load(self) -> tuple[Hashable, dict[str, Credentials]]:
        rows = self.rows()
        fingerprint = tuple((row.provider, row.revision) for row in rows)
        stored = [row for row in rows if row.token and row.provider in KEYED_PROVIDERS]
        if stored and self.keyring is None:
            raise ConfigError(
                f"{_who_entered(stored)} but POSTGATE_SECRET_KEY is not set, so Postgate cannot read "
                f"{'it' if len(stored) == 1 else 'them'}. Set POSTGATE_SECRET_KEY to the key they were "
                "saved with (see .env.example)."
            )
        found: dict[str, Credentials] = {}
        for row in stored:
            assert self.keyring is not None and row.token is not None
            try:
                credentials = self.keyring.decrypt(row.token)
            except (InvalidToken, ValueError, KeyError, TypeError):
                raise ConfigError(
                    f"POSTGATE_SECRET_KEY cannot decrypt the {_display(row.provider)} key entered in Slack "
                    f"by {row.updated_by} on {as_utc(row.updated_at):%Y-%m-%d}: it was saved with another "
                    "key. Set POSTGATE_SECRET_KEY to that key (after a rotation: the new key first, then "
                    "the old one, comma-separated)."
                ) from None
            self._redact(credentials.secrets())
            found[row.provider] = credentials
        return fingerprint, found

    def reencrypt(self) -> int:
        """After a rotation (POSTGATE_SECRET_KEY=new,old): rewrite the tokens an older key made with the
        new one, so the old key can then be dropped. The credentials are unchanged, so is the revision.
        Returns how many were rewritten."""
        if self.keyring is None:
            return 0
        rewritten = 0
        for row in self.rows():
            token = self.keyring.reencrypted(row.token) if row.token else None
            if token is None:
                continue
            with self._db.write() as session:
                if repo.replace_provider_credential_token(
                    session, provider=row.provider, revision=row.revision, token=token
                ):
                    rewritten += 1
        if rewritten:
            log.info("re-encrypted %s stored provider key(s) with the first POSTGATE_SECRET_KEY", rewritten)
        return rewritten

    def save(self, provider: str, credentials: Credentials | None, *, actor: str, now: datetime) -> int:
        """Store (or, with None, remove) `provider`'s credentials; the new revision."""
        token = None
        if credentials is not None:
            if self.keyring is None:
                raise KeysNotStorable(NO_SECRET_KEY)
            token = self.keyring.encrypt(credentials)
        with self._db.write() as session:
            return repo.set_provider_credential(session, provider=provider, token=token, actor=actor, now=now)


def _who_entered(rows: Sequence[ProviderCredential]) -> str:
    names = ", ".join(_display(row.provider) for row in rows)
    return f"Provider keys were entered in Slack ({names})"


NO_SECRET_KEY = (
    "Keys can be entered in Slack only once the operator sets POSTGATE_SECRET_KEY "
    "(made with `postgate keygen`); until then they come from the environment."
)


class KeysNotStorable(DomainError):
    """POSTGATE_SECRET_KEY is not set, so a key cannot be stored."""


class KeyCheckFailed(DomainError):
    """A typed key was not saved. `field` says which input the message belongs to: "api_key" or
    "workspace_id"."""

    def __init__(self, user_message: str, *, field: str = "api_key") -> None:
        super().__init__(user_message)
        self.field = field


@dataclass(frozen=True)
class WorkspaceListing:
    """The workspaces a typed key reaches, or why they could not be listed (then the id is typed)."""

    workspaces: tuple[Workspace, ...]
    problem: str | None = None


@dataclass(frozen=True)
class KeyStatus:
    """What the settings modal says about one provider's key; never the key."""

    provider: str
    display_name: str
    #: Where the key in force comes from; None when the provider has none.
    origin: Origin | None
    entered_by: str | None = None
    entered_at: datetime | None = None
    #: The environment has a key for it too (what removing the one entered in Slack falls back to).
    in_environment: bool = False
    #: Not a secret: offered again when the admin replaces the key.
    workspace_id: str | None = None

    @property
    def needs_workspace(self) -> bool:
        return self.provider in NEEDS_WORKSPACE


class ProviderKeys:
    """What admins do with provider keys in Slack: see where each comes from, enter one (checked with the
    provider first), remove one. Every change is logged and recorded in `provider_credential_change`."""

    def __init__(
        self,
        *,
        stored: StoredCredentials,
        providers: LiveProviders,
        environment: Mapping[str, Credentials],
        clock: Clock,
        check_seconds: float = CHECK_SECONDS,
        redact: Callable[[Iterable[str]], None] = lambda _secrets: None,
    ) -> None:
        self._stored = stored
        self._providers = providers
        self._environment = dict(environment)
        self._clock = clock
        self._check_seconds = check_seconds
        self._redact = redact
        self._checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="key-check")

    @property
    def can_store(self) -> bool:
        return self._stored.keyring is not None

    def start(self) -> None:
        """Read the stored keys at start-up (after migrations); ConfigError when they cannot be read."""
        self._providers.start()
        try:
            self._stored.reencrypt()
        except Exception as error:
            # The keys were read; moving them to the new key can wait for the next start.
            log.warning("could not re-encrypt the stored provider keys (%s)", type(error).__name__)

    def statuses(self) -> list[KeyStatus]:
        """Per provider, where its key comes from, read from the database (not from this replica's set,
        which may be a few seconds behind another replica's save)."""
        rows = {row.provider: row for row in self._stored.rows() if row.token}
        statuses = []
        for name, display in KEYED_PROVIDERS.items():
            row = rows.get(name)
            env = self._environment.get(name)
            env_usable = env is not None and env.usable_for(name)
            if row is not None:
                statuses.append(
                    KeyStatus(
                        provider=name,
                        display_name=display,
                        origin=Origin.SLACK,
                        entered_by=row.updated_by,
                        entered_at=row.updated_at,
                        in_environment=env_usable,
                        workspace_id=self._providers.workspace_id(name),
                    )
                )
            else:
                statuses.append(
                    KeyStatus(
                        provider=name,
                        display_name=display,
                        origin=Origin.ENVIRONMENT if env_usable else None,
                        in_environment=env_usable,
                        workspace_id=env.workspace_id if env is not None else None,
                    )
                )
        return statuses

    def check(self, provider: str, credentials: Credentials, *, user_id: str) -> str:
        """Ask the provider whether `credentials` work (listing its accounts), within `check_seconds`.

        Returns what the key reaches ("3 accounts"); raises KeyCheckFailed with a sentence for the admin,
        which never contains the key: when the provider refuses it, and when the provider could not be
        asked in time (then nothing is saved: a key that might be mistyped must not replace a working one).
        """
        try:
            return self._check(provider, credentials)
        except KeyCheckFailed as error:
            log.info(
                "a %s key entered by %s was not saved: %s", _display(provider), user_id, error.user_message
            )
            raise

    def _check(self, provider: str, credentials: Credentials) -> str:
        display = _display(provider)
        secrets = credentials.secrets()
        self._redact(secrets)
        try:
            candidate = self._providers.candidate(provider, credentials, timeout=self._check_seconds)
        except Exception:
            log.exception("building %s to check a key failed", display)
            raise KeyCheckFailed(f"Postgate could not check this {display} key.") from None
        future = self._checks.submit(_list_accounts, candidate)
        try:
            count = future.result(timeout=self._check_seconds)
        except CheckTimedOut:
            raise KeyCheckFailed(
                f"{display} did not answer within {self._check_seconds:g} seconds, so this key could not be "
                "checked and was not saved. Try again in a moment."
            ) from None
        except ProviderAuthError as error:
            raise KeyCheckFailed(f"{display} refused this key: {_scrubbed(error.message, secrets)}") from None
        except ProviderRejected as error:
            field = "workspace_id" if provider in NEEDS_WORKSPACE else "api_key"
            raise KeyCheckFailed(
                f"{display} did not accept this: {_scrubbed(error.message, secrets)}", field=field
            ) from None
        except ProviderError as error:
            raise KeyCheckFailed(
                f"{display} could not be asked whether this key works ({_scrubbed(error.message, secrets)}), "
                "so it was not saved. Try again in a moment."
            ) from None
        except Exception:
            log.exception("checking a %s key failed unexpectedly", display)
            raise KeyCheckFailed(
                f"Postgate could not check this {display} key (an unexpected error); it was not saved."
            ) from None
        return f"{count} account{'' if count == 1 else 's'}"

    def status(self, provider: str) -> KeyStatus | None:
        return next((status for status in self.statuses() if status.provider == provider), None)

    def workspaces(self, provider: str, api_key: str, *, user_id: str) -> WorkspaceListing | None:
        """The workspaces a typed key reaches, for the admin to pick one, within `check_seconds`.

        None when the provider has no workspace list to offer (the admin types the id). Raises
        KeyCheckFailed when the provider refuses the key itself; any other failure (the key lacks the
        `workspaces` scope, the provider is slow) comes back as a listing with a `problem` and no
        workspaces, so the admin can still type the id.
        """
        display = _display(provider)
        credentials = Credentials(api_key=api_key)
        secrets = credentials.secrets()
        self._redact(secrets)
        try:
            candidate = self._providers.candidate(provider, credentials, timeout=self._check_seconds)
        except Exception:
            log.exception("building %s to list workspaces failed", display)
            return WorkspaceListing((), f"Postgate could not ask {display} for the workspaces")
        if not isinstance(candidate, ListsWorkspaces):
            _close(candidate)
            return None
        future = self._checks.submit(_list_workspaces, candidate)
        try:
            found = future.result(timeout=self._check_seconds)
        except CheckTimedOut:
            problem = f"{display} did not list the workspaces within {self._check_seconds:g} seconds"
        except ProviderAuthError as error:
            if error.status != 403:
                message = f"{display} refused this key: {_scrubbed(error.message, secrets)}"
                log.info("a %s key entered by %s was refused: %s", display, user_id, message)
                raise KeyCheckFailed(message) from None
            problem = f"this key may not list the workspaces ({_scrubbed(error.message, secrets)})"
        except ProviderError as error:
            problem = f"{display} did not list the workspaces ({_scrubbed(error.message, secrets)})"
        except Exception:
            log.exception("listing %s workspaces failed unexpectedly", display)
            problem = f"Postgate could not ask {display} for the workspaces"
        else:
            if not found:
                raise KeyCheckFailed(f"This {display} key reaches no workspace.")
            return WorkspaceListing(tuple(found), None)
        return WorkspaceListing((), problem)

    def save(self, provider: str, credentials: Credentials, *, user_id: str) -> None:
        """Store a checked key; it is in force on this replica at once, on the others within seconds."""
        self._redact(credentials.secrets())
        revision = self._stored.save(provider, credentials, actor=user_id, now=self._clock.now())
        log.info("the %s key was entered in Slack by %s (revision %s)", _display(provider), user_id, revision)
        self._reload()

    def remove(self, provider: str, *, user_id: str) -> bool:
        """Forget the key entered in Slack, falling back to the environment's; False when there was none."""
        if not any(row.provider == provider and row.token for row in self._stored.rows()):
            return False
        revision = self._stored.save(provider, None, actor=user_id, now=self._clock.now())
        log.info(
            "the %s key entered in Slack was removed by %s (revision %s)",
            _display(provider),
            user_id,
            revision,
        )
        self._reload()
        return True

    def _reload(self) -> None:
        try:
            self._providers.reload()
        except ConfigError as error:
            # Another replica may have stored a key with a key ring this one lacks; the saved change stands.
            log.error("the providers could not be rebuilt after a key change: %s", error)


def _list_accounts(provider: Provider) -> int:
    try:
        return len(provider.list_accounts())
    finally:
        _close(provider)


def _list_workspaces(provider: ListsWorkspaces) -> list[Workspace]:
    try:
        return provider.list_workspaces()
    finally:
        _close(provider)


def _close(provider: object) -> None:
    close = getattr(provider, "close", None)
    if callable(close):
        close()


def _scrubbed(message: str, secrets: Sequence[str]) -> str:
    """A provider's message for the admin: cut short, and without the key even if the provider echoed it."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[key]")
    return message if len(message) <= _MESSAGE_MAX else message[: _MESSAGE_MAX - 1] + "…"


class LiveWebhook:
    """A provider's webhook endpoint, verified with the secret in force now (environment or Slack)."""

    def __init__(
        self,
        *,
        secret: Callable[[], str | None],
        handler: Callable[[str], Callable[[bytes, Mapping[str, str]], tuple[int, dict[str, Any]]]],
    ) -> None:
        self._secret = secret
        self._handler = handler

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        secret = self._secret()
        if not secret:
            return 404, {"error": "not found"}
        return self._handler(secret)(body, headers)
