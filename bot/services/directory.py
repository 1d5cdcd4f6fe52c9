"""Cached look-ups that the compose modal needs fast: accounts per provider, and each user's time zone."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.model import Account, Queue
from bot.errors import ProviderError
from bot.providers.base import Provider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderAccounts:
    """The accounts one provider offered, or why it could not list them."""

    provider: str
    display_name: str
    accounts: tuple[Account, ...] = ()
    failure: str | None = None
    queues: tuple[Queue, ...] = ()


class AccountDirectory:
    """Lists the accounts of every configured provider in parallel, caching each answer for `ttl` seconds.

    A provider that fails is reported as a failure line, never an exception: one broken provider must not
    break the modal for the others.
    """

    def __init__(
        self,
        providers: Mapping[str, Provider],
        *,
        ttl: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._providers = providers
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: tuple[float, list[ProviderAccounts]] | None = None

    def cached(self) -> list[ProviderAccounts] | None:
        with self._lock:
            if self._cache and self._monotonic() - self._cache[0] < self._ttl:
                return self._cache[1]
        return None

    def refresh(self) -> list[ProviderAccounts]:
        providers = list(self._providers.values())
        if not providers:
            return []
        with ThreadPoolExecutor(max_workers=len(providers), thread_name_prefix="accounts") as pool:
            listed = list(pool.map(self._list_one, providers))
        # Failures are not cached, so the next modal asks again.
        if all(p.failure is None for p in listed):
            with self._lock:
                self._cache = (self._monotonic(), listed)
        return listed

    def get(self) -> list[ProviderAccounts]:
        return self.cached() or self.refresh()

    def invalidate(self) -> None:
        """Forget the cached lists (the providers in force changed)."""
        with self._lock:
            self._cache = None

    def _list_one(self, provider: Provider) -> ProviderAccounts:
        try:
            accounts = provider.list_accounts()
            queues = provider.list_queues()
        except ProviderError as error:
            log.warning("listing %s accounts failed: %s", provider.display_name, error.message)
            return ProviderAccounts(provider.name, provider.display_name, failure=error.message)
        except Exception:
            log.exception("listing %s accounts crashed", provider.display_name)
            return ProviderAccounts(provider.name, provider.display_name, failure="unexpected error")
        return ProviderAccounts(
            provider.name, provider.display_name, accounts=tuple(accounts), queues=tuple(queues)
        )

    def cannot_post(self) -> dict[str, str]:
        """Account key → why nothing can be posted to it now, from the lists already cached (never a
        provider call: the composer asks this before its ack)."""
        return {a.key: a.cannot_post for p in self.cached() or [] for a in p.accounts if a.cannot_post}

    def accounts_of(self, provider: str) -> Sequence[ProviderAccounts]:
        return [p for p in self.get() if p.provider == provider]


class UserDirectory:
    """Time zones from `users.info`, cached: Slack's own zone for each author."""

    def __init__(
        self, client: WebClient, *, ttl: float = 3600.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._zones: dict[str, tuple[float, str]] = {}

    def cached_timezone(self, user_id: str) -> str | None:
        with self._lock:
            hit = self._zones.get(user_id)
            if hit and self._monotonic() - hit[0] < self._ttl:
                return hit[1]
        return None

    def timezone(self, user_id: str) -> str:
        cached = self.cached_timezone(user_id)
        if cached is not None:
            return cached
        try:
            response = self._client.users_info(user=user_id)
            tz = str((response.get("user") or {}).get("tz") or "UTC")
        except SlackApiError as error:
            log.warning("users.info failed for %s: %s", user_id, error.response.get("error"))
            return "UTC"
        with self._lock:
            self._zones[user_id] = (self._monotonic(), tz)
        return tz
