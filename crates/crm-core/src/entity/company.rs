//! Companies: organisations, with multi-fields, a type, an industry and a size.

use super::contact::CONTACT_COMPANY;
use super::model::{EntityDef, Fixed, Naming};
use crate::field::{FieldDef, FieldType as T};
use crate::reference::BASE_CURRENCY;

const fn f(name: &'static str, ty: T, title: &'static str) -> FieldDef {
    FieldDef::new(name, ty, title)
}

/// The company.
pub static COMPANY: EntityDef = EntityDef {
    type_id: 4,
    code: "company",
    plural: "companies",
    title: "Company",
    table: "crm_company",
    fields: COMPANY_FIELDS,
    stage: None,
    owns: &[],
    held: &[(CONTACT_COMPANY, "CONTACT_ID")],
    defaults: &[
        ("COMPANY_TYPE", Fixed::Text("CUSTOMER")),
        ("INDUSTRY", Fixed::Text("IT")),
        ("EMPLOYEES", Fixed::Text("EMPLOYEES_1")),
        ("CURRENCY_ID", Fixed::Text(BASE_CURRENCY)),
        ("IS_MY_COMPANY", Fixed::Text("N")),
    ],
    computed: &[],
    naming: Naming::Numbered {
        field: "TITLE",
        prefix: "Company",
    },
    returning_customer: false,
    missing_on_update: "Company is not found",
};

/// `crm.company.fields`.
static COMPANY_FIELDS: &[FieldDef] = &[
    f("ID", T::Integer, "ID").ro(),
    f("TITLE", T::String, "Company Name").req(),
    f("COMPANY_TYPE", T::CrmStatus, "Company Type").status("COMPANY_TYPE"),
    f("LOGO", T::File, "Logo"),
    f("ADDRESS", T::String, "Physical Address"),
    f("ADDRESS_2", T::String, "Address (line 2)"),
    f("ADDRESS_CITY", T::String, "City"),
    f("ADDRESS_POSTAL_CODE", T::String, "Postal Code"),
    f("ADDRESS_REGION", T::String, "Region"),
    f("ADDRESS_PROVINCE", T::String, "Province"),
    f("ADDRESS_COUNTRY", T::String, "Country"),
    f("ADDRESS_COUNTRY_CODE", T::String, "Country Code"),
    f("ADDRESS_LOC_ADDR_ID", T::Integer, "Location Address ID"),
    f("ADDRESS_LEGAL", T::String, "Legal Address"),
    f("REG_ADDRESS", T::String, "Legal Address"),
    f("REG_ADDRESS_2", T::String, "Legal Address (line 2)"),
    f("REG_ADDRESS_CITY", T::String, "Legal Address City"),
    f(
        "REG_ADDRESS_POSTAL_CODE",
        T::String,
        "Legal Address Postal Code",
    ),
    f("REG_ADDRESS_REGION", T::String, "Legal Address Region"),
    f("REG_ADDRESS_PROVINCE", T::String, "Legal Address Province"),
    f("REG_ADDRESS_COUNTRY", T::String, "Legal Address Country"),
    f(
        "REG_ADDRESS_COUNTRY_CODE",
        T::String,
        "Legal Address Country Code",
    ),
    f(
        "REG_ADDRESS_LOC_ADDR_ID",
        T::Integer,
        "Legal Address Location ID",
    ),
    f("BANKING_DETAILS", T::String, "Banking Details"),
    f("INDUSTRY", T::CrmStatus, "Industry").status("INDUSTRY"),
    f("EMPLOYEES", T::CrmStatus, "Number of Employees").status("EMPLOYEES"),
    f("CURRENCY_ID", T::CrmCurrency, "Currency"),
    f("REVENUE", T::Double, "Annual Revenue"),
    f("OPENED", T::Char, "Available to Everyone"),
    f("COMMENTS", T::String, "Comment"),
    f("HAS_PHONE", T::Char, "Phone Set").ro(),
    f("HAS_EMAIL", T::Char, "E-mail Set").ro(),
    f("HAS_IMOL", T::Char, "Open Line Set").ro(),
    f("IS_MY_COMPANY", T::Char, "My Company"),
    f("ASSIGNED_BY_ID", T::User, "Responsible Person"),
    f("CREATED_BY_ID", T::User, "Created By").ro(),
    f("MODIFY_BY_ID", T::User, "Modified By").ro(),
    f("DATE_CREATE", T::DateTime, "Creation Date").ro(),
    f("DATE_MODIFY", T::DateTime, "Modification Date").ro(),
    f("CONTACT_ID", T::CrmContact, "Contact")
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
    f("UTM_TERM", T::String, "Campaign Search Term"),
    f("LAST_ACTIVITY_TIME", T::DateTime, "Last Activity Time").ro(),
    f("LAST_ACTIVITY_BY", T::User, "Last Activity Author").ro(),
    f(
        "LAST_COMMUNICATION_TIME",
        T::String,
        "Last Communication Date",
    )
    .ro(),
    f("PHONE", T::CrmMultifield, "Phone").multi(),
    f("EMAIL", T::CrmMultifield, "E-mail").multi(),
    f("WEB", T::CrmMultifield, "Website").multi(),
    f("IM", T::CrmMultifield, "Messenger").multi(),
    f("LINK", T::CrmMultifield, "LINK").multi(),
];
