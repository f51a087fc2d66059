-- fieldbot schema 11: the reports' covering index of consultations gains from_agency (schema 9), so that who
-- consulted and about what are counted in the same scan of the index as every other dimension, without reading
-- the table's rows.

DROP INDEX consultations_report;
CREATE INDEX consultations_report ON consultations
    (date, area, channel, consulter, consulter_category, topic, from_agency, at_outing);
