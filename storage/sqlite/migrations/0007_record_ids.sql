-- fieldbot schema 7: every outing and consultation has a record_id that is the same in every database holding
-- it: `fieldbot export` writes it, and `fieldbot import records` skips a row whose record_id is already here
-- (so importing an export again changes nothing) and stores it with the rows it adds.
-- A random id ('o-' or 'c-' and 32 hex digits) rather than one made of the row id: row ids are reused after an
-- undo and repeat in a copy of the database, a random id never names two records. Rows written without one
-- (the bot's saves, seeds) get theirs from the triggers below; imports write theirs themselves.

ALTER TABLE outings ADD COLUMN record_id TEXT;
ALTER TABLE consultations ADD COLUMN record_id TEXT;
UPDATE outings SET record_id = 'o-' || lower(hex(randomblob(16))) WHERE record_id IS NULL;
UPDATE consultations SET record_id = 'c-' || lower(hex(randomblob(16))) WHERE record_id IS NULL;
CREATE UNIQUE INDEX outings_record_id ON outings (record_id);
CREATE UNIQUE INDEX consultations_record_id ON consultations (record_id);

CREATE TRIGGER outings_record_id AFTER INSERT ON outings FOR EACH ROW WHEN NEW.record_id IS NULL
BEGIN
    UPDATE outings SET record_id = 'o-' || lower(hex(randomblob(16))) WHERE id = NEW.id;
END;

CREATE TRIGGER consultations_record_id AFTER INSERT ON consultations FOR EACH ROW WHEN NEW.record_id IS NULL
BEGIN
    UPDATE consultations SET record_id = 'c-' || lower(hex(randomblob(16))) WHERE id = NEW.id;
END;
