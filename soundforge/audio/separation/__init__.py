"""Stem separation: the library inside SoundForge's separator port.

Two engines write stems for a file:

* ``demucs``: the models demucs 4.1 publishes (``htdemucs`` by default, ``htdemucs_ft``,
  ``htdemucs_6s`` with guitar and piano, ``hdemucs_mmi``, ``mdx``...), weights from the
  models folder, demucs' caches or a download;
* ``default``: embedded, needs no download (model ``spleeter-dsp``): Spleeter's real
  2-stem networks for vocals, signal processing for drums / bass / other.

``auto`` picks demucs when its weights are at hand and the embedded engine otherwise. A
:class:`Separator` keeps models loaded between jobs and streams files in windows, so memory
does not grow with their length. See ``docs/separation.md``.

    separator = Separator(models_dir="/data/models")
    result = separator.separate("song.wav", "out/", SeparationOptions(format="flac"))
    export_zip(result.stems, "song-stems.zip", artist="Artist", title="Title")
"""

from soundforge.audio.separation.catalog import DEMUCS_MODELS, ModelInfo, list_models, stem_names
from soundforge.audio.separation.export import export_zip, safe_filename, stem_filename
from soundforge.audio.separation.metrics import sdr
from soundforge.audio.separation.options import (
    DEFAULT_DEMUCS_MODEL,
    EMBEDDED_MODEL,
    ENGINES,
    InvalidSeparationOptions,
    SeparationOptions,
    SeparationResult,
    SeparationTiming,
    StemFile,
    check_options,
)
from soundforge.audio.separation.separator import LoadedModel, Separator, resolve_device
from soundforge.audio.separation.weights import FoundWeights, WeightsDownloadFailed, find_weights

__all__ = [
    "DEFAULT_DEMUCS_MODEL",
    "DEMUCS_MODELS",
    "EMBEDDED_MODEL",
    "ENGINES",
    "FoundWeights",
    "InvalidSeparationOptions",
    "LoadedModel",
    "ModelInfo",
    "SeparationOptions",
    "SeparationResult",
    "SeparationTiming",
    "Separator",
    "StemFile",
    "WeightsDownloadFailed",
    "check_options",
    "export_zip",
    "find_weights",
    "list_models",
    "resolve_device",
    "safe_filename",
    "sdr",
    "stem_filename",
    "stem_names",
]
