-- 0008_jobs_executing_by_node: the executing-jobs index serves only queries that ask for
-- executing jobs *with a node* (attempted_by), never the acknowledgements.
--
-- An acknowledgement finds its rows by id (`UPDATE jobs ... FROM unnest(ids, attempts) ...
-- WHERE jobs.id = a.id AND jobs.state = 'executing'`). Its `state = 'executing'` matched the
-- old index's predicate, so the planner could also scan every executing job through
-- jobs_executing and join them with the unnested ids. Right after an ANALYZE that saw no
-- executing job, the estimate is one row, and PostgreSQL's plan cache then settles on a
-- generic plan that does exactly that in a nested loop: 250 acknowledged ids against 250
-- executing rows (and the index's dead entries) is 62,500 comparisons, 50-110 µs per job
-- instead of 8-14 (measured with `soundforge bench queue`'s statements in a loop).
--
-- With `attempted_by IS NOT NULL` in the predicate, a statement can use the index only if it
-- implies that: the node's own queries name the node (`attempted_by = $node`, which a strict
-- operator proves non-null), the others (rescue, the dashboard's counts) say it outright.
-- Every executing job has attempted_by set (the claim sets both), so no job leaves the index.
-- The acknowledgements, which name neither, are left with the primary key: one index probe
-- per acknowledged id, whatever the statistics say.
--
-- The index is rebuilt in this file's transaction, locking jobs against writes while it
-- builds; it holds only the executing jobs, so the build is one pass over the table.

DROP INDEX jobs_executing;

CREATE INDEX jobs_executing ON jobs (attempted_by, queue)
    WHERE state = 'executing' AND attempted_by IS NOT NULL;
