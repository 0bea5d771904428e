"""The model catalog: names, stems, availability, and what ``auto`` resolves to."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundforge.audio.separation import (
    DEMUCS_MODELS,
    EMBEDDED_MODEL,
    InvalidSeparationOptions,
    list_models,
    stem_names,
)
from tests.audio.separation.conftest import FOUR, SIX


def test_every_published_demucs_model_is_listed(model_repo: Path) -> None:
    models = {m.name: m for m in list_models(model_repo)}
    for name in (
        "htdemucs",
        "htdemucs_ft",
        "htdemucs_6s",
        "hdemucs_mmi",
        "mdx",
        "mdx_extra",
        "mdx_q",
        "mdx_extra_q",
    ):
        assert models[name].engine == "demucs" and not models[name].available
    assert models["htdemucs_ft"].bag_size == 4
    assert models["mdx_q"].needs == "diffq"  # not installed here
    assert models[EMBEDDED_MODEL].available and models[EMBEDDED_MODEL].engine == "default"
    # Without htdemucs weights, what runs by default is the embedded engine.
    assert models[EMBEDDED_MODEL].default and not models["htdemucs"].default
    # Extra models in the folder, but not the members of a bag.
    assert models["tinytest"].available and models["tinytest"].stems == tuple(FOUR)
    assert models["tiny6"].stems == tuple(SIX)
    assert models["tinybag"].bag_size == 2
    assert "tinya" not in models and "tinyb" not in models


def test_model_names_fit_a_path_component() -> None:
    import re

    for name in [EMBEDDED_MODEL, *DEMUCS_MODELS]:
        assert re.fullmatch(r"[a-z0-9_.+-]+", name), name


@pytest.mark.parametrize(
    ("engine", "model", "stems"),
    [
        ("default", None, ("vocals", "drums", "bass", "other")),
        ("default", EMBEDDED_MODEL, ("vocals", "drums", "bass", "other")),
        ("demucs", None, tuple(FOUR)),
        ("demucs", "htdemucs_ft", tuple(FOUR)),
        ("demucs", "htdemucs_6s", tuple(SIX)),
        ("demucs", "tiny6", tuple(SIX)),
        ("auto", None, ("vocals", "drums", "bass", "other")),  # no htdemucs weights here
        ("auto", "tinytest", tuple(FOUR)),
    ],
)
def test_stem_names(
    model_repo: Path, engine: str, model: str | None, stems: tuple[str, ...]
) -> None:
    assert stem_names(engine, model, model_repo) == stems


def test_unknown_engines_and_models_are_refused(model_repo: Path) -> None:
    with pytest.raises(InvalidSeparationOptions, match="unknown demucs model"):
        stem_names("demucs", "nope", model_repo)
    with pytest.raises(InvalidSeparationOptions, match="one model"):
        stem_names("default", "htdemucs")
    with pytest.raises(InvalidSeparationOptions, match="unknown separation engine"):
        stem_names("spleeter")
