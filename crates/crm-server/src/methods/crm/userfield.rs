//! `crm.lead.userfield.*`, `crm.deal.userfield.*`, `crm.contact.userfield.*`,
//! `crm.company.userfield.*`: user field definitions (`crm_core::userfield`). Reading them
//! needs the `crm` scope; adding, changing and deleting them needs the right to configure
//! the CRM, which administrators hold.

use crate::methods::crm::{php_array, rows};
use crate::rpc::{ApiError, Ctx, Registry};
use crm_core::entity::EntityType;
use crm_core::field::php_string;
use crm_core::identity::Scope;
use crm_core::userfield::{UfType, UserField, owner_id};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

/// Parameters of `*.userfield.add`.
#[derive(Debug, Deserialize)]
pub struct AddParams {
    fields: Option<Value>,
}

/// Parameters of `*.userfield.get` and `*.userfield.delete`.
#[derive(Debug, Deserialize)]
pub struct IdParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
}

/// Parameters of `*.userfield.update`.
#[derive(Debug, Deserialize)]
pub struct UpdateParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
    fields: Option<Value>,
}

/// Parameters of `*.userfield.list`.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    order: Option<Value>,
    filter: Option<Value>,
}

fn access_denied() -> ApiError {
    ApiError::invalid("Access denied.")
}

fn valid_id(id: Option<i64>) -> Result<i64, ApiError> {
    id.filter(|i| *i > 0)
        .ok_or_else(|| ApiError::invalid("ID is not defined or invalid."))
}

fn not_found(id: i64) -> ApiError {
    ApiError::invalid(format!("The entity with ID '{id}' is not found."))
}

/// Changing definitions is configuring the CRM: administrators only.
fn require_config(ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.caller.user.admin {
        Ok(())
    } else {
        Err(access_denied())
    }
}

/// One definition of the entity's owner.
async fn load(ctx: &Ctx, entity: EntityType, id: i64) -> Result<UserField, ApiError> {
    ctx.store()
        .user_fields(Some(owner_id(entity)))
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(|| not_found(id))
}

/// `*.userfield.add`: the new definition's id.
pub async fn add(ctx: Ctx, entity: EntityType, p: AddParams) -> Result<i64, ApiError> {
    require_config(&ctx)?;
    let fields = php_array(p.fields, "The parameter 'fields' must be array.")?;
    let field =
        UserField::from_add(owner_id(entity), &fields).map_err(|e| ApiError::Invalid(e.0))?;
    Ok(ctx.store().create_user_field(field).await?)
}

/// `*.userfield.get`: the definition, labels by language.
pub async fn get(ctx: Ctx, entity: EntityType, p: IdParams) -> Result<Value, ApiError> {
    let id = valid_id(p.id)?;
    Ok(load(&ctx, entity, id).await?.to_json(None))
}

/// `*.userfield.update`: `true`.
pub async fn update(ctx: Ctx, entity: EntityType, p: UpdateParams) -> Result<bool, ApiError> {
    let id = valid_id(p.id)?;
    require_config(&ctx)?;
    let fields = php_array(p.fields, "The parameter 'fields' must be array.")?;
    let mut field = load(&ctx, entity, id).await?;
    field.apply(&fields);
    if ctx.store().update_user_field(field).await? {
        Ok(true)
    } else {
        Err(not_found(id))
    }
}

/// `*.userfield.delete`: `true`; the field's values go with it.
pub async fn delete(ctx: Ctx, entity: EntityType, p: IdParams) -> Result<bool, ApiError> {
    let id = valid_id(p.id)?;
    require_config(&ctx)?;
    load(&ctx, entity, id).await?;
    if ctx.store().delete_user_field(id).await? {
        Ok(true)
    } else {
        Err(not_found(id))
    }
}

/// `*.userfield.list`: every definition of the entity matching `filter` (equality on the
/// answer's keys, case-insensitive for text; `LANG` picks the labels' language), in
/// `order` (default: by SORT, then ID).
pub async fn list(ctx: Ctx, entity: EntityType, p: ListParams) -> Result<Vec<Value>, ApiError> {
    let filter = php_array(p.filter, "The parameter 'filter' must be array.")?;
    let order = php_array(p.order, "The parameter 'order' must be array.")?;
    let lang = filter
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("LANG"))
        .and_then(|(_, v)| php_string(v))
        .map(|l| l.trim().to_ascii_lowercase());
    let rows: Vec<Value> = ctx
        .store()
        .user_fields(Some(owner_id(entity)))
        .await?
        .iter()
        .map(|f| f.to_json(lang.as_deref()))
        .collect();
    // Keys are matched in upper case; LANG picks the language and filters nothing.
    let filter: serde_json::Map<String, Value> = filter
        .into_iter()
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v))
        .filter(|(k, _)| k != "LANG")
        .collect();
    let order: serde_json::Map<String, Value> = order
        .into_iter()
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v))
        .collect();
    let rows = rows::filtered(rows, &filter, |a, b| a.eq_ignore_ascii_case(b));
    let rows = rows::sorted(rows, &order, &["SORT", "ID"]);
    Ok(rows)
}

/// `crm.userfield.types`: the user types fields can have.
async fn types(_: Ctx, _: IgnoredAny) -> Result<Vec<Value>, ApiError> {
    Ok(UfType::ALL
        .iter()
        .map(|t| {
            let title = match t {
                UfType::String => "String",
                UfType::Integer => "Integer",
                UfType::Double => "Number",
                UfType::Boolean => "Yes/No",
                UfType::Date => "Date",
                UfType::Datetime => "Date/Time",
                UfType::Enumeration => "List",
                UfType::Url => "Link",
                UfType::Money => "Money",
                UfType::Employee => "Link to employee",
                UfType::Crm => "Link to CRM items",
            };
            json!({"ID": t.as_str(), "title": title})
        })
        .collect())
}

macro_rules! userfields {
    ($r:expr, $entity:expr, $prefix:literal) => {{
        let crm = Some(Scope::Crm);
        $r.method(concat!($prefix, ".add"), crm, |ctx: Ctx, p: AddParams| {
            add(ctx, $entity, p)
        })
        .method(concat!($prefix, ".get"), crm, |ctx: Ctx, p: IdParams| {
            get(ctx, $entity, p)
        })
        .method(concat!($prefix, ".list"), crm, |ctx: Ctx, p: ListParams| {
            list(ctx, $entity, p)
        })
        .method(
            concat!($prefix, ".update"),
            crm,
            |ctx: Ctx, p: UpdateParams| update(ctx, $entity, p),
        )
        .method(concat!($prefix, ".delete"), crm, |ctx: Ctx, p: IdParams| {
            delete(ctx, $entity, p)
        });
    }};
}

/// Registers the four `*.userfield.*` families and `crm.userfield.types`.
pub fn register(r: &mut Registry) {
    userfields!(r, EntityType::Lead, "crm.lead.userfield");
    userfields!(r, EntityType::Deal, "crm.deal.userfield");
    userfields!(r, EntityType::Contact, "crm.contact.userfield");
    userfields!(r, EntityType::Company, "crm.company.userfield");
    r.method("crm.userfield.types", Some(Scope::Crm), types);
}
