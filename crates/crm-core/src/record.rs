//! Turning client `fields` into a new entity (with the portal's defaults) and stored rows
//! back into the portal's output objects.

use crate::binding::{Binding, BindingKind, plan_ids};
use crate::entity::{EntityType, Fixed, MULTIFIELD_TYPES, Naming, StageField};
use crate::field::{FieldDef, Internalized, InvalidValue, Storage, Stored, php_int, php_string};
use crate::pipeline::Stages;
use crate::schema::Schema;
use crate::store::{MultiValue, NewEntity, NewMultiValue, Row, Update};
use crate::userfield::UserField;
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
    /// An import (`params: {IMPORT: "Y"}` on add): the creation and modification dates
    /// and authors the client gives are kept, for migrating records.
    pub import: bool,
    /// The universal API's update, which may move an entity to another category (a
    /// deal's `categoryId`, immutable for the classic methods).
    pub moves_category: bool,
}

/// The read-only fields an import may set.
const IMPORTED: [&str; 4] = [
    "DATE_CREATE",
    "DATE_MODIFY",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
];

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

fn yes_no(b: bool) -> Stored {
    Stored::Text(if b { "Y" } else { "N" }.into())
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

/// The bound ids requested for `kind`'s set by its ids field (`CONTACT_IDS`) or, failing
/// that, by the mirror column (`CONTACT_ID`). `None` when neither key is present.
pub fn requested_ids(kind: BindingKind, fields: &Map<String, Value>) -> Option<Vec<i64>> {
    if let Some(v) = fields.get(kind.ids_field) {
        return Some(match v {
            Value::Array(a) => a.iter().map(php_int).collect(),
            Value::Object(o) => o.values().map(php_int).collect(),
            Value::Null => Vec::new(),
            other => vec![php_int(other)],
        });
    }
    fields.get(kind.owner_column).map(|v| vec![php_int(v)])
}

/// The owners a `held` field (a company's `CONTACT_ID`) names, as the items of a
/// holders' set: positive ids, each once, SORT 10 as a portal binds them.
fn held_items(v: &Value) -> Vec<Binding> {
    let ids: Vec<i64> = match v {
        Value::Array(a) => a.iter().map(php_int).collect(),
        Value::Object(o) => o.values().map(php_int).collect(),
        Value::Null => Vec::new(),
        other => vec![php_int(other)],
    };
    let mut seen = HashSet::new();
    ids.into_iter()
        .filter(|id| *id > 0 && seen.insert(*id))
        .map(|id| Binding {
            bound_id: id,
            sort: 10,
            role_id: 0,
            is_primary: true,
        })
        .collect()
}

/// The text of a stored stage code.
fn code_text(code: &Stored) -> &str {
    match code {
        Stored::Text(s) => s,
        _ => "",
    }
}

/// The stage a new entity gets in `category`: the requested one when it is a stage of
/// that category; a stage of another category is mapped to the category's first stage
/// of the same semantics (as a portal does for a deal added to a pipeline); nothing
/// requested (or an unknown stage the entity ignores) gives the first stage.
fn stage_on_add(
    stage: &StageField,
    stages: &Stages,
    category: i64,
    requested: Option<&Stored>,
) -> Result<String, InvalidValue> {
    let initial = stages.initial(category).unwrap_or_default().to_string();
    let Some(code) = requested.map(code_text) else {
        return Ok(initial);
    };
    if stages.semantics(category, code).is_some() {
        return Ok(code.to_string());
    }
    let foreign = stages.semantics_anywhere(code);
    match (stage.unknown, foreign) {
        (_, Some(semantics)) if category > 0 => Ok(stages
            .first_with(category, semantics)
            .unwrap_or(&initial)
            .to_string()),
        (Some(message), _) => Err(InvalidValue(message.to_string())),
        (None, _) => Ok(initial),
    }
}

impl Fixed {
    fn stored(self, origin: Origin) -> Stored {
        match self {
            Self::Text(t) => Stored::Text(t.into()),
            Self::Real(r) => Stored::Real(r),
            Self::Int(i) => Stored::Int(i),
            Self::DaysFromToday(days) => Stored::Text(date_after(origin, days)),
        }
    }
}

/// The date `days` after today in the server's time zone, as stored (`YYYY-MM-DD`).
fn date_after(origin: Origin, days: i64) -> String {
    let today = origin.now.with_timezone(&origin.tz).date_naive();
    today
        .checked_add_signed(chrono::Duration::days(days))
        .unwrap_or(today)
        .format("%Y-%m-%d")
        .to_string()
}

/// The fields a client may write, with their input: present, not read-only, not
/// immutable once the entity exists (`CATEGORY_ID` of a deal), and not a column
/// mirroring an owned binding set (`CONTACT_ID` of a lead goes through the binding
/// engine).
fn writable<'a>(
    schema: &'a Schema,
    fields: &'a Map<String, Value>,
    immutable_ok: bool,
) -> impl Iterator<Item = (&'static FieldDef, &'a Value)> + 'a {
    let def = schema.def();
    schema.fields().filter_map(move |field| {
        let input = fields.get(field.name)?;
        let derived = def.owns.iter().any(|k| k.owner_column == field.name)
            || def.computed.contains(&field.name);
        let fixed = field.immutable && !immutable_ok;
        (!field.read_only && !derived && !fixed).then_some((field, input))
    })
}

/// Builds a new entity from client `fields` following its description: unknown and
/// read-only keys are dropped, values converted, server-side values and defaults applied,
/// the owned binding sets planned from their ids fields.
pub fn new_entity(
    schema: &Schema,
    fields: &Map<String, Value>,
    origin: Origin,
    stages: &Stages,
) -> Result<NewEntity, InvalidValue> {
    let def = schema.def();
    let mut values: Vec<(&'static str, Stored)> = Vec::new();
    let mut multi = Vec::new();
    let mut uf = Map::new();
    for (field, input) in writable(schema, fields, true) {
        match field.storage {
            Storage::Column => {
                if let Internalized::Set(v) = field.internalize(input, origin.tz)? {
                    values.push((field.name, v));
                }
            }
            Storage::Multi => multi.extend(new_multi_values(field.name, input)?),
            Storage::User => {
                if let Some(user) = schema.user_field(field.name)
                    && let Some(v) = user.internalize(input, origin.tz)?
                {
                    uf.insert(field.name.to_string(), v);
                }
            }
            Storage::WriteOnly | Storage::Unsupported => {}
        }
    }
    for user in schema.user_fields() {
        if !uf.contains_key(&user.field_name)
            && let Some(v) = user.default_value(origin.tz)
        {
            uf.insert(user.field_name.clone(), v);
        }
        if user.mandatory && !uf.contains_key(&user.field_name) {
            return Err(required(user));
        }
    }
    // Which fields the client gave a value for, before defaults fill others.
    let client_gave: Vec<&'static str> = values
        .iter()
        .filter(|(_, v)| !matches!(v, Stored::Null))
        .map(|(n, _)| *n)
        .collect();
    // Server-set values go only to the fields the entity has.
    let set = |values: &mut Vec<(&'static str, Stored)>, name: &'static str, v: Stored| {
        if schema.field(name).is_some() {
            values.retain(|(n, _)| *n != name);
            values.push((name, v));
        }
    };
    let given = |values: &[(&'static str, Stored)], name: &str| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !matches!(v, Stored::Null))
    };
    let empty = |values: &[(&'static str, Stored)], name: &str| {
        given(values, name).is_none_or(|v| matches!(&v, Stored::Text(s) if s.is_empty()))
    };
    let blank = |values: &[(&'static str, Stored)], name: &str| {
        given(values, name).is_none_or(|v| matches!(&v, Stored::Text(s) if s.trim().is_empty()))
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
    if origin.import {
        for name in IMPORTED {
            let (Some(field), Some(input)) = (schema.field(name), fields.get(name)) else {
                continue;
            };
            if let Internalized::Set(v) = field.internalize(input, origin.tz)?
                && !matches!(v, Stored::Null)
            {
                set(&mut values, name, v);
            }
        }
    }
    for (name, fixed) in def.defaults {
        if empty(&values, name) {
            set(&mut values, name, fixed.stored(origin));
        }
    }
    if schema.field("HAS_PHONE").is_some() {
        for (name, v) in
            has_flags(multi.iter().map(|m: &NewMultiValue| {
                (m.type_id.as_str(), m.value_type.as_str(), m.value.as_str())
            }))
        {
            set(&mut values, name, v);
        }
    }
    if let Some(stage) = &def.stage {
        // An unknown category is the default one, as on a portal.
        let mut category = stages.default_category();
        if let Some(field) = stage.category_field {
            if let Some(Stored::Int(c)) = given(&values, field)
                && stages.has_category(c)
            {
                category = c;
            }
            set(&mut values, field, Stored::Int(category));
        }
        let requested = given(&values, stage.field).filter(|v| *v != Stored::Text(String::new()));
        let code = stage_on_add(stage, stages, category, requested.as_ref())?;
        let semantic = stages.semantics(category, &code).unwrap_or("P");
        let is_initial = stages.initial(category) == Some(code.as_str());
        let code = Stored::Text(code);
        let closed = semantic != "P";
        if let Some(name) = stage.closed_time.filter(|_| closed) {
            set(&mut values, name, now.clone());
        }
        if let Some(name) = stage.closed_flag {
            set(&mut values, name, yes_no(closed));
        }
        // Created closed: the close date is today unless the client gave one.
        if let Some(name) = stage
            .close_date
            .filter(|n| closed && !client_gave.contains(n))
        {
            set(&mut values, name, Stored::Text(date_after(origin, 0)));
        }
        if let Some(name) = stage.new_flag {
            set(&mut values, name, yes_no(is_initial));
        }
        set(&mut values, stage.field, code);
        set(
            &mut values,
            stage.semantic_field,
            Stored::Text(semantic.into()),
        );
        set(&mut values, "MOVED_BY_ID", user);
        set(&mut values, "MOVED_TIME", now);
    }
    let mut bindings = Vec::new();
    for kind in def.owns {
        let set = requested_ids(*kind, fields)
            .map(|ids| plan_ids(&ids))
            .unwrap_or_default();
        if !set.is_empty() {
            bindings.push((*kind, set));
        }
    }
    if def.returning_customer {
        let has_company = matches!(given(&values, "COMPANY_ID"), Some(Stored::Int(c)) if c > 0);
        let returning = has_company || !bindings.is_empty();
        set(
            &mut values,
            "IS_RETURN_CUSTOMER",
            Stored::Text(if returning { "Y" } else { "N" }.into()),
        );
    }
    let held = def
        .held
        .iter()
        .filter_map(|(kind, field)| fields.get(*field).map(|v| (*kind, held_items(v))))
        .filter(|(_, items)| !items.is_empty())
        .collect();
    let mut after_insert: Option<crate::store::AfterInsert> = None;
    match def.naming {
        Naming::Numbered { field, prefix } => {
            if empty(&values, field) {
                after_insert = Some(Box::new(move |id: i64| {
                    vec![(field, Stored::Text(format!("{prefix} #{id}")))]
                }));
            }
        }
        Naming::Keep => {}
        Naming::Person => {
            if blank(&values, "NAME") && blank(&values, "LAST_NAME") {
                set(&mut values, "LAST_NAME", Stored::Text("Untitled".into()));
            }
        }
    }
    Ok(NewEntity {
        id: None,
        values,
        uf,
        multi,
        bindings,
        held,
        after_insert,
    })
}

/// The portal's object for one entity (`*.get`): every standard field in table order
/// (strings or null; dates with the server offset; `""` for empty dates), then the
/// non-empty multi-fields. Write-only fields (`CONTACT_IDS`) are never returned.
pub fn output(schema: &Schema, row: &Row, tz: FixedOffset) -> Map<String, Value> {
    let fields: Vec<&FieldDef> = schema
        .fields()
        .filter(|f| f.storage != Storage::WriteOnly)
        .collect();
    output_fields(schema, row, tz, &fields)
}

/// The error for a required user field left empty.
fn required(user: &UserField) -> InvalidValue {
    InvalidValue(format!("The field \"{}\" is required.", user.caption()))
}

/// The object for one row restricted to `fields` (a list's `select`), in the given order;
/// multi-fields appear when they have values.
pub fn output_fields(
    schema: &Schema,
    row: &Row,
    tz: FixedOffset,
    fields: &[&FieldDef],
) -> Map<String, Value> {
    let mut out = Map::new();
    for def in fields.iter().filter(|f| {
        matches!(
            f.storage,
            Storage::Column | Storage::Unsupported | Storage::User
        )
    }) {
        if def.storage == Storage::User {
            if let Some(user) = schema.user_field(def.name) {
                out.insert(def.name.into(), user.externalize(row.uf.get(def.name), tz));
            }
            continue;
        }
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

/// What an ids field or a mirror column (`CONTACT_IDS`/`CONTACT_ID`) asked of an owned
/// binding set.
#[derive(Debug, Clone)]
enum SetRequest {
    /// The ids field: exactly this set.
    Set(Vec<Binding>),
    /// The mirror column > 0: this entity alone, unless it is already bound.
    One(i64),
    /// The mirror column ≤ 0: an empty set.
    Clear,
}

impl SetRequest {
    /// Reads the request for `kind` from `fields`, if there is one.
    fn read(kind: BindingKind, fields: &Map<String, Value>) -> Option<Self> {
        if let Some(Value::Array(_) | Value::Object(_)) = fields.get(kind.ids_field) {
            return requested_ids(kind, fields).map(|ids| Self::Set(plan_ids(&ids)));
        }
        match fields.get(kind.owner_column).map(php_int) {
            Some(x) if x > 0 => Some(Self::One(x)),
            Some(_) => Some(Self::Clear),
            None => None,
        }
    }

    /// The ids the request binds.
    fn ids(&self) -> Vec<i64> {
        match self {
            Self::Set(set) => set.iter().map(|b| b.bound_id).collect(),
            Self::One(id) => vec![*id],
            Self::Clear => Vec::new(),
        }
    }

    /// The new set against the current one; `None` when it stays.
    fn apply(&self, old: &[Binding]) -> Option<Vec<Binding>> {
        match self {
            Self::Set(set) => Some(set.clone()),
            Self::One(x) if old.iter().any(|b| b.bound_id == *x) => None,
            Self::One(x) => Some(plan_ids(&[*x])),
            Self::Clear => Some(Vec::new()),
        }
    }
}

/// A `*.update` as the client asked for it: read, converted and checked from `fields`
/// before the store is involved, so that the store's writer only matches it against the
/// current row ([`UpdateRequest::plan`]), in time linear in the request.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    schema: Schema,
    origin: Origin,
    /// Converted values of the writable columns.
    values: Vec<(&'static str, Stored)>,
    /// Multi-field entries, in field order.
    multi: Vec<MultiInput>,
    /// User field values to set (`None`: clear).
    uf: Vec<(String, Option<Value>)>,
    /// Requests for the owned binding sets.
    sets: Vec<(BindingKind, SetRequest)>,
    /// The entity's stage lists, to check a stage against the row's category.
    stages: Stages,
    /// Replacements of the holders of relations this entity is the bound side of.
    held: Vec<(BindingKind, Vec<Binding>)>,
}

/// Reads `*.update`'s `fields`: read-only and unknown keys dropped, column values
/// converted, multi-field entries and the requested contact set prepared. New multi-field
/// values are checked here; rewritten ones when the row is known.
pub fn prepare_update(
    schema: &Schema,
    fields: &Map<String, Value>,
    origin: Origin,
    stages: Stages,
) -> Result<UpdateRequest, InvalidValue> {
    let entity = schema.def();
    let mut values = Vec::new();
    let mut multi = Vec::new();
    let mut uf = Vec::new();
    for (def, input) in writable(schema, fields, origin.moves_category) {
        match def.storage {
            Storage::User => {
                let Some(user) = schema.user_field(def.name) else {
                    continue;
                };
                let v = user.internalize(input, origin.tz)?;
                if v.is_none() && user.mandatory {
                    return Err(required(user));
                }
                uf.push((user.field_name.clone(), v));
            }
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
    // An unknown stage on update is ignored (the entity keeps its stage).
    // An entity without categories that ignores unknown stages (a lead) drops them
    // here; others are checked against the row's category when it is read.
    if let Some(stage) = entity.stage.filter(|s| s.unknown.is_none()) {
        values.retain(|(n, v)| *n != stage.field || stages.semantics(0, code_text(v)).is_some());
    }
    let sets = entity
        .owns
        .iter()
        .filter_map(|kind| SetRequest::read(*kind, fields).map(|r| (*kind, r)))
        .collect();
    Ok(UpdateRequest {
        schema: schema.clone(),
        origin,
        values,
        multi,
        uf,
        sets,
        stages,
        held: entity
            .held
            .iter()
            .filter_map(|(kind, field)| fields.get(*field).map(|v| (*kind, held_items(v))))
            .collect(),
    })
}

impl UpdateRequest {
    /// The ids the update will bind, by bound entity type (to check that they exist and
    /// may be read before the row is touched); empty when no set is changed.
    pub fn requested_bindings(&self) -> Vec<(EntityType, Vec<i64>)> {
        self.sets
            .iter()
            .map(|(kind, request)| (kind.bound, request.ids()))
            .chain(
                self.held
                    .iter()
                    .map(|(kind, items)| (kind.owner, items.iter().map(|b| b.bound_id).collect())),
            )
            .collect()
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
            held: self.held.clone(),
            ..Update::default()
        };
        if !self.uf.is_empty() {
            let mut doc = row.uf.clone();
            for (name, v) in &self.uf {
                match v {
                    Some(v) => doc.insert(name.clone(), v.clone()),
                    None => doc.remove(name),
                };
            }
            update.uf = Some(doc);
        }
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
                    update.set_multi.push((
                        e.id,
                        NewMultiValue {
                            type_id: e.type_id.to_string(),
                            value_type: vt,
                            value: e.value.clone(),
                        },
                    ));
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
            .map(|(id, m)| (*id, (m.value_type.as_str(), m.value.as_str())))
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
        let def = self.schema.def();
        // In a success stage before or after this update.
        let mut success = false;
        if let Some(stage) = &def.stage {
            let old_category = match stage.category_field.and_then(|f| row.values.get(f)) {
                Some(Stored::Int(c)) => *c,
                _ => 0,
            };
            let mut category = old_category;
            // A move to another category (the universal API): an unknown one is refused;
            // the stage follows into the new category by its semantics.
            if let Some(field) = stage.category_field
                && let Stored::Int(to) = current(&update, field)
                && to != old_category
            {
                if !self.stages.has_category(to) {
                    return Err(InvalidValue(format!("Category {to} is not available")));
                }
                category = to;
                let code = current(&update, stage.field);
                let text = code_text(&code);
                if self.stages.semantics(to, text).is_none() {
                    let semantics = self
                        .stages
                        .semantics(old_category, text)
                        .or_else(|| self.stages.semantics_anywhere(text))
                        .unwrap_or("P");
                    let mapped = self
                        .stages
                        .first_with(to, semantics)
                        .or_else(|| self.stages.initial(to))
                        .unwrap_or_default()
                        .to_string();
                    update.values.retain(|(n, _)| *n != stage.field);
                    update.values.push((stage.field, Stored::Text(mapped)));
                }
            }
            success = current(&update, stage.semantic_field) == Stored::Text("S".into());
            let old = row.values.get(stage.field).cloned().unwrap_or(Stored::Null);
            let code = current(&update, stage.field);
            let known = self.stages.semantics(category, code_text(&code));
            if let (Some(message), None) = (stage.unknown, known)
                && code != old
            {
                return Err(InvalidValue(message.to_string()));
            }
            if code != old {
                let semantic = known.unwrap_or("P");
                success |= semantic == "S";
                extra.push((stage.semantic_field, Stored::Text(semantic.into())));
                if let Some(name) = stage.previous {
                    extra.push((name, old));
                }
                extra.push(("MOVED_BY_ID", user));
                extra.push(("MOVED_TIME", now.clone()));
                let closed = semantic != "P";
                if let Some(name) = stage.closed_time {
                    extra.push((name, if closed { now } else { Stored::Null }));
                }
                if let Some(name) = stage.closed_flag {
                    extra.push((name, yes_no(closed)));
                }
                let date_given = stage
                    .close_date
                    .is_some_and(|n| self.values.iter().any(|(v, _)| *v == n));
                if let Some(name) = stage.close_date.filter(|_| closed && !date_given) {
                    extra.push((name, Stored::Text(date_after(origin, 0))));
                }
                if let Some(name) = stage.new_flag {
                    let initial = self.stages.initial(category) == Some(code_text(&code));
                    extra.push((name, yes_no(initial)));
                }
            }
        }
        let mut any_bound = false;
        for kind in def.owns {
            let old: &[Binding] = sets
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(&[], |(_, s)| s.as_slice());
            let new = self
                .sets
                .iter()
                .find(|(k, _)| k == kind)
                .and_then(|(_, request)| request.apply(old));
            any_bound |= !new.as_deref().unwrap_or(old).is_empty();
            if let Some(set) = new {
                update.bindings.push((*kind, set));
            }
        }
        if def.returning_customer && !success {
            let has_company = matches!(current(&update, "COMPANY_ID"), Stored::Int(c) if c > 0);
            let returning = has_company || any_bound;
            extra.push((
                "IS_RETURN_CUSTOMER",
                Stored::Text(if returning { "Y" } else { "N" }.into()),
            ));
        }
        // Server-set values go only to the fields the entity has (a deal has no HAS_*).
        for (name, v) in extra {
            if self.schema.field(name).is_some() {
                update.values.retain(|(n, _)| *n != name);
                update.values.push((name, v));
            }
        }
        Ok(update)
    }
}
