//! Fixtures of a test double: leads, contacts, deals and companies with chosen ids, from
//! one JSON document, through the same paths as `crm.<entity>.add` (defaults, multi-fields,
//! bindings by `CONTACT_IDS`/`COMPANY_IDS`, user fields) as the administrator. Used by
//! `POST /_crm/fixtures` and `crm-server fixtures load FILE`.
//!
//! ```json
//! {"companies": [{"ID": 3, "TITLE": "Acme"}],
//!  "contacts": [{"ID": 1010, "NAME": "Ann", "COMPANY_IDS": [3]}],
//!  "leads": [{"ID": 1, "TITLE": "Seed lead"}],
//!  "deals": [{"ID": 7, "TITLE": "Deal", "CONTACT_IDS": [1010]}]}
//! ```
//!
//! Entities are created companies first, then contacts, leads and deals, so each may bind
//! the ones before it. A record without `ID` gets the next id. Ids handed out later
//! continue after the highest loaded.

use crate::methods::crm::entity::create;
use crate::rpc::ctx::AuthKind;
use crate::rpc::{ApiError, Caller, Ctx, Services};
use crm_core::entity::EntityType;
use crm_core::field::php_int;
use crm_core::identity::Scope;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The sections of a document, in the order they are loaded.
pub const SECTIONS: [(&str, EntityType); 4] = [
    ("companies", EntityType::Company),
    ("contacts", EntityType::Contact),
    ("leads", EntityType::Lead),
    ("deals", EntityType::Deal),
];

/// One record of a document: its section, its entity type and its fields.
pub type Record = (&'static str, EntityType, Map<String, Value>);

/// A document's records, checked, in load order.
pub fn records(doc: &Value) -> Result<Vec<Record>, String> {
    let Some(doc) = doc.as_object() else {
        return Err("A fixtures document is a JSON object of sections".into());
    };
    if let Some(unknown) = doc
        .keys()
        .find(|k| !SECTIONS.iter().any(|(name, _)| name == k))
    {
        let names: Vec<&str> = SECTIONS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "Unknown section `{unknown}`; sections are {}",
            names.join(", ")
        ));
    }
    let mut out = Vec::new();
    for (name, entity) in SECTIONS {
        let Some(section) = doc.get(name) else {
            continue;
        };
        let Some(list) = section.as_array() else {
            return Err(format!("`{name}` is a list of records"));
        };
        for (n, record) in list.iter().enumerate() {
            let Some(fields) = record.as_object() else {
                return Err(format!("{name}[{n}] is not an object"));
            };
            out.push((name, entity, fields.clone()));
        }
    }
    Ok(out)
}

/// Loads one record; its id.
pub async fn load_one(
    ctx: &Ctx,
    entity: EntityType,
    fields: &Map<String, Value>,
) -> Result<i64, ApiError> {
    let id = fields.get("ID").map(php_int).filter(|id| *id > 0);
    if fields.contains_key("ID") && id.is_none() {
        return Err(ApiError::invalid("ID must be a positive integer"));
    }
    let mut fields = fields.clone();
    fields.remove("ID");
    create(
        ctx,
        entity,
        &fields,
        true,
        || ApiError::invalid("Access denied."),
        id,
    )
    .await
}

/// A context acting as the administrator (user 1), for loading fixtures.
pub async fn admin_ctx(services: &Arc<Services>) -> Result<Ctx, ApiError> {
    let user = services
        .store
        .user(1)
        .await?
        .ok_or_else(|| ApiError::invalid("The administrator (user 1) does not exist"))?;
    Ok(Ctx {
        caller: Arc::new(Caller {
            user,
            scopes: Scope::ALL.to_vec(),
            auth: AuthKind::Webhook(0),
        }),
        services: Arc::clone(services),
        call_id: 0,
    })
}

/// Loads a whole document, stopping at the first record refused (those before it stay);
/// `{loaded: {section: count}, ids: {section: [ids]}}`, or the refusal with the record's
/// place.
pub async fn load(services: &Arc<Services>, doc: &Value) -> Result<Value, (String, ApiError)> {
    let records = records(doc).map_err(|e| (String::new(), ApiError::invalid(e)))?;
    let ctx = admin_ctx(services).await.map_err(|e| (String::new(), e))?;
    let mut ids: Map<String, Value> = Map::new();
    for (n, (section, entity, fields)) in records.iter().enumerate() {
        let id = load_one(&ctx, *entity, fields)
            .await
            .map_err(|e| (format!("{section} (record {n})"), e))?;
        if let Value::Array(list) = ids.entry(*section).or_insert_with(|| json!([])) {
            list.push(json!(id));
        }
    }
    let loaded: Map<String, Value> = ids
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.as_array().map_or(0, Vec::len))))
        .collect();
    Ok(json!({"loaded": loaded, "ids": ids}))
}
