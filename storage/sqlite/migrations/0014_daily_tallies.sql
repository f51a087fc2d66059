-- fieldbot schema 14: reports read tallies, not records. Every figure of a report (see core/counts.py) is a sum of
-- counts per day, area and counted category, kept in the same transaction as each write that changes what is
-- counted (a save, its undo, an import): storage/sqlite/tallies.py holds that code and `fieldbot tallies rebuild`,
-- which recomputes them from the records with the same SELECT as the one below.
--
-- One row per (area, day, dimension, category, sub) with its count `n` (never 0: a row whose count drops to 0
-- is deleted). `area` '*' is the whole council (every area, also one no taxonomy has any more), so a
-- council-wide report reads one row per category and day, not one per area. The dimensions:
--   activity, destination      outings              category: the code                sub: ''
--   channel, consulter         consultations        category: the code                sub: ''
--   consulter_category         consultations        category: the consulter group     sub: its category (none: no row)
--   agency                     consultations        category: the consulter group     sub: from_agency, '?' if none
--   topic                      consultations        category: the consulter group     sub: topic, '?' if none
--   at_outing                  consultations at outings                                category and sub: ''
--   referral                   consultation-agency links   category: the agency       sub: ''
-- (agency and topic are kept for every group: which group came from an agency is the taxonomy's choice, made
-- when reading.) The number of outings is the sum of its activities, of consultations the sum of its channels.
--
-- monthly_tallies holds the same sums per month (YYYY-MM): a fiscal year reads 12 months and only the days of a
-- month it does not cover whole. Both are kept in the same transaction, by every write alike.
-- With several councils in one database a council key becomes the leading key column of both.

CREATE TABLE daily_tallies (
    area       TEXT NOT NULL,                       -- an area code, or '*' for the whole council
    day        TEXT NOT NULL,                       -- YYYY-MM-DD, the records' date
    dimension  TEXT NOT NULL,
    category   TEXT NOT NULL,
    sub        TEXT NOT NULL,                       -- '' where the dimension has one key
    n          INTEGER NOT NULL,
    PRIMARY KEY (area, day, dimension, category, sub)
) WITHOUT ROWID;

CREATE TABLE monthly_tallies (
    area       TEXT NOT NULL,
    month      TEXT NOT NULL,                       -- YYYY-MM
    dimension  TEXT NOT NULL,
    category   TEXT NOT NULL,
    sub        TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (area, month, dimension, category, sub)
) WITHOUT ROWID;

-- Rows whose count an undo brought to 0, found without reading the table (they are deleted at once: empty).
CREATE INDEX daily_tallies_spent ON daily_tallies (area) WHERE n = 0;
CREATE INDEX monthly_tallies_spent ON monthly_tallies (area) WHERE n = 0;

-- The records already here, counted now: an upgraded database reports the same numbers at once.
WITH counted (day, area, dimension, category, sub, n) AS (
    SELECT date, area, 'activity', activity, '', count(*) FROM outings GROUP BY date, area, activity
    UNION ALL
    SELECT date, area, 'destination', destination, '', count(*) FROM outings GROUP BY date, area, destination
    UNION ALL
    SELECT date, area, 'channel', channel, '', count(*) FROM consultations GROUP BY date, area, channel
    UNION ALL
    SELECT date, area, 'consulter', consulter, '', count(*) FROM consultations GROUP BY date, area, consulter
    UNION ALL
    SELECT date, area, 'consulter_category', consulter, consulter_category, count(*) FROM consultations
        WHERE consulter_category IS NOT NULL GROUP BY date, area, consulter, consulter_category
    UNION ALL
    SELECT date, area, 'agency', consulter, coalesce(from_agency, '?'), count(*) FROM consultations
        GROUP BY date, area, consulter, coalesce(from_agency, '?')
    UNION ALL
    SELECT date, area, 'topic', consulter, coalesce(topic, '?'), count(*) FROM consultations
        GROUP BY date, area, consulter, coalesce(topic, '?')
    UNION ALL
    SELECT date, area, 'at_outing', '', '', count(*) FROM consultations WHERE at_outing = 1 GROUP BY date, area
    UNION ALL
    SELECT c.date, c.area, 'referral', a.agency, '', count(*) FROM consultations c
        JOIN consultation_agencies a ON a.consultation_id = c.id GROUP BY c.date, c.area, a.agency
)
INSERT INTO daily_tallies (area, day, dimension, category, sub, n)
SELECT area, day, dimension, category, sub, sum(n) FROM (
    SELECT area, day, dimension, category, sub, n FROM counted
    UNION ALL
    SELECT '*', day, dimension, category, sub, n FROM counted
) AS levels
GROUP BY area, day, dimension, category, sub;

INSERT INTO monthly_tallies (area, month, dimension, category, sub, n)
SELECT area, substr(day, 1, 7), dimension, category, sub, sum(n) FROM daily_tallies
GROUP BY area, substr(day, 1, 7), dimension, category, sub;
