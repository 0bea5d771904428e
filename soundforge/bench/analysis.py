"""``soundforge bench analysis``: track-analysis speed and accuracy on synthesized audio.

Prints one JSON object. All audio is synthesized by :mod:`soundforge.bench.analysis_corpus`
(known tempo, key and beats), so the accuracy figures are on *synthetic* music: they show
that the methods work and catch regressions, they are not a claim about real recordings.

Figures:

* ``warm_seconds`` / ``warm_cpu_seconds``: median wall and process-CPU seconds of
  ``analyze()`` on a 3-minute arranged track (44.1 kHz stereo 16-bit WAV, default options)
  in this already-warm process, over ``--runs`` runs (``warm_seconds_runs`` lists them).
* ``steps``: wall seconds of each pipeline step in the median run.
* ``warm_up_seconds``: ``warm_up()`` in this process (imports are already done by then).
* ``cold_start_seconds``: a fresh ``python -c`` process that imports the package and
  analyses the same file, wall time from spawn to exit, with the numba cache already on
  disk (``NUMBA_CACHE_DIR``, filled by a previous run).
* ``cold_start_empty_cache_seconds``: the same with an empty numba cache (every JIT
  compile paid); ``null`` with ``--quick``.
* ``tempo_accuracy_acc1`` / ``tempo_accuracy_acc2``: fraction of corpus tracks whose tempo
  is within 4 % of the truth (Acc2 also accepts x2, x3, 1/2, 1/3), ``key_mirex_weighted``:
  MIREX score (1.0 correct, 0.5 fifth above, 0.3 relative, 0.2 parallel), ``key_correct``:
  fraction exactly right, ``n_tracks`` and ``corpus_track_seconds``.
* ``librosa_beat_track_acc1`` / ``_acc2``: plain ``librosa.beat.beat_track`` on the same
  onset envelopes, the in-run baseline the tempo refinement is measured against.

Options: ``--quick`` (24 tracks of 12 s, 2 timed runs, no empty-cache cold start; under a
minute), ``--tracks N``, ``--seconds S``, ``--runs N``, ``--no-cold`` (skip both cold
starts). The numba cache goes to ``$NUMBA_CACHE_DIR`` or ``~/.cache/soundforge/numba``;
set before anything imports librosa, as the analyzer port does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "run"]

log = logging.getLogger(__name__)

_TOLERANCE = 0.04


def numba_cache_dir() -> Path:
    """Where the bench (and, by the same rule, the analyzer port) keeps numba's cache."""
    found = os.environ.get("NUMBA_CACHE_DIR")
    if found:
        return Path(found)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "soundforge" / "numba"


def _mirex(truth: tuple[int, str], found: tuple[int, str] | None) -> float:
    if found is None:
        return 0.0
    (tonic, mode), (est, est_mode) = truth, found
    if (tonic, mode) == (est, est_mode):
        return 1.0
    if mode == est_mode and (est - tonic) % 12 == 7:
        return 0.5
    if mode == "major" and est_mode == "minor" and (est - tonic) % 12 == 9:
        return 0.3
    if mode == "minor" and est_mode == "major" and (est - tonic) % 12 == 3:
        return 0.3
    if tonic == est and mode != est_mode:
        return 0.2
    return 0.0


def _tempo_hits(truth: float, found: float | None) -> tuple[bool, bool]:
    if not found:
        return False, False
    acc1 = abs(found - truth) / truth <= _TOLERANCE
    acc2 = any(abs(found - truth * k) / (truth * k) <= _TOLERANCE for k in (1, 2, 3, 1 / 2, 1 / 3))
    return acc1, acc2


def _accuracy(tracks: int, seconds: float) -> dict[str, Any]:
    import librosa
    import numpy as np

    from soundforge.audio.analysis import analyze_audio, parse_key
    from soundforge.audio.analysis._signal import HOP, SR, front_end, mono_mix
    from soundforge.bench.analysis_corpus import corpus, render

    acc1 = acc2 = base1 = base2 = 0
    key_score = correct = 0.0
    for spec in corpus(tracks, seconds=seconds):
        track = render(spec)
        analysis = analyze_audio(track.mix, spec.sample_rate)
        hit1, hit2 = _tempo_hits(spec.bpm, analysis.tempo)
        acc1, acc2 = acc1 + hit1, acc2 + hit2
        found = parse_key(analysis.key) if analysis.key else None
        score = _mirex((spec.tonic, spec.mode), found)
        key_score += score
        correct += score == 1.0
        onset = front_end(mono_mix(track.mix, spec.sample_rate)).onset
        plain, _ = librosa.beat.beat_track(onset_envelope=onset, sr=SR, hop_length=HOP)
        b1, b2 = _tempo_hits(spec.bpm, float(np.atleast_1d(plain)[0]))
        base1, base2 = base1 + b1, base2 + b2
        if not hit2 or score < 1.0:
            log.info("miss: %s -> tempo %s key %s", spec, analysis.tempo, analysis.key)
    return {
        "tempo_accuracy_acc1": round(acc1 / tracks, 4),
        "tempo_accuracy_acc2": round(acc2 / tracks, 4),
        "key_mirex_weighted": round(key_score / tracks, 4),
        "key_correct": round(correct / tracks, 4),
        "librosa_beat_track_acc1": round(base1 / tracks, 4),
        "librosa_beat_track_acc2": round(base2 / tracks, 4),
        "n_tracks": tracks,
        "corpus_track_seconds": seconds,
    }


def _cold_start(path: Path, cache: Path) -> float:
    code = "from soundforge.audio.analysis import analyze; import sys; analyze(sys.argv[1])"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return round(time.perf_counter() - started, 3)


def run(
    *,
    quick: bool = False,
    tracks: int | None = None,
    seconds: float | None = None,
    runs: int | None = None,
    cold: bool = True,
) -> dict[str, Any]:
    """Measure everything; see the module docstring for the figures."""
    import soundfile as sf  # type: ignore[import-untyped]

    from soundforge.audio.analysis import warm_up
    from soundforge.audio.analysis._pipeline import analyze_timed
    from soundforge.bench.analysis_corpus import TrackSpec, render

    tracks = tracks or (24 if quick else 48)
    seconds = seconds or (12.0 if quick else 30.0)
    runs = runs or (2 if quick else 5)
    figures: dict[str, Any] = {"quick": quick}
    started = time.perf_counter()
    figures["warm_up_seconds"] = round(warm_up(), 3)
    with tempfile.TemporaryDirectory(prefix="soundforge-bench-") as folder:
        path = Path(folder) / "track.wav"
        song = render(
            TrackSpec(bpm=126.0, tonic=9, mode="minor", seconds=180.0, arrangement=True, seed=42)
        )
        sf.write(str(path), song.mix.T, song.spec.sample_rate, subtype="PCM_16")
        timed: list[tuple[float, float, dict[str, float]]] = []
        for _ in range(runs):
            wall, cpu = time.perf_counter(), time.process_time()
            _, steps = analyze_timed(path)
            timed.append((time.perf_counter() - wall, time.process_time() - cpu, steps))
        timed.sort(key=lambda item: item[0])
        median = timed[len(timed) // 2]
        figures["warm_seconds"] = round(median[0], 3)
        figures["warm_cpu_seconds"] = round(statistics.median(t[1] for t in timed), 3)
        figures["warm_seconds_runs"] = [round(t[0], 3) for t in timed]
        figures["track_seconds"] = 180.0
        figures["steps"] = median[2]
        figures["cold_start_seconds"] = None
        figures["cold_start_empty_cache_seconds"] = None
        if cold:
            cache = numba_cache_dir()
            cache.mkdir(parents=True, exist_ok=True)
            _cold_start(path, cache)  # fills the cache if this is its first use
            figures["cold_start_seconds"] = _cold_start(path, cache)
            if not quick:
                with tempfile.TemporaryDirectory(prefix="soundforge-numba-") as empty:
                    figures["cold_start_empty_cache_seconds"] = _cold_start(path, Path(empty))
    figures.update(_accuracy(tracks, seconds))
    figures["bench_seconds"] = round(time.perf_counter() - started, 1)
    figures["python"] = platform.python_version()
    figures["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs"
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="soundforge bench analysis",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small corpus, fewer runs (<1 min)")
    parser.add_argument("--tracks", type=int, help="corpus size (default 48, quick 24)")
    parser.add_argument("--seconds", type=float, help="corpus track length (default 30 s)")
    parser.add_argument("--runs", type=int, help="timed runs of the 3-minute track")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start runs")
    args = parser.parse_args(argv)
    # numba reads its cache directory when it is first imported (by librosa, inside the
    # analysis package), so this must happen before the first analysis import.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
    figures = run(
        quick=args.quick,
        tracks=args.tracks,
        seconds=args.seconds,
        runs=args.runs,
        cold=not args.no_cold,
    )
    print(json.dumps(figures))
    return 0
