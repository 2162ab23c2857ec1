//! The binding families (`crm.lead.contact.*`, `crm.deal.contact.*`): six methods
//! generic over a [`BindingKind`], following the portal's step order, texts and statuses.
//! A family is one `family!` registration.

use crate::rpc::{ApiError, Ctx, Registry};
use crate::wire::php_array;
use crm_core::binding::{Binding, BindingKind, NewBinding, normalize_items, plan_add, plan_remove};
use crm_core::entity::{DEAL_CONTACT, LEAD_CONTACT};
use crm_core::field::{FieldDef, FieldType};
use crm_core::identity::Scope;
use crm_core::permission::Action;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

/// Parameters of `add` and `delete`.
#[derive(Debug, Deserialize)]
pub struct FieldsParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
    fields: Option<Value>,
}

/// Parameters of `items.get` and `items.delete`.
#[derive(Debug, Deserialize)]
pub struct OwnerParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
}

/// Parameters of `items.set`.
#[derive(Debug, Deserialize)]
pub struct ItemsParams {
    #[serde(rename = "ID")]
    id: Option<i64>,
    items: Option<Value>,
}

/// The owner id check of `add`/`delete` (quoted name) …
fn owner_id(id: Option<i64>) -> Result<i64, ApiError> {
    id.filter(|i| *i > 0).ok_or_else(|| {
        ApiError::invalid("The parameter 'ownerEntityID' is invalid or not defined.")
    })
}

/// … and of `items.*` (unquoted, as the portal writes it).
fn owner_id_items(id: Option<i64>) -> Result<i64, ApiError> {
    id.filter(|i| *i > 0)
        .ok_or_else(|| ApiError::invalid("The parameter ownerEntityID is invalid or not defined."))
}

/// `fields`: SORT, IS_PRIMARY and the bound key (ROLE_ID is returned but not described).
pub fn fields(kind: BindingKind) -> Map<String, Value> {
    let bound_type = match kind.bound_key {
        "CONTACT_ID" => "Contact",
        _ => "Company",
    };
    [
        FieldDef::new("SORT", FieldType::Integer, "Sorting"),
        FieldDef::new("IS_PRIMARY", FieldType::Char, "Primary"),
        FieldDef::new(kind.bound_key, FieldType::Integer, bound_type).req(),
    ]
    .iter()
    .map(|f| (f.name.to_string(), f.describe()))
    .collect()
}

/// Steps shared by `add` and `delete` up to "the lead exists": owner id, `fields` shape,
/// update right, existence, bound id, read right on the bound entity.
async fn prepare(
    ctx: &Ctx,
    kind: BindingKind,
    p: FieldsParams,
    not_array: &str,
) -> Result<(i64, NewBinding), ApiError> {
    let owner = owner_id(p.id)?;
    let fields = p
        .fields
        .and_then(php_array::as_array)
        .ok_or_else(|| ApiError::invalid(not_array))?;
    ctx.require_item(Action::Update, kind.owner, owner, || ApiError::AccessDenied)
        .await?;
    if !ctx.store().exists(kind.owner, owner).await? {
        return Err(ApiError::invalid("Not found."));
    }
    let new =
        NewBinding::from_fields(kind, &fields).map_err(|e| ApiError::invalid(e.to_string()))?;
    ctx.require_readable(kind.bound, vec![new.bound_id]).await?;
    Ok((owner, new))
}

/// `add`: `true` when bound, `false` (nothing changed) when already bound.
pub async fn add(ctx: Ctx, kind: BindingKind, p: FieldsParams) -> Result<bool, ApiError> {
    let (owner, new) = prepare(&ctx, kind, p, "The parameter 'fields' must be array.").await?;
    let edit = Box::new(move |old: &[Binding]| plan_add(old, new));
    Ok(ctx
        .store()
        .edit_bindings(kind, owner, true, vec![new.bound_id], edit)
        .await?)
}

/// `delete`: `true` when unbound, `false` when it was not bound.
pub async fn delete(ctx: Ctx, kind: BindingKind, p: FieldsParams) -> Result<bool, ApiError> {
    let (owner, gone) = prepare(&ctx, kind, p, "The parameter 'item' must be array.").await?;
    let edit = Box::new(move |old: &[Binding]| plan_remove(old, gone.bound_id));
    Ok(ctx
        .store()
        .edit_bindings(kind, owner, true, Vec::new(), edit)
        .await?)
}

/// Whether `items.get` and `items.delete` answer a missing owner with an error: "Not
/// found" (no period) for deals; a lead reads as an empty set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingOwner {
    /// An empty set (`[]`, `true`).
    Empty,
    /// "Not found", or "Access denied" for a caller without any read right.
    NotFound,
}

/// The existence check of `items.get`/`items.delete` for families that make one.
async fn check_owner(
    ctx: &Ctx,
    kind: BindingKind,
    owner: i64,
    missing: MissingOwner,
) -> Result<(), ApiError> {
    if missing == MissingOwner::NotFound && !ctx.store().exists(kind.owner, owner).await? {
        ctx.require_any(Action::Read, kind.owner, || {
            ApiError::invalid("Access denied")
        })
        .await?;
        return Err(ApiError::invalid("Not found"));
    }
    Ok(())
}

/// `items.get`: the set in SORT order, with integer ids and a `Y`/`N` flag.
pub async fn items_get(
    ctx: Ctx,
    kind: BindingKind,
    missing: MissingOwner,
    p: OwnerParams,
) -> Result<Vec<Value>, ApiError> {
    let owner = owner_id_items(p.id)?;
    check_owner(&ctx, kind, owner, missing).await?;
    ctx.require_item(Action::Read, kind.owner, owner, || ApiError::AccessDenied)
        .await?;
    let set = ctx.store().bindings(kind, owner).await?;
    Ok(set
        .iter()
        .map(|b| {
            let mut m = Map::new();
            m.insert(kind.bound_key.into(), json!(b.bound_id));
            m.insert("SORT".into(), json!(b.sort));
            m.insert("ROLE_ID".into(), json!(b.role_id));
            m.insert(
                "IS_PRIMARY".into(),
                json!(if b.is_primary { "Y" } else { "N" }),
            );
            Value::Object(m)
        })
        .collect())
}

/// `items.set`: replaces the whole set with the normalised list.
pub async fn items_set(ctx: Ctx, kind: BindingKind, p: ItemsParams) -> Result<bool, ApiError> {
    let owner = owner_id_items(p.id)?;
    let items = match p.items {
        Some(Value::Array(a)) => a,
        Some(Value::Object(o)) => o.into_iter().map(|(_, v)| v).collect(),
        _ => return Err(ApiError::invalid("The parameter items must be array.")),
    };
    ctx.require_item(Action::Update, kind.owner, owner, || ApiError::AccessDenied)
        .await?;
    if !ctx.store().exists(kind.owner, owner).await? {
        return Err(ApiError::invalid("Not found."));
    }
    let set = normalize_items(kind, &items);
    ctx.require_readable(kind.bound, set.iter().map(|b| b.bound_id).collect())
        .await?;
    let ids = set.iter().map(|b| b.bound_id).collect();
    let edit = Box::new(move |_: &[Binding]| Some(set.clone()));
    ctx.store()
        .edit_bindings(kind, owner, true, ids, edit)
        .await?;
    Ok(true)
}

/// `items.delete`: removes every binding.
pub async fn items_delete(
    ctx: Ctx,
    kind: BindingKind,
    missing: MissingOwner,
    p: OwnerParams,
) -> Result<bool, ApiError> {
    let owner = owner_id_items(p.id)?;
    check_owner(&ctx, kind, owner, missing).await?;
    ctx.require_item(Action::Read, kind.owner, owner, || ApiError::AccessDenied)
        .await?;
    ctx.require_item(Action::Update, kind.owner, owner, || ApiError::AccessDenied)
        .await?;
    let edit = Box::new(|old: &[Binding]| (!old.is_empty()).then(Vec::new));
    ctx.store()
        .edit_bindings(kind, owner, false, Vec::new(), edit)
        .await?;
    Ok(true)
}

macro_rules! family {
    ($r:expr, $kind:expr, $prefix:literal, $missing:expr) => {{
        $r.method(
            concat!($prefix, ".fields"),
            Some(Scope::Crm),
            |_: Ctx, _: IgnoredAny| async move { Ok::<_, ApiError>(fields($kind)) },
        )
        .method(
            concat!($prefix, ".add"),
            Some(Scope::Crm),
            |ctx: Ctx, p: FieldsParams| add(ctx, $kind, p),
        )
        .method(
            concat!($prefix, ".delete"),
            Some(Scope::Crm),
            |ctx: Ctx, p: FieldsParams| delete(ctx, $kind, p),
        )
        .method(
            concat!($prefix, ".items.get"),
            Some(Scope::Crm),
            |ctx: Ctx, p: OwnerParams| items_get(ctx, $kind, $missing, p),
        )
        .method(
            concat!($prefix, ".items.set"),
            Some(Scope::Crm),
            |ctx: Ctx, p: ItemsParams| items_set(ctx, $kind, p),
        )
        .method(
            concat!($prefix, ".items.delete"),
            Some(Scope::Crm),
            |ctx: Ctx, p: OwnerParams| items_delete(ctx, $kind, $missing, p),
        );
    }};
}

/// Registers every binding family.
pub fn register(r: &mut Registry) {
    family!(r, LEAD_CONTACT, "crm.lead.contact", MissingOwner::Empty);
    family!(r, DEAL_CONTACT, "crm.deal.contact", MissingOwner::NotFound);
}
