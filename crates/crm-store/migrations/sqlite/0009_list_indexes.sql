-- The most common lead page: one status, newest first (the portal's lead list, and
-- integrations walking it with `start`). With the status alone the page sorted every lead
-- of that status; with the date in the key it is read in order from the index.
CREATE INDEX ix_crm_lead_status_date ON crm_lead (STATUS_ID, DATE_CREATE, ID);
