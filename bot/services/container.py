"""The services a Slack listener may use, bundled so the Bolt middleware can inject them by name."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.services.cancel import CancelService
from bot.services.credentials import ProviderKeys
from bot.services.directory import AccountDirectory, UserDirectory
from bot.services.events import SlackEvents
from bot.services.history import HistoryService
from bot.services.home import HomeService
from bot.services.posts import PostService
from bot.services.undelivered import UndeliveredService
from bot.services.workflow import Workflow


@dataclass(frozen=True)
class Services:
    posts: PostService
    cancels: CancelService
    accounts: AccountDirectory
    users: UserDirectory
    clock: Clock
    workflow: Workflow
    history: HistoryService
    home: HomeService
    events: SlackEvents
    credentials: ProviderKeys
    undelivered: UndeliveredService
