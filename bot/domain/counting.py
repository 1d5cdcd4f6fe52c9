"""How each network counts a post, how `---` splits a thread, and which text each target will be sent.

Pure functions: the modal's validation (`rules`) and the approval preview share them, so what the author
is told matches what is checked. Sources: ../shared/providers/publora.md §4 (threads, first comments)
and §11 (limits), publer.md §11, postoria.md §4.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import regex  # type: ignore[import-untyped]  # types-regex is not a dev dependency

from bot.domain.model import Account, Draft
from bot.domain.networks import Network

#: Networks where a `---` line starts the next post of a chain.
THREAD_NETWORKS = frozenset({Network.X, Network.THREADS})
#: Providers that split `---` threads. Publer and Postoria post the text as one post.
PROVIDERS_WITH_THREADS = frozenset({"publora", "dry_run"})

#: Pairs that would split `---` chains but cannot for now, so their parts are joined into one post.
#: Publora: "Multi-threaded nested posts (content auto-split into connected replies) are temporarily
#: unavailable on Threads [...] Single posts and carousels continue to work normally."
#: (../shared/providers/sources/publora-api-skill.txt, "Threads Restriction").
CHAINS_UNAVAILABLE = frozenset({(Network.THREADS, "publora")})
#: Said in the composer and the approval message wherever a pair above joins a chain.
JOINED_CHAIN_NOTE = (
    "Threads via Publora: the parts are joined into one post (Publora cannot post Threads chains right now)"
)

#: What X and Mastodon count for any link, however long.
LINK_LENGTH = 23
#: Bluesky refuses a post over this many UTF-8 bytes, whatever its grapheme count.
BLUESKY_BYTE_LIMIT = 3000

#: Publora's first-comment limits (publora.md §4); other networks fall back to their post limit.
FIRST_COMMENT_LIMITS: dict[Network, int] = {
    Network.X: 280,
    Network.LINKEDIN: 1250,
    Network.THREADS: 500,
    Network.BLUESKY: 300,
    Network.MASTODON: 500,
}
_PUBLORA_FIRST_COMMENT_NETWORKS = frozenset(FIRST_COMMENT_LIMITS)
# None = every network. Publer (per-account `comments[]`) and Postoria (`first_comment`) document no
# per-network exclusions; which networks really take one is UNCONFIRMED in publer.md and postoria.md.
_FIRST_COMMENT_NETWORKS: dict[str, frozenset[Network] | None] = {
    "publora": _PUBLORA_FIRST_COMMENT_NETWORKS,
    "dry_run": _PUBLORA_FIRST_COMMENT_NETWORKS,
    "publer": None,
    "postoria": None,
}

_SEPARATOR = "---"
_GRAPHEME = regex.compile(r"\X")
# twitter-text's domain pattern backtracks quadratically on long chains of dot-separated labels
# ("a.a.a.a…": seconds for 3,000 characters). No real host has more than a handful of labels, so in a
# longer chain the dots become commas: same length and weight, and no longer a domain.
_MAX_DOMAIN_LABELS = 6
_RUNAWAY_DOMAIN = re.compile(rf"(?<![^\s./])[^\s./]++(?:\.[^\s./]++){{{_MAX_DOMAIN_LABELS},}}")
# Mastodon counts a remote mention `@user@example.social` as `@user` (Account::MENTION_RE).
_REMOTE_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@\w+(?:[.-]+\w+)*", re.IGNORECASE)


def _twitter_text() -> Any:
    # Imported on first use, not with this module: it takes 0.3-0.5 s (it loads pkg_resources), a fifth of
    # `postgate run`'s start-up. `warm_up` loads it right after start, before anyone composes.
    import twitter_text  # type: ignore[import-untyped]

    return twitter_text


def warm_up() -> None:
    """Load and exercise X's counting once, so that the first composer submission does not pay for it."""
    count("warm-up https://example.com", Network.X)


def _parse_tweet(text: str) -> Any:
    return _twitter_text().parse_tweet(text)


def _extract_urls(text: str) -> list[dict[str, Any]]:
    return list(_twitter_text().extract_urls_with_indices(text, False))


def count(text: str, network: Network) -> int:
    """How long `network` considers `text`, in the unit its `text_limit` is in."""
    if network is Network.X:
        # twitter-text v3 weights: links 23, emoji and CJK 2, most other characters 1.
        return int(_parse_tweet(_defuse_domain_chains(text)).weightedLength)
    if network is Network.BLUESKY:
        return grapheme_count(text)
    if network is Network.MASTODON:
        # Mastodon's StatusLengthValidator: links with a scheme count 23, then grapheme clusters.
        return grapheme_count(_REMOTE_MENTION.sub(r"@\1", _links_as_placeholders(text)))
    # Threads: code points (publora.md gives Threads comments in code points). LinkedIn, Instagram,
    # TikTok, YouTube, Facebook and Telegram: the providers' docs do not say how they count
    # (UNCONFIRMED); code points is what most of them document elsewhere.
    return len(text)


def grapheme_count(text: str) -> int:
    """User-perceived characters (extended grapheme clusters): a family emoji is one."""
    return len(_GRAPHEME.findall(text))


def byte_count(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def byte_limit(network: Network) -> int | None:
    """A cap in UTF-8 bytes that applies besides `text_limit`, if the network has one."""
    return BLUESKY_BYTE_LIMIT if network is Network.BLUESKY else None


def _defuse_domain_chains(text: str) -> str:
    return _RUNAWAY_DOMAIN.sub(lambda m: m.group().replace(".", ","), text)


def _links_as_placeholders(text: str) -> str:
    pieces: list[str] = []
    end = 0
    for link in _extract_urls(_defuse_domain_chains(text)):
        start, stop = link["indices"]
        pieces += [text[end:start], "x" * LINK_LENGTH]
        end = stop
    pieces.append(text[end:])
    return "".join(pieces)


def split_thread(text: str) -> list[str]:
    """The parts of a `---` thread, as Publora splits it: a line holding exactly `---` separates two
    parts unless it is the first or last line (`----` or ` --- ` are text). Each part loses its
    surrounding whitespace; an empty part stays in the list so validation can point at it. Text
    without a separator comes back unchanged as the only part."""
    lines = text.split("\n")
    parts: list[list[str]] = [[]]
    for index, line in enumerate(lines):
        if line == _SEPARATOR and 0 < index < len(lines) - 1:
            parts.append([])
        else:
            parts[-1].append(line)
    if len(parts) == 1:
        return [text]
    return ["\n".join(part).strip() for part in parts]


def can_thread(network: Network, provider: str) -> bool:
    return (
        network in THREAD_NETWORKS
        and provider in PROVIDERS_WITH_THREADS
        and (network, provider) not in CHAINS_UNAVAILABLE
    )


def chain_unavailable(network: Network, provider: str) -> bool:
    """Whether `provider` would split a `---` chain on `network` but cannot for now (it is joined)."""
    return (network, provider) in CHAINS_UNAVAILABLE


def effective_text(draft_text: str, override: str | None, network: Network, provider: str) -> str:
    """The text `network` gets through `provider`: the override if there is one, else the main text.

    Where the pair cannot thread, the `---` lines are dropped and the parts joined by a blank line, so a
    thread still reads well as one LinkedIn post. Where it can, the provider splits the text itself.
    """
    text = override if override is not None and override.strip() else draft_text
    if can_thread(network, provider):
        return text
    parts = split_thread(text)
    if len(parts) == 1:
        return text
    return "\n\n".join(part for part in parts if part)


def has_override(draft: Draft, network: Network) -> bool:
    override = draft.override_for(network)
    return override is not None and bool(override.strip())


@dataclass(frozen=True)
class PartCount:
    """One post of what a network will publish: its text, its length as the network counts it, and
    the network's limit."""

    text: str
    count: int
    limit: int

    @property
    def over(self) -> bool:
        return self.count > self.limit


@dataclass(frozen=True)
class NetworkPreview:
    """What one network will show, for the targets on it that thread alike (`parts` has one entry
    unless the text is a `---` thread and the network and its providers split it)."""

    network: Network
    providers: tuple[str, ...]
    text: str
    parts: tuple[PartCount, ...]
    overridden: bool
    over_limit: bool
    #: A `---` chain that one of `providers` would split but cannot for now, so it is joined into one post.
    joined_chain: bool = False

    @property
    def summary(self) -> str:
        """For the approval message: `X · 243/280`, or `X · thread of 3: 270/280, 120/280, 95/280`."""
        counts = ", ".join(f"{part.count:,}/{part.limit:,}" for part in self.parts)
        if len(self.parts) == 1:
            return f"{self.network.display_name} · {counts}"
        return f"{self.network.display_name} · thread of {len(self.parts)}: {counts}"


def preview(draft: Draft) -> tuple[NetworkPreview, ...]:
    """One entry per network of the draft's targets (two if some of its providers thread and some do
    not), in `Network` order, threading ones first."""
    groups: dict[tuple[Network, bool], set[str]] = {}
    for target in draft.targets:
        groups.setdefault((target.network, can_thread(target.network, target.provider)), set()).add(
            target.provider
        )
    order = list(Network)
    previews = []
    for network, threaded in sorted(groups, key=lambda key: (order.index(key[0]), not key[1])):
        providers = tuple(sorted(groups[network, threaded]))
        text = effective_text(draft.text, draft.override_for(network), network, providers[0])
        parts = tuple(
            PartCount(part, count(part, network), network.limit_with_media(bool(draft.media)))
            for part in (split_thread(text) if threaded else [text])
        )
        cap = byte_limit(network)
        too_many_bytes = cap is not None and any(byte_count(part.text) > cap for part in parts)
        override = draft.override_for(network)
        source = override if override is not None and override.strip() else draft.text
        previews.append(
            NetworkPreview(
                network=network,
                providers=providers,
                text=text,
                parts=parts,
                overridden=has_override(draft, network),
                over_limit=too_many_bytes or any(part.over for part in parts),
                joined_chain=any(chain_unavailable(network, p) for p in providers)
                and len(split_thread(source)) > 1,
            )
        )
    return tuple(previews)


def first_comment_limit(network: Network) -> int:
    return FIRST_COMMENT_LIMITS.get(network, network.text_limit)


def posts_first_comment(provider: str, network: Network) -> bool:
    """Whether `provider` posts a first comment on `network` (Publora skips Instagram, TikTok, YouTube,
    Facebook and Telegram with a warning; an unknown provider is assumed not to post one)."""
    if provider not in _FIRST_COMMENT_NETWORKS:
        return False
    networks = _FIRST_COMMENT_NETWORKS[provider]
    return networks is None or network in networks


def first_comment_problems(comment: str, networks: Iterable[Network]) -> list[str]:
    """A sentence for each of `networks` the comment is too long for, in `Network` order."""
    problems = []
    for network in sorted(set(networks), key=list(Network).index):
        name = network.display_name
        length, limit = count(comment, network), first_comment_limit(network)
        if length > limit:
            problems.append(f"The first comment is too long for {name}: {length:,} of {limit:,}.")
        cap = byte_limit(network)
        if cap is not None and byte_count(comment) > cap:
            problems.append(
                f"The first comment is too long for {name}: {byte_count(comment):,} of {cap:,} bytes."
            )
    return problems


def first_comment_skipped(targets: Iterable[Account]) -> list[Network]:
    """Networks, in `Network` order, where at least one of `targets` will not get the first comment."""
    skipped = {t.network for t in targets if not posts_first_comment(t.provider, t.network)}
    return sorted(skipped, key=list(Network).index)
