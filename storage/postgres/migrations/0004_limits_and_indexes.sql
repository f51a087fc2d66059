-- fieldbot schema 4 (PostgreSQL): failed invite attempts per person (guessing is slowed down), and an index that
-- lets a fiscal-year report count consultations from the index alone.

CREATE TABLE start_attempts (
    telegram_id   BIGINT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  TEXT COLLATE "C" NOT NULL         -- the first failure of the current window (UTC)
);

-- Covers every column the report's grouped scan of consultations reads (date range, zone areas, categories).
CREATE INDEX consultations_report ON consultations (date, area, channel, consulter, consulter_category, topic, at_outing);
DROP INDEX consultations_date;
