"""Which providers exist and how each is built from its credentials. An explicit table; no discovery.

Credentials come from the environment, or from keys an admin entered in Slack (stored encrypted, see
`bot.services.credentials`), which take over from the environment's for their provider. `LiveProviders` is
the set in force: a read-only mapping every holder keeps, rebuilt when the stored keys change.

Adding a provider means one module beside this one, one entry here, and its fake in `tests/fakes/`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import httpx

from bot.clock import Clock, SystemClock
from bot.errors import ConfigError
from bot.providers.base import Provider, RetryPolicy
from bot.providers.dry_run import DryRunProvider
from bot.providers.postoria import PostoriaProvider
from bot.providers.publer import PublerProvider
from bot.providers.publora import PubloraProvider
from bot.providers.ratelimit import BudgetStore, Limiter, RateLimit, RateLimiter, SharedRateLimiter
from bot.settings import Settings

log = logging.getLogger(__name__)

#: The providers that take credentials, in the order people see them, with their display names.
KEYED_PROVIDERS: Mapping[str, str] = {"publora": "Publora", "publer": "Publer", "postoria": "Postoria"}
#: Providers whose API also needs a workspace id beside the key.
NEEDS_WORKSPACE = frozenset({"publer", "postoria"})
#: Of those, the ones whose key lists its workspaces (`ListsWorkspaces`), so an admin picks one.
LISTS_WORKSPACES = frozenset({"publer"})
#: How often, at most, a replica asks the database whether the stored keys changed.
CHECK_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class Credentials:
    """What one provider needs to be built. The secrets stay out of `repr`, which reaches logs."""

    api_key: str = field(repr=False)
    workspace_id: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)

    def secrets(self) -> list[str]:
        return [s for s in (self.api_key, self.webhook_secret) if s]

    def usable_for(self, provider: str) -> bool:
        return bool(self.api_key) and (provider not in NEEDS_WORKSPACE or bool(self.workspace_id))


class Origin(StrEnum):
    ENVIRONMENT = "environment"
    SLACK = "slack"


def environment_credentials(settings: Settings) -> dict[str, Credentials]:
    """The credentials the environment gives, per provider (a provider without its key is left out)."""
    found: dict[str, Credentials] = {}
    if settings.publora_api_key is not None:
        webhook = settings.publora_webhook_secret
        found["publora"] = Credentials(
            api_key=settings.publora_api_key.get_secret_value(),
            webhook_secret=webhook.get_secret_value() if webhook is not None else None,
        )
    if settings.publer_api_key is not None:
        found["publer"] = Credentials(
            api_key=settings.publer_api_key.get_secret_value(), workspace_id=settings.publer_workspace_id
        )
    if settings.postoria_api_key is not None:
        found["postoria"] = Credentials(
            api_key=settings.postoria_api_key.get_secret_value(), workspace_id=settings.postoria_workspace_id
        )
    return found


def build_provider(
    name: str,
    credentials: Credentials,
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    timeout: float | None = None,
    retry: RetryPolicy | None = None,
    rate_limited: bool = True,
    budget_store: BudgetStore | None = None,
) -> Provider:
    """One provider from its credentials. `timeout`, `retry` and `rate_limited` are for quick checks of a
    key (no retries, no waiting for a rate-limit slot); the defaults are for real work. With
    `budget_store`, the rate budget is the one every replica shares; without, this process's own."""
    clock = clock or SystemClock()
    timeout = timeout if timeout is not None else settings.provider_timeout_seconds
    if name == "publora":
        return PubloraProvider(
            api_key=credentials.api_key,
            base_url=settings.publora_base_url,
            transport=transport,
            timeout=timeout,
            retry=retry,
        )
    if name == "publer":
        return PublerProvider(
            api_key=credentials.api_key,
            workspace_id=credentials.workspace_id or "",
            base_url=settings.publer_base_url,
            transport=transport,
            timeout=timeout,
            retry=retry,
            # Publer counts every request of the user, polls included, against one budget.
            limiter=_limiter(settings.publer_rate_limit, "Publer", budget_store) if rate_limited else None,
            clock=clock,
        )
    if name == "postoria":
        return PostoriaProvider(
            api_key=credentials.api_key,
            workspace_id=credentials.workspace_id or "",
            base_url=settings.postoria_base_url,
            transport=transport,
            timeout=timeout,
            retry=retry,
            limiter=_limiter(settings.postoria_rate_limit, "Postoria", budget_store)
            if rate_limited
            else None,
            clock=clock,
        )
    raise ValueError(f"no provider {name!r}")


def _limiter(spec: str, provider: str, store: BudgetStore | None) -> Limiter:
    """The request budget of one provider: the whole deployment's limit, shared through `store` by every
    replica, or this process's own without one. Waiting for a slot is capped at a quarter of the window
    (30 s for Publer's 2 minutes): a longer wait hands the post back to the queue instead of parking a
    worker."""
    rate = RateLimit.parse(spec)
    if store is not None:
        return SharedRateLimiter(
            rate, provider=provider, key=provider.lower(), store=store, longest_wait=rate.window / 4
        )
    return RateLimiter(rate, provider=provider, longest_wait=rate.window / 4)


def effective_credentials(
    settings: Settings, stored: Mapping[str, Credentials]
) -> dict[str, tuple[Credentials, Origin]]:
    """Per provider, the credentials in force and where they come from: a key entered in Slack wins over
    the environment's. Publora's optional webhook secret falls back to the environment's when none was
    entered with the key."""
    environment = environment_credentials(settings)
    chosen: dict[str, tuple[Credentials, Origin]] = {}
    for name in KEYED_PROVIDERS:
        if name in stored:
            entered = stored[name]
            if name == "publora" and not entered.webhook_secret and name in environment:
                entered = Credentials(
                    api_key=entered.api_key,
                    workspace_id=entered.workspace_id,
                    webhook_secret=environment[name].webhook_secret,
                )
            chosen[name] = (entered, Origin.SLACK)
        elif name in environment:
            chosen[name] = (environment[name], Origin.ENVIRONMENT)
    return chosen


def build_providers(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    stored: Mapping[str, Credentials] | None = None,
    budget_store: BudgetStore | None = None,
) -> dict[str, Provider]:
    """The configured providers, keyed by `Provider.name`. `transport` and `clock` are the tests' seams;
    `stored` are keys entered in Slack, which take over from the environment's."""
    clock = clock or SystemClock()
    providers: dict[str, Provider] = {}
    for name, (credentials, _) in effective_credentials(settings, stored or {}).items():
        if credentials.usable_for(name):
            providers[name] = build_provider(
                name, credentials, settings, transport=transport, clock=clock, budget_store=budget_store
            )
    if settings.dry_run:
        providers["dry_run"] = DryRunProvider()
    return providers


class CredentialSource(Protocol):
    """Where keys entered in Slack are kept (`bot.services.credentials.StoredCredentials`)."""

    def fingerprint(self) -> Hashable:
        """Something cheap to read that changes whenever any stored key changes."""
        ...

    def load(self) -> tuple[Hashable, dict[str, Credentials]]:
        """(fingerprint, credentials per provider); raises ConfigError when they cannot be read."""
        ...


class LiveProviders(Mapping[str, Provider]):
    """The providers in force, as a read-only mapping that every holder (dispatcher, directory, cancel,
    ...) keeps for the life of the process.

    Keys entered in Slack take over from the environment's for their provider; removing one falls back to
    the environment's. After a save `reload()` rebuilds the set on this replica at once; other replicas
    notice when they are next used, checking the source's fingerprint at most every `check_every` seconds
    (a read of a few tiny rows). Only the providers whose credentials changed are rebuilt, so the others
    keep their rate-limit budgets. A provider object already handed out keeps working with the key it was
    built with until its caller is done with it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        source: CredentialSource | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        check_every: float = CHECK_EVERY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        fixed: Mapping[str, Provider] | None = None,
        budget_store: BudgetStore | None = None,
    ) -> None:
        self._settings = settings
        self._budget_store = budget_store
        self._source = source if fixed is None else None
        self._transport = transport
        self._clock = clock or SystemClock()
        self._check_every = check_every
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._started = False
        self._checked_at = 0.0
        self._fingerprint: Hashable = None
        self._credentials: dict[str, tuple[Credentials, Origin]] = {}
        self._providers: dict[str, Provider] = {}
        if fixed is not None:
            self._providers = dict(fixed)
        else:
            self._apply({}, announce=False)

    @classmethod
    def fixed(cls, providers: Mapping[str, Provider], settings: Settings) -> LiveProviders:
        """A set that never changes (tests that hand in their own providers)."""
        return cls(settings, fixed=providers)

    # --- Mapping -------------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Provider:
        self._maybe_check()
        return self._providers[name]

    def __iter__(self) -> Iterator[str]:
        self._maybe_check()
        return iter(list(self._providers))

    def __len__(self) -> int:
        self._maybe_check()
        return len(self._providers)

    # From one snapshot: Mapping's own versions look each name up again, which a rebuild in between
    # could make fail.
    def values(self) -> ValuesView[Provider]:
        self._maybe_check()
        return self._providers.values()

    def items(self) -> ItemsView[str, Provider]:
        self._maybe_check()
        return self._providers.items()

    # --- what the settings modal and the webhook need ------------------------------------------------

    def origin(self, name: str) -> Origin | None:
        """Where the key in force for `name` comes from; None when it has none."""
        self._maybe_check()
        entry = self._credentials.get(name)
        return entry[1] if entry is not None else None

    def workspace_id(self, name: str) -> str | None:
        entry = self._credentials.get(name)
        return entry[0].workspace_id if entry is not None else None

    def webhook_secret(self, name: str) -> str | None:
        self._maybe_check()
        entry = self._credentials.get(name)
        return entry[0].webhook_secret if entry is not None else None

    def candidate(self, name: str, credentials: Credentials, *, timeout: float) -> Provider:
        """A throwaway provider to check a key an admin typed: one try, no rate-limit wait."""
        return build_provider(
            name,
            credentials,
            self._settings,
            transport=self._transport,
            clock=self._clock,
            timeout=timeout,
            retry=RetryPolicy(attempts=1, max_rate_limit_wait=0.0, max_budget_wait=0.0),
            rate_limited=False,
        )

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` after the set changed (e.g. to forget cached account lists)."""
        self._listeners.append(listener)

    # --- loading -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Read the stored keys (after migrations) and from then on follow their changes. Raises
        ConfigError when they cannot be read, so start-up stops with that message."""
        if self._source is None:
            return
        with self._lock:
            self._load()
            self._started = True

    def reload(self) -> None:
        """Rebuild from the stored keys now (after a save on this replica)."""
        if self._source is None:
            return
        with self._lock:
            self._load()

    def _maybe_check(self) -> None:
        if not self._started or self._source is None:
            return
        now = self._monotonic()
        if now - self._checked_at < self._check_every:
            return
        # One caller checks; the others go on with the set in force rather than wait for the database.
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._checked_at = now
            fingerprint = self._source.fingerprint()
            if fingerprint != self._fingerprint:
                try:
                    self._load()
                except ConfigError as error:
                    # Another replica saved with a key this one lacks: said once per change, not every check.
                    self._fingerprint = fingerprint
                    log.error(
                        "the provider keys stored in the database changed but cannot be read: %s", error
                    )
        except Exception as error:
            # The set in force keeps working; the next check tries again.
            log.warning("could not check the provider keys stored in the database (%s)", type(error).__name__)
        finally:
            self._lock.release()

    def _load(self) -> None:
        assert self._source is not None
        fingerprint, stored = self._source.load()
        self._checked_at = self._monotonic()
        self._fingerprint = fingerprint
        self._apply(stored, announce=True)

    def _apply(self, stored: Mapping[str, Credentials], *, announce: bool) -> None:
        wanted = effective_credentials(self._settings, stored)
        providers = dict(self._providers)
        changed: list[str] = []
        for name in KEYED_PROVIDERS:
            entry = wanted.get(name)
            if entry is not None and not entry[0].usable_for(name):
                entry = None
            before = self._credentials.get(name)
            if entry is None:
                if providers.pop(name, None) is not None:
                    changed.append(name)
                continue
            if before is not None and before[0] == entry[0] and name in providers:
                continue
            providers[name] = build_provider(
                name,
                entry[0],
                self._settings,
                transport=self._transport,
                clock=self._clock,
                budget_store=self._budget_store,
            )
            changed.append(name)
        if self._settings.dry_run and "dry_run" not in providers:
            providers["dry_run"] = DryRunProvider()
        self._credentials = {n: e for n, e in wanted.items() if e[0].usable_for(n)}
        # One assignment: a reader sees the old set or the new one, never half of each.
        self._providers = providers
        if changed and announce:
            log.info(
                "providers in force changed: %s",
                ", ".join(
                    f"{n} ({self._credentials[n][1]})" if n in self._credentials else f"{n} (none)"
                    for n in changed
                ),
            )
            for listener in self._listeners:
                try:
                    listener()
                except Exception:
                    log.exception("a listener of provider changes failed")
