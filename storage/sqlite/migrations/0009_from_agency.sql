-- fieldbot schema 9: a consultation of the group that came from an agency (関係機関からの相談) names the agency
-- that consulted (`from_agency`, one) and its topic (`topic`, one): these two make the published lists
-- ‹関係機関別› and ‹相談内容別›, whose totals equal the group's. The agencies a consultation of any group was
-- connected to stay in consultation_agencies and are now read as referrals (‹つなぎ先別›).
-- Existing rows keep their links as referrals and get no from_agency: in ‹関係機関別› they count as 不明, so
-- the list still adds up to the group's total; nothing is guessed. A topic recorded on a consultation of
-- another group stays in its row but is not counted in ‹相談内容別› any more.

ALTER TABLE consultations ADD COLUMN from_agency TEXT;
