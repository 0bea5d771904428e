-- 0001_core: the whole product's schema, except the job queue (0002) and pubsub (0003).
--
-- Applied by soundforge.storage.migrations in one transaction. Never edit this file once it
-- has shipped: its checksum is recorded, and a change is refused. Put changes in a new
-- numbered file.
--
-- Conventions (they hold for every table below):
--
-- * Runs on PostgreSQL >= 14 and needs no extension. Email is compared through a unique
--   lower(email) index, not citext, and library search uses a built-in tsvector, not pg_trgm.
--   So the schema applies on any server with no contrib package and no superuser, including
--   a managed one. gen_random_uuid() is core since PostgreSQL 13.
-- * Ids are uuid for every entity the API or the data directory names (users, tracks, stems
--   ...). Clients cannot guess or enumerate them, and a row's directory
--   (<data>/tracks/<id>/) can be named before the row is committed. Append-only logs that
--   are read in insertion order (audit_log, notifications, agent_messages) use bigint
--   identities.
-- * Enumerations are text columns with CHECK constraints, not PostgreSQL enum types:
--     - A closed set that the code branches on (role, status, source kind, cue kind, audio
--       format) is a CHECK ... IN (...) list. Changing it is one DROP/ADD CONSTRAINT in a
--       migration, while an enum value can never be removed and, before PostgreSQL 17, an
--       added value cannot be used in the transaction that adds it.
--     - An open vocabulary that grows with engines, models, stems, agents and actions is a
--       CHECK on the shape of an identifier only, so that a new demucs model needs no
--       migration.
--   Both kinds are plain text to asyncpg and msgspec (Literal[...] on the Python side).
-- * Durations and positions are integer milliseconds, CHECKed >= 0 (domain `millis`).
--   integer holds 596 hours, far beyond the 3-hour files we must accept.
-- * File paths are relative to the data directory (domain `relative_path`). They never start
--   with '/' or a drive letter and never contain a '..' segment, so a row can never point
--   outside <data>, and the data directory can move.
-- * Timestamps are timestamptz DEFAULT now(). updated_at is maintained by one trigger
--   function, touch_updated_at(), so that application code cannot forget it.
-- * Every reference is a foreign key with an explicit ON DELETE:
--     - What a user owns cascades when the user is deleted, and what a track owns cascades
--       when the track is deleted.
--     - The audit log keeps its rows and only loses the actor (SET NULL).
--     - Nothing references the job queue's tables: jobs are history with their own retention,
--       and they carry ids in their arguments.
-- * Rows that hang off both a user and a track (playlist entries, analyses, notifications,
--   agent conversations) use a composite foreign key (track_id, user_id) -> tracks (id,
--   user_id). The database itself then refuses a row that mixes one user's track with
--   another user, a last line of defence against IDOR bugs. ON UPDATE CASCADE lets an admin
--   hand a track to another user in one statement.


-- Domains ----------------------------------------------------------------------------------

-- A path under the data directory, e.g. 'tracks/5b7c.../stems/htdemucs/vocals.wav'.
CREATE DOMAIN relative_path AS text
    CONSTRAINT relative_path_is_relative CHECK (
        VALUE <> ''
        AND length(VALUE) <= 1024
        AND VALUE !~ '^/'                     -- not absolute (POSIX)
        AND VALUE !~ '^[A-Za-z]:'             -- not absolute (Windows drive)
        AND VALUE !~ '\\'                     -- one separator only: '/'
        AND VALUE !~ '(^|/)\.\.(/|$)'         -- never climbs out of <data>
    );

-- A duration or a position in an audio file, in milliseconds.
CREATE DOMAIN millis AS integer
    CONSTRAINT millis_not_negative CHECK (VALUE >= 0);

-- A SHA-256 digest: content hashes of audio files, hashes of session and API tokens. Tokens
-- are 256-bit random values, so a fast hash is the right tool here; argon2 is for passwords.
CREATE DOMAIN sha256 AS bytea
    CONSTRAINT sha256_is_32_bytes CHECK (octet_length(VALUE) = 32);

-- A colour for cues, loops and controller LEDs, '#rrggbb'.
CREATE DOMAIN rgb_color AS text
    CONSTRAINT rgb_color_is_hex CHECK (VALUE ~ '^#[0-9A-Fa-f]{6}$');

-- A lower-case identifier from an open vocabulary: engines, models, stem names, agents.
CREATE DOMAIN identifier AS text
    CONSTRAINT identifier_shape CHECK (VALUE ~ '^[a-z0-9][a-z0-9_.-]{0,63}$');


-- Functions --------------------------------------------------------------------------------

CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- The library search document: title (weight A), artists (B), album (C). It uses the 'simple'
-- configuration (lower-case, no stemming, no stop words), because names of songs and
-- artists are not English prose. The function is IMMUTABLE so that it can define a
-- generated column. array_to_string is only STABLE in general (some element types print
-- according to settings), but text elements print verbatim, so this use is truly immutable.
CREATE FUNCTION track_search_document(title text, artists text[], album text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A')
    || setweight(to_tsvector('simple'::regconfig, coalesce(array_to_string(artists, ' '), '')), 'B')
    || setweight(to_tsvector('simple'::regconfig, coalesce(album, '')), 'C');


-- Accounts ---------------------------------------------------------------------------------

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stored as typed, unique without regard to case (users_email_key below).
    email           text NOT NULL
                    CONSTRAINT users_email_shape CHECK (
                        length(email) <= 320 AND email = btrim(email) AND email ~ '^[^@\s]+@[^@\s]+$'
                    ),
    display_name    text CONSTRAINT users_display_name_length CHECK (length(display_name) <= 100),
    -- An argon2id PHC string ('$argon2id$v=19$m=...'); never plaintext, never bcrypt.
    password_hash   text NOT NULL
                    CONSTRAINT users_password_hash_is_argon2 CHECK (password_hash LIKE '$argon2%'),
    role            text NOT NULL DEFAULT 'user'
                    CONSTRAINT users_role_known CHECK (role IN ('user', 'admin')),
    -- A suspended user can neither log in nor use a token; sessions are deleted on suspend.
    status          text NOT NULL DEFAULT 'active'
                    CONSTRAINT users_status_known CHECK (status IN ('active', 'suspended')),
    last_login_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_role_status_idx ON users (role, status);
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Browser sessions. The cookie holds a random token, and only its SHA-256 is stored, so a
-- leaked database does not leak live sessions.
CREATE TABLE user_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    token_hash      sha256 NOT NULL CONSTRAINT user_sessions_token_hash_key UNIQUE,
    user_agent      text CONSTRAINT user_sessions_user_agent_length CHECK (length(user_agent) <= 512),
    ip              inet,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CONSTRAINT user_sessions_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);
CREATE INDEX user_sessions_expires_idx ON user_sessions (expires_at);   -- pruning

-- API tokens for scripts and the CLI ('Authorization: Bearer ...'). A token is shown once on
-- creation, and only its SHA-256 is kept. `prefix` (e.g. 'sf_3kd9') identifies it in lists.
-- A token acts as its user, so an admin's token is an admin token.
CREATE TABLE api_tokens (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    name            text NOT NULL CONSTRAINT api_tokens_name_length CHECK (length(name) BETWEEN 1 AND 100),
    prefix          text NOT NULL CONSTRAINT api_tokens_prefix_length CHECK (length(prefix) BETWEEN 4 AND 16),
    token_hash      sha256 NOT NULL CONSTRAINT api_tokens_token_hash_key UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    expires_at      timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at DESC);
-- A user's live tokens have distinct names; revoked ones keep theirs for the record.
CREATE UNIQUE INDEX api_tokens_live_name_key ON api_tokens (user_id, name) WHERE revoked_at IS NULL;

-- Per-user settings as one JSON object. The typed defaults live in code (a msgspec struct):
-- a missing key means "the default", so adding a setting needs no migration, and a
-- changed default reaches everyone who never touched it.
CREATE TABLE user_settings (
    user_id         uuid PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    settings        jsonb NOT NULL DEFAULT '{}'
                    CONSTRAINT user_settings_is_object CHECK (jsonb_typeof(settings) = 'object'),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER user_settings_touch BEFORE UPDATE ON user_settings
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();


-- Library ----------------------------------------------------------------------------------

-- One imported song in one user's library. Tracks are per user: the same Spotify track can
-- be imported by two users (upstream made spotify_id globally unique, so the second import
-- failed). A user cannot import it twice, neither by Spotify id nor by content.
CREATE TABLE tracks (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    source_kind     text NOT NULL
                    CONSTRAINT tracks_source_kind_known
                    CHECK (source_kind IN ('spotify', 'youtube', 'url', 'upload', 'local')),
    -- Where it came from: the Spotify/YouTube/media URL. NULL for uploads and local files,
    -- whose original name is in source_name. A server path is never stored here.
    source_url      text CONSTRAINT tracks_source_url_is_http CHECK (source_url ~ '^https?://'),
    source_name     text CONSTRAINT tracks_source_name_length CHECK (length(source_name) <= 255),
    spotify_id      text CONSTRAINT tracks_spotify_id_shape CHECK (spotify_id ~ '^[0-9A-Za-z]{22}$'),
    isrc            text CONSTRAINT tracks_isrc_shape CHECK (isrc ~ '^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$'),
    -- SHA-256 of the original file; NULL until the audio has arrived.
    content_hash    sha256,
    title           text NOT NULL CONSTRAINT tracks_title_length CHECK (length(title) BETWEEN 1 AND 500),
    artists         text[] NOT NULL DEFAULT '{}',
    album           text CONSTRAINT tracks_album_length CHECK (length(album) <= 500),
    artwork_url     text CONSTRAINT tracks_artwork_url_is_http CHECK (artwork_url ~ '^https?://'),
    -- NULL until known: the metadata's value first, then the probed file's.
    duration_ms     millis,
    -- The original file as downloaded or uploaded, kept: 'tracks/<id>/source.<ext>'.
    original_path   relative_path CONSTRAINT tracks_original_path_key UNIQUE,
    original_size   bigint CONSTRAINT tracks_original_size_not_negative CHECK (original_size >= 0),
    -- The pipeline's summary for the library's filter. The jobs hold the detail: attempts,
    -- errors and progress.
    status          text NOT NULL DEFAULT 'pending'
                    CONSTRAINT tracks_status_known CHECK (status IN (
                        'pending', 'downloading', 'separating', 'analysing', 'ready', 'failed'
                    )),
    -- The last failure in one sentence, shown in the library. Kept only while failed.
    error           text CONSTRAINT tracks_error_only_when_failed CHECK (error IS NULL OR status = 'failed'),
    search          tsvector GENERATED ALWAYS AS (track_search_document(title, artists, album)) STORED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tracks_remote_source_has_url
        CHECK (source_kind IN ('upload', 'local') OR source_url IS NOT NULL),
    -- Duplicates per user. NULLs are distinct, so tracks without the value never collide.
    CONSTRAINT tracks_user_spotify_id_key UNIQUE (user_id, spotify_id),
    CONSTRAINT tracks_user_content_hash_key UNIQUE (user_id, content_hash),
    -- The target of the composite (track_id, user_id) foreign keys.
    CONSTRAINT tracks_id_user_key UNIQUE (id, user_id)
);
-- The library: newest first, by status, by title, and full-text search
-- (search @@ websearch_to_tsquery('simple', $1), or to_tsquery with ':*' for prefixes).
CREATE INDEX tracks_user_created_idx ON tracks (user_id, created_at DESC);
CREATE INDEX tracks_user_status_idx ON tracks (user_id, status);
CREATE INDEX tracks_user_title_idx ON tracks (user_id, lower(title));
CREATE INDEX tracks_search_idx ON tracks USING gin (search);
CREATE TRIGGER tracks_touch BEFORE UPDATE ON tracks
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE playlists (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    name            text NOT NULL CONSTRAINT playlists_name_length CHECK (length(name) BETWEEN 1 AND 200),
    description     text,
    -- 'spotify' for an imported Spotify playlist or album; 'manual' for one the user made.
    source_kind     text NOT NULL DEFAULT 'manual'
                    CONSTRAINT playlists_source_kind_known CHECK (source_kind IN ('manual', 'spotify')),
    source_url      text CONSTRAINT playlists_source_url_is_http CHECK (source_url ~ '^https?://'),
    spotify_id      text CONSTRAINT playlists_spotify_id_shape CHECK (spotify_id ~ '^[0-9A-Za-z]{22}$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Re-importing the same Spotify playlist updates it; two users may each import it.
    CONSTRAINT playlists_user_spotify_id_key UNIQUE (user_id, spotify_id),
    CONSTRAINT playlists_id_user_key UNIQUE (id, user_id)
);
CREATE INDEX playlists_user_idx ON playlists (user_id, name);
CREATE TRIGGER playlists_touch BEFORE UPDATE ON playlists
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- An ordered playlist. A track may appear twice (as in Spotify playlists). The position key
-- is DEFERRABLE so that a reorder can shift positions in one transaction and be checked at
-- commit. Both foreign keys carry user_id: a playlist can only hold its owner's tracks.
CREATE TABLE playlist_tracks (
    playlist_id     uuid NOT NULL,
    position        integer NOT NULL CONSTRAINT playlist_tracks_position_not_negative CHECK (position >= 0),
    track_id        uuid NOT NULL,
    user_id         uuid NOT NULL,
    added_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT playlist_tracks_pkey PRIMARY KEY (playlist_id, position) DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT playlist_tracks_playlist_fkey FOREIGN KEY (playlist_id, user_id)
        REFERENCES playlists (id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT playlist_tracks_track_fkey FOREIGN KEY (track_id, user_id)
        REFERENCES tracks (id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX playlist_tracks_track_idx ON playlist_tracks (track_id);


-- Stems ------------------------------------------------------------------------------------

-- One audio file per stem of one separation. Several separations of a track coexist (demucs
-- htdemucs next to htdemucs_6s next to the embedded engine), keyed by engine and model.
-- Running the same engine and model again replaces its rows in place (upsert on the
-- unique key), so ids stay stable for what refers to them.
--
-- version 1 is what the separator produced. The DAW's "render" stores a new version (2, 3,
-- ...) of the same stem with parent_stem_id pointing at the stem it was rendered from, and
-- the original stays. Renders are derived data: deleting a stem deletes its renders.
CREATE TABLE stems (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    track_id        uuid NOT NULL REFERENCES tracks ON DELETE CASCADE,
    engine          identifier NOT NULL,           -- 'demucs', 'default' (embedded), ...
    model           identifier NOT NULL,           -- 'htdemucs', 'htdemucs_6s', ...
    stem            identifier NOT NULL,           -- 'vocals', 'drums', 'bass', 'other', 'guitar', ...
    version         integer NOT NULL DEFAULT 1 CONSTRAINT stems_version_positive CHECK (version >= 1),
    parent_stem_id  uuid,
    format          text NOT NULL
                    CONSTRAINT stems_format_known CHECK (format IN ('wav', 'flac', 'mp3')),
    -- 'tracks/<track_id>/stems/<model>/<stem>.<ext>'; one row per file.
    path            relative_path NOT NULL CONSTRAINT stems_path_key UNIQUE,
    size_bytes      bigint CONSTRAINT stems_size_not_negative CHECK (size_bytes >= 0),
    sample_rate     integer CONSTRAINT stems_sample_rate_positive CHECK (sample_rate > 0),
    channels        smallint CONSTRAINT stems_channels_range CHECK (channels BETWEEN 1 AND 32),
    bit_depth       smallint CONSTRAINT stems_bit_depth_known CHECK (bit_depth IN (16, 24, 32)),
    duration_ms     millis,
    -- The separation's options as run (device, segment, shifts, overlap ...).
    options         jsonb NOT NULL DEFAULT '{}'
                    CONSTRAINT stems_options_is_object CHECK (jsonb_typeof(options) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stems_track_engine_model_stem_version_key UNIQUE (track_id, engine, model, stem, version),
    CONSTRAINT stems_id_track_key UNIQUE (id, track_id),
    CONSTRAINT stems_render_has_parent CHECK (parent_stem_id IS NULL OR version > 1),
    -- A render's parent is a stem of the same track.
    CONSTRAINT stems_parent_fkey FOREIGN KEY (parent_stem_id, track_id)
        REFERENCES stems (id, track_id) ON DELETE CASCADE
);
CREATE INDEX stems_parent_idx ON stems (parent_stem_id) WHERE parent_stem_id IS NOT NULL;

-- The DAW's non-destructive edit list for one stem lane: an ordered list of region edits.
-- Undo marks the last live edit undone (redo clears the mark), and a new edit deletes the
-- undone ones first, which is the usual undo-stack semantics. A render applies the live
-- edits in position order and writes a new stem version.
CREATE TABLE stem_edits (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    stem_id         uuid NOT NULL REFERENCES stems ON DELETE CASCADE,
    position        integer NOT NULL CONSTRAINT stem_edits_position_not_negative CHECK (position >= 0),
    op              text NOT NULL
                    CONSTRAINT stem_edits_op_known
                    CHECK (op IN ('trim', 'split', 'fade_in', 'fade_out', 'gain', 'mute')),
    -- The region the edit applies to. A split uses start_ms only.
    start_ms        millis,
    end_ms          millis,
    gain_db         real CONSTRAINT stem_edits_gain_range CHECK (gain_db BETWEEN -96 AND 24),
    params          jsonb NOT NULL DEFAULT '{}'
                    CONSTRAINT stem_edits_params_is_object CHECK (jsonb_typeof(params) = 'object'),
    undone_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stem_edits_stem_position_key UNIQUE (stem_id, position),
    CONSTRAINT stem_edits_region_ordered CHECK (end_ms IS NULL OR start_ms IS NULL OR end_ms > start_ms),
    CONSTRAINT stem_edits_gain_only_for_gain CHECK ((op = 'gain') = (gain_db IS NOT NULL))
);


-- Analysis ---------------------------------------------------------------------------------

-- Every analysis of a track is kept. The current one is the row with is_current.
--
-- `result` is the whole analysis document, in the versioned msgspec contract (`version` is
-- that contract's version; docs/analysis.md). The values the library filters and sorts on
-- are promoted to columns.
--
-- Inserting an analysis (is_current defaults to true) makes it current, and the trigger below
-- demotes the previous one in the same transaction. Setting is_current on an older row pins
-- it the same way. "The current analysis of each track" is therefore a plain
-- `WHERE is_current`, and the partial indexes serve the library's BPM and Camelot filters
-- per user. user_id is copied from the track (and kept equal by the composite foreign key)
-- only so that those indexes can lead with it.
CREATE TABLE analyses (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    track_id        uuid NOT NULL,
    user_id         uuid NOT NULL,
    version         integer NOT NULL CONSTRAINT analyses_version_positive CHECK (version >= 1),
    is_current      boolean NOT NULL DEFAULT true,
    result          jsonb NOT NULL
                    CONSTRAINT analyses_result_is_object CHECK (jsonb_typeof(result) = 'object'),
    -- The options the analyzer ran with (features, resolution ...).
    options         jsonb NOT NULL DEFAULT '{}'
                    CONSTRAINT analyses_options_is_object CHECK (jsonb_typeof(options) = 'object'),
    -- NaN fails these range checks, which is what we want. Store NULL, not NaN or
    -- -Infinity, for "not measured" (e.g. the LUFS of silence).
    tempo_bpm       double precision CONSTRAINT analyses_tempo_range CHECK (tempo_bpm > 0 AND tempo_bpm < 1000),
    key             text CONSTRAINT analyses_key_shape CHECK (key ~ '^[A-G](#|b)? (major|minor)$'),
    camelot         text CONSTRAINT analyses_camelot_shape CHECK (camelot ~ '^([1-9]|1[0-2])[AB]$'),
    loudness_lufs   double precision
                    CONSTRAINT analyses_loudness_range CHECK (loudness_lufs > -200 AND loudness_lufs < 30),
    duration_ms     millis,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT analyses_track_fkey FOREIGN KEY (track_id, user_id)
        REFERENCES tracks (id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX analyses_one_current_per_track ON analyses (track_id) WHERE is_current;
CREATE INDEX analyses_track_history_idx ON analyses (track_id, created_at DESC);
CREATE INDEX analyses_user_tempo_idx ON analyses (user_id, tempo_bpm) WHERE is_current;
CREATE INDEX analyses_user_camelot_idx ON analyses (user_id, camelot) WHERE is_current;

CREATE FUNCTION analyses_demote_previous() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE analyses SET is_current = false
     WHERE track_id = NEW.track_id AND is_current AND id <> NEW.id;
    RETURN NEW;
END
$$;
CREATE TRIGGER analyses_one_current
    BEFORE INSERT OR UPDATE OF is_current ON analyses
    FOR EACH ROW WHEN (NEW.is_current) EXECUTE FUNCTION analyses_demote_previous();

-- Cue points: hot cues (numbered pads, hot_index 0-15) and memory cues. They are placed by the
-- user, seeded from the analysis' structure, or proposed by an agent and confirmed.
CREATE TABLE cue_points (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    track_id        uuid NOT NULL REFERENCES tracks ON DELETE CASCADE,
    kind            text NOT NULL CONSTRAINT cue_points_kind_known CHECK (kind IN ('hot', 'memory')),
    hot_index       smallint CONSTRAINT cue_points_hot_index_range CHECK (hot_index BETWEEN 0 AND 15),
    position_ms     millis NOT NULL,
    label           text CONSTRAINT cue_points_label_length CHECK (length(label) <= 200),
    color           rgb_color,
    source          text NOT NULL DEFAULT 'user'
                    CONSTRAINT cue_points_source_known CHECK (source IN ('user', 'analysis', 'agent')),
    confidence      real CONSTRAINT cue_points_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cue_points_hot_has_index CHECK ((kind = 'hot') = (hot_index IS NOT NULL)),
    CONSTRAINT cue_points_track_hot_index_key UNIQUE (track_id, hot_index)
);
CREATE INDEX cue_points_track_position_idx ON cue_points (track_id, position_ms);
CREATE TRIGGER cue_points_touch BEFORE UPDATE ON cue_points
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Loops, bar-aligned ones from the analysis (scored) or set by hand. A loop may be taken
-- from one stem; that stem must belong to the same track.
CREATE TABLE loops (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    track_id        uuid NOT NULL REFERENCES tracks ON DELETE CASCADE,
    stem_id         uuid,
    start_ms        millis NOT NULL,
    end_ms          millis NOT NULL,
    bars            real CONSTRAINT loops_bars_positive CHECK (bars > 0),
    label           text CONSTRAINT loops_label_length CHECK (length(label) <= 200),
    color           rgb_color,
    source          text NOT NULL DEFAULT 'user'
                    CONSTRAINT loops_source_known CHECK (source IN ('user', 'analysis', 'agent')),
    score           real CONSTRAINT loops_score_range CHECK (score BETWEEN 0 AND 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT loops_end_after_start CHECK (end_ms > start_ms),
    CONSTRAINT loops_stem_fkey FOREIGN KEY (stem_id, track_id)
        REFERENCES stems (id, track_id) ON DELETE CASCADE
);
CREATE INDEX loops_track_start_idx ON loops (track_id, start_ms);
CREATE INDEX loops_stem_idx ON loops (stem_id) WHERE stem_id IS NOT NULL;
CREATE TRIGGER loops_touch BEFORE UPDATE ON loops
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Practice mode's per-song presets. The settings are one JSON object with typed defaults in
-- code: A-B range, count-in, rate, pitch in semitones, step-up trainer.
CREATE TABLE practice_presets (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    track_id        uuid NOT NULL REFERENCES tracks ON DELETE CASCADE,
    name            text NOT NULL CONSTRAINT practice_presets_name_length CHECK (length(name) BETWEEN 1 AND 100),
    settings        jsonb NOT NULL DEFAULT '{}'
                    CONSTRAINT practice_presets_is_object CHECK (jsonb_typeof(settings) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT practice_presets_track_name_key UNIQUE (track_id, name)
);
CREATE TRIGGER practice_presets_touch BEFORE UPDATE ON practice_presets
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();


-- Studio control ---------------------------------------------------------------------------

-- A learned (or preset) MIDI mapping: one control of one controller -> one action. Mappings
-- are per user and per device *name* (the port name the OS reports), so that they survive
-- unplugging, replugging and restarts. One control drives one action.
CREATE TABLE midi_mappings (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    device_name     text NOT NULL CONSTRAINT midi_mappings_device_name_length CHECK (length(device_name) BETWEEN 1 AND 200),
    message_type    text NOT NULL
                    CONSTRAINT midi_mappings_message_type_known
                    CHECK (message_type IN ('cc', 'note', 'pitchbend', 'program')),
    channel         smallint NOT NULL CONSTRAINT midi_mappings_channel_range CHECK (channel BETWEEN 0 AND 15),
    -- CC or note number; 0 for pitchbend and program change, which have none.
    number          smallint NOT NULL CONSTRAINT midi_mappings_number_range CHECK (number BETWEEN 0 AND 127),
    -- A dotted action name, e.g. 'stem.volume', 'deck.play', 'crossfader', with its target
    -- in params ({"stem": "vocals"}, {"deck": 1}).
    action          text NOT NULL
                    CONSTRAINT midi_mappings_action_shape CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$'),
    params          jsonb NOT NULL DEFAULT '{}'
                    CONSTRAINT midi_mappings_params_is_object CHECK (jsonb_typeof(params) = 'object'),
    -- absolute: CC 0-127 -> 0..1; relative: endless encoders; toggle/momentary: buttons.
    mode            text NOT NULL DEFAULT 'absolute'
                    CONSTRAINT midi_mappings_mode_known
                    CHECK (mode IN ('absolute', 'relative', 'toggle', 'momentary')),
    soft_takeover   boolean NOT NULL DEFAULT true,
    source          text NOT NULL DEFAULT 'learned'
                    CONSTRAINT midi_mappings_source_known CHECK (source IN ('learned', 'preset')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT midi_mappings_control_key UNIQUE (user_id, device_name, message_type, channel, number)
);
CREATE TRIGGER midi_mappings_touch BEFORE UPDATE ON midi_mappings
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();


-- LLM --------------------------------------------------------------------------------------

-- Model providers stored in the database: system-wide ones (user_id NULL, managed by admins)
-- and a user's own. Providers from environment variables are not stored.
--
-- The API key is encrypted at rest and there is no plaintext column:
-- - api_key_ciphertext holds the AEAD output (AES-256-GCM) and api_key_nonce its nonce.
-- - api_key_key_id names the server key that sealed it, so keys can be rotated.
-- - The application binds the ciphertext to the row (the provider id as associated data), so
--   a ciphertext copied to another row does not decrypt.
-- - api_key_last4 is the only readable part, for "…x7Qa" in the settings page.
CREATE TABLE llm_providers (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid REFERENCES users ON DELETE CASCADE,
    name                text NOT NULL CONSTRAINT llm_providers_name_length CHECK (length(name) BETWEEN 1 AND 100),
    kind                text NOT NULL
                        CONSTRAINT llm_providers_kind_known CHECK (kind IN ('anthropic', 'openai_compatible')),
    -- NULL means the kind's official endpoint (Anthropic). OpenAI-compatible servers (OpenAI,
    -- Ollama, LM Studio) always name theirs.
    base_url            text CONSTRAINT llm_providers_base_url_is_http CHECK (base_url ~ '^https?://'),
    model               text NOT NULL CONSTRAINT llm_providers_model_length CHECK (length(model) BETWEEN 1 AND 200),
    -- The router tries enabled providers by ascending priority.
    priority            integer NOT NULL DEFAULT 100,
    enabled             boolean NOT NULL DEFAULT true,
    api_key_ciphertext  bytea,
    api_key_nonce       bytea CONSTRAINT llm_providers_nonce_length CHECK (octet_length(api_key_nonce) BETWEEN 12 AND 24),
    api_key_key_id      text CONSTRAINT llm_providers_key_id_length CHECK (length(api_key_key_id) BETWEEN 1 AND 64),
    api_key_last4       text CONSTRAINT llm_providers_last4_length CHECK (length(api_key_last4) <= 4),
    health_status       text NOT NULL DEFAULT 'unknown'
                        CONSTRAINT llm_providers_health_known
                        CHECK (health_status IN ('unknown', 'healthy', 'degraded', 'unreachable')),
    health_checked_at   timestamptz,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- The sealed key is all or nothing; the readable hint exists only next to a key.
    CONSTRAINT llm_providers_key_complete CHECK (
        (api_key_ciphertext IS NULL) = (api_key_nonce IS NULL)
        AND (api_key_ciphertext IS NULL) = (api_key_key_id IS NULL)
        AND (api_key_last4 IS NULL OR api_key_ciphertext IS NOT NULL)
    ),
    CONSTRAINT llm_providers_openai_has_url CHECK (kind <> 'openai_compatible' OR base_url IS NOT NULL)
);
-- Names are unique per owner, and among system providers. These are two partial indexes
-- because NULLs are distinct in a plain unique key (NULLS NOT DISTINCT needs PostgreSQL 15).
CREATE UNIQUE INDEX llm_providers_user_name_key ON llm_providers (user_id, lower(name)) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX llm_providers_system_name_key ON llm_providers (lower(name)) WHERE user_id IS NULL;
CREATE TRIGGER llm_providers_touch BEFORE UPDATE ON llm_providers
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Agent chats, on a track's page or about the library (track_id NULL). Messages keep the
-- provider-neutral content blocks (text, tool_use, tool_result) as a JSON array, so that a
-- conversation can continue on another provider after a fallback.
CREATE TABLE agent_conversations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    track_id        uuid,
    agent           identifier NOT NULL,   -- 'track_explainer', 'mix_planner', 'stem_advisor', ...
    title           text CONSTRAINT agent_conversations_title_length CHECK (length(title) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_conversations_track_fkey FOREIGN KEY (track_id, user_id)
        REFERENCES tracks (id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX agent_conversations_user_idx ON agent_conversations (user_id, updated_at DESC);
CREATE INDEX agent_conversations_track_idx ON agent_conversations (track_id) WHERE track_id IS NOT NULL;
CREATE TRIGGER agent_conversations_touch BEFORE UPDATE ON agent_conversations
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE agent_messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES agent_conversations ON DELETE CASCADE,
    role            text NOT NULL CONSTRAINT agent_messages_role_known CHECK (role IN ('user', 'assistant', 'tool')),
    content         jsonb NOT NULL
                    CONSTRAINT agent_messages_content_is_array CHECK (jsonb_typeof(content) = 'array'),
    -- Which provider and model answered (assistant messages). A name, not a foreign key,
    -- because providers from environment variables have no row.
    provider        text,
    model           text,
    input_tokens    integer CONSTRAINT agent_messages_input_tokens_not_negative CHECK (input_tokens >= 0),
    output_tokens   integer CONSTRAINT agent_messages_output_tokens_not_negative CHECK (output_tokens >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_messages_conversation_idx ON agent_messages (conversation_id, id);


-- Notifications and audit ------------------------------------------------------------------

-- A user's notifications (stage done or failed, pipeline complete ...). Upstream kept them in
-- memory and lost them on restart.
CREATE TABLE notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    kind            text NOT NULL
                    CONSTRAINT notifications_kind_known CHECK (kind IN ('info', 'success', 'warning', 'error')),
    title           text NOT NULL CONSTRAINT notifications_title_length CHECK (length(title) BETWEEN 1 AND 200),
    body            text,
    -- The track it is about; the notification goes with the track.
    track_id        uuid,
    data            jsonb NOT NULL DEFAULT '{}'
                    CONSTRAINT notifications_data_is_object CHECK (jsonb_typeof(data) = 'object'),
    read_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_track_fkey FOREIGN KEY (track_id, user_id)
        REFERENCES tracks (id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_track_idx ON notifications (track_id) WHERE track_id IS NOT NULL;

-- What was done, by whom, to what. Logins, role and status changes, token creation, job
-- retries and cancels, deletions, and the admin console's actor actions.
--
-- Rows outlive their actor. Deleting a user sets actor_id to NULL, and actor_kind = 'user'
-- then reads "a deleted user", so it is never confused with the server's own actions
-- ('system': cron, pruning). The target is a (type, id) pair and not a foreign key, because
-- the log must survive the deletion it records. target_id is text, because targets include
-- job ids, actor names and queues, not only uuids.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor_kind      text NOT NULL DEFAULT 'user'
                    CONSTRAINT audit_log_actor_kind_known CHECK (actor_kind IN ('user', 'system')),
    actor_id        uuid REFERENCES users ON DELETE SET NULL,
    -- A dotted name: 'user.login', 'user.role_changed', 'token.created', 'job.cancelled',
    -- 'actor.restarted', 'track.deleted' ...
    action          text NOT NULL
                    CONSTRAINT audit_log_action_shape CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$'),
    target_type     text CONSTRAINT audit_log_target_type_shape CHECK (target_type ~ '^[a-z][a-z0-9_]*$'),
    target_id       text,
    details         jsonb NOT NULL DEFAULT '{}'
                    CONSTRAINT audit_log_details_is_object CHECK (jsonb_typeof(details) = 'object'),
    ip              inet,
    CONSTRAINT audit_log_system_has_no_actor CHECK (actor_kind = 'user' OR actor_id IS NULL),
    CONSTRAINT audit_log_target_id_has_type CHECK (target_id IS NULL OR target_type IS NOT NULL)
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id);
