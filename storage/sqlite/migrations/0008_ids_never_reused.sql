-- fieldbot schema 8: ids are never reused.
-- Without AUTOINCREMENT SQLite gives a new row the largest id + 1, so undoing the newest record freed its ids and
-- the next follow-up took the id of the one undone: its audit trail then mixed two residents and a reminder's
-- outbox key collided. SQLite cannot add AUTOINCREMENT to a table, so each table whose ids are named anywhere
-- (audit subjects, outbox keys, buttons) is rebuilt with it: the same columns, rows, indexes and triggers.
-- The migration runner applies migrations with foreign keys off and checks them before it commits.

CREATE TABLE submissions_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id    INTEGER NOT NULL REFERENCES staff (id),
    kind        TEXT NOT NULL CHECK (kind IN ('visit', 'consult')),
    memo        BLOB,                               -- sealed (AES-GCM): free text may name people
    created_at  TEXT NOT NULL,
    draft_id    INTEGER
);
INSERT INTO submissions_new (id, staff_id, kind, memo, created_at, draft_id)
    SELECT id, staff_id, kind, memo, created_at, draft_id FROM submissions;
DROP TABLE submissions;
ALTER TABLE submissions_new RENAME TO submissions;
CREATE INDEX submissions_draft ON submissions (draft_id);

CREATE TABLE outings_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id  INTEGER REFERENCES submissions (id) ON DELETE CASCADE,
    import_id      INTEGER REFERENCES imports (id) ON DELETE CASCADE,
    staff_id       INTEGER NOT NULL REFERENCES staff (id),
    date           TEXT NOT NULL,
    area           TEXT NOT NULL,
    activity       TEXT NOT NULL,
    destination    TEXT NOT NULL,
    headcount      INTEGER CHECK (headcount IS NULL OR headcount BETWEEN 0 AND 100000),
    created_at     TEXT NOT NULL,
    record_id      TEXT
);
INSERT INTO outings_new (id, submission_id, import_id, staff_id, date, area, activity, destination, headcount,
                         created_at, record_id)
    SELECT id, submission_id, import_id, staff_id, date, area, activity, destination, headcount, created_at,
           record_id FROM outings;
DROP TABLE outings;
ALTER TABLE outings_new RENAME TO outings;
CREATE INDEX outings_date ON outings (date, area, activity, destination);
CREATE INDEX outings_staff_date ON outings (staff_id, date);
CREATE INDEX outings_submission ON outings (submission_id);
CREATE UNIQUE INDEX outings_record_id ON outings (record_id);
CREATE TRIGGER outings_record_id AFTER INSERT ON outings FOR EACH ROW WHEN NEW.record_id IS NULL
BEGIN
    UPDATE outings SET record_id = 'o-' || lower(hex(randomblob(16))) WHERE id = NEW.id;
END;

CREATE TABLE consultations_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id       INTEGER REFERENCES submissions (id) ON DELETE CASCADE,
    import_id           INTEGER REFERENCES imports (id) ON DELETE CASCADE,
    outing_id           INTEGER REFERENCES outings (id) ON DELETE CASCADE,
    staff_id            INTEGER NOT NULL REFERENCES staff (id),
    date                TEXT NOT NULL,
    area                TEXT NOT NULL,
    channel             TEXT NOT NULL,
    consulter           TEXT NOT NULL,
    consulter_category  TEXT,
    topic               TEXT,
    at_outing           INTEGER NOT NULL CHECK (at_outing IN (0, 1)),
    created_at          TEXT NOT NULL,
    record_id           TEXT
);
INSERT INTO consultations_new (id, submission_id, import_id, outing_id, staff_id, date, area, channel, consulter,
                               consulter_category, topic, at_outing, created_at, record_id)
    SELECT id, submission_id, import_id, outing_id, staff_id, date, area, channel, consulter, consulter_category,
           topic, at_outing, created_at, record_id FROM consultations;
DROP TABLE consultations;
ALTER TABLE consultations_new RENAME TO consultations;
CREATE INDEX consultations_staff_date ON consultations (staff_id, date);
CREATE INDEX consultations_submission ON consultations (submission_id);
CREATE INDEX consultations_outing ON consultations (outing_id);
CREATE INDEX consultations_report ON consultations (date, area, channel, consulter, consulter_category, topic, at_outing);
CREATE UNIQUE INDEX consultations_record_id ON consultations (record_id);
CREATE TRIGGER consultations_record_id AFTER INSERT ON consultations FOR EACH ROW WHEN NEW.record_id IS NULL
BEGIN
    UPDATE consultations SET record_id = 'c-' || lower(hex(randomblob(16))) WHERE id = NEW.id;
END;

CREATE TABLE followups_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    consultation_id  INTEGER REFERENCES consultations (id) ON DELETE CASCADE,
    owner_id         INTEGER NOT NULL REFERENCES staff (id),
    area             TEXT NOT NULL,
    label            TEXT NOT NULL,                 -- pseudonymous, never a full name
    due_date         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    outcome          TEXT,
    created_at       TEXT NOT NULL,
    closed_at        TEXT,
    reason           BLOB,                          -- sealed (AES-GCM)
    reminded_on      TEXT,
    updated_at       TEXT,
    erased_at        TEXT
);
INSERT INTO followups_new (id, consultation_id, owner_id, area, label, due_date, status, outcome, created_at,
                           closed_at, reason, reminded_on, updated_at, erased_at)
    SELECT id, consultation_id, owner_id, area, label, due_date, status, outcome, created_at, closed_at, reason,
           reminded_on, updated_at, erased_at FROM followups;
DROP TABLE followups;
ALTER TABLE followups_new RENAME TO followups;
CREATE INDEX followups_owner ON followups (owner_id, status, due_date);
CREATE INDEX followups_consultation ON followups (consultation_id);
CREATE INDEX followups_open_due ON followups (status, due_date);
CREATE INDEX followups_area ON followups (area, status);
CREATE INDEX followups_closed ON followups (status, closed_at);

CREATE TABLE followup_notes_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    followup_id  INTEGER NOT NULL REFERENCES followups (id) ON DELETE CASCADE,
    author_id    INTEGER NOT NULL REFERENCES staff (id),
    body         BLOB NOT NULL,                     -- sealed (AES-GCM)
    created_at   TEXT NOT NULL
);
INSERT INTO followup_notes_new (id, followup_id, author_id, body, created_at)
    SELECT id, followup_id, author_id, body, created_at FROM followup_notes;
DROP TABLE followup_notes;
ALTER TABLE followup_notes_new RENAME TO followup_notes;
CREATE INDEX followup_notes_followup ON followup_notes (followup_id, created_at);

CREATE TABLE drafts_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id    INTEGER NOT NULL UNIQUE REFERENCES staff (id) ON DELETE CASCADE,
    chat_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    state       BLOB NOT NULL,                      -- sealed JSON of the flow's state (answers typed so far)
    version     INTEGER NOT NULL,                   -- bumps on every change; buttons carry it
    message_id  INTEGER,                            -- the message showing the current question
    boot_id     TEXT NOT NULL,                      -- the process run that last touched it
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
INSERT INTO drafts_new (id, staff_id, chat_id, kind, state, version, message_id, boot_id, created_at, updated_at)
    SELECT id, staff_id, chat_id, kind, state, version, message_id, boot_id, created_at, updated_at FROM drafts;
DROP TABLE drafts;
ALTER TABLE drafts_new RENAME TO drafts;

CREATE TABLE invites_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash   TEXT NOT NULL UNIQUE,               -- sha256 of the code; the code itself is never stored
    role        TEXT NOT NULL CHECK (role IN ('staff', 'supervisor', 'admin')),
    zone        TEXT,
    created_by  INTEGER NOT NULL REFERENCES staff (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_by     INTEGER REFERENCES staff (id),
    used_at     TEXT
);
INSERT INTO invites_new (id, code_hash, role, zone, created_by, created_at, expires_at, used_by, used_at)
    SELECT id, code_hash, role, zone, created_by, created_at, expires_at, used_by, used_at FROM invites;
DROP TABLE invites;
ALTER TABLE invites_new RENAME TO invites;
