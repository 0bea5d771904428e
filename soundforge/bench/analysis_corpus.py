"""Synthesized tracks with a known answer, for the analysis tests and benchmark.

:func:`render` turns a :class:`TrackSpec` into stereo audio plus its ground truth: the beat
grid, downbeats, the drum hits (from a separately rendered drums stem), the key and the
arrangement sections. :func:`corpus` lays out a set of specs covering all 24 keys, tempos
from 70 to 180 BPM (non-integer ones included), five grooves, six timbres, swing, noise
and detuned tuning.

The music is deliberately tonal in the way real tracks are, not in a way that flatters a
key detector: chord progressions are functional (major: I-V-vi-IV, I-IV-V-I, ...; minor:
i-VI-III-V, i-iv-V-i, ...: every minor progression has the harmonic-minor major dominant,
so it is not just its relative major's vi-IV-I-V in disguise), bass plays chord roots,
the melody walks the scale (harmonic minor over a major V) and leans on chord tones.

    spec = TrackSpec(bpm=123.5, tonic=9, mode="minor", seconds=20)
    track = render(spec)      # track.mix (2, n) float32, track.beats_s, track.key == "A minor"
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt
from scipy import signal  # type: ignore[import-untyped]

from soundforge.audio.analysis.keys import key_name

__all__ = ["Groove", "Rendered", "Timbre", "TrackSpec", "corpus", "render"]

Groove = Literal["four-floor", "backbeat", "breakbeat", "halftime", "waltz"]
Timbre = Literal["saw", "square", "organ", "sine", "pluck", "epiano"]
Array = npt.NDArray[np.float64]

_TABLE: Final = 2048
_HARMONICS: Final[Mapping[str, tuple[float, ...]]] = MappingProxyType(
    {
        "saw": tuple(1.0 / k for k in range(1, 13)),
        "square": tuple((1.0 / k if k % 2 else 0.0) for k in range(1, 13)),
        "organ": (1.0, 0.7, 0.5, 0.3, 0.0, 0.2, 0.0, 0.1),
        "sine": (1.0, 0.08),
        "pluck": tuple(1.0 / k**1.3 for k in range(1, 11)),
        "epiano": (1.0, 0.45, 0.2, 0.1, 0.05),
    }
)
# Chords as (root offset from the tonic, quality); progressions per mode.
_MAJOR_PROGRESSIONS: Final = (
    ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
    ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
    ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
    ((2, "min"), (7, "maj"), (0, "maj"), (0, "maj")),
    ((0, "maj"), (4, "min"), (5, "maj"), (7, "maj")),
)
_MINOR_PROGRESSIONS: Final = (
    ((0, "min"), (8, "maj"), (3, "maj"), (7, "maj")),
    ((0, "min"), (5, "min"), (7, "maj"), (0, "min")),
    ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj")),
    ((0, "min"), (5, "min"), (8, "maj"), (7, "maj")),
    ((0, "min"), (0, "min"), (5, "min"), (7, "maj")),
)
_MAJOR_SCALE: Final = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE: Final = (0, 2, 3, 5, 7, 8, 10)
# Drum patterns in 16th steps of one 4/4 bar (12 steps for 3/4): (kick, snare, hat).
_GROOVES: Final[Mapping[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]] = (
    MappingProxyType(
        {
            "four-floor": ((0, 4, 8, 12), (4, 12), (2, 6, 10, 14)),
            "backbeat": ((0, 8, 10), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14)),
            "breakbeat": ((0, 10), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14)),
            "halftime": ((0, 3), (8,), (0, 2, 4, 6, 8, 10, 12, 14)),
            "waltz": ((0,), (4, 8), (0, 2, 4, 6, 8, 10)),
        }
    )
)
# Arrangement of a long track in bars: (section, bars, drums, bass, pad, lead, gain).
_ARRANGEMENT: Final = (
    ("intro", 8, "hats", False, True, False, 0.5),
    ("verse", 16, "full", True, True, False, 0.55),
    ("build-up", 8, "roll", False, True, False, 0.6),
    ("drop", 16, "full", True, True, True, 1.0),
    ("breakdown", 8, "none", False, True, True, 0.35),
    ("build-up", 8, "roll", False, True, False, 0.6),
    ("drop", 16, "full", True, True, True, 1.0),
    ("outro", 8, "hats", True, False, False, 0.5),
)


class TrackSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What to synthesize. ``tonic`` is a pitch class (0 = C); ``swing`` delays off-beat
    eighths by that fraction of an eighth; ``noise`` is the level of a pink-noise bed
    relative to the music; ``tuning_cents`` detunes everything from A = 440 Hz."""

    bpm: float
    tonic: int
    mode: Literal["major", "minor"]
    seconds: float = 30.0
    groove: Groove = "four-floor"
    timbre: Timbre = "saw"
    swing: float = 0.0
    noise: float = 0.0
    tuning_cents: float = 0.0
    progression: int = 0
    arrangement: bool = False
    melody: bool = True
    seed: int = 0
    sample_rate: int = 44100


@dataclass(frozen=True, slots=True)
class Rendered:
    """A synthesized track and its ground truth (times in seconds)."""

    spec: TrackSpec
    mix: npt.NDArray[np.float32]
    drums: npt.NDArray[np.float32]
    beats_s: Array
    downbeats_s: Array
    kick_s: Array
    snare_s: Array
    hat_s: Array
    sections: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return key_name(self.spec.tonic, self.spec.mode)

    @property
    def beats_per_bar(self) -> int:
        return 3 if self.spec.groove == "waltz" else 4


def _midi_hz(note: float, cents: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69 + cents / 100.0) / 12.0))


def _table(timbre: str) -> Array:
    phase = np.arange(_TABLE) / _TABLE
    wave = sum(a * np.sin(2 * np.pi * (k + 1) * phase) for k, a in enumerate(_HARMONICS[timbre]))
    wave = np.asarray(wave, dtype=np.float64)
    return np.asarray(wave / np.max(np.abs(wave)))


class _Synth:
    """Adds notes and one-shot samples into stereo buffers."""

    def __init__(self, spec: TrackSpec, n: int) -> None:
        self.spec = spec
        self.rate = spec.sample_rate
        self.out = np.zeros((2, n))
        self.drums = np.zeros((2, n))
        self.rng = np.random.default_rng(spec.seed)

    def note(
        self,
        midi: float,
        start: float,
        length: float,
        gain: float,
        table: Array,
        *,
        pan: float = 0.0,
        decay: float | None = None,
    ) -> None:
        first = round(start * self.rate)
        count = min(round((length + 0.08) * self.rate), self.out.shape[1] - first)
        if count <= 0 or first < 0:
            return
        t = np.arange(count) / self.rate
        freq = _midi_hz(midi, self.spec.tuning_cents)
        # Sub-bass and top octaves would alias or vanish; keep the table band-limited.
        index = (freq * t * _TABLE + self.rng.integers(_TABLE)).astype(np.int64) % _TABLE
        wave = table[index]
        env = np.minimum(t / 0.01, 1.0)
        env *= np.clip((length + 0.08 - t) / 0.08, 0.0, 1.0)
        if decay is not None:
            env *= np.exp(-t / decay)
        wave *= env * gain
        left, right = math.cos((pan + 1) * math.pi / 4), math.sin((pan + 1) * math.pi / 4)
        self.out[0, first : first + count] += wave * left * math.sqrt(2)
        self.out[1, first : first + count] += wave * right * math.sqrt(2)

    def hit(self, sample: Array, start: float, gain: float) -> None:
        first = round(start * self.rate)
        if first < 0 or first >= self.drums.shape[1]:
            return
        count = min(sample.size, self.drums.shape[1] - first)
        self.drums[:, first : first + count] += sample[:count] * gain


def _kick(rate: int) -> Array:
    t = np.arange(int(0.35 * rate)) / rate
    freq = 45.0 + 105.0 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / rate
    return np.sin(phase) * np.exp(-t / 0.12)


def _snare(rate: int, rng: np.random.Generator) -> Array:
    t = np.arange(int(0.25 * rate)) / rate
    sos = signal.butter(2, (300.0, 7000.0), "bandpass", fs=rate, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(t.size))
    body = 0.5 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.04)
    return np.asarray((noise / np.max(np.abs(noise)) * np.exp(-t / 0.07) + body) * 0.8)


def _hat(rate: int, rng: np.random.Generator) -> Array:
    t = np.arange(int(0.08 * rate)) / rate
    sos = signal.butter(4, 7000.0, "highpass", fs=rate, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(t.size))
    return np.asarray(noise / np.max(np.abs(noise)) * np.exp(-t / 0.015) * 0.5)


def _sections(spec: TrackSpec, bars: int) -> list[tuple[str, int, int, tuple[object, ...]]]:
    """(label, first bar, end bar, row) per section; one 'verse' without arrangement."""
    if not spec.arrangement:
        return [("verse", 0, bars, ("verse", bars, "full", True, True, spec.melody, 0.8))]
    total = sum(row[1] for row in _ARRANGEMENT)
    out: list[tuple[str, int, int, tuple[object, ...]]] = []
    at = 0
    for row in _ARRANGEMENT:
        length = max(2, round(row[1] * bars / total / 2) * 2)
        end = bars if row is _ARRANGEMENT[-1] else min(bars, at + length)
        if end > at:
            out.append((str(row[0]), at, end, row))
        at = end
    return out


def _chord_notes(root: int, quality: str, tonic: int) -> list[int]:
    base = 48 + (tonic + root) % 12
    third = 4 if quality == "maj" else 3
    notes = [base, base + third, base + 7]
    # Closest voicing around middle C: move notes below E3 up an octave.
    return sorted(n + 12 if n < 52 else n for n in notes)


def render(spec: TrackSpec) -> Rendered:
    """Synthesize ``spec``; deterministic for a given spec (its ``seed``)."""
    rate = spec.sample_rate
    per_bar = 3 if spec.groove == "waltz" else 4
    beat = 60.0 / spec.bpm
    bar = per_bar * beat
    bars = max(1, math.ceil(spec.seconds / bar))
    n = round(spec.seconds * rate)
    synth = _Synth(spec, n)
    rng = synth.rng
    pad_table, bass_table = _table(spec.timbre), _table("pluck")
    lead_table = _table("sine" if spec.timbre in ("saw", "square") else "square")
    kick, snare, hat = _kick(rate), _snare(rate, rng), _hat(rate, rng)
    progressions = _MAJOR_PROGRESSIONS if spec.mode == "major" else _MINOR_PROGRESSIONS
    progression = progressions[spec.progression % len(progressions)]
    scale = _MAJOR_SCALE if spec.mode == "major" else _MINOR_SCALE
    kicks, snares, hats = _GROOVES[spec.groove]
    steps = per_bar * 4
    hits: dict[str, list[float]] = {"kick": [], "snare": [], "hat": []}
    layout = _sections(spec, bars)

    def step_time(bar_index: int, step: int) -> float:
        t = bar_index * bar + step * beat / 4
        if step % 4 == 2:
            t += spec.swing * beat / 2
        elif step % 2 == 1:
            t += spec.swing * beat / 4
        return t

    for _label, first, end, row in layout:
        _, _, drums, bass_on, pad_on, lead_on, gain = row
        gain = float(gain)  # type: ignore[arg-type]
        for b in range(first, end):
            root, quality = progression[b % len(progression)]
            start = b * bar
            if pad_on:
                for i, note in enumerate(_chord_notes(root, quality, spec.tonic)):
                    decay = bar / 2 if spec.timbre in ("pluck", "epiano") else None
                    synth.note(
                        note, start, bar, 0.09 * gain, pad_table, pan=(i - 1) * 0.4, decay=decay
                    )
            if bass_on:
                bass_note = 36 + (spec.tonic + root) % 12
                for k in range(per_bar * 2):
                    octave = 12 if k % 4 == 3 else 0
                    synth.note(
                        bass_note + octave,
                        start + k * beat / 2,
                        beat / 2 * 0.8,
                        0.22 * gain,
                        bass_table,
                    )
            if lead_on:
                _melody(synth, spec, scale, root, quality, start, beat, per_bar, gain, lead_table)
            if drums == "none" or start >= spec.seconds:
                continue
            for step in range(steps):
                t = step_time(b, step)
                if t >= spec.seconds:
                    break
                velocity = (0.85 + 0.15 * rng.random()) * math.sqrt(gain)
                if drums == "roll":
                    # A snare roll that densifies through the build-up.
                    density = 4 if (b - first) < (end - first) / 2 else 2
                    if step % density == 0:
                        synth.hit(snare, t, velocity * (0.4 + 0.6 * (b - first) / (end - first)))
                        hits["snare"].append(t)
                    continue
                if drums == "full" and step in kicks:
                    synth.hit(kick, t, velocity)
                    hits["kick"].append(t)
                if drums == "full" and step in snares:
                    synth.hit(snare, t, velocity * 0.8)
                    hits["snare"].append(t)
                if step in hats:
                    synth.hit(hat, t, velocity * (0.6 if step % 4 else 0.8))
                    hits["hat"].append(t)
    music = synth.out + synth.drums
    if spec.noise > 0:
        white = rng.standard_normal(n)
        pink = signal.lfilter(
            [0.049922, -0.095993, 0.050612, -0.004408], [1, -2.494956, 2.017265, -0.522189], white
        )
        pink *= spec.noise * np.sqrt(np.mean(music**2)) / (np.sqrt(np.mean(pink**2)) + 1e-12)
        music = music + pink
    scale_to = 0.89 / max(float(np.max(np.abs(music))), 1e-9)
    beats = np.arange(bars * per_bar, dtype=np.float64) * beat
    sections = [
        (label, first * bar, min(end * bar, spec.seconds)) for label, first, end, _ in layout
    ]
    return Rendered(
        spec=spec,
        mix=(music * scale_to).astype(np.float32),
        drums=(synth.drums * scale_to).astype(np.float32),
        beats_s=beats[beats < spec.seconds],
        downbeats_s=beats[::per_bar][beats[::per_bar] < spec.seconds],
        kick_s=np.asarray(sorted(hits["kick"])),
        snare_s=np.asarray(sorted(hits["snare"])),
        hat_s=np.asarray(sorted(hits["hat"])),
        sections=sections,
    )


def _melody(
    synth: _Synth,
    spec: TrackSpec,
    scale: tuple[int, ...],
    root: int,
    quality: str,
    start: float,
    beat: float,
    per_bar: int,
    gain: float,
    table: Array,
) -> None:
    """One bar of melody: chord tones on the beat, scale steps between."""
    rng = synth.rng
    leading = spec.mode == "minor" and root == 7  # over V, the harmonic-minor leading tone
    degrees = [d if not (leading and d == 10) else 11 for d in scale]
    chord = [root, root + (4 if quality == "maj" else 3), root + 7]
    for k in range(per_bar * 2):
        if k % 2 == 0:
            pitch = chord[int(rng.integers(3))] % 12
        else:
            pitch = degrees[int(rng.integers(len(degrees)))]
        if rng.random() < 0.2:
            continue
        synth.note(
            72 + (spec.tonic + pitch) % 12,
            start + k * beat / 2,
            beat / 2 * 0.9,
            0.07 * gain,
            table,
            pan=0.2,
        )


def corpus(count: int = 48, *, seconds: float = 30.0, seed: int = 7) -> list[TrackSpec]:
    """``count`` specs spread over all 24 keys, 70-180 BPM, grooves, timbres and noise."""
    grooves: tuple[Groove, ...] = (
        "four-floor",
        "backbeat",
        "breakbeat",
        "halftime",
        "four-floor",
        "waltz",
    )
    timbres: tuple[Timbre, ...] = ("saw", "square", "organ", "sine", "pluck", "epiano")
    fixed = (120.0, 123.5, 174.0, 87.5, 128.0, 140.0)
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(count):
        key = i % 24
        mode: Literal["major", "minor"] = "major" if key < 12 else "minor"
        tonic = (key * 7) % 12
        bpm = fixed[i] if i < len(fixed) else round(70.0 + 110.0 * (i * 0.6180339887 % 1.0), 1)
        specs.append(
            TrackSpec(
                bpm=bpm,
                tonic=tonic,
                mode=mode,
                seconds=seconds,
                groove=grooves[i % len(grooves)],
                timbre=timbres[(i // 2) % len(timbres)],
                swing=0.25 if i % 5 == 4 else 0.0,
                noise=0.3 if i % 3 == 2 else 0.0,
                tuning_cents=float(rng.uniform(-30, 30)) if i % 4 == 3 else 0.0,
                progression=i // 3,
                seed=seed * 1000 + i,
            )
        )
    return specs
