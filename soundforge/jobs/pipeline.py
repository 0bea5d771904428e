"""The three stages of a track as queue workers: Download → Separate → Analyze.

Each stage asks a warm port of its pool to do the audio work (``soundforge.actors.port_pool``),
relays the port's progress to PubSub (``track:<id>``) and to the job's ``meta.progress``, and
then, in **one transaction**, records its results, inserts the next stage's job and marks its
own job completed, so a crash between the two can neither lose the next stage nor run it
twice; an attempt that is no longer its job's (cancelled, or rescued and run again) commits
nothing. Jobs are unique per (track, stage) while incomplete.

Failures follow the queue's rules with the audio error's own judgement:

* an error that retrying cannot fix (not audio, a 404, too long) cancels the job at once with
  its sentence and marks the track ``failed``;
* a retryable one (network, a crashed port, a full disk) is raised, so the queue records the
  attempt and retries with backoff; the track is marked failed only after the last attempt;
* a rate limit snoozes the job for as long as the source asked, using no attempt.

Earlier results are never touched by a later stage's failure: a failed analysis leaves the
stems, a failed separation leaves the downloaded original.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, Final

import asyncpg  # type: ignore[import-untyped]
import msgspec

from soundforge.accounts.preferences import analysis_options, get_preferences, separation_options
from soundforge.actors import port_pool, repo
from soundforge.audio.errors import AudioError, RateLimited
from soundforge.jobs.context import PipelineContext, pipeline_context
from soundforge.jobs.render import RenderStem
from soundforge.music import tracks
from soundforge.music.events import (
    DuplicateFound,
    Stage,
    StageChanged,
    StageProgress,
    StageState,
    TrackStatusChanged,
    track_topic,
    user_topic,
)
from soundforge.music.imports import source_settings
from soundforge.music.uploads import remove_upload, upload_path
from soundforge.queue import INCOMPLETE_STATES, Cancel, JobRecord, Snooze, Unique, Worker
from soundforge.queue.engine import complete_job, insert
from soundforge.runtime import pubsub

__all__ = ["PIPELINE_WORKERS", "Analyze", "Download", "Separate"]

log = logging.getLogger(__name__)

#: How often the latest progress is written to the job row (seconds).
PROGRESS_SAVE_INTERVAL: Final = 1.0
#: The least time between two progress events of one stage on PubSub (seconds).
PROGRESS_EVENT_INTERVAL: Final = 0.2
_UNIQUE_PER_TRACK: Final = Unique(period=None, keys=("track_id",), states=INCOMPLETE_STATES)
#: The result of an attempt whose job had moved on (nobody records it: see ``commit``).
_SUPERSEDED: Final = {"superseded": True}


class DownloadArgs(msgspec.Struct, frozen=True):
    track_id: str
    #: What the downloader fetches: a ``soundforge.audio.sources`` FetchRequest as a map.
    request: dict[str, Any]


class SeparateArgs(msgspec.Struct, frozen=True):
    track_id: str
    #: Separation options (engine, model, format...); empty for the defaults.
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class AnalyzeArgs(msgspec.Struct, frozen=True):
    track_id: str
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class _Fetched(msgspec.Struct):
    """What the server reads of the downloader's FetchResult."""

    original_path: str
    wav_path: str
    sha256: str
    size_bytes: int
    duration_ms: int
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class _StemFile(msgspec.Struct):
    name: str
    path: str
    format: str
    sample_rate: int | None = None
    channels: int | None = None
    bit_depth: int | None = None
    duration_ms: int | None = None
    size_bytes: int | None = None


class _Separated(msgspec.Struct):
    engine: str
    model: str
    stems: list[_StemFile]
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class _Analysed(msgspec.Struct):
    """The analyzer's summary; the whole document is in the file it wrote."""

    path: str
    version: int
    tempo: float | None = None
    key: str | None = None
    camelot: str | None = None
    loudness_lufs: float | None = None
    duration_ms: int | None = None


class _ProgressRelay:
    """Progress from the port: throttled events on PubSub, the latest value saved to the job."""

    def __init__(self, context: PipelineContext, job: JobRecord, track_id: str, stage: Stage):
        self._context = context
        self._job = job
        self._track_id = track_id
        self._stage = stage
        self._latest: tuple[float, str] | None = None
        self._saved: tuple[float, str] | None = None
        self._published_at = 0.0

    def __call__(self, fraction: float, label: str) -> None:
        self._latest = (fraction, label)
        now = time.monotonic()
        if now - self._published_at >= PROGRESS_EVENT_INTERVAL or fraction >= 1.0:
            self._published_at = now
            event = StageProgress(self._track_id, self._stage, fraction, label)
            _publish(self._context, track_topic(self._track_id), event)

    async def save_forever(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_SAVE_INTERVAL)
            if self._latest is not None and self._latest != self._saved:
                self._saved = self._latest
                with contextlib.suppress(repo.DatabaseUnavailable, OSError, asyncpg.PostgresError):
                    # Progress is advisory: a database hiccup must not fail the job.
                    async with repo.connection(self._context.repo, timeout=2.0) as conn:
                        await conn.execute(
                            """UPDATE jobs SET meta = meta || jsonb_build_object(
                                   'progress', $2::float8, 'label', $3::text)
                               WHERE id = $1 AND state = 'executing'""",
                            self._job.id,
                            self._saved[0],
                            self._saved[1],
                        )


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} hours"
    if seconds >= 60:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} seconds"


def _publish(context: PipelineContext, topic: str, event: Any) -> None:
    try:
        pubsub.broadcast(context.pubsub, topic, event)
    except Exception:  # events are advisory; a missing PubSub must not fail the job
        log.exception("could not publish %r on %s", event, topic)


class _Superseded(Exception):
    """Rolls back the commit of an attempt that is no longer its job's (see ``commit``)."""


class StageTimedOut(AudioError):
    """A stage ran past its time limit; its program was killed. Retried like a crash."""

    retryable = True


class _Stage(Worker):
    """What the three stages share: events, progress relay, and the failure policy.

    A stage enforces its own time limit (``stage_timeout``), so that a timeout is a failure
    it can report (the program killed, the track marked failed on the last attempt); the
    queue's ``timeout`` is a safety net a minute longer.
    """

    stage: ClassVar[Stage]
    pool: ClassVar[str]
    unique = _UNIQUE_PER_TRACK
    max_attempts = 5
    stage_timeout: ClassVar[float]
    #: Status the track shows while this stage runs.
    status: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "stage_timeout" in cls.__dict__:
            cls.timeout = cls.stage_timeout + 60.0

    async def perform(self, job: JobRecord) -> Any:
        context = pipeline_context()
        args = self.load_args(job)
        track_id: str = args.track_id
        try:
            track = await tracks.get_track(repo.pool(context.repo), track_id)
        except tracks.TrackNotFound as error:
            return Cancel(str(error))  # deleted meanwhile: nothing to do
        _publish(
            context,
            track_topic(track_id),
            StageChanged(track_id, self.stage, StageState.STARTED, job.attempt, job.id),
        )
        await self._set_status(context, track, self.status)
        relay = _ProgressRelay(context, job, track_id, self.stage)
        # Owned by this coroutine: cancelled and awaited whichever way the work ends.
        saver = asyncio.create_task(relay.save_forever())
        try:
            async with asyncio.timeout(self.stage_timeout):
                result = await self.run(context, job, track, args, relay)
        except TimeoutError:
            limit = _duration(self.stage_timeout)
            timed_out = StageTimedOut(
                f"the {self.stage} stage took longer than {limit} and was stopped"
            )
            return await self._failed(context, job, track, timed_out)
        except AudioError as error:
            return await self._failed(context, job, track, error)
        except Exception as error:
            # Anything else (the database, a bug) is retried by the queue; on the last attempt
            # the track says so first, or it would show its stage forever.
            if job.attempt >= job.max_attempts:
                message = f"the {self.stage} stage failed: {error}"
                await self._set_status(context, track, "failed", message)
            raise
        finally:
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
        return result

    @abc.abstractmethod
    async def run(
        self,
        context: PipelineContext,
        job: JobRecord,
        track: tracks.Track,
        args: Any,
        progress: Callable[[float, str], None],
    ) -> Any:
        """Do the stage's work in its port and commit it (see :meth:`commit`)."""

    async def _failed(
        self, context: PipelineContext, job: JobRecord, track: tracks.Track, error: AudioError
    ) -> Any:
        message = str(error)
        topic = track_topic(track.id)
        if isinstance(error, RateLimited):
            _publish(
                context,
                topic,
                StageChanged(
                    track.id, self.stage, StageState.RETRYING, job.attempt, job.id, message
                ),
            )
            return Snooze(error.retry_after or 60.0)
        final = not error.retryable or job.attempt >= job.max_attempts
        state = StageState.FAILED if final else StageState.RETRYING
        event = StageChanged(track.id, self.stage, state, job.attempt, job.id, message)
        _publish(context, topic, event)
        if final:
            await self._set_status(context, track, "failed", message)
        if not error.retryable:
            return Cancel(message)
        raise error

    async def commit(
        self,
        context: PipelineContext,
        job: JobRecord,
        track: tracks.Track,
        record: Callable[[Any], Awaitable[None]],
        next_job: type[Worker] | None,
        status: str,
    ) -> bool:
        """Complete this job, record the results and queue the next stage in one transaction;
        then say so at once, before the next stage's job (woken by the commit's NOTIFY, a
        round trip later) can announce its start on this node.

        False, with nothing recorded, when this attempt is no longer the job's (it was
        cancelled, or rescued and run again while this one still ran): committing a stale
        attempt would queue the next stage a second time once the first had finished.
        """
        try:
            async with repo.transaction(context.repo) as conn:
                if not await complete_job(conn, job):
                    raise _Superseded
                await record(conn)
                if next_job is not None:
                    options = await _user_options(conn, next_job, track.user_id)
                    await insert(conn, next_job, {"track_id": track.id, "options": options})
        except _Superseded:
            log.info(
                "%s of track %s: attempt %d of job %d was superseded; its results are dropped",
                self.stage,
                track.id,
                job.attempt,
                job.id,
            )
            return False
        topic = track_topic(track.id)
        _publish(
            context,
            topic,
            StageChanged(track.id, self.stage, StageState.COMPLETED, job.attempt, job.id),
        )
        event = TrackStatusChanged(track.id, track.user_id, status)
        _publish(context, topic, event)
        _publish(context, user_topic(track.user_id), event)
        return True

    async def _set_status(
        self, context: PipelineContext, track: tracks.Track, status: str, error: str | None = None
    ) -> None:
        async with repo.connection(context.repo) as conn:
            await tracks.set_status(conn, track.id, status, error)
        event = TrackStatusChanged(track.id, track.user_id, status, error)
        _publish(context, track_topic(track.id), event)
        _publish(context, user_topic(track.user_id), event)


async def _run_port(program: str, op: str, args: Any, progress: Any) -> Any:
    return await port_pool.run(port_pool.pool_name(program), op, args, progress=progress)


class Download(_Stage):
    """Fetch the audio (Spotify → yt-dlp, any media URL, an upload, a local file)."""

    name = "soundforge.download"
    queue = "download"
    stage_timeout = 30 * 60.0
    stage = Stage.DOWNLOAD
    pool = "downloader"
    status = "downloading"
    args_type = DownloadArgs

    async def run(
        self,
        context: PipelineContext,
        job: JobRecord,
        track: tracks.Track,
        args: Any,
        progress: Callable[[float, str], None],
    ) -> Any:
        track_dir = context.track_dir(track.id)
        request = {
            "request": args.request,
            "track_dir": str(track_dir),
            "settings": source_settings(context.settings),
        }
        raw = await _run_port(self.pool, "fetch", request, progress)
        fetched = msgspec.convert(raw, _Fetched)
        duplicate = await tracks.find_duplicate(
            repo.pool(context.repo), track.user_id, content_hash=fetched.sha256, excluding=track.id
        )
        if duplicate is not None:
            return await self._duplicate(context, track, duplicate, args.request)
        meta = fetched.metadata

        async def record(conn: Any) -> None:
            await tracks.record_download(
                conn,
                track.id,
                original_path=context.relative(fetched.original_path),
                original_size=fetched.size_bytes,
                content_hash=fetched.sha256,
                duration_ms=fetched.duration_ms,
                title=meta.get("title") if track.source_kind not in ("spotify",) else None,
                artists=meta.get("artists"),
                album=meta.get("album"),
                source_name=meta.get("source_name"),
            )

        try:
            if not await self.commit(context, job, track, record, Separate, "separating"):
                return _SUPERSEDED
        except asyncpg.UniqueViolationError:
            # The same content arrived for another import of this user in the meantime.
            again = await tracks.find_duplicate(
                repo.pool(context.repo),
                track.user_id,
                content_hash=fetched.sha256,
                excluding=track.id,
            )
            if again is None:
                raise
            return await self._duplicate(context, track, again, args.request)
        await _remove_upload(context, args.request)
        return {"sha256": fetched.sha256, "duration_ms": fetched.duration_ms}

    async def _duplicate(
        self,
        context: PipelineContext,
        track: tracks.Track,
        found: tuple[str, str],
        request: dict[str, Any],
    ) -> Any:
        existing, reason = found
        await _remove_upload(context, request)
        async with repo.connection(context.repo) as conn:
            await tracks.delete_track(conn, track.id)
        await asyncio.to_thread(shutil.rmtree, context.track_dir(track.id), ignore_errors=True)
        event = DuplicateFound(track.user_id, existing, reason, track.id)
        _publish(context, track_topic(track.id), event)
        _publish(context, user_topic(track.user_id), event)
        return {"duplicate_of": existing, "reason": reason}


async def _user_options(conn: Any, stage: type[Worker], user_id: str) -> dict[str, Any]:
    """The options the track's owner chose on the settings page for ``stage``'s job."""
    prefs = await get_preferences(conn, user_id)
    if stage is Separate:
        return separation_options(prefs)
    if stage is Analyze:
        return analysis_options(prefs)
    return {}


async def _remove_upload(context: PipelineContext, request: dict[str, Any]) -> None:
    """Delete an uploaded file's folder once its copy is in the track (or it was a duplicate)."""
    path = upload_path(request)
    if path is not None:
        await asyncio.to_thread(remove_upload, context.data_dir, path)


class Separate(_Stage):
    """Split the decoded audio into stems under ``tracks/<id>/stems/<model>/``."""

    name = "soundforge.separate"
    queue = "processing"
    stage_timeout = 4 * 60 * 60.0
    stage = Stage.SEPARATE
    pool = "separator"
    status = "separating"
    args_type = SeparateArgs

    async def run(
        self,
        context: PipelineContext,
        job: JobRecord,
        track: tracks.Track,
        args: Any,
        progress: Callable[[float, str], None],
    ) -> Any:
        track_dir = context.track_dir(track.id)
        request = {
            "input": str(track_dir / "audio.wav"),
            "output": str(track_dir / "stems" / "{model}"),
            "models_dir": str(context.data_dir / "models"),
            "options": args.options,
        }
        raw = await _run_port(self.pool, "separate", request, progress)
        separated = msgspec.convert(raw, _Separated)
        stems = [
            msgspec.structs.replace(stem, path=context.relative(stem.path))
            for stem in separated.stems
        ]

        async def record(conn: Any) -> None:
            await tracks.record_stems(
                conn, track.id, separated.engine, separated.model, stems, separated.options
            )

        if not await self.commit(context, job, track, record, Analyze, "analysing"):
            return _SUPERSEDED
        return {
            "engine": separated.engine,
            "model": separated.model,
            "stems": [stem.name for stem in stems],
        }


class Analyze(_Stage):
    """Analyse the track (and the drums stem, when there is one) into ``analysis.json``."""

    name = "soundforge.analyze"
    queue = "analysis"
    stage_timeout = 30 * 60.0
    stage = Stage.ANALYZE
    pool = "analyzer"
    status = "analysing"
    args_type = AnalyzeArgs

    async def run(
        self,
        context: PipelineContext,
        job: JobRecord,
        track: tracks.Track,
        args: Any,
        progress: Callable[[float, str], None],
    ) -> Any:
        track_dir = context.track_dir(track.id)
        stems = await tracks.stems_of(repo.pool(context.repo), track.id)
        drums = next((s for s in stems if s.stem == "drums"), None)
        request = {
            "path": str(track_dir / "audio.wav"),
            "output": str(track_dir / "analysis.json"),
            "drums_path": str(context.data_dir / drums.path) if drums else None,
            "options": args.options,
        }
        raw = await _run_port(self.pool, "analyze", request, progress)
        analysed = msgspec.convert(raw, _Analysed)
        document = await asyncio.to_thread(Path(analysed.path).read_bytes)

        async def record(conn: Any) -> None:
            await tracks.record_analysis(
                conn,
                track.id,
                version=analysed.version,
                result_json=document,
                options=args.options,
                tempo=analysed.tempo,
                key=analysed.key,
                camelot=analysed.camelot,
                loudness_lufs=analysed.loudness_lufs,
                duration_ms=analysed.duration_ms,
            )

        if not await self.commit(context, job, track, record, None, "ready"):
            return _SUPERSEDED
        return {"tempo": analysed.tempo, "key": analysed.key, "camelot": analysed.camelot}


#: The workers a node needs to run the pipeline.
PIPELINE_WORKERS: Final[tuple[type[Worker], ...]] = (Download, Separate, Analyze, RenderStem)
