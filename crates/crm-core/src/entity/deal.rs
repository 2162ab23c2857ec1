//! Deals: a sale in progress. A deal owns a set of contacts (`crm.deal.contact.*`),
//! moves through the `DEAL_STAGE` stages (closing on a final one) and belongs to a
//! category (pipeline) fixed at creation.

use super::model::{BindingKind, EntityDef, EntityType, Fixed, Naming, StageField};
use crate::field::{FieldDef, FieldType as T};
use crate::reference::BASE_CURRENCY;

const fn f(name: &'static str, ty: T, title: &'static str) -> FieldDef {
    FieldDef::new(name, ty, title)
}

/// Deals ↔ contacts (`crm.deal.contact.*`).
pub const DEAL_CONTACT: BindingKind = BindingKind {
    code: "deal_contact",
    owner: EntityType::Deal,
    bound: EntityType::Contact,
    bound_key: "CONTACT_ID",
    owner_column: "CONTACT_ID",
    ids_field: "CONTACT_IDS",
};

/// The deal.
pub static DEAL: EntityDef = EntityDef {
    type_id: 2,
    code: "deal",
    plural: "deals",
    title: "Deal",
    table: "crm_deal",
    fields: DEAL_FIELDS,
    stage: Some(StageField {
        field: "STAGE_ID",
        semantic_field: "STAGE_SEMANTIC_ID",
        status_entity: "DEAL_STAGE",
        category_field: Some("CATEGORY_ID"),
        closed_time: None,
        closed_flag: Some("CLOSED"),
        close_date: Some("CLOSEDATE"),
        new_flag: Some("IS_NEW"),
        previous: None,
        unknown: Some("The value of \"Deal stage\" is incorrect"),
    }),
    held: &[],
    owns: &[DEAL_CONTACT],
    defaults: &[
        ("TYPE_ID", Fixed::Text("SALE")),
        ("CATEGORY_ID", Fixed::Int(0)),
        ("COMPANY_ID", Fixed::Int(0)),
        ("OPPORTUNITY", Fixed::Real(0.0)),
        ("CURRENCY_ID", Fixed::Text(BASE_CURRENCY)),
        ("IS_MANUAL_OPPORTUNITY", Fixed::Text("N")),
        ("TAX_VALUE", Fixed::Real(0.0)),
        ("BEGINDATE", Fixed::DaysFromToday(0)),
        ("CLOSEDATE", Fixed::DaysFromToday(7)),
        ("IS_RECURRING", Fixed::Text("N")),
        ("IS_RETURN_CUSTOMER", Fixed::Text("N")),
        ("IS_REPEATED_APPROACH", Fixed::Text("N")),
    ],
    computed: &["IS_RETURN_CUSTOMER", "IS_REPEATED_APPROACH", "CLOSED"],
    naming: Naming::Numbered {
        field: "TITLE",
        prefix: "Deal",
    },
    returning_customer: false,
    missing_on_update: "Not found",
};

/// `crm.deal.fields`.
static DEAL_FIELDS: &[FieldDef] = &[
    f("ID", T::Integer, "ID").ro(),
    f("TITLE", T::String, "Title"),
    f("TYPE_ID", T::CrmStatus, "Type").status("DEAL_TYPE"),
    f("CATEGORY_ID", T::CrmCategory, "Sales Funnel").immutable(),
    f("STAGE_ID", T::CrmStatus, "Deal Stage").status("DEAL_STAGE"),
    f("STAGE_SEMANTIC_ID", T::String, "Stage Group").ro(),
    f("IS_NEW", T::Char, "New Deal").ro(),
    f("IS_RECURRING", T::Char, "Recurring Deal"),
    f("IS_RETURN_CUSTOMER", T::Char, "Repeat Deal"),
    f("IS_REPEATED_APPROACH", T::Char, "Repeated Approach"),
    f("PROBABILITY", T::Integer, "Probability"),
    f("CURRENCY_ID", T::CrmCurrency, "Currency"),
    f("OPPORTUNITY", T::Double, "Amount"),
    f("IS_MANUAL_OPPORTUNITY", T::Char, "IS_MANUAL_OPPORTUNITY"),
    f("TAX_VALUE", T::Double, "Tax Rate"),
    f("COMPANY_ID", T::CrmCompany, "Company").parent(4),
    f("CONTACT_ID", T::CrmContact, "Contact").deprecated(),
    f("CONTACT_IDS", T::CrmContact, "Contacts")
        .multi()
        .write_only(),
    f("QUOTE_ID", T::CrmQuote, "Estimate").ro().parent(7),
    f("BEGINDATE", T::Date, "Start Date"),
    f("CLOSEDATE", T::Date, "Close Date"),
    f("OPENED", T::Char, "Available to All"),
    f("CLOSED", T::Char, "Closed"),
    f("COMMENTS", T::String, "Comment"),
    f("ASSIGNED_BY_ID", T::User, "Responsible"),
    f("CREATED_BY_ID", T::User, "Created By").ro(),
    f("MODIFY_BY_ID", T::User, "Modified By").ro(),
    f("MOVED_BY_ID", T::User, "MOVED_BY_ID").ro(),
    f("DATE_CREATE", T::DateTime, "Creation Date").ro(),
    f("DATE_MODIFY", T::DateTime, "Modification Date").ro(),
    f("MOVED_TIME", T::DateTime, "MOVED_TIME").ro(),
    f("SOURCE_ID", T::CrmStatus, "Source").status("SOURCE"),
    f(
        "SOURCE_DESCRIPTION",
        T::String,
        "Additional Info about Source",
    ),
    f("LEAD_ID", T::CrmLead, "Lead").ro().parent(1),
    f("ADDITIONAL_INFO", T::String, "Additional Information"),
    f("LOCATION_ID", T::Location, "Location"),
    f("ORIGINATOR_ID", T::String, "External Source"),
    f("ORIGIN_ID", T::String, "Identifier in External Source"),
    f("UTM_SOURCE", T::String, "Advertising System"),
    f("UTM_MEDIUM", T::String, "Traffic Type"),
    f("UTM_CAMPAIGN", T::String, "Campaign Identifier"),
    f("UTM_CONTENT", T::String, "Campaign Content"),
    f("UTM_TERM", T::String, "Campaign Search Condition"),
    f("LAST_ACTIVITY_TIME", T::DateTime, "LAST_ACTIVITY_TIME").ro(),
    f("LAST_ACTIVITY_BY", T::User, "LAST_ACTIVITY_BY").ro(),
];
