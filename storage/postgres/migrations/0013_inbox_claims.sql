-- fieldbot schema 13 (PostgreSQL twin of storage/sqlite/migrations/0013_inbox_claims.sql): the inbox as a queue
-- that several workers share (`fieldbot serve`, `fieldbot work`). A webhook update is kept here before Telegram is
-- told it arrived; a worker claims it for a while (a lease), handles it and marks it handled. One person's updates
-- are claimed one at a time, in update order.

-- Whose update it is (the user for private chats and button presses, else the chat): the ordering key. NULL: no
-- person, no order to keep. A Telegram chat id needs 64 bits.
ALTER TABLE inbox ADD COLUMN chat_key BIGINT;
ALTER TABLE inbox ADD COLUMN claimed_by TEXT COLLATE "C";          -- the worker handling it (host:pid:boot)
ALTER TABLE inbox ADD COLUMN claim_expires TEXT COLLATE "C";       -- its lease: past this, a live worker takes it
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;  -- claims so far (a poison update gives up)
ALTER TABLE inbox ADD COLUMN handled_at TEXT COLLATE "C";          -- done: nothing more to do for it

-- Rows kept by long polling before this schema were settled by the processed set: mark those handled.
UPDATE inbox SET handled_at = received_at
WHERE EXISTS (SELECT 1 FROM processed_updates p WHERE p.bot_id = inbox.bot_id AND p.update_id = inbox.update_id);

-- Open rows first: what a claim reads stays as small as the backlog, however long the inbox grows.
CREATE INDEX inbox_open ON inbox (bot_id, handled_at, claimed_by, update_id, chat_key, claim_expires);
CREATE INDEX inbox_open_by_key ON inbox (bot_id, chat_key, handled_at, update_id, claimed_by);
