//! `crm.status.list` and `crm.status.fields`: the reference lists clients resolve codes
//! against (read-only; the defaults of a fresh portal).

use crate::methods::crm::php_array;
use crate::rpc::{ApiError, Ctx, Page, Registry};
use crm_core::field::{FieldDef, FieldType, php_string};
use crm_core::identity::Scope;
use crm_core::reference::STATUSES;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

/// Parameters of `crm.status.list`.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    filter: Option<Value>,
}

/// `crm.status.fields`.
pub fn fields() -> Map<String, Value> {
    [
        FieldDef::new("ID", FieldType::Integer, "ID").ro(),
        FieldDef::new("ENTITY_ID", FieldType::String, "Entity type").req(),
        FieldDef::new("STATUS_ID", FieldType::String, "Status ID").req(),
        FieldDef::new("NAME", FieldType::String, "Name").req(),
        FieldDef::new("NAME_INIT", FieldType::String, "Default name").ro(),
        FieldDef::new("SORT", FieldType::Integer, "Sort"),
        FieldDef::new("SYSTEM", FieldType::Char, "System").ro(),
        FieldDef::new("COLOR", FieldType::String, "Color"),
        FieldDef::new("SEMANTICS", FieldType::String, "Semantics").ro(),
        FieldDef::new("CATEGORY_ID", FieldType::Integer, "Category"),
    ]
    .iter()
    .map(|f| (f.name.to_string(), f.describe()))
    .collect()
}

/// `crm.status.list`: filterable by any returned key (exact match), in list and SORT order.
pub async fn list(_: Ctx, p: ListParams) -> Result<Page<Vec<Value>>, ApiError> {
    let filter = php_array(p.filter, "Parameter 'filter' must be array.")?;
    let items: Vec<Value> = STATUSES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "ID": (i + 1).to_string(),
                "ENTITY_ID": s.entity_id,
                "STATUS_ID": s.status_id,
                "NAME": s.name,
                "NAME_INIT": s.name,
                "SORT": s.sort.to_string(),
                "SYSTEM": "Y",
                "CATEGORY_ID": null,
                "COLOR": s.color,
                "SEMANTICS": s.semantics,
            })
        })
        .filter(|item| {
            filter.iter().all(|(k, v)| {
                let key = k.trim_start_matches('=');
                match (item.get(key), php_string(v)) {
                    (Some(have), Some(want)) => php_string(have).is_some_and(|h| h == want),
                    (None, _) => true,
                    (Some(_), None) => false,
                }
            })
        })
        .collect();
    let total = i64::try_from(items.len()).unwrap_or(0);
    Ok(Page {
        items,
        next: None,
        total,
    })
}

/// Registers the family.
pub fn register(r: &mut Registry) {
    r.method(
        "crm.status.fields",
        Some(Scope::Crm),
        |_: Ctx, _: IgnoredAny| async move { Ok::<_, ApiError>(fields()) },
    )
    .list_method("crm.status.list", Some(Scope::Crm), list);
}
