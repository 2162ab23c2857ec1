//! Reference lists (`crm.status.list`): the default values of a fresh portal, in English.
//! Codes match what clients resolve STATUS_ID, SOURCE_ID, TYPE_ID and HONORIFIC against.

/// The portal's base currency on a fresh install of this server.
pub const BASE_CURRENCY: &str = "USD";

/// Default lead stages, in pipeline order, with their semantics (P process, S success,
/// F failure).
pub const LEAD_STAGES: [(&str, &str); 5] = [
    ("NEW", "P"),
    ("IN_PROCESS", "P"),
    ("PROCESSED", "P"),
    ("CONVERTED", "S"),
    ("JUNK", "F"),
];

/// Default deal stages of the default category, in pipeline order, with their semantics.
pub const DEAL_STAGES: [(&str, &str); 8] = [
    ("NEW", "P"),
    ("PREPARATION", "P"),
    ("PREPAYMENT_INVOICE", "P"),
    ("EXECUTING", "P"),
    ("FINAL_INVOICE", "P"),
    ("WON", "S"),
    ("LOSE", "F"),
    ("APOLOGY", "F"),
];

/// One reference value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusItem {
    /// Reference list (`STATUS`, `SOURCE`, `CONTACT_TYPE`, `HONORIFIC`).
    pub entity_id: &'static str,
    /// Code (`NEW`).
    pub status_id: &'static str,
    /// Caption.
    pub name: &'static str,
    /// Position in the list.
    pub sort: i64,
    /// Stage semantics for `STATUS` (`P`, `S`, `F`); `None` elsewhere.
    pub semantics: Option<&'static str>,
    /// Display colour of a stage.
    pub color: Option<&'static str>,
}

const fn item(
    entity_id: &'static str,
    status_id: &'static str,
    name: &'static str,
    sort: i64,
) -> StatusItem {
    StatusItem {
        entity_id,
        status_id,
        name,
        sort,
        semantics: None,
        color: None,
    }
}

const fn stage(
    entity_id: &'static str,
    status_id: &'static str,
    name: &'static str,
    sort: i64,
    semantics: &'static str,
    color: &'static str,
) -> StatusItem {
    StatusItem {
        entity_id,
        status_id,
        name,
        sort,
        semantics: Some(semantics),
        color: Some(color),
    }
}

/// Every default reference value, grouped by list, each list in SORT order.
pub static STATUSES: &[StatusItem] = &[
    stage("STATUS", "NEW", "Unassigned", 10, "P", "#2FC6F6"),
    stage("STATUS", "IN_PROCESS", "In Progress", 20, "P", "#FFA900"),
    stage("STATUS", "PROCESSED", "Processed", 30, "P", "#00A64C"),
    stage("STATUS", "CONVERTED", "Good lead", 40, "S", "#7BD500"),
    stage("STATUS", "JUNK", "Junk lead", 50, "F", "#FF5752"),
    stage("DEAL_STAGE", "NEW", "New", 10, "P", "#39A8EF"),
    stage(
        "DEAL_STAGE",
        "PREPARATION",
        "Preparing documents",
        20,
        "P",
        "#2FC6F6",
    ),
    stage(
        "DEAL_STAGE",
        "PREPAYMENT_INVOICE",
        "Prepayment invoice",
        30,
        "P",
        "#55D0E0",
    ),
    stage("DEAL_STAGE", "EXECUTING", "In progress", 40, "P", "#47E4C2"),
    stage(
        "DEAL_STAGE",
        "FINAL_INVOICE",
        "Final invoice",
        50,
        "P",
        "#FFA900",
    ),
    stage("DEAL_STAGE", "WON", "Deal won", 60, "S", "#7BD500"),
    stage("DEAL_STAGE", "LOSE", "Deal lost", 70, "F", "#FF5752"),
    stage(
        "DEAL_STAGE",
        "APOLOGY",
        "Analyze failure",
        80,
        "F",
        "#FF5752",
    ),
    item("DEAL_TYPE", "SALE", "Sales", 10),
    item("DEAL_TYPE", "COMPLEX", "Complex sale", 20),
    item("DEAL_TYPE", "GOODS", "Merchandise sale", 30),
    item("DEAL_TYPE", "SERVICES", "Services sale", 40),
    item("DEAL_TYPE", "SERVICE", "After-sales service", 50),
    item("SOURCE", "CALL", "Call", 10),
    item("SOURCE", "EMAIL", "E-Mail", 20),
    item("SOURCE", "WEB", "Website", 30),
    item("SOURCE", "ADVERTISING", "Advertising", 40),
    item("SOURCE", "PARTNER", "Existing client", 50),
    item("SOURCE", "RECOMMENDATION", "By recommendation", 60),
    item("SOURCE", "TRADE_SHOW", "Show/Exhibition", 70),
    item("SOURCE", "WEBFORM", "CRM form", 80),
    item("SOURCE", "CALLBACK", "Callback", 90),
    item("SOURCE", "RC_GENERATOR", "Sales boost", 100),
    item("SOURCE", "STORE", "Online Store", 110),
    item("SOURCE", "OTHER", "Other", 120),
    item("CONTACT_TYPE", "CLIENT", "Clients", 10),
    item("CONTACT_TYPE", "SUPPLIER", "Suppliers", 20),
    item("CONTACT_TYPE", "PARTNER", "Partners", 30),
    item("CONTACT_TYPE", "OTHER", "Other", 40),
    item("COMPANY_TYPE", "CUSTOMER", "Client", 10),
    item("COMPANY_TYPE", "SUPPLIER", "Supplier", 20),
    item("COMPANY_TYPE", "COMPETITOR", "Competitor", 30),
    item("COMPANY_TYPE", "PARTNER", "Partner", 40),
    item("COMPANY_TYPE", "OTHER", "Other", 50),
    item("EMPLOYEES", "EMPLOYEES_1", "less than 50", 10),
    item("EMPLOYEES", "EMPLOYEES_2", "50-250", 20),
    item("EMPLOYEES", "EMPLOYEES_3", "250-500", 30),
    item("EMPLOYEES", "EMPLOYEES_4", "over 500", 40),
    item("INDUSTRY", "IT", "Information Technology", 10),
    item("INDUSTRY", "TELECOM", "Telecommunication", 20),
    item("INDUSTRY", "MANUFACTURING", "Manufacturing", 30),
    item("INDUSTRY", "BANKING", "Banking Services", 40),
    item("INDUSTRY", "CONSULTING", "Consulting", 50),
    item("INDUSTRY", "FINANCE", "Finance", 60),
    item("INDUSTRY", "GOVERNMENT", "Government", 70),
    item("INDUSTRY", "DELIVERY", "Delivery", 80),
    item("INDUSTRY", "ENTERTAINMENT", "Entertainment", 90),
    item("INDUSTRY", "NOTPROFIT", "Non-profit", 100),
    item("INDUSTRY", "OTHER", "Other", 110),
    item("HONORIFIC", "HNR_EN_1", "Mr.", 100),
    item("HONORIFIC", "HNR_EN_2", "Mrs.", 200),
    item("HONORIFIC", "HNR_EN_3", "Ms.", 300),
    item("HONORIFIC", "HNR_EN_4", "Dr.", 400),
];

/// Whether `code` is a value of reference list `entity_id`.
pub fn is_known(entity_id: &str, code: &str) -> bool {
    STATUSES
        .iter()
        .any(|s| s.entity_id == entity_id && s.status_id == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_agree_with_the_reference_list() {
        let stages = |entity_id: &str| -> Vec<(&str, &str)> {
            STATUSES
                .iter()
                .filter(|s| s.entity_id == entity_id)
                .map(|s| (s.status_id, s.semantics.unwrap_or("")))
                .collect()
        };
        assert_eq!(stages("STATUS"), LEAD_STAGES.to_vec());
        assert_eq!(stages("DEAL_STAGE"), DEAL_STAGES.to_vec());
        assert!(is_known("SOURCE", "WEB") && !is_known("SOURCE", "NEW"));
    }
}
