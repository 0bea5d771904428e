-- 0005_library_versions: a version number per user's library, moved by every change the list
-- of their tracks shows (soundforge/music/library/_versions.py, soundforge/web/api/tracks.py).
--
-- The library list (`GET /api/v1/tracks`, the dashboard's pages) is the hottest read of the
-- product: 50 tracks, each with its analysis and the latest job of each pipeline stage. The
-- web endpoint keeps the pages it has sent and sends one again only while the owner's version
-- is the one it was built at, so a repeated read costs one index lookup instead of the page
-- query. The version moves in the same transaction as the change itself, whatever makes it:
-- a request on any node, a pipeline job on a worker node, the queue's lifeline or pruner, a
-- person with psql. A reader therefore never gets a page older than its own last write, and
-- no event has to reach the cache for it to be right.
--
-- What the list shows, and so what moves the version:
--   * tracks: any row change (title, status, error, source...), insert and delete;
--   * analyses: the current analysis's tempo, key, Camelot code and loudness;
--   * jobs of a track (job_track_id(args) IS NOT NULL, 0004): state, attempt, progress
--     and label (meta), errors, times; a new job (retry, re-separation) and a pruned one.
-- Jobs without a track (cron jobs, other workers, the queue benchmark's no-op jobs) only
-- evaluate the triggers' WHEN condition, which is one jsonb lookup of a missing key.
--
-- No foreign key to users: deleting a user deletes its tracks, whose triggers would insert
-- the row again inside that very statement. An orphaned row (a deleted user's) is 40 bytes
-- and never read again: ids are random uuids.

CREATE TABLE library_versions (
    user_id uuid PRIMARY KEY,
    version bigint NOT NULL
);

CREATE FUNCTION bump_library_version(owner uuid) RETURNS void
LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO library_versions (user_id, version) VALUES (owner, 1)
    ON CONFLICT (user_id) DO UPDATE SET version = library_versions.version + 1;
END;

CREATE FUNCTION library_versions_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM bump_library_version(OLD.user_id);
    ELSE
        PERFORM bump_library_version(NEW.user_id);
        IF TG_OP = 'UPDATE' AND OLD.user_id IS DISTINCT FROM NEW.user_id THEN
            PERFORM bump_library_version(OLD.user_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- analyses carries its track's owner (user_id), so the same function serves both tables.
CREATE TRIGGER library_versions_tracks
    AFTER INSERT OR UPDATE OR DELETE ON tracks
    FOR EACH ROW EXECUTE FUNCTION library_versions_track();

CREATE TRIGGER library_versions_analyses
    AFTER INSERT OR UPDATE OR DELETE ON analyses
    FOR EACH ROW EXECUTE FUNCTION library_versions_track();

CREATE FUNCTION library_versions_job() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
BEGIN
    IF TG_OP = 'DELETE' THEN job := OLD; ELSE job := NEW; END IF;
    PERFORM bump_library_version(t.user_id)
    FROM tracks t WHERE t.id = job_track_id(job.args);
    RETURN NULL;
END;
$$;

-- Two triggers because a WHEN condition may name NEW only for inserts and updates, and OLD
-- only for deletes. `args ? 'track_id'` is the cheap test; the function applies the exact
-- one (job_track_id) through the tracks' primary key.
CREATE TRIGGER library_versions_jobs
    AFTER INSERT OR UPDATE ON jobs
    FOR EACH ROW WHEN (NEW.args ? 'track_id')
    EXECUTE FUNCTION library_versions_job();

CREATE TRIGGER library_versions_jobs_deleted
    AFTER DELETE ON jobs
    FOR EACH ROW WHEN (OLD.args ? 'track_id')
    EXECUTE FUNCTION library_versions_job();
