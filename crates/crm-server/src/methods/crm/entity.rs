//! `crm.lead.*`, `crm.contact.*`, `crm.deal.*`: the same handlers, parameterised by
//! entity type.

use crate::methods::crm::php_array;
use crate::rpc::{ApiError, Ctx, Page, Registry};
use crm_core::entity::EntityType;
use crm_core::field::Stored;
use crm_core::field::{InvalidValue, Storage, php_string};
use crm_core::identity::Scope;
use crm_core::permission::{Action, Reach};
use crm_core::pipeline::Stages;
use crm_core::query::{ListQuery, PAGE_SIZE, page, parse_filter, parse_order, parse_select};
use crm_core::record::{Origin, new_entity, output, output_fields, prepare_update};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

/// Parameters of `*.add`.
#[derive(Debug, Deserialize)]
pub struct AddParams {
    fields: Option<Value>,
    params: Option<Value>,
}

/// Parameters of `*.update`.
#[derive(Debug, Deserialize)]
pub struct UpdateParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
    fields: Option<Value>,
    params: Option<Value>,
}

/// Parameters of `*.list`.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    order: Option<Value>,
    filter: Option<Value>,
    select: Option<Value>,
    start: Option<i64>,
}

/// Parameters of `*.get` and `*.delete`.
#[derive(Debug, Deserialize)]
pub struct IdParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
}

/// The entity methods' denial: empty code, HTTP 400.
const ACCESS_DENIED: &str = "Access denied.";

fn access_denied() -> ApiError {
    ApiError::invalid(ACCESS_DENIED)
}

fn valid_id(id: Option<i64>) -> Result<i64, ApiError> {
    id.filter(|i| *i > 0)
        .ok_or_else(|| ApiError::invalid("ID is not defined or invalid."))
}

/// `*.fields`: the field descriptors in table order.
pub async fn fields(ctx: Ctx, entity: EntityType) -> Result<Map<String, Value>, ApiError> {
    let schema = ctx.schema(entity).await?;
    Ok(schema
        .fields()
        .filter(|f| !f.hidden)
        .map(|f| {
            let described = match schema.user_field(f.name) {
                Some(user) => user.describe(),
                None => f.describe(),
            };
            (f.name.to_string(), described)
        })
        .collect())
}

/// The stage lists of an entity with stages, as stored now (none for others).
async fn stages(ctx: &Ctx, entity: EntityType) -> Result<Stages, ApiError> {
    let Some(stage) = entity.def().stage else {
        return Ok(Stages::default());
    };
    let stages = Stages::from_statuses(stage.status_entity, &ctx.store().statuses().await?);
    // A smart process's items go to its default category when they name none.
    Ok(match entity {
        EntityType::Dynamic(id) => match ctx.smart_type(id).await? {
            Some(t) => stages.with_default(t.default_category),
            None => stages,
        },
        _ => stages,
    })
}

/// `*.add`: creates the entity, returns its id (a JSON integer).
pub async fn add(ctx: Ctx, entity: EntityType, p: AddParams) -> Result<i64, ApiError> {
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    let params = php_array(p.params, "Parameter 'params' must be array.")?;
    let import = params
        .get("IMPORT")
        .and_then(php_string)
        .is_some_and(|v| v.eq_ignore_ascii_case("y"));
    create(&ctx, entity, &fields, import, access_denied, None).await
}

/// Creates an entity from classic `fields` (also the universal API's path): the add
/// right (in the new entity's category too), defaults, bound entities readable.
pub(crate) async fn create(
    ctx: &Ctx,
    entity: EntityType,
    fields: &Map<String, Value>,
    import: bool,
    access_denied: fn() -> ApiError,
    id: Option<i64>,
) -> Result<i64, ApiError> {
    let reach = ctx.require_any(Action::Add, entity, access_denied).await?;
    let origin = Origin {
        user_id: ctx.caller.user.id,
        now: ctx.now(),
        tz: ctx.services.tz,
        import,
        moves_category: false,
    };
    let stages = stages(ctx, entity).await?;
    let schema = ctx.schema(entity).await?;
    let mut new =
        new_entity(&schema, fields, origin, &stages).map_err(|e| ApiError::Invalid(e.0))?;
    new.id = id;
    // A right to add that differs by category (deals) is checked in the new one's.
    if let Reach::ByCategory { field, .. } = &reach {
        let category = new
            .values
            .iter()
            .find(|(n, _)| n == field)
            .map_or(0, |(_, v)| match v {
                Stored::Int(c) => *c,
                _ => 0,
            });
        if reach.in_category(category).is_none() {
            return Err(access_denied());
        }
    }
    for (kind, set) in &new.bindings {
        ctx.require_readable(kind.bound, set.iter().map(|b| b.bound_id).collect())
            .await?;
    }
    for (kind, items) in &new.held {
        ctx.require_readable(kind.owner, items.iter().map(|b| b.bound_id).collect())
            .await?;
    }
    Ok(ctx.store().create(entity, new).await?)
}

/// `*.get`: one entity in the portal's format.
pub async fn get(
    ctx: Ctx,
    entity: EntityType,
    p: IdParams,
) -> Result<Map<String, Value>, ApiError> {
    let id = valid_id(p.id)?;
    let reach = ctx.require_any(Action::Read, entity, access_denied).await?;
    let row = ctx.store().get(entity, id).await?;
    if !Ctx::permits(&reach, row.as_ref()) {
        return Err(access_denied());
    }
    let row = row.ok_or_else(|| ApiError::invalid("Not found"))?;
    let schema = ctx.schema(entity).await?;
    Ok(output(&schema, &row, ctx.services.tz))
}

/// `*.update`: partial update; `true`, or the entity's not-found text ("Lead is not
/// found", a deal's "Not found").
pub async fn update(ctx: Ctx, entity: EntityType, p: UpdateParams) -> Result<bool, ApiError> {
    let id = valid_id(p.id)?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    php_array(p.params, "Parameter 'params' must be array.")?;
    let not_found = || ApiError::invalid(entity.def().missing_on_update);
    change(&ctx, entity, id, &fields, access_denied, not_found, false).await
}

/// Updates an entity from classic `fields` (also the universal API's path): the item
/// right (checked again on the row the transaction reads), a missing entity reported
/// before a field error, bound entities readable.
pub(crate) async fn change(
    ctx: &Ctx,
    entity: EntityType,
    id: i64,
    fields: &Map<String, Value>,
    access_denied: fn() -> ApiError,
    not_found: impl Fn() -> ApiError,
    moves_category: bool,
) -> Result<bool, ApiError> {
    let reach = ctx
        .require_item(Action::Update, entity, id, access_denied)
        .await?;
    // A move to another category needs the right there too (rights by category).
    let category_field = entity.def().stage.and_then(|st| st.category_field);
    if let (true, Some(field), Reach::ByCategory { .. }) = (moves_category, category_field, &reach)
        && let Some(to) = fields.get(field).map(crm_core::field::php_int)
        && reach.in_category(to).is_none()
    {
        return Err(access_denied());
    }
    let origin = Origin {
        user_id: ctx.caller.user.id,
        now: ctx.now(),
        tz: ctx.services.tz,
        import: false,
        moves_category,
    };
    // Read and checked here; the store's writer only matches it against the row. A
    // missing entity is reported before a field error, as on a portal.
    // The stage lists matter only when the stage (or the category) is being changed.
    let moves = entity.def().stage.is_some_and(|st| {
        fields.contains_key(st.field)
            || (moves_category && st.category_field.is_some_and(|c| fields.contains_key(c)))
    });
    let stages = if moves {
        stages(ctx, entity).await?
    } else {
        Stages::default()
    };
    let schema = ctx.schema(entity).await?;
    let request = match prepare_update(&schema, fields, origin, stages) {
        Ok(r) => r,
        Err(_) if !ctx.store().exists(entity, id).await? => return Err(not_found()),
        Err(e) => return Err(ApiError::Invalid(e.0)),
    };
    for (bound, ids) in request.requested_bindings() {
        ctx.require_readable(bound, ids).await?;
    }
    // The right is checked again on the row the transaction reads, in case it was
    // reassigned since.
    let denied = access_denied().to_string();
    let plan = Box::new(move |row: &_, sets: &[_]| {
        if !Ctx::permits(&reach, Some(row)) {
            return Err(InvalidValue(denied.clone()));
        }
        request.plan(row, sets)
    });
    if ctx.store().update(entity, id, plan).await? {
        Ok(true)
    } else {
        Err(not_found())
    }
}

/// `*.list`: one page of 50, filtered, ordered and selected as on a portal; `total` and
/// `next` as siblings of `result` (`start = -1`: no count, `total` 0, no `next`).
pub async fn list(
    ctx: Ctx,
    entity: EntityType,
    p: ListParams,
) -> Result<Page<Vec<Map<String, Value>>>, ApiError> {
    let order = php_array(p.order, "Parameter 'order' must be array.")?;
    let filter = php_array(p.filter, "Parameter 'filter' must be array.")?;
    let select: Vec<String> = match p.select {
        Some(Value::Array(a)) => a.iter().filter_map(php_string).collect(),
        Some(Value::Object(o)) => o.values().filter_map(php_string).collect(),
        Some(Value::String(s)) => vec![s],
        _ => Vec::new(),
    };
    let visible = ctx.require_any(Action::Read, entity, access_denied).await?;
    let tz = ctx.services.tz;
    let (offset, count) = page(p.start.unwrap_or(0));
    let schema = ctx.schema(entity).await?;
    let fields = parse_select(&schema, &select);
    let query = ListQuery {
        filter: parse_filter(&schema, &filter, tz).map_err(|e| ApiError::invalid(e.to_string()))?,
        order: parse_order(&schema, &order),
        offset,
        limit: PAGE_SIZE,
        count,
        with_multi: fields.iter().any(|f| f.storage == Storage::Multi),
        visible,
    };
    let (rows, total) = ctx.store().list(entity, query).await?;
    let items = rows
        .iter()
        .map(|r| output_fields(&schema, r, tz, &fields))
        .collect();
    let next = offset
        .checked_add(PAGE_SIZE)
        .filter(|n| count && *n < total);
    Ok(Page { items, next, total })
}

/// `*.delete`: removes the entity, its multi-fields and bindings; contacts are also
/// removed from every lead they were bound to (re-electing primaries).
pub async fn delete(ctx: Ctx, entity: EntityType, p: IdParams) -> Result<bool, ApiError> {
    let id = valid_id(p.id)?;
    ctx.require_item(Action::Delete, entity, id, access_denied)
        .await?;
    if ctx.store().delete(entity, id).await? {
        Ok(true)
    } else {
        Err(ApiError::invalid("Not found"))
    }
}

macro_rules! family {
    ($r:expr, $entity:expr, $fields:literal, $add:literal, $get:literal, $list:literal, $update:literal, $delete:literal) => {{
        $r.method($fields, Some(Scope::Crm), |ctx: Ctx, _: IgnoredAny| {
            fields(ctx, $entity)
        })
        .method($add, Some(Scope::Crm), |ctx: Ctx, p: AddParams| {
            add(ctx, $entity, p)
        })
        .method($get, Some(Scope::Crm), |ctx: Ctx, p: IdParams| {
            get(ctx, $entity, p)
        })
        .list_method($list, Some(Scope::Crm), |ctx: Ctx, p: ListParams| {
            list(ctx, $entity, p)
        })
        .method($update, Some(Scope::Crm), |ctx: Ctx, p: UpdateParams| {
            update(ctx, $entity, p)
        })
        .method($delete, Some(Scope::Crm), |ctx: Ctx, p: IdParams| {
            delete(ctx, $entity, p)
        });
    }};
}

/// Registers `crm.lead.*`, `crm.contact.*`, `crm.deal.*`.
pub fn register(r: &mut Registry) {
    family!(
        r,
        EntityType::Lead,
        "crm.lead.fields",
        "crm.lead.add",
        "crm.lead.get",
        "crm.lead.list",
        "crm.lead.update",
        "crm.lead.delete"
    );
    family!(
        r,
        EntityType::Contact,
        "crm.contact.fields",
        "crm.contact.add",
        "crm.contact.get",
        "crm.contact.list",
        "crm.contact.update",
        "crm.contact.delete"
    );
    family!(
        r,
        EntityType::Deal,
        "crm.deal.fields",
        "crm.deal.add",
        "crm.deal.get",
        "crm.deal.list",
        "crm.deal.update",
        "crm.deal.delete"
    );
    family!(
        r,
        EntityType::Company,
        "crm.company.fields",
        "crm.company.add",
        "crm.company.get",
        "crm.company.list",
        "crm.company.update",
        "crm.company.delete"
    );
}
