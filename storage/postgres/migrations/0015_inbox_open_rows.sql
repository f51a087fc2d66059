-- fieldbot schema 15 (PostgreSQL): the inbox's open rows found without passing over handled ones.
-- Workers look for the next open update at every claim. The indexes of schema 13 held every row, handled or not,
-- with the claim's columns as keys, so every claim, renewal and release rewrote their entries and left a dead
-- entry that every later search passed over until the table was vacuumed (measured: the claim's search from 0.8
-- to 3 ms within a minute at 200 steps a second). Partial indexes of the open rows alone, keyed by what the
-- searches order and join on, change only when an update arrives or is handled; a claim or a renewal touches no
-- indexed column and, with room left on its page, is a heap-only update. The inbox is a queue: it is vacuumed
-- after a fixed number of changed rows rather than a fifth of the table, which grows with a day of updates.
DROP INDEX inbox_open;
DROP INDEX inbox_open_by_key;
CREATE INDEX inbox_open ON inbox (bot_id, update_id) WHERE handled_at IS NULL;
CREATE INDEX inbox_open_by_key ON inbox (bot_id, chat_key, update_id) WHERE handled_at IS NULL;
ALTER TABLE inbox SET (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 2000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 2000
);
