"""A synthetic multitrack whose true stems are known: the yardstick of tests and the benchmark.

No public music with stems can be fetched here, so separation quality is measured on a
small synthesized song: a formant-synthesized singing voice (vowels, vibrato, phrases with
breaths), a kick/snare/hat drum pattern, a plucked bass line and a sustained chord pad with
an arpeggio, following Am–F–C–G at a given tempo. Each source is rendered on its own, so the
separation of their sum can be scored against each (see :mod:`.metrics`).

It is *synthetic*: figures measured on it show that a separator works and roughly how
well, not how it fares on produced music (MUSDB18 is the reference for that).

    song = synth_song(seconds=10.0, seed=1)
    song.mixture.shape        # (2, 441000), float32; song.stems["vocals"] is one source
"""

from __future__ import annotations

from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = ["SOURCES", "SynthSong", "synth_song"]

Audio = npt.NDArray[np.float32]
SOURCES: Final[tuple[str, ...]] = ("vocals", "drums", "bass", "other")

# Formant frequencies (Hz) and bandwidths of sung vowels (after Sundberg's tables).
_VOWELS: Final = {
    "a": ((800, 1150, 2900, 3900), (80, 90, 120, 130)),
    "e": ((400, 1700, 2600, 3200), (70, 80, 100, 120)),
    "i": ((300, 2100, 2800, 3500), (60, 90, 100, 120)),
    "o": ((450, 800, 2830, 3500), (70, 80, 100, 130)),
    "u": ((325, 700, 2530, 3500), (50, 60, 170, 180)),
}
_CHORDS: Final = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))  # Am F C G (MIDI)
_ROOTS: Final = (33, 29, 36, 31)  # A1 F1 C2 G1


class SynthSong(msgspec.Struct, frozen=True):
    """A mixture and its true sources, float32 ``(2, samples)`` at ``sample_rate``."""

    mixture: Audio
    stems: dict[str, Audio]
    sample_rate: int


def _midi_hz(note: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69) / 12))


def _envelope(n: int, rate: int, attack: float, release: float) -> npt.NDArray[np.float64]:
    env = np.ones(n)
    a = min(n, max(1, int(attack * rate)))
    r = min(n - a, max(1, int(release * rate)))
    env[:a] = np.linspace(0.0, 1.0, a)
    if r > 0:
        env[n - r :] = np.linspace(1.0, 0.0, r)
    return env


def _voice(n: int, rate: int, beat: float, rng: np.random.Generator) -> Audio:
    """Sung syllables: harmonics of a vibrato f0 shaped by vowel formants, then breaths."""
    out = np.zeros(n)
    melody = (69, 72, 71, 69, 67, 64, 65, 67, 69, 64, 62, 60)
    t_pos, i = 0.5 * beat, 0
    while t_pos < n / rate - 0.3:
        length = beat * rng.choice((1.0, 1.5, 2.0))
        start, m = int(t_pos * rate), int(length * rate)
        m = min(m, n - start)
        t = np.arange(m) / rate
        vib = 1.0 + 0.025 * np.sin(2 * np.pi * 5.6 * t + rng.uniform(0, 6.3)) * np.minimum(
            1, t / 0.3
        )
        f0 = _midi_hz(melody[i % len(melody)]) * vib * (1 + 0.002 * rng.standard_normal())
        phase = 2 * np.pi * np.cumsum(f0) / rate
        freqs, bws = _VOWELS[str(rng.choice(list(_VOWELS)))]
        note = np.zeros(m)
        for k in range(1, int(7000 / f0.mean()) + 1):
            fk = k * f0.mean()
            gain = sum(
                1.0 / (1.0 + ((fk - fr) / bw) ** 2) * (0.9**j)
                for j, (fr, bw) in enumerate(zip(freqs, bws, strict=True))
            )
            note += (gain + 0.02) / k**0.7 * np.sin(k * phase)
        note *= _envelope(m, rate, 0.04, 0.08)
        out[start : start + m] += note
        # A short breath (filtered noise) before the next phrase.
        gap = beat * (0.5 if rng.random() < 0.7 else 1.0)
        b0, bm = start + m, min(int(gap * rate * 0.6), n - start - m)
        if bm > 16:
            breath = np.convolve(rng.standard_normal(bm), np.ones(4) / 4, "same") * 0.03
            out[b0 : b0 + bm] += breath * _envelope(bm, rate, 0.05, 0.05)
        t_pos += length + gap
        i += 1
    return np.stack([out, out]).astype(np.float32)


def _drums(n: int, rate: int, beat: float, rng: np.random.Generator) -> Audio:
    out = np.zeros((2, n))
    step = beat / 2
    for j in range(int(n / rate / step) + 1):
        s = int(j * step * rate)
        if s >= n:
            break
        if j % 4 == 0:  # kick on 1 and 3
            m = min(int(0.35 * rate), n - s)
            t = np.arange(m) / rate
            f = 50 + 110 * np.exp(-t / 0.03)
            hit = np.sin(2 * np.pi * np.cumsum(f) / rate) * np.exp(-t / 0.12)
            out[:, s : s + m] += 0.9 * hit
        if j % 4 == 2:  # snare on 2 and 4
            m = min(int(0.25 * rate), n - s)
            t = np.arange(m) / rate
            noise = np.diff(rng.standard_normal(m + 1)) * 0.5
            hit = (0.5 * noise + 0.4 * np.sin(2 * np.pi * 185 * t)) * np.exp(-t / 0.07)
            out[0, s : s + m] += 0.7 * hit
            out[1, s : s + m] += 0.6 * hit
        m = min(int(0.06 * rate), n - s)  # hat on every eighth
        t = np.arange(m) / rate
        hat = np.diff(np.diff(rng.standard_normal(m + 2))) * np.exp(-t / 0.015) * 0.12
        out[0, s : s + m] += 0.8 * hat
        out[1, s : s + m] += hat
    return out.astype(np.float32)


def _bass(n: int, rate: int, beat: float, rng: np.random.Generator) -> Audio:
    out = np.zeros(n)
    bar = 4 * beat
    for j in range(int(n / rate / (beat / 2)) + 1):
        s = int(j * beat / 2 * rate)
        if s >= n:
            break
        root = _ROOTS[int(j * beat / 2 / bar) % 4] + (12 if j % 4 == 3 else 0)
        m = min(int(beat / 2 * rate * 0.9), n - s)
        t = np.arange(m) / rate
        f = _midi_hz(root)
        note = sum(np.sin(2 * np.pi * k * f * t) / k * np.exp(-t * k / 1.5) for k in range(1, 9))
        out[s : s + m] += 0.6 * note * _envelope(m, rate, 0.005, 0.03)
    del rng
    return np.stack([out, out]).astype(np.float32)


def _other(n: int, rate: int, beat: float, rng: np.random.Generator) -> Audio:
    out = np.zeros((2, n))
    bar = 4 * beat
    t_all = np.arange(n) / rate
    for j in range(int(n / rate / bar) + 1):
        s = int(j * bar * rate)
        if s >= n:
            break
        m = min(int(bar * rate), n - s)
        t = t_all[:m]
        for note in _CHORDS[j % 4]:
            f = _midi_hz(note - 12)
            for side, detune in ((0, 0.998), (1, 1.002)):
                tone = sum(np.sin(2 * np.pi * k * f * detune * t) / k**1.3 for k in range(1, 6))
                out[side, s : s + m] += 0.12 * tone * _envelope(m, rate, 0.3, 0.3)
        # A plucked arpeggio on sixteenths, panned right.
        for q in range(16):
            qs = s + int(q * beat / 4 * rate)
            if qs >= n:
                break
            qm = min(int(beat / 4 * rate), n - qs)
            tq = t_all[:qm]
            f = _midi_hz(_CHORDS[j % 4][q % 3] + 12)
            pluck = sum(np.sin(2 * np.pi * k * f * tq) / k**2 for k in range(1, 4))
            pluck *= np.exp(-tq / 0.08)
            out[0, qs : qs + qm] += 0.05 * pluck
            out[1, qs : qs + qm] += 0.1 * pluck
    del rng
    return out.astype(np.float32)


def synth_song(
    seconds: float = 10.0, *, sample_rate: int = 44100, bpm: float = 100.0, seed: int = 0
) -> SynthSong:
    """Render the four sources and their mixture (peak 0.9), reproducibly for a ``seed``."""
    n = int(seconds * sample_rate)
    beat = 60.0 / bpm
    rng = np.random.default_rng(seed)
    stems = {
        "vocals": 0.5 * _voice(n, sample_rate, beat, rng),
        "drums": _drums(n, sample_rate, beat, rng),
        "bass": 0.5 * _bass(n, sample_rate, beat, rng),
        "other": _other(n, sample_rate, beat, rng),
    }
    mixture = np.sum(list(stems.values()), axis=0)
    scale = 0.9 / max(float(np.abs(mixture).max()), 1e-9)
    return SynthSong(
        mixture=(mixture * scale).astype(np.float32),
        stems={name: (audio * scale).astype(np.float32) for name, audio in stems.items()},
        sample_rate=sample_rate,
    )
