//! CRM entity types and their standard field tables, in the order `*.fields` lists them.

use crate::field::{FieldDef, FieldType as T, Storage};

/// A CRM entity type, with the portal's numeric `entityTypeId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityType {
    /// Lead (`entityTypeId` 1).
    Lead,
    /// Contact (`entityTypeId` 3).
    Contact,
}

impl EntityType {
    /// The portal's `entityTypeId`.
    pub fn type_id(self) -> i64 {
        match self {
            Self::Lead => 1,
            Self::Contact => 3,
        }
    }

    /// Every entity type.
    pub const ALL: [Self; 2] = [Self::Lead, Self::Contact];

    /// The lower-case code used in role grants and on the command line (`lead`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::Contact => "contact",
        }
    }

    /// Parses a [`EntityType::code`] (case-insensitive).
    pub fn parse_code(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.code().eq_ignore_ascii_case(code.trim()))
    }

    /// Name used in messages ("Lead", "Contact").
    pub fn title(self) -> &'static str {
        match self {
            Self::Lead => "Lead",
            Self::Contact => "Contact",
        }
    }

    /// The standard fields, in `*.fields` order.
    pub fn fields(self) -> &'static [FieldDef] {
        match self {
            Self::Lead => LEAD_FIELDS,
            Self::Contact => CONTACT_FIELDS,
        }
    }

    /// Looks a field up by its exact name.
    pub fn field(self, name: &str) -> Option<&'static FieldDef> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The fields stored as columns of the entity's table (ID excluded).
    pub fn columns(self) -> impl Iterator<Item = &'static FieldDef> {
        self.fields()
            .iter()
            .filter(|f| f.storage == Storage::Column && f.name != "ID")
    }
}

/// The multi-field types, in output order.
pub const MULTIFIELD_TYPES: [&str; 5] = ["PHONE", "EMAIL", "WEB", "IM", "LINK"];

const fn f(name: &'static str, ty: T, title: &'static str) -> FieldDef {
    FieldDef::new(name, ty, title)
}

/// `crm.lead.fields`.
pub static LEAD_FIELDS: &[FieldDef] = &[
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

/// `crm.contact.fields`.
pub static CONTACT_FIELDS: &[FieldDef] = &[
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
