-- fieldbot schema 1: staff and access, outings and consultations, follow-up flags, drafts, processed updates.
-- Free text that may name a person is stored sealed (AES-GCM, see domain/crypto.py), never in clear.
-- Dates of events (`date`, `due_date`) are local calendar dates YYYY-MM-DD; instants (`*_at`) are UTC ISO 8601.
-- Category columns hold taxonomy codes, never labels, so editing a label never rewrites history.

CREATE TABLE staff (
    id              INTEGER PRIMARY KEY,
    telegram_id     INTEGER UNIQUE,                 -- NULL for staff created by an import (no access)
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('staff', 'supervisor', 'admin')),
    zone            TEXT,                           -- NULL: every zone
    area            TEXT,                           -- home area, pre-filled in flows
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    imported        INTEGER NOT NULL DEFAULT 0 CHECK (imported IN (0, 1)),
    created_at      TEXT NOT NULL,
    deactivated_at  TEXT
);
CREATE UNIQUE INDEX staff_imported_name ON staff (name) WHERE imported = 1;

CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    code_hash   TEXT NOT NULL UNIQUE,               -- sha256 of the code; the code itself is never stored
    role        TEXT NOT NULL CHECK (role IN ('staff', 'supervisor', 'admin')),
    zone        TEXT,
    created_by  INTEGER NOT NULL REFERENCES staff (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_by     INTEGER REFERENCES staff (id),
    used_at     TEXT
);

-- One row per completed flow: undo deletes it and everything it saved.
CREATE TABLE submissions (
    id          INTEGER PRIMARY KEY,
    staff_id    INTEGER NOT NULL REFERENCES staff (id),
    kind        TEXT NOT NULL CHECK (kind IN ('visit', 'consult')),
    memo        BLOB,                               -- sealed (AES-GCM): free text may name people
    created_at  TEXT NOT NULL
);

CREATE TABLE imports (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    filename     TEXT NOT NULL,
    rows         INTEGER NOT NULL,
    imported_at  TEXT NOT NULL,
    UNIQUE (kind, sha256)
);

CREATE TABLE outings (
    id             INTEGER PRIMARY KEY,
    submission_id  INTEGER REFERENCES submissions (id) ON DELETE CASCADE,
    import_id      INTEGER REFERENCES imports (id) ON DELETE CASCADE,
    staff_id       INTEGER NOT NULL REFERENCES staff (id),
    date           TEXT NOT NULL,
    area           TEXT NOT NULL,
    activity       TEXT NOT NULL,
    destination    TEXT NOT NULL,
    headcount      INTEGER CHECK (headcount IS NULL OR headcount BETWEEN 0 AND 100000),
    created_at     TEXT NOT NULL
);
CREATE INDEX outings_date ON outings (date, area, activity, destination);
CREATE INDEX outings_staff_date ON outings (staff_id, date);
CREATE INDEX outings_submission ON outings (submission_id);

CREATE TABLE consultations (
    id                  INTEGER PRIMARY KEY,
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
    created_at          TEXT NOT NULL
);
CREATE INDEX consultations_date ON consultations (date, area);
CREATE INDEX consultations_staff_date ON consultations (staff_id, date);
CREATE INDEX consultations_submission ON consultations (submission_id);
CREATE INDEX consultations_outing ON consultations (outing_id);

CREATE TABLE consultation_agencies (
    consultation_id  INTEGER NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    agency           TEXT NOT NULL,
    PRIMARY KEY (consultation_id, agency)
) WITHOUT ROWID;

CREATE TABLE followups (
    id               INTEGER PRIMARY KEY,
    consultation_id  INTEGER REFERENCES consultations (id) ON DELETE CASCADE,
    owner_id         INTEGER NOT NULL REFERENCES staff (id),
    area             TEXT NOT NULL,
    label            TEXT NOT NULL,                 -- pseudonymous, never a full name
    due_date         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    outcome          TEXT,
    created_at       TEXT NOT NULL,
    closed_at        TEXT
);
CREATE INDEX followups_owner ON followups (owner_id, status, due_date);
CREATE INDEX followups_consultation ON followups (consultation_id);

-- A flow in progress: one per staff member, saved after every answer.
CREATE TABLE drafts (
    id          INTEGER PRIMARY KEY,
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

-- Every update fetched from the Bot API is written here before the next getUpdates confirms it, so an
-- update fetched but not yet processed when the process dies is processed at the next start.
CREATE TABLE inbox (
    bot_id       INTEGER NOT NULL,
    update_id    INTEGER NOT NULL,
    payload      BLOB NOT NULL,                     -- the update as sealed JSON (it holds what people typed)
    received_at  TEXT NOT NULL,
    PRIMARY KEY (bot_id, update_id)
) WITHOUT ROWID;

-- Telegram may deliver an update again after a restart: the ids already acted on.
CREATE TABLE processed_updates (
    bot_id        INTEGER NOT NULL,
    update_id     INTEGER NOT NULL,
    processed_at  TEXT NOT NULL,
    PRIMARY KEY (bot_id, update_id)
) WITHOUT ROWID;
