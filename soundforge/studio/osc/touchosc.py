"""A TouchOSC (Mk2, ``.tosc``) layout for SoundForge's OSC address space.

A ``.tosc`` file is the zlib-compressed XML document the TouchOSC editor saves
(``<lexml version='6'>``, one root ``GROUP`` node; every control a ``<node>`` with its
``<properties>`` sorted by key, ``<values>``, ``<messages>`` and, for containers,
``<children>``; keys and strings in CDATA; ``<osc>`` bindings with send/receive flags, ten
connection slots, a trigger, the address as a constant partial and the value as an
argument partial). This writes one with two pages:

* **Mixer**: a strip per stem (volume fader, mute and solo toggles), the master fader, the
  transport (play/pause toggle, stop), rate and pitch faders (scaled to their ranges, so the
  fader sends the value itself), the A–B loop toggle, and labels that show the focused
  track's title and BPM;
* **DJ**: per deck play (toggle), cue and sync buttons, tempo and volume faders, the
  crossfader and the console's master (``/sf/dj/master/volume``).

Every control both sends and receives its address, so registered surfaces follow changes
made elsewhere (``/sf/register`` once from TouchOSC's OSC connection, or set its receive
port to the one ``/sf/register`` names).

    data = layout(["vocals", "drums", "bass", "other"], title="Night Drive")
    Path("soundforge.tosc").write_bytes(data)
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from typing import Final

from soundforge.studio.osc._address import address_for

__all__ = ["DEFAULT_STEMS", "layout", "layout_xml"]

DEFAULT_STEMS: Final = ("vocals", "drums", "bass", "other")
WIDTH: Final = 1024
HEIGHT: Final = 768

_Colour = tuple[float, float, float, float]
_DARK: Final[_Colour] = (0.08, 0.08, 0.1, 1.0)
_FADER: Final[_Colour] = (0.2, 0.7, 1.0, 1.0)
_MUTE: Final[_Colour] = (1.0, 0.35, 0.3, 1.0)
_SOLO: Final[_Colour] = (1.0, 0.8, 0.2, 1.0)
_GO: Final[_Colour] = (0.3, 0.9, 0.4, 1.0)
_TEXT: Final[_Colour] = (1.0, 1.0, 1.0, 1.0)


def layout(
    stems: Sequence[str] = DEFAULT_STEMS, title: str = "SoundForge", seed: str | None = None
) -> bytes:
    """The ``.tosc`` file (zlib-compressed XML) for a track with these stems."""
    return zlib.compress(layout_xml(stems, title, seed).encode("utf-8"), 9)


def layout_xml(
    stems: Sequence[str] = DEFAULT_STEMS, title: str = "SoundForge", seed: str | None = None
) -> str:
    """The layout's XML. ``seed`` makes the node ids repeatable (same seed, same file)."""
    ids = _Ids(seed)
    mixer = _page(ids, "Mixer", _mixer_controls(ids, list(stems), title))
    dj = _page(ids, "DJ", _dj_controls(ids))
    pager = _node(
        ids,
        "PAGER",
        _frame(0, 0, WIDTH, HEIGHT)
        + _common("pages", _DARK, interactive=True)
        + _prop("b", "tabLabels", 1)
        + _prop("b", "tabbar", 1)
        + _prop("b", "tabbarDoubleTap", 0)
        + _prop("i", "tabbarSize", 40)
        + _prop("i", "textSizeOff", 14)
        + _prop("i", "textSizeOn", 14),
        _value("page", "0") + _value("touch", "false"),
        children=mixer + dj,
    )
    root = _node(
        ids,
        "GROUP",
        _frame(0, 0, WIDTH, HEIGHT) + _common("SoundForge", _DARK, interactive=False),
        _value("touch", "false"),
        children=pager,
        includes=True,
    )
    return "<?xml version='1.0' encoding='UTF-8'?><lexml version='6'>" + root + "</lexml>"


def _mixer_controls(ids: _Ids, stems: list[str], title: str) -> str:
    parts = [
        _label(ids, "title", title, 10, 50, 600, 40, receive="/sf/track/title", size=20),
        _label(ids, "bpm", "BPM", 620, 50, 120, 40, receive="/sf/bpm", size=20),
    ]
    strip_w = max(60, min(110, (WIDTH - 420) // max(1, len(stems))))
    for i, stem in enumerate(stems):
        x = 10 + i * strip_w
        parts += [
            _label(ids, f"{stem}_name", stem, x, 100, strip_w - 10, 30),
            _fader(ids, f"{stem}_volume", f"stem.{stem}.volume", x, 140, strip_w - 10, 460),
            _button(ids, f"{stem}_mute", f"stem.{stem}.mute", x, 610, strip_w - 10, 60, _MUTE),
            _button(ids, f"{stem}_solo", f"stem.{stem}.solo", x, 680, strip_w - 10, 60, _SOLO),
        ]
    x = WIDTH - 400
    parts += [
        _label(ids, "master_name", "master", x, 100, 90, 30),
        _fader(ids, "master_volume", "master.volume", x, 140, 90, 600),
        _label(ids, "rate_name", "rate", x + 100, 100, 90, 30),
        _fader(ids, "rate", "rate", x + 100, 140, 90, 600, scale=(0.25, 2.0)),
        _label(ids, "pitch_name", "pitch", x + 200, 100, 90, 30),
        _fader(ids, "pitch", "pitch", x + 200, 140, 90, 600, scale=(-12.0, 12.0)),
        _button(ids, "play", "transport.playing", x + 300, 140, 90, 120, _GO),
        _label(ids, "play_name", "play", x + 300, 140, 90, 120),
        _button(ids, "stop", "transport.stop", x + 300, 270, 90, 120, _MUTE, toggle=False),
        _label(ids, "stop_name", "stop", x + 300, 270, 90, 120),
        _button(ids, "loop", "loop.enabled", x + 300, 400, 90, 120, _SOLO),
        _label(ids, "loop_name", "loop", x + 300, 400, 90, 120),
    ]
    return "".join(parts)


def _dj_controls(ids: _Ids) -> str:
    parts: list[str] = []
    for deck, x in ((1, 10), (2, WIDTH // 2 + 10)):
        p = f"deck.{deck}"
        parts += [
            _label(ids, f"deck{deck}", f"deck {deck}", x, 50, 480, 40, size=20),
            _button(ids, f"deck{deck}_play", f"{p}.playing", x, 100, 150, 100, _GO),
            _label(ids, f"deck{deck}_play_name", "play", x, 100, 150, 100),
            _button(ids, f"deck{deck}_cue", f"{p}.cue", x, 210, 150, 100, _SOLO, toggle=False),
            _label(ids, f"deck{deck}_cue_name", "cue", x, 210, 150, 100),
            _button(ids, f"deck{deck}_sync", f"{p}.sync", x, 320, 150, 100, _FADER, toggle=False),
            _label(ids, f"deck{deck}_sync_name", "sync", x, 320, 150, 100),
            _fader(ids, f"deck{deck}_rate", f"{p}.rate", x + 170, 100, 140, 500, scale=(0.5, 1.5)),
            _fader(ids, f"deck{deck}_volume", f"{p}.volume", x + 330, 100, 140, 500),
        ]
    parts += [
        _fader(ids, "crossfader", "crossfader", 212, 640, 600, 100, horizontal=True),
        _label(ids, "dj_master_name", "master", WIDTH - 190, 600, 180, 30),
        _fader(
            ids,
            "dj_master",
            "master.volume",
            WIDTH - 190,
            640,
            180,
            100,
            horizontal=True,
            session="dj",
        ),
    ]
    return "".join(parts)


# -- nodes ---------------------------------------------------------------------------


def _page(ids: _Ids, name: str, children: str) -> str:
    return _node(
        ids,
        "GROUP",
        _frame(0, 40, WIDTH, HEIGHT - 40)
        + _common(name, _DARK, interactive=False)
        + _prop("s", "tabLabel", name),
        _value("touch", "false"),
        children=children,
    )


def _fader(
    ids: _Ids,
    name: str,
    path: str,
    x: int,
    y: int,
    w: int,
    h: int,
    scale: tuple[float, float] = (0.0, 1.0),
    horizontal: bool = False,
    session: str | None = None,
) -> str:
    props = (
        _frame(x, y, w, h)
        + _common(name, _FADER, interactive=True, orientation=1 if horizontal else 0)
        + _prop("b", "bar", 1)
        + _prop("i", "barDisplay", 0)
        + _prop("b", "cursor", 1)
        + _prop("i", "cursorDisplay", 0)
        + _prop("b", "grid", 1)
        + _prop("c", "gridColor", (0.0, 0.0, 0.0, 0.25))
        + _prop("i", "gridSteps", 13)
        + _prop("i", "response", 0)
        + _prop("i", "responseFactor", 100)
    )
    values = _value("x", "0") + _value("touch", "false")
    address = address_for(path, session)
    return _node(ids, "FADER", props, values, messages=_osc(address, "x", scale))


def _button(
    ids: _Ids,
    name: str,
    path: str,
    x: int,
    y: int,
    w: int,
    h: int,
    colour: _Colour,
    toggle: bool = True,
) -> str:
    # buttonType 1 = toggle on press (mute, solo, play); 0 = momentary (1 on press, 0 on
    # release: the server fires triggers on the 1).
    props = (
        _frame(x, y, w, h)
        + _common(name, colour, interactive=True)
        + _prop("i", "buttonType", 1 if toggle else 0)
        + _prop("b", "press", 1)
        + _prop("b", "release", 1)
        + _prop("b", "valuePosition", 0)
    )
    values = _value("x", "0") + _value("touch", "false")
    return _node(ids, "BUTTON", props, values, messages=_osc(address_for(path), "x"))


def _label(
    ids: _Ids,
    name: str,
    text: str,
    x: int,
    y: int,
    w: int,
    h: int,
    receive: str | None = None,
    size: int = 14,
) -> str:
    props = (
        _frame(x, y, w, h)
        + _common(name, (0.0, 0.0, 0.0, 0.0), interactive=False, background=False)
        + _prop("i", "font", 0)
        + _prop("i", "textAlignH", 2)
        + _prop("i", "textAlignV", 2)
        + _prop("b", "textClip", 1)
        + _prop("c", "textColor", _TEXT)
        + _prop("i", "textLength", 0)
        + _prop("i", "textSize", size)
    )
    values = _value("text", text) + _value("touch", "false")
    messages = _osc(receive, "text", send=False, conversion="STRING") if receive else ""
    return _node(ids, "LABEL", props, values, messages=messages)


def _node(
    ids: _Ids,
    kind: str,
    properties: str,
    values: str,
    messages: str = "",
    children: str = "",
    includes: bool = False,
) -> str:
    body = "<includes></includes>" if includes else ""
    body += f"<properties>{_sorted(properties)}</properties><values>{values}</values>"
    if messages:
        body += f"<messages>{messages}</messages>"
    if children:
        body += f"<children>{children}</children>"
    return f"<node ID='{ids.next()}' type='{kind}'>{body}</node>"


def _osc(
    address: str,
    var: str,
    scale: tuple[float, float] = (0.0, 1.0),
    send: bool = True,
    conversion: str = "FLOAT",
) -> str:
    low, high = (_num(v) for v in scale)
    return (
        f"<osc><enabled>1</enabled><send>{int(send)}</send><receive>1</receive>"
        "<feedback>0</feedback><noDuplicates>0</noDuplicates>"
        "<connections>1111111111</connections>"
        f"<triggers><trigger><var>{_cdata(var)}</var><condition>ANY</condition></trigger>"
        "</triggers><path><partial><type>CONSTANT</type><conversion>STRING</conversion>"
        f"<value>{_cdata(address)}</value><scaleMin>0</scaleMin><scaleMax>1</scaleMax>"
        f"</partial></path><arguments><partial><type>VALUE</type>"
        f"<conversion>{conversion}</conversion><value>{_cdata(var)}</value>"
        f"<scaleMin>{low}</scaleMin><scaleMax>{high}</scaleMax></partial></arguments></osc>"
    )


# -- properties and values -------------------------------------------------------------


def _common(
    name: str,
    colour: _Colour,
    interactive: bool,
    orientation: int = 0,
    background: bool = True,
) -> str:
    return (
        _prop("b", "background", int(background))
        + _prop("c", "color", colour)
        + _prop("f", "cornerRadius", 4)
        + _prop("b", "grabFocus", int(interactive))
        + _prop("b", "interactive", int(interactive))
        + _prop("b", "locked", 0)
        + _prop("s", "name", name)
        + _prop("i", "orientation", orientation)
        + _prop("b", "outline", 1)
        + _prop("i", "outlineStyle", 1)
        + _prop("i", "pointerPriority", 0)
        + _prop("i", "shape", 1)
        + _prop("b", "visible", 1)
    )


def _frame(x: int, y: int, w: int, h: int) -> str:
    return (
        "<property type='r'><key><![CDATA[frame]]></key>"
        f"<value><x>{x}</x><y>{y}</y><w>{w}</w><h>{h}</h></value></property>"
    )


def _prop(kind: str, key: str, value: object) -> str:
    if kind == "c":
        r, g, b, a = (_num(v) for v in value)  # type: ignore[attr-defined]
        text = f"<r>{r}</r><g>{g}</g><b>{b}</b><a>{a}</a>"
    elif kind == "s":
        text = _cdata(str(value))
    else:
        text = _num(value)  # type: ignore[arg-type]
    return f"<property type='{kind}'><key>{_cdata(key)}</key><value>{text}</value></property>"


def _sorted(properties: str) -> str:
    """Properties in key order, as the editor writes them."""
    items = [p + "</property>" for p in properties.split("</property>") if p]
    return "".join(sorted(items, key=lambda p: p.split("<key><![CDATA[", 1)[1].split("]]>")[0]))


def _value(key: str, default: str) -> str:
    return (
        f"<value><key>{_cdata(key)}</key><locked>0</locked>"
        f"<lockedDefaultCurrent>0</lockedDefaultCurrent><default>{_cdata(default)}</default>"
        "<defaultPull>0</defaultPull></value>"
    )


def _num(value: float) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class _Ids:
    """Node ids: random, or derived from a seed so that one track's file is stable."""

    def __init__(self, seed: str | None) -> None:
        self.seed = seed
        self.count = 0

    def next(self) -> str:
        self.count += 1
        if self.seed is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"soundforge:{self.seed}:{self.count}"))
