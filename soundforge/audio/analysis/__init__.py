"""Track analysis: tempo, beats, key, chords, loudness, structure, loops and more.

The analyzer port calls :func:`analyze` on a file and sends :func:`encode` of the result;
the database and the UI :func:`decode` it. One msgspec schema (:class:`Analysis`, version
:data:`ANALYSIS_VERSION`) is the contract for all of them; ``docs/analysis.md`` documents
every field, the methods and their limits.

    warm_up()                                         # once, at port start (numba JIT)
    analysis = analyze("song.flac", AnalysisOptions(), progress, drums_path="drums.wav")
    analysis.tempo, analysis.key, analysis.camelot    # 128.0, "A minor", "8A"
    payload = encode(analysis)                        # JSON bytes

Set ``NUMBA_CACHE_DIR`` to a writable directory before this package is imported (librosa
imports numba), or every process pays about 10 s of JIT compilation.
"""

from soundforge.audio.analysis._pipeline import analyze, analyze_audio, warm_up
from soundforge.audio.analysis.keys import camelot, camelot_of, key_name, parse_key
from soundforge.audio.analysis.options import AnalysisOptions
from soundforge.audio.analysis.schema import (
    ANALYSIS_VERSION,
    Analysis,
    AnalysisFormatError,
    decode,
    encode,
)

__all__ = [
    "ANALYSIS_VERSION",
    "Analysis",
    "AnalysisFormatError",
    "AnalysisOptions",
    "analyze",
    "analyze_audio",
    "camelot",
    "camelot_of",
    "decode",
    "encode",
    "key_name",
    "parse_key",
    "warm_up",
]
