"""The DAW's render as a queue worker: a lane's live edits applied to its stem, stored as a
new version of the stem while the original stays.

``RenderStem`` runs on the ``analysis`` queue, unique per stem while a render of it is
``available`` or ``executing`` (asking again meanwhile returns that job). An attempt reads
the source stem and its live edits, renders them in a worker thread
(:func:`soundforge.audio.render.render_file`: numpy and soundfile, no port needed) to a
temporary file beside the original, and then, in **one transaction**, completes its job,
takes the next version N (the original's row locked), moves the file to
``tracks/<track_id>/stems/<model>/<stem>.v<N>.wav`` and inserts the ``stems`` row with
``parent_stem_id`` = the original. An attempt that is no longer its job's commits nothing
and leaves no file, as the pipeline's stages do (``soundforge.jobs.pipeline``).

Like those stages it tells ``track:<id>`` what happens: :class:`StemRenderChanged` (started,
completed with the version, retrying, failed) and throttled :class:`StemRenderProgress`; the
latest progress is saved in the job's ``meta`` too. Failures: a stem whose row or file is
gone, or a file that is not audio, cancels the job with its sentence; anything else (a full
disk, the database) is retried by the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import msgspec

from soundforge.actors import repo
from soundforge.audio.errors import AudioError
from soundforge.audio.render import RenderedFile, render_file
from soundforge.jobs.context import PipelineContext, pipeline_context
from soundforge.music import daw
from soundforge.music.events import track_topic
from soundforge.music.library import StemFileMissing, UnsafePath, data_file
from soundforge.queue import Cancel, JobRecord, JobState, Unique, Worker
from soundforge.queue.engine import complete_job, insert
from soundforge.runtime import pubsub

__all__ = ["RenderArgs", "RenderStem", "enqueue_render"]

log = logging.getLogger(__name__)

#: The least time between two progress events of one render on PubSub (seconds).
PROGRESS_EVENT_INTERVAL: Final = 0.2
#: How often the latest progress is written to the job row (seconds).
PROGRESS_SAVE_INTERVAL: Final = 1.0
_LABEL: Final = "rendering"


class RenderArgs(msgspec.Struct, frozen=True):
    track_id: str
    stem_id: str


class _Superseded(Exception):
    """Rolls back the commit of an attempt that is no longer its job's."""


def _publish(context: PipelineContext, event: Any) -> None:
    try:
        pubsub.broadcast(context.pubsub, track_topic(event.track_id), event)
    except Exception:  # events are advisory; a missing PubSub must not fail the render
        log.exception("could not publish %r", event)


class _Progress:
    """The render thread's progress, taken to the loop: throttled events, the latest value
    saved to the job by :meth:`save_forever`."""

    def __init__(self, context: PipelineContext, job: JobRecord, args: RenderArgs) -> None:
        self._context = context
        self._job = job
        self._args = args
        self._loop = asyncio.get_running_loop()
        self._latest = 0.0
        self._saved = 0.0
        self._published_at = 0.0

    def from_thread(self, fraction: float) -> None:
        self._loop.call_soon_threadsafe(self._report, fraction)

    def _report(self, fraction: float) -> None:
        self._latest = fraction
        now = time.monotonic()
        if now - self._published_at >= PROGRESS_EVENT_INTERVAL or fraction >= 1.0:
            self._published_at = now
            args = self._args
            event = daw.StemRenderProgress(
                args.track_id, args.stem_id, self._job.id, fraction, _LABEL
            )
            _publish(self._context, event)

    async def save_forever(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_SAVE_INTERVAL)
            if self._latest != self._saved:
                self._saved = self._latest
                with contextlib.suppress(repo.DatabaseUnavailable, OSError, asyncpg.PostgresError):
                    # Progress is advisory: a database hiccup must not fail the render.
                    async with repo.connection(self._context.repo, timeout=2.0) as conn:
                        await conn.execute(
                            """UPDATE jobs SET meta = meta || jsonb_build_object(
                                   'progress', $2::float8, 'label', $3::text)
                               WHERE id = $1 AND state = 'executing'""",
                            self._job.id,
                            self._saved,
                            _LABEL,
                        )


class RenderStem(Worker):
    """Apply a lane's live edits to its stem and store the result as the stem's next version."""

    name = daw.RENDER_WORKER
    queue = "analysis"
    max_attempts = 3
    timeout = 15 * 60.0
    unique = Unique(period=None, keys=("stem_id",), states=(JobState.AVAILABLE, JobState.EXECUTING))
    args_type = RenderArgs

    async def perform(self, job: JobRecord) -> Any:
        context = pipeline_context()
        args: RenderArgs = self.load_args(job)
        async with repo.connection(context.repo) as conn:
            stem = await daw.stem_row(conn, args.stem_id)
            edits = await daw.live_edits(conn, args.stem_id) if stem is not None else []
        if stem is None:
            return self._failed(context, job, args, "the stem was deleted before its render ran")
        _publish(context, self._changed(job, args, daw.RenderState.STARTED))
        progress = _Progress(context, job, args)
        # Owned by this coroutine: cancelled and awaited whichever way the render ends.
        saver = asyncio.create_task(progress.save_forever())
        try:
            source = await asyncio.to_thread(data_file, context.data_dir, stem.path)
            partial = source.with_name(f".{stem.stem}.render-{job.id}.wav")
            rendered = await asyncio.to_thread(
                render_file, source, partial, edits, progress=progress.from_thread
            )
        except (StemFileMissing, UnsafePath) as error:
            return self._failed(context, job, args, str(error))
        except AudioError as error:
            if error.retryable:
                self._retrying(context, job, args, str(error))
                raise
            return self._failed(context, job, args, str(error))
        except Exception as error:
            # The queue retries it; the page hears why, and that it was the last try.
            self._retrying(context, job, args, f"the render failed: {error}")
            raise
        finally:
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
        try:
            return await self._commit(context, job, args, stem, Path(rendered.path), rendered)
        finally:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(os.unlink, rendered.path)  # gone when committed

    async def _commit(
        self,
        context: PipelineContext,
        job: JobRecord,
        args: RenderArgs,
        stem: daw.StemRow,
        partial: Path,
        rendered: RenderedFile,
    ) -> Any:
        """Complete the job, take the next version, move the file in and insert its row."""
        try:
            async with repo.transaction(context.repo) as conn:
                if not await complete_job(conn, job):
                    raise _Superseded
                version = await daw.next_version(conn, stem.id)
                if version is None:
                    raise _Superseded  # the stem was deleted while it rendered
                path = daw.render_path(stem, version)
                target = context.data_dir / path
                await asyncio.to_thread(os.replace, partial, target)
                rendered_id = await daw.record_render(conn, stem, version, path, rendered)
                await conn.execute(
                    """UPDATE jobs SET meta = meta || jsonb_build_object(
                           'progress', 1.0, 'label', 'rendered',
                           'version', $2::int, 'rendered_stem_id', $3::text)
                       WHERE id = $1""",
                    job.id,
                    version,
                    rendered_id,
                )
        except _Superseded:
            log.info(
                "render of stem %s: attempt %d of job %d was superseded; its file is dropped",
                stem.id,
                job.attempt,
                job.id,
            )
            return {"superseded": True}
        event = self._changed(job, args, daw.RenderState.COMPLETED)
        _publish(
            context, msgspec.structs.replace(event, version=version, rendered_stem_id=rendered_id)
        )
        return {"version": version, "stem_id": rendered_id}

    @staticmethod
    def _changed(
        job: JobRecord, args: RenderArgs, state: daw.RenderState, error: str | None = None
    ) -> daw.StemRenderChanged:
        return daw.StemRenderChanged(
            args.track_id, args.stem_id, job.id, state, job.attempt, error=error
        )

    def _failed(
        self, context: PipelineContext, job: JobRecord, args: RenderArgs, message: str
    ) -> Cancel:
        _publish(context, self._changed(job, args, daw.RenderState.FAILED, message))
        return Cancel(message)

    def _retrying(
        self, context: PipelineContext, job: JobRecord, args: RenderArgs, message: str
    ) -> None:
        last = job.attempt >= job.max_attempts
        state = daw.RenderState.FAILED if last else daw.RenderState.RETRYING
        _publish(context, self._changed(job, args, state, message))


async def enqueue_render(conn: Any, user_id: str, stem_id: str) -> daw.RenderJob:
    """Queue a render of the user's lane (or find the one already waiting or running)."""
    async with conn.transaction():
        stem = await daw.render_source(conn, user_id, stem_id)
        job = await insert(conn, RenderStem, {"track_id": stem.track_id, "stem_id": stem.id})
        return await daw.get_render(conn, user_id, stem.id, job.id)
