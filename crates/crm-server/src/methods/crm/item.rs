//! The universal API, `crm.item.*`, for leads (1), deals (2), contacts (3), companies
//! (4) and smart processes: the classic methods' rows, rights and plans, seen through
//! camelCase names and the universal value types (`crm_core::item`).

use crate::methods::crm::entity::{change, create};
use crate::methods::crm::php_array;
use crate::rpc::{ApiError, Ctx, Page, Registry};
use crm_core::entity::{CONTACT_COMPANY, EntityType};
use crm_core::field::{Storage, php_string};
use crm_core::identity::Scope;
use crm_core::item::{ItemSets, camel_name, classic_field, classic_fields, describe, item_json};
use crm_core::permission::Action;
use crm_core::query::{ListQuery, PAGE_SIZE, page, parse_filter, parse_order};
use crm_core::schema::Schema;
use crm_core::store::Row;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Parameters of the `crm.item.*` methods.
#[derive(Debug, Deserialize)]
pub struct ItemParams {
    #[serde(rename = "entityTypeId")]
    entity_type_id: Option<i64>,
    id: Option<i64>,
    fields: Option<Value>,
    select: Option<Value>,
    filter: Option<Value>,
    order: Option<Value>,
    start: Option<i64>,
    /// `Y`: user fields keep their `UF_CRM_` names in answers.
    #[serde(rename = "useOriginalUfNames")]
    original_uf: Option<bool>,
}

fn not_found() -> ApiError {
    ApiError::coded("NOT_FOUND", "Element not found")
}

fn access_denied() -> ApiError {
    ApiError::coded("ACCESS_DENIED", "Access denied")
}

/// The entity type of `entityTypeId`: the four built-in ones and existing smart
/// processes.
async fn entity_of(ctx: &Ctx, id: Option<i64>) -> Result<EntityType, ApiError> {
    let Some(id) = id else {
        return Err(ApiError::coded(
            "REQUIRED_ARG_MISSING",
            "Argument 'entityTypeId' is required",
        ));
    };
    ctx.entity_type(id)
        .await?
        .ok_or_else(|| ApiError::coded("NOT_FOUND", "Smart process not found"))
}

fn item_id(id: Option<i64>) -> Result<i64, ApiError> {
    id.filter(|i| *i > 0).ok_or_else(not_found)
}

/// The binding id arrays of one item (`contactIds`, a contact's `companyIds`, a
/// company's `contactIds`).
async fn sets_of(ctx: &Ctx, entity: EntityType, id: i64) -> Result<ItemSets, ApiError> {
    let mut sets = ItemSets::default();
    for kind in entity.def().owns {
        let ids = ctx
            .store()
            .bindings(*kind, id)
            .await?
            .iter()
            .map(|b| b.bound_id)
            .collect();
        sets.ids.push((camel_name(entity, kind.ids_field), ids));
    }
    if entity == CONTACT_COMPANY.bound {
        let ids = ctx
            .store()
            .holders(CONTACT_COMPANY, id)
            .await?
            .iter()
            .map(|(owner, _)| *owner)
            .collect();
        sets.ids.push(("contactIds".into(), ids));
    }
    Ok(sets)
}

/// One item as the caller may read it.
async fn read(
    ctx: &Ctx,
    entity: EntityType,
    id: i64,
    original_uf: bool,
) -> Result<Value, ApiError> {
    let reach = ctx.require_any(Action::Read, entity, access_denied).await?;
    let row = ctx.store().get(entity, id).await?.ok_or_else(not_found)?;
    if !Ctx::permits(&reach, Some(&row)) {
        return Err(access_denied());
    }
    let schema = ctx.schema(entity).await?;
    item(ctx, &schema, &row, None, original_uf).await
}

async fn item(
    ctx: &Ctx,
    schema: &Schema,
    row: &Row,
    select: Option<&[String]>,
    original_uf: bool,
) -> Result<Value, ApiError> {
    let sets = sets_of(ctx, schema.entity(), row.id).await?;
    Ok(Value::Object(item_json(
        schema,
        row,
        &sets,
        select,
        original_uf,
        ctx.services.tz,
    )))
}

/// `crm.item.fields`: `{fields: {camelName: descriptor}}`.
pub async fn fields(ctx: Ctx, p: ItemParams) -> Result<Value, ApiError> {
    let entity = entity_of(&ctx, p.entity_type_id).await?;
    let schema = ctx.schema(entity).await?;
    let original = p.original_uf.unwrap_or(false);
    Ok(json!({ "fields": describe(&schema, original) }))
}

/// `crm.item.add`: `{item: …}` of the new item.
pub async fn add(ctx: Ctx, p: ItemParams) -> Result<Value, ApiError> {
    let entity = entity_of(&ctx, p.entity_type_id).await?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    let classic = classic_fields(&ctx.schema(entity).await?, &fields);
    let id = create(&ctx, entity, &classic, false, access_denied, None).await?;
    Ok(json!({ "item": read(&ctx, entity, id, p.original_uf.unwrap_or(false)).await? }))
}

/// `crm.item.get`: `{item: …}`.
pub async fn get(ctx: Ctx, p: ItemParams) -> Result<Value, ApiError> {
    let entity = entity_of(&ctx, p.entity_type_id).await?;
    let id = item_id(p.id)?;
    Ok(json!({ "item": read(&ctx, entity, id, p.original_uf.unwrap_or(false)).await? }))
}

/// `crm.item.update`: `{item: …}` after the change.
pub async fn update(ctx: Ctx, p: ItemParams) -> Result<Value, ApiError> {
    let entity = entity_of(&ctx, p.entity_type_id).await?;
    let id = item_id(p.id)?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    if fields.contains_key("id") || fields.contains_key("ID") {
        return Err(ApiError::coded(
            "INVALID_ARG_VALUE",
            "Setting value for Primary ID is not allowed, it is read-only field",
        ));
    }
    if !ctx.store().exists(entity, id).await? {
        return Err(not_found());
    }
    let classic = classic_fields(&ctx.schema(entity).await?, &fields);
    change(&ctx, entity, id, &classic, access_denied, not_found, true).await?;
    Ok(json!({ "item": read(&ctx, entity, id, p.original_uf.unwrap_or(false)).await? }))
}

/// `crm.item.delete`: `[]`.
pub async fn delete(ctx: Ctx, p: ItemParams) -> Result<Value, ApiError> {
    let entity = entity_of(&ctx, p.entity_type_id).await?;
    let id = item_id(p.id)?;
    if !ctx.store().exists(entity, id).await? {
        return Err(not_found());
    }
    ctx.require_item(Action::Delete, entity, id, access_denied)
        .await?;
    if ctx.store().delete(entity, id).await? {
        Ok(json!([]))
    } else {
        Err(not_found())
    }
}

/// Splits a filter key into its operator prefix and field name (`>=createdTime`).
fn split_key(key: &str) -> (&str, &str) {
    let at = key
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(key.len());
    key.split_at(at)
}

/// Universal `filter`/`order` keys → classic ones; an unknown field is an error, as on a
/// portal (`what`: `filter` or `order`).
fn classic_keys(
    schema: &Schema,
    map: &Map<String, Value>,
    what: &str,
) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for (key, value) in map {
        let (prefix, name) = split_key(key.trim());
        let field = classic_field(schema, name)
            .filter(|f| matches!(f.storage, Storage::Column | Storage::User) || f.name == "ID")
            .filter(|f| what != "order" || !f.multiple)
            .ok_or_else(|| {
                ApiError::coded(
                    "INVALID_ARG_VALUE",
                    format!("Invalid {what}: field '{name}' is not allowed in {what}"),
                )
            })?;
        if what == "order" {
            let dir = php_string(value).unwrap_or_default().to_ascii_uppercase();
            if dir != "ASC" && dir != "DESC" {
                return Err(ApiError::coded(
                    "INVALID_ARG_VALUE",
                    format!(
                        "Invalid order: allowed sort directions are ASC, DESC. But got '{dir}' for field '{name}'"
                    ),
                ));
            }
        }
        out.insert(format!("{prefix}{}", field.name), value.clone());
    }
    Ok(out)
}

/// `crm.item.list`: `{items: […]}` with `total` and `next` (pages of 50; `start=-1`: no
/// count); `select` keeps the listed fields (unknown ones dropped), in the item's order.
pub async fn list(ctx: Ctx, p: ItemParams) -> Result<Page<Value>, ApiError> {
    let entity = entity_of(&ctx, p.entity_type_id).await?;
    let filter = php_array(p.filter, "Parameter 'filter' must be array.")?;
    let order = php_array(p.order, "Parameter 'order' must be array.")?;
    let schema = ctx.schema(entity).await?;
    let filter = classic_keys(&schema, &filter, "filter")?;
    let order = classic_keys(&schema, &order, "order")?;
    let select: Vec<String> = match p.select {
        Some(Value::Array(a)) => a.iter().filter_map(php_string).collect(),
        Some(Value::Object(o)) => o.values().filter_map(php_string).collect(),
        Some(Value::String(s)) => vec![s],
        _ => Vec::new(),
    };
    // Names given in either form are answered under the name the item shows.
    let original = p.original_uf.unwrap_or(false);
    let select: Vec<String> = select
        .iter()
        .map(|s| match classic_field(&schema, s) {
            Some(f) if original && f.storage == Storage::User => f.name.to_string(),
            Some(f) => camel_name(entity, f.name),
            None => s.trim().to_string(),
        })
        .collect();
    let all = select.is_empty() || select.iter().any(|s| s == "*");
    let visible = ctx.require_any(Action::Read, entity, access_denied).await?;
    let tz = ctx.services.tz;
    let (offset, count) = page(p.start.unwrap_or(0));
    let query = ListQuery {
        filter: parse_filter(&schema, &filter, tz)
            .map_err(|e| ApiError::coded("INVALID_ARG_VALUE", format!("Invalid filter: {e}")))?,
        order: parse_order(&schema, &order),
        offset,
        limit: PAGE_SIZE,
        count,
        with_multi: all || select.iter().any(|s| s == "fm"),
        visible,
    };
    let (rows, total) = ctx.store().list(entity, query).await?;
    let keep = (!all).then_some(select.as_slice());
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(item(&ctx, &schema, row, keep, original).await?);
    }
    let next = offset
        .checked_add(PAGE_SIZE)
        .filter(|n| count && *n < total);
    Ok(Page {
        items: json!({ "items": items }),
        next,
        total,
    })
}

/// Registers `crm.item.*`.
pub fn register(r: &mut Registry) {
    let crm = Some(Scope::Crm);
    r.method("crm.item.fields", crm, fields)
        .method("crm.item.add", crm, add)
        .method("crm.item.get", crm, get)
        .method("crm.item.update", crm, update)
        .method("crm.item.delete", crm, delete)
        .list_method("crm.item.list", crm, list);
}
