-- The job queue (soundforge.queue): Oban's jobs table, plus the nodes that run queues.
--
-- No foreign keys to other tables: a job names its subject in args (e.g. {"track_id": 42}),
-- so domain rows and jobs can be pruned on their own schedules.

CREATE TABLE jobs (
    id            bigserial PRIMARY KEY,
    -- Oban's states (a CHECK, not an enum type: 0001_core.sql's convention):
    --   available  may run now
    --   scheduled  waits for scheduled_at (inserted for later, or snoozed)
    --   executing  claimed by the node in attempted_by
    --   retryable  failed; waits for scheduled_at (its backoff) to run again
    --   completed, cancelled
    --   discarded  failed max_attempts times (or rescued with none left)
    state         text        NOT NULL DEFAULT 'available',
    queue         text        NOT NULL DEFAULT 'default',
    worker        text        NOT NULL,
    args          jsonb       NOT NULL DEFAULT '{}',
    meta          jsonb       NOT NULL DEFAULT '{}',
    priority      smallint    NOT NULL DEFAULT 0,
    attempt       integer     NOT NULL DEFAULT 0,
    max_attempts  integer     NOT NULL DEFAULT 20,
    -- One entry per failed attempt: {attempt, at, kind, message, traceback}.
    errors        jsonb       NOT NULL DEFAULT '[]',
    inserted_at   timestamptz NOT NULL DEFAULT now(),
    scheduled_at  timestamptz NOT NULL DEFAULT now(),
    attempted_at  timestamptz,
    attempted_by  text,
    completed_at  timestamptz,
    cancelled_at  timestamptz,
    discarded_at  timestamptz,
    -- sha256 of (worker, queue, the unique args) for workers that declare uniqueness.
    unique_key    text,
    CONSTRAINT jobs_state_known CHECK (state IN ('available', 'scheduled', 'executing',
        'retryable', 'completed', 'discarded', 'cancelled')),
    CONSTRAINT jobs_priority_range CHECK (priority BETWEEN 0 AND 9),
    CONSTRAINT jobs_attempt_range CHECK (attempt >= 0 AND max_attempts > 0),
    CONSTRAINT jobs_worker_length CHECK (char_length(worker) BETWEEN 1 AND 255),
    CONSTRAINT jobs_queue_length CHECK (char_length(queue) BETWEEN 1 AND 255)
);

-- Fetch: a producer claims ORDER BY priority, scheduled_at, id within its queue. Partial on
-- 'available' so the index holds only runnable jobs and stays small however long the
-- history grows (state is the predicate, so it is not repeated as a key column).
CREATE INDEX jobs_fetch ON jobs (queue, priority, scheduled_at, id) WHERE state = 'available';

-- Staging: scheduled and retryable jobs that have become due.
CREATE INDEX jobs_stage ON jobs (queue, scheduled_at) WHERE state IN ('scheduled', 'retryable');

-- Lifeline and producer reconciliation: the executing jobs of one node.
CREATE INDEX jobs_executing ON jobs (attempted_by, queue) WHERE state = 'executing';

-- Uniqueness checks (under an advisory transaction lock on the key; see engine.py).
CREATE INDEX jobs_unique_key ON jobs (unique_key, inserted_at) WHERE unique_key IS NOT NULL;

-- NOTIFY on insert wakes the producers of the queue at once. A statement trigger sends one
-- notification per queue and statement; PostgreSQL delivers it only when the inserting
-- transaction commits (a rollback sends nothing) and folds duplicates within a transaction.
CREATE FUNCTION jobs_notify_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    q text;
BEGIN
    FOR q IN SELECT DISTINCT queue FROM inserted WHERE state = 'available' LOOP
        PERFORM pg_notify('soundforge_queue', json_build_object('kind', 'insert', 'queue', q)::text);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify_insert
    AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_insert();

-- Nodes running queues heartbeat here; the Lifeline rescues the executing jobs of a node
-- whose heartbeat is older than the rescue timeout, or that were claimed by an earlier run
-- of a node (attempted_at before its started_at).
CREATE TABLE queue_nodes (
    name          text        PRIMARY KEY,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    queues        jsonb       NOT NULL DEFAULT '{}'
);
