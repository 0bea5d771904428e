"""``soundforge bench separation``: stem separation cost and quality, next to demucs itself.

Prints one JSON object. Everything runs in this process on the CPU with ``--threads``
torch threads (default 2), on a synthetic song (:mod:`soundforge.audio.separation.synth`).

Figures, leg (a), full-size htdemucs with random weights (the released ``955717e8`` config,
``HTDemucs(bottom_channels=512, dconv_mode=3, t_layers=5, segment=39/5)``, 42 M parameters;
random weights cost the same compute as trained ones), saved to a throwaway models folder and
loaded through the normal weight lookup, ``shifts=0``, ``overlap=0.25``, WAV 16-bit:

* ``htdemucs_audio_s``: seconds of audio separated (30; ``--quick`` 10).
* ``htdemucs_direct_s``: ``demucs.apply.apply_model`` called directly on the whole,
  already-normalised array (no file I/O), warm: the reference.
* ``htdemucs_api_s``: the same audio through ``Separator.separate`` on the warm second job
  (reading, normalising, streaming the segments, writing four stems).
* ``htdemucs_overhead``: ``api_s / direct_s − 1`` (the target is ≤ 0.05); with
  ``--repeats N`` each side is the best of N. ``htdemucs_max_abs_diff``: the largest
  difference between the API's stems and ``apply_model``'s (16-bit rounding: ~3e-5).
* ``htdemucs_load_first_s``/``htdemucs_load_second_s``: model load of the first and the
  second job on one Separator (the second is 0: the model stayed warm).
* ``htdemucs_first_job_s``: the first job's separation (torch's first-call costs included).
* ``htdemucs_rtf``: ``api_s / audio_s``.
* ``port_htdemucs_*``: the same leg through the real separator port program
  (:mod:`soundforge.bench.separation_port`); ``port_htdemucs_port_s`` is the round trip the
  server sees (request out → reply in), ``port_htdemucs_overhead`` against
  ``port_htdemucs_direct_s`` measured in between, in the same run. ``--no-port`` skips it.

Leg (b), the embedded engine (``spleeter-dsp``):

* ``embedded_load_s``, ``embedded_first_job_s``, ``embedded_rtf`` (warm job on 30 s; the
  target is ≤ 0.5), ``embedded_rtf_first``.
* ``embedded_sdr``: per stem (and ``accompaniment`` = drums + bass + other) the MDX SDR of
  the engine, of the mixture used as the estimate, and the gain, in dB, averaged over the
  corpus (3 songs × 20 s; ``--quick`` 1 × 10 s). Synthetic songs: a yardstick, not MUSDB.

Leg (c), only with ``--long-minutes M`` (``0`` skips it; the full run uses 10): a child
process separates 1 minute and M minutes (a 30 s song tiled) with the embedded engine and
with a tiny demucs model; ``*_peak_rss_mb`` is its peak RSS during the job (Linux VmHWM,
reset after the model load) and ``*_rss_growth_mb`` that peak minus the RSS before the job.
The same growth for 1 and M minutes means memory does not grow with the file.

:func:`bench_htdemucs` takes the separate function, so the same leg can run through the
separator port: ``bench_htdemucs(port_separate, workdir=...)``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from soundforge.audio.separation import (
    EMBEDDED_MODEL,
    SeparationOptions,
    SeparationResult,
    Separator,
    sdr,
)
from soundforge.audio.separation.synth import SOURCES, synth_song

__all__ = ["SeparateFn", "bench_embedded", "bench_htdemucs", "main", "run", "save_htdemucs"]

SeparateFn = Callable[[Path, Path, SeparationOptions], SeparationResult]

_MODEL = "htdemucs_random"
_SR = 44100


def _write_song(path: Path, seconds: float, seed: int = 0) -> Path:
    import soundfile as sf  # type: ignore[import-untyped]

    song = synth_song(seconds, seed=seed)
    sf.write(str(path), song.mixture.T, song.sample_rate, subtype="FLOAT")
    return path


def save_htdemucs(models_dir: Path, *, tiny: bool = False, name: str = _MODEL) -> Path:
    """Save a random-weight HTDemucs as ``models_dir/name.th`` (demucs' package format):
    the released htdemucs config, or a tiny one (``tiny``) for smoke tests."""
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state

    torch.manual_seed(0)
    sources = ["drums", "bass", "other", "vocals"]
    if tiny:
        model = HTDemucs(sources, channels=8, depth=4, t_layers=1, segment=4)
    else:
        model = HTDemucs(
            sources, bottom_channels=512, dconv_mode=3, t_layers=5, segment=Fraction(39, 5)
        )
    args, kwargs = model._init_args_kwargs
    state = get_state(model, None)  # type: ignore[no-untyped-call]  # demucs has no hints
    package = {"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": state}
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / f"{name}.th"
    torch.save(package, path)
    return path


def _read(path: str | Path) -> np.ndarray:
    import soundfile as sf

    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


def _direct(model_file: Path, wav: Path) -> tuple[float, float, np.ndarray]:
    """``apply_model`` on the whole normalised array: wall and CPU seconds, and the stems."""
    import torch
    from demucs.apply import apply_model
    from demucs.states import load_model

    model = load_model(model_file).eval()  # type: ignore[no-untyped-call]
    mix = torch.from_numpy(_read(wav))
    ref = mix.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    normalised = ((mix - mean) / std)[None]
    wall, cpu = time.perf_counter(), time.process_time()
    out = apply_model(model, normalised, shifts=0, split=True, overlap=0.25)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, (out[0] * std + mean).numpy()


def _timed(
    separate: SeparateFn, wav: Path, out: Path, options: SeparationOptions
) -> tuple[SeparationResult, float]:
    cpu = time.process_time()
    result = separate(wav, out, options)
    return result, time.process_time() - cpu


def bench_htdemucs(
    separate: SeparateFn,
    *,
    workdir: Path,
    seconds: float = 30.0,
    repeats: int = 1,
    tiny: bool = False,
) -> dict[str, Any]:
    """Leg (a): ``separate`` (in process or through a port) against ``apply_model``.

    ``separate`` must load models from ``options.models_dir``; CPU figures are this
    process's, so they mean something only when ``separate`` runs here.
    """
    models = workdir / "models"
    model_file = save_htdemucs(models, tiny=tiny)
    wav = _write_song(workdir / "htdemucs-input.wav", seconds, seed=11)
    options = SeparationOptions(
        engine="demucs", model=_MODEL, shifts=0, overlap=0.25, models_dir=str(models)
    )
    first, _ = _timed(separate, wav, workdir / "job1", options)
    directs, apis, direct_cpu, api_cpu = [], [], [], []
    second = first
    expected = None
    for i in range(max(repeats, 1)):
        wall, cpu, expected = _direct(model_file, wav)
        directs.append(wall)
        direct_cpu.append(cpu)
        second, cpu = _timed(separate, wav, workdir / f"job{i + 2}", options)
        apis.append(second.timing.separate_s)
        api_cpu.append(cpu)
    assert expected is not None
    diff = max(
        float(np.abs(_read(stem.path) - expected[i]).max()) for i, stem in enumerate(second.stems)
    )
    return {
        "htdemucs_audio_s": seconds,
        "htdemucs_config": "tiny" if tiny else "released-955717e8",
        "htdemucs_direct_s": round(min(directs), 3),
        "htdemucs_api_s": round(min(apis), 3),
        "htdemucs_overhead": round(min(apis) / min(directs) - 1, 4),
        "htdemucs_direct_cpu_s": round(min(direct_cpu), 3),
        "htdemucs_api_cpu_s": round(min(api_cpu), 3),
        "htdemucs_overhead_cpu": round(min(api_cpu) / min(direct_cpu) - 1, 4),
        "htdemucs_max_abs_diff": round(diff, 6),
        "htdemucs_load_first_s": first.timing.load_s,
        "htdemucs_load_second_s": second.timing.load_s,
        "htdemucs_second_job_cached": second.model_cached,
        "htdemucs_first_job_s": first.timing.separate_s,
        "htdemucs_rtf": round(min(apis) / seconds, 4),
        "htdemucs_segments": second.chunks,
    }


def bench_embedded(
    separator: Separator,
    *,
    workdir: Path,
    seconds: float = 30.0,
    songs: int = 3,
    song_s: float = 20.0,
) -> dict[str, Any]:
    """Leg (b): the embedded engine's speed on ``seconds`` of audio and its SDR on a corpus."""
    options = SeparationOptions(engine="default", format="wav", bit_depth=32)
    wav = _write_song(workdir / "embedded-input.wav", seconds, seed=12)
    first = separator.separate(wav, workdir / "embedded1", options)
    warm = separator.separate(wav, workdir / "embedded2", options)
    scores: dict[str, list[tuple[float, float]]] = {
        name: [] for name in (*SOURCES, "accompaniment")
    }
    for seed in range(songs):
        song = synth_song(song_s, seed=100 + seed)
        path = workdir / f"corpus{seed}.wav"
        import soundfile as sf

        sf.write(str(path), song.mixture.T, song.sample_rate, subtype="FLOAT")
        result = separator.separate(path, workdir / f"corpus{seed}", options)
        est = {stem.name: _read(stem.path) for stem in result.stems}
        for name in SOURCES:
            truth = song.stems[name]
            scores[name].append((sdr(truth, est[name]), sdr(truth, song.mixture)))
        accompaniment = song.mixture - song.stems["vocals"]
        estimate = est["drums"] + est["bass"] + est["other"]
        scores["accompaniment"].append(
            (sdr(accompaniment, estimate), sdr(accompaniment, song.mixture))
        )
    table = {}
    for name, pairs in scores.items():
        ours = float(np.mean([p[0] for p in pairs]))
        mix = float(np.mean([p[1] for p in pairs]))
        table[name] = {
            "sdr": round(ours, 2),
            "mixture": round(mix, 2),
            "gain": round(ours - mix, 2),
        }
    return {
        "embedded_model": EMBEDDED_MODEL,
        "embedded_audio_s": seconds,
        "embedded_load_s": first.timing.load_s,
        "embedded_first_job_s": first.timing.separate_s,
        "embedded_rtf_first": first.timing.realtime_factor,
        "embedded_rtf": warm.timing.realtime_factor,
        "embedded_sdr": table,
        "embedded_sdr_corpus": f"{songs} synthetic songs x {song_s:g} s",
    }


# Peak RSS of the job alone: ru_maxrss would include the parent's size at fork, so the
# child resets the kernel's high-water mark after loading (clear_refs 5) and reads VmHWM.
_CHILD = """
import json, sys, torch
from soundforge.audio.separation import Separator, SeparationOptions

def status(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith(field + ":"))

torch.set_num_threads(int(sys.argv[4]))
sep = Separator(models_dir=sys.argv[3] or None)
options = SeparationOptions(engine=sys.argv[2], model=sys.argv[5] or None, shifts=0)
sep.load(options)
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
sep.separate(sys.argv[1], sys.argv[1] + ".stems", options)
print(json.dumps({"before_mb": before, "after_mb": status("VmHWM")}))
"""


def _tile(source: Path, target: Path, minutes: float) -> Path:
    import soundfile as sf

    block = _read(source).T
    frames = int(minutes * 60 * _SR)
    with sf.SoundFile(str(target), "w", _SR, block.shape[1], "PCM_16") as out:
        while frames > 0:
            out.write(block[:frames])
            frames -= block.shape[0]
    return target


def bench_long(workdir: Path, minutes: float, threads: int) -> dict[str, Any]:
    """Leg (c): peak RSS growth for 1 minute and ``minutes`` minutes, in child processes."""
    models = workdir / "tiny-models"
    save_htdemucs(models, tiny=True, name="tinybench")
    song = _write_song(workdir / "long-source.wav", 30.0, seed=13)
    figures: dict[str, Any] = {"long_minutes": minutes}
    for engine, model, folder in (("default", "", ""), ("demucs", "tinybench", str(models))):
        label = "embedded" if engine == "default" else "tiny_demucs"
        for length in (1.0, minutes):
            path = _tile(song, workdir / f"long-{label}-{length:g}.wav", length)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), engine, folder, str(threads), model],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
            rss = json.loads(done.stdout.strip().splitlines()[-1])
            key = f"{label}_{length:g}min"
            figures[f"{key}_rss_growth_mb"] = round(rss["after_mb"] - rss["before_mb"], 1)
            figures[f"{key}_peak_rss_mb"] = round(rss["after_mb"], 1)
            figures[f"{key}_wall_s"] = round(time.perf_counter() - started, 1)
            path.unlink()
    return figures


def run(
    *,
    quick: bool = False,
    threads: int = 2,
    repeats: int | None = None,
    long_minutes: float | None = None,
    tiny: bool = False,
    port: bool = True,
) -> dict[str, Any]:
    """Measure and return every figure."""
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(
            quick=quick,
            threads=threads,
            repeats=repeats,
            long_minutes=long_minutes,
            tiny=tiny,
            port=port,
        )
    finally:
        torch.set_num_threads(previous)


def _run(
    *,
    quick: bool,
    threads: int,
    repeats: int | None,
    long_minutes: float | None,
    tiny: bool,
    port: bool,
) -> dict[str, Any]:
    import torch

    started = time.perf_counter()
    seconds = 10.0 if quick else 30.0
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="soundforge-bench-sep-") as tmp:
        workdir = Path(tmp)
        separator = Separator()
        figures.update(
            bench_htdemucs(
                separator.separate,
                workdir=workdir / "htdemucs",
                seconds=seconds,
                repeats=repeats or (1 if quick else 2),
                tiny=tiny,
            )
        )
        separator.clear()
        if port:
            from soundforge.bench.separation_port import bench_htdemucs_through_port

            figures.update(
                bench_htdemucs_through_port(
                    bench_htdemucs,
                    workdir=workdir / "port",
                    seconds=seconds,
                    repeats=repeats or (1 if quick else 2),
                    tiny=tiny,
                )
            )
        (workdir / "embedded").mkdir()
        figures.update(
            bench_embedded(
                separator,
                workdir=workdir / "embedded",
                seconds=10.0 if tiny else 30.0,
                songs=1 if quick else 3,
                song_s=10.0 if quick else 20.0,
            )
        )
        minutes = long_minutes if long_minutes is not None else (0.0 if quick else 10.0)
        if minutes > 0:
            figures.update(bench_long(workdir, minutes, threads))
    figures.update(
        {
            "threads": threads,
            "quick": quick,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "bench_wall_s": round(time.perf_counter() - started, 1),
        }
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="soundforge bench separation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="10 s for htdemucs, 1 corpus song, no long-file leg"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument(
        "--repeats", type=int, help="best of N for the overhead figure (default 2; quick 1)"
    )
    parser.add_argument(
        "--long-minutes",
        type=float,
        help="length of the long-file leg (0 skips it; default 10, quick 0)",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="smoke test: a tiny htdemucs, 10 s for the embedded engine (figures not quotable)",
    )
    parser.add_argument(
        "--no-port", action="store_true", help="skip the leg through the separator port"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.getLogger("soundforge.audio.separation").setLevel(logging.WARNING)
    logging.getLogger("soundforge").setLevel(logging.WARNING)
    figures = run(
        quick=args.quick,
        threads=args.threads,
        repeats=args.repeats,
        long_minutes=args.long_minutes,
        tiny=args.tiny,
        port=not args.no_port,
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
