-- The contact's FACE_ID (the face-tracker photo a contact was recognised from),
-- returned by a portal's crm.contact.get and listed by crm.contact.fields.

ALTER TABLE crm_contact ADD COLUMN FACE_ID BIGINT;
