"""The analyzer port program: ``python -m soundforge.audio.analyzer``.

One operation, ``analyze``, with a map ``{"path": audio, "output": json path or None,
"drums_path": drums stem or None, "options": AnalysisOptions}``. It writes the analysis
document (``docs/analysis.md``) to ``output`` atomically and replies with the promoted
values the database keeps in columns (tempo, key, Camelot, loudness, duration) and the
document's path; without ``output`` the document itself comes back in the reply.

librosa, numba's compiled kernels and the analysis code are loaded at start by a tiny
analysis (warm-up); ``NUMBA_CACHE_DIR`` (set by the server to ``<data>/cache/numba``) keeps
the compiled code across programs, so only the first ever start compiles.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import msgspec

from soundforge.audio.port_program import serve
from soundforge.audio.progress import Progress

__all__ = ["main"]


class _AnalyzeArgs(msgspec.Struct, frozen=True):
    path: str
    output: str | None = None
    drums_path: str | None = None
    options: dict[str, Any] = msgspec.field(default_factory=dict)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise


def main() -> None:
    from soundforge.audio import analysis
    from soundforge.audio.analysis.options import AnalysisOptions

    def analyze(args: Any, progress: Progress) -> dict[str, Any]:
        request = msgspec.convert(args, _AnalyzeArgs)
        options = msgspec.convert(request.options, AnalysisOptions)
        result = analysis.analyze(request.path, options, progress, drums_path=request.drums_path)
        document = analysis.encode(result)
        reply: dict[str, Any] = {
            "version": result.version,
            "tempo": result.tempo,
            "key": result.key,
            "camelot": result.camelot,
            "loudness_lufs": result.loudness_lufs,
            "duration_ms": result.duration_ms,
        }
        if request.output is None:
            reply["path"] = None
            reply["document"] = document.decode()
        else:
            _write_atomically(Path(request.output), document)
            reply["path"] = request.output
        return reply

    serve("analyzer", {"analyze": analyze}, warm_up=analysis.warm_up)


if __name__ == "__main__":
    main()
