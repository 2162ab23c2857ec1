-- Substring filters (`%TITLE`, `%NAME`, …) from a trigram index: each entity's text
-- columns people search by are mirrored into an FTS5 table with the trigram tokenizer
-- (external content: the index only, the text stays in the entity table), kept current
-- by triggers. A filter reads the rows holding the longest literal run of its pattern
-- (three characters or more) from the index, and LIKE on the column then decides, so the
-- matching rules stay those of every other LIKE filter. The column lists are the ones
-- crm_store::sql::text_indexed names.

CREATE VIRTUAL TABLE crm_lead_text USING fts5(TITLE, NAME, SECOND_NAME, LAST_NAME, COMPANY_TITLE, content='crm_lead', content_rowid='ID', tokenize='trigram');
CREATE TRIGGER crm_lead_text_insert AFTER INSERT ON crm_lead BEGIN
    INSERT INTO crm_lead_text (rowid, TITLE, NAME, SECOND_NAME, LAST_NAME, COMPANY_TITLE) VALUES (new.ID, new.TITLE, new.NAME, new.SECOND_NAME, new.LAST_NAME, new.COMPANY_TITLE);
END;
CREATE TRIGGER crm_lead_text_delete AFTER DELETE ON crm_lead BEGIN
    INSERT INTO crm_lead_text (crm_lead_text, rowid, TITLE, NAME, SECOND_NAME, LAST_NAME, COMPANY_TITLE) VALUES ('delete', old.ID, old.TITLE, old.NAME, old.SECOND_NAME, old.LAST_NAME, old.COMPANY_TITLE);
END;
CREATE TRIGGER crm_lead_text_update AFTER UPDATE OF TITLE, NAME, SECOND_NAME, LAST_NAME, COMPANY_TITLE ON crm_lead BEGIN
    INSERT INTO crm_lead_text (crm_lead_text, rowid, TITLE, NAME, SECOND_NAME, LAST_NAME, COMPANY_TITLE) VALUES ('delete', old.ID, old.TITLE, old.NAME, old.SECOND_NAME, old.LAST_NAME, old.COMPANY_TITLE);
    INSERT INTO crm_lead_text (rowid, TITLE, NAME, SECOND_NAME, LAST_NAME, COMPANY_TITLE) VALUES (new.ID, new.TITLE, new.NAME, new.SECOND_NAME, new.LAST_NAME, new.COMPANY_TITLE);
END;
INSERT INTO crm_lead_text (crm_lead_text) VALUES ('rebuild');

CREATE VIRTUAL TABLE crm_contact_text USING fts5(NAME, SECOND_NAME, LAST_NAME, content='crm_contact', content_rowid='ID', tokenize='trigram');
CREATE TRIGGER crm_contact_text_insert AFTER INSERT ON crm_contact BEGIN
    INSERT INTO crm_contact_text (rowid, NAME, SECOND_NAME, LAST_NAME) VALUES (new.ID, new.NAME, new.SECOND_NAME, new.LAST_NAME);
END;
CREATE TRIGGER crm_contact_text_delete AFTER DELETE ON crm_contact BEGIN
    INSERT INTO crm_contact_text (crm_contact_text, rowid, NAME, SECOND_NAME, LAST_NAME) VALUES ('delete', old.ID, old.NAME, old.SECOND_NAME, old.LAST_NAME);
END;
CREATE TRIGGER crm_contact_text_update AFTER UPDATE OF NAME, SECOND_NAME, LAST_NAME ON crm_contact BEGIN
    INSERT INTO crm_contact_text (crm_contact_text, rowid, NAME, SECOND_NAME, LAST_NAME) VALUES ('delete', old.ID, old.NAME, old.SECOND_NAME, old.LAST_NAME);
    INSERT INTO crm_contact_text (rowid, NAME, SECOND_NAME, LAST_NAME) VALUES (new.ID, new.NAME, new.SECOND_NAME, new.LAST_NAME);
END;
INSERT INTO crm_contact_text (crm_contact_text) VALUES ('rebuild');

CREATE VIRTUAL TABLE crm_company_text USING fts5(TITLE, content='crm_company', content_rowid='ID', tokenize='trigram');
CREATE TRIGGER crm_company_text_insert AFTER INSERT ON crm_company BEGIN
    INSERT INTO crm_company_text (rowid, TITLE) VALUES (new.ID, new.TITLE);
END;
CREATE TRIGGER crm_company_text_delete AFTER DELETE ON crm_company BEGIN
    INSERT INTO crm_company_text (crm_company_text, rowid, TITLE) VALUES ('delete', old.ID, old.TITLE);
END;
CREATE TRIGGER crm_company_text_update AFTER UPDATE OF TITLE ON crm_company BEGIN
    INSERT INTO crm_company_text (crm_company_text, rowid, TITLE) VALUES ('delete', old.ID, old.TITLE);
    INSERT INTO crm_company_text (rowid, TITLE) VALUES (new.ID, new.TITLE);
END;
INSERT INTO crm_company_text (crm_company_text) VALUES ('rebuild');

CREATE VIRTUAL TABLE crm_deal_text USING fts5(TITLE, content='crm_deal', content_rowid='ID', tokenize='trigram');
CREATE TRIGGER crm_deal_text_insert AFTER INSERT ON crm_deal BEGIN
    INSERT INTO crm_deal_text (rowid, TITLE) VALUES (new.ID, new.TITLE);
END;
CREATE TRIGGER crm_deal_text_delete AFTER DELETE ON crm_deal BEGIN
    INSERT INTO crm_deal_text (crm_deal_text, rowid, TITLE) VALUES ('delete', old.ID, old.TITLE);
END;
CREATE TRIGGER crm_deal_text_update AFTER UPDATE OF TITLE ON crm_deal BEGIN
    INSERT INTO crm_deal_text (crm_deal_text, rowid, TITLE) VALUES ('delete', old.ID, old.TITLE);
    INSERT INTO crm_deal_text (rowid, TITLE) VALUES (new.ID, new.TITLE);
END;
INSERT INTO crm_deal_text (crm_deal_text) VALUES ('rebuild');
