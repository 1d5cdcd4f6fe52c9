"""Which providers exist and how each is built from the settings. An explicit table; no discovery.

Adding a provider means one module beside this one, one entry here, and its fake in `tests/fakes/`.
"""

from __future__ import annotations

import httpx

from bot.clock import Clock, SystemClock
from bot.providers.base import Provider
from bot.providers.dry_run import DryRunProvider
from bot.providers.postoria import PostoriaProvider
from bot.providers.publer import PublerProvider
from bot.providers.publora import PubloraProvider
from bot.providers.ratelimit import RateLimit, RateLimiter
from bot.settings import Settings


def build_providers(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> dict[str, Provider]:
    """The configured providers, keyed by `Provider.name`. `transport` and `clock` are the tests' seams."""
    clock = clock or SystemClock()
    timeout = settings.provider_timeout_seconds
    providers: dict[str, Provider] = {}
    if settings.publora_api_key is not None:
        providers["publora"] = PubloraProvider(
            api_key=settings.publora_api_key.get_secret_value(),
            base_url=settings.publora_base_url,
            transport=transport,
            timeout=timeout,
        )
    if settings.publer_api_key is not None and settings.publer_workspace_id:
        providers["publer"] = PublerProvider(
            api_key=settings.publer_api_key.get_secret_value(),
            workspace_id=settings.publer_workspace_id,
            base_url=settings.publer_base_url,
            transport=transport,
            timeout=timeout,
            # Publer counts every request of the user, polls included, against one budget.
            limiter=RateLimiter(RateLimit.parse(settings.publer_rate_limit), provider="Publer"),
            clock=clock,
        )
    if settings.postoria_api_key is not None and settings.postoria_workspace_id:
        providers["postoria"] = PostoriaProvider(
            api_key=settings.postoria_api_key.get_secret_value(),
            workspace_id=settings.postoria_workspace_id,
            base_url=settings.postoria_base_url,
            transport=transport,
            timeout=timeout,
            limiter=RateLimiter(RateLimit.parse(settings.postoria_rate_limit), provider="Postoria"),
            clock=clock,
        )
    if settings.dry_run:
        providers["dry_run"] = DryRunProvider()
    return providers
