//! `crm.status.*`: the reference lists clients resolve codes against and the stage lists
//! leads and deals move through, stored as data (a fresh portal's defaults to start).

use crate::methods::crm::php_array;
use crate::rpc::{ApiError, Ctx, Page, Registry};
use crm_core::entity::EntityType;
use crm_core::entity::dynamic::{parse_stage_list, stage_list, stage_prefix};
use crm_core::field::{FieldDef, FieldType, Stored, php_string};
use crm_core::identity::Scope;
use crm_core::pipeline::{Status, category_of, extra_semantics};
use crm_core::query::{Condition, ListQuery, Op};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

/// Parameters of `crm.status.list`.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    order: Option<Value>,
    filter: Option<Value>,
}

/// Parameters of `crm.status.get` and `crm.status.delete`.
#[derive(Debug, Deserialize)]
pub struct IdParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
    params: Option<Value>,
}

/// Parameters of `crm.status.add` and `crm.status.update`.
#[derive(Debug, Deserialize)]
pub struct FieldsParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
    fields: Option<Value>,
}

/// Parameters of `crm.status.entity.items`.
#[derive(Debug, Deserialize)]
pub struct EntityParams {
    #[serde(rename = "entityId")]
    entity_id: Option<String>,
}

/// The stage lists: rows of these carry `EXTRA` (`DEAL_STAGE_<n>` included).
const STAGE_LISTS: [&str; 2] = ["STATUS", "DEAL_STAGE"];

fn is_stage_list(entity_id: &str) -> bool {
    STAGE_LISTS
        .iter()
        .any(|base| category_of(base, entity_id).is_some())
        || parse_stage_list(entity_id).is_some()
}

/// `crm.status.fields`.
pub fn fields() -> Map<String, Value> {
    [
        FieldDef::new("ID", FieldType::Integer, "ID").ro(),
        FieldDef::new("ENTITY_ID", FieldType::String, "Entity ID")
            .req()
            .immutable(),
        FieldDef::new("STATUS_ID", FieldType::String, "Status")
            .req()
            .immutable(),
        FieldDef::new("SORT", FieldType::Integer, "Sorting"),
        FieldDef::new("NAME", FieldType::String, "Name").req(),
        FieldDef::new("NAME_INIT", FieldType::String, "Default Name").ro(),
        FieldDef::new("SYSTEM", FieldType::Char, "System").ro(),
        FieldDef::new("CATEGORY_ID", FieldType::Integer, "CATEGORY_ID").immutable(),
        FieldDef::new("COLOR", FieldType::String, "COLOR"),
        FieldDef::new("SEMANTICS", FieldType::Char, "SEMANTICS").immutable(),
        FieldDef::new("EXTRA", FieldType::StatusExtra, "Additional Fields"),
    ]
    .iter()
    .map(|f| (f.name.to_string(), f.describe()))
    .collect()
}

/// One row as the portal writes it: strings, `null` for empty, `EXTRA` on stage lists.
fn row(s: &Status, list: &[Status]) -> Value {
    let mut m = Map::new();
    m.insert("ID".into(), json!(s.id.to_string()));
    m.insert("ENTITY_ID".into(), json!(s.entity_id));
    m.insert("STATUS_ID".into(), json!(s.status_id));
    m.insert("NAME".into(), json!(s.name));
    m.insert("NAME_INIT".into(), json!(s.name_init));
    m.insert("SORT".into(), json!(s.sort.to_string()));
    m.insert("SYSTEM".into(), json!(if s.system { "Y" } else { "N" }));
    m.insert(
        "CATEGORY_ID".into(),
        json!(s.category_id.map(|c| c.to_string())),
    );
    m.insert("COLOR".into(), json!(s.color));
    m.insert("SEMANTICS".into(), json!(s.semantics));
    if is_stage_list(&s.entity_id) {
        let same: Vec<Status> = list
            .iter()
            .filter(|o| o.entity_id == s.entity_id)
            .cloned()
            .collect();
        m.insert(
            "EXTRA".into(),
            json!({"SEMANTICS": extra_semantics(s, &same), "COLOR": s.color}),
        );
    }
    Value::Object(m)
}

/// Only administrators change reference lists (the portal's CONFIG right).
fn require_admin(ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.caller.user.admin {
        Ok(())
    } else {
        Err(ApiError::invalid("Access denied."))
    }
}

/// `crm.status.list`: filterable by any returned key (exact match), ordered by the given
/// keys (default SORT ascending, then ID).
pub async fn list(ctx: Ctx, p: ListParams) -> Result<Page<Vec<Value>>, ApiError> {
    let filter = php_array(p.filter, "Parameter 'filter' must be array.")?;
    let order = php_array(p.order, "Parameter 'order' must be array.")?;
    let all = ctx.store().statuses().await?;
    let mut items: Vec<Value> = all
        .iter()
        .map(|s| row(s, &all))
        .filter(|item| {
            filter.iter().all(|(k, v)| {
                let key = k.trim_start_matches('=').to_ascii_uppercase();
                match (item.get(&key), php_string(v)) {
                    (Some(have), Some(want)) => php_string(have).is_some_and(|h| h == want),
                    (Some(Value::Null), None) => true,
                    (None, _) => true,
                    (Some(_), None) => false,
                }
            })
        })
        .collect();
    let mut keys: Vec<(String, bool)> = order
        .iter()
        .filter_map(|(k, v)| {
            let key = k.to_ascii_uppercase();
            let desc = php_string(v).is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            [
                "ID",
                "ENTITY_ID",
                "STATUS_ID",
                "NAME",
                "SORT",
                "SYSTEM",
                "CATEGORY_ID",
                "SEMANTICS",
            ]
            .contains(&key.as_str())
            .then_some((key, desc))
        })
        .collect();
    if keys.is_empty() {
        keys.push(("SORT".into(), false));
    }
    keys.push(("ID".into(), false));
    let numeric = |key: &str| matches!(key, "ID" | "SORT" | "CATEGORY_ID");
    items.sort_by(|a, b| {
        for (key, desc) in &keys {
            let (x, y) = (&a[key.as_str()], &b[key.as_str()]);
            let ord = if numeric(key) {
                let n = |v: &Value| v.as_str().and_then(|s| s.parse::<i64>().ok());
                n(x).cmp(&n(y))
            } else {
                x.as_str().cmp(&y.as_str())
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    let total = i64::try_from(items.len()).unwrap_or(0);
    Ok(Page {
        items,
        next: None,
        total,
    })
}

async fn find(ctx: &Ctx, id: Option<i64>) -> Result<Option<(Status, Vec<Status>)>, ApiError> {
    let all = ctx.store().statuses().await?;
    let id = id.unwrap_or(0);
    Ok(all.iter().find(|s| s.id == id).cloned().map(|s| (s, all)))
}

/// `crm.status.get`.
pub async fn get(ctx: Ctx, p: IdParams) -> Result<Value, ApiError> {
    let (s, all) = find(&ctx, p.id)
        .await?
        .ok_or_else(|| ApiError::invalid("CRM Status is not found."))?;
    Ok(row(&s, &all))
}

/// A colour as stored: `#` in front.
fn color_of(fields: &Map<String, Value>) -> Option<String> {
    let given = fields.get("COLOR").and_then(php_string).or_else(|| {
        fields
            .get("EXTRA")
            .and_then(|e| e.get("COLOR"))
            .and_then(php_string)
    })?;
    let given = given.trim();
    (!given.is_empty()).then(|| {
        if given.starts_with('#') {
            given.to_string()
        } else {
            format!("#{given}")
        }
    })
}

/// The lists a status may be added to: the existing lists (and each category's).
async fn known_list(ctx: &Ctx, entity_id: &str, all: &[Status]) -> Result<bool, ApiError> {
    if all.iter().any(|s| s.entity_id == entity_id) {
        return Ok(true);
    }
    let (owner, category) = match (
        category_of("DEAL_STAGE", entity_id),
        parse_stage_list(entity_id),
    ) {
        (Some(category), _) if category > 0 => (EntityType::Deal.type_id(), category),
        (_, Some((etid, category))) => (etid, category),
        _ => return Ok(false),
    };
    Ok(ctx
        .store()
        .categories(owner)
        .await?
        .iter()
        .any(|c| c.id == category))
}

/// `crm.status.add`: a new value of a list; its code gets the category prefix
/// (`C3:`) in a category's stage list. Returns the new id.
pub async fn add(ctx: Ctx, p: FieldsParams) -> Result<i64, ApiError> {
    require_admin(&ctx)?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    let text = |k: &str| {
        fields
            .get(k)
            .and_then(php_string)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let (entity_id, status_id) = (text("ENTITY_ID"), text("STATUS_ID"));
    let mut missing = Vec::new();
    if entity_id.is_none() {
        missing.push("The field ENTITY_ID is required.");
    }
    if status_id.is_none() {
        missing.push("The field STATUS_ID is required.");
    }
    let (Some(entity_id), Some(mut status_id)) = (entity_id, status_id) else {
        return Err(ApiError::invalid(missing.join("\n")));
    };
    let all = ctx.store().statuses().await?;
    if !known_list(&ctx, &entity_id, &all).await? {
        return Err(ApiError::invalid("Specified entity type is not supported."));
    }
    let category = category_of("DEAL_STAGE", &entity_id).filter(|c| *c > 0);
    let prefix = match (category, parse_stage_list(&entity_id)) {
        (Some(c), _) => Some(format!("C{c}:")),
        (None, Some((etid, c))) => Some(stage_prefix(etid, c)),
        (None, None) => None,
    };
    if let Some(prefix) = prefix
        && !status_id.starts_with(&prefix)
    {
        status_id = format!("{prefix}{status_id}");
    }
    if is_stage_list(&entity_id) {
        let bare = status_id
            .split_once(':')
            .map_or(status_id.as_str(), |(_, s)| s);
        if bare.is_empty()
            || !bare
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ApiError::invalid(
                "Status ID may include Latin characters, numbers, minus and underscore characters only",
            ));
        }
    }
    let semantics = text("SEMANTICS")
        .map(|s| s.to_ascii_uppercase())
        .filter(|s| is_stage_list(&entity_id) && (s == "S" || s == "F"));
    let sort = fields
        .get("SORT")
        .map(crm_core::field::php_int)
        .filter(|s| *s > 0)
        .unwrap_or(10);
    let status = Status {
        id: 0,
        name: text("NAME").unwrap_or_else(|| status_id.clone()),
        entity_id,
        status_id,
        name_init: String::new(),
        sort,
        system: false,
        color: color_of(&fields),
        semantics,
        category_id: category,
    };
    Ok(ctx.store().create_status(status).await?)
}

/// `crm.status.update`: name, SORT and colour (the code and list cannot change).
pub async fn update(ctx: Ctx, p: FieldsParams) -> Result<bool, ApiError> {
    require_admin(&ctx)?;
    let fields = php_array(p.fields, "Parameter 'fields' must be array.")?;
    let (current, _) = find(&ctx, p.id)
        .await?
        .ok_or_else(|| ApiError::invalid("Status is not found."))?;
    let name = fields
        .get("NAME")
        .and_then(php_string)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| current.name.clone());
    let sort = fields
        .get("SORT")
        .map(crm_core::field::php_int)
        .filter(|s| *s > 0)
        .unwrap_or(current.sort);
    let color = color_of(&fields).or_else(|| current.color.clone());
    let changed = Status {
        name,
        sort,
        color,
        ..current
    };
    Ok(ctx.store().update_status(changed).await?)
}

/// Whether any entity stands in the stage (`There are active items in this status.`).
async fn in_use(ctx: &Ctx, s: &Status) -> Result<bool, ApiError> {
    let smart: Vec<EntityType> = match parse_stage_list(&s.entity_id) {
        Some((etid, _)) => vec![EntityType::Dynamic(etid)],
        None => Vec::new(),
    };
    for entity in EntityType::ALL.into_iter().chain(smart) {
        let Some(stage) = entity.def().stage else {
            continue;
        };
        if category_of(stage.status_entity, &s.entity_id).is_none() {
            continue;
        }
        let Some(field) = entity.field(stage.field) else {
            continue;
        };
        let query = ListQuery::counting(vec![Condition::Field {
            field,
            op: Op::Eq,
            values: vec![Stored::Text(s.status_id.clone())],
            negate: false,
        }]);
        if ctx.store().list(entity, query).await?.1 > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `crm.status.delete`: system values only with `params: {FORCED: "Y"}`; a stage in use
/// is kept.
pub async fn delete(ctx: Ctx, p: IdParams) -> Result<bool, ApiError> {
    require_admin(&ctx)?;
    let params = php_array(p.params, "Parameter 'params' must be array.")?;
    let (s, _) = find(&ctx, p.id)
        .await?
        .ok_or_else(|| ApiError::invalid("Status is not found."))?;
    let forced = params
        .get("FORCED")
        .and_then(php_string)
        .is_some_and(|f| f == "Y");
    if s.system && !forced {
        return Err(ApiError::invalid(
            "CRM System Status can be deleted only if parameter FORCED is specified and equal to \"Y\".",
        ));
    }
    if in_use(&ctx, &s).await? {
        return Err(ApiError::invalid("There are active items in this status."));
    }
    Ok(ctx.store().delete_status(s.id).await?)
}

/// `crm.status.entity.types`: the lists, with the stage lists' semantic info.
pub async fn entity_types(ctx: Ctx, _: IgnoredAny) -> Result<Vec<Value>, ApiError> {
    let categories = ctx.store().categories(EntityType::Deal.type_id()).await?;
    let plain = |id: &str, name: &str| json!({"ID": id, "NAME": name});
    let mut out = vec![json!({
        "ID": "STATUS",
        "NAME": "Lead stages",
        "SEMANTIC_INFO": {"START_FIELD": "NEW", "FINAL_SUCCESS_FIELD": "CONVERTED",
                          "FINAL_UNSUCCESS_FIELD": "JUNK", "FINAL_SORT": 0},
        "ENTITY_TYPE_ID": 1,
    })];
    for (id, name) in [
        ("SOURCE", "Sources"),
        ("CONTACT_TYPE", "Contact type"),
        ("COMPANY_TYPE", "Company type"),
        ("EMPLOYEES", "Employees"),
        ("INDUSTRY", "Industry"),
        ("DEAL_TYPE", "Deal type"),
    ] {
        out.push(plain(id, name));
    }
    let general = if categories.is_empty() {
        "Deal Stage"
    } else {
        "General deal stages"
    };
    out.push(json!({
        "ID": "DEAL_STAGE",
        "NAME": general,
        "SEMANTIC_INFO": {"START_FIELD": "NEW", "FINAL_SUCCESS_FIELD": "WON",
                          "FINAL_UNSUCCESS_FIELD": "LOSE", "FINAL_SORT": 0},
        "FIELD_ATTRIBUTE_SCOPE": "",
        "ENTITY_TYPE_ID": 2,
        "CATEGORY_ID": 0,
    }));
    for c in &categories {
        out.push(json!({
            "ID": format!("DEAL_STAGE_{}", c.id),
            "NAME": format!("{} deal stages", c.name),
            "PARENT_ID": "DEAL_STAGE",
            "SEMANTIC_INFO": {"START_FIELD": format!("C{}:NEW", c.id),
                              "FINAL_SUCCESS_FIELD": format!("C{}:WON", c.id),
                              "FINAL_UNSUCCESS_FIELD": format!("C{}:LOSE", c.id),
                              "FINAL_SORT": 0},
            "PREFIX": format!("C{}", c.id),
            "FIELD_ATTRIBUTE_SCOPE": format!("category_{}", c.id),
            "ENTITY_TYPE_ID": 2,
            "CATEGORY_ID": c.id.to_string(),
        }));
    }
    out.push(plain("HONORIFIC", "Salutations"));
    for t in ctx.store().types().await? {
        let etid = t.entity_type_id;
        for c in ctx.store().categories(etid).await? {
            let prefix = stage_prefix(etid, c.id);
            out.push(json!({
                "ID": format!("{}_{}", stage_list(etid), c.id),
                "NAME": format!("{} stages ({})", t.title, c.name),
                "SEMANTIC_INFO": {"START_FIELD": format!("{prefix}NEW"),
                                  "FINAL_SUCCESS_FIELD": format!("{prefix}SUCCESS"),
                                  "FINAL_UNSUCCESS_FIELD": format!("{prefix}FAIL"),
                                  "FINAL_SORT": 0},
                "PREFIX": prefix.trim_end_matches(':'),
                "FIELD_ATTRIBUTE_SCOPE": "",
                "ENTITY_TYPE_ID": etid,
                "CATEGORY_ID": c.id,
            }));
        }
    }
    Ok(out)
}

/// `crm.status.entity.items`: one list's values, `{NAME, SORT, STATUS_ID}` by SORT.
pub async fn entity_items(ctx: Ctx, p: EntityParams) -> Result<Vec<Value>, ApiError> {
    let entity_id = p
        .entity_id
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::invalid("The parameter entityId is not defined or invalid."))?;
    let mut list: Vec<Status> = ctx
        .store()
        .statuses()
        .await?
        .into_iter()
        .filter(|s| s.entity_id == entity_id)
        .collect();
    list.sort_by_key(|s| (s.sort, s.id));
    Ok(list
        .iter()
        .map(|s| json!({"NAME": s.name, "SORT": s.sort, "STATUS_ID": s.status_id}))
        .collect())
}

/// Registers the family.
pub fn register(r: &mut Registry) {
    r.method(
        "crm.status.fields",
        Some(Scope::Crm),
        |_: Ctx, _: IgnoredAny| async move { Ok::<_, ApiError>(fields()) },
    )
    .list_method("crm.status.list", Some(Scope::Crm), list)
    .method("crm.status.get", Some(Scope::Crm), get)
    .method("crm.status.add", Some(Scope::Crm), add)
    .method("crm.status.update", Some(Scope::Crm), update)
    .method("crm.status.delete", Some(Scope::Crm), delete)
    .method("crm.status.entity.types", Some(Scope::Crm), entity_types)
    .method("crm.status.entity.items", Some(Scope::Crm), entity_items);
}
