-- fieldbot schema 16: the note form's links that have been used (core/webapp.py). A link is a sealed token that
-- names its own purpose, person, draft step or follow-up and issue time, so nothing is written when one is shown;
-- what makes it usable once is its row here, written in the transaction that stores what the form posted (or
-- audits what it showed). Only the SHA-256 of a token is kept: a copy of the database opens no form.

CREATE TABLE used_form_links (
    token_hash  TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,   -- draft (a flow's personal text), note (a follow-up's note), read (its details)
    staff_id    INTEGER NOT NULL,
    used_at     TEXT NOT NULL
) WITHOUT ROWID;

-- A link is refused by its age long before its row is forgotten: rows older than that are pruned.
CREATE INDEX used_form_links_age ON used_form_links (used_at);
