"""``/api/v1/imports`` (a link) and ``/api/v1/uploads`` (files): new tracks for the library.

Both answer 202 with the import's outcome (new track ids, each with a queued download, and
what you already had); the audio arrives through the pipeline, announced on ``/ws``.

**Links** are classified without touching the network (``audio.sources.classify``), then
any link the server itself would open is checked by :mod:`soundforge.web.urlguard`:
http(s) only, and no host that resolves to a private, loopback or otherwise non-public
address unless the operator allows it. Paths on the server's disk are never accepted from
the web.

**Uploads** (multipart field ``file``, one or more) are capped by Quart's
``MAX_CONTENT_LENGTH`` (``SOUNDFORGE_MAX_UPLOAD_MB``, a 413 that says the limit). Each file
is stored as ``<data>/uploads/<uuid4>/<sanitised name>`` — the name a client sent never
reaches the filesystem as given — and its content is probed before anything is imported:
one unreadable file refuses the whole request with a 422 naming it, and every file of the
request is removed again. A file that turns out to be a duplicate is removed too; the
others stay until their download job takes its copy.

    curl -H "Authorization: Bearer $TOKEN" -F file=@"Night Drive.flac" "$SF/api/v1/uploads"
"""

from __future__ import annotations

import asyncio
import re
import shutil
import unicodedata
import uuid
from pathlib import Path
from typing import IO, Annotated, Final

import msgspec
from quart import Blueprint, Response, current_app, request

from soundforge.audio.errors import UnsupportedSource
from soundforge.audio.media import check_duration, probe
from soundforge.audio.sources.classify import classify
from soundforge.audio.sources.model import MediaUrl, Upload
from soundforge.errors import SoundForgeError
from soundforge.music.imports import Duplicate, ImportOutcome, import_source
from soundforge.web.api._common import NO_NUL
from soundforge.web.auth import require_user
from soundforge.web.context import web
from soundforge.web.http import BadRequest, json_response, read_body
from soundforge.web.openapi import operation
from soundforge.web.urlguard import check_url

__all__ = ["ImportBody", "UploadForm", "UploadTooLarge", "blueprint", "safe_upload_name"]

blueprint = Blueprint("imports", __name__)

#: Files one upload request may carry.
MAX_FILES: Final = 50
_COPY_CHUNK: Final = 1 << 20
_UNSAFE: Final = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


class ImportBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: A Spotify track, album or playlist link, or any http(s) link yt-dlp reads.
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048, pattern=NO_NUL)]


class UploadForm(msgspec.Struct, frozen=True):
    """The multipart form (for the OpenAPI document): one or more ``file`` parts."""

    file: Annotated[
        list[Annotated[str, msgspec.Meta(extra_json_schema={"format": "binary"})]],
        msgspec.Meta(min_length=1, max_length=MAX_FILES),
    ]


class UploadTooLarge(SoundForgeError):
    status = 413


@blueprint.post("/imports")
@operation(
    "Import from a link (Spotify, YouTube, any page or audio file yt-dlp reads)",
    tag="imports",
    body=ImportBody,
    response=ImportOutcome,
    status=202,
    errors=(413, 503),
)
async def import_link() -> Response:
    user = require_user()
    body = await read_body(ImportBody)
    try:
        source = classify(body.url)  # no network; a path is refused (allow_paths=False)
    except UnsupportedSource as error:
        raise BadRequest(error.message) from None
    if isinstance(source, MediaUrl):
        await check_url(source.url, allow_private=web().settings.allow_private_urls)
    outcome = await import_source(web().pipeline, user.id, body.url)
    return json_response(outcome, status=202)


@blueprint.post("/uploads")
@operation(
    "Upload audio files (multipart, field 'file', one or more)",
    tag="imports",
    body=UploadForm,
    body_kind="multipart",
    response=ImportOutcome,
    status=202,
    errors=(413,),
)
async def upload() -> Response:
    user = require_user()
    files = (await request.files).getlist("file")
    if not files:
        raise BadRequest("send the audio as a multipart form field named 'file'")
    if len(files) > MAX_FILES:
        raise BadRequest(f"send at most {MAX_FILES} files at once")
    limit: int | None = current_app.config.get("MAX_CONTENT_LENGTH")
    root = web().data_dir / "uploads"
    stored: list[Path] = []
    kept: set[Path] = set()
    try:
        budget = _Budget(limit, web().settings.max_upload_mb)
        for storage in files:
            name = safe_upload_name(storage.filename or "")
            folder = root / uuid.uuid4().hex
            stored.append(folder)
            await asyncio.to_thread(_store, storage.stream, folder / name, budget)
        sources = [await _checked(folder) for folder in stored]
        outcomes = []
        for folder, source in zip(stored, sources, strict=True):
            outcome = await import_source(web().pipeline, user.id, source)
            if outcome.created:
                kept.add(folder)
            outcomes.append(outcome)
    finally:
        # Synchronous on purpose: this also runs when the request is cancelled, where an
        # await could be interrupted; each removal is one directory with one file.
        for folder in stored:
            if folder not in kept:
                shutil.rmtree(folder, ignore_errors=True)
        for storage in files:
            storage.close()  # the received copy (a temporary file for large parts)
    return json_response(_merge(outcomes), status=202)


def safe_upload_name(filename: str) -> str:
    """A client's file name made safe to create: its last path part only, no control or
    reserved characters, no leading dot, at most 120 bytes (the extension kept)."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 8:
        stem, suffix = name, ""
    stem = stem.encode()[: 120 - len(suffix.encode()) - 1].decode(errors="ignore").rstrip(". ")
    if not stem:
        stem = "upload"
    return f"{stem}.{suffix}" if suffix else stem


class _Budget:
    """The bytes a request's files may still take. Quart refuses a declared Content-Length
    over the limit before reading; this catches a chunked body that grows past it."""

    def __init__(self, limit: int | None, megabytes: int) -> None:
        self.left = limit
        self.megabytes = megabytes

    def take(self, size: int) -> None:
        if self.left is None:
            return
        self.left -= size
        if self.left < 0:
            raise UploadTooLarge(
                f"the upload is larger than this server's limit of {self.megabytes} MB"
            )


def _store(stream: IO[bytes], target: Path, budget: _Budget) -> None:
    """Copy one received file to ``target`` (a new folder of its own)."""
    target.parent.mkdir(parents=True)
    stream.seek(0)
    with open(target, "xb") as out:
        while chunk := stream.read(_COPY_CHUNK):
            budget.take(len(chunk))
            out.write(chunk)


async def _checked(folder: Path) -> Upload:
    """The stored file as an Upload source, once its content was read as audio."""
    (path,) = await asyncio.to_thread(lambda: list(folder.iterdir()))
    info = await asyncio.to_thread(probe, path)  # UnreadableAudio (422) names the file
    check_duration(info, web().settings.max_audio_minutes * 60.0, path.name)
    return Upload(path=str(path), filename=path.name)


def _merge(outcomes: list[ImportOutcome]) -> ImportOutcome:
    created: list[str] = []
    duplicates: list[Duplicate] = []
    for outcome in outcomes:
        created += outcome.created
        duplicates += outcome.duplicates
    return ImportOutcome(", ".join(o.source for o in outcomes), created, duplicates)
