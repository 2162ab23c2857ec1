//! `userfieldconfig.*` for the CRM (`moduleId: "crm"`; scope `userfieldconfig`, and the
//! credential must also hold `crm`): the universal way to define user
//! fields, and the only one for smart processes (`entityId: "CRM_<type id>"`, names
//! `UF_CRM_<type id>_…`). The same definitions as `crm.<entity>.userfield.*`
//! (`crm_core::userfield`), in camelCase.

use crate::methods::crm::{php_array, rows};
use crate::rpc::{ApiError, Ctx, Page, Registry};
use crm_core::entity::EntityType;
use crm_core::field::php_string;
use crm_core::identity::Scope;
use crm_core::userfield::{UfType, UserField, classic_keys, owner_id, parse_type_owner};
use serde::Deserialize;
use serde_json::{Value, json};

/// Parameters of `userfieldconfig.*`.
#[derive(Debug, Deserialize)]
pub struct ConfigParams {
    #[serde(rename = "moduleId")]
    module_id: Option<String>,
    id: Option<i64>,
    field: Option<Value>,
    filter: Option<Value>,
    order: Option<Value>,
    start: Option<i64>,
}

fn cannot(what: &str) -> ApiError {
    ApiError::invalid(format!("You cannot {what} the custom field"))
}

/// The module must be the CRM's, and the credential must also hold its scope.
fn crm_module(ctx: &Ctx, p: &ConfigParams) -> Result<(), ApiError> {
    match p.module_id.as_deref().map(str::trim) {
        Some(m) if m.eq_ignore_ascii_case("crm") => {
            if Scope::Crm.granted_by(&ctx.caller.scopes) {
                Ok(())
            } else {
                Err(ApiError::invalid(
                    "The current method required more scopes. (crm)",
                ))
            }
        }
        Some(_) => Err(ApiError::invalid("No settings for UserFieldAccess")),
        None => Err(ApiError::coded(
            "100",
            "Could not find value for parameter {moduleId}",
        )),
    }
}

/// Whether `owner` names fields this server keeps: a built-in entity's or an existing
/// smart process's.
async fn known_owner(ctx: &Ctx, owner: &str) -> Result<bool, ApiError> {
    if EntityType::ALL.into_iter().any(|e| owner_id(e) == owner) {
        return Ok(true);
    }
    let Some(type_id) = parse_type_owner(owner) else {
        return Ok(false);
    };
    Ok(ctx.store().types().await?.iter().any(|t| t.id == type_id))
}

async fn by_id(ctx: &Ctx, id: Option<i64>, what: &str) -> Result<UserField, ApiError> {
    let id = id.filter(|i| *i > 0).ok_or_else(|| cannot(what))?;
    ctx.store()
        .user_fields(None)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(|| cannot(what))
}

fn answer(field: &UserField) -> Value {
    json!({ "field": field.to_config_json() })
}

/// `userfieldconfig.add`: `{field: …}` of the new definition.
pub async fn add(ctx: Ctx, p: ConfigParams) -> Result<Value, ApiError> {
    crm_module(&ctx, &p)?;
    if !ctx.caller.user.admin {
        return Err(cannot("add"));
    }
    let field = php_array(p.field, "Parameter 'field' must be array.")?;
    let field = classic_keys(&field);
    let owner = field
        .get("ENTITY_ID")
        .and_then(php_string)
        .map(|e| e.trim().to_ascii_uppercase())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::invalid("The field entityId is required."))?;
    if !known_owner(&ctx, &owner).await? {
        return Err(ApiError::invalid(format!(
            "Entity '{owner}' has no custom fields here"
        )));
    }
    let new = UserField::from_config(owner, &field).map_err(|e| ApiError::Invalid(e.0))?;
    let id = ctx.store().create_user_field(new).await?;
    Ok(answer(&by_id(&ctx, Some(id), "add").await?))
}

/// `userfieldconfig.get`: `{field: …}`.
pub async fn get(ctx: Ctx, p: ConfigParams) -> Result<Value, ApiError> {
    crm_module(&ctx, &p)?;
    Ok(answer(&by_id(&ctx, p.id, "read").await?))
}

/// `userfieldconfig.update`: `{field: …}` after the change (not its owner, name, type or
/// multiplicity).
pub async fn update(ctx: Ctx, p: ConfigParams) -> Result<Value, ApiError> {
    crm_module(&ctx, &p)?;
    if !ctx.caller.user.admin {
        return Err(cannot("update"));
    }
    let mut field = by_id(&ctx, p.id, "update").await?;
    let changes = classic_keys(&php_array(p.field, "Parameter 'field' must be array.")?);
    field.apply(&changes);
    if !ctx.store().update_user_field(field.clone()).await? {
        return Err(cannot("update"));
    }
    Ok(answer(&by_id(&ctx, Some(field.id), "update").await?))
}

/// `userfieldconfig.delete`: `null`; the field's values go with it.
pub async fn delete(ctx: Ctx, p: ConfigParams) -> Result<Value, ApiError> {
    crm_module(&ctx, &p)?;
    if !ctx.caller.user.admin {
        return Err(cannot("delete"));
    }
    let field = by_id(&ctx, p.id, "delete").await?;
    if !ctx.store().delete_user_field(field.id).await? {
        return Err(cannot("delete"));
    }
    Ok(Value::Null)
}

/// `userfieldconfig.list`: `{fields: […]}` with `total`/`next`, filtered by equality on
/// the answer's keys (`entityId`, `fieldName`, `userTypeId`, …), in `order` (default by
/// id).
pub async fn list(ctx: Ctx, p: ConfigParams) -> Result<Page<Value>, ApiError> {
    crm_module(&ctx, &p)?;
    let filter = php_array(p.filter, "Parameter 'filter' must be array.")?;
    let order = php_array(p.order, "Parameter 'order' must be array.")?;
    let rows: Vec<Value> = ctx
        .store()
        .user_fields(None)
        .await?
        .iter()
        .map(UserField::to_config_json)
        .collect();
    let rows = rows::filtered(rows, &filter, |a, b| a == b);
    Ok(rows::paged(
        rows::sorted(rows, &order, &["id"]),
        p.start,
        "fields",
    ))
}

/// `userfieldconfig.getTypes`: `{types: [{userTypeId, title}]}`.
pub async fn get_types(ctx: Ctx, p: ConfigParams) -> Result<Value, ApiError> {
    crm_module(&ctx, &p)?;
    let types: Vec<Value> = UfType::ALL
        .iter()
        .map(|t| json!({"userTypeId": t.as_str(), "title": t.as_str()}))
        .collect();
    Ok(json!({ "types": types }))
}

/// Registers `userfieldconfig.*`.
pub fn register(r: &mut Registry) {
    let scope = Some(Scope::Userfieldconfig);
    r.method("userfieldconfig.add", scope, add)
        .method("userfieldconfig.get", scope, get)
        .method("userfieldconfig.update", scope, update)
        .method("userfieldconfig.delete", scope, delete)
        .method("userfieldconfig.gettypes", scope, get_types)
        .list_method("userfieldconfig.list", scope, list);
}
