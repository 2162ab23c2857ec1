//! User fields (`UF_CRM_*`): fields an administrator defines at run time with
//! `crm.<entity>.userfield.*`. A definition is data ([`UserField`]); its values live in
//! one document per row (field name → stored value, an array when the field is multiple)
//! and are converted here, both ways, by the field's user type.

use crate::entity::EntityType;
use crate::field::{
    FieldDef, FieldType, Internalized, InvalidValue, Storage, Stored, format_datetime, php_int,
    php_string, upper_snake,
};
use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// The prefix every user field name of the CRM carries.
pub const PREFIX: &str = "UF_CRM_";

/// Longest field name, prefix included (the portal's limit).
pub const MAX_NAME_LEN: usize = 20;

/// The label keys of a definition, each a map language → text.
pub const LABELS: [&str; 5] = [
    "EDIT_FORM_LABEL",
    "LIST_COLUMN_LABEL",
    "LIST_FILTER_LABEL",
    "ERROR_MESSAGE",
    "HELP_MESSAGE",
];

/// The language labels given as plain text are stored under, and read in `*.fields`.
pub const LANGUAGE: &str = "en";

/// The user types a field can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UfType {
    /// Text.
    String,
    /// Whole number.
    Integer,
    /// Number with a fraction.
    Double,
    /// Yes/no, stored as 1/0.
    Boolean,
    /// Calendar date.
    Date,
    /// Instant.
    Datetime,
    /// One of a list of values (stored as the value's id).
    Enumeration,
    /// Link.
    Url,
    /// Amount and currency, `100.50|USD`.
    Money,
    /// A user id.
    Employee,
    /// A CRM entity: `C_12` (or a bare id when the field allows one entity type).
    Crm,
}

impl UfType {
    /// Every user type, in the order `COMPATIBILITY.md` lists them.
    pub const ALL: [Self; 11] = [
        Self::String,
        Self::Integer,
        Self::Double,
        Self::Boolean,
        Self::Date,
        Self::Datetime,
        Self::Enumeration,
        Self::Url,
        Self::Money,
        Self::Employee,
        Self::Crm,
    ];

    /// The wire name (`USER_TYPE_ID`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Double => "double",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Enumeration => "enumeration",
            Self::Url => "url",
            Self::Money => "money",
            Self::Employee => "employee",
            Self::Crm => "crm",
        }
    }

    /// Parses a `USER_TYPE_ID` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// The field type of its values: how they compare, sort and convert.
    pub fn field_type(self) -> FieldType {
        match self {
            Self::String => FieldType::String,
            Self::Integer => FieldType::Integer,
            Self::Double => FieldType::Double,
            Self::Boolean => FieldType::Boolean,
            Self::Date => FieldType::Date,
            Self::Datetime => FieldType::DateTime,
            Self::Enumeration => FieldType::Enumeration,
            Self::Url => FieldType::Url,
            Self::Money => FieldType::Money,
            Self::Employee => FieldType::Employee,
            Self::Crm => FieldType::Crm,
        }
    }

    /// The settings a field of this type has when the client sets none.
    pub fn default_settings(self) -> Map<String, Value> {
        let v = match self {
            Self::String => json!({"SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0,
                                   "MAX_LENGTH": 0, "DEFAULT_VALUE": ""}),
            Self::Integer => {
                json!({"SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": null})
            }
            Self::Double => json!({"PRECISION": 2, "SIZE": 20, "MIN_VALUE": 0.0,
                                   "MAX_VALUE": 0.0, "DEFAULT_VALUE": null}),
            Self::Boolean => json!({"DEFAULT_VALUE": 0, "DISPLAY": "CHECKBOX",
                                    "LABEL": ["", ""], "LABEL_CHECKBOX": ""}),
            Self::Date => json!({"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}}),
            Self::Datetime => json!({"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""},
                                     "USE_SECOND": "Y", "USE_TIMEZONE": "N"}),
            Self::Enumeration => json!({"DISPLAY": "LIST", "LIST_HEIGHT": 1,
                                        "CAPTION_NO_VALUE": "", "SHOW_NO_VALUE": "Y"}),
            Self::Url => json!({"POPUP": "Y", "SIZE": 20, "MIN_LENGTH": 0, "MAX_LENGTH": 0,
                                "DEFAULT_VALUE": "", "ROWS": 1}),
            Self::Money => json!({"DEFAULT_VALUE": ""}),
            Self::Employee => json!({}),
            Self::Crm => json!({"LEAD": "Y", "CONTACT": "Y", "COMPANY": "Y", "DEAL": "Y"}),
        };
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// One value of an `enumeration` field's list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnumItem {
    /// Id (unique among all lists; 0 for an item not stored yet).
    pub id: i64,
    /// The text shown.
    pub value: String,
    /// Whether it is the default value.
    pub def: bool,
    /// Sort key.
    pub sort: i64,
    /// External code.
    pub xml_id: String,
}

/// A user field definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserField {
    /// Id (0 before it is stored).
    pub id: i64,
    /// The owner: `CRM_LEAD`, `CRM_DEAL`, `CRM_CONTACT`, `CRM_COMPANY`.
    pub entity_id: String,
    /// `UF_CRM_…`.
    pub field_name: String,
    /// The user type.
    pub user_type: UfType,
    /// External code.
    pub xml_id: Option<String>,
    /// Sort key (fields are listed by it, then by id).
    pub sort: i64,
    /// Whether a value is a list.
    pub multiple: bool,
    /// Whether a new entity must have a value.
    pub mandatory: bool,
    /// `N`, `I`, `E` or `S`.
    pub show_filter: String,
    /// Shown in lists.
    pub show_in_list: bool,
    /// Editable in lists.
    pub edit_in_list: bool,
    /// Searched by full-text search.
    pub is_searchable: bool,
    /// Type-specific settings (the type's defaults, overridden by the client's).
    pub settings: Map<String, Value>,
    /// `EDIT_FORM_LABEL`, … → language → text.
    pub labels: Map<String, Value>,
    /// The list of an `enumeration` field, by sort then id.
    pub items: Vec<EnumItem>,
}

/// The `ENTITY_ID` of a built-in entity type's user fields (`CRM_LEAD`); a smart
/// process's are [`type_owner`]'s.
pub fn owner_id(entity: EntityType) -> String {
    format!("CRM_{}", entity.code().to_ascii_uppercase())
}

/// The `ENTITY_ID` of a smart process's user fields: `CRM_<type id>` (the type's own id,
/// not its `entityTypeId`).
pub fn type_owner(type_id: i64) -> String {
    format!("CRM_{type_id}")
}

/// The smart process's id of an owner like `CRM_7`.
pub fn parse_type_owner(owner: &str) -> Option<i64> {
    owner
        .strip_prefix("CRM_")?
        .parse()
        .ok()
        .filter(|id: &i64| *id > 0)
}

/// Longest field name `userfieldconfig.add` accepts.
pub const MAX_CONFIG_NAME_LEN: usize = 50;

/// The prefix a field of `owner` must carry in `userfieldconfig.*`: `UF_CRM_` for the
/// built-in entities, `UF_CRM_7_` for the smart process with id 7.
pub fn config_prefix(owner: &str) -> String {
    match parse_type_owner(owner) {
        Some(id) => format!("UF_CRM_{id}_"),
        None => PREFIX.to_string(),
    }
}

/// `userfieldconfig.*`'s camelCase `field` keys → the classic ones of
/// `crm.<entity>.userfield.*` (`enum` items become `LIST`).
pub fn classic_keys(field: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in field {
        if k == "enum" {
            let items: Vec<Value> = entries(v)
                .into_iter()
                .map(|e| {
                    Value::Object(e.iter().map(|(k, v)| (upper_snake(k), v.clone())).collect())
                })
                .collect();
            out.insert("LIST".into(), Value::Array(items));
        } else {
            out.insert(upper_snake(k), v.clone());
        }
    }
    out
}

fn yes(v: Option<&Value>) -> Option<bool> {
    v.map(|v| match v {
        Value::Bool(b) => *b,
        other => php_string(other).is_some_and(|s| {
            let s = s.trim();
            s.eq_ignore_ascii_case("y") || s == "1" || s.eq_ignore_ascii_case("true")
        }),
    })
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(php_string)
}

/// A label as given: a map language → text, or plain text for every language (those
/// the label already has, and [`LANGUAGE`]).
fn label(v: &Value, old: Option<&Value>) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, v)| {
                    let t = php_string(v)?;
                    Some((k.trim().to_ascii_lowercase(), Value::String(t)))
                })
                .collect(),
        ),
        other => match php_string(other) {
            Some(t) => {
                let mut m: Map<String, Value> = old
                    .and_then(Value::as_object)
                    .map(|m| m.keys().map(|k| (k.clone(), json!(t))).collect())
                    .unwrap_or_default();
                m.insert(LANGUAGE.into(), json!(t));
                Value::Object(m)
            }
            None => json!({}),
        },
    }
}

fn entries(v: &Value) -> Vec<&Map<String, Value>> {
    match v {
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
        Value::Object(o) => o.values().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

/// An external code for a new list item that has none: stable for the same field,
/// value and position.
fn new_xml_id(field: &str, value: &str, n: usize) -> String {
    use std::hash::{Hash, Hasher};
    let mut out = String::with_capacity(32);
    for salt in 0..2u8 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, field, value, n).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

impl UserField {
    /// Reads `crm.<entity>.userfield.add`'s `fields`: the name upper-cased and given the
    /// `UF_CRM_` prefix, the type checked, flags, labels, settings (over the type's
    /// defaults) and the list of an enumeration.
    pub fn from_add(entity_id: String, fields: &Map<String, Value>) -> Result<Self, InvalidValue> {
        Self::build(entity_id, fields, PREFIX, MAX_NAME_LEN, true)
    }

    /// Reads `userfieldconfig.add`'s `field` (already in classic keys, see
    /// [`classic_keys`]): the name must carry the owner's prefix ([`config_prefix`]) and
    /// may be up to 50 characters.
    pub fn from_config(
        entity_id: String,
        fields: &Map<String, Value>,
    ) -> Result<Self, InvalidValue> {
        let prefix = config_prefix(&entity_id);
        Self::build(entity_id, fields, &prefix, MAX_CONFIG_NAME_LEN, false)
    }

    fn build(
        entity_id: String,
        fields: &Map<String, Value>,
        prefix: &str,
        max_len: usize,
        add_prefix: bool,
    ) -> Result<Self, InvalidValue> {
        let user_type = match text(fields.get("USER_TYPE_ID")) {
            Some(t) if !t.trim().is_empty() => UfType::parse(&t).ok_or_else(|| {
                InvalidValue(format!("The user type '{}' is not supported.", t.trim()))
            })?,
            _ => {
                return Err(InvalidValue(
                    "The 'USER_TYPE_ID' field is not specified.".into(),
                ));
            }
        };
        let name = text(fields.get("FIELD_NAME"))
            .map(|n| n.trim().to_ascii_uppercase())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| InvalidValue("The 'FIELD_NAME' field is not specified.".into()))?;
        let field_name = if name.starts_with(prefix) || !add_prefix {
            name
        } else {
            format!("{prefix}{name}")
        };
        if !field_name.starts_with(prefix) {
            return Err(InvalidValue(format!(
                "Invalid field name '{field_name}': it must start with {prefix}."
            )));
        }
        if !field_name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            || field_name.len() == prefix.len()
        {
            return Err(InvalidValue(format!(
                "Invalid field name '{field_name}': only Latin letters, digits and underscores are allowed."
            )));
        }
        if field_name.len() > max_len {
            return Err(InvalidValue(format!(
                "Invalid field name '{field_name}': it is longer than {max_len} characters."
            )));
        }
        let mut field = Self {
            id: 0,
            entity_id,
            field_name,
            user_type,
            xml_id: None,
            sort: 100,
            multiple: yes(fields.get("MULTIPLE")).unwrap_or(false),
            mandatory: false,
            show_filter: "N".into(),
            show_in_list: true,
            edit_in_list: true,
            is_searchable: false,
            settings: user_type.default_settings(),
            labels: Map::new(),
            items: Vec::new(),
        };
        field.apply(fields);
        Ok(field)
    }

    /// Applies `crm.<entity>.userfield.update`'s `fields`: everything but the name, the
    /// type, the owner and `MULTIPLE`. List items with an `ID` are changed (or removed
    /// with `DEL: "Y"`), items without one added (id 0 until stored).
    pub fn apply(&mut self, fields: &Map<String, Value>) {
        if let Some(x) = fields.get("XML_ID") {
            self.xml_id = php_string(x).filter(|s| !s.is_empty());
        }
        if let Some(sort) = fields.get("SORT") {
            self.sort = php_int(sort);
        }
        if let Some(m) = yes(fields.get("MANDATORY")) {
            self.mandatory = m;
        }
        if let Some(s) = text(fields.get("SHOW_FILTER")) {
            let s = s.trim().to_ascii_uppercase();
            self.show_filter = if ["N", "I", "E", "S"].contains(&s.as_str()) {
                s
            } else if s == "Y" {
                "E".into()
            } else {
                "N".into()
            };
        }
        if let Some(b) = yes(fields.get("SHOW_IN_LIST")) {
            self.show_in_list = b;
        }
        if let Some(b) = yes(fields.get("EDIT_IN_LIST")) {
            self.edit_in_list = b;
        }
        if let Some(b) = yes(fields.get("IS_SEARCHABLE")) {
            self.is_searchable = b;
        }
        if let Some(Value::Object(settings)) = fields.get("SETTINGS") {
            for (k, v) in settings {
                self.settings
                    .insert(k.trim().to_ascii_uppercase(), v.clone());
            }
        }
        for key in LABELS {
            if let Some(v) = fields.get(key) {
                let new = label(v, self.labels.get(key));
                self.labels.insert(key.into(), new);
            }
        }
        if self.user_type == UfType::Enumeration
            && let Some(list) = fields.get("LIST")
        {
            self.apply_list(list);
        }
    }

    fn apply_list(&mut self, list: &Value) {
        for (n, e) in entries(list).into_iter().enumerate() {
            let id = e.get("ID").map(php_int).unwrap_or(0);
            let value = text(e.get("VALUE"));
            if id > 0 {
                let Some(pos) = self.items.iter().position(|i| i.id == id) else {
                    continue;
                };
                if yes(e.get("DEL")).unwrap_or(false) {
                    self.items.remove(pos);
                    continue;
                }
                let item = &mut self.items[pos];
                if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                    item.value = v;
                }
                if let Some(s) = e.get("SORT") {
                    item.sort = php_int(s);
                }
                if let Some(d) = yes(e.get("DEF")) {
                    item.def = d;
                }
                if let Some(x) = text(e.get("XML_ID")).filter(|x| !x.is_empty()) {
                    item.xml_id = x;
                }
            } else if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                let xml_id = text(e.get("XML_ID"))
                    .filter(|x| !x.is_empty())
                    .unwrap_or_else(|| new_xml_id(&self.field_name, &v, n));
                self.items.push(EnumItem {
                    id: 0,
                    value: v,
                    def: yes(e.get("DEF")).unwrap_or(false),
                    sort: e.get("SORT").map_or(500, php_int),
                    xml_id,
                });
            }
        }
        // A single-valued field has one default at most: the first.
        if !self.multiple {
            let mut seen = false;
            for item in &mut self.items {
                let first = item.def && !seen;
                seen |= item.def;
                item.def = first;
            }
        }
        self.sort_items();
    }

    /// Orders the list by sort key, then id (new items last).
    pub fn sort_items(&mut self) {
        self.items
            .sort_by_key(|i| (i.sort, if i.id == 0 { i64::MAX } else { i.id }));
    }

    /// The label of `key` in [`LANGUAGE`] (else any language), if there is one.
    fn label_text(&self, key: &str) -> Option<&str> {
        let m = self.labels.get(key)?.as_object()?;
        m.get(LANGUAGE)
            .or_else(|| m.values().next())
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// How messages name the field: its form label, else its name.
    pub fn caption(&self) -> &str {
        self.label_text("EDIT_FORM_LABEL")
            .unwrap_or(self.field_name.as_str())
    }

    /// The definition as `crm.<entity>.userfield.get`/`.list` return it: scalars as
    /// strings, labels by language (or in one language, `lang`), the list of an
    /// enumeration.
    pub fn to_json(&self, lang: Option<&str>) -> Value {
        let yn = |b: bool| json!(if b { "Y" } else { "N" });
        let mut m = Map::new();
        m.insert("ID".into(), json!(self.id.to_string()));
        m.insert("ENTITY_ID".into(), json!(self.entity_id));
        m.insert("FIELD_NAME".into(), json!(self.field_name));
        m.insert("USER_TYPE_ID".into(), json!(self.user_type.as_str()));
        m.insert("XML_ID".into(), json!(self.xml_id));
        m.insert("SORT".into(), json!(self.sort.to_string()));
        m.insert("MULTIPLE".into(), yn(self.multiple));
        m.insert("MANDATORY".into(), yn(self.mandatory));
        m.insert("SHOW_FILTER".into(), json!(self.show_filter));
        m.insert("SHOW_IN_LIST".into(), yn(self.show_in_list));
        m.insert("EDIT_IN_LIST".into(), yn(self.edit_in_list));
        m.insert("IS_SEARCHABLE".into(), yn(self.is_searchable));
        m.insert("SETTINGS".into(), Value::Object(self.settings.clone()));
        for key in LABELS {
            let all = self.labels.get(key).cloned().unwrap_or_else(|| json!({}));
            let v = match lang {
                Some(l) => all.get(l).cloned().unwrap_or(Value::Null),
                None => all,
            };
            m.insert(key.into(), v);
        }
        if self.user_type == UfType::Enumeration {
            let list: Vec<Value> = self
                .items
                .iter()
                .map(|i| {
                    json!({"ID": i.id.to_string(), "SORT": i.sort.to_string(),
                           "VALUE": i.value, "DEF": if i.def { "Y" } else { "N" },
                           "XML_ID": i.xml_id})
                })
                .collect();
            m.insert("LIST".into(), Value::Array(list));
        }
        Value::Object(m)
    }

    /// The definition as `userfieldconfig.*` answers it: camelCase keys, scalars as
    /// strings, labels by language, the list of an enumeration under `enum`.
    pub fn to_config_json(&self) -> Value {
        let yn = |b: bool| json!(if b { "Y" } else { "N" });
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id.to_string()));
        m.insert("entityId".into(), json!(self.entity_id));
        m.insert("fieldName".into(), json!(self.field_name));
        m.insert("userTypeId".into(), json!(self.user_type.as_str()));
        m.insert("xmlId".into(), json!(self.xml_id));
        m.insert("sort".into(), json!(self.sort.to_string()));
        m.insert("multiple".into(), yn(self.multiple));
        m.insert("mandatory".into(), yn(self.mandatory));
        m.insert("showFilter".into(), json!(self.show_filter));
        m.insert("showInList".into(), yn(self.show_in_list));
        m.insert("editInList".into(), yn(self.edit_in_list));
        m.insert("isSearchable".into(), yn(self.is_searchable));
        m.insert("settings".into(), Value::Object(self.settings.clone()));
        m.insert("languageId".into(), json!({ LANGUAGE: LANGUAGE }));
        for (key, camel) in LABELS.iter().zip([
            "editFormLabel",
            "listColumnLabel",
            "listFilterLabel",
            "errorMessage",
            "helpMessage",
        ]) {
            let mut labels = self
                .labels
                .get(*key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            labels.entry(LANGUAGE).or_insert(Value::Null);
            m.insert(camel.into(), Value::Object(labels));
        }
        if self.user_type == UfType::Enumeration {
            let items: Vec<Value> = self
                .items
                .iter()
                .map(|i| {
                    json!({"id": i.id.to_string(), "userFieldId": self.id.to_string(),
                           "value": i.value, "def": if i.def { "Y" } else { "N" },
                           "sort": i.sort.to_string(), "xmlId": i.xml_id})
                })
                .collect();
            m.insert("enum".into(), Value::Array(items));
        }
        Value::Object(m)
    }

    /// The descriptor `*.fields` lists for it (after the standard fields).
    pub fn describe(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(self.user_type.as_str()));
        m.insert("isRequired".into(), json!(self.mandatory));
        m.insert("isReadOnly".into(), json!(false));
        m.insert("isImmutable".into(), json!(false));
        m.insert("isMultiple".into(), json!(self.multiple));
        m.insert("isDynamic".into(), json!(true));
        if self.user_type == UfType::Enumeration {
            let items: Vec<Value> = self
                .items
                .iter()
                .map(|i| json!({"ID": i.id.to_string(), "VALUE": i.value}))
                .collect();
            m.insert("items".into(), Value::Array(items));
        }
        m.insert("title".into(), json!(self.field_name));
        let shown = |key: &str| json!(self.label_text(key).unwrap_or(self.caption()));
        m.insert("listLabel".into(), shown("LIST_COLUMN_LABEL"));
        m.insert("formLabel".into(), shown("EDIT_FORM_LABEL"));
        m.insert("filterLabel".into(), shown("LIST_FILTER_LABEL"));
        m.insert("settings".into(), Value::Object(self.settings.clone()));
        Value::Object(m)
    }

    /// The field's descriptor for the generic code (filters, order, select): interned,
    /// so one definition is one `&'static` value however often it is loaded.
    pub fn field_def(&self) -> &'static FieldDef {
        let mut def = FieldDef::new("", self.user_type.field_type(), "");
        def.storage = Storage::User;
        def.multiple = self.multiple;
        def.required = self.mandatory;
        intern(&self.field_name, def)
    }

    /// One scalar of the field as stored, or `None` when it is dropped.
    fn scalar(&self, v: &Value, tz: FixedOffset) -> Result<Option<Stored>, InvalidValue> {
        let invalid = || {
            InvalidValue(format!(
                "The field \"{}\" has an invalid value.",
                self.caption()
            ))
        };
        if matches!(v, Value::Null) || matches!(v, Value::String(s) if s.trim().is_empty()) {
            return Ok(None);
        }
        Ok(match self.user_type {
            UfType::Boolean => Some(Stored::Int(i64::from(
                yes(Some(v)).unwrap_or(false)
                    || matches!(v, Value::Number(n) if n.as_f64() != Some(0.0)),
            ))),
            UfType::Enumeration => {
                let id = php_int(v);
                if !self.items.iter().any(|i| i.id == id) {
                    return Err(invalid());
                }
                Some(Stored::Int(id))
            }
            UfType::Money => {
                let s = php_string(v).ok_or_else(invalid)?;
                let (amount, currency) = match s.trim().split_once('|') {
                    Some((a, c)) => (a.trim().to_string(), Some(c.trim().to_ascii_uppercase())),
                    None => (s.trim().to_string(), None),
                };
                let amount = crate::field::parse_decimal(&amount)
                    .filter(|f| f.is_finite())
                    .ok_or_else(invalid)?;
                let currency = currency
                    .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
                    .unwrap_or_else(|| crate::reference::BASE_CURRENCY.to_string());
                Some(Stored::Text(format!("{amount:.2}|{currency}")))
            }
            UfType::Crm => {
                let s = php_string(v).ok_or_else(invalid)?;
                Some(Stored::Text(s.trim().to_string()))
            }
            _ => {
                let def = FieldDef::new("", self.user_type.field_type(), "");
                match def.internalize(v, tz) {
                    Ok(Internalized::Set(Stored::Null)) => None,
                    Ok(Internalized::Set(s)) => Some(s),
                    Ok(Internalized::Drop) => {
                        if matches!(self.user_type, UfType::Date | UfType::Datetime) {
                            return Err(invalid());
                        }
                        None
                    }
                    Err(_) => return Err(invalid()),
                }
            }
        })
    }

    /// A client value as stored in the row's document (`None`: no value). A multiple
    /// field takes a list (or one value) and keeps its non-empty values.
    pub fn internalize(&self, v: &Value, tz: FixedOffset) -> Result<Option<Value>, InvalidValue> {
        if self.multiple {
            let values: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                Value::Object(o) => o.values().collect(),
                other => vec![other],
            };
            let mut out = Vec::new();
            for one in values {
                if let Some(s) = self.scalar(one, tz)? {
                    out.push(stored_json(&s));
                }
            }
            return Ok((!out.is_empty()).then_some(Value::Array(out)));
        }
        let one = match v {
            Value::Array(a) => a.first().unwrap_or(&Value::Null),
            Value::Object(o) => o.values().next().unwrap_or(&Value::Null),
            other => other,
        };
        Ok(self.scalar(one, tz)?.map(|s| stored_json(&s)))
    }

    /// The value a new entity gets when the client gives none: the list's defaults of
    /// an enumeration, `SETTINGS.DEFAULT_VALUE` of the scalar types.
    pub fn default_value(&self, tz: FixedOffset) -> Option<Value> {
        if self.user_type == UfType::Enumeration {
            let ids: Vec<Value> = self
                .items
                .iter()
                .filter(|i| i.def)
                .map(|i| json!(i.id))
                .collect();
            return match (self.multiple, ids.first()) {
                (_, None) => None,
                (true, _) => Some(Value::Array(ids)),
                (false, Some(first)) => Some(first.clone()),
            };
        }
        let given = self.settings.get("DEFAULT_VALUE")?;
        if matches!(self.user_type, UfType::Date | UfType::Datetime) {
            return None;
        }
        if self.user_type == UfType::Boolean {
            // A boolean is never empty: its default is stored, 0 included.
            let on = yes(Some(given)).unwrap_or(false) || php_int(given) != 0;
            let v = json!(i64::from(on));
            return Some(if self.multiple { json!([v]) } else { v });
        }
        self.internalize(given, tz).ok().flatten()
    }

    /// A stored value in the classic methods' format: text for every scalar (dates with
    /// the server's offset, booleans `"1"`/`"0"`), a list for a multiple field, `null`
    /// (or `[]`) when empty.
    pub fn externalize(&self, stored: Option<&Value>, tz: FixedOffset) -> Value {
        self.output(stored, |v| self.classic_scalar(v, tz))
    }

    /// A stored value in the universal API's types: numbers for integers, amounts, ids
    /// and list values, `true`/`false` for booleans, the classic text for the rest.
    pub fn item_value(&self, stored: Option<&Value>, tz: FixedOffset) -> Value {
        self.output(stored, |v| match (self.user_type, v) {
            (UfType::Boolean, v) => json!(v.as_i64().unwrap_or(0) != 0),
            (
                UfType::Integer | UfType::Double | UfType::Enumeration | UfType::Employee,
                Value::Number(n),
            ) => Value::Number(n.clone()),
            _ => self.classic_scalar(v, tz),
        })
    }

    fn output(&self, stored: Option<&Value>, scalar: impl Fn(&Value) -> Value) -> Value {
        match (self.multiple, stored) {
            (true, Some(Value::Array(a))) => Value::Array(a.iter().map(&scalar).collect()),
            (true, Some(v)) if !v.is_null() => Value::Array(vec![scalar(v)]),
            (true, _) => Value::Array(Vec::new()),
            (false, Some(Value::Array(a))) => a.first().map_or(Value::Null, &scalar),
            (false, Some(v)) if !v.is_null() => scalar(v),
            (false, _) => Value::Null,
        }
    }

    fn classic_scalar(&self, v: &Value, tz: FixedOffset) -> Value {
        match (self.user_type, v) {
            (UfType::Datetime, Value::Number(n)) => {
                json!(format_datetime(n.as_i64().unwrap_or(0), tz))
            }
            (UfType::Date, Value::String(d)) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(d) => json!(
                    Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
                        .with_timezone(&tz)
                        .format("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string()
                ),
                Err(_) => json!(d),
            },
            (UfType::Double, Value::Number(n)) => json!(php_float(n.as_f64().unwrap_or(0.0))),
            (_, Value::Number(n)) => json!(n.to_string()),
            (_, Value::String(s)) => json!(s),
            (_, other) => other.clone(),
        }
    }

    /// A filter value compared with the stored values (`None`: not comparable, the
    /// condition is dropped).
    pub fn filter_value(&self, v: &Value, tz: FixedOffset) -> Option<Stored> {
        match self.user_type {
            UfType::Boolean => Some(Stored::Int(i64::from(
                yes(Some(v)).unwrap_or(false) || php_int(v) != 0,
            ))),
            UfType::Enumeration | UfType::Employee | UfType::Integer => match v {
                Value::String(s) if s.trim().is_empty() => Some(Stored::Null),
                Value::Null => Some(Stored::Null),
                _ => Some(Stored::Int(php_int(v))),
            },
            UfType::String | UfType::Url | UfType::Crm => php_string(v).map(Stored::Text),
            _ => match self.scalar(v, tz) {
                Ok(Some(s)) => Some(s),
                Ok(None) => Some(Stored::Null),
                Err(_) => None,
            },
        }
    }
}

/// PHP's text of a float: no fraction when whole (`12`), else the shortest form.
fn php_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// A stored scalar as a JSON value of the row's document.
pub fn stored_json(s: &Stored) -> Value {
    match s {
        Stored::Null => Value::Null,
        Stored::Int(i) => json!(i),
        Stored::Real(f) => json!(f),
        Stored::Text(t) => json!(t),
    }
}

/// Interns a user field's descriptor under its name: equal descriptors share one
/// `&'static` value, so reloading definitions on every call allocates nothing new.
fn intern(name: &str, mut def: FieldDef) -> &'static FieldDef {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    static DEFS: OnceLock<Mutex<HashSet<&'static FieldDef>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let defs = DEFS.get_or_init(Default::default);
    {
        let mut names = names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        def.name = match names.get(name) {
            Some(n) => n,
            None => {
                let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
                names.insert(leaked);
                leaked
            }
        };
        def.title = def.name;
    }
    let mut defs = defs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(d) = defs.get(&def) {
        return d;
    }
    let leaked: &'static FieldDef = Box::leak(Box::new(def));
    defs.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    fn field(ty: &str, extra: Value) -> UserField {
        let mut fields = json!({"FIELD_NAME": "x1", "USER_TYPE_ID": ty});
        if let (Value::Object(f), Value::Object(e)) = (&mut fields, extra) {
            f.extend(e);
        }
        UserField::from_add("CRM_LEAD".into(), fields.as_object().unwrap()).unwrap()
    }

    #[test]
    fn names_get_the_prefix_and_bad_ones_are_refused() {
        let f = field("string", json!({}));
        assert_eq!(f.field_name, "UF_CRM_X1");
        let refuse = |fields: Value| {
            UserField::from_add("CRM_LEAD".into(), fields.as_object().unwrap())
                .unwrap_err()
                .0
        };
        assert_eq!(
            refuse(json!({"FIELD_NAME": "A"})),
            "The 'USER_TYPE_ID' field is not specified."
        );
        assert_eq!(
            refuse(json!({"USER_TYPE_ID": "string"})),
            "The 'FIELD_NAME' field is not specified."
        );
        assert!(refuse(json!({"FIELD_NAME": "a-b", "USER_TYPE_ID": "string"})).contains("Latin"));
        assert!(
            refuse(json!({"FIELD_NAME": "ABCDEFGHIJKLMN", "USER_TYPE_ID": "string"}))
                .contains("longer than 20")
        );
        assert!(refuse(json!({"FIELD_NAME": "A", "USER_TYPE_ID": "file"})).contains("'file'"));
    }

    #[test]
    fn values_convert_by_type_both_ways() {
        let tz = utc();
        let cases = [
            ("string", json!("abc"), json!("abc"), json!("abc")),
            ("integer", json!("42"), json!("42"), json!(42)),
            ("double", json!("2.5"), json!("2.5"), json!(2.5)),
            ("boolean", json!("Y"), json!("1"), json!(true)),
            ("boolean", json!(false), json!("0"), json!(false)),
            (
                "date",
                json!("2024-05-01"),
                json!("2024-05-01T00:00:00+00:00"),
                json!("2024-05-01T00:00:00+00:00"),
            ),
            (
                "datetime",
                json!("2024-05-01T10:00:00+02:00"),
                json!("2024-05-01T08:00:00+00:00"),
                json!("2024-05-01T08:00:00+00:00"),
            ),
            (
                "url",
                json!("https://x.test"),
                json!("https://x.test"),
                json!("https://x.test"),
            ),
            (
                "money",
                json!("10.5|EUR"),
                json!("10.50|EUR"),
                json!("10.50|EUR"),
            ),
            ("employee", json!(3), json!("3"), json!(3)),
            ("crm", json!("C_5"), json!("C_5"), json!("C_5")),
        ];
        for (ty, input, classic, item) in cases {
            let f = field(ty, json!({}));
            let stored = f.internalize(&input, tz).unwrap();
            assert_eq!(f.externalize(stored.as_ref(), tz), classic, "{ty}");
            assert_eq!(f.item_value(stored.as_ref(), tz), item, "{ty}");
        }
    }

    #[test]
    fn lists_take_ids_defaults_and_edits() {
        let mut f = field(
            "enumeration",
            json!({"LIST": [{"VALUE": "a", "DEF": "Y"}, {"VALUE": "b", "SORT": 10}, {"VALUE": ""}]}),
        );
        assert_eq!(f.items.len(), 2);
        assert_eq!(f.items[0].value, "b", "sorted by SORT");
        f.items[0].id = 7;
        f.items[1].id = 8;
        assert_eq!(f.default_value(utc()), Some(json!(8)));
        assert_eq!(f.internalize(&json!("7"), utc()), Ok(Some(json!(7))));
        assert!(f.internalize(&json!("9"), utc()).is_err());
        f.apply(
            json!({"LIST": [{"ID": 7, "DEL": "Y"}, {"ID": 8, "VALUE": "B"}, {"VALUE": "c"}]})
                .as_object()
                .unwrap(),
        );
        let values: Vec<&str> = f.items.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(values, ["B", "c"]);
    }

    #[test]
    fn multiple_values_are_lists() {
        let f = field("integer", json!({"MULTIPLE": "Y"}));
        let stored = f.internalize(&json!(["1", "", 2]), utc()).unwrap();
        assert_eq!(stored, Some(json!([1, 2])));
        assert_eq!(f.externalize(stored.as_ref(), utc()), json!(["1", "2"]));
        assert_eq!(f.externalize(None, utc()), json!([]));
    }

    #[test]
    fn config_fields_carry_the_owner_prefix() {
        let field = classic_keys(
            json!({"fieldName": "UF_CRM_7_SIZE_OF_THE_ORDER_IN_BOXES", "userTypeId": "integer",
                   "editFormLabel": {"en": "Size"}, "enum": [{"value": "x", "xmlId": "a"}]})
            .as_object()
            .unwrap(),
        );
        assert_eq!(field["EDIT_FORM_LABEL"], json!({"en": "Size"}));
        assert_eq!(field["LIST"][0]["XML_ID"], "a");
        let f = UserField::from_config("CRM_7".into(), &field).unwrap();
        assert_eq!(f.field_name, "UF_CRM_7_SIZE_OF_THE_ORDER_IN_BOXES");
        let wrong = json!({"FIELD_NAME": "UF_CRM_8_X", "USER_TYPE_ID": "string"});
        assert!(
            UserField::from_config("CRM_7".into(), wrong.as_object().unwrap())
                .unwrap_err()
                .0
                .contains("must start with UF_CRM_7_")
        );
        assert_eq!(parse_type_owner("CRM_7"), Some(7));
        assert_eq!(parse_type_owner("CRM_LEAD"), None);
    }

    #[test]
    fn descriptors_are_interned() {
        let a = field("string", json!({})).field_def();
        let b = field("string", json!({})).field_def();
        assert!(std::ptr::eq(a, b));
        assert_eq!(a.name, "UF_CRM_X1");
        assert_eq!(a.storage, Storage::User);
    }
}
