//! Smart process definitions (`crm.type.*`): a type's title, its `entityTypeId`, the
//! features it enables and who created and changed it. Its items are described by
//! [`crate::entity::dynamic`]; its pipelines are categories and stage lists like a deal's.

use crate::entity::dynamic::{stage_list, stage_prefix};
use crate::field::{format_datetime, php_int, php_string};
use crate::pipeline::Status;
use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The feature flags of a type, in the order answers list them, with their defaults.
pub const FLAGS: [(&str, bool); 17] = [
    ("isCategoriesEnabled", false),
    ("isStagesEnabled", false),
    ("isBeginCloseDatesEnabled", false),
    ("isClientEnabled", false),
    ("isUseInUserfieldEnabled", false),
    ("isLinkWithProductsEnabled", false),
    ("isMycompanyEnabled", false),
    ("isDocumentsEnabled", false),
    ("isSourceEnabled", false),
    ("isObserversEnabled", false),
    ("isRecyclebinEnabled", false),
    ("isAutomationEnabled", false),
    ("isBizProcEnabled", false),
    ("isSetOpenPermissions", true),
    ("isPaymentsEnabled", false),
    ("isCountersEnabled", false),
    ("isExternal", false),
];

/// A smart process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartType {
    /// Its id (a sequence of its own; 0 before it is stored).
    pub id: i64,
    /// The `entityTypeId` of its items (0: allocate one).
    pub entity_type_id: i64,
    /// Its name.
    pub title: String,
    /// Enabled features by flag name ([`FLAGS`]).
    pub flags: Vec<(String, bool)>,
    /// The user who created it.
    pub created_by: i64,
    /// When (unix seconds).
    pub created_time: i64,
    /// The user who changed it last.
    pub updated_by: i64,
    /// When (unix seconds).
    pub updated_time: i64,
    /// The category new items go to when they name none (created with the type).
    pub default_category: i64,
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        other => php_string(other).map(|s| {
            let s = s.trim();
            s.eq_ignore_ascii_case("y") || s == "1" || s.eq_ignore_ascii_case("true")
        }),
    }
}

impl SmartType {
    /// A new type from `crm.type.add`'s `fields` (`title` required; `entityTypeId`
    /// optional, checked by the caller against the allowed ranges).
    pub fn from_fields(fields: &Map<String, Value>, user: i64, now: i64) -> Self {
        let mut t = Self {
            id: 0,
            entity_type_id: fields.get("entityTypeId").map_or(0, php_int),
            title: String::new(),
            flags: FLAGS.iter().map(|(n, d)| ((*n).to_string(), *d)).collect(),
            created_by: user,
            created_time: now,
            updated_by: user,
            updated_time: now,
            default_category: 0,
        };
        t.apply(fields, user, now);
        t
    }

    /// Applies `crm.type.update`'s `fields`: the title and the flags (the
    /// `entityTypeId` never changes).
    pub fn apply(&mut self, fields: &Map<String, Value>, user: i64, now: i64) {
        if let Some(title) = fields.get("title").and_then(php_string) {
            self.title = title.trim().to_string();
        }
        for (name, on) in &mut self.flags {
            if let Some(v) = fields.get(name.as_str()).and_then(truthy) {
                *on = v;
            }
        }
        self.updated_by = user;
        self.updated_time = now;
    }

    /// Whether a feature is enabled.
    pub fn enabled(&self, flag: &str) -> bool {
        self.flags.iter().any(|(n, on)| n == flag && *on)
    }

    /// The type as `crm.type.*` answers it.
    pub fn to_json(&self, tz: FixedOffset) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("createdBy".into(), json!(self.created_by));
        m.insert("entityTypeId".into(), json!(self.entity_type_id));
        for (name, on) in &self.flags {
            m.insert(name.clone(), json!(if *on { "Y" } else { "N" }));
        }
        m.insert(
            "createdTime".into(),
            json!(format_datetime(self.created_time, tz)),
        );
        m.insert(
            "updatedTime".into(),
            json!(format_datetime(self.updated_time, tz)),
        );
        m.insert("updatedBy".into(), json!(self.updated_by));
        m.insert("title".into(), json!(self.title));
        m.insert("code".into(), Value::Null);
        m.insert("relations".into(), json!({"parent": [], "child": []}));
        m.insert("linkedUserFields".into(), json!({}));
        m.insert("customSections".into(), json!([]));
        m.insert("customSectionId".into(), Value::Null);
        Value::Object(m)
    }
}

/// The stages a new category of a smart process starts with, in the list
/// `DYNAMIC_<type>_STAGE_<category>` with codes `DT<type>_<category>:…`.
pub fn new_stages(entity_type_id: i64, category: i64) -> Vec<Status> {
    let list = format!("{}_{category}", stage_list(entity_type_id));
    let prefix = stage_prefix(entity_type_id, category);
    [
        ("NEW", "Start", 10, "#22B9FF", None),
        ("PREPARATION", "Preparation", 20, "#FFD13D", None),
        ("CLIENT", "Client approval", 30, "#FF8A52", None),
        ("SUCCESS", "Success", 40, "#7BD500", Some("S")),
        ("FAIL", "Failure", 50, "#FF5752", Some("F")),
    ]
    .into_iter()
    .map(|(code, name, sort, color, semantics)| Status {
        id: 0,
        entity_id: list.clone(),
        status_id: format!("{prefix}{code}"),
        name: name.into(),
        name_init: name.into(),
        sort,
        system: matches!(code, "NEW" | "SUCCESS" | "FAIL"),
        color: Some(color.into()),
        semantics: semantics.map(Into::into),
        category_id: Some(category),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_default_and_apply() {
        let fields = json!({"title": " Orders ", "isStagesEnabled": "Y",
                            "isCategoriesEnabled": true, "entityTypeId": 1032});
        let mut t = SmartType::from_fields(fields.as_object().unwrap(), 1, 0);
        assert_eq!((t.title.as_str(), t.entity_type_id), ("Orders", 1032));
        assert!(t.enabled("isStagesEnabled") && t.enabled("isCategoriesEnabled"));
        assert!(t.enabled("isSetOpenPermissions") && !t.enabled("isClientEnabled"));
        t.apply(json!({"isStagesEnabled": "N"}).as_object().unwrap(), 2, 5);
        assert!(!t.enabled("isStagesEnabled"));
        assert_eq!((t.updated_by, t.updated_time), (2, 5));
        let stages = new_stages(1032, 7);
        assert_eq!(stages[0].status_id, "DT1032_7:NEW");
        assert_eq!(stages[0].entity_id, "DYNAMIC_1032_STAGE_7");
        assert_eq!(stages[3].semantics.as_deref(), Some("S"));
    }
}
