"""The core schema (0001_core.sql) enforces what the product relies on, in PostgreSQL itself."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from soundforge.storage.migrations import migrate

ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
SPOTIFY_ID = "4uLU6hMCjMI75M1A2tKUQC"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url, timeout=10)
    await migrate(conn, target=1)  # the core schema alone, whatever later files exist
    yield conn
    await conn.close(timeout=10)


async def user(db: asyncpg.Connection, email: str | None = None, **columns: Any) -> uuid.UUID:
    columns = {"email": email or f"{uuid.uuid4().hex[:8]}@example.org", **columns}
    columns.setdefault("password_hash", ARGON2)
    return await insert(db, "users", **columns)


async def track(db: asyncpg.Connection, owner: uuid.UUID, **columns: Any) -> uuid.UUID:
    columns.setdefault("source_kind", "upload")
    columns.setdefault("title", "Around the World")
    return await insert(db, "tracks", user_id=owner, **columns)


async def stem(db: asyncpg.Connection, track_id: uuid.UUID, **columns: Any) -> uuid.UUID:
    columns = {
        "engine": "demucs",
        "model": "htdemucs",
        "stem": "vocals",
        "format": "wav",
        **columns,
    }
    columns.setdefault(
        "path", f"tracks/{track_id}/stems/{columns['model']}/{columns['stem']}-{uuid.uuid4()}.wav"
    )
    return await insert(db, "stems", track_id=track_id, **columns)


async def analysis(
    db: asyncpg.Connection, track_id: uuid.UUID, owner: uuid.UUID, tempo: float
) -> uuid.UUID:
    return await insert(
        db,
        "analyses",
        track_id=track_id,
        user_id=owner,
        version=1,
        result=f'{{"tempo": {tempo}}}',
        tempo_bpm=tempo,
        key="F# minor",
        camelot="11A",
        loudness_lufs=-8.5,
        duration_ms=215_000,
    )


async def insert(db: asyncpg.Connection, table: str, **columns: Any) -> Any:
    names = ", ".join(columns)
    values = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await db.fetchval(
        f"INSERT INTO {table} ({names}) VALUES ({values}) RETURNING id", *columns.values()
    )


async def count(db: asyncpg.Connection, table: str, where: str = "true", *args: Any) -> int:
    return await db.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *args)


# -- Accounts -------------------------------------------------------------------------------


async def test_email_is_unique_without_regard_to_case(db: asyncpg.Connection) -> None:
    await user(db, "Ada@Example.org")
    with pytest.raises(asyncpg.UniqueViolationError) as error:
        await user(db, "ada@example.ORG")
    assert error.value.constraint_name == "users_email_key"
    assert await db.fetchval("SELECT email FROM users") == "Ada@Example.org"  # kept as typed


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("role", "superadmin", "users_role_known"),
        ("status", "banned", "users_status_known"),
        ("password_hash", "plaintext", "users_password_hash_is_argon2"),
        ("password_hash", "$2b$12$bcryptbcryptbcrypt", "users_password_hash_is_argon2"),
        ("email", "not-an-email", "users_email_shape"),
        ("email", " padded@example.org", "users_email_shape"),
    ],
)
async def test_user_columns_are_checked(
    db: asyncpg.Connection, column: str, value: str, constraint: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await user(db, **{column: value})
    assert error.value.constraint_name == constraint


async def test_tokens_store_hashes_only_and_live_names_are_unique(db: asyncpg.Connection) -> None:
    owner = await user(db)
    digest = hashlib.sha256(b"sf_secret").digest()
    token = await insert(
        db, "api_tokens", user_id=owner, name="ci", prefix="sf_abcd", token_hash=digest
    )
    with pytest.raises(asyncpg.CheckViolationError) as error:  # not a SHA-256
        await insert(db, "api_tokens", user_id=owner, name="x", prefix="sf_x", token_hash=b"secret")
    assert error.value.constraint_name == "sha256_is_32_bytes"
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert(
            db, "api_tokens", user_id=owner, name="ci", prefix="sf_efgh", token_hash=b"\x01" * 32
        )
    await db.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = $1", token)
    await insert(
        db, "api_tokens", user_id=owner, name="ci", prefix="sf_efgh", token_hash=b"\x01" * 32
    )


# -- Library --------------------------------------------------------------------------------


async def test_a_spotify_track_is_importable_by_two_users_but_not_twice_by_one(
    db: asyncpg.Connection,
) -> None:
    ada, bob = await user(db), await user(db)
    url = f"https://open.spotify.com/track/{SPOTIFY_ID}"
    spotify = {"source_kind": "spotify", "source_url": url, "spotify_id": SPOTIFY_ID}
    await track(db, ada, **spotify)
    await track(db, bob, **spotify)
    with pytest.raises(asyncpg.UniqueViolationError) as error:
        await track(db, ada, **spotify)
    assert error.value.constraint_name == "tracks_user_spotify_id_key"
    await track(db, ada)  # tracks without a Spotify id never collide
    await track(db, ada)


async def test_the_same_file_is_a_duplicate_per_user(db: asyncpg.Connection) -> None:
    ada, bob = await user(db), await user(db)
    digest = hashlib.sha256(b"audio").digest()
    await track(db, ada, content_hash=digest)
    await track(db, bob, content_hash=digest)
    with pytest.raises(asyncpg.UniqueViolationError) as error:
        await track(db, ada, content_hash=digest)
    assert error.value.constraint_name == "tracks_user_content_hash_key"


@pytest.mark.parametrize(
    ("columns", "constraint"),
    [
        (
            {"source_kind": "splice", "source_url": "https://splice.com/x"},
            "tracks_source_kind_known",
        ),
        ({"source_kind": "youtube"}, "tracks_remote_source_has_url"),
        ({"source_url": "file:///etc/passwd"}, "tracks_source_url_is_http"),
        ({"spotify_id": "not-a-spotify-id"}, "tracks_spotify_id_shape"),
        ({"status": "done"}, "tracks_status_known"),
        ({"status": "ready", "error": "boom"}, "tracks_error_only_when_failed"),
        ({"title": ""}, "tracks_title_length"),
    ],
)
async def test_track_columns_are_checked(
    db: asyncpg.Connection, columns: dict[str, Any], constraint: str
) -> None:
    owner = await user(db)
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await track(db, owner, **columns)
    assert error.value.constraint_name == constraint


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../outside.wav",
        "tracks/../../etc/passwd",
        "tracks/x/..",
        "C:/Users/a.wav",
        "tracks\\x\\a.wav",
        "",
    ],
)
@pytest.mark.parametrize("table", ["tracks", "stems"])
async def test_file_paths_must_stay_inside_the_data_directory(
    db: asyncpg.Connection, table: str, path: str
) -> None:
    track_id = await track(db, await user(db))
    with pytest.raises(asyncpg.CheckViolationError) as error:
        if table == "tracks":
            await db.execute("UPDATE tracks SET original_path = $1 WHERE id = $2", path, track_id)
        else:
            await stem(db, track_id, path=path)
    assert error.value.constraint_name == "relative_path_is_relative"


async def test_relative_paths_are_accepted(db: asyncpg.Connection) -> None:
    track_id = await track(db, await user(db))
    path = f"tracks/{track_id}/source.mp3"
    await db.execute("UPDATE tracks SET original_path = $1 WHERE id = $2", path, track_id)
    await stem(db, track_id, path=f"tracks/{track_id}/stems/htdemucs/vocals..wav")


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("tracks", "duration_ms"),
        ("stems", "duration_ms"),
        ("analyses", "duration_ms"),
        ("cue_points", "position_ms"),
        ("loops", "start_ms"),
    ],
)
async def test_negative_durations_and_positions_are_rejected(
    db: asyncpg.Connection, table: str, column: str
) -> None:
    owner = await user(db)
    track_id = await track(db, owner)
    rows = {
        "tracks": ("tracks", track_id),
        "stems": ("stems", await stem(db, track_id)),
        "analyses": ("analyses", await analysis(db, track_id, owner, 120.0)),
        "cue_points": (
            "cue_points",
            await insert(db, "cue_points", track_id=track_id, kind="memory", position_ms=0),
        ),
        "loops": ("loops", await insert(db, "loops", track_id=track_id, start_ms=0, end_ms=1000)),
    }
    name, row = rows[table]
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await db.execute(f"UPDATE {name} SET {column} = -1 WHERE id = $1", row)
    assert error.value.constraint_name == "millis_not_negative"


async def test_a_playlist_holds_only_its_owners_tracks_in_order(db: asyncpg.Connection) -> None:
    ada, bob = await user(db), await user(db)
    mine, theirs = await track(db, ada), await track(db, bob)
    playlist = await insert(db, "playlists", user_id=ada, name="Warm-up")
    entry = (
        "INSERT INTO playlist_tracks (playlist_id, position, track_id, user_id) "
        "VALUES ($1, $2, $3, $4)"
    )
    await db.execute(entry, playlist, 0, mine, ada)
    await db.execute(entry, playlist, 1, mine, ada)  # a track may appear twice
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(entry, playlist, 2, theirs, ada)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(entry, playlist, 2, theirs, bob)
    async with db.transaction():  # a swap: the position key is checked at commit
        await db.execute("SET CONSTRAINTS playlist_tracks_pkey DEFERRED")
        await db.execute(
            "UPDATE playlist_tracks SET position = 1 - position WHERE playlist_id = $1", playlist
        )


# -- Stems, analysis, cues, loops -----------------------------------------------------------


async def test_several_separations_of_a_track_coexist(db: asyncpg.Connection) -> None:
    track_id = await track(db, await user(db))
    original = await stem(db, track_id)
    await stem(db, track_id, model="htdemucs_6s")
    await stem(db, track_id, engine="default", model="spleeter-2stems")
    await stem(db, track_id, stem="drums")
    with pytest.raises(asyncpg.UniqueViolationError) as error:
        await stem(db, track_id)
    assert error.value.constraint_name == "stems_track_engine_model_stem_version_key"
    # The DAW's render is a new version of the same stem; the original stays.
    render = await stem(db, track_id, version=2, parent_stem_id=original)
    assert await count(db, "stems", "track_id = $1", track_id) == 5
    # ... and it must derive from a stem of the same track.
    other_track = await track(db, await user(db))
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await stem(db, other_track, version=2, parent_stem_id=original)
    await db.execute("DELETE FROM stems WHERE id = $1", original)
    assert await count(db, "stems", "id = $1", render) == 0  # renders are derived data


async def test_identifier_columns_take_any_model_but_not_garbage(db: asyncpg.Connection) -> None:
    track_id = await track(db, await user(db))
    await stem(db, track_id, model="mdx_extra_q")
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await stem(db, track_id, model="HT Demucs; DROP")
    assert error.value.constraint_name == "identifier_shape"


async def test_the_current_analysis_per_track_is_one_query(db: asyncpg.Connection) -> None:
    owner = await user(db)
    first, second = await track(db, owner), await track(db, owner)
    old = await analysis(db, first, owner, 120.0)
    new = await analysis(db, first, owner, 128.0)
    await analysis(db, second, owner, 174.0)

    current = await db.fetch(
        "SELECT track_id, id, tempo_bpm FROM analyses WHERE is_current ORDER BY tempo_bpm"
    )
    assert [(r["track_id"], r["id"], r["tempo_bpm"]) for r in current][:1] == [(first, new, 128.0)]
    assert len(current) == 2
    assert await count(db, "analyses", "track_id = $1", first) == 2  # history is kept

    # The library's BPM and Camelot filter.
    found = await db.fetch(
        "SELECT t.id FROM tracks t JOIN analyses a ON a.track_id = t.id AND a.is_current "
        "WHERE a.user_id = $1 AND a.tempo_bpm BETWEEN $2 AND $3 AND a.camelot = $4",
        owner,
        125,
        130,
        "11A",
    )
    assert [r["id"] for r in found] == [first]

    # Pinning an older analysis makes it the current one, and only it.
    await db.execute("UPDATE analyses SET is_current = true WHERE id = $1", old)
    assert (
        await db.fetchval(
            "SELECT tempo_bpm FROM analyses WHERE track_id = $1 AND is_current", first
        )
        == 120.0
    )
    assert await count(db, "analyses", "is_current") == 2


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("tempo_bpm", float("nan"), "analyses_tempo_range"),
        ("tempo_bpm", 0.0, "analyses_tempo_range"),
        ("loudness_lufs", float("-inf"), "analyses_loudness_range"),
        ("camelot", "13A", "analyses_camelot_shape"),
        ("key", "H minor", "analyses_key_shape"),
    ],
)
async def test_promoted_analysis_values_are_checked(
    db: asyncpg.Connection, column: str, value: Any, constraint: str
) -> None:
    owner = await user(db)
    row = await analysis(db, await track(db, owner), owner, 120.0)
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await db.execute(f"UPDATE analyses SET {column} = $1 WHERE id = $2", value, row)
    assert error.value.constraint_name == constraint


async def test_an_analysis_belongs_to_its_tracks_owner(db: asyncpg.Connection) -> None:
    ada, bob = await user(db), await user(db)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await analysis(db, await track(db, ada), bob, 120.0)


@pytest.mark.parametrize(("start", "end"), [(5000, 4000), (5000, 5000)])
async def test_a_loop_must_end_after_it_starts(
    db: asyncpg.Connection, start: int, end: int
) -> None:
    track_id = await track(db, await user(db))
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await insert(db, "loops", track_id=track_id, start_ms=start, end_ms=end)
    assert error.value.constraint_name == "loops_end_after_start"
    await insert(db, "loops", track_id=track_id, start_ms=start, end_ms=start + 1)


async def test_a_loop_stem_must_be_of_the_same_track(db: asyncpg.Connection) -> None:
    owner = await user(db)
    here, elsewhere = await track(db, owner), await track(db, owner)
    drums = await stem(db, here, stem="drums")
    await insert(db, "loops", track_id=here, stem_id=drums, start_ms=0, end_ms=2000)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await insert(db, "loops", track_id=elsewhere, stem_id=drums, start_ms=0, end_ms=2000)


async def test_hot_cues_have_one_slot_each(db: asyncpg.Connection) -> None:
    track_id = await track(db, await user(db))
    await insert(db, "cue_points", track_id=track_id, kind="hot", hot_index=0, position_ms=0)
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert(db, "cue_points", track_id=track_id, kind="hot", hot_index=0, position_ms=9)
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await insert(db, "cue_points", track_id=track_id, kind="memory", hot_index=1, position_ms=9)
    assert error.value.constraint_name == "cue_points_hot_has_index"
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await insert(db, "cue_points", track_id=track_id, kind="hot", position_ms=9, color="red")
    assert error.value.constraint_name == "rgb_color_is_hex"


async def test_library_search_matches_words_and_prefixes(db: asyncpg.Connection) -> None:
    owner = await user(db)
    hit = await track(db, owner, title="Around the World", artists=["Daft Punk"], album="Homework")
    await track(db, owner, title="Windowlicker", artists=["Aphex Twin"])
    query = "SELECT id FROM tracks WHERE user_id = $1 AND search @@ to_tsquery('simple', $2)"
    for words in ("daft:* & pun:*", "world", "homework", "AROUND & punk"):
        assert [r["id"] for r in await db.fetch(query, owner, words)] == [hit], words
    await db.execute("UPDATE tracks SET artists = '{Stardust}' WHERE id = $1", hit)
    assert await db.fetch(query, owner, "daft") == []  # the generated column follows


async def test_updated_at_follows_updates(db: asyncpg.Connection) -> None:
    track_id = await track(db, await user(db))
    before = await db.fetchval("SELECT updated_at FROM tracks WHERE id = $1", track_id)
    await asyncio.sleep(0.01)
    await db.execute("UPDATE tracks SET title = 'Renamed' WHERE id = $1", track_id)
    after = await db.fetchval("SELECT updated_at FROM tracks WHERE id = $1", track_id)
    assert after > before


# -- LLM providers --------------------------------------------------------------------------


async def test_provider_api_keys_exist_only_as_ciphertext(db: asyncpg.Connection) -> None:
    columns = dict(
        await db.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'llm_providers' AND column_name LIKE '%key%'"
        )
    )
    assert columns == {
        "api_key_ciphertext": "bytea",
        "api_key_nonce": "bytea",
        "api_key_key_id": "text",
        "api_key_last4": "text",
    }
    owner = await user(db)
    sealed = {
        "api_key_ciphertext": b"\x8f" * 48,
        "api_key_nonce": b"\x01" * 12,
        "api_key_key_id": "k1",
    }
    provider = {"user_id": owner, "kind": "anthropic", "model": "claude-sonnet"}
    await insert(db, "llm_providers", name="mine", api_key_last4="x7Qa", **provider, **sealed)
    await insert(db, "llm_providers", name="keyless", **provider)  # e.g. a local Ollama
    for broken in (
        {"api_key_ciphertext": b"\x8f" * 48},  # no nonce, no key id
        {"api_key_ciphertext": b"\x8f" * 48, "api_key_nonce": b"\x01" * 12},
        {"api_key_last4": "x7Qa"},  # a hint without a key
    ):
        with pytest.raises(asyncpg.CheckViolationError) as error:
            await insert(db, "llm_providers", name="broken", **provider, **broken)
        assert error.value.constraint_name == "llm_providers_key_complete"


async def test_provider_names_are_unique_per_owner_and_among_system_ones(
    db: asyncpg.Connection,
) -> None:
    ada, bob = await user(db), await user(db)
    local = {
        "kind": "openai_compatible",
        "base_url": "http://127.0.0.1:11434/v1",
        "model": "llama3.2",
    }
    for owner in (None, ada, bob):
        await insert(db, "llm_providers", user_id=owner, name="Ollama", **local)
    for owner in (None, ada):
        with pytest.raises(asyncpg.UniqueViolationError):
            await insert(db, "llm_providers", user_id=owner, name="ollama", **local)
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await insert(db, "llm_providers", name="nourl", kind="openai_compatible", model="m")
    assert error.value.constraint_name == "llm_providers_openai_has_url"


# -- Deleting a user ------------------------------------------------------------------------


async def test_deleting_a_user_removes_what_they_own_but_keeps_the_audit_log(
    db: asyncpg.Connection,
) -> None:
    ada, admin = await user(db), await user(db, role="admin")
    track_id = await track(db, ada)
    vocals = await stem(db, track_id)
    await analysis(db, track_id, ada, 124.0)
    await insert(db, "cue_points", track_id=track_id, kind="hot", hot_index=0, position_ms=1000)
    await insert(db, "loops", track_id=track_id, stem_id=vocals, start_ms=0, end_ms=4000)
    await insert(db, "stem_edits", stem_id=vocals, position=0, op="fade_in", start_ms=0, end_ms=500)
    await insert(db, "practice_presets", track_id=track_id, name="slow", settings='{"rate": 0.8}')
    playlist = await insert(db, "playlists", user_id=ada, name="Set")
    await db.execute(
        "INSERT INTO playlist_tracks (playlist_id, position, track_id, user_id) "
        "VALUES ($1, 0, $2, $3)",
        playlist,
        track_id,
        ada,
    )
    await insert(db, "user_sessions", user_id=ada, token_hash=b"\x02" * 32, expires_at=_in_a_day())
    await insert(
        db, "api_tokens", user_id=ada, name="cli", prefix="sf_1234", token_hash=b"\x03" * 32
    )
    await db.execute("INSERT INTO user_settings (user_id, settings) VALUES ($1, '{}')", ada)
    await insert(
        db,
        "midi_mappings",
        user_id=ada,
        device_name="DDJ-400",
        message_type="cc",
        channel=0,
        number=7,
        action="stem.volume",
        params='{"stem": "vocals"}',
    )
    await insert(db, "llm_providers", user_id=ada, name="mine", kind="anthropic", model="m")
    conversation = await insert(
        db, "agent_conversations", user_id=ada, track_id=track_id, agent="track_explainer"
    )
    await insert(
        db,
        "agent_messages",
        conversation_id=conversation,
        role="user",
        content='[{"type": "text", "text": "key?"}]',
    )
    await insert(
        db, "notifications", user_id=ada, kind="success", title="Stems ready", track_id=track_id
    )
    own = await insert(
        db, "audit_log", actor_id=ada, action="user.login", target_type="user", target_id=str(ada)
    )
    about = await insert(
        db,
        "audit_log",
        actor_id=admin,
        action="user.deleted",
        target_type="user",
        target_id=str(ada),
    )

    await db.execute("DELETE FROM users WHERE id = $1", ada)

    owned = {
        "tracks", "stems", "analyses", "cue_points", "loops", "stem_edits", "practice_presets",
        "playlists", "playlist_tracks", "user_sessions", "api_tokens", "user_settings",
        "midi_mappings", "llm_providers", "agent_conversations", "agent_messages", "notifications",
    }  # fmt: skip
    every_table = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert owned == {r["tablename"] for r in every_table} - {
        "users",
        "audit_log",
        "schema_migrations",
    }  # a new table joins this test
    for table in sorted(owned):
        assert await count(db, table) == 0, table
    rows = {r["id"]: r for r in await db.fetch("SELECT * FROM audit_log")}
    assert (rows[own]["actor_id"], rows[own]["actor_kind"]) == (None, "user")  # "a deleted user"
    assert rows[own]["target_id"] == str(ada)
    assert rows[about]["actor_id"] == admin


async def test_system_audit_entries_have_no_actor(db: asyncpg.Connection) -> None:
    await insert(db, "audit_log", actor_kind="system", action="job.pruned")
    with pytest.raises(asyncpg.CheckViolationError) as error:
        await insert(
            db, "audit_log", actor_kind="system", actor_id=await user(db), action="job.pruned"
        )
    assert error.value.constraint_name == "audit_log_system_has_no_actor"


def _in_a_day() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
