-- fieldbot schema 12 (PostgreSQL): the one typed answer a /places button is waiting for (a new place's name, a new
-- name for a place), kept apart from the flow's draft and from follow-ups' pending inputs. Place names are public.

CREATE TABLE place_inputs (
    staff_id    BIGINT PRIMARY KEY REFERENCES staff (id) ON DELETE CASCADE,
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('add', 'rename')),
    place_id    BIGINT REFERENCES places (id) ON DELETE CASCADE,  -- rename: the place
    name        TEXT COLLATE "C",                                 -- add: the name typed, once typed
    place_kind  TEXT COLLATE "C",                                 -- add: the 支援先 chosen, once chosen
    created_at  TEXT COLLATE "C" NOT NULL
);
