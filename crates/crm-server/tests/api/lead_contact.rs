//! `crm.lead.contact.*` (filled in by the seed issue's tests).
