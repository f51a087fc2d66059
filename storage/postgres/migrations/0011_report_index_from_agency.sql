-- fieldbot schema 11 (PostgreSQL): the reports' covering index of consultations gains from_agency (schema 9).

DROP INDEX consultations_report;
CREATE INDEX consultations_report ON consultations
    (date, area, channel, consulter, consulter_category, topic, from_agency, at_outing);
