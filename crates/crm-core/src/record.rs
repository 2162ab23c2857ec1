//! Turning client `fields` into a new entity (with the portal's defaults) and stored rows
//! back into the portal's output objects.

use crate::binding::{Binding, BindingKind, LEAD_CONTACT, plan_ids};
use crate::entity::{EntityType, MULTIFIELD_TYPES};
use crate::field::{FieldDef, Internalized, InvalidValue, Storage, Stored, php_int, php_string};
use crate::reference::LEAD_STAGES;
use crate::store::{MultiValue, NewEntity, NewMultiValue, Row, Update};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Who and when, for server-set fields.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// The calling user.
    pub user_id: i64,
    /// The current time.
    pub now: DateTime<Utc>,
    /// The server's time zone for date input and output.
    pub tz: FixedOffset,
}

/// The portal's base currency on a fresh install of this server.
pub const BASE_CURRENCY: &str = "USD";

/// Default `VALUE_TYPE` of a multi-field value.
pub fn default_value_type(type_id: &str) -> &'static str {
    if type_id == "IM" { "OTHER" } else { "WORK" }
}

/// Allowed `VALUE_TYPE`s of each multi-field type.
pub fn value_types(type_id: &str) -> &'static [&'static str] {
    match type_id {
        "PHONE" => &["WORK", "MOBILE", "FAX", "HOME", "PAGER", "MAILING", "OTHER"],
        "EMAIL" => &["WORK", "HOME", "MAILING", "OTHER"],
        "WEB" => &["WORK", "HOME", "VK", "LIVEJOURNAL", "TWITTER", "OTHER"],
        "IM" => &[
            "TELEGRAM", "VK", "SKYPE", "VIBER", "BITRIX24", "OPENLINE", "IMOL", "ICQ", "MSN",
            "JABBER", "OTHER",
        ],
        _ => &["USER", "OTHER", "WORK"],
    }
}

/// Rejects e-mail values that are not addresses, with the portal's wording.
fn check_value(type_id: &str, value_type: &str, value: &str) -> Result<(), InvalidValue> {
    if type_id != "EMAIL" {
        return Ok(());
    }
    let v = value.trim();
    let valid = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.contains(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        return Ok(());
    }
    let kind = match value_type {
        "HOME" => "Home",
        "MAILING" => "Mailing",
        "OTHER" => "Other",
        _ => "Work",
    };
    Err(InvalidValue(format!(
        "The field {kind} e-mail contains an invalid address"
    )))
}

/// The entries of a multi-value input: a JSON array, or an object of entries (what a
/// form-encoded `PHONE[n][VALUE]` with sparse indices becomes).
fn entries(v: &Value) -> Vec<&Map<String, Value>> {
    match v {
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
        Value::Object(o) => o.values().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

/// Multi-field values to add from one `PHONE`/`EMAIL`/… input (entries without a value
/// are ignored; a missing or unknown VALUE_TYPE gets the type's default).
fn new_multi_values(type_id: &str, input: &Value) -> Result<Vec<NewMultiValue>, InvalidValue> {
    let mut out: Vec<NewMultiValue> = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for e in entries(input) {
        let value = e.get("VALUE").and_then(php_string).unwrap_or_default();
        if value.trim().is_empty() {
            continue;
        }
        let given = e
            .get("VALUE_TYPE")
            .and_then(php_string)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let value_type = if value_types(type_id).contains(&given.as_str()) {
            given
        } else {
            default_value_type(type_id).to_string()
        };
        check_value(type_id, &value_type, &value)?;
        if seen.insert((value_type.clone(), value.clone())) {
            out.push(NewMultiValue {
                type_id: type_id.to_string(),
                value_type,
                value,
            });
        }
    }
    Ok(out)
}

/// `HAS_PHONE`, `HAS_EMAIL`, `HAS_IMOL` for a set of multi-field values.
pub fn has_flags<'a>(
    values: impl IntoIterator<Item = (&'a str, &'a str, &'a str)> + Clone,
) -> [(&'static str, Stored); 3] {
    let yn = |b: bool| Stored::Text(if b { "Y" } else { "N" }.into());
    let any = |pred: &dyn Fn(&str, &str, &str) -> bool| {
        values.clone().into_iter().any(|(t, vt, v)| pred(t, vt, v))
    };
    [
        ("HAS_PHONE", yn(any(&|t, _, _| t == "PHONE"))),
        ("HAS_EMAIL", yn(any(&|t, _, _| t == "EMAIL"))),
        (
            "HAS_IMOL",
            yn(any(&|t, vt, v| {
                t == "IM" && (vt == "OPENLINE" || vt == "IMOL" || v.starts_with("imol|"))
            })),
        ),
    ]
}

/// The bound contact ids requested by `CONTACT_IDS` (or, failing that, `CONTACT_ID`).
/// `None` when neither key is present.
pub fn requested_contact_ids(fields: &Map<String, Value>) -> Option<Vec<i64>> {
    if let Some(v) = fields.get("CONTACT_IDS") {
        return Some(match v {
            Value::Array(a) => a.iter().map(php_int).collect(),
            Value::Object(o) => o.values().map(php_int).collect(),
            Value::Null => Vec::new(),
            other => vec![php_int(other)],
        });
    }
    fields.get("CONTACT_ID").map(|v| vec![php_int(v)])
}

/// The fields a client may write, with their input: present, not read-only, and not the
/// lead's `CONTACT_ID` column (that one goes through the binding engine).
fn writable(
    entity: EntityType,
    fields: &Map<String, Value>,
) -> impl Iterator<Item = (&'static FieldDef, &Value)> {
    entity.fields().iter().filter_map(move |def| {
        let input = fields.get(def.name)?;
        let derived = def.name == "CONTACT_ID" && entity == EntityType::Lead;
        (!def.read_only && !derived).then_some((def, input))
    })
}

/// Builds a new lead or contact from client `fields`: unknown and read-only keys are
/// dropped, values converted, server-side defaults applied.
pub fn new_entity(
    entity: EntityType,
    fields: &Map<String, Value>,
    origin: Origin,
) -> Result<NewEntity, InvalidValue> {
    let mut values: Vec<(&'static str, Stored)> = Vec::new();
    let mut multi = Vec::new();
    for (def, input) in writable(entity, fields) {
        match def.storage {
            Storage::Column => {
                if let Internalized::Set(v) = def.internalize(input, origin.tz)? {
                    values.push((def.name, v));
                }
            }
            Storage::Multi => multi.extend(new_multi_values(def.name, input)?),
            Storage::WriteOnly | Storage::Unsupported => {}
        }
    }
    let set = |values: &mut Vec<(&'static str, Stored)>, name: &'static str, v: Stored| {
        values.retain(|(n, _)| *n != name);
        values.push((name, v));
    };
    let given = |values: &[(&'static str, Stored)], name: &str| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !matches!(v, Stored::Null))
    };
    let user = Stored::Int(origin.user_id);
    let now = Stored::Int(origin.now.timestamp());
    if given(&values, "ASSIGNED_BY_ID").is_none_or(|v| v == Stored::Int(0)) {
        set(&mut values, "ASSIGNED_BY_ID", user.clone());
    }
    for name in ["CREATED_BY_ID", "MODIFY_BY_ID", "LAST_ACTIVITY_BY"] {
        set(&mut values, name, user.clone());
    }
    for name in ["DATE_CREATE", "DATE_MODIFY", "LAST_ACTIVITY_TIME"] {
        set(&mut values, name, now.clone());
    }
    if given(&values, "OPENED").is_none() {
        set(&mut values, "OPENED", Stored::Text("Y".into()));
    }
    for (name, v) in has_flags(
        multi
            .iter()
            .map(|m: &NewMultiValue| (m.type_id.as_str(), m.value_type.as_str(), m.value.as_str())),
    ) {
        set(&mut values, name, v);
    }
    let mut bindings = Vec::new();
    let mut after_insert = None;
    match entity {
        EntityType::Lead => {
            let status = match given(&values, "STATUS_ID") {
                Some(Stored::Text(s)) if LEAD_STAGES.iter().any(|(c, _)| *c == s) => s,
                _ => "NEW".to_string(),
            };
            let semantic = LEAD_STAGES
                .iter()
                .find(|(c, _)| *c == status)
                .map_or("P", |(_, s)| *s);
            if semantic != "P" {
                set(&mut values, "DATE_CLOSED", now.clone());
            }
            set(&mut values, "STATUS_ID", Stored::Text(status));
            set(
                &mut values,
                "STATUS_SEMANTIC_ID",
                Stored::Text(semantic.into()),
            );
            set(&mut values, "MOVED_BY_ID", user);
            set(&mut values, "MOVED_TIME", now);
            if given(&values, "OPPORTUNITY").is_none() {
                set(&mut values, "OPPORTUNITY", Stored::Real(0.0));
            }
            if given(&values, "CURRENCY_ID").is_none_or(|v| v == Stored::Text(String::new())) {
                set(
                    &mut values,
                    "CURRENCY_ID",
                    Stored::Text(BASE_CURRENCY.into()),
                );
            }
            if given(&values, "IS_MANUAL_OPPORTUNITY").is_none() {
                set(
                    &mut values,
                    "IS_MANUAL_OPPORTUNITY",
                    Stored::Text("N".into()),
                );
            }
            let contacts: Vec<Binding> = requested_contact_ids(fields)
                .map(|ids| plan_ids(&ids))
                .unwrap_or_default();
            let has_company = matches!(given(&values, "COMPANY_ID"), Some(Stored::Int(c)) if c > 0);
            let returning = has_company || !contacts.is_empty();
            set(
                &mut values,
                "IS_RETURN_CUSTOMER",
                Stored::Text(if returning { "Y" } else { "N" }.into()),
            );
            if !contacts.is_empty() {
                bindings.push((LEAD_CONTACT, contacts));
            }
            if given(&values, "TITLE").is_none_or(|t| t == Stored::Text(String::new())) {
                after_insert =
                    Some(
                        Box::new(|id: i64| vec![("TITLE", Stored::Text(format!("Lead #{id}")))])
                            as _,
                    );
            }
        }
        EntityType::Contact => {
            let empty = |n: &str| {
                given(&values, n)
                    .is_none_or(|v| matches!(&v, Stored::Text(s) if s.trim().is_empty()))
            };
            if empty("NAME") && empty("LAST_NAME") {
                set(&mut values, "LAST_NAME", Stored::Text("Untitled".into()));
            }
            if given(&values, "TYPE_ID").is_none() {
                set(&mut values, "TYPE_ID", Stored::Text("CLIENT".into()));
            }
            if given(&values, "SOURCE_ID").is_none() {
                set(&mut values, "SOURCE_ID", Stored::Text("CALL".into()));
            }
            if given(&values, "EXPORT").is_none() {
                set(&mut values, "EXPORT", Stored::Text("Y".into()));
            }
        }
    }
    Ok(NewEntity {
        values,
        multi,
        bindings,
        after_insert,
    })
}

/// The portal's object for one entity (`*.get`): every standard field in table order
/// (strings or null; dates with the server offset; `""` for empty dates), then the
/// non-empty multi-fields. Write-only fields (`CONTACT_IDS`) are never returned.
pub fn output(entity: EntityType, row: &Row, tz: FixedOffset) -> Map<String, Value> {
    let fields: Vec<&FieldDef> = entity
        .fields()
        .iter()
        .filter(|f| f.storage != Storage::WriteOnly)
        .collect();
    output_fields(row, tz, &fields)
}

/// The object for one row restricted to `fields` (a list's `select`), in the given order;
/// multi-fields appear when they have values.
pub fn output_fields(row: &Row, tz: FixedOffset, fields: &[&FieldDef]) -> Map<String, Value> {
    let mut out = Map::new();
    for def in fields
        .iter()
        .filter(|f| matches!(f.storage, Storage::Column | Storage::Unsupported))
    {
        let v = if def.name == "ID" {
            Stored::Int(row.id)
        } else {
            row.values.get(def.name).cloned().unwrap_or(Stored::Null)
        };
        out.insert(def.name.into(), def.externalize(&v, tz));
    }
    for type_id in MULTIFIELD_TYPES {
        if !fields.iter().any(|f| f.name == type_id) {
            continue;
        }
        let vals: Vec<Value> = row
            .multi
            .iter()
            .filter(|m| m.type_id == type_id)
            .map(|m| {
                serde_json::json!({
                    "ID": m.id.to_string(),
                    "VALUE_TYPE": m.value_type,
                    "VALUE": m.value,
                    "TYPE_ID": m.type_id,
                })
            })
            .collect();
        if !vals.is_empty() {
            out.insert(type_id.into(), Value::Array(vals));
        }
    }
    out
}

/// One entry of a `PHONE`/`EMAIL`/… input on update, read from the request.
#[derive(Debug, Clone)]
struct MultiInput {
    type_id: &'static str,
    /// The value's row id (0: a new value).
    id: i64,
    value: String,
    /// A valid `VALUE_TYPE` when one was given.
    value_type: Option<String>,
    delete: bool,
}

/// What `CONTACT_ID`/`CONTACT_IDS` asked of a lead's contact set.
#[derive(Debug, Clone)]
enum ContactsRequest {
    /// `CONTACT_IDS`: exactly this set.
    Set(Vec<Binding>),
    /// `CONTACT_ID` > 0: this contact alone, unless it is already bound.
    One(i64),
    /// `CONTACT_ID` ≤ 0: no contacts.
    Clear,
}

/// A `*.update` as the client asked for it: read, converted and checked from `fields`
/// before the store is involved, so that the store's writer only matches it against the
/// current row ([`UpdateRequest::plan`]), in time linear in the request.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    entity: EntityType,
    origin: Origin,
    /// Converted values of the writable columns.
    values: Vec<(&'static str, Stored)>,
    /// Multi-field entries, in field order.
    multi: Vec<MultiInput>,
    contacts: Option<ContactsRequest>,
}

/// Reads `*.update`'s `fields`: read-only and unknown keys dropped, column values
/// converted, multi-field entries and the requested contact set prepared. New multi-field
/// values are checked here; rewritten ones when the row is known.
pub fn prepare_update(
    entity: EntityType,
    fields: &Map<String, Value>,
    origin: Origin,
) -> Result<UpdateRequest, InvalidValue> {
    let mut values = Vec::new();
    let mut multi = Vec::new();
    for (def, input) in writable(entity, fields) {
        match def.storage {
            Storage::Column => {
                if let Internalized::Set(v) = def.internalize(input, origin.tz)? {
                    values.push((def.name, v));
                }
            }
            Storage::Multi => {
                for e in entries(input) {
                    let id = e.get("ID").map(php_int).unwrap_or(0);
                    let value = e.get("VALUE").and_then(php_string).unwrap_or_default();
                    let value_type = e
                        .get("VALUE_TYPE")
                        .and_then(php_string)
                        .map(|s| s.to_ascii_uppercase())
                        .filter(|t| value_types(def.name).contains(&t.as_str()));
                    let delete = e
                        .get("DELETE")
                        .and_then(php_string)
                        .is_some_and(|d| d.eq_ignore_ascii_case("y"));
                    if id <= 0 {
                        if value.trim().is_empty() {
                            continue;
                        }
                        let vt = value_type
                            .as_deref()
                            .unwrap_or(default_value_type(def.name));
                        check_value(def.name, vt, &value)?;
                    }
                    multi.push(MultiInput {
                        type_id: def.name,
                        id: id.max(0),
                        value,
                        value_type,
                        delete,
                    });
                }
            }
            Storage::WriteOnly | Storage::Unsupported => {}
        }
    }
    // An unknown stage on update is ignored (the lead keeps its stage).
    values.retain(|(n, v)| {
        *n != "STATUS_ID" || matches!(v, Stored::Text(s) if LEAD_STAGES.iter().any(|(c, _)| c == s))
    });
    let contacts = if entity != EntityType::Lead {
        None
    } else if let Some(Value::Array(_) | Value::Object(_)) = fields.get("CONTACT_IDS") {
        requested_contact_ids(fields).map(|ids| ContactsRequest::Set(plan_ids(&ids)))
    } else {
        match fields.get("CONTACT_ID").map(php_int) {
            Some(x) if x > 0 => Some(ContactsRequest::One(x)),
            Some(_) => Some(ContactsRequest::Clear),
            None => None,
        }
    };
    Ok(UpdateRequest {
        entity,
        origin,
        values,
        multi,
        contacts,
    })
}

impl UpdateRequest {
    /// The contact ids the update will bind (to check that they exist and may be read
    /// before the row is touched); empty when the contact set is not changed.
    pub fn requested_contacts(&self) -> Vec<i64> {
        match &self.contacts {
            Some(ContactsRequest::Set(set)) => set.iter().map(|b| b.bound_id).collect(),
            Some(ContactsRequest::One(id)) => vec![*id],
            Some(ContactsRequest::Clear) | None => Vec::new(),
        }
    }

    /// The changes against the current row and the binding sets the entity owns:
    /// multi-field entries matched by id (ids of other rows or types are ignored; an empty
    /// value or `DELETE: "Y"` removes, a value rewrites, a new value already present is
    /// skipped), lead stage side effects, the contact set, the `HAS_*` flags and
    /// `IS_RETURN_CUSTOMER` kept true to the data, and `DATE_MODIFY`/`MODIFY_BY_ID`.
    /// Linear in the sizes of the request and the row.
    pub fn plan(
        &self,
        row: &Row,
        sets: &[(BindingKind, Vec<Binding>)],
    ) -> Result<Update, InvalidValue> {
        let mut update = Update {
            values: self.values.clone(),
            ..Update::default()
        };
        let by_id: HashMap<i64, &MultiValue> = row.multi.iter().map(|m| (m.id, m)).collect();
        let stored: HashSet<(&str, &str, &str)> = row
            .multi
            .iter()
            .map(|m| (m.type_id.as_str(), m.value_type.as_str(), m.value.as_str()))
            .collect();
        let mut added: HashSet<(&str, String, String)> = HashSet::new();
        for e in &self.multi {
            if e.id > 0 {
                let Some(existing) = by_id.get(&e.id).filter(|m| m.type_id == e.type_id) else {
                    continue;
                };
                if e.delete || e.value.trim().is_empty() {
                    update.delete_multi.push(e.id);
                } else {
                    let vt = e
                        .value_type
                        .clone()
                        .unwrap_or_else(|| existing.value_type.clone());
                    check_value(e.type_id, &vt, &e.value)?;
                    update.set_multi.push((e.id, vt, e.value.clone()));
                }
            } else {
                let vt = e
                    .value_type
                    .clone()
                    .unwrap_or_else(|| default_value_type(e.type_id).to_string());
                let duplicate = stored.contains(&(e.type_id, vt.as_str(), e.value.as_str()));
                if !duplicate && added.insert((e.type_id, vt.clone(), e.value.clone())) {
                    update.add_multi.push(NewMultiValue {
                        type_id: e.type_id.to_string(),
                        value_type: vt,
                        value: e.value.clone(),
                    });
                }
            }
        }
        let origin = self.origin;
        let current = |update: &Update, name: &str| {
            update
                .values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .or_else(|| row.values.get(name).cloned())
                .unwrap_or(Stored::Null)
        };
        let user = Stored::Int(origin.user_id);
        let now = Stored::Int(origin.now.timestamp());
        let mut extra: Vec<(&'static str, Stored)> =
            vec![("DATE_MODIFY", now.clone()), ("MODIFY_BY_ID", user.clone())];
        // HAS_* from the values that remain after this update.
        let deleted: HashSet<i64> = update.delete_multi.iter().copied().collect();
        let rewritten: HashMap<i64, (&str, &str)> = update
            .set_multi
            .iter()
            .map(|(id, vt, v)| (*id, (vt.as_str(), v.as_str())))
            .collect();
        let remaining = row
            .multi
            .iter()
            .filter(|m| !deleted.contains(&m.id))
            .map(|m| match rewritten.get(&m.id) {
                Some((vt, v)) => (m.type_id.as_str(), *vt, *v),
                None => (m.type_id.as_str(), m.value_type.as_str(), m.value.as_str()),
            })
            .chain(
                update
                    .add_multi
                    .iter()
                    .map(|m| (m.type_id.as_str(), m.value_type.as_str(), m.value.as_str())),
            );
        extra.extend(has_flags(remaining));
        if self.entity == EntityType::Lead {
            let old_status = row.values.get("STATUS_ID").cloned().unwrap_or(Stored::Null);
            let status = current(&update, "STATUS_ID");
            if status != old_status {
                let semantic = match &status {
                    Stored::Text(s) => LEAD_STAGES
                        .iter()
                        .find(|(c, _)| c == s)
                        .map_or("P", |(_, sem)| *sem),
                    _ => "P",
                };
                extra.push(("STATUS_SEMANTIC_ID", Stored::Text(semantic.into())));
                extra.push(("MOVED_BY_ID", user));
                extra.push(("MOVED_TIME", now.clone()));
                extra.push((
                    "DATE_CLOSED",
                    if semantic == "P" { Stored::Null } else { now },
                ));
            }
            let old_set: &[Binding] = sets
                .iter()
                .find(|(k, _)| *k == LEAD_CONTACT)
                .map_or(&[], |(_, s)| s.as_slice());
            let new_set = match &self.contacts {
                Some(ContactsRequest::Set(set)) => Some(set.clone()),
                Some(ContactsRequest::One(x)) if old_set.iter().any(|b| b.bound_id == *x) => None,
                Some(ContactsRequest::One(x)) => Some(plan_ids(&[*x])),
                Some(ContactsRequest::Clear) => Some(Vec::new()),
                None => None,
            };
            let contacts_after = new_set.as_deref().unwrap_or(old_set);
            let has_company = matches!(current(&update, "COMPANY_ID"), Stored::Int(c) if c > 0);
            let success = matches!(current(&update, "STATUS_SEMANTIC_ID"), Stored::Text(s) if s == "S")
                || extra
                    .iter()
                    .any(|(n, v)| *n == "STATUS_SEMANTIC_ID" && *v == Stored::Text("S".into()));
            if !success {
                let returning = has_company || !contacts_after.is_empty();
                extra.push((
                    "IS_RETURN_CUSTOMER",
                    Stored::Text(if returning { "Y" } else { "N" }.into()),
                ));
            }
            if let Some(set) = new_set {
                update.bindings.push((LEAD_CONTACT, set));
            }
        }
        for (name, v) in extra {
            update.values.retain(|(n, _)| *n != name);
            update.values.push((name, v));
        }
        Ok(update)
    }
}
