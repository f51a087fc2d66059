-- fieldbot schema 2: imported baseline counts of past years, and the outbox of scheduled sends.

-- Aggregate counts for councils that only have totals for earlier years (fieldbot import baseline).
-- They take part in fiscal-year reports and comparisons exactly like counted records (council-wide only).
CREATE TABLE baseline_counts (
    fiscal_year  INTEGER NOT NULL,
    dimension    TEXT NOT NULL CHECK (dimension IN
                   ('activity', 'destination', 'channel', 'consulter', 'consulter_category', 'topic', 'agency')),
    category     TEXT NOT NULL,                     -- a code; for consulter_category "group/category" codes
    count        INTEGER NOT NULL CHECK (count >= 0),
    import_id    INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    PRIMARY KEY (fiscal_year, dimension, category)
) WITHOUT ROWID;

-- Every scheduled message (digest parts, reminders) is claimed here before it is sent and marked after:
-- a restart neither repeats a send that happened nor skips one that did not.
CREATE TABLE outbox (
    key         TEXT PRIMARY KEY,                   -- e.g. digest:2026-W47:123456:text
    kind        TEXT NOT NULL,
    chat_id     INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'unknown', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 1,
    claimed_at  TEXT NOT NULL,
    sent_at     TEXT,
    error       TEXT
) WITHOUT ROWID;

-- Small facts about this installation (e.g. when it first started: no digest is due for weeks before that).
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
