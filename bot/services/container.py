"""The services a Slack listener may use, bundled so the Bolt middleware can inject them by name."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.services.cancel import CancelService
from bot.services.directory import AccountDirectory, UserDirectory
from bot.services.posts import PostService


@dataclass(frozen=True)
class Services:
    posts: PostService
    cancels: CancelService
    accounts: AccountDirectory
    users: UserDirectory
    clock: Clock
