-- fieldbot schema 2 (PostgreSQL): imported baseline counts of past years, and the outbox of scheduled sends.

-- Aggregate counts for councils that only have totals for earlier years (fieldbot import baseline).
-- They take part in fiscal-year reports and comparisons exactly like counted records (council-wide only).
CREATE TABLE baseline_counts (
    fiscal_year  INTEGER NOT NULL,
    dimension    TEXT COLLATE "C" NOT NULL CHECK (dimension IN
                   ('activity', 'destination', 'channel', 'consulter', 'consulter_category', 'topic', 'agency')),
    category     TEXT COLLATE "C" NOT NULL,         -- a code; for consulter_category "group/category" codes
    count        INTEGER NOT NULL CHECK (count >= 0),
    import_id    BIGINT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    PRIMARY KEY (fiscal_year, dimension, category)
);

-- Every scheduled message (digest parts, reminders) is claimed here before it is sent and marked after:
-- a restart neither repeats a send that happened nor skips one that did not.
CREATE TABLE outbox (
    key         TEXT COLLATE "C" PRIMARY KEY,       -- e.g. digest:2026-W47:123456:text
    kind        TEXT COLLATE "C" NOT NULL,
    chat_id     BIGINT NOT NULL,
    status      TEXT COLLATE "C" NOT NULL CHECK (status IN ('sending', 'sent', 'unknown', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 1,
    claimed_at  TEXT COLLATE "C" NOT NULL,
    sent_at     TEXT COLLATE "C",
    error       TEXT COLLATE "C"
);

-- Small facts about this installation (e.g. when it first started: no digest is due for weeks before that).
CREATE TABLE meta (
    key    TEXT COLLATE "C" PRIMARY KEY,
    value  TEXT COLLATE "C" NOT NULL
);
