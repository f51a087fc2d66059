-- fieldbot schema 15: the inbox's open rows found without passing over handled ones.
-- Workers look for the next open update at every claim. The indexes of schema 13 held every row, handled or not,
-- with the claim's columns as keys, so every claim, renewal and release rewrote their entries; on PostgreSQL each
-- such write also leaves a dead entry that every later search passes over until the table is vacuumed (measured:
-- the claim's search from 0.8 to 3 ms within a minute at 200 steps a second). Partial indexes of the open rows
-- alone, keyed by what the searches order and join on, change only when an update arrives or is handled.
DROP INDEX inbox_open;
DROP INDEX inbox_open_by_key;
CREATE INDEX inbox_open ON inbox (bot_id, update_id) WHERE handled_at IS NULL;
CREATE INDEX inbox_open_by_key ON inbox (bot_id, chat_key, update_id) WHERE handled_at IS NULL;
