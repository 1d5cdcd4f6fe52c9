"""The submission a publish attempt stands for, rebuilt from the database whenever a provider is called
about it (to send it, follow it, or withdraw it), so every call describes it the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.db.tables import PublishAttempt
from bot.domain.model import Account
from bot.domain.networks import Network
from bot.providers.base import MediaFile, SubmitRequest

# A submission whose time is this close is "publish now" for providers with a separate immediate call.
IMMEDIATE_WITHIN = timedelta(seconds=60)


def attempt_request(
    attempt: PublishAttempt,
    *,
    text: str,
    targets: list[dict[str, Any]],
    now: datetime,
    queue: Mapping[str, Any] | None = None,
    known: Iterable[Account] = (),
    media: tuple[MediaFile, ...] = (),
) -> SubmitRequest:
    """The submission exactly as it is (or was) sent; media only when sending.

    `known` are the provider's accounts as last listed (with profile links); targets fill in the rest.
    """
    own_queue = queue if queue and queue.get("provider") == attempt.provider else None
    return SubmitRequest(
        text=attempt.text if attempt.text is not None else text,
        account_ids=tuple(attempt.account_ids),
        publish_at=attempt.publish_time,
        idempotency_key=attempt.idempotency_key,
        media=media,
        immediate=attempt.publish_time <= now + IMMEDIATE_WITHIN,
        queue_id=str(own_queue["queue_id"]) if own_queue else None,
        accounts=_accounts(attempt, targets, known),
        first_comment=attempt.first_comment,
    )


def _accounts(
    attempt: PublishAttempt, targets: list[dict[str, Any]], known: Iterable[Account]
) -> tuple[Account, ...]:
    by_id = {a.account_id: a for a in known if a.provider == attempt.provider}
    mine = set(attempt.account_ids)
    accounts = []
    for target in targets:
        # A post split by text (per-network versions) has one attempt per text at the same provider.
        if target.get("provider") != attempt.provider or str(target["account_id"]) not in mine:
            continue
        account_id = str(target["account_id"])
        accounts.append(
            by_id.get(account_id)
            or Account(
                provider=attempt.provider,
                account_id=account_id,
                network=Network.parse(str(target.get("network", ""))) or Network.X,
                name=str(target.get("name", account_id)),
            )
        )
    return tuple(accounts)
