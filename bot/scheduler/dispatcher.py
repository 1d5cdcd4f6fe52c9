"""The dispatcher: claims due posts, submits each to its providers, follows them until live or failed.

Every step is a short transaction committed before any provider call: a claim (lease), "about to send"
(the attempt is marked as possibly received), then the outcome, fenced on the lease so a dispatcher that
lost its lease changes nothing. An attempt whose outcome is unknown is resubmitted only to a provider that
de-duplicates by idempotency key; otherwise the post is handed to a human.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.db import repo
from bot.db.engine import Database
from bot.db.repo import SYSTEM_ACTOR, Claim
from bot.db.tables import Post, PostVersion, PublishAttempt
from bot.domain.approval import Event, next_status
from bot.domain.counting import effective_text
from bot.domain.model import AccountOutcome, MediaItem, PostStatus, SubmissionReceipt
from bot.domain.networks import Network
from bot.errors import (
    ProviderBudgetExhausted,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderStartOver,
)
from bot.providers.base import MediaFile, Provider, SubmitRequest
from bot.providers.ratelimit import polling
from bot.services.directory import AccountDirectory
from bot.services.media import MediaSource, MediaUnavailable
from bot.services.outbox import Kind, owe, owe_state_change, owe_thread_reply
from bot.services.snapshot import (
    PostSnapshot,
    load_snapshot,
    media_from_json,
    overrides_from_json,
    version_hash,
)
from bot.services.submission import attempt_request
from bot.slack.views import approval as messages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchTuning:
    lease: timedelta = timedelta(minutes=5)
    batch: int = 20
    #: Provider calls in flight at once. The pool has twice as many threads, so that one post's database
    #: bookkeeping runs while others wait for their provider, and the calls never wait for the database.
    workers: int = 4
    #: Batches one run may claim back to back before it lets the scheduler loop go round.
    batches_per_run: int = 50
    #: The first status check after the time the provider will publish: soon, so the team usually sees the
    #: link within seconds; the checks after it double until they reach `follow_poll`.
    follow_first: timedelta = timedelta(seconds=3)
    follow_poll: timedelta = timedelta(seconds=30)
    follow_poll_max: timedelta = timedelta(minutes=5)
    follow_timeout: timedelta = timedelta(hours=24)
    late_after: timedelta = timedelta(seconds=60)
    max_submit_tries: int = 8
    retry_base: timedelta = timedelta(seconds=15)
    retry_max: timedelta = timedelta(minutes=10)
    # Publora's idempotency keys live 24 h; stop resubmitting well before they expire.
    idempotency_window: timedelta = timedelta(hours=20)


def follow_delay(tuning: DispatchTuning, *, checks: int) -> timedelta:
    """How long after the last status check (or after the time the provider will publish, when
    `checks` is 0) the next one is made: `follow_first`, doubling while under `follow_poll`; then
    `follow_poll`, doubling every ten checks up to `follow_poll_max`."""
    early = tuning.follow_first * (1 << min(checks, 20))
    if early < tuning.follow_poll:
        return early
    return min(tuning.follow_poll_max, tuning.follow_poll * (1 << min(checks // 10, 20)))


class Dispatcher:
    def __init__(
        self,
        *,
        db: Database,
        providers: Mapping[str, Provider],
        accounts: AccountDirectory,
        clock: Clock,
        owner: str,
        media: MediaSource,
        tuning: DispatchTuning | None = None,
        on_outbox: Any = None,
    ) -> None:
        self._db = db
        self._media = media
        self._providers = providers
        self._accounts = accounts
        self._clock = clock
        self._owner = owner
        self._tuning = tuning or DispatchTuning()
        self._on_outbox = on_outbox or (lambda: None)
        # The provider-call gate of the run in progress and this thread's place in it (see `_ProviderCalls`).
        self._turn = threading.local()
        # Provider name → until when submissions to it wait for its rate budget.
        self._held_back: dict[str, datetime] = {}
        self._held_back_lock = threading.Lock()
        self._claiming = threading.Event()
        self._claiming.set()

    # --- entry points ------------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Claim and process what is due now. True when a full batch was claimed (run again at once).

        Due posts come first, in due-time order; status checks only fill what room a batch leaves, so a
        burst of due posts is never held up by checks on earlier ones. While a full batch is worked
        through, the next one is claimed as soon as the pool has nothing queued, so the provider calls
        never wait for a batch's stragglers; otherwise each post that ends makes room to claim what fell
        due meanwhile, instead of leaving it until the whole run is over.
        """
        t = self._tuning
        threads = 2 * t.workers
        calls = _ProviderCalls(t.workers)
        pending: set[Future[None]] = set()
        full = False
        queued = 0
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dispatch") as pool:
            for _ in range(t.batches_per_run):
                if not self._claiming.is_set():
                    break
                work = self._claim()
                for fn, claim in work:
                    pending.add(pool.submit(self._guarded, fn, claim, calls, queued))
                    queued += 1
                full = len(work) == t.batch
                if not full and not pending:
                    break
                _, pending = wait(pending, return_when=FIRST_COMPLETED)
                while full and len(pending) > threads:
                    _, pending = wait(pending, return_when=FIRST_COMPLETED)
                self._on_outbox()  # what the finished posts owe Slack goes out now, not after the run
            wait(pending)
        if queued:
            self._on_outbox()
        return full

    def _claim(self) -> list[tuple[Callable[[Claim], None], Claim]]:
        now = self._clock.now()
        t = self._tuning
        with self._db.write() as session:
            due = repo.claim_due_posts(session, now=now, owner=self._owner, lease=t.lease, limit=t.batch)
            due = _in_due_order(session, due)
        follow: list[Claim] = []
        if len(due) < t.batch:
            with self._db.write() as session:
                follow = repo.claim_follow_ups(
                    session, now=now, owner=self._owner, lease=t.lease, limit=t.batch - len(due)
                )
        work: list[tuple[Callable[[Claim], None], Claim]] = [(self._submit, c) for c in due]
        return work + [(self._follow, c) for c in follow]

    def stop_claiming(self) -> None:
        """At shutdown: the run in progress finishes the posts it holds and claims no more."""
        self._claiming.clear()

    def next_due_time(self) -> datetime | None:
        with self._db.read() as session:
            return repo.next_due_time(session)

    def _hold_back(self, provider: str, retry_after: float | None) -> None:
        """Submissions to `provider` wait for its rate budget until `retry_after` (and a little beyond):
        until then its status checks give way, so that the budget goes to posts that are due."""
        until = self._clock.now() + timedelta(seconds=retry_after or 0.0) + self._tuning.retry_base / 4
        with self._held_back_lock:
            self._held_back[provider] = max(self._held_back.get(provider, until), until)

    def _holding_back(self, provider: str) -> bool:
        with self._held_back_lock:
            until = self._held_back.get(provider)
        return until is not None and until > self._clock.now()

    def _guarded(self, fn: Any, claim: Claim, calls: _ProviderCalls, turn: int) -> None:
        self._turn.calls, self._turn.number = calls, turn
        try:
            fn(claim)
        except Exception:
            # The lease expires and the post is picked up again; one bad post must not stop the batch.
            log.exception("dispatching post %s failed", claim.post_id)
        finally:
            calls.done(turn)
            self._turn.calls = None

    @contextmanager
    def _provider_call(self) -> Iterator[None]:
        """Hold one of the run's provider-call slots, taken in the order the posts were queued."""
        calls: _ProviderCalls | None = getattr(self._turn, "calls", None)
        if calls is None:
            yield
            return
        with calls.slot(self._turn.number):
            yield

    # --- submission ----------------------------------------------------------------------------------

    def _submit(self, claim: Claim) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            post = repo.fenced_post(session, claim)
            if post is None:
                return
            version = repo.get_version(session, post_id=claim.post_id, version=post.version)
            problem = _not_the_approved_version(post, version)
            if problem is not None:
                self._needs_attention(session, post, problem, now)
                return
            attempts = self._ensure_attempts(session, post, version, now)
            if (
                post.claims == 1
                and post.publish_at is not None
                and now - post.publish_at > self._tuning.late_after
            ):
                owe_thread_reply(
                    session,
                    post_id=claim.post_id,
                    message=messages.build_late_note(
                        due=post.publish_at, late_seconds=(now - post.publish_at).total_seconds()
                    ),
                    now=now,
                )
            content = _Content(version.text, version.targets, media_from_json(version.media), version.queue)
            pending = [a for a in attempts if a.status == "in_flight"]
        outcome = _SubmitOutcome()
        if pending:
            try:
                with self._media.fetched(content.media) as files:
                    for attempt in pending:
                        if not self._submit_attempt(claim, attempt, content, files, outcome):
                            return  # lease lost
            except MediaUnavailable as error:
                self._media_failed(claim, pending, error)
        self._settle_submission(claim, outcome)

    def _submit_attempt(
        self,
        claim: Claim,
        attempt: PublishAttempt,
        content: _Content,
        files: tuple[MediaFile, ...],
        outcome: _SubmitOutcome,
    ) -> bool:
        """Send one provider's submission (or find the one an earlier try made). False: the lease is lost."""
        provider = self._providers.get(attempt.provider)
        if provider is None:
            self._record_failure(claim, attempt, f"{attempt.provider} is no longer configured in Postgate.")
            return True
        request = self._request_for(attempt, content, now=self._clock.now(), media=files)
        if attempt.maybe_received and not provider.idempotent_submit:
            # An earlier try may have arrived; without idempotency only the provider's records can say.
            try:
                with self._provider_call():
                    found = provider.find_submission(
                        request, sent_at=attempt.last_try_at or attempt.created_at
                    )
            except ProviderOutcomeUnknown as error:
                outcome.unknown.append(
                    f"{provider.display_name} may have received an earlier try, and Postgate cannot tell "
                    f"whether it did ({error.message})."
                )
                return True
            except ProviderError as error:
                if not error.retryable:
                    outcome.unknown.append(
                        f"{provider.display_name} may have received an earlier try, and checking failed: "
                        f"{error.message}"
                    )
                    return True
                outcome.wait(error)
                self._record_retry(claim, attempt, error, maybe_received=True)
                return True
            if found is not None:
                return self._accept(claim, attempt, provider, found, content, reconciled=True)
            log.info(
                "post %s: %s has no trace of the earlier try; sending again", claim.post_id, provider.name
            )
        if not self._mark_sending(claim, attempt):
            return False
        try:
            with self._provider_call():
                receipt = provider.submit(request)
        except ProviderOutcomeUnknown as error:
            # Kept as "may have been received": an idempotent provider gets the same key again, and
            # any other provider is asked what it has before anything is sent again.
            self._record_retry(claim, attempt, error, maybe_received=True)
        except ProviderError as error:
            if error.code == "SCHEDULED_TIME_IN_PAST" and attempt.tries > 1:
                # Had the provider stored an earlier try it would have replayed that answer; it did
                # not, so a fresh key and time cannot create a duplicate.
                self._rotate_key(claim, attempt, error, publish_now=True)
            elif isinstance(error, ProviderStartOver):
                # The provider withdrew its copy of the earlier try; the old key would only find it.
                self._rotate_key(claim, attempt, error, publish_now=False)
            elif error.retryable:
                outcome.wait(error)
                if isinstance(error, ProviderBudgetExhausted):
                    self._hold_back(provider.name, error.retry_after)
                self._record_retry(claim, attempt, error, maybe_received=False)
            else:
                self._record_failure(claim, attempt, f"{provider.display_name} refused it: {error.message}")
        else:
            return self._accept(claim, attempt, provider, receipt, content, reconciled=False)
        return True

    def _accept(
        self,
        claim: Claim,
        attempt: PublishAttempt,
        provider: Provider,
        receipt: SubmissionReceipt,
        content: _Content,
        *,
        reconciled: bool,
    ) -> bool:
        now = self._clock.now()
        with self._fenced_attempt(claim, attempt) as fenced:
            if fenced is None:
                return False
            session, row = fenced
            row.status = "accepted"
            row.maybe_received = True
            row.external_id = receipt.external_id
            row.submitted_at = now
            row.error = None
            session.add(row)
            if content.queue is not None and receipt.effective_time is not None:
                # The queue chose the time; the message and the follow-up polls go by it.
                post = session.get(Post, claim.post_id)
                assert post is not None
                post.publish_at = receipt.effective_time
                session.add(post)
            repo.record_audit(
                session,
                post_id=claim.post_id,
                actor=SYSTEM_ACTOR,
                action="found_earlier_submission" if reconciled else "submitted",
                detail=f"{provider.name} {receipt.external_id}" + "".join(f"; {n}" for n in receipt.notes),
                at=now,
            )
        return True

    def _media_failed(self, claim: Claim, attempts: list[PublishAttempt], error: MediaUnavailable) -> None:
        for attempt in attempts:
            if error.permanent:
                self._record_failure(claim, attempt, error.message)
            else:
                with self._fenced_attempt(claim, attempt) as fenced:
                    if fenced is not None:
                        session, row = fenced
                        row.error = error.message
                        session.add(row)

    def _ensure_attempts(
        self, session: Session, post: Post, version: PostVersion, now: datetime
    ) -> list[PublishAttempt]:
        """One attempt per provider and text: accounts whose network gets another text (an override, or a
        thread joined for a network that cannot thread) are a submission of their own."""
        assert post.id is not None
        existing = {
            (a.provider, a.variant): a
            for a in repo.attempts_for(
                session, post_id=post.id, version=post.version, round=post.attempt_round
            )
        }
        overrides = overrides_from_json(version.overrides)
        groups: dict[tuple[str, str], tuple[str, list[str]]] = {}
        for target in version.targets:
            provider = str(target["provider"])
            network = Network.parse(str(target.get("network", "")))
            override = next((text for net, text in overrides if net is network), None)
            text = (
                effective_text(version.text, override, network, provider)
                if network is not None
                else version.text
            )
            variant = "" if text == version.text or network is None else network.value
            groups.setdefault((provider, variant), (text, []))[1].append(str(target["account_id"]))
        for (provider, variant), (text, account_ids) in groups.items():
            if (provider, variant) in existing:
                continue
            attempt = PublishAttempt(
                post_id=post.id,
                version=post.version,
                round=post.attempt_round,
                provider=provider,
                variant=variant,
                text=text,
                first_comment=version.first_comment,
                account_ids=account_ids,
                idempotency_key=_new_key(post.id, post.version, provider),
                publish_time=max(post.publish_at or now, now),
                status="in_flight",
                created_at=now,
            )
            session.add(attempt)
            existing[(provider, variant)] = attempt
        session.flush()
        return list(existing.values())

    @contextmanager
    def _fenced_attempt(
        self, claim: Claim, attempt: PublishAttempt
    ) -> Iterator[tuple[Session, PublishAttempt] | None]:
        """A write transaction on `attempt`, or None when this dispatcher no longer holds the post's lease."""
        with self._db.write() as session:
            if repo.fenced_post(session, claim) is None:
                yield None
                return
            row = session.get(PublishAttempt, attempt.id)
            assert row is not None
            yield session, row
            session.add(row)

    def _mark_sending(self, claim: Claim, attempt: PublishAttempt) -> bool:
        """Commit "this may reach the provider" before the call, so a crash cannot hide a sent request."""
        with self._fenced_attempt(claim, attempt) as fenced:
            if fenced is None:
                return False
            session, row = fenced
            row.tries += 1
            row.maybe_received = True
            row.last_try_at = self._clock.now()
            session.add(row)
            attempt.tries = row.tries
        return True

    def _rotate_key(
        self, claim: Claim, attempt: PublishAttempt, error: ProviderError, *, publish_now: bool
    ) -> None:
        with self._fenced_attempt(claim, attempt) as fenced:
            if fenced is None:
                return
            session, row = fenced
            row.idempotency_key = _new_key(row.post_id, row.version, row.provider)
            if publish_now:
                row.publish_time = self._clock.now()
            row.maybe_received = False
            row.error = error.message
            session.add(row)

    def _record_retry(
        self, claim: Claim, attempt: PublishAttempt, error: ProviderError, *, maybe_received: bool
    ) -> None:
        # Waiting for the rate budget is how a burst is meant to drain, not a problem to report.
        level = logging.INFO if isinstance(error, ProviderBudgetExhausted) else logging.WARNING
        log.log(level, "post %s: %s (try %s)", claim.post_id, error, attempt.tries)
        with self._fenced_attempt(claim, attempt) as fenced:
            if fenced is None:
                return
            session, row = fenced
            row.error = error.message
            row.maybe_received = row.maybe_received and maybe_received
            if isinstance(error, ProviderBudgetExhausted):
                # Held back by our own limiter: nothing was sent, so it is not a failed try.
                row.tries = max(0, row.tries - 1)
            session.add(row)

    def _record_failure(self, claim: Claim, attempt: PublishAttempt, reason: str) -> None:
        now = self._clock.now()
        with self._fenced_attempt(claim, attempt) as fenced:
            if fenced is None:
                return
            session, row = fenced
            row.error = reason
            _fail_attempt(session, row, reason, now)

    def _settle_submission(self, claim: Claim, outcome: _SubmitOutcome) -> None:
        now = self._clock.now()
        t = self._tuning
        with self._db.write() as session:
            post = repo.fenced_post(session, claim)
            if post is None:
                return
            attempts = repo.attempts_for(
                session, post_id=claim.post_id, version=post.version, round=post.attempt_round
            )
            in_flight = [a for a in attempts if a.status == "in_flight"]
            accepted = [a for a in attempts if a.status == "accepted"]
            current = PostStatus(post.status)
            if outcome.unknown:
                self._needs_attention(session, post, " ".join(outcome.unknown), now)
            elif in_flight:
                first_try = min(a.created_at for a in in_flight)
                exhausted = (
                    any(a.tries >= t.max_submit_tries for a in in_flight)
                    or now - first_try > t.idempotency_window
                )
                if exhausted:
                    if any(a.maybe_received for a in in_flight):
                        reason = "; ".join(f"{a.provider}: {a.error}" for a in in_flight)
                        self._needs_attention(
                            session,
                            post,
                            "The provider kept failing and Postgate cannot tell whether it received "
                            f"the post ({reason}).",
                            now,
                        )
                    else:
                        for a in in_flight:
                            _fail_attempt(session, a, f"could not reach the provider: {a.error}", now)
                        if accepted:
                            self._to_submitted(session, post, now)
                        else:
                            self._finish(
                                session, post, PostStatus.FAILED, now, error="No provider accepted the post."
                            )
                else:
                    delay = min(
                        t.retry_max, t.retry_base * (2 ** max(0, max(a.tries for a in in_flight) - 1))
                    )
                    if outcome.retry_after is not None:
                        # The provider (or our own limiter) said when; come back then, not sooner.
                        delay = max(timedelta(seconds=outcome.retry_after), t.retry_base / 4)
                    post.status = next_status(current, Event.RETRY_LATER)
                    post.next_action_at = now + delay
                    post.lease_owner = None
                    post.lease_expires_at = None
                    post.last_error = "; ".join(f"{a.provider}: {a.error}" for a in in_flight)
                    post.updated_at = now
                    session.add(post)
                    repo.record_audit(
                        session,
                        post_id=claim.post_id,
                        actor=SYSTEM_ACTOR,
                        action="retry_scheduled",
                        from_status=current,
                        to_status=post.status,
                        detail=post.last_error,
                        at=now,
                    )
            elif accepted:
                self._to_submitted(session, post, now)
            else:
                self._finish(
                    session, post, PostStatus.FAILED, now, error="; ".join(a.error or "" for a in attempts)
                )

    def _to_submitted(self, session: Session, post: Post, now: datetime) -> None:
        current = PostStatus(post.status)
        post.status = next_status(current, Event.SUBMITTED)
        post.next_action_at = max(post.publish_at or now, now) + follow_delay(self._tuning, checks=0)
        post.lease_owner = None
        post.lease_expires_at = None
        post.polls = 0
        post.last_error = None
        post.updated_at = now
        session.add(post)
        assert post.id is not None
        repo.record_audit(
            session,
            post_id=post.id,
            actor=SYSTEM_ACTOR,
            action="handed_to_provider",
            from_status=current,
            to_status=post.status,
            at=now,
        )
        owe(session, post_id=post.id, kind=Kind.ROOT_REFRESH, payload={}, now=now)

    # --- following ---------------------------------------------------------------------------------

    def _follow(self, claim: Claim) -> None:
        now = self._clock.now()
        post: Post | None  # re-bound below to the fenced post, which may be None
        with self._db.read() as session:
            post = repo.get_post(session, claim.post_id)
            version = repo.get_version(session, post_id=claim.post_id, version=post.version)
            attempts = [
                a
                for a in repo.attempts_for(
                    session, post_id=claim.post_id, version=post.version, round=post.attempt_round
                )
                if a.status == "accepted"
            ]
        updates: list[tuple[PublishAttempt, list[tuple[str, str, str | None, str | None]], bool]] = []
        asked = False
        for attempt in attempts:
            provider = self._providers.get(attempt.provider)
            if provider is None or attempt.external_id is None or self._holding_back(attempt.provider):
                continue
            content = _Content(version.text, version.targets, (), version.queue)
            request = self._request_for(attempt, content, now=now)
            try:
                # A status check: a shared budget serves due posts first (bot.providers.ratelimit).
                with self._provider_call(), polling():
                    state = provider.fetch_state(attempt.external_id, request)
            except ProviderBudgetExhausted as error:
                # Held back by our own limiter: nothing was asked, so it is no failed check either.
                log.info("post %s: checking %s later: %s", claim.post_id, provider.name, error.message)
                continue
            except ProviderError as error:
                asked = True
                log.warning(
                    "post %s: checking %s failed: %s", claim.post_id, provider.display_name, error.message
                )
                continue
            asked = True
            rows = [(r.account_id, r.outcome.value, r.url, r.error) for r in state.results]
            updates.append((attempt, rows, state.done))
        with self._db.write() as session:
            post = repo.fenced_post(session, claim)
            if post is None:
                return
            for attempt, rows, done in updates:
                row = session.get(PublishAttempt, attempt.id)
                assert row is not None
                for account_id, status, url, result_error in rows:
                    repo.upsert_result(
                        session,
                        attempt=row,
                        account_id=account_id,
                        status=status,
                        url=url,
                        error=result_error,
                        now=now,
                    )
                if done:
                    row.status = "finished"
                    row.finished_at = now
                    session.add(row)
            session.flush()
            remaining = [
                a
                for a in repo.attempts_for(
                    session, post_id=claim.post_id, version=post.version, round=post.attempt_round
                )
                if a.status in ("accepted", "in_flight")
            ]
            if not remaining:
                this_round = {
                    a.id
                    for a in repo.attempts_for(
                        session, post_id=claim.post_id, version=post.version, round=post.attempt_round
                    )
                }
                results = [
                    r for r in repo.results_for(session, post_id=claim.post_id) if r.attempt_id in this_round
                ]
                live = sum(1 for r in results if r.status == AccountOutcome.PUBLISHED)
                final = (
                    PostStatus.PUBLISHED
                    if live == len(results) and live
                    else (PostStatus.PARTIALLY_PUBLISHED if live else PostStatus.FAILED)
                )
                self._finish(session, post, final, now)
                return
            first_submit = min((a.submitted_at for a in remaining if a.submitted_at), default=now)
            # A queued post is handed over days before its slot; the day of patience starts at the slot.
            waiting_since = max(first_submit, post.publish_at or first_submit)
            if now - waiting_since > self._tuning.follow_timeout:
                self._needs_attention(
                    session, post, "The provider has not said for a day whether the post went live.", now
                )
                return
            if asked:
                # A check that was never made (it gave way to due posts, or waits for the rate budget)
                # does not slow the next ones down.
                post.polls += 1
                delay = follow_delay(self._tuning, checks=post.polls)
            else:
                # Nor does it hurry them: the provider's budget is what it waited for.
                delay = max(self._tuning.follow_poll, follow_delay(self._tuning, checks=post.polls))
            post.next_action_at = now + delay
            post.lease_owner = None
            post.lease_expires_at = None
            post.updated_at = now
            session.add(post)

    def _request_for(
        self,
        attempt: PublishAttempt,
        content: _Content,
        *,
        now: datetime,
        media: tuple[MediaFile, ...] = (),
    ) -> SubmitRequest:
        known = [a for p in self._accounts.cached() or [] for a in p.accounts]
        return attempt_request(
            attempt,
            text=content.text,
            targets=content.targets,
            now=now,
            queue=content.queue,
            known=known,
            media=media,
        )

    # --- endings -----------------------------------------------------------------------------------

    def _finish(
        self, session: Session, post: Post, status: PostStatus, now: datetime, *, error: str | None = None
    ) -> None:
        event = {
            PostStatus.PUBLISHED: Event.PUBLISHED,
            PostStatus.PARTIALLY_PUBLISHED: Event.PARTIALLY_PUBLISHED,
            PostStatus.FAILED: Event.FAILED,
        }[status]
        snapshot = self._end(session, post, event, now, action=status.value, reason=error)
        self._owe_outcome(session, post, messages.build_report_reply(snapshot), snapshot, now)
        log.info("post %s finished: %s", post.id, status.value)

    def _needs_attention(self, session: Session, post: Post, reason: str, now: datetime) -> None:
        assert post.id is not None
        for attempt in repo.attempts_for(
            session, post_id=post.id, version=post.version, round=post.attempt_round
        ):
            if attempt.status in ("in_flight", "accepted"):
                attempt.status = "unknown"
                session.add(attempt)
        snapshot = self._end(
            session, post, Event.OUTCOME_UNKNOWN, now, action="needs_attention", reason=reason
        )
        self._owe_outcome(session, post, messages.build_needs_attention_reply(reason=reason), snapshot, now)
        log.warning("post %s needs attention: %s", post.id, reason)

    def _end(
        self, session: Session, post: Post, event: Event, now: datetime, *, action: str, reason: str | None
    ) -> PostSnapshot:
        """Move the post to its final status, release the lease, and record it in the audit trail."""
        current = PostStatus(post.status)
        post.status = next_status(current, event)
        post.finished_at = now
        post.next_action_at = None
        post.lease_owner = None
        post.lease_expires_at = None
        post.last_error = reason
        post.updated_at = now
        session.add(post)
        assert post.id is not None
        repo.record_audit(
            session,
            post_id=post.id,
            actor=SYSTEM_ACTOR,
            action=action,
            from_status=current,
            to_status=post.status,
            detail=reason,
            at=now,
        )
        session.flush()
        return load_snapshot(session, post)

    @staticmethod
    def _owe_outcome(
        session: Session, post: Post, thread_message: dict[str, Any], snapshot: PostSnapshot, now: datetime
    ) -> None:
        assert post.id is not None
        owe_state_change(
            session,
            post_id=post.id,
            now=now,
            thread_message=thread_message,
            author_id=post.author_id,
            author_message=messages.build_author_update(snapshot),
        )


@dataclass(frozen=True)
class _Content:
    """What a version asks to publish, read once per run."""

    text: str
    targets: list[dict[str, Any]]
    media: tuple[MediaItem, ...]
    queue: dict[str, Any] | None


@dataclass
class _SubmitOutcome:
    """What one submission run learned: reasons a human must look, and the longest wait asked for."""

    unknown: list[str] = field(default_factory=list)
    retry_after: float | None = None

    def wait(self, error: ProviderError) -> None:
        if isinstance(error, ProviderRateLimited) and error.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, error.retry_after)


class _ProviderCalls:
    """At most `width` provider calls at once, started in the order their posts were queued.

    The pool has more threads than slots, so that one post's database work runs while others wait for a
    provider; without turns, whichever thread finished its bookkeeping first would call first, and posts
    would not go out in due-time order. A task's turn passes on when it takes its slot, or ends without
    calling at all.
    """

    # A turn never waits longer than this for the ones before it: a bug must cost order, not progress.
    PATIENCE = 30.0

    def __init__(self, width: int) -> None:
        self._slots = threading.BoundedSemaphore(width)
        self._changed = threading.Condition()
        self._next = 0
        self._passed: set[int] = set()

    @contextmanager
    def slot(self, turn: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._next >= turn, timeout=self.PATIENCE)
        with self._slots:
            self.done(turn)
            yield

    def done(self, turn: int) -> None:
        """`turn` needs no more waiting for: it took its slot, or its task ended."""
        with self._changed:
            if turn >= self._next:
                self._passed.add(turn)
            while self._next in self._passed:
                self._passed.discard(self._next)
                self._next += 1
            self._changed.notify_all()


def _in_due_order(session: Session, claims: list[Claim]) -> list[Claim]:
    """`claims` sorted by the time their posts were due (the claim's UPDATE … RETURNING has no order)."""
    if len(claims) < 2:
        return claims
    due = dict(
        session.exec(
            select(Post.id, Post.next_action_at).where(col(Post.id).in_([c.post_id for c in claims]))
        ).all()
    )
    return sorted(claims, key=lambda c: (due.get(c.post_id) is None, due.get(c.post_id) or 0, c.post_id))


def _not_the_approved_version(post: Post, version: PostVersion) -> str | None:
    """Why `version` must not be published, if it is not exactly what the approvers approved."""
    if post.approved_version != post.version:
        return (
            f"Version {post.version} was about to be published, but the approvers approved "
            f"version {post.approved_version}. Postgate sends only what was approved."
        )
    if post.approved_hash is not None and version_hash(version) != post.approved_hash:
        return "The stored text no longer matches what was approved, so Postgate did not publish it."
    return None


def _new_key(post_id: int | None, version: int, provider: str) -> str:
    return f"postgate-{post_id}-{version}-{provider}-{uuid.uuid4().hex}"


def _fail_attempt(session: Session, attempt: PublishAttempt, reason: str, now: datetime) -> None:
    """The attempt is over without a post at the provider: every one of its accounts failed for `reason`."""
    attempt.status = "failed"
    attempt.maybe_received = False
    attempt.finished_at = now
    session.add(attempt)
    for account_id in attempt.account_ids:
        repo.upsert_result(
            session, attempt=attempt, account_id=account_id, status="failed", url=None, error=reason, now=now
        )
