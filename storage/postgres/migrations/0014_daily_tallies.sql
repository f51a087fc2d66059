-- fieldbot schema 14 (PostgreSQL twin of storage/sqlite/migrations/0014_daily_tallies.sql, which explains it):
-- reports read tallies, not records: counts per (area, day or month, dimension, category, sub), kept in the same
-- transaction as each write that changes what is counted, and counted here once for the records already kept.

CREATE TABLE daily_tallies (
    area       TEXT COLLATE "C" NOT NULL,                       -- an area code, or '*' for the whole council
    day        TEXT COLLATE "C" NOT NULL,                       -- YYYY-MM-DD, the records' date
    dimension  TEXT COLLATE "C" NOT NULL,
    category   TEXT COLLATE "C" NOT NULL,
    sub        TEXT COLLATE "C" NOT NULL,                       -- '' where the dimension has one key
    n          INTEGER NOT NULL,
    PRIMARY KEY (area, day, dimension, category, sub)
);

CREATE TABLE monthly_tallies (
    area       TEXT COLLATE "C" NOT NULL,
    month      TEXT COLLATE "C" NOT NULL,                       -- YYYY-MM
    dimension  TEXT COLLATE "C" NOT NULL,
    category   TEXT COLLATE "C" NOT NULL,
    sub        TEXT COLLATE "C" NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (area, month, dimension, category, sub)
);

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
