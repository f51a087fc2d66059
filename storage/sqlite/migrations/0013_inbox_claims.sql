-- fieldbot schema 13: the inbox as a queue that several workers share (`fieldbot serve`, `fieldbot work`).
-- A webhook update is kept here before Telegram is told it arrived; a worker claims it for a while (a lease),
-- handles it and marks it handled. One person's updates are claimed one at a time, in update order: an update
-- is claimable only when no earlier update of the same ordering key is still open and none is claimed.

-- Whose update it is (the user for private chats and button presses, else the chat; bot/processor.py
-- update_key): the ordering key. NULL: no person, no order to keep.
ALTER TABLE inbox ADD COLUMN chat_key INTEGER;
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;          -- the worker handling it (host:pid:boot)
ALTER TABLE inbox ADD COLUMN claim_expires TEXT;       -- its lease: past this, a live worker takes it over
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;  -- claims so far (a poison update gives up)
ALTER TABLE inbox ADD COLUMN handled_at TEXT;          -- done: nothing more to do for it

-- Rows kept by long polling before this schema were settled by the processed set: mark those handled.
UPDATE inbox SET handled_at = received_at
WHERE EXISTS (SELECT 1 FROM processed_updates p WHERE p.bot_id = inbox.bot_id AND p.update_id = inbox.update_id);

-- Open rows first: what a claim reads stays as small as the backlog, however long the inbox grows. IS NULL is an
-- equality for an index, so a claim reaches the open unclaimed rows of a bot, and the open rows of a person,
-- directly; the trailing columns make both indexes cover what the claim reads.
CREATE INDEX inbox_open ON inbox (bot_id, handled_at, claimed_by, update_id, chat_key, claim_expires);
CREATE INDEX inbox_open_by_key ON inbox (bot_id, chat_key, handled_at, update_id, claimed_by);
