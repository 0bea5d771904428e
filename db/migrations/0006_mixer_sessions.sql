-- 0006_mixer_sessions: the studio's mixer sessions, kept across restarts (docs/studio.md).
--
-- A mixer session is one user's control values for one thing: the player of one track
-- (key 'track:<uuid>': stem volumes, mutes, solos, loop, rate, pitch, practice settings) or
-- the DJ console (key 'dj': both decks, crossfader). The MixerState actor holding a session
-- writes its values here a moment after they change and when it stops, so a crash, a restart
-- or opening the track next week brings them back. Deleting the track deletes its session.

CREATE TABLE mixer_sessions (
    user_id     uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    key         text NOT NULL
                CONSTRAINT mixer_sessions_key_shape
                CHECK (key = 'dj' OR key ~ '^track:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    track_id    uuid REFERENCES tracks ON DELETE CASCADE,
    -- The session's flat control values by path ({"stem.vocals.volume": 0.8, ...}).
    "values"    jsonb NOT NULL DEFAULT '{}'
                CONSTRAINT mixer_sessions_values_is_object CHECK (jsonb_typeof("values") = 'object'),
    -- The last version broadcast, so that a restarted session keeps counting up.
    version     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key),
    CONSTRAINT mixer_sessions_track_matches_key
        CHECK ((key = 'dj' AND track_id IS NULL) OR key = 'track:' || track_id::text)
);
CREATE INDEX mixer_sessions_track_idx ON mixer_sessions (track_id) WHERE track_id IS NOT NULL;
