"""Fetching a post's media from Slack at submission time, into a temporary folder the provider streams from.

Files attached in the modal stay in Slack until the post is approved and due; only then are they
downloaded with the bot token (`files:read`). Slack answers a download without a valid token with its
sign-in page and status 200, so the type and size of what arrives are checked before it is trusted.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.media import MAX_SLACK_FILE_BYTES
from bot.domain.model import MediaItem
from bot.providers.base import MediaFile

log = logging.getLogger(__name__)

_GONE = {"file_not_found", "file_deleted"}
# Large enough for Slack's 10 MB file_input cap, with room for what Slack counts differently.
_MAX_BYTES = MAX_SLACK_FILE_BYTES * 2


class MediaUnavailable(Exception):
    """The media cannot be fetched. `permanent` when trying again cannot help (the file was deleted)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class MediaSource(Protocol):
    def fetched(self, items: Sequence[MediaItem]) -> AbstractContextManager[tuple[MediaFile, ...]]: ...


class SlackMedia:
    """Downloads Slack files with the bot token; links are passed on for the provider to import."""

    def __init__(
        self, *, client: WebClient, token: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._client = client
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(60.0, connect=5.0),
            transport=transport,
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    @contextmanager
    def fetched(self, items: Sequence[MediaItem]) -> Iterator[tuple[MediaFile, ...]]:
        """The items as MediaFiles, Slack files downloaded; the files are deleted when the block ends."""
        if not items:
            yield ()
            return
        folder = Path(tempfile.mkdtemp(prefix="postgate-media-"))
        try:
            yield tuple(self._fetch(item, folder, index) for index, item in enumerate(items))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _fetch(self, item: MediaItem, folder: Path, index: int) -> MediaFile:
        if item.slack_file_id is None:
            return MediaFile(name=item.name, mime_type=item.mime_type, url=item.url)
        try:
            info = self._client.files_info(file=item.slack_file_id)
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            if code in _GONE:
                raise MediaUnavailable(
                    f"{item.name} was deleted from Slack before the post went out; "
                    "edit the post and attach it again.",
                    permanent=True,
                ) from None
            raise MediaUnavailable(
                f"Slack would not describe {item.name} ({code}).", permanent=False
            ) from None
        file = info.get("file") or {}
        url = file.get("url_private_download") or file.get("url_private")
        if not isinstance(url, str):
            raise MediaUnavailable(f"Slack gave no download link for {item.name}.", permanent=True)
        path = folder / f"{index}-{_safe_name(item.name)}"
        try:
            with self._http.stream("GET", url) as response:
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if response.status_code == 404:
                    raise MediaUnavailable(f"{item.name} is no longer in Slack.", permanent=True)
                if response.status_code >= 500:
                    raise MediaUnavailable(
                        f"Slack failed to send {item.name} (HTTP {response.status_code}).", permanent=False
                    )
                if response.status_code != 200 or content_type == "text/html":
                    # The sign-in page: the token lacks files:read or was not accepted. Retrying cannot fix
                    # that; someone has to, and the post says so.
                    raise MediaUnavailable(
                        f"Slack refused to hand over {item.name}; check that the Postgate app has the "
                        "files:read scope (reinstall it after adding the scope).",
                        permanent=True,
                    )
                size = 0
                with path.open("wb") as out:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > _MAX_BYTES:
                            raise MediaUnavailable(
                                f"{item.name} is larger than Slack allows.", permanent=True
                            )
                        out.write(chunk)
        except httpx.HTTPError as error:
            raise MediaUnavailable(
                f"Downloading {item.name} from Slack failed ({type(error).__name__}).", permanent=False
            ) from None
        expected = file.get("size")
        if isinstance(expected, int) and expected != size:
            raise MediaUnavailable(
                f"Slack sent {size} bytes of {item.name} instead of {expected}.", permanent=False
            )
        return MediaFile(name=item.name, mime_type=item.mime_type, path=path, size=size)


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return cleaned[-100:] or "file"
