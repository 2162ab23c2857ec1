//! Reference lists (`crm.status.list`): the default values of a fresh portal, in English.
//! Codes match what clients resolve STATUS_ID, SOURCE_ID, TYPE_ID and HONORIFIC against.

/// Default lead stages, in pipeline order, with their semantics (P process, S success,
/// F failure).
pub const LEAD_STAGES: [(&str, &str); 5] = [
    ("NEW", "P"),
    ("IN_PROCESS", "P"),
    ("PROCESSED", "P"),
    ("CONVERTED", "S"),
    ("JUNK", "F"),
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
    status_id: &'static str,
    name: &'static str,
    sort: i64,
    semantics: &'static str,
    color: &'static str,
) -> StatusItem {
    StatusItem {
        entity_id: "STATUS",
        status_id,
        name,
        sort,
        semantics: Some(semantics),
        color: Some(color),
    }
}

/// Every default reference value, grouped by list, each list in SORT order.
pub static STATUSES: &[StatusItem] = &[
    stage("NEW", "Unassigned", 10, "P", "#2FC6F6"),
    stage("IN_PROCESS", "In Progress", 20, "P", "#FFA900"),
    stage("PROCESSED", "Processed", 30, "P", "#00A64C"),
    stage("CONVERTED", "Good lead", 40, "S", "#7BD500"),
    stage("JUNK", "Junk lead", 50, "F", "#FF5752"),
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
    fn lead_stages_agree_with_the_reference_list() {
        let stages: Vec<(&str, &str)> = STATUSES
            .iter()
            .filter(|s| s.entity_id == "STATUS")
            .map(|s| (s.status_id, s.semantics.unwrap_or("")))
            .collect();
        assert_eq!(stages, LEAD_STAGES.to_vec());
        assert!(is_known("SOURCE", "WEB") && !is_known("SOURCE", "NEW"));
    }
}
