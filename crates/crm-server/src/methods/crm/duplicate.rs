//! `crm.duplicate.findbycomm`: the leads, contacts and companies that have one of up to 20
//! phone numbers or e-mail addresses, compared as the portal's duplicate index compares
//! them ([`crm_core::comm::match_code`]) and read from the index on the match code.

use crate::rpc::{ApiError, Ctx, Registry};
use crm_core::comm::{match_code, normalize_phone};
use crm_core::entity::EntityType;
use crm_core::field::php_string;
use crm_core::identity::Scope;
use crm_core::permission::{Action, Reach};
use crm_core::query::{Condition, ListQuery};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Parameters of `crm.duplicate.findbycomm`.
#[derive(Debug, Deserialize)]
pub struct FindParams {
    #[serde(rename = "type")]
    ty: Option<Value>,
    values: Option<Value>,
    entity_type: Option<Value>,
}

/// Values searched per call; the rest are ignored, as on a portal.
const MAX_VALUES: usize = 20;

/// Entities returned per value, over all types together (leads first).
const MAX_PER_VALUE: usize = 20;

/// The types searched, in the portal's order (by entity type id).
const SEARCHED: [EntityType; 3] = [EntityType::Lead, EntityType::Contact, EntityType::Company];

/// What `entity_type` asks for.
enum Wanted {
    /// Leads, contacts and companies (no, an unknown or a non-text `entity_type`).
    All,
    /// One of them.
    One(EntityType),
    /// A known type that has no phones or e-mails (QUOTE, INVOICE, …): nothing is found.
    Nothing,
}

fn wanted(v: Option<&Value>) -> Result<Wanted, ApiError> {
    let name = v
        .filter(|v| !v.is_array() && !v.is_object())
        .and_then(php_string)
        .unwrap_or_default()
        .trim()
        .to_uppercase();
    Ok(match name.as_str() {
        "LEAD" | "L" => Wanted::One(EntityType::Lead),
        "CONTACT" | "C" => Wanted::One(EntityType::Contact),
        "COMPANY" | "CO" => Wanted::One(EntityType::Company),
        "DEAL" | "D" => {
            return Err(ApiError::invalid(
                "Deal is not supported in current context.",
            ));
        }
        "QUOTE" | "INVOICE" | "SMART_INVOICE" | "ORDER" | "ACTIVITY" | "REQUISITE" => {
            Wanted::Nothing
        }
        _ => Wanted::All,
    })
}

/// `crm.duplicate.findbycomm`: `{"LEAD": [ids], "CONTACT": [ids], …}` with a key for each
/// type something was found in, in the order first found; `[]` when nothing was.
///
/// Each value finds at most 20 entities, leads before contacts before companies, each
/// type in id order; the answers of the values are merged without repeats. Unlike a
/// portal, an entity the caller may not read is not returned (a portal only requires
/// that the caller may read one of the three types).
pub async fn find_by_comm(ctx: Ctx, p: FindParams) -> Result<Value, ApiError> {
    let mut reaches = Vec::with_capacity(SEARCHED.len());
    for entity in SEARCHED {
        reaches.push(ctx.reach(Action::Read, entity).await?);
    }
    if reaches.iter().all(Option::is_none) {
        return Err(ApiError::invalid("Access denied."));
    }
    let ty =
        p.ty.as_ref()
            .and_then(php_string)
            .unwrap_or_default()
            .to_uppercase();
    let type_id = match ty.as_str() {
        "PHONE" => "PHONE",
        "EMAIL" => "EMAIL",
        "" => return Err(ApiError::invalid("Communication type is not defined.")),
        other => {
            return Err(ApiError::invalid(format!(
                "Communication type '{other}' is not supported in current context."
            )));
        }
    };
    let values: Vec<&Value> = match &p.values {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(o)) => o.values().collect(),
        _ => Vec::new(),
    };
    if values.is_empty() {
        return Err(ApiError::invalid("Communication values is not defined."));
    }
    let wanted = wanted(p.entity_type.as_ref())?;
    // The codes searched: at most 20 distinct values, repeats skipped (phones compared
    // normalised, e-mails as written); only text counts (a JSON number is skipped, as
    // PHP's `is_string` skips it). A value that reduces to nothing finds nothing.
    let mut seen: Vec<String> = Vec::new();
    let mut codes: Vec<Option<String>> = Vec::new();
    for value in values {
        let Value::String(value) = value else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let same = if type_id == "PHONE" {
            normalize_phone(value)
        } else {
            value.clone()
        };
        if seen.contains(&same) {
            continue;
        }
        seen.push(same);
        codes.push(match_code(type_id, value));
        if seen.len() >= MAX_VALUES {
            break;
        }
    }
    // Every (code, type) pair at once, 20 each; each code then keeps its first 20 over
    // the types in order, which is what one query of 20 ordered by type would give.
    let types: Vec<(EntityType, Reach)> = SEARCHED
        .iter()
        .zip(&reaches)
        .filter(|(entity, _)| match wanted {
            Wanted::All => true,
            Wanted::One(one) => one == **entity,
            Wanted::Nothing => false,
        })
        .filter_map(|(entity, reach)| Some((*entity, reach.clone()?)))
        .collect();
    let mut queries = Vec::new();
    for code in codes.iter().flatten() {
        for (entity, reach) in &types {
            queries.push((*entity, matching(type_id, code, reach.clone())));
        }
    }
    let mut answers = ctx.store().lists(queries).await?.into_iter();
    let mut found: Vec<(EntityType, Vec<i64>)> = Vec::new();
    for _ in codes.iter().flatten() {
        let mut left = MAX_PER_VALUE;
        for (entity, _) in &types {
            let (rows, _) = answers.next().unwrap_or_default();
            let at = match found.iter().position(|(e, _)| e == entity) {
                Some(at) => at,
                None if !rows.is_empty() && left > 0 => {
                    found.push((*entity, Vec::new()));
                    found.len() - 1
                }
                None => continue,
            };
            for row in rows.iter().take(left) {
                if !found[at].1.contains(&row.id) {
                    found[at].1.push(row.id);
                }
            }
            left = left.saturating_sub(rows.len());
        }
    }
    if found.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let mut out = Map::new();
    for (entity, ids) in found {
        out.insert(entity.code().to_uppercase(), Value::from(ids));
    }
    Ok(Value::Object(out))
}

/// The query for the first 20 entities of a type the caller may read whose value of
/// `type_id` has match code `code`, in id order.
fn matching(type_id: &'static str, code: &str, visible: Reach) -> ListQuery {
    ListQuery {
        filter: vec![Condition::Comm {
            type_id,
            code: code.to_string(),
        }],
        order: Vec::new(),
        offset: 0,
        limit: MAX_PER_VALUE as i64,
        count: false,
        with_multi: false,
        visible,
    }
}

/// Registers `crm.duplicate.findbycomm`.
pub fn register(r: &mut Registry) {
    r.method("crm.duplicate.findbycomm", Some(Scope::Crm), find_by_comm);
}
