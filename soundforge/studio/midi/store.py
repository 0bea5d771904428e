"""The ``midi_mappings`` table: a user's mappings per device, read and written in SQL.

Mappings are kept per user and per device *name* (``db/migrations/0001_core.sql``), so they
survive unplugging, replugging and restarts; one physical control (message type, channel,
number) of a device drives one action. Saving a mapping for a control replaces that
control's old one (an upsert on the table's unique key) and, unless told otherwise, the
device's other mappings of the same path: MIDI learn moves a control to the knob just
touched. Functions take an asyncpg connection, so the API can run them in its request's
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from soundforge.errors import SoundForgeError
from soundforge.studio.midi.mapping import ACTION_PATTERN, Mapping

__all__ = [
    "InvalidMapping",
    "delete_mapping",
    "list_mappings",
    "save_mapping",
    "save_mappings",
    "validate",
]

_COLUMNS: Final = (
    "id::text AS id, user_id::text AS user_id, device_name, message_type, channel, number,"
    " action, params::text AS params, mode, soft_takeover, source"
)


class InvalidMapping(SoundForgeError):
    status = 422


def validate(mapping: Mapping) -> None:
    """Raise :class:`InvalidMapping` (one sentence) for what the table would refuse."""
    if not 1 <= len(mapping.device_name) <= 200:
        raise InvalidMapping("a device name has 1 to 200 characters.")
    if not 0 <= mapping.channel <= 15:
        raise InvalidMapping("a MIDI channel is 0 to 15 (channels 1 to 16 on the device).")
    if not 0 <= mapping.number <= 127:
        raise InvalidMapping("a CC or note number is 0 to 127.")
    if not ACTION_PATTERN.match(mapping.action):
        raise InvalidMapping(f"{mapping.action!r} is not a control path like stem.vocals.volume.")


def _row(row: Any) -> Mapping:
    params = row["params"]
    return Mapping(
        id=row["id"],
        user_id=row["user_id"],
        device_name=row["device_name"],
        message_type=row["message_type"],
        channel=row["channel"],
        number=row["number"],
        action=row["action"],
        params=json.loads(params) if isinstance(params, str) else dict(params),
        mode=row["mode"],
        soft_takeover=row["soft_takeover"],
        source=row["source"],
    )


async def list_mappings(conn: Any, user_id: str, device_name: str | None = None) -> list[Mapping]:
    """The user's mappings (of one device when named), by device and control."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM midi_mappings WHERE user_id = $1::uuid"
        " AND ($2::text IS NULL OR device_name = $2)"
        " ORDER BY device_name, message_type, channel, number",
        user_id,
        device_name,
    )
    return [_row(row) for row in rows]


async def save_mapping(
    conn: Any, user_id: str, mapping: Mapping, *, replace_path: bool = True
) -> Mapping:
    """Store ``mapping`` for ``user_id``; returns it as stored (with its id)."""
    validate(mapping)
    async with conn.transaction():
        if replace_path:
            await conn.execute(
                "DELETE FROM midi_mappings WHERE user_id = $1::uuid AND device_name = $2"
                " AND action = $3 AND (message_type, channel, number) <> ($4, $5, $6)",
                user_id,
                mapping.device_name,
                mapping.action,
                mapping.message_type,
                mapping.channel,
                mapping.number,
            )
        row = await conn.fetchrow(
            "INSERT INTO midi_mappings (user_id, device_name, message_type, channel, number,"
            " action, params, mode, soft_takeover, source)"
            " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9, $10)"
            " ON CONFLICT ON CONSTRAINT midi_mappings_control_key DO UPDATE SET"
            " action = EXCLUDED.action, params = EXCLUDED.params, mode = EXCLUDED.mode,"
            " soft_takeover = EXCLUDED.soft_takeover, source = EXCLUDED.source"
            f" RETURNING {_COLUMNS}",
            user_id,
            mapping.device_name,
            mapping.message_type,
            mapping.channel,
            mapping.number,
            mapping.action,
            json.dumps(mapping.params),
            mapping.mode,
            mapping.soft_takeover,
            mapping.source,
        )
    return _row(row)


async def save_mappings(conn: Any, user_id: str, mappings: Iterable[Mapping]) -> list[Mapping]:
    """Store several mappings in one transaction (a preset): each replaces its control's."""
    async with conn.transaction():
        return [await save_mapping(conn, user_id, m, replace_path=False) for m in mappings]


async def delete_mapping(conn: Any, user_id: str, mapping_id: str) -> Mapping | None:
    """Delete one of the user's mappings; None when they have no such mapping."""
    row = await conn.fetchrow(
        "DELETE FROM midi_mappings WHERE user_id = $1::uuid AND id::text = $2"
        f" RETURNING {_COLUMNS}",
        user_id,
        mapping_id,
    )
    return _row(row) if row is not None else None
