//! Smart processes: `crm.type.*` (`crm_core::smart`). Reading needs the `crm` scope;
//! adding, changing and deleting types is configuring the CRM, which administrators do.

use crate::methods::crm::{php_array, rows};
use crate::rpc::{ApiError, Ctx, Page, Registry};
use crm_core::entity::EntityType;
use crm_core::entity::dynamic::valid_id;
use crm_core::identity::Scope;
use crm_core::pipeline::Category;
use crm_core::query::ListQuery;
use crm_core::smart::{self, FLAGS, SmartType};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

/// Parameters of `crm.type.*`.
#[derive(Debug, Deserialize)]
pub struct TypeParams {
    id: Option<i64>,
    #[serde(rename = "entityTypeId")]
    entity_type_id: Option<i64>,
    fields: Option<Value>,
    filter: Option<Value>,
    order: Option<Value>,
    start: Option<i64>,
}

fn not_found() -> ApiError {
    ApiError::coded("NOT_FOUND", "Smart process not found")
}

fn only_admin(ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.caller.user.admin {
        Ok(())
    } else {
        Err(ApiError::coded("ACCESS_DENIED", "Access denied"))
    }
}

fn answer(ctx: &Ctx, t: &SmartType) -> Value {
    json!({ "type": t.to_json(ctx.services.tz) })
}

async fn by_id(ctx: &Ctx, id: Option<i64>) -> Result<SmartType, ApiError> {
    let id = id.ok_or_else(not_found)?;
    ctx.store()
        .types()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(not_found)
}

/// `crm.type.add`: `{type: …}` of the new smart process, with its default category.
pub async fn add(ctx: Ctx, p: TypeParams) -> Result<Value, ApiError> {
    only_admin(&ctx)?;
    let Some(fields) = p.fields else {
        return Err(ApiError::coded(
            "100",
            "Could not find value for parameter {fields}",
        ));
    };
    let fields = php_array(Some(fields), "Parameter 'fields' must be array.")?;
    let now = ctx.now().timestamp();
    let t = SmartType::from_fields(&fields, ctx.caller.user.id, now);
    if t.title.is_empty() {
        return Err(ApiError::coded("0", "Field 'TITLE' is required"));
    }
    if t.entity_type_id != 0 && !valid_id(t.entity_type_id) {
        return Err(ApiError::coded(
            "INVALID_ARG_VALUE",
            "entityTypeId is out of allowed range",
        ));
    }
    let category = Category {
        id: 0,
        entity_type_id: t.entity_type_id,
        name: "General".into(),
        sort: 500,
        created: now,
    };
    let stored = ctx
        .store()
        .create_type(t, category, Box::new(smart::new_stages))
        .await?;
    Ok(answer(&ctx, &stored))
}

/// `crm.type.get`: `{type: …}` by the type's id.
pub async fn get(ctx: Ctx, p: TypeParams) -> Result<Value, ApiError> {
    Ok(answer(&ctx, &by_id(&ctx, p.id).await?))
}

/// `crm.type.getByEntityTypeId`: `{type: …}` by its items' `entityTypeId`.
pub async fn get_by_entity_type_id(ctx: Ctx, p: TypeParams) -> Result<Value, ApiError> {
    let etid = p.entity_type_id.ok_or_else(not_found)?;
    let t = ctx.smart_type(etid).await?.ok_or_else(not_found)?;
    Ok(answer(&ctx, &t))
}

/// `crm.type.list`: `{types: […]}` with `total` and `next`, filtered by equality on the
/// answer's keys and ordered by them (default: by id).
pub async fn list(ctx: Ctx, p: TypeParams) -> Result<Page<Value>, ApiError> {
    let filter = php_array(p.filter, "Parameter 'filter' must be array.")?;
    let order = php_array(p.order, "Parameter 'order' must be array.")?;
    let tz = ctx.services.tz;
    let rows: Vec<Value> = ctx
        .store()
        .types()
        .await?
        .iter()
        .map(|t| t.to_json(tz))
        .collect();
    let rows = rows::filtered(rows, &filter, |a, b| a == b);
    Ok(rows::paged(
        rows::sorted(rows, &order, &["id"]),
        p.start,
        "types",
    ))
}

/// `crm.type.update`: title and flags; `{type: …}` after the change.
pub async fn update(ctx: Ctx, p: TypeParams) -> Result<Value, ApiError> {
    only_admin(&ctx)?;
    let mut t = by_id(&ctx, p.id).await?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    t.apply(&fields, ctx.caller.user.id, ctx.now().timestamp());
    if t.title.is_empty() {
        return Err(ApiError::coded("0", "Field 'TITLE' is required"));
    }
    if !ctx.store().update_type(t.clone()).await? {
        return Err(not_found());
    }
    Ok(answer(&ctx, &t))
}

/// `crm.type.delete`: `null`; a smart process with items is kept.
pub async fn delete(ctx: Ctx, p: TypeParams) -> Result<Value, ApiError> {
    only_admin(&ctx)?;
    let t = by_id(&ctx, p.id).await?;
    let entity = EntityType::Dynamic(t.entity_type_id);
    let query = ListQuery::counting(Vec::new());
    if ctx.store().list(entity, query).await?.1 > 0 {
        return Err(ApiError::coded(
            "CANNOT_DELETE",
            "The smart process has items; delete them first",
        ));
    }
    if !ctx.store().delete_type(t.id).await? {
        return Err(not_found());
    }
    Ok(Value::Null)
}

/// `crm.type.fields`: `{fields: {name: descriptor}}` of a type's own fields.
async fn fields(_: Ctx, _: IgnoredAny) -> Result<Value, ApiError> {
    let f = |ty: &str, upper: &str, required: bool, read_only: bool| {
        json!({"type": ty, "isRequired": required, "isReadOnly": read_only,
               "isImmutable": false, "isMultiple": false, "isDynamic": false,
               "title": upper, "upperName": upper})
    };
    let mut m = Map::new();
    m.insert("id".into(), f("integer", "ID", false, true));
    m.insert("title".into(), f("string", "TITLE", true, false));
    m.insert("code".into(), f("string", "CODE", false, false));
    m.insert("createdBy".into(), f("user", "CREATED_BY", false, true));
    m.insert(
        "entityTypeId".into(),
        f("integer", "ENTITY_TYPE_ID", false, false),
    );
    for (name, _) in FLAGS {
        m.insert(
            name.into(),
            f("boolean", &crm_core::item::upper_snake(name), false, false),
        );
    }
    m.insert(
        "createdTime".into(),
        f("datetime", "CREATED_TIME", false, true),
    );
    m.insert(
        "updatedTime".into(),
        f("datetime", "UPDATED_TIME", false, true),
    );
    m.insert("updatedBy".into(), f("user", "UPDATED_BY", false, true));
    Ok(json!({ "fields": m }))
}

/// Registers `crm.type.*`.
pub fn register(r: &mut Registry) {
    let crm = Some(Scope::Crm);
    r.method("crm.type.fields", crm, fields)
        .method("crm.type.add", crm, add)
        .method("crm.type.get", crm, get)
        .method("crm.type.getbyentitytypeid", crm, get_by_entity_type_id)
        .list_method("crm.type.list", crm, list)
        .method("crm.type.update", crm, update)
        .method("crm.type.delete", crm, delete);
}
