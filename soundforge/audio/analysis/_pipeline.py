"""The analysis pipeline: decode once, compute each feature once, assemble one Analysis.

Order and sharing: the file is decoded at its own rate (loudness, true peak and waveform
need the original samples); one mono 22.05 kHz mix feeds one STFT (spectral features,
onsets, MFCC, structure) and one tonal spectrogram (key, chords, meter). Beats feed the
meter, chords and bars; bars feed structure and loops; structure feeds the markers.

Progress is reported per step with fractions proportional to each step's typical cost,
so it moves evenly and never backwards; :func:`run` also returns the wall time of each
step (the benchmark's breakdown).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Final

import librosa
import msgspec
import numpy as np
import numpy.typing as npt

from soundforge.audio import media
from soundforge.audio.analysis import _loudness
from soundforge.audio.analysis._chords import detect_chords
from soundforge.audio.analysis._drums import drum_onsets
from soundforge.audio.analysis._features import (
    energy_features,
    frame_rms,
    spectral_features,
    timbre_features,
)
from soundforge.audio.analysis._key import KeyEstimate, estimate_key, key_changes
from soundforge.audio.analysis._loops import find_loops
from soundforge.audio.analysis._markers import arrangement_markers
from soundforge.audio.analysis._meter import find_meter
from soundforge.audio.analysis._pitch import pitch_track
from soundforge.audio.analysis._signal import SR, front_end, mono_mix
from soundforge.audio.analysis._structure import label_segments, make_units, segment
from soundforge.audio.analysis._tempo import track_beats
from soundforge.audio.analysis._tonal import tonal_features
from soundforge.audio.analysis._waveform import waveform_peaks
from soundforge.audio.analysis.keys import (
    PITCH_CLASSES,
    Mode,
    camelot_of,
    key_name,
    tonic_name,
)
from soundforge.audio.analysis.options import DEFAULT_OPTIONS, AnalysisOptions
from soundforge.audio.analysis.schema import (
    Analysis,
    Bar,
    Chord,
    Drums,
    KeyCandidate,
    LoopPoint,
    Loudness,
    Rhythm,
    Segment,
    TempoCandidate,
    TimeSignature,
    Tonality,
)
from soundforge.audio.progress import NO_PROGRESS, Progress

__all__ = ["analyze", "analyze_audio", "run", "warm_up"]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

# Typical share of the work of each step (a 3-minute stereo track, default options).
_COSTS: Final = MappingProxyType(
    {
        "decoding": 0.05,
        "loudness": 0.12,
        "waveform": 0.03,
        "spectrum": 0.15,
        "beats": 0.06,
        "harmony": 0.12,
        "timbre": 0.15,
        "structure": 0.05,
        "drums": 0.12,
        "pitch": 1.5,
    }
)
_LABELS: Final = MappingProxyType(
    {
        "decoding": "decoding audio",
        "loudness": "measuring loudness",
        "waveform": "drawing the waveform",
        "spectrum": "computing the spectrum",
        "beats": "tracking beats",
        "harmony": "reading key and chords",
        "timbre": "measuring timbre",
        "structure": "finding structure and loops",
        "drums": "finding drum hits",
        "pitch": "tracking pitch",
    }
)


class _Steps:
    """Times each step and reports cumulative, cost-weighted progress."""

    def __init__(self, names: list[str], progress: Progress) -> None:
        total = sum(_COSTS[n] for n in names)
        self._share = {n: _COSTS[n] / total for n in names}
        self._progress = progress
        self._done = 0.0
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self._progress(self._done, _LABELS[name])
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 4)
        self._done = min(1.0, self._done + self._share[name])
        self._progress(self._done, _LABELS[name])


def _ms(seconds: float, limit: int) -> int:
    return min(limit, max(0, round(seconds * 1000)))


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def run(
    audio: F32,
    rate: int,
    options: AnalysisOptions = DEFAULT_OPTIONS,
    progress: Progress = NO_PROGRESS,
    *,
    drums: F32 | None = None,
    steps: _Steps | None = None,
) -> tuple[Analysis, dict[str, float]]:
    """Analyse decoded ``audio`` (channels, samples) at ``rate``; also the step timings.

    ``drums`` is the drums stem as mono 22.05 kHz samples, if there is one.
    """
    if steps is None:
        names = [n for n in _COSTS if n not in ("decoding", "drums", "pitch")]
        names += ["drums"] * (drums is not None) + ["pitch"] * options.pitch
        steps = _Steps(names, progress)
    duration = audio.shape[1] / rate
    duration_ms = round(duration * 1000)

    def ms(seconds: float) -> int:
        return _ms(seconds, duration_ms)

    with steps.step("loudness"):
        loud = _loudness.measure_loudness(audio, rate)
    with steps.step("waveform"):
        waveform = waveform_peaks(audio, rate, options.waveform_bins)
    with steps.step("spectrum"):
        front = front_end(mono_mix(audio, rate))
        rms = frame_rms(front)
        mfcc = librosa.feature.mfcc(S=front.mel_db, n_mfcc=max(options.n_mfcc, 13))
    with steps.step("beats"):
        grid = track_beats(
            front.onset,
            front.low_onset,
            duration,
            min_bpm=options.min_bpm,
            max_bpm=options.max_bpm,
            prior_bpm=options.prior_bpm,
        )
    with steps.step("harmony"):
        tonal = tonal_features(front.y, hpss=options.hpss)
        key = estimate_key(tonal, options.key_profile)
        changes = key_changes(tonal, key, options.key_profile) if key else []
        chords = detect_chords(tonal, grid.beats, duration)
    with steps.step("timbre"):
        spectral = spectral_features(front, rms)
        energy = energy_features(front.y, rms, options.energy_hop_ms)
        timbre = timbre_features(rms, mfcc[: options.n_mfcc], tonal)
    with steps.step("structure"):
        meter = find_meter(front, tonal, grid.beats, duration)
        units = make_units(front, tonal, mfcc, rms, meter.downbeats, duration)
        spans, strength = segment(units)
        segments = label_segments(units, spans, strength)
        loops = find_loops(front, units, meter.bars, options.max_loops)
        markers = arrangement_markers(units, segments, changes, meter.downbeats)
    drum_hits = None
    if drums is not None:
        with steps.step("drums"):
            drum_hits = drum_onsets(drums)
    pitch = None
    if options.pitch:
        with steps.step("pitch"):
            pitch = pitch_track(front.y)

    bpm = _round(grid.bpm)
    structure = [
        Segment(
            start_ms=ms(units.edges[s.first]),
            end_ms=ms(units.edges[s.end]),
            label=s.label,
            group=s.group,
            energy=round(s.energy, 3),
            confidence=round(s.confidence, 3),
        )
        for s in segments
    ]
    if structure:
        structure[0] = msgspec.structs.replace(structure[0], start_ms=0)
        structure[-1] = msgspec.structs.replace(structure[-1], end_ms=duration_ms)

    def section_at(position_ms: int) -> str | None:
        return next((s.label for s in structure if s.start_ms <= position_ms < s.end_ms), None)

    analysis = Analysis(
        duration_ms=duration_ms,
        sample_rate=int(rate),
        channels=int(audio.shape[0]),
        tempo=bpm,
        key=key_name(key.tonic, key.mode) if key else None,
        camelot=camelot_of(key.tonic, key.mode) if key else None,
        loudness_lufs=loud.integrated_lufs,
        rhythm=Rhythm(
            confidence=round(grid.confidence, 3),
            half_bpm=_round(bpm / 2) if bpm else None,
            double_bpm=_round(bpm * 2) if bpm and bpm * 2 < 1000 else None,
            candidates=[
                TempoCandidate(bpm=round(b, 2), strength=round(s, 3)) for b, s in grid.candidates
            ],
            beat_jitter_ms=_round(grid.jitter_ms),
            time_signature=TimeSignature(
                beats_per_bar=meter.beats_per_bar, confidence=round(meter.confidence, 3)
            )
            if meter.downbeats.size
            else None,
            beats_ms=[ms(t) for t in grid.beats],
            downbeats_ms=[ms(t) for t in meter.downbeats],
            bars=[
                Bar(index=i, start_ms=ms(a), end_ms=ms(b)) for i, (a, b) in enumerate(meter.bars)
            ],
        ),
        tonality=_tonality(key, tonal.tuning_cents, options)
        if key
        else Tonality(tuning_cents=round(tonal.tuning_cents, 1)),
        chords=[
            Chord(
                start_ms=ms(c.start),
                end_ms=ms(c.end),
                label=c.label,
                root=PITCH_CLASSES[c.root] if c.root is not None else None,
                quality="maj" if c.quality == "maj" else "min" if c.quality else None,
                confidence=round(c.confidence, 3),
            )
            for c in chords
        ],
        loudness=Loudness(
            range_lu=loud.range_lu,
            true_peak_dbtp=loud.true_peak_dbtp,
            sample_peak_dbfs=loud.sample_peak_dbfs,
            short_term_max_lufs=loud.short_term_max_lufs,
            momentary_max_lufs=loud.momentary_max_lufs,
        ),
        energy=energy,
        spectral=spectral,
        timbre=timbre,
        structure=structure,
        loops=[
            LoopPoint(
                start_ms=ms(meter.bars[c.first][0]),
                end_ms=ms(meter.bars[c.first + c.bars - 1][1]),
                start_bar=c.first,
                bars=c.bars,
                beats=c.bars * meter.beats_per_bar,
                score=round(c.score, 3),
                repetition=round(c.repetition, 3),
                seam=round(c.seam, 3),
                energy=round(c.energy, 3),
                section=section_at(ms(meter.bars[c.first][0])),  # type: ignore[arg-type]
            )
            for c in loops
        ],
        markers=markers,
        waveform=waveform,
        drums=Drums(
            onsets_ms=[ms(t) for t in drum_hits.onsets],
            kick_ms=[ms(t) for t in drum_hits.kick],
            snare_ms=[ms(t) for t in drum_hits.snare],
            hat_ms=[ms(t) for t in drum_hits.hat],
        )
        if drum_hits is not None
        else None,
        pitch=pitch,
    )
    return analysis, dict(steps.seconds)


def _tonality(key: KeyEstimate, tuning: float, options: AnalysisOptions) -> Tonality:
    order = np.argsort(key.scores)[::-1][:3]
    candidates = []
    for index in order:
        tonic = int(index) % 12
        mode: Mode = "major" if index < 12 else "minor"
        candidates.append(
            KeyCandidate(
                key=key_name(tonic, mode),
                camelot=camelot_of(tonic, mode),
                score=round(float(key.scores[index]), 4),
            )
        )
    profile = "temperley+krumhansl+edma" if options.key_profile == "auto" else options.key_profile
    return Tonality(
        tonic=tonic_name(key.tonic, key.mode),
        mode=key.mode,
        confidence=round(float(np.clip(key.score, 0.0, 1.0)), 3),
        margin=round(key.margin, 3),
        tuning_cents=round(tuning, 1),
        profile=profile,
        candidates=candidates,
    )


def analyze_audio(
    audio: F32,
    sample_rate: int,
    options: AnalysisOptions = DEFAULT_OPTIONS,
    progress: Progress = NO_PROGRESS,
    *,
    drums: F32 | None = None,
) -> Analysis:
    """Analyse decoded audio, float32 (channels, samples); ``drums`` (the drums stem) has the
    same layout and ``sample_rate``."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    drums_y = None
    if drums is not None:
        drums_y = mono_mix(np.atleast_2d(np.asarray(drums, dtype=np.float32)), sample_rate)
    analysis, _ = run(audio, sample_rate, options, progress, drums=drums_y)
    progress(1.0, "done")
    return analysis


def analyze(
    path: str | Path,
    options: AnalysisOptions = DEFAULT_OPTIONS,
    progress: Progress = NO_PROGRESS,
    *,
    drums_path: str | Path | None = None,
) -> Analysis:
    """Analyse the audio file at ``path`` (any format :mod:`media` reads).

    Raises :class:`~soundforge.audio.errors.UnreadableAudio` for a file (or drums stem)
    that is not audio. Silence and very short clips give a valid Analysis with ``tempo``,
    ``key`` and ``loudness_lufs`` as None.
    """
    analysis, _ = analyze_timed(path, options, progress, drums_path=drums_path)
    return analysis


def analyze_timed(
    path: str | Path,
    options: AnalysisOptions = DEFAULT_OPTIONS,
    progress: Progress = NO_PROGRESS,
    *,
    drums_path: str | Path | None = None,
) -> tuple[Analysis, dict[str, float]]:
    """:func:`analyze` plus the wall time of each step (seconds), for the benchmark."""
    names = list(_COSTS)
    if drums_path is None:
        names.remove("drums")
    if not options.pitch:
        names.remove("pitch")
    steps = _Steps(names, progress)
    with steps.step("decoding"):
        audio, rate = media.read_audio(path)
        drums = None
        if drums_path is not None:
            drums = media.read_audio(drums_path, sample_rate=SR, mono=True)[0][0]
    analysis, seconds = run(audio, rate, options, progress, drums=drums, steps=steps)
    progress(1.0, "done")
    log.info("analysed %s in %.2f s", Path(path).name, sum(seconds.values()))
    return analysis, seconds


def warm_up(options: AnalysisOptions | None = None) -> float:
    """Run a tiny analysis so numba compiles (or loads from its cache) before real work.

    Set ``NUMBA_CACHE_DIR`` to a writable directory before librosa is first imported, or
    every new process pays the full JIT compile. Returns the seconds it took.
    """
    options = options or AnalysisOptions()
    started = time.perf_counter()
    rate = 44100
    t = np.arange(8 * rate) / rate
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)) * 0.1
    clicks = np.zeros_like(t)
    for beat in np.arange(0.0, 8.0, 0.5):
        start = int(beat * rate)
        clicks[start : start + 2000] += np.exp(-np.arange(2000) / 200.0) * np.sin(
            2 * np.pi * 60.0 * np.arange(2000) / rate
        )
    mix = np.stack([tone + clicks, tone + clicks]).astype(np.float32)
    analyze_audio(mix, rate, options, drums=mix)
    seconds = time.perf_counter() - started
    log.info("analysis warm-up took %.2f s", seconds)
    return seconds
