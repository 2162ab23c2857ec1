//! The universal API's view of an entity (`crm.item.*`): camelCase names for the classic
//! fields, the values in its types (ids and amounts as numbers, flags `Y`/`N`, dates
//! ISO-8601), multi-fields as one `fm` list, binding sets as id arrays. Reading and
//! writing go through the same rows and plans as the classic methods; this module only
//! translates names and values.

use crate::entity::EntityType;
use crate::field::{FieldDef, FieldType, Storage, Stored, format_datetime};
use crate::schema::Schema;
use crate::store::Row;
use crate::userfield;
use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

/// Classic names whose universal name is not their plain camelCase form.
fn alias(entity: EntityType, classic: &str) -> Option<&'static str> {
    Some(match (entity, classic) {
        (_, "DATE_CREATE") => "createdTime",
        (_, "DATE_MODIFY") => "updatedTime",
        (_, "CREATED_BY_ID") => "createdBy",
        (_, "MODIFY_BY_ID") => "updatedBy",
        (_, "MOVED_BY_ID") => "movedBy",
        (EntityType::Lead, "STATUS_ID") => "stageId",
        (EntityType::Lead, "STATUS_SEMANTIC_ID") => "stageSemanticId",
        (EntityType::Company, "COMPANY_TYPE") => "typeId",
        (EntityType::Company, "CONTACT_ID") => "contactIds",
        _ => return None,
    })
}

/// `ASSIGNED_BY_ID` → `assignedById`; an `_` between two digits stays (`PARENT_ID_12` →
/// `parentId12`, `UF_CRM_10_55` → `ufCrm10_55`).
pub fn camel_case(upper: &str) -> String {
    let parts: Vec<&str> = upper.split('_').filter(|p| !p.is_empty()).collect();
    let mut out = String::with_capacity(upper.len());
    for (i, part) in parts.iter().enumerate() {
        let lower = part.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
            continue;
        }
        let digits_meet = parts[i - 1].ends_with(|c: char| c.is_ascii_digit())
            && part.starts_with(|c: char| c.is_ascii_digit());
        if digits_meet {
            out.push('_');
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
    }
    out
}

/// `createdTime` → `CREATED_TIME`: the `upperName` of a universal field.
pub use crate::field::upper_snake;

/// The universal name of a classic field; a user field's is `ufCrm_<digits>` for a
/// generated name (`UF_CRM_1712345`) and `ufCrm<Name>` for a chosen one
/// (`UF_CRM_SOURCE_URL` → `ufCrmSourceUrl`); a smart process's carries its type id
/// (`UF_CRM_7_1712345` → `ufCrm7_1712345`, `UF_CRM_7_SIZE` → `ufCrm7Size`).
pub fn camel_name(entity: EntityType, classic: &str) -> String {
    if let Some(rest) = classic.strip_prefix(userfield::PREFIX) {
        let capitalized = |s: &str| {
            let tail = camel_case(s);
            let mut chars = tail.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            format!(
                "{}{}",
                first.map(String::from).unwrap_or_default(),
                chars.as_str()
            )
        };
        // A smart process's field: `UF_CRM_7_…` → `ufCrm7…` (`ufCrm7_1712345`).
        if let Some((id, tail)) = rest.split_once('_')
            && !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !tail.is_empty()
        {
            return if tail.starts_with(|c: char| c.is_ascii_digit()) {
                format!("ufCrm{id}_{}", camel_case(tail))
            } else {
                format!("ufCrm{id}{}", capitalized(tail))
            };
        }
        return if rest.starts_with(|c: char| c.is_ascii_digit()) {
            format!("ufCrm_{}", camel_case(rest))
        } else {
            format!("ufCrm{}", capitalized(rest))
        };
    }
    alias(entity, classic).map_or_else(|| camel_case(classic), str::to_string)
}

/// The fields the universal API shows for an entity, in table order, with their
/// universal names: not the hidden ones, nor the multi-fields (they are one `fm` list).
/// With `original_uf` (`useOriginalUfNames: Y`) user fields keep their `UF_CRM_` names.
pub fn item_fields(schema: &Schema, original_uf: bool) -> Vec<(String, &'static FieldDef)> {
    schema
        .fields()
        .filter(|f| !f.hidden && f.storage != Storage::Multi)
        .map(|f| {
            let name = if original_uf && f.storage == Storage::User {
                f.name.to_string()
            } else {
                camel_name(schema.entity(), f.name)
            };
            (name, f)
        })
        .collect()
}

/// The classic field of a universal name (or of a classic name given as is).
pub fn classic_field(schema: &Schema, name: &str) -> Option<&'static FieldDef> {
    let name = name.trim();
    if let Some(def) = schema.field(name) {
        return Some(def);
    }
    schema
        .fields()
        .find(|f| !f.hidden && camel_name(schema.entity(), f.name) == name)
}

/// The universal API's type of a field (`Y`/`N` flags are `boolean` there).
pub fn item_type(def: &FieldDef) -> &'static str {
    match def.ty {
        FieldType::Char => "boolean",
        other => other.as_str(),
    }
}

/// `crm.item.fields`: the descriptor of every field, keys in the portal's order.
pub fn describe(schema: &Schema, original_uf: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, def) in item_fields(schema, original_uf) {
        if let Some(user) = schema.user_field(def.name) {
            let mut m = match user.describe() {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            m.insert("upperName".into(), json!(def.name));
            out.insert(name, Value::Object(m));
            continue;
        }
        let mut m = Map::new();
        m.insert("type".into(), json!(item_type(def)));
        m.insert("isRequired".into(), json!(false));
        m.insert("isReadOnly".into(), json!(def.read_only));
        // The universal API moves an entity between categories: not immutable there.
        let category = schema
            .def()
            .stage
            .and_then(|st| st.category_field)
            .is_some_and(|c| c == def.name);
        m.insert("isImmutable".into(), json!(def.immutable && !category));
        m.insert("isMultiple".into(), json!(def.multiple));
        m.insert("isDynamic".into(), json!(false));
        if def.deprecated {
            m.insert("isDeprecated".into(), json!(true));
        }
        if let Some(st) = def.status_type {
            m.insert("statusType".into(), json!(st));
        }
        m.insert("title".into(), json!(def.title));
        if let Some(p) = def.parent_entity_type {
            m.insert("settings".into(), json!({ "parentEntityTypeId": p }));
        }
        m.insert("upperName".into(), json!(upper_snake(&name)));
        out.insert(name, Value::Object(m));
    }
    out.insert(
        "fm".into(),
        json!({"type": "crm_multifield", "isRequired": false, "isReadOnly": false,
               "isImmutable": false, "isMultiple": true, "isDynamic": false,
               "title": "Multi-fields", "upperName": "FM"}),
    );
    out
}

/// A stored value in the universal API's types.
pub fn item_value(def: &FieldDef, v: &Stored, tz: FixedOffset) -> Value {
    match (def.ty, v) {
        (_, Stored::Null) => Value::Null,
        (FieldType::DateTime, Stored::Int(t)) => json!(format_datetime(*t, tz)),
        (FieldType::Date, Stored::Text(d)) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => json!(
                Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
                    .with_timezone(&tz)
                    .format("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            ),
            Err(_) => Value::Null,
        },
        (_, Stored::Int(i)) => json!(i),
        (_, Stored::Real(f)) => json!(f),
        (_, Stored::Text(s)) => json!(s),
    }
}

/// Binding sets an item shows as id arrays (`contactIds`), as read by the caller.
#[derive(Debug, Clone, Default)]
pub struct ItemSets {
    /// (universal name, ids in set order).
    pub ids: Vec<(String, Vec<i64>)>,
}

/// One item as the universal API returns it (`select`: the universal names to keep,
/// `None` for all): fields in table order, the binding id arrays in place of their
/// write-only fields, `fm` for multi-fields, `entityTypeId` last.
pub fn item_json(
    schema: &Schema,
    row: &Row,
    sets: &ItemSets,
    select: Option<&[String]>,
    original_uf: bool,
    tz: FixedOffset,
) -> Map<String, Value> {
    let wanted = |name: &str| select.is_none_or(|s| s.iter().any(|n| n == name));
    let mut out = Map::new();
    for (name, def) in item_fields(schema, original_uf) {
        if !wanted(&name) {
            continue;
        }
        let value = match def.storage {
            Storage::User => match schema.user_field(def.name) {
                Some(user) => user.item_value(row.uf.get(def.name), tz),
                None => continue,
            },
            Storage::WriteOnly => match sets.ids.iter().find(|(n, _)| *n == name) {
                Some((_, ids)) => json!(ids),
                None => continue,
            },
            _ if def.name == "ID" => json!(row.id),
            _ => item_value(def, row.values.get(def.name).unwrap_or(&Stored::Null), tz),
        };
        out.insert(name, value);
    }
    let has_multi = schema.fields().any(|f| f.storage == Storage::Multi);
    if has_multi && select.is_none_or(|s| s.iter().any(|n| n == "fm" || n == "*")) {
        let fm: Vec<Value> = row
            .multi
            .iter()
            .map(|m| {
                json!({"id": m.id, "valueType": m.value_type, "value": m.value,
                       "typeId": m.type_id})
            })
            .collect();
        out.insert("fm".into(), Value::Array(fm));
    }
    if select.is_none_or(|s| s.iter().any(|n| n == "*")) {
        out.insert("entityTypeId".into(), json!(schema.entity().type_id()));
    }
    out
}

/// Universal `fields` → classic `fields`: names translated (unknown ones dropped, as a
/// portal drops them), flags from booleans, `fm` into `PHONE`/`EMAIL`/… lists.
pub fn classic_fields(schema: &Schema, fields: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in fields {
        if key == "fm" {
            let entries: Vec<&Value> = match value {
                Value::Array(a) => a.iter().collect(),
                Value::Object(o) => o.values().collect(),
                _ => Vec::new(),
            };
            for e in entries {
                let Some(type_id) = e
                    .get("typeId")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_uppercase)
                else {
                    continue;
                };
                if schema
                    .field(&type_id)
                    .is_none_or(|f| f.storage != Storage::Multi)
                {
                    continue;
                }
                let entry = json!({"VALUE": e.get("value").cloned().unwrap_or(Value::Null),
                                   "VALUE_TYPE": e.get("valueType").cloned().unwrap_or(Value::Null)});
                if let Value::Array(list) = out
                    .entry(type_id)
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    list.push(entry);
                }
            }
            continue;
        }
        let Some(def) = classic_field(schema, key) else {
            continue;
        };
        if def.storage == Storage::Multi || def.name == "ID" {
            continue;
        }
        let value = match (def.ty, value) {
            (FieldType::Char, Value::Bool(b)) => json!(if *b { "Y" } else { "N" }),
            (FieldType::Char, Value::String(s)) => {
                let yes = s.eq_ignore_ascii_case("y") || s.eq_ignore_ascii_case("true");
                json!(if yes { "Y" } else { "N" })
            }
            _ => value.clone(),
        };
        out.insert(def.name.to_string(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_translate_both_ways() {
        for (upper, camel) in [
            ("ASSIGNED_BY_ID", "assignedById"),
            ("BEGINDATE", "begindate"),
            ("IS_MANUAL_OPPORTUNITY", "isManualOpportunity"),
            ("PARENT_ID_12", "parentId12"),
            ("UF_CRM_10_55", "ufCrm10_55"),
            ("UTM_SOURCE", "utmSource"),
        ] {
            assert_eq!(camel_case(upper), camel);
        }
        assert_eq!(
            camel_name(EntityType::Lead, "UF_CRM_1712345"),
            "ufCrm_1712345"
        );
        assert_eq!(
            camel_name(EntityType::Deal, "UF_CRM_SOURCE_URL"),
            "ufCrmSourceUrl"
        );
        assert_eq!(
            camel_name(EntityType::Dynamic(1030), "UF_CRM_7_1712345"),
            "ufCrm7_1712345"
        );
        assert_eq!(
            camel_name(EntityType::Dynamic(1030), "UF_CRM_7_SIZE"),
            "ufCrm7Size"
        );
        assert_eq!(camel_name(EntityType::Lead, "STATUS_ID"), "stageId");
        assert_eq!(camel_name(EntityType::Deal, "STAGE_ID"), "stageId");
        assert_eq!(camel_name(EntityType::Deal, "DATE_CREATE"), "createdTime");
        assert_eq!(camel_name(EntityType::Company, "COMPANY_TYPE"), "typeId");
        assert_eq!(upper_snake("createdTime"), "CREATED_TIME");
        assert_eq!(
            classic_field(&Schema::standard(EntityType::Lead), "stageId").map(|f| f.name),
            Some("STATUS_ID")
        );
        assert_eq!(
            classic_field(&Schema::standard(EntityType::Contact), "companyIds").map(|f| f.name),
            Some("COMPANY_IDS")
        );
        assert_eq!(
            classic_field(&Schema::standard(EntityType::Deal), "TITLE").map(|f| f.name),
            Some("TITLE")
        );
        assert!(classic_field(&Schema::standard(EntityType::Contact), "faceId").is_none());
    }

    #[test]
    fn fields_come_in_as_classic_ones() {
        let fields = json!({"title": "T", "opened": true, "stageId": "NEW", "nope": 1,
                            "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+1"}],
                            "contactIds": [3, 4]});
        let classic = classic_fields(
            &Schema::standard(EntityType::Lead),
            fields.as_object().unwrap(),
        );
        assert_eq!(
            Value::Object(classic),
            json!({"TITLE": "T", "OPENED": "Y", "STATUS_ID": "NEW",
                   "PHONE": [{"VALUE": "+1", "VALUE_TYPE": "WORK"}], "CONTACT_IDS": [3, 4]})
        );
    }
}
