-- fieldbot schema 12: the one typed answer a /places button is waiting for (a new place's name, a new name for a
-- place), kept apart from the flow's draft and from follow-ups' pending inputs. Place names are public.

CREATE TABLE place_inputs (
    staff_id    INTEGER PRIMARY KEY REFERENCES staff (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('add', 'rename')),
    place_id    INTEGER REFERENCES places (id) ON DELETE CASCADE,  -- rename: the place
    name        TEXT,                                              -- add: the name typed, once typed
    place_kind  TEXT,                                              -- add: the 支援先 chosen, once chosen
    created_at  TEXT NOT NULL
) WITHOUT ROWID;
