//! The binding families (`crm.lead.contact.*`, `crm.deal.contact.*`,
//! `crm.contact.company.*`, `crm.company.contact.*`): six methods generic over a
//! [`Family`] — a relation and the side it is seen from — following the portal's step
//! order, texts and statuses. A family is one `family!` registration.

use crate::rpc::{ApiError, Ctx, Registry};
use crate::wire::php_array;
use crm_core::binding::{
    Binding, BindingKind, NewBinding, normalize_items, plan_add, plan_holder_add,
    plan_holder_remove, plan_holders_clear, plan_holders_set, plan_remove,
};
use crm_core::entity::{CONTACT_COMPANY, DEAL_CONTACT, EntityType, LEAD_CONTACT};
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

/// Whether `items.get` and `items.delete` answer a missing owner with an error: "Not
/// found" (no period) for deals; a lead reads as an empty set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingOwner {
    /// An empty set (`[]`, `true`).
    Empty,
    /// "Not found", or "Access denied" for a caller without any read right.
    NotFound,
}

/// A family as its methods see it: a stored relation, the side it is seen from, and how
/// `items.*` treat a missing owner.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The stored relation.
    pub kind: BindingKind,
    /// Seen from the bound entity (`crm.company.contact.*` over contact ↔ company): the
    /// "owner" of the methods is the kind's bound entity, the listed ids are its
    /// holders, and binding makes the viewer each holder's primary.
    pub reverse: bool,
    /// The listed entities' id key in `fields`/`items` (`CONTACT_ID`).
    pub key: &'static str,
    /// `items.get`/`items.delete` on a missing owner.
    pub missing: MissingOwner,
}

impl Family {
    /// A family seen from the owner of its relation.
    pub const fn owned(kind: BindingKind, missing: MissingOwner) -> Self {
        Self {
            kind,
            reverse: false,
            key: kind.bound_key,
            missing,
        }
    }

    /// The entity whose id the methods take (the lead, or the company of
    /// `crm.company.contact.*`).
    fn viewer(&self) -> EntityType {
        if self.reverse {
            self.kind.bound
        } else {
            self.kind.owner
        }
    }

    /// The entities listed in its set.
    fn listed(&self) -> EntityType {
        if self.reverse {
            self.kind.owner
        } else {
            self.kind.bound
        }
    }
}

/// `fields`: SORT, IS_PRIMARY and the listed id (ROLE_ID is returned but not described).
pub fn fields(fam: Family) -> Map<String, Value> {
    [
        FieldDef::new("SORT", FieldType::Integer, "Sorting"),
        FieldDef::new("IS_PRIMARY", FieldType::Char, "Primary"),
        FieldDef::new(fam.key, FieldType::Integer, fam.listed().title()).req(),
    ]
    .iter()
    .map(|f| (f.name.to_string(), f.describe()))
    .collect()
}

/// Steps shared by `add` and `delete` up to "the owner exists": owner id, `fields` shape,
/// update right, existence, listed id, read right on the listed entity.
async fn prepare(
    ctx: &Ctx,
    fam: Family,
    p: FieldsParams,
    not_array: &str,
) -> Result<(i64, NewBinding), ApiError> {
    let owner = owner_id(p.id)?;
    let fields = p
        .fields
        .and_then(php_array::as_array)
        .ok_or_else(|| ApiError::invalid(not_array))?;
    ctx.require_item(Action::Update, fam.viewer(), owner, || {
        ApiError::AccessDenied
    })
    .await?;
    if !ctx.store().exists(fam.viewer(), owner).await? {
        return Err(ApiError::invalid("Not found."));
    }
    let new =
        NewBinding::from_fields(fam.key, &fields).map_err(|e| ApiError::invalid(e.to_string()))?;
    ctx.require_readable(fam.listed(), vec![new.bound_id])
        .await?;
    Ok((owner, new))
}

/// `add`: `true` when bound, `false` (nothing changed) when already bound.
pub async fn add(ctx: Ctx, fam: Family, p: FieldsParams) -> Result<bool, ApiError> {
    let (owner, new) = prepare(&ctx, fam, p, "The parameter 'fields' must be array.").await?;
    let store = ctx.store();
    Ok(if fam.reverse {
        let edit = Box::new(move |sets: &[(i64, Vec<Binding>)]| {
            plan_holder_add(sets, owner, new.bound_id, new.sort).unwrap_or_default()
        });
        store
            .edit_holders(fam.kind, owner, true, vec![new.bound_id], edit)
            .await?
    } else {
        let edit = Box::new(move |old: &[Binding]| plan_add(old, new));
        store
            .edit_bindings(fam.kind, owner, true, vec![new.bound_id], edit)
            .await?
    })
}

/// `delete`: `true` when unbound, `false` when it was not bound.
pub async fn delete(ctx: Ctx, fam: Family, p: FieldsParams) -> Result<bool, ApiError> {
    let (owner, gone) = prepare(&ctx, fam, p, "The parameter 'item' must be array.").await?;
    let store = ctx.store();
    Ok(if fam.reverse {
        let edit = Box::new(move |sets: &[(i64, Vec<Binding>)]| {
            plan_holder_remove(sets, owner, gone.bound_id).unwrap_or_default()
        });
        store
            .edit_holders(fam.kind, owner, true, Vec::new(), edit)
            .await?
    } else {
        let edit = Box::new(move |old: &[Binding]| plan_remove(old, gone.bound_id));
        store
            .edit_bindings(fam.kind, owner, true, Vec::new(), edit)
            .await?
    })
}

/// The existence check of `items.get`/`items.delete` for families that make one.
async fn check_owner(ctx: &Ctx, fam: Family, owner: i64) -> Result<(), ApiError> {
    if fam.missing == MissingOwner::NotFound && !ctx.store().exists(fam.viewer(), owner).await? {
        ctx.require_any(Action::Read, fam.viewer(), || {
            ApiError::invalid("Access denied")
        })
        .await?;
        return Err(ApiError::invalid("Not found"));
    }
    Ok(())
}

/// One row of `items.get`: integer ids, a `Y`/`N` flag.
fn item(key: &str, id: i64, b: &Binding) -> Value {
    let mut m = Map::new();
    m.insert(key.into(), json!(id));
    m.insert("SORT".into(), json!(b.sort));
    m.insert("ROLE_ID".into(), json!(b.role_id));
    m.insert(
        "IS_PRIMARY".into(),
        json!(if b.is_primary { "Y" } else { "N" }),
    );
    Value::Object(m)
}

/// `items.get`: the set in SORT order. Seen from the bound side, `IS_PRIMARY` is each
/// holder's own flag, so several rows may be "Y".
pub async fn items_get(ctx: Ctx, fam: Family, p: OwnerParams) -> Result<Vec<Value>, ApiError> {
    let owner = owner_id_items(p.id)?;
    check_owner(&ctx, fam, owner).await?;
    ctx.require_item(Action::Read, fam.viewer(), owner, || ApiError::AccessDenied)
        .await?;
    Ok(if fam.reverse {
        let rows = ctx.store().holders(fam.kind, owner).await?;
        rows.iter().map(|(id, b)| item(fam.key, *id, b)).collect()
    } else {
        let set = ctx.store().bindings(fam.kind, owner).await?;
        set.iter().map(|b| item(fam.key, b.bound_id, b)).collect()
    })
}

/// `items.set`: replaces the whole set with the normalised list (seen from the bound
/// side: the viewer becomes each listed holder's primary).
pub async fn items_set(ctx: Ctx, fam: Family, p: ItemsParams) -> Result<bool, ApiError> {
    let owner = owner_id_items(p.id)?;
    let items = match p.items {
        Some(Value::Array(a)) => a,
        Some(Value::Object(o)) => o.into_iter().map(|(_, v)| v).collect(),
        _ => return Err(ApiError::invalid("The parameter items must be array.")),
    };
    ctx.require_item(Action::Update, fam.viewer(), owner, || {
        ApiError::AccessDenied
    })
    .await?;
    if !ctx.store().exists(fam.viewer(), owner).await? {
        return Err(ApiError::invalid("Not found."));
    }
    let set = normalize_items(fam.key, &items);
    let ids: Vec<i64> = set.iter().map(|b| b.bound_id).collect();
    ctx.require_readable(fam.listed(), ids.clone()).await?;
    let store = ctx.store();
    if fam.reverse {
        let edit =
            Box::new(move |sets: &[(i64, Vec<Binding>)]| plan_holders_set(sets, owner, &set));
        store.edit_holders(fam.kind, owner, true, ids, edit).await?;
    } else {
        let edit = Box::new(move |_: &[Binding]| Some(set.clone()));
        store
            .edit_bindings(fam.kind, owner, true, ids, edit)
            .await?;
    }
    Ok(true)
}

/// `items.delete`: removes every binding.
pub async fn items_delete(ctx: Ctx, fam: Family, p: OwnerParams) -> Result<bool, ApiError> {
    let owner = owner_id_items(p.id)?;
    check_owner(&ctx, fam, owner).await?;
    ctx.require_item(Action::Read, fam.viewer(), owner, || ApiError::AccessDenied)
        .await?;
    ctx.require_item(Action::Update, fam.viewer(), owner, || {
        ApiError::AccessDenied
    })
    .await?;
    let store = ctx.store();
    if fam.reverse {
        let edit = Box::new(move |sets: &[(i64, Vec<Binding>)]| plan_holders_clear(sets, owner));
        store
            .edit_holders(fam.kind, owner, false, Vec::new(), edit)
            .await?;
    } else {
        let edit = Box::new(|old: &[Binding]| (!old.is_empty()).then(Vec::new));
        store
            .edit_bindings(fam.kind, owner, false, Vec::new(), edit)
            .await?;
    }
    Ok(true)
}

macro_rules! family {
    ($r:expr, $fam:expr, $prefix:literal) => {{
        const FAM: Family = $fam;
        $r.method(
            concat!($prefix, ".fields"),
            Some(Scope::Crm),
            |_: Ctx, _: IgnoredAny| async move { Ok::<_, ApiError>(fields(FAM)) },
        )
        .method(
            concat!($prefix, ".add"),
            Some(Scope::Crm),
            |ctx: Ctx, p: FieldsParams| add(ctx, FAM, p),
        )
        .method(
            concat!($prefix, ".delete"),
            Some(Scope::Crm),
            |ctx: Ctx, p: FieldsParams| delete(ctx, FAM, p),
        )
        .method(
            concat!($prefix, ".items.get"),
            Some(Scope::Crm),
            |ctx: Ctx, p: OwnerParams| items_get(ctx, FAM, p),
        )
        .method(
            concat!($prefix, ".items.set"),
            Some(Scope::Crm),
            |ctx: Ctx, p: ItemsParams| items_set(ctx, FAM, p),
        )
        .method(
            concat!($prefix, ".items.delete"),
            Some(Scope::Crm),
            |ctx: Ctx, p: OwnerParams| items_delete(ctx, FAM, p),
        );
    }};
}

/// Registers every binding family.
pub fn register(r: &mut Registry) {
    family!(
        r,
        Family::owned(LEAD_CONTACT, MissingOwner::Empty),
        "crm.lead.contact"
    );
    family!(
        r,
        Family::owned(DEAL_CONTACT, MissingOwner::NotFound),
        "crm.deal.contact"
    );
    family!(
        r,
        Family::owned(CONTACT_COMPANY, MissingOwner::Empty),
        "crm.contact.company"
    );
    family!(
        r,
        Family {
            kind: CONTACT_COMPANY,
            reverse: true,
            key: "CONTACT_ID",
            missing: MissingOwner::Empty,
        },
        "crm.company.contact"
    );
}
