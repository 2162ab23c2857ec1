-- List pages sort NULL first ascending and last descending, as a portal's MySQL does
-- (ORDER BY x ASC NULLS FIRST / x DESC NULLS LAST). A PostgreSQL index serves such an
-- order in both directions only when it is built NULLS FIRST (read backwards it is DESC
-- NULLS LAST); built with the default (NULLS LAST) it served neither, and a page sorted
-- every matching row. The id that breaks ties is ascending either way; where it runs
-- against the scan, an incremental sort orders only the ties.
DROP INDEX ix_crm_lead_date_create;
CREATE INDEX ix_crm_lead_date_create ON crm_lead (DATE_CREATE NULLS FIRST, ID);
DROP INDEX ix_crm_lead_date_modify;
CREATE INDEX ix_crm_lead_date_modify ON crm_lead (DATE_MODIFY NULLS FIRST, ID);
DROP INDEX ix_crm_contact_date_create;
CREATE INDEX ix_crm_contact_date_create ON crm_contact (DATE_CREATE NULLS FIRST, ID);
DROP INDEX ix_crm_contact_date_modify;
CREATE INDEX ix_crm_contact_date_modify ON crm_contact (DATE_MODIFY NULLS FIRST, ID);
DROP INDEX ix_crm_contact_last_name;
CREATE INDEX ix_crm_contact_last_name ON crm_contact (LAST_NAME NULLS FIRST, ID);
DROP INDEX ix_crm_deal_date_create;
CREATE INDEX ix_crm_deal_date_create ON crm_deal (DATE_CREATE NULLS FIRST, ID);
DROP INDEX ix_crm_deal_date_modify;
CREATE INDEX ix_crm_deal_date_modify ON crm_deal (DATE_MODIFY NULLS FIRST, ID);
DROP INDEX ix_crm_deal_closedate;
CREATE INDEX ix_crm_deal_closedate ON crm_deal (CLOSEDATE NULLS FIRST, ID);
DROP INDEX ix_crm_company_date_create;
CREATE INDEX ix_crm_company_date_create ON crm_company (DATE_CREATE NULLS FIRST, ID);
DROP INDEX ix_crm_company_date_modify;
CREATE INDEX ix_crm_company_date_modify ON crm_company (DATE_MODIFY NULLS FIRST, ID);
DROP INDEX ix_crm_company_title;
CREATE INDEX ix_crm_company_title ON crm_company (TITLE NULLS FIRST, ID);
DROP INDEX ix_crm_lead_status_date;
CREATE INDEX ix_crm_lead_status_date ON crm_lead (STATUS_ID, DATE_CREATE NULLS FIRST, ID);
