-- User fields (crm.<entity>.userfield.*): one definition row per field (the definition
-- itself as a JSON document), the lists of enumeration fields, and on every entity
-- table one JSON document holding the row's user-field values by field name.

CREATE TABLE crm_userfield (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    ENTITY_ID TEXT NOT NULL,
    FIELD_NAME TEXT NOT NULL,
    DEFINITION TEXT NOT NULL,
    UNIQUE (ENTITY_ID, FIELD_NAME)
);

CREATE TABLE crm_userfield_enum (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    FIELD_ID INTEGER NOT NULL,
    VALUE TEXT NOT NULL,
    DEF TEXT NOT NULL,
    SORT INTEGER NOT NULL,
    XML_ID TEXT NOT NULL
);
CREATE INDEX crm_userfield_enum_field ON crm_userfield_enum (FIELD_ID);

ALTER TABLE crm_lead ADD COLUMN UF TEXT NOT NULL DEFAULT '{}';
ALTER TABLE crm_contact ADD COLUMN UF TEXT NOT NULL DEFAULT '{}';
ALTER TABLE crm_deal ADD COLUMN UF TEXT NOT NULL DEFAULT '{}';
ALTER TABLE crm_company ADD COLUMN UF TEXT NOT NULL DEFAULT '{}';
