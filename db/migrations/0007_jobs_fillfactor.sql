-- 0007_jobs_fillfactor: leave room in each page of jobs for a row's next versions.
--
-- Every job row is written at least three times: inserted 'available', updated to
-- 'executing' by its claim, updated to 'completed' (or another final state) by its
-- acknowledgement. Each update changes `state`, which the partial indexes name, so none is a
-- HOT update; PostgreSQL still puts the new version on the row's own page when that page has
-- room. At the default fillfactor (100) inserts fill every page, so each new version goes to
-- another page. On a table whose old history was deleted and vacuumed (the pruner's and
-- autovacuum's work on any long-running server) that made the queue's combined
-- acknowledge-and-claim statement several times slower here: `soundforge bench queue
-- --turnover 4 --fillfactor 100` measured 7.4-9k no-op jobs/s from the third round on, and
-- 16-22k in every round with 70 (pg_stat_statements over three such rounds: 6.4-9.2 s in
-- that statement at 100 against 2.3-2.8 s at 70). Why the queue's name length matters to it
-- (8-character names show it, 14-character ones did not) is not understood.
-- 70 keeps room for a row's two updates until the page's dead versions are pruned.
--
-- Pages written from now on are filled to 70 %; the pruner turns the old ones over.

ALTER TABLE jobs SET (fillfactor = 70);
