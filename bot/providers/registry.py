"""Which providers exist and how each is built from the settings. An explicit table; no discovery."""

from __future__ import annotations

import httpx

from bot.providers.base import Provider
from bot.providers.dry_run import DryRunProvider
from bot.providers.publora import PubloraProvider
from bot.settings import Settings


def build_providers(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> dict[str, Provider]:
    """The configured providers, keyed by `Provider.name`. `transport` is the tests' seam."""
    providers: dict[str, Provider] = {}
    if settings.publora_api_key is not None:
        providers["publora"] = PubloraProvider(
            api_key=settings.publora_api_key.get_secret_value(),
            base_url=settings.publora_base_url,
            transport=transport,
            timeout=settings.provider_timeout_seconds,
        )
    if settings.dry_run:
        providers["dry_run"] = DryRunProvider()
    return providers
