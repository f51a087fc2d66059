-- fieldbot schema 7 (PostgreSQL): every outing and consultation has a record_id that is the same in every
-- database holding it ('o-' or 'c-' and 32 random hex digits; see the SQLite twin for why). Rows written without
-- one (the bot's saves, seeds) get theirs from the triggers below; imports write theirs themselves.

ALTER TABLE outings ADD COLUMN record_id TEXT COLLATE "C";
ALTER TABLE consultations ADD COLUMN record_id TEXT COLLATE "C";
UPDATE outings SET record_id = 'o-' || replace(gen_random_uuid()::text, '-', '') WHERE record_id IS NULL;
UPDATE consultations SET record_id = 'c-' || replace(gen_random_uuid()::text, '-', '') WHERE record_id IS NULL;
CREATE UNIQUE INDEX outings_record_id ON outings (record_id);
CREATE UNIQUE INDEX consultations_record_id ON consultations (record_id);

CREATE FUNCTION fieldbot_record_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.record_id IS NULL THEN
        NEW.record_id := TG_ARGV[0] || replace(gen_random_uuid()::text, '-', '');
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER outings_record_id BEFORE INSERT ON outings
    FOR EACH ROW EXECUTE FUNCTION fieldbot_record_id('o-');
CREATE TRIGGER consultations_record_id BEFORE INSERT ON consultations
    FOR EACH ROW EXECUTE FUNCTION fieldbot_record_id('c-');
