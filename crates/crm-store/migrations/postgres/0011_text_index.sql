-- Substring filters (`%TITLE`, `%NAME`, …) from a trigram index: a GIN index of pg_trgm
-- on each text column people search by, over the same expression the filters compare
-- (the column under the ICU root collation), so `ILIKE '%…%'` reads the index. The
-- column lists are the ones crm_store::sql::text_indexed names.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX ix_crm_lead_title_trgm ON crm_lead USING gin ((TITLE COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_lead_name_trgm ON crm_lead USING gin ((NAME COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_lead_second_name_trgm ON crm_lead USING gin ((SECOND_NAME COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_lead_last_name_trgm ON crm_lead USING gin ((LAST_NAME COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_lead_company_title_trgm ON crm_lead USING gin ((COMPANY_TITLE COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_contact_name_trgm ON crm_contact USING gin ((NAME COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_contact_second_name_trgm ON crm_contact USING gin ((SECOND_NAME COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_contact_last_name_trgm ON crm_contact USING gin ((LAST_NAME COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_company_title_trgm ON crm_company USING gin ((TITLE COLLATE "und-x-icu") gin_trgm_ops);
CREATE INDEX ix_crm_deal_title_trgm ON crm_deal USING gin ((TITLE COLLATE "und-x-icu") gin_trgm_ops);
