-- fieldbot schema 8 (PostgreSQL): ids are never reused.
-- SQLite needed its tables rebuilt with AUTOINCREMENT for this. Here every id has come from an identity sequence
-- since schema 1, and a sequence never hands out a number twice, whatever is deleted: nothing to rebuild. The
-- number is kept so that both engines count their schema alike; it records the guarantee where it can be read.

COMMENT ON COLUMN submissions.id IS 'from an identity sequence: never reused (schema 8)';
COMMENT ON COLUMN outings.id IS 'from an identity sequence: never reused (schema 8)';
COMMENT ON COLUMN consultations.id IS 'from an identity sequence: never reused (schema 8)';
COMMENT ON COLUMN followups.id IS 'from an identity sequence: never reused (schema 8)';
COMMENT ON COLUMN followup_notes.id IS 'from an identity sequence: never reused (schema 8)';
COMMENT ON COLUMN drafts.id IS 'from an identity sequence: never reused (schema 8)';
COMMENT ON COLUMN invites.id IS 'from an identity sequence: never reused (schema 8)';
