-- fieldbot schema 10: the register of places (活動先) staff go out to: a named salon, 居場所, area council or group.
-- Places are public activities, not personal data: stored in clear. `kind` is the 支援先 (destination) code it
-- counts as, so every report by 支援先 stays as it is; an outing to a place takes the place's kind.
-- A place is never deleted (a closed one stays in the reports of the periods it was active); its name may change
-- without changing any count (outings point at the place's id, not its name).

CREATE TABLE places (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    kind        TEXT NOT NULL,                      -- a destination code
    area        TEXT NOT NULL,
    organiser   TEXT CHECK (organiser IS NULL OR length(organiser) <= 64),
    status      TEXT NOT NULL CHECK (status IN ('preparing', 'active', 'paused', 'ended')),
    started_on  TEXT,                               -- 立ち上げ (YYYY-MM-DD)
    ended_on    TEXT,                               -- 休止/終了
    confirmed   INTEGER NOT NULL DEFAULT 1 CHECK (confirmed IN (0, 1)),  -- 0: added during an outing, to confirm
    created_by  INTEGER REFERENCES staff (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX places_area_name ON places (area, name);

ALTER TABLE outings ADD COLUMN place_id INTEGER REFERENCES places (id);
CREATE INDEX outings_place_date ON outings (place_id, date);
CREATE INDEX outings_staff_place ON outings (staff_id, place_id, date);
