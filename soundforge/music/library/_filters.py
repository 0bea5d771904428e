"""The library list's filter: parsing and validating ``TrackFilter``, keys and Camelot
codes (``compatible_camelot``), and the WHERE clause and sort keys it becomes in SQL."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from soundforge.music.library._values import InvalidFilter, TrackFilter

#: The values of ``tracks.status``, in pipeline order (also the order of ``sort=status``).
STATUSES: Final = ("pending", "downloading", "separating", "analysing", "ready", "failed")
#: ``TrackFilter.sort`` values.
SORTS: Final = ("created", "title", "artist", "bpm", "key", "camelot", "duration", "status")
_MAX_LIMIT: Final = 200
_MAX_WORDS: Final = 16
_MAX_SEARCH: Final = 200
_CAMELOT: Final = re.compile(r"^(1[0-2]|[1-9])([AB])$")
_KEY: Final = re.compile(r"^([A-G])([#b♯♭]?)\s*(major|minor|maj|min|m)?$", re.IGNORECASE)
_LETTERS: Final = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


# -- filters ---------------------------------------------------------------------------------


def parse_filter(params: Mapping[str, Any]) -> TrackFilter:
    """A filter from query parameters (strings); empty values mean "not given"."""
    given = {k: v for k, v in params.items() if v not in ("", None)}
    try:
        return msgspec.convert(given, TrackFilter, strict=False)
    except msgspec.ValidationError as error:
        raise InvalidFilter(f"the filter is not valid: {error}") from None


def _key_code(key: str) -> str:
    """The Camelot code of a key in any spelling: "A minor", "Am", "a min", "Ebm", "F#".

    The same wheel as ``soundforge.audio.analysis.keys`` (the tests hold them equal), which
    is not imported: its package loads the whole analyzer (scipy, librosa)."""
    match = _KEY.match(key.strip())
    if match is None:
        raise InvalidFilter(f"{key!r} is not a key; write it like 'A minor', 'F# major' or 'Ebm'")
    letter, accidental, mode = match.groups()
    pitch = _LETTERS[letter.upper()] + {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
    # "Am" and "a min" are minor; "AM" is DJ shorthand for major.
    minor = mode is not None and mode != "M" and mode.lower() in ("minor", "min", "m")
    major = (pitch + 3) % 12 if minor else pitch % 12  # a minor key shares its relative's hour
    return f"{(major * 7 + 7) % 12 + 1}{'A' if minor else 'B'}"


def _camelot_code(code: str, field: str) -> str:
    match = _CAMELOT.match(code.strip().upper())
    if match is None:
        raise InvalidFilter(f"{field} {code!r} is not a Camelot code; use 1A to 12B, like 8A")
    return match.group(0)


def compatible_camelot(code: str) -> list[str]:
    """The codes a DJ mixes into from ``code``: itself, one hour either way, its relative."""
    match = _CAMELOT.match(_camelot_code(code, "compatible_with"))
    assert match is not None  # checked just above
    number, letter = int(match.group(1)), match.group(2)
    other = "B" if letter == "A" else "A"
    below, above = (number - 2) % 12 + 1, number % 12 + 1
    return [f"{number}{letter}", f"{below}{letter}", f"{above}{letter}", f"{number}{other}"]


def _tsquery(q: str) -> str | None:
    """Every word as a prefix (``daft:* & pu:*``). Each word is quoted, so the search
    parser splits it exactly as it split the document ("AC/DC", "T.N.T.")."""
    if len(q) > _MAX_SEARCH:
        raise InvalidFilter(f"the search is too long; use at most {_MAX_SEARCH} characters")
    words = [w for w in q.split() if any(c.isalnum() for c in w)]
    if len(words) > _MAX_WORDS:
        raise InvalidFilter(f"the search has {len(words)} words; use at most {_MAX_WORDS}")
    quoted = ("'" + w.replace("\\", "\\\\").replace("'", "''") + "':*" for w in words)
    return " & ".join(quoted) or None


def _bpm(value: float | None, field: str) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 < value < 1000):
        raise InvalidFilter(f"{field} must be a tempo above 0 and below 1000 BPM, not {value}")
    return value


class _Sql:
    """A WHERE clause under construction, numbering its parameters."""

    def __init__(self, *args: Any) -> None:
        self.args: list[Any] = list(args)
        self.conditions: list[str] = []
        self.uses_analysis = False

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def where(self, condition: str, *, analysis: bool = False) -> None:
        """Add a condition; ``analysis`` when it reads the current analysis (alias ``a``)."""
        self.conditions.append(condition)
        self.uses_analysis = self.uses_analysis or analysis

    @property
    def clause(self) -> str:
        return " AND ".join(self.conditions)


class _Sort(msgspec.Struct, frozen=True):
    key: str
    #: What orders ties before the fallback (newest first, then the id).
    then: str = "NULL"
    #: A key that can be NULL sorts it last in either direction. The others say nothing, so
    #: that an index (tracks_user_created_idx, tracks_user_title_idx) can give the order.
    nullable: bool = True


_SORTS: Final = {
    "created": _Sort("t.created_at", nullable=False),
    "title": _Sort("lower(t.title)", nullable=False),
    "artist": _Sort("lower(t.artists[1])", then="lower(t.title)"),
    "bpm": _Sort("a.tempo_bpm"),
    "key": _Sort("a.key"),
    # 1A, 1B, 2A ... 12B: the number first, minor before major.
    "camelot": _Sort("left(a.camelot, -1)::int * 2 + (right(a.camelot, 1) = 'B')::int"),
    "duration": _Sort("t.duration_ms"),
    "status": _Sort(
        "array_position(ARRAY['" + "', '".join(STATUSES) + "'], t.status)", nullable=False
    ),
}


def _filter_sql(user_id: str, f: TrackFilter) -> tuple[_Sql, str]:
    """The WHERE clause of ``f`` (validated) and its ORDER BY direction."""
    sql = _Sql(user_id)
    sql.where("t.user_id = $1::uuid")
    if f.sort not in SORTS:
        raise InvalidFilter(f"cannot sort by {f.sort!r}; use one of {', '.join(SORTS)}")
    order = f.order or ("desc" if f.sort == "created" else "asc")
    if order not in ("asc", "desc"):
        raise InvalidFilter(f"order must be asc or desc, not {f.order!r}")
    if not 1 <= f.limit <= _MAX_LIMIT:
        raise InvalidFilter(f"limit must be between 1 and {_MAX_LIMIT}, not {f.limit}")
    if not 0 <= f.offset < 2**31:
        raise InvalidFilter(f"offset must be 0 or more, not {f.offset}")
    if f.q is not None:
        query = _tsquery(f.q)
        if query is not None:
            sql.where(f"t.search @@ to_tsquery('simple', {sql.param(query)})")
    if f.status is not None:
        if f.status not in STATUSES:
            raise InvalidFilter(f"status {f.status!r} is unknown; use one of {', '.join(STATUSES)}")
        sql.where(f"t.status = {sql.param(f.status)}")
    low, high = _bpm(f.bpm_min, "bpm_min"), _bpm(f.bpm_max, "bpm_max")
    if low is not None and high is not None and low > high:
        raise InvalidFilter(f"bpm_min ({low:g}) is above bpm_max ({high:g})")
    if low is not None:
        sql.where(f"a.tempo_bpm >= {sql.param(low)}", analysis=True)
    if high is not None:
        sql.where(f"a.tempo_bpm <= {sql.param(high)}", analysis=True)
    # Keys are matched through their Camelot code, so every enharmonic spelling matches.
    if f.key is not None:
        sql.where(f"a.camelot = {sql.param(_key_code(f.key))}", analysis=True)
    if f.camelot is not None:
        sql.where(f"a.camelot = {sql.param(_camelot_code(f.camelot, 'camelot'))}", analysis=True)
    if f.compatible_with is not None:
        sql.where(
            f"a.camelot = ANY({sql.param(compatible_camelot(f.compatible_with))}::text[])",
            analysis=True,
        )
    return sql, order
