//! Categories (pipelines): `crm.category.*` for deals (`entityTypeId` 2) and smart
//! processes, and the older `crm.dealcategory.*`. A deal's category 0, the default,
//! always exists and is not stored; every other one is created with its own stage list
//! (`DEAL_STAGE_<id>`, codes `C<id>:`; a smart process's `DYNAMIC_<type>_STAGE_<id>`,
//! codes `DT<type>_<id>:`).

use crate::methods::crm::php_array;
use crate::rpc::{ApiError, Ctx, Page, Registry};
use crm_core::entity::EntityType;
use crm_core::field::{FieldDef, FieldType, Stored, format_datetime, php_int, php_string};
use crm_core::identity::Scope;
use crm_core::pipeline::{Category, Status, new_category_stages, stage_entity};
use crm_core::query::{Condition, ListQuery, Op};
use crm_core::smart::{self, SmartType};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

/// The setting holding the default category's name.
const DEFAULT_NAME: &str = "DEFAULT_DEAL_CATEGORY_NAME";

/// Parameters of `crm.category.*`.
#[derive(Debug, Deserialize)]
pub struct CategoryParams {
    #[serde(rename = "entityTypeId")]
    entity_type_id: Option<i64>,
    id: Option<i64>,
    fields: Option<Value>,
}

/// Parameters of `crm.dealcategory.*`.
#[derive(Debug, Deserialize)]
pub struct DealCategoryParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
    fields: Option<Value>,
    name: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::coded("NOT_FOUND", "Element not found")
}

fn only_admin(ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.caller.user.admin {
        Ok(())
    } else {
        Err(ApiError::coded("ACCESS_DENIED", "Access denied"))
    }
}

/// Whose categories a call is about: deals (a virtual default category 0, stored ones
/// with stage lists `DEAL_STAGE_<id>`) or a smart process (every category stored, the
/// default one named by the type, lists `DYNAMIC_<type>_STAGE_<id>`).
enum Owner {
    Deals,
    Smart(SmartType),
}

/// The owner of `entityTypeId`: deals, or an existing smart process.
async fn owner(ctx: &Ctx, entity_type_id: Option<i64>) -> Result<Owner, ApiError> {
    match entity_type_id {
        Some(2) => Ok(Owner::Deals),
        Some(1 | 3 | 4) => Err(ApiError::coded(
            "ENTITY_TYPE_NOT_SUPPORTED",
            "Entity type is not supported",
        )),
        Some(id) => match ctx.smart_type(id).await? {
            Some(t) => Ok(Owner::Smart(t)),
            None => Err(ApiError::coded("NOT_FOUND", "Smart process not found")),
        },
        None => Err(ApiError::coded("NOT_FOUND", "Smart process not found")),
    }
}

impl Owner {
    fn entity(&self) -> EntityType {
        match self {
            Self::Deals => EntityType::Deal,
            Self::Smart(t) => EntityType::Dynamic(t.entity_type_id),
        }
    }

    fn is_default(&self, c: &Category) -> bool {
        match self {
            Self::Deals => c.id == 0,
            Self::Smart(t) => c.id == t.default_category,
        }
    }

    /// The stage list of one of its categories.
    fn stage_list(&self, category: i64) -> String {
        let base = self
            .entity()
            .def()
            .stage
            .map_or("DEAL_STAGE", |s| s.status_entity);
        stage_entity(base, category)
    }

    /// The stages a new category starts with.
    fn new_stages(&self) -> Box<dyn Fn(i64) -> Vec<Status> + Send + Sync> {
        match self {
            Self::Deals => Box::new(new_category_stages),
            Self::Smart(t) => {
                let etid = t.entity_type_id;
                Box::new(move |c| smart::new_stages(etid, c))
            }
        }
    }

    /// Every category, the default one first for deals (at SORT 0), by SORT and id.
    async fn all(&self, ctx: &Ctx) -> Result<Vec<Category>, ApiError> {
        let mut out = Vec::new();
        if let Self::Deals = self {
            out.push(Category {
                id: 0,
                entity_type_id: 2,
                name: default_name(ctx).await?,
                sort: 0,
                created: 0,
            });
        }
        out.extend(ctx.store().categories(self.entity().type_id()).await?);
        out.sort_by_key(|c| (c.sort, c.id));
        Ok(out)
    }

    async fn one(&self, ctx: &Ctx, id: i64) -> Result<Option<Category>, ApiError> {
        Ok(self.all(ctx).await?.into_iter().find(|c| c.id == id))
    }

    /// The camelCase object of `crm.category.*`.
    fn camel(&self, c: &Category) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(c.id));
        m.insert("name".into(), json!(c.name));
        m.insert("sort".into(), json!(c.sort));
        m.insert("entityTypeId".into(), json!(c.entity_type_id));
        let default = self.is_default(c);
        m.insert("isDefault".into(), json!(if default { "Y" } else { "N" }));
        if c.id > 0 {
            m.insert("originId".into(), json!(""));
            m.insert("originatorId".into(), json!(""));
        }
        Value::Object(m)
    }
}

async fn default_name(ctx: &Ctx) -> Result<String, ApiError> {
    Ok(ctx
        .store()
        .setting(DEFAULT_NAME.into())
        .await?
        .unwrap_or_else(|| "General".into()))
}

async fn one(ctx: &Ctx, id: i64) -> Result<Option<Category>, ApiError> {
    Owner::Deals.one(ctx, id).await
}

/// Items in a category of `entity` (a category with items cannot be deleted).
async fn items_in(ctx: &Ctx, entity: EntityType, category: i64) -> Result<i64, ApiError> {
    let field = entity
        .field("CATEGORY_ID")
        .ok_or_else(|| ApiError::invalid("the entity has no category"))?;
    let query = ListQuery::counting(vec![Condition::Field {
        field,
        op: Op::Eq,
        values: vec![Stored::Int(category)],
        negate: false,
    }]);
    Ok(ctx.store().list(entity, query).await?.1)
}

/// Name and SORT from `fields` (either case), over `current`.
fn edited(fields: &Map<String, Value>, current: Category) -> Category {
    let get = |k: &str| {
        fields
            .get(k)
            .or_else(|| fields.get(&k.to_ascii_uppercase()))
    };
    let name = get("name")
        .and_then(php_string)
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or(current.name.clone());
    let sort = get("sort").map(php_int).map_or(current.sort, |s| s.max(0));
    Category {
        name,
        sort,
        ..current
    }
}

async fn create(
    ctx: &Ctx,
    owner: &Owner,
    fields: &Map<String, Value>,
    sort: i64,
) -> Result<i64, ApiError> {
    let blank = Category {
        id: 0,
        entity_type_id: owner.entity().type_id(),
        name: String::new(),
        sort,
        created: ctx.now().timestamp(),
    };
    let category = edited(fields, blank);
    if category.name.is_empty() {
        return Err(ApiError::coded("0", "Field 'NAME' is required"));
    }
    Ok(ctx
        .store()
        .create_category(category, owner.new_stages())
        .await?)
}

/// `crm.category.list`: every category of deals or of a smart process, unpaged.
pub async fn list(ctx: Ctx, p: CategoryParams) -> Result<Page<Value>, ApiError> {
    let owner = owner(&ctx, p.entity_type_id).await?;
    let categories: Vec<Value> = owner
        .all(&ctx)
        .await?
        .iter()
        .map(|c| owner.camel(c))
        .collect();
    let total = i64::try_from(categories.len()).unwrap_or(0);
    Ok(Page {
        items: json!({ "categories": categories }),
        next: None,
        total,
    })
}

/// `crm.category.get`.
pub async fn get(ctx: Ctx, p: CategoryParams) -> Result<Value, ApiError> {
    let owner = owner(&ctx, p.entity_type_id).await?;
    let c = owner
        .one(&ctx, p.id.unwrap_or(-1))
        .await?
        .ok_or_else(not_found)?;
    Ok(json!({ "category": owner.camel(&c) }))
}

/// `crm.category.add`: a new category with the default stages.
pub async fn add(ctx: Ctx, p: CategoryParams) -> Result<Value, ApiError> {
    let owner = owner(&ctx, p.entity_type_id).await?;
    only_admin(&ctx)?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    let id = create(&ctx, &owner, &fields, 500).await?;
    let c = owner.one(&ctx, id).await?.ok_or_else(not_found)?;
    Ok(json!({ "category": owner.camel(&c) }))
}

/// `crm.category.update`: name and SORT (and, for a smart process, `isDefault: "Y"`
/// makes it the default category).
pub async fn update(ctx: Ctx, p: CategoryParams) -> Result<Value, ApiError> {
    let owner = owner(&ctx, p.entity_type_id).await?;
    only_admin(&ctx)?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    let current = owner
        .one(&ctx, p.id.unwrap_or(-1))
        .await?
        .ok_or_else(not_found)?;
    let changed = edited(&fields, current);
    let mut owner = owner;
    match &mut owner {
        Owner::Deals if changed.id == 0 => {
            ctx.store()
                .set_setting(DEFAULT_NAME.into(), Some(changed.name.clone()))
                .await?;
        }
        Owner::Smart(t) => {
            ctx.store().update_category(changed.clone()).await?;
            let default = fields
                .get("isDefault")
                .and_then(php_string)
                .is_some_and(|d| d.eq_ignore_ascii_case("y"));
            if default && t.default_category != changed.id {
                t.default_category = changed.id;
                ctx.store().update_type(t.clone()).await?;
            }
        }
        Owner::Deals => {
            ctx.store().update_category(changed.clone()).await?;
        }
    }
    Ok(json!({ "category": owner.camel(&changed) }))
}

/// Deletes a category unless it is the default one or still has items.
async fn remove(ctx: &Ctx, owner: &Owner, id: i64, texts: [&str; 2]) -> Result<(), ApiError> {
    let c = owner.one(ctx, id).await?.ok_or_else(not_found)?;
    if owner.is_default(&c) {
        return Err(ApiError::coded("0", texts[0]));
    }
    if items_in(ctx, owner.entity(), c.id).await? > 0 {
        return Err(ApiError::coded("0", texts[1].replace("{}", &c.name)));
    }
    ctx.store()
        .delete_category(c.id, owner.stage_list(c.id))
        .await?;
    Ok(())
}

/// `crm.category.delete`: `null`.
pub async fn delete(ctx: Ctx, p: CategoryParams) -> Result<Value, ApiError> {
    let owner = owner(&ctx, p.entity_type_id).await?;
    only_admin(&ctx)?;
    let texts = match owner {
        Owner::Deals => [
            "Default deal category cannot be deleted",
            "Deals related to the funnel `{}` found",
        ],
        Owner::Smart(_) => [
            "Default category cannot be deleted",
            "Items related to the category `{}` found",
        ],
    };
    remove(&ctx, &owner, p.id.unwrap_or(-1), texts).await?;
    Ok(Value::Null)
}

/// `crm.category.fields`.
pub async fn fields(ctx: Ctx, p: CategoryParams) -> Result<Value, ApiError> {
    owner(&ctx, p.entity_type_id).await?;
    let f = |name: &str, ty: &str, upper: &str, required: bool, read_only: bool| {
        json!({"type": ty, "isRequired": required, "isReadOnly": read_only,
               "isImmutable": false, "isMultiple": false, "isDynamic": false,
               "title": upper, "upperName": upper, "name": name})
    };
    Ok(json!({"fields": {
        "id": f("id", "integer", "ID", false, true),
        "name": f("name", "string", "NAME", false, false),
        "sort": f("sort", "integer", "SORT", false, false),
        "entityTypeId": f("entityTypeId", "integer", "ENTITY_TYPE_ID", true, true),
        "isDefault": f("isDefault", "boolean", "IS_DEFAULT", false, true),
        "originId": f("originId", "string", "ORIGIN_ID", false, false),
        "originatorId": f("originatorId", "string", "ORIGINATOR_ID", false, false),
    }}))
}

/// The UPPER_CASE row of `crm.dealcategory.*`.
fn upper(c: &Category, ctx: &Ctx) -> Value {
    json!({
        "ID": c.id.to_string(),
        "CREATED_DATE": format_datetime(c.created, ctx.services.tz),
        "NAME": c.name,
        "SORT": c.sort.to_string(),
        "IS_LOCKED": "N",
    })
}

/// `crm.dealcategory.fields`.
pub fn deal_category_fields() -> Map<String, Value> {
    [
        FieldDef::new("ID", FieldType::Integer, "ID").ro(),
        FieldDef::new("CREATED_DATE", FieldType::Date, "Created on").ro(),
        FieldDef::new("NAME", FieldType::String, "Name").req(),
        FieldDef::new("SORT", FieldType::Integer, "Sort"),
        FieldDef::new("IS_LOCKED", FieldType::Char, "Blocked")
            .ro()
            .deprecated(),
    ]
    .iter()
    .map(|f| (f.name.to_string(), f.describe()))
    .collect()
}

/// `crm.dealcategory.list`: the stored categories (never the default one).
pub async fn dc_list(ctx: Ctx, _: IgnoredAny) -> Result<Page<Vec<Value>>, ApiError> {
    let rows: Vec<Value> = ctx
        .store()
        .categories(EntityType::Deal.type_id())
        .await?
        .iter()
        .map(|c| upper(c, &ctx))
        .collect();
    let total = i64::try_from(rows.len()).unwrap_or(0);
    Ok(Page {
        items: rows,
        next: None,
        total,
    })
}

fn dc_id(id: Option<i64>) -> Result<i64, ApiError> {
    id.filter(|i| *i > 0)
        .ok_or_else(|| ApiError::invalid("ID is not defined or invalid."))
}

/// `crm.dealcategory.get`.
pub async fn dc_get(ctx: Ctx, p: DealCategoryParams) -> Result<Value, ApiError> {
    let id = dc_id(p.id)?;
    let c = one(&ctx, id)
        .await?
        .ok_or_else(|| ApiError::invalid("Not found"))?;
    Ok(upper(&c, &ctx))
}

/// `crm.dealcategory.add`: the new id.
pub async fn dc_add(ctx: Ctx, p: DealCategoryParams) -> Result<i64, ApiError> {
    if !ctx.caller.user.admin {
        return Err(ApiError::invalid("Access denied."));
    }
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    // The older method words the missing name its own way; other failures stay as they are.
    create(&ctx, &Owner::Deals, &fields, 0)
        .await
        .map_err(|e| match e {
            ApiError::Coded("0", _) => ApiError::invalid("Field 'NAME' is required."),
            other => other,
        })
}

/// `crm.dealcategory.update`.
pub async fn dc_update(ctx: Ctx, p: DealCategoryParams) -> Result<bool, ApiError> {
    if !ctx.caller.user.admin {
        return Err(ApiError::invalid("Access denied."));
    }
    let id = dc_id(p.id)?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    let current = ctx
        .store()
        .categories(EntityType::Deal.type_id())
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::invalid("Not found."))?;
    Ok(ctx
        .store()
        .update_category(edited(&fields, current))
        .await?)
}

/// `crm.dealcategory.delete`.
pub async fn dc_delete(ctx: Ctx, p: DealCategoryParams) -> Result<bool, ApiError> {
    if !ctx.caller.user.admin {
        return Err(ApiError::invalid("Access denied."));
    }
    let id = dc_id(p.id)?;
    if one(&ctx, id).await?.is_none() {
        return Err(ApiError::invalid("Not found."));
    }
    remove(
        &ctx,
        &Owner::Deals,
        id,
        [
            "Default deal category cannot be deleted",
            "Found \"{}\" pipeline deals",
        ],
    )
    .await
    // The older method answers with an empty code; other failures stay as they are.
    .map_err(|e| match e {
        ApiError::Coded(_, text) => ApiError::Invalid(text),
        other => other,
    })?;
    Ok(true)
}

/// `crm.dealcategory.status`: the stage list's id (no existence check).
pub async fn dc_status(_: Ctx, p: DealCategoryParams) -> Result<String, ApiError> {
    Ok(stage_entity("DEAL_STAGE", p.id.unwrap_or(0).max(0)))
}

/// `crm.dealcategory.stage.list`: `{NAME, SORT, STATUS_ID}` by SORT.
pub async fn dc_stage_list(ctx: Ctx, p: DealCategoryParams) -> Result<Vec<Value>, ApiError> {
    let list = stage_entity("DEAL_STAGE", p.id.unwrap_or(0).max(0));
    let mut stages: Vec<Status> = ctx
        .store()
        .statuses()
        .await?
        .into_iter()
        .filter(|s| s.entity_id == list)
        .collect();
    stages.sort_by_key(|s| (s.sort, s.id));
    Ok(stages
        .iter()
        .map(|s| json!({"NAME": s.name, "SORT": s.sort, "STATUS_ID": s.status_id}))
        .collect())
}

/// `crm.dealcategory.default.get`.
pub async fn dc_default_get(ctx: Ctx, _: IgnoredAny) -> Result<Value, ApiError> {
    Ok(json!({"ID": 0, "NAME": default_name(&ctx).await?}))
}

/// `crm.dealcategory.default.set`: a blank name restores the default one.
pub async fn dc_default_set(ctx: Ctx, p: DealCategoryParams) -> Result<bool, ApiError> {
    if !ctx.caller.user.admin {
        return Err(ApiError::invalid("Access denied."));
    }
    let name = p
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    ctx.store().set_setting(DEFAULT_NAME.into(), name).await?;
    Ok(true)
}

/// Registers both families.
pub fn register(r: &mut Registry) {
    let crm = Some(Scope::Crm);
    r.list_method("crm.category.list", crm, list)
        .method("crm.category.get", crm, get)
        .method("crm.category.add", crm, add)
        .method("crm.category.update", crm, update)
        .method("crm.category.delete", crm, delete)
        .method("crm.category.fields", crm, fields)
        .method(
            "crm.dealcategory.fields",
            crm,
            |_: Ctx, _: IgnoredAny| async move { Ok::<_, ApiError>(deal_category_fields()) },
        )
        .list_method("crm.dealcategory.list", crm, dc_list)
        .method("crm.dealcategory.get", crm, dc_get)
        .method("crm.dealcategory.add", crm, dc_add)
        .method("crm.dealcategory.update", crm, dc_update)
        .method("crm.dealcategory.delete", crm, dc_delete)
        .method("crm.dealcategory.status", crm, dc_status)
        .method("crm.dealcategory.stage.list", crm, dc_stage_list)
        .method("crm.dealcategory.default.get", crm, dc_default_get)
        .method("crm.dealcategory.default.set", crm, dc_default_set);
}
