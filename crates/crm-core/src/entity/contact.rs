//! Contacts: people, bound to leads and deals, and owning their set of companies.

use super::model::{BindingKind, EntityDef, EntityType, Fixed, Naming};
use crate::field::{FieldDef, FieldType as T};

const fn f(name: &'static str, ty: T, title: &'static str) -> FieldDef {
    FieldDef::new(name, ty, title)
}

/// Contacts ↔ companies (`crm.contact.company.*`), one relation that
/// `crm.company.contact.*` shows from the company's side. The primary flag is the
/// contact's: "Y" marks the contact's primary company, mirrored in its `COMPANY_ID`.
pub const CONTACT_COMPANY: BindingKind = BindingKind {
    code: "contact_company",
    owner: EntityType::Contact,
    bound: EntityType::Company,
    bound_key: "COMPANY_ID",
    owner_column: "COMPANY_ID",
    ids_field: "COMPANY_IDS",
};

/// The contact.
pub static CONTACT: EntityDef = EntityDef {
    type_id: 3,
    code: "contact",
    plural: "contacts",
    title: "Contact",
    table: "crm_contact",
    fields: CONTACT_FIELDS,
    stage: None,
    held: &[],
    owns: &[CONTACT_COMPANY],
    defaults: &[
        ("TYPE_ID", Fixed::Text("CLIENT")),
        ("SOURCE_ID", Fixed::Text("CALL")),
        ("EXPORT", Fixed::Text("Y")),
    ],
    computed: &[],
    naming: Naming::Person,
    returning_customer: false,
    missing_on_update: "Contact is not found",
};

/// `crm.contact.fields`.
static CONTACT_FIELDS: &[FieldDef] = &[
    f("ID", T::Integer, "ID").ro(),
    f("HONORIFIC", T::CrmStatus, "Salutation").status("HONORIFIC"),
    f("NAME", T::String, "First Name").req(),
    f("SECOND_NAME", T::String, "Middle Name").req(),
    f("LAST_NAME", T::String, "Last Name").req(),
    f("PHOTO", T::File, "Photo"),
    f("BIRTHDATE", T::Date, "Birthdate"),
    f("TYPE_ID", T::CrmStatus, "Contact Type").status("CONTACT_TYPE"),
    f("SOURCE_ID", T::CrmStatus, "Source").status("SOURCE"),
    f(
        "SOURCE_DESCRIPTION",
        T::String,
        "Additional Source Information",
    ),
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
    f("COMMENTS", T::String, "Comment"),
    f("OPENED", T::Char, "Available to All"),
    f("EXPORT", T::Char, "Participates in Contact Export"),
    f("HAS_PHONE", T::Char, "Phone Set").ro(),
    f("HAS_EMAIL", T::Char, "E-mail Set").ro(),
    f("HAS_IMOL", T::Char, "Open Line Set").ro(),
    f("ASSIGNED_BY_ID", T::User, "Responsible Person"),
    f("CREATED_BY_ID", T::User, "Created By").ro(),
    f("MODIFY_BY_ID", T::User, "Modified By").ro(),
    f("DATE_CREATE", T::DateTime, "Creation Date").ro(),
    f("DATE_MODIFY", T::DateTime, "Modification Date").ro(),
    f("COMPANY_ID", T::CrmCompany, "Company").deprecated(),
    f("COMPANY_IDS", T::CrmCompany, "COMPANY_IDS")
        .multi()
        .write_only(),
    f("LEAD_ID", T::CrmLead, "Lead").ro().parent(1),
    f("ORIGINATOR_ID", T::String, "External Source"),
    f("ORIGIN_ID", T::String, "Identifier in External Source"),
    f("ORIGIN_VERSION", T::String, "Original Version"),
    f("FACE_ID", T::Integer, "FACE_ID").ro().hidden(),
    f("UTM_SOURCE", T::String, "Advertising System"),
    f("UTM_MEDIUM", T::String, "Traffic Type"),
    f("UTM_CAMPAIGN", T::String, "Campaign Identifier"),
    f("UTM_CONTENT", T::String, "Campaign Content"),
    f("UTM_TERM", T::String, "Campaign Search Condition"),
    f("LAST_ACTIVITY_TIME", T::DateTime, "Last Activity").ro(),
    f("LAST_ACTIVITY_BY", T::User, "Last Activity By").ro(),
    f("PHONE", T::CrmMultifield, "Phone").multi(),
    f("EMAIL", T::CrmMultifield, "E-mail").multi(),
    f("WEB", T::CrmMultifield, "Website").multi(),
    f("IM", T::CrmMultifield, "Messenger").multi(),
    f("LINK", T::CrmMultifield, "LINK").multi(),
];
