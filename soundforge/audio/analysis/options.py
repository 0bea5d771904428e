"""What an analysis computes and at what cost: :class:`AnalysisOptions`.

The defaults are the cheap, complete analysis (about 2 CPU-seconds for a 3-minute track on
a warm process). The two costly steps are opt-in: ``hpss`` (harmonic/percussive separation
before chroma, +4-7 s per 3 minutes) and ``pitch`` (pYIN predominant f0, +15-25 s per 3
minutes even at the reduced resolution used here). The options travel in the port's request as a
msgspec map, so every field has a default and unknown fields are rejected.

    analyze("song.wav", AnalysisOptions(pitch=True, waveform_bins=(800, 4000)))
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

__all__ = ["DEFAULT_OPTIONS", "AnalysisOptions", "KeyProfile"]

KeyProfile = Literal["auto", "temperley", "krumhansl", "edma"]


class AnalysisOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Knobs of :func:`soundforge.audio.analysis.analyze`.

    * ``hpss``: median-filter harmonic/percussive separation of the tonal spectrogram before
      chroma (key, chords); costly, helps on drum-heavy material.
    * ``pitch``: pYIN f0 track of the mix (for monophonic-ish material); costly.
    * ``min_bpm``/``max_bpm``: the range the tempo is searched in (its octave is chosen by
      a prior centred on ``prior_bpm``).
    * ``key_profile``: which key profiles score the chroma; ``auto`` averages Temperley,
      Krumhansl and the EDM profile of Faraldo et al.
    * ``waveform_bins``: bin counts of the waveform zoom levels, coarse to fine.
    * ``energy_hop_ms``: hop of the energy curve.
    * ``max_loops``: how many loop points to keep (best first).
    * ``n_mfcc``: number of MFCC coefficients summarised.
    """

    hpss: bool = False
    pitch: bool = False
    min_bpm: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    max_bpm: Annotated[float, msgspec.Meta(lt=1000)] = 200.0
    prior_bpm: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    key_profile: KeyProfile = "auto"
    waveform_bins: Annotated[
        tuple[Annotated[int, msgspec.Meta(ge=1)], ...], msgspec.Meta(max_length=8)
    ] = (500, 2000, 8000)
    energy_hop_ms: Annotated[int, msgspec.Meta(ge=10)] = 500
    max_loops: Annotated[int, msgspec.Meta(ge=0)] = 8
    n_mfcc: Annotated[int, msgspec.Meta(ge=1, le=40)] = 13


#: The defaults, as one immutable value (the default argument of the entry points).
DEFAULT_OPTIONS: Final = AnalysisOptions()
