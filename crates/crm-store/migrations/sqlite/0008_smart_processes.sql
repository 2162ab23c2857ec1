-- Smart processes (crm.type.*): one row per type, its definition as a JSON document.
-- Each type's items get a table of their own (crm_dynamic_<entityTypeId>), created with
-- the type; its categories and stage lists are rows of crm_category and crm_status.

CREATE TABLE crm_type (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    ENTITY_TYPE_ID BIGINT NOT NULL UNIQUE,
    DEFINITION TEXT NOT NULL
);
