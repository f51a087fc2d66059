-- fieldbot schema 3: the follow-up lifecycle (reason, notes, reminders, outcome, retention) and the audit log.

ALTER TABLE followups ADD COLUMN reason BLOB;          -- sealed (AES-GCM)
ALTER TABLE followups ADD COLUMN reminded_on TEXT;     -- the local date of the last reminder sent
ALTER TABLE followups ADD COLUMN updated_at TEXT;
ALTER TABLE followups ADD COLUMN erased_at TEXT;       -- personal text erased after the retention period
CREATE INDEX followups_open_due ON followups (status, due_date);
CREATE INDEX followups_area ON followups (area, status);
CREATE INDEX followups_closed ON followups (status, closed_at);

CREATE TABLE followup_notes (
    id           INTEGER PRIMARY KEY,
    followup_id  INTEGER NOT NULL REFERENCES followups (id) ON DELETE CASCADE,
    author_id    INTEGER NOT NULL REFERENCES staff (id),
    body         BLOB NOT NULL,                     -- sealed (AES-GCM)
    created_at   TEXT NOT NULL
);
CREATE INDEX followup_notes_followup ON followup_notes (followup_id, created_at);

-- Who read or changed personal data, and when. Details never hold the personal text itself.
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor_id  INTEGER REFERENCES staff (id),        -- NULL: the program itself (retention) or the command line
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,                        -- e.g. followup:12
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);

-- A button that asks for typed text (a note, a due date) waits here for the next message of that person.
-- Apart from drafts, so that a note on a reminder never disturbs an outing being recorded.
CREATE TABLE pending_inputs (
    staff_id     INTEGER PRIMARY KEY REFERENCES staff (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('note', 'due')),
    followup_id  INTEGER NOT NULL REFERENCES followups (id) ON DELETE CASCADE,
    message_id   INTEGER,
    created_at   TEXT NOT NULL
) WITHOUT ROWID;
