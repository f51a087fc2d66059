-- fieldbot schema 9 (PostgreSQL): a consultation of the group that came from an agency (関係機関からの相談) names
-- the agency that consulted (`from_agency`) and its topic (`topic`); see the SQLite twin.

ALTER TABLE consultations ADD COLUMN from_agency TEXT COLLATE "C";
