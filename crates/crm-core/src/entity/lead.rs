//! Leads: where a sale starts. A lead owns a set of contacts (`crm.lead.contact.*`),
//! moves through the `STATUS` stages and counts as a returning customer once it has a
//! company or contacts.

use super::model::{BindingKind, EntityDef, EntityType, Fixed, Naming, StageField};
use crate::field::{FieldDef, FieldType as T};
use crate::reference::BASE_CURRENCY;

const fn f(name: &'static str, ty: T, title: &'static str) -> FieldDef {
    FieldDef::new(name, ty, title)
}

/// Leads ↔ contacts (`crm.lead.contact.*`).
pub const LEAD_CONTACT: BindingKind = BindingKind {
    code: "lead_contact",
    owner: EntityType::Lead,
    bound: EntityType::Contact,
    bound_key: "CONTACT_ID",
    owner_column: "CONTACT_ID",
    ids_field: "CONTACT_IDS",
};

/// The lead.
pub static LEAD: EntityDef = EntityDef {
    type_id: 1,
    code: "lead",
    plural: "leads",
    title: "Lead",
    table: "crm_lead",
    fields: LEAD_FIELDS,
    stage: Some(StageField {
        field: "STATUS_ID",
        semantic_field: "STATUS_SEMANTIC_ID",
        status_entity: "STATUS",
        category_field: None,
        closed_time: Some("DATE_CLOSED"),
        closed_flag: None,
        close_date: None,
        new_flag: None,
        previous: None,
        unknown: None,
    }),
    held: &[],
    owns: &[LEAD_CONTACT],
    defaults: &[
        ("OPPORTUNITY", Fixed::Real(0.0)),
        ("CURRENCY_ID", Fixed::Text(BASE_CURRENCY)),
        ("IS_MANUAL_OPPORTUNITY", Fixed::Text("N")),
    ],
    computed: &[],
    naming: Naming::Numbered {
        field: "TITLE",
        prefix: "Lead",
    },
    returning_customer: true,
    missing_on_update: "Lead is not found",
};

/// `crm.lead.fields`.
static LEAD_FIELDS: &[FieldDef] = &[
    f("ID", T::Integer, "ID").ro(),
    f("TITLE", T::String, "Lead Title").req(),
    f("HONORIFIC", T::CrmStatus, "Salutation").status("HONORIFIC"),
    f("NAME", T::String, "First Name"),
    f("SECOND_NAME", T::String, "Middle Name"),
    f("LAST_NAME", T::String, "Last Name"),
    f("BIRTHDATE", T::Date, "Birthdate"),
    f("COMPANY_TITLE", T::String, "Company Name"),
    f("SOURCE_ID", T::CrmStatus, "Source").status("SOURCE"),
    f("SOURCE_DESCRIPTION", T::String, "Source Description"),
    f("STATUS_ID", T::CrmStatus, "Stage").status("STATUS"),
    f("STATUS_DESCRIPTION", T::String, "Stage Description"),
    f("STATUS_SEMANTIC_ID", T::String, "Status Semantic").ro(),
    f("POST", T::String, "Position"),
    f("ADDRESS", T::String, "Address"),
    f("ADDRESS_2", T::String, "Address (Line 2)"),
    f("ADDRESS_CITY", T::String, "City"),
    f("ADDRESS_POSTAL_CODE", T::String, "Postal Code"),
    f("ADDRESS_REGION", T::String, "Region"),
    f("ADDRESS_PROVINCE", T::String, "Province"),
    f("ADDRESS_COUNTRY", T::String, "Country"),
    f("ADDRESS_COUNTRY_CODE", T::String, "Country Code"),
    f("ADDRESS_LOC_ADDR_ID", T::Integer, "Location Address ID"),
    f("CURRENCY_ID", T::CrmCurrency, "Currency"),
    f("OPPORTUNITY", T::Double, "Amount"),
    f("IS_MANUAL_OPPORTUNITY", T::Char, "IS_MANUAL_OPPORTUNITY"),
    f("OPENED", T::Char, "Available to All"),
    f("COMMENTS", T::String, "Comments"),
    f("HAS_PHONE", T::Char, "Phone Provided").ro(),
    f("HAS_EMAIL", T::Char, "Email Provided").ro(),
    f("HAS_IMOL", T::Char, "Open Line Assigned").ro(),
    f("ASSIGNED_BY_ID", T::User, "Responsible User"),
    f("CREATED_BY_ID", T::User, "Created By").ro(),
    f("MODIFY_BY_ID", T::User, "Modified By").ro(),
    f("MOVED_BY_ID", T::User, "MOVED_BY_ID").ro(),
    f("DATE_CREATE", T::DateTime, "Creation Date").ro(),
    f("DATE_MODIFY", T::DateTime, "Modification Date").ro(),
    f("MOVED_TIME", T::DateTime, "MOVED_TIME").ro(),
    f("COMPANY_ID", T::CrmCompany, "Company").parent(4),
    f("CONTACT_ID", T::CrmContact, "Contact").deprecated(),
    f("CONTACT_IDS", T::CrmContact, "CONTACT_IDS")
        .multi()
        .write_only(),
    f("IS_RETURN_CUSTOMER", T::Char, "Returning Lead").ro(),
    f("DATE_CLOSED", T::DateTime, "Closing Date").ro(),
    f("ORIGINATOR_ID", T::String, "External Source"),
    f("ORIGIN_ID", T::String, "Identifier in External Source"),
    f("UTM_SOURCE", T::String, "Advertising System"),
    f("UTM_MEDIUM", T::String, "Traffic Type"),
    f("UTM_CAMPAIGN", T::String, "Campaign Identifier"),
    f("UTM_CONTENT", T::String, "Campaign Content"),
    f("UTM_TERM", T::String, "Campaign Search Term"),
    f("LAST_ACTIVITY_TIME", T::DateTime, "LAST_ACTIVITY_TIME").ro(),
    f("LAST_ACTIVITY_BY", T::User, "LAST_ACTIVITY_BY").ro(),
    f("PHONE", T::CrmMultifield, "Phone").multi(),
    f("EMAIL", T::CrmMultifield, "E-mail").multi(),
    f("WEB", T::CrmMultifield, "Website").multi(),
    f("IM", T::CrmMultifield, "Messenger").multi(),
    f("LINK", T::CrmMultifield, "LINK").multi(),
];
