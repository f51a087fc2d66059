-- fieldbot schema 16 (PostgreSQL twin of storage/sqlite/migrations/0016_used_form_links.sql): the note form's
-- links that have been used. A link is a sealed token naming its own purpose, person, subject and issue time;
-- what makes it usable once is its row here, written in the transaction that stores what the form posted (or
-- audits what it showed). Only the SHA-256 of a token is kept.

CREATE TABLE used_form_links (
    token_hash  TEXT COLLATE "C" PRIMARY KEY,
    purpose     TEXT COLLATE "C" NOT NULL,   -- draft, note or read
    staff_id    BIGINT NOT NULL,
    used_at     TEXT COLLATE "C" NOT NULL
);

-- A link is refused by its age long before its row is forgotten: rows older than that are pruned.
CREATE INDEX used_form_links_age ON used_form_links (used_at);
