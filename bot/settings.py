"""Postgate's configuration: one pydantic-settings model read from the environment and `.env`.

Built once by the composition root (`bot.main`) and passed down; never at import time.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.workspace import RuleSetting, WorkspaceSettings
from bot.providers.ratelimit import RateLimit

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_PUBLORA_BASE_URL = "https://api.publora.com/api/v1"
DEFAULT_PUBLER_BASE_URL = "https://app.publer.com/api/v1"
DEFAULT_POSTORIA_BASE_URL = "https://api.postoria.io/v1"
# The providers' documented limits. A team whose provider raised its limit, or that runs several
# replicas against one key, sets its own (e.g. half each for two replicas).
DEFAULT_PUBLER_RATE_LIMIT = "100/120s"
DEFAULT_POSTORIA_RATE_LIMIT = "300/300s"

# Values that show the user copied `.env.example` without filling it in.
_PLACEHOLDERS = {
    "changeme",
    "changethis",
    "xoxb-your-bot-token",
    "xapp-your-app-token",
    "your-signing-secret",
}


_SECRET_FIELDS = (
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "publora_api_key",
    "publora_webhook_secret",
    "publer_api_key",
    "postoria_api_key",
    "secret_key",
)


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Everything Postgate reads from its environment. Tokens are `SecretStr`: they print as `**********`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    slack_bot_token: SecretStr | None = Field(default=None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field(default=DEFAULT_SLACK_API_URL, validation_alias=_env("SLACK_API_URL"))

    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{Path.cwd() / 'postgate.db'}",
        validation_alias=_env("DATABASE_URL"),
    )
    port: int = Field(default=3000, ge=1, le=65535, validation_alias=_env("PORT"))
    host: str = Field(default="0.0.0.0", validation_alias=_env("POSTGATE_HOST"))  # noqa: S104 - a container listens on all interfaces

    approval_channel: str | None = Field(default=None, validation_alias=_env("POSTGATE_APPROVAL_CHANNEL"))
    approvers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("POSTGATE_APPROVERS")
    )
    required_approvals: int = Field(
        default=1, ge=1, le=10, validation_alias=_env("POSTGATE_REQUIRED_APPROVALS")
    )
    admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("POSTGATE_ADMINS")
    )
    allow_self_approval: bool = Field(default=False, validation_alias=_env("POSTGATE_ALLOW_SELF_APPROVAL"))
    reminder_after_minutes: float = Field(
        default=240, ge=0, le=10080, validation_alias=_env("POSTGATE_REMINDER_AFTER_MINUTES")
    )
    reminder_before_due_minutes: float = Field(
        default=60, ge=0, le=10080, validation_alias=_env("POSTGATE_REMINDER_BEFORE_DUE_MINUTES")
    )
    default_tz: str = Field(default="UTC", validation_alias=_env("POSTGATE_DEFAULT_TZ"))
    #: "HH:MM" local time of the daily digest, or "off".
    digest_time: str = Field(default="09:00", validation_alias=_env("POSTGATE_DIGEST_TIME"))

    publora_api_key: SecretStr | None = Field(default=None, validation_alias=_env("PUBLORA_API_KEY"))
    publora_base_url: str = Field(default=DEFAULT_PUBLORA_BASE_URL, validation_alias=_env("PUBLORA_BASE_URL"))
    publora_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("PUBLORA_WEBHOOK_SECRET")
    )

    publer_api_key: SecretStr | None = Field(default=None, validation_alias=_env("PUBLER_API_KEY"))
    publer_workspace_id: str | None = Field(default=None, validation_alias=_env("PUBLER_WORKSPACE_ID"))
    publer_base_url: str = Field(default=DEFAULT_PUBLER_BASE_URL, validation_alias=_env("PUBLER_BASE_URL"))
    publer_rate_limit: str = Field(
        default=DEFAULT_PUBLER_RATE_LIMIT, validation_alias=_env("PUBLER_RATE_LIMIT")
    )

    postoria_api_key: SecretStr | None = Field(default=None, validation_alias=_env("POSTORIA_API_KEY"))
    postoria_workspace_id: str | None = Field(default=None, validation_alias=_env("POSTORIA_WORKSPACE_ID"))
    postoria_base_url: str = Field(
        default=DEFAULT_POSTORIA_BASE_URL, validation_alias=_env("POSTORIA_BASE_URL")
    )
    postoria_rate_limit: str = Field(
        default=DEFAULT_POSTORIA_RATE_LIMIT, validation_alias=_env("POSTORIA_RATE_LIMIT")
    )

    dry_run: bool = Field(default=False, validation_alias=_env("POSTGATE_DRY_RUN"))
    #: Fernet key(s) that encrypt the provider keys admins enter in Slack; comma-separated for rotation
    #: (the first encrypts, every one decrypts). Unset: keys come from the environment only.
    secret_key: SecretStr | None = Field(default=None, validation_alias=_env("POSTGATE_SECRET_KEY"))

    # Tuning knobs; the defaults suit production. Tests shorten them.
    sweep_seconds: float = Field(default=30.0, gt=0, validation_alias=_env("POSTGATE_SWEEP_SECONDS"))
    follow_poll_seconds: float = Field(
        default=30.0, gt=0, validation_alias=_env("POSTGATE_FOLLOW_POLL_SECONDS")
    )
    dispatch_lease_seconds: float = Field(
        default=300.0, gt=0, validation_alias=_env("POSTGATE_DISPATCH_LEASE_SECONDS")
    )
    #: Provider calls in flight at once per process. A burst of due posts drains at about this many ÷ the
    #: provider's answer time, until the provider's rate limit is the bound. Capped so that the dispatcher's
    #: threads (twice as many) fit the database pools beside the listeners.
    dispatch_workers: int = Field(default=4, ge=1, le=16, validation_alias=_env("POSTGATE_DISPATCH_WORKERS"))
    retry_base_seconds: float = Field(
        default=15.0, gt=0, validation_alias=_env("POSTGATE_RETRY_BASE_SECONDS")
    )
    provider_timeout_seconds: float = Field(
        default=20.0, gt=0, validation_alias=_env("POSTGATE_PROVIDER_TIMEOUT")
    )
    shutdown_seconds: float = Field(default=25.0, gt=0, validation_alias=_env("POSTGATE_SHUTDOWN_SECONDS"))
    log_level: str = Field(default="INFO", validation_alias=_env("POSTGATE_LOG_LEVEL"))

    @field_validator("approvers", "admins", mode="before")
    @classmethod
    def _split_user_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        value = value.strip().lower()
        if value in ("off", "none", "no", ""):
            return "off"
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
            raise ValueError("POSTGATE_DIGEST_TIME must be HH:MM (24 h) or off")
        return f"{int(hours):02d}:{int(minutes):02d}"

    @field_validator("default_tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"POSTGATE_DEFAULT_TZ: unknown time zone {value!r}") from None
        return value

    def workspace_defaults(self) -> WorkspaceSettings:
        """The settings a workspace starts with, before an admin changes them in Slack."""
        users = [a for a in self.approvers if not a.startswith("S")]
        groups = [a for a in self.approvers if a.startswith("S")]
        digest = None if self.digest_time == "off" else time.fromisoformat(self.digest_time)
        return WorkspaceSettings(
            approval_channel=self.approval_channel,
            rules=[RuleSetting(users=users, groups=groups, required=self.required_approvals)],
            allow_self_approval=self.allow_self_approval,
            reminder_after_minutes=self.reminder_after_minutes,
            reminder_before_due_minutes=self.reminder_before_due_minutes,
            default_tz=self.default_tz,
            digest_time=digest,
        )

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = secret_key_parts(value)
        if not parts:
            return None
        for number, part in enumerate(parts, start=1):
            try:
                Fernet(part)
            except (ValueError, TypeError):
                # Never the value itself: this message is printed.
                which = "it is" if len(parts) == 1 else f"key {number} of {len(parts)} is"
                raise ValueError(
                    f"POSTGATE_SECRET_KEY must be Fernet keys (make one with `postgate keygen`), "
                    f"comma-separated; {which} not one"
                ) from None
        return value

    @field_validator("publer_rate_limit", "postoria_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        RateLimit.parse(value)  # raises a readable ValueError
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins base_url and method name by plain concatenation.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        # Accept the URLs people paste from their hosting provider.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _no_placeholders(self) -> Settings:
        for name in _SECRET_FIELDS:
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value().strip().lower() in _PLACEHOLDERS:
                raise ValueError(f"{name.upper()} still holds the placeholder from .env.example")
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def missing_for_run(self) -> list[str]:
        """Names of the settings `postgate run` cannot start without, in the user's spelling."""
        missing = []
        if self.slack_bot_token is None:
            missing.append("SLACK_BOT_TOKEN")
        if not self.socket_mode and self.slack_signing_secret is None:
            missing.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
        if not self.approval_channel:
            missing.append("POSTGATE_APPROVAL_CHANNEL")
        if not self.approvers and not self.admins:
            missing.append("POSTGATE_APPROVERS (or POSTGATE_ADMINS, who then choose approvers in Slack)")
        # With POSTGATE_SECRET_KEY an admin can enter the first provider key in Slack instead.
        if not self.configured_providers() and not self.dry_run and self.secret_key is None:
            missing.append(
                "a provider key: PUBLORA_API_KEY, PUBLER_API_KEY or POSTORIA_API_KEY "
                "(or POSTGATE_DRY_RUN=true to try Postgate without posting)"
            )
        if self.publer_api_key is not None and not self.publer_workspace_id:
            missing.append("PUBLER_WORKSPACE_ID (Publer needs it with PUBLER_API_KEY)")
        if self.postoria_api_key is not None and not self.postoria_workspace_id:
            missing.append("POSTORIA_WORKSPACE_ID (Postoria needs it with POSTORIA_API_KEY)")
        return missing

    def configured_providers(self) -> list[str]:
        """Names of the real providers that have a key."""
        keys = {
            "publora": self.publora_api_key,
            "publer": self.publer_api_key,
            "postoria": self.postoria_api_key,
        }
        return [name for name, key in keys.items() if key is not None]

    def secret_values(self) -> list[str]:
        """Every configured secret, for log redaction."""
        values = []
        for name in _SECRET_FIELDS:
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value():
                values.append(secret.get_secret_value())
        if self.secret_key is not None:
            values += secret_key_parts(self.secret_key)
        return values


def secret_key_parts(value: SecretStr) -> list[str]:
    """The Fernet keys of POSTGATE_SECRET_KEY, the encrypting one first."""
    return [part.strip() for part in value.get_secret_value().split(",") if part.strip()]
