//! Fixtures of a test double: users, leads, contacts, deals and companies with chosen ids
//! and bindings, from one JSON document, through the same paths as `crm.<entity>.add` and
//! the binding families' `*.add` (defaults, multi-fields, bindings by `CONTACT_IDS`/
//! `COMPANY_IDS`, user fields) as the administrator. Used by `POST /_crm/fixtures` and
//! `crm-server fixtures load FILE`.
//!
//! ```json
//! {"companies": [{"ID": 3, "TITLE": "Acme"}],
//!  "contacts": [{"ID": 1010, "NAME": "Ann", "COMPANY_IDS": [3]}],
//!  "leads": [{"ID": 1, "TITLE": "Seed lead"}],
//!  "deals": [{"ID": 7, "TITLE": "Deal", "CONTACT_IDS": [1010]}]}
//! ```
//!
//! Users come first (entities may name them), then companies, contacts, leads and deals
//! (each may bind the ones before it), then `bindings`
//! (`{"kind": "lead_contact", "owner": 1, "bound": 1010, "sort": 10, "primary": true}`).
//! A record without `ID` gets the next id. Ids handed out later continue after the highest
//! loaded.

use crate::methods::crm::entity::create;
use crate::rpc::ctx::AuthKind;
use crate::rpc::{ApiError, Caller, Ctx, Services};
use crm_core::entity::EntityType;
use crm_core::entity::binding_kind;
use crm_core::field::{php_int, php_string};
use crm_core::identity::{Scope, User};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The entity sections of a document, in the order they are loaded (after `users`,
/// before `bindings`).
pub const SECTIONS: [(&str, EntityType); 4] = [
    ("companies", EntityType::Company),
    ("contacts", EntityType::Contact),
    ("leads", EntityType::Lead),
    ("deals", EntityType::Deal),
];

/// One record of a document.
#[derive(Debug, Clone)]
pub enum Record {
    /// A user (`ID`, `NAME`, `LAST_NAME`, `EMAIL`, `ADMIN`, `ACTIVE`, `DEPARTMENTS`).
    User(Map<String, Value>),
    /// An entity of a section, with its fields.
    Entity(&'static str, EntityType, Map<String, Value>),
    /// A binding (`kind`: `lead_contact`, `deal_contact`, `contact_company`; `owner`,
    /// `bound`, optional `sort` and `primary`), made as the family's `*.add` makes it.
    Binding(Map<String, Value>),
}

impl Record {
    /// The section it comes from.
    pub fn section(&self) -> &'static str {
        match self {
            Self::User(_) => "users",
            Self::Entity(section, _, _) => section,
            Self::Binding(_) => "bindings",
        }
    }
}

/// A document's records, checked, in load order: users, the entity sections, bindings.
pub fn records(doc: &Value) -> Result<Vec<Record>, String> {
    let Some(doc) = doc.as_object() else {
        return Err("A fixtures document is a JSON object of sections".into());
    };
    let known = |k: &str| k == "users" || k == "bindings" || SECTIONS.iter().any(|(n, _)| *n == k);
    if let Some(unknown) = doc.keys().find(|k| !known(k)) {
        return Err(format!(
            "Unknown section `{unknown}`; sections are users, companies, contacts, leads, deals, bindings"
        ));
    }
    let section = |name: &str| -> Result<Vec<Map<String, Value>>, String> {
        let Some(section) = doc.get(name) else {
            return Ok(Vec::new());
        };
        let Some(list) = section.as_array() else {
            return Err(format!("`{name}` is a list of records"));
        };
        list.iter()
            .enumerate()
            .map(|(n, r)| {
                r.as_object()
                    .cloned()
                    .ok_or_else(|| format!("{name}[{n}] is not an object"))
            })
            .collect()
    };
    let mut out: Vec<Record> = section("users")?.into_iter().map(Record::User).collect();
    for (name, entity) in SECTIONS {
        out.extend(
            section(name)?
                .into_iter()
                .map(|f| Record::Entity(name, entity, f)),
        );
    }
    out.extend(section("bindings")?.into_iter().map(Record::Binding));
    Ok(out)
}

/// Loads one entity record; its id.
async fn load_entity(
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

/// Loads one user record; its id.
async fn load_user(ctx: &Ctx, fields: &Map<String, Value>) -> Result<i64, ApiError> {
    let text = |k: &str| fields.get(k).and_then(php_string).unwrap_or_default();
    let flag = |k: &str, default: bool| match fields.get(k) {
        None => default,
        Some(Value::Bool(b)) => *b,
        Some(v) => php_string(v).is_some_and(|s| {
            s.eq_ignore_ascii_case("y") || s == "1" || s.eq_ignore_ascii_case("true")
        }),
    };
    let departments = match fields.get("DEPARTMENTS") {
        Some(Value::Array(a)) => a.iter().map(php_int).filter(|d| *d > 0).collect(),
        _ => vec![crm_core::identity::ROOT_DEPARTMENT],
    };
    let user = User {
        id: fields.get("ID").map_or(0, php_int).max(0),
        name: text("NAME"),
        last_name: text("LAST_NAME"),
        email: text("EMAIL"),
        admin: flag("ADMIN", false),
        active: flag("ACTIVE", true),
        departments,
        registered_at: ctx.now().timestamp(),
    };
    ctx.store().create_user(user).await.map_err(|e| match e {
        crm_core::store::StoreError::NotFound => {
            ApiError::invalid("A department of the user does not exist")
        }
        other => other.into(),
    })
}

/// Makes one binding through its family's `*.add` (`crm.lead.contact.add`, …); the
/// owner's id.
async fn load_binding(ctx: &Ctx, fields: &Map<String, Value>) -> Result<i64, ApiError> {
    let kind = fields
        .get("kind")
        .and_then(Value::as_str)
        .and_then(binding_kind)
        .ok_or_else(|| {
            ApiError::invalid("kind is lead_contact, deal_contact or contact_company")
        })?;
    let owner = fields.get("owner").map_or(0, php_int);
    let bound = fields.get("bound").map_or(0, php_int);
    let method = format!("crm.{}.{}.add", kind.owner.code(), kind.bound.code());
    let spec = ctx
        .services
        .registry
        .get(&method)
        .ok_or_else(|| ApiError::invalid(format!("no method {method}")))?;
    let mut binding = Map::new();
    binding.insert(kind.bound_key.into(), json!(bound));
    if let Some(sort) = fields.get("sort") {
        binding.insert("SORT".into(), sort.clone());
    }
    if let Some(primary) = fields.get("primary") {
        let yes = primary.as_bool().unwrap_or(false)
            || php_string(primary).is_some_and(|p| p.eq_ignore_ascii_case("y"));
        binding.insert("IS_PRIMARY".into(), json!(if yes { "Y" } else { "N" }));
    }
    let params = json!({"id": owner, "fields": binding});
    crate::rpc::dispatch::call(&ctx.services, &ctx.caller, spec, params, None)
        .await
        .result?;
    Ok(owner)
}

/// Loads one record of any section; the id it has (a binding: its owner's).
pub async fn load_one(ctx: &Ctx, record: &Record) -> Result<i64, ApiError> {
    match record {
        Record::User(fields) => load_user(ctx, fields).await,
        Record::Entity(_, entity, fields) => load_entity(ctx, *entity, fields).await,
        Record::Binding(fields) => load_binding(ctx, fields).await,
    }
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
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for record in &records {
        let section = record.section();
        let n = match seen.iter_mut().find(|(s, _)| *s == section) {
            Some((_, n)) => {
                *n += 1;
                *n - 1
            }
            None => {
                seen.push((section, 1));
                0
            }
        };
        let id = load_one(&ctx, record)
            .await
            .map_err(|e| (format!("{section} (record {n})"), e))?;
        if let Value::Array(list) = ids.entry(section).or_insert_with(|| json!([])) {
            list.push(json!(id));
        }
    }
    let loaded: Map<String, Value> = ids
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.as_array().map_or(0, Vec::len))))
        .collect();
    Ok(json!({"loaded": loaded, "ids": ids}))
}
