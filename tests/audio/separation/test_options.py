"""Options validation and the wire form of options and results."""

from __future__ import annotations

import msgspec
import pytest

from soundforge.audio.separation import (
    InvalidSeparationOptions,
    SeparationOptions,
    SeparationResult,
    SeparationTiming,
    StemFile,
    check_options,
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "ogg"}, "unknown stem format"),
        ({"format": "flac", "bit_depth": 32}, "flac stems cannot have 32 bits"),
        ({"bit_depth": 8}, "wav stems cannot have 8 bits"),
        ({"shifts": -1}, "shifts must be"),
        ({"overlap": 1.0}, "overlap must be"),
        ({"segment": 0.0}, "segment must be"),
        ({"chunk_seconds": 0.5}, "chunk_seconds must be"),
        ({"chunk_seconds": 10.0, "chunk_overlap": 6.0}, "chunk_overlap must be"),
        ({"model": "../etc/passwd"}, "is not a model name"),
        ({"engine": "spleeter"}, "unknown separation engine"),
        ({"device": "tpu"}, "unknown device"),
    ],
)
def test_invalid_options_are_refused_in_one_sentence(
    changes: dict[str, object], message: str
) -> None:
    options = msgspec.structs.replace(SeparationOptions(), **changes)
    with pytest.raises(InvalidSeparationOptions, match=message) as caught:
        check_options(options)
    assert caught.value.status == 400 and "\n" not in str(caught.value)


def test_defaults_are_valid() -> None:
    check_options(SeparationOptions())
    check_options(SeparationOptions(format="mp3", bit_depth=24, model="spleeter-dsp"))


def test_options_and_results_cross_the_port_as_json() -> None:
    options = SeparationOptions(engine="demucs", model="htdemucs_6s", format="flac", bit_depth=24)
    assert msgspec.json.decode(msgspec.json.encode(options), type=SeparationOptions) == options
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"engine": "auto", "typo": 1}', type=SeparationOptions)
    result = SeparationResult(
        engine="demucs",
        model="htdemucs",
        device="cpu",
        stems=[
            StemFile(
                name="vocals",
                path="/x/vocals.mp3",
                filename="vocals.mp3",
                format="mp3",
                sample_rate=44100,
                channels=2,
                bit_depth=None,
                duration_ms=1000,
                size_bytes=10,
            )
        ],
        output_dir="/x",
        timing=SeparationTiming(load_s=0, separate_s=1, total_s=1, audio_s=1, realtime_factor=1),
        model_cached=True,
        chunks=1,
    )
    assert msgspec.json.decode(msgspec.json.encode(result), type=SeparationResult) == result
