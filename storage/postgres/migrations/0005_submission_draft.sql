-- fieldbot schema 5 (PostgreSQL): which draft a submission was saved from, so that 保存 pressed again after a
-- crash (the reply never arrived) can say the record is already saved instead of "expired".

ALTER TABLE submissions ADD COLUMN draft_id BIGINT;
CREATE INDEX submissions_draft ON submissions (draft_id);
