-- Lookups by phone and e-mail from an index. Beside each multi-field value:
-- VALUE_KEY, the value in lower case, which list filters (a case-insensitive prefix of the
-- value) read as a range; COMM_CODE, the duplicate search's match code (a normalised phone
-- or e-mail, NULL for other types). Both are written by the server with every value; rows
-- stored before this migration are filled in by the server when it opens the database.
ALTER TABLE crm_multifield ADD COLUMN VALUE_KEY TEXT;
ALTER TABLE crm_multifield ADD COLUMN COMM_CODE TEXT;
CREATE INDEX ix_multifield_key ON crm_multifield (ENTITY_TYPE_ID, TYPE_ID, VALUE_KEY, ENTITY_ID);
-- Not a partial index (WHERE COMM_CODE IS NOT NULL): SQLite would then re-prepare every
-- statement on the table whenever its parameters change, to re-check the index's condition.
CREATE INDEX ix_multifield_code ON crm_multifield (ENTITY_TYPE_ID, TYPE_ID, COMM_CODE, ENTITY_ID);
-- No query compares the value itself any more.
DROP INDEX ix_multifield_value;
