"""What a mixer session's values mean: defaults, triggers, the playhead, decks and the trainer.

:class:`Session` is the plain data a :class:`~soundforge.studio.mixer_state.MixerState`
holds; :func:`apply_values` is the one place a control request changes it. A request is
checked whole before anything changes (an unknown path or a wrong type changes nothing);
stored values apply first, in the request's order, then triggers, so a bundle such as
``{"loop.a_ms": 1000, "loop.b_ms": 5000, "loop.enabled": true}`` works in one go.

The server does not play audio; browser tabs do. It keeps each transport's position as
``position_ms`` at ``anchor_at`` (epoch ms) and the playing flag, which is enough to place
the playhead anywhere (``position_ms + (now - anchor_at) * rate``) and for cue, hot cues and
new tabs to land where the music is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

from soundforge.studio import _db
from soundforge.studio.controls import (
    DECKS,
    HOT_CUES,
    Control,
    ControlError,
    clamp,
    control_for,
)

__all__ = ["Session", "apply_values", "needs_database"]

_TRACK_DEFAULTS: Final[dict[str, Any]] = {
    "transport.playing": False,
    "transport.position_ms": 0.0,
    "master.volume": 1.0,
    "loop.enabled": False,
    "loop.a_ms": 0.0,
    "loop.b_ms": 0.0,
    "rate": 1.0,
    "pitch": 0.0,
    "practice.count_in": 0,
    "practice.trainer.enabled": False,
    "practice.trainer.step": 0.05,
    "practice.trainer.target": 1.0,
    "practice.trainer.every": 2,
    "practice.passes": 0,
}
_DECK_DEFAULTS: Final[dict[str, Any]] = {
    "track_id": None,
    "playing": False,
    "position_ms": 0.0,
    "cue_ms": 0.0,
    "rate": 1.0,
    "volume": 1.0,
    "eq.low": 0.5,
    "eq.mid": 0.5,
    "eq.high": 0.5,
}
_DJ_DEFAULTS: Final[dict[str, Any]] = {
    "crossfader": 0.5,
    "crossfader.curve": "equal_power",
    "master.volume": 1.0,
}


def _now_ms() -> float:
    return time.time() * 1000.0


@dataclass
class Session:
    user_id: str
    key: str
    info: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    #: monotonic time of the last counted loop pass (two tabs playing report each pass twice).
    last_pass: float = 0.0

    @property
    def is_dj(self) -> bool:
        return self.key == "dj"

    async def restore(self, conn: Any, saved: dict[str, Any]) -> None:
        """Defaults, then the saved values that still fit (stems and tracks may have changed)."""
        now = _now_ms()
        if self.is_dj:
            self.values = dict(_DJ_DEFAULTS)
            for deck in DECKS:
                self._reset_deck(deck, now)
                track_id = saved.get(f"deck.{deck}.track_id")
                if isinstance(track_id, str):
                    try:
                        await self._load_deck(conn, deck, track_id, now)
                    except ControlError:
                        continue  # the track was deleted since: the deck starts empty
        else:
            self.values = dict(_TRACK_DEFAULTS)
            self.values["transport.anchor_at"] = now
            for stem in self.info.get("stems", []):
                self.values.update(
                    {f"stem.{stem}.volume": 1.0, f"stem.{stem}.mute": False},
                )
                self.values[f"stem.{stem}.solo"] = False
        for path, value in saved.items():
            if path.endswith(".track_id") or ".hotcue." in path or path not in self.values:
                continue  # decks and hot cues come from the database
            if path.endswith("anchor_at") or path == "practice.passes":
                self.values[path] = value
                continue
            try:
                control = control_for(self.key, path, self.info)
                self.values[path] = clamp(control, value)
            except ControlError:
                continue  # a value saved by an older version of the controls

    def pause_all(self) -> None:
        now = _now_ms()
        for prefix in self._transports():
            if self.values.get(f"{prefix}.playing"):
                self._set_playing(prefix, False, now)

    def position(self, prefix: str, now: float) -> float:
        """Where ``prefix``'s playhead is now (ms), from its anchor."""
        position = float(self.values.get(f"{prefix}.position_ms", 0.0))
        if self.values.get(f"{prefix}.playing"):
            elapsed = max(0.0, now - float(self.values.get(f"{prefix}.anchor_at", now)))
            position += elapsed * self._rate(prefix)
        if prefix == "transport" and self.values.get("loop.enabled"):
            a, b = float(self.values["loop.a_ms"]), float(self.values["loop.b_ms"])
            if b > a and position >= b:
                position = a + (position - a) % (b - a)
        duration = self._duration(prefix)
        return min(position, duration) if duration else position

    # -- changes -------------------------------------------------------------------------

    def _transports(self) -> list[str]:
        return [f"deck.{d}" for d in DECKS] if self.is_dj else ["transport"]

    def _rate(self, prefix: str) -> float:
        return float(self.values.get("rate" if prefix == "transport" else f"{prefix}.rate", 1.0))

    def _duration(self, prefix: str) -> float | None:
        info = self.info if prefix == "transport" else self._deck_info(prefix)
        duration = (info or {}).get("duration_ms")
        return float(duration) if duration else None

    def _deck_info(self, prefix: str) -> dict[str, Any] | None:
        decks = self.info.get("decks") or {}
        found = decks.get(prefix.split(".")[1])
        return found if isinstance(found, dict) else None

    def _anchor(self, prefix: str, now: float) -> None:
        """Fixes a playing playhead at ``now`` (before its rate changes)."""
        if self.values.get(f"{prefix}.playing"):
            self.values[f"{prefix}.position_ms"] = self.position(prefix, now)
            self.values[f"{prefix}.anchor_at"] = now

    def _set_playing(self, prefix: str, playing: bool, now: float) -> None:
        if bool(self.values.get(f"{prefix}.playing")) == playing:
            return
        if playing and prefix != "transport" and self._deck_info(prefix) is None:
            deck = prefix.split(".")[1]
            raise ControlError(f"Load a track on deck {deck} before playing it.")
        self.values[f"{prefix}.position_ms"] = self.position(prefix, now)
        self.values[f"{prefix}.anchor_at"] = now
        self.values[f"{prefix}.playing"] = playing

    def _seek(self, prefix: str, position: float, now: float) -> None:
        self.values[f"{prefix}.position_ms"] = float(position)
        self.values[f"{prefix}.anchor_at"] = now

    def _reset_deck(self, deck: int, now: float) -> None:
        prefix = f"deck.{deck}"
        for path in [p for p in self.values if p.startswith(f"{prefix}.stem.")]:
            del self.values[path]
        self.values.update({f"{prefix}.{part}": v for part, v in _DECK_DEFAULTS.items()})
        self.values.update({f"{prefix}.hotcue.{k}": None for k in HOT_CUES})
        self.values[f"{prefix}.anchor_at"] = now
        self.info.setdefault("decks", {})[str(deck)] = None

    async def _load_deck(self, conn: Any, deck: int, track_id: str | None, now: float) -> None:
        if track_id is None:
            self._reset_deck(deck, now)
            return
        info = await _db.track_info(conn, self.user_id, track_id)
        cues = await _db.hot_cues(conn, self.user_id, track_id)
        self._reset_deck(deck, now)
        prefix = f"deck.{deck}"
        self.info["decks"][str(deck)] = info
        self.values[f"{prefix}.track_id"] = info["track_id"]
        for stem in info["stems"]:
            self.values[f"{prefix}.stem.{stem}.mute"] = False
        for number, position in cues.items():
            self.values[f"{prefix}.hotcue.{number}"] = position

    async def store(self, conn: Any, path: str, value: Any, now: float) -> None:
        """Sets one stored (non-trigger) control, with what it moves."""
        if path.endswith(".playing"):
            self._set_playing(path.rsplit(".", 1)[0], bool(value), now)
        elif path.endswith(".position_ms"):
            self._seek(path.rsplit(".", 1)[0], value, now)
        elif path.endswith(".track_id"):
            await self._load_deck(conn, int(path.split(".")[1]), value, now)
        elif ".hotcue." in path:
            deck, number = int(path.split(".")[1]), int(path.split(".")[3])
            await self._set_hot_cue(conn, deck, number, value)
        else:
            is_rate = path == "rate" or (path.startswith("deck.") and path.endswith(".rate"))
            if is_rate and value != self.values[path]:
                self._anchor("transport" if path == "rate" else path[:-5], now)
            if path == "practice.trainer.enabled" and value and not self.values[path]:
                self.values["practice.passes"] = 0
            self.values[path] = value

    def check_loop(self) -> None:
        v = self.values
        if not self.is_dj and v["loop.enabled"] and v["loop.b_ms"] <= v["loop.a_ms"]:
            raise ControlError("The loop's end (loop.b_ms) must come after its start (loop.a_ms).")

    async def trigger(self, conn: Any, path: str, now: float) -> None:
        parts = path.split(".")
        if parts[0] == "transport":
            self._transport_trigger(parts[1], now)
        elif parts[0] == "practice":  # practice.loop_pass
            self._loop_pass(now)
        else:
            await self._deck_trigger(conn, int(parts[1]), parts[2:], now)

    def _transport_trigger(self, action: str, now: float) -> None:
        playing = bool(self.values["transport.playing"])
        if action == "stop":
            self._set_playing("transport", False, now)
            start = self.values["loop.a_ms"] if self.values["loop.enabled"] else 0.0
            self._seek("transport", start, now)
        else:
            wanted = {"play": True, "pause": False, "toggle": not playing}[action]
            self._set_playing("transport", wanted, now)

    def _loop_pass(self, now: float) -> None:
        """A tab's loop wrapped: count it once, and step the tempo up when the trainer says."""
        v = self.values
        length_s = (float(v["loop.b_ms"]) - float(v["loop.a_ms"])) / 1000.0
        if not v["loop.enabled"] or length_s <= 0:
            return
        clock = time.monotonic()
        if clock - self.last_pass < 0.5 * length_s / float(v["rate"]):
            return  # the same pass, reported by a second tab
        self.last_pass = clock
        v["practice.passes"] = int(v["practice.passes"]) + 1
        if not v["practice.trainer.enabled"]:
            return
        target = float(v["practice.trainer.target"])
        if v["practice.passes"] % int(v["practice.trainer.every"]) == 0 and v["rate"] < target:
            self._anchor("transport", now)
            v["rate"] = min(target, float(v["rate"]) + float(v["practice.trainer.step"]))

    async def _deck_trigger(self, conn: Any, deck: int, action: list[str], now: float) -> None:
        prefix = f"deck.{deck}"
        playing = bool(self.values[f"{prefix}.playing"])
        if action == ["play"]:
            self._set_playing(prefix, not playing, now)
        elif action == ["cue"]:
            if playing:
                self._set_playing(prefix, False, now)
                self._seek(prefix, self.values[f"{prefix}.cue_ms"], now)
            else:
                self.values[f"{prefix}.cue_ms"] = self.position(prefix, now)
        elif action == ["sync"]:
            self._sync(deck, now)
        elif action[0] == "hotcue":
            number, what = int(action[1]), action[2]
            cue = self.values[f"{prefix}.hotcue.{number}"]
            if what == "clear":
                await self._set_hot_cue(conn, deck, number, None)
            elif cue is None:
                await self._set_hot_cue(conn, deck, number, self.position(prefix, now))
            else:
                self._seek(prefix, cue, now)

    def _sync(self, deck: int, now: float) -> None:
        other = 2 if deck == 1 else 1
        mine, theirs = self._deck_info(f"deck.{deck}"), self._deck_info(f"deck.{other}")
        if not mine or not mine.get("bpm"):
            raise ControlError(f"Deck {deck} has no analysed BPM to sync with.")
        if not theirs or not theirs.get("bpm"):
            raise ControlError(f"Deck {other} has no analysed BPM to sync to.")
        target = float(theirs["bpm"]) * float(self.values[f"deck.{other}.rate"])
        rate = target / float(mine["bpm"])
        # Half or double time when the tempo fader cannot reach the other deck's tempo.
        for candidate in (rate, rate * 2, rate / 2):
            if 0.5 <= candidate <= 1.5:
                rate = candidate
                break
        self._anchor(f"deck.{deck}", now)
        self.values[f"deck.{deck}.rate"] = min(1.5, max(0.5, rate))

    async def _set_hot_cue(self, conn: Any, deck: int, number: int, value: float | None) -> None:
        info = self._deck_info(f"deck.{deck}")
        if info is None:
            raise ControlError(f"Load a track on deck {deck} before setting its hot cues.")
        if value is None:
            await _db.clear_hot_cue(conn, info["track_id"], number)
        else:
            await _db.set_hot_cue(conn, info["track_id"], number, round(value))
        self.values[f"deck.{deck}.hotcue.{number}"] = None if value is None else round(value)


def needs_database(request: dict[str, Any]) -> bool:
    """Whether applying ``request`` reads or writes the database (deck loads, hot cues)."""
    return any(path.endswith(".track_id") or ".hotcue." in path for path in request)


async def apply_values(
    conn: Any, session: Session, request: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Applies a control request; returns the changed values and whether ``info`` changed.

    Raises :class:`ControlError` (and changes nothing) for an unknown path or a wrong value.
    """
    checked: list[tuple[Control, Any]] = []
    for path, raw in request.items():
        control = control_for(session.key, path, session.info)
        checked.append((control, clamp(control, raw)))
    before_values, before_info = dict(session.values), _copy_info(session.info)
    now = _now_ms()
    try:
        stored = [c for c in checked if c[0].kind != "trigger"]
        triggers = [c for c in checked if c[0].kind == "trigger"]
        for control, value in stored:
            await session.store(conn, control.path, value, now)
        session.check_loop()
        for control, _ in triggers:
            await session.trigger(conn, control.path, now)
    except ControlError:
        session.values, session.info = before_values, before_info
        raise
    changed = {p: v for p, v in session.values.items() if before_values.get(p, _MISSING) != v}
    for path in [p for p in changed if p.endswith(".anchor_at")]:
        # A moved anchor restates its position, even an equal one (cue: back to the same spot).
        position = path.replace(".anchor_at", ".position_ms")
        changed[position] = session.values[position]
    return changed, session.info != before_info


_MISSING: Final = object()


def _copy_info(info: dict[str, Any]) -> dict[str, Any]:
    copied = dict(info)
    if isinstance(info.get("decks"), dict):
        copied["decks"] = dict(info["decks"])
    return copied
