-- 0004_library: finding a track's jobs (soundforge/music/library.py).
--
-- Jobs reference their track only through args->>'track_id' (0002_jobs.sql has no foreign
-- keys, on purpose), and none of 0002's indexes covers args. The library needs a track's
-- jobs on its hottest path: every page of the dashboard and of the JSON API shows the latest
-- job of each stage for 50 tracks, and every job command (retry, cancel, delete, re-separate)
-- checks ownership by joining a job to its track. Without an index each of those is a scan of
-- the whole job history.
--
-- job_track_id(args) is the job's track as a uuid, or NULL when args has none or it is not a
-- canonical uuid (the pipeline writes tracks.id::text, lower-case with hyphens). A uuid and
-- not text so that `tracks.id = job_track_id(jobs.args)` is an equality on the tracks'
-- primary key type, usable from either side, and a malformed value from some other worker
-- yields NULL instead of a cast error. The function is a single SQL expression, so the
-- planner inlines it and the index below matches the queries that call it.
--
-- The index is partial: jobs without a track (cron jobs, other workers, the queue's
-- benchmarks) are not in it, so it costs them nothing beyond evaluating the predicate.
-- Ordered by id within a track: "the latest job of each stage" and "all jobs of the track,
-- oldest first" read it in order, and a track has a handful of jobs.
--
-- Building it locks jobs against writes for the build's duration; the pruner keeps the
-- table's history bounded, so this is short.

CREATE FUNCTION job_track_id(args jsonb) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN args ->> 'track_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    THEN (args ->> 'track_id')::uuid
END;

CREATE INDEX jobs_track_idx ON jobs (job_track_id(args), id)
    WHERE job_track_id(args) IS NOT NULL;
