-- Cross-node PubSub: broadcasts too large for one NOTIFY (PostgreSQL's limit is 8000 bytes)
-- are passed by reference. The sending node inserts the envelope here and NOTIFYs its id;
-- receivers fetch it by id (soundforge/actors/pg_pubsub.py).
--
-- UNLOGGED: the rows live for about a minute and delivery is at-most-once, so they are not
-- worth WAL; a crash truncates the table, which only loses messages already in flight.
-- No index on inserted_at: every bridge prunes rows older than a minute, so the table stays
-- small enough that the pruning DELETE's sequential scan is cheaper than an index to keep.
CREATE UNLOGGED TABLE pubsub_payloads (
    id          bigserial   PRIMARY KEY,
    payload     bytea       NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
