//! Field descriptors and values: how a field is described by `*.fields`, how a client's
//! input becomes a stored value ("internalize") and how a stored value is written back
//! in the portal's formats ("externalize": every scalar a string, dates with an offset).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

/// The declared type of a field, as `*.fields` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Integer id or number.
    Integer,
    /// Decimal amount (stored as a float, written with two decimals).
    Double,
    /// Free text.
    String,
    /// One-character flag, `Y`/`N`.
    Char,
    /// Calendar date.
    Date,
    /// Instant with second precision.
    DateTime,
    /// User id.
    User,
    /// Code from a reference list (`crm.status.list` entity given by `status_type`).
    CrmStatus,
    /// Currency code.
    CrmCurrency,
    /// Company id.
    CrmCompany,
    /// Contact id.
    CrmContact,
    /// Deal category (pipeline) id.
    CrmCategory,
    /// Quote id.
    CrmQuote,
    /// Location id.
    Location,
    /// The `EXTRA` object of a stage (`crm.status.fields`).
    StatusExtra,
    /// Lead id.
    CrmLead,
    /// Multi-value communication field (PHONE, EMAIL, …).
    CrmMultifield,
    /// File.
    File,
    /// User field: yes/no (stored 1/0).
    Boolean,
    /// User field: an id of the field's list.
    Enumeration,
    /// User field: a link.
    Url,
    /// User field: `amount|CUR`.
    Money,
    /// User field: a user id.
    Employee,
    /// User field: a CRM entity (`C_12`).
    Crm,
}

impl FieldType {
    /// The wire name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Double => "double",
            Self::String => "string",
            Self::Char => "char",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::User => "user",
            Self::CrmStatus => "crm_status",
            Self::CrmCurrency => "crm_currency",
            Self::CrmCompany => "crm_company",
            Self::CrmContact => "crm_contact",
            Self::CrmCategory => "crm_category",
            Self::CrmQuote => "crm_quote",
            Self::Location => "location",
            Self::StatusExtra => "crm_status_extra",
            Self::CrmLead => "crm_lead",
            Self::CrmMultifield => "crm_multifield",
            Self::File => "file",
            Self::Boolean => "boolean",
            Self::Enumeration => "enumeration",
            Self::Url => "url",
            Self::Money => "money",
            Self::Employee => "employee",
            Self::Crm => "crm",
        }
    }

    /// Whether values of this type are integers on disk.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Self::Integer
                | Self::User
                | Self::CrmCompany
                | Self::CrmContact
                | Self::CrmLead
                | Self::CrmCategory
                | Self::CrmQuote
                | Self::Boolean
                | Self::Enumeration
                | Self::Employee
        )
    }
}

/// Where a field's value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Storage {
    /// A column of the entity's table, named like the field.
    Column,
    /// Rows of the multi-field table.
    Multi,
    /// Accepted on write and handled by code (e.g. `CONTACT_IDS`), never stored or returned.
    WriteOnly,
    /// Described but not stored yet (e.g. `PHOTO`).
    Unsupported,
    /// A user field: a value of the row's user-field document, converted by its
    /// definition (`crate::userfield`).
    User,
}

/// One field of an entity, as `*.fields` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldDef {
    /// Field name (`TITLE`).
    pub name: &'static str,
    /// Declared type.
    pub ty: FieldType,
    /// `isRequired`.
    pub required: bool,
    /// `isReadOnly`: silently ignored on write.
    pub read_only: bool,
    /// `isImmutable`: written on add, ignored on update.
    pub immutable: bool,
    /// Returned by `*.get`/`*.list` but not listed by `*.fields` (a contact's `FACE_ID`).
    pub hidden: bool,
    /// `isMultiple`.
    pub multiple: bool,
    /// `isDeprecated` (emitted only when true).
    pub deprecated: bool,
    /// `statusType` for `crm_status` fields.
    pub status_type: Option<&'static str>,
    /// `settings.parentEntityTypeId` where the portal sets it.
    pub parent_entity_type: Option<i64>,
    /// English caption.
    pub title: &'static str,
    /// Where the value lives.
    pub storage: Storage,
}

impl FieldDef {
    /// A writable, single-valued, stored field.
    pub const fn new(name: &'static str, ty: FieldType, title: &'static str) -> Self {
        Self {
            name,
            ty,
            required: false,
            read_only: false,
            immutable: false,
            hidden: false,
            multiple: false,
            deprecated: false,
            status_type: None,
            parent_entity_type: None,
            title,
            storage: if matches!(ty, FieldType::CrmMultifield) {
                Storage::Multi
            } else if matches!(ty, FieldType::File) {
                Storage::Unsupported
            } else {
                Storage::Column
            },
        }
    }
    /// Marks the field read-only.
    pub const fn ro(mut self) -> Self {
        self.read_only = true;
        self
    }
    /// Marks the field immutable (set on add only).
    pub const fn immutable(mut self) -> Self {
        self.immutable = true;
        self
    }
    /// Leaves the field out of `*.fields` (it is still returned).
    pub const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }
    /// Marks the field required.
    pub const fn req(mut self) -> Self {
        self.required = true;
        self
    }
    /// Marks the field multiple.
    pub const fn multi(mut self) -> Self {
        self.multiple = true;
        self
    }
    /// Marks the field deprecated.
    pub const fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
    /// Sets the reference list of a `crm_status` field.
    pub const fn status(mut self, status_type: &'static str) -> Self {
        self.status_type = Some(status_type);
        self
    }
    /// Sets `settings.parentEntityTypeId`.
    pub const fn parent(mut self, entity_type_id: i64) -> Self {
        self.parent_entity_type = Some(entity_type_id);
        self
    }
    /// Marks the field write-only (handled by code, never stored as a column).
    pub const fn write_only(mut self) -> Self {
        self.storage = Storage::WriteOnly;
        self
    }

    /// The descriptor object of `*.fields`, keys in the portal's order.
    pub fn describe(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(self.ty.as_str()));
        m.insert("isRequired".into(), json!(self.required));
        m.insert("isReadOnly".into(), json!(self.read_only));
        m.insert("isImmutable".into(), json!(self.immutable));
        m.insert("isMultiple".into(), json!(self.multiple));
        m.insert("isDynamic".into(), json!(false));
        if self.deprecated {
            m.insert("isDeprecated".into(), json!(true));
        }
        if let Some(st) = self.status_type {
            m.insert("statusType".into(), json!(st));
        }
        m.insert("title".into(), json!(self.title));
        // A real portal's capture puts `settings` after `title`.
        if let Some(p) = self.parent_entity_type {
            m.insert("settings".into(), json!({ "parentEntityTypeId": p }));
        }
        Value::Object(m)
    }
}

/// A value as the storage layer keeps it.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// SQL NULL.
    Null,
    /// Integers, ids and datetimes (unix seconds, UTC).
    Int(i64),
    /// Amounts.
    Real(f64),
    /// Text, flags and dates (`YYYY-MM-DD`).
    Text(String),
}

/// Why a client value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// PHP's `(int)` cast of a JSON value: leading integer prefix of a string, truncation of
/// floats, `true` → 1, anything else 0.
pub fn php_int(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Value::String(s) => php_int_str(s),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

/// A decimal number as clients write amounts: blanks ignored, `,` as the decimal point.
/// Numbers past the range of a double are infinite (stored values refuse them; a filter
/// bound may be one).
pub fn parse_decimal(s: &str) -> Option<f64> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let t = t.replace(',', ".");
    is_decimal(&t).then(|| t.parse::<f64>().ok()).flatten()
}

/// PHP's `(int)` cast of a string: optional whitespace and sign, then digits.
pub fn php_int_str(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    // Accumulated towards the sign, so that both ends of the range are reachable
    // (saturating there, as PHP does).
    let mut n: i64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            break;
        }
        let d = i64::from(b - b'0');
        n = n.saturating_mul(10);
        n = if neg {
            n.saturating_sub(d)
        } else {
            n.saturating_add(d)
        };
    }
    n
}

/// `createdTime` → `CREATED_TIME`: a camelCase name in the classic upper-case form.
pub fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A scalar JSON value as text (numbers in their JSON form, `true` → "1", `false` → "").
pub fn php_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("1".into()),
        Value::Bool(false) => Some(String::new()),
        _ => None,
    }
}

/// Parses a client date/time the way the portal's `strtotime` usually does for the forms
/// clients send: ISO-8601 with or without offset (`T` or space), `YYYY-MM-DD`,
/// `DD.MM.YYYY[ hh:mm[:ss]]`. A value without an offset is read in `tz`.
pub fn parse_datetime(s: &str, tz: FixedOffset) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%:z",
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M:%S%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt);
        }
    }
    const NAIVE: [&str; 6] = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
    ];
    for fmt in NAIVE {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return tz.from_local_datetime(&n).single();
        }
    }
    let date = parse_date(s)?;
    tz.from_local_datetime(&date.and_time(NaiveTime::MIN))
        .single()
}

/// Parses a calendar date: `YYYY-MM-DD`, `DD.MM.YYYY`, or the date part of a datetime.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    let head = s.get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

/// Formats an instant the portal's way: `YYYY-MM-DDThh:mm:ss±hh:mm`.
pub fn format_datetime(unix: i64, tz: FixedOffset) -> String {
    let utc = Utc.timestamp_opt(unix, 0).single().unwrap_or_default();
    utc.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Result of converting one client value.
#[derive(Debug, Clone, PartialEq)]
pub enum Internalized {
    /// Store this value.
    Set(Stored),
    /// The value is not understood and is dropped, as the portal does (e.g. bad dates).
    Drop,
}

impl FieldDef {
    /// Converts a client value for this field into its stored form.
    pub fn internalize(&self, v: &Value, tz: FixedOffset) -> Result<Internalized, InvalidValue> {
        use Internalized::{Drop, Set};
        if v.is_null() {
            return Ok(Set(Stored::Null));
        }
        Ok(match self.ty {
            t if t.is_integer() => match v {
                Value::String(s) if s.trim().is_empty() => Set(Stored::Null),
                Value::Array(_) | Value::Object(_) => Drop,
                _ => Set(Stored::Int(php_int(v))),
            },
            FieldType::Double => match v {
                Value::Number(n) => Set(Stored::Real(n.as_f64().unwrap_or(0.0))),
                Value::String(s) => {
                    if s.trim().is_empty() {
                        Set(Stored::Real(0.0))
                    } else if let Some(f) = parse_decimal(s).filter(|f| f.is_finite()) {
                        Set(Stored::Real(f))
                    } else {
                        return Err(InvalidValue(format!(
                            "Field \"{}\" has an invalid value.",
                            self.name
                        )));
                    }
                }
                Value::Bool(b) => Set(Stored::Real(f64::from(u8::from(*b)))),
                _ => Drop,
            },
            FieldType::Char => match v {
                Value::Bool(b) => Set(Stored::Text(if *b { "Y" } else { "N" }.into())),
                _ => match php_string(v) {
                    Some(s) if s.eq_ignore_ascii_case("y") || s == "1" => {
                        Set(Stored::Text("Y".into()))
                    }
                    Some(_) => Set(Stored::Text("N".into())),
                    None => Drop,
                },
            },
            FieldType::Date => match php_string(v) {
                Some(s) if s.trim().is_empty() => Set(Stored::Null),
                Some(s) => match parse_date(&s) {
                    Some(d) => Set(Stored::Text(d.format("%Y-%m-%d").to_string())),
                    None => Drop,
                },
                None => Drop,
            },
            FieldType::DateTime => match php_string(v) {
                Some(s) if s.trim().is_empty() => Set(Stored::Null),
                Some(s) => match parse_datetime(&s, tz) {
                    Some(dt) => Set(Stored::Int(dt.timestamp())),
                    None => Drop,
                },
                None => Drop,
            },
            FieldType::CrmMultifield | FieldType::File => Drop,
            _ => match php_string(v) {
                Some(s) => Set(Stored::Text(s)),
                None => Drop,
            },
        })
    }

    /// Writes a stored value in the portal's output format.
    pub fn externalize(&self, v: &Stored, tz: FixedOffset) -> Value {
        match (self.ty, v) {
            (FieldType::Date | FieldType::DateTime, Stored::Null) => json!(""),
            (_, Stored::Null) => Value::Null,
            (FieldType::DateTime, Stored::Int(t)) => json!(format_datetime(*t, tz)),
            // A date is midnight UTC shown in the server's offset, as a portal shows it
            // (`2001-11-11T02:00:00+02:00` at +02:00).
            (FieldType::Date, Stored::Text(d)) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(d) => json!(
                    Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
                        .with_timezone(&tz)
                        .format("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string()
                ),
                Err(_) => json!(""),
            },
            (FieldType::Double, Stored::Real(f)) => json!(format!("{f:.2}")),
            (_, Stored::Int(i)) => json!(i.to_string()),
            (_, Stored::Real(f)) => json!(f.to_string()),
            (_, Stored::Text(s)) => json!(s),
        }
    }
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn php_int_casts_like_php() {
        let cases = [
            (json!("12abc"), 12),
            (json!("abc"), 0),
            (json!(12.7), 12),
            (json!(true), 1),
            (json!(" -5"), -5),
            (json!(null), 0),
            (json!([1]), 0),
            (json!("9223372036854775807"), i64::MAX),
            (json!("99999999999999999999"), i64::MAX),
            (json!("-9223372036854775808"), i64::MIN),
            (json!("-99999999999999999999"), i64::MIN),
        ];
        for (v, want) in cases {
            assert_eq!(php_int(&v), want, "{v}");
        }
    }

    #[test]
    fn datetimes_parse_in_the_accepted_forms() {
        let plus3 = FixedOffset::east_opt(3 * 3600).unwrap();
        let cases = [
            ("2024-05-01T10:00:00+03:00", "2024-05-01T07:00:00+00:00"),
            ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00+00:00"),
            ("2024-05-01 10:00:00", "2024-05-01T07:00:00+00:00"),
            ("2024-05-01", "2024-04-30T21:00:00+00:00"),
            ("11.11.2001", "2001-11-10T21:00:00+00:00"),
        ];
        for (input, want) in cases {
            let dt = parse_datetime(input, plus3).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(format_datetime(dt.timestamp(), utc()), want, "{input}");
        }
        assert!(parse_datetime("yesterday-ish", plus3).is_none());
    }

    #[test]
    fn externalized_values_follow_portal_formats() {
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        let amount = FieldDef::new("OPPORTUNITY", FieldType::Double, "Amount");
        assert_eq!(
            amount.externalize(&Stored::Real(12500.0), tz),
            json!("12500.00")
        );
        let born = FieldDef::new("BIRTHDATE", FieldType::Date, "Birthdate");
        assert_eq!(
            born.externalize(&Stored::Text("2001-11-11".into()), tz),
            json!("2001-11-11T02:00:00+02:00")
        );
        // What a client sends back reads as the same date.
        let back = born.internalize(&json!("2001-11-11T02:00:00+02:00"), tz);
        assert_eq!(
            back,
            Ok(Internalized::Set(Stored::Text("2001-11-11".into())))
        );
        assert_eq!(born.externalize(&Stored::Null, tz), json!(""));
        let id = FieldDef::new("ID", FieldType::Integer, "ID");
        assert_eq!(id.externalize(&Stored::Int(5), tz), json!("5"));
        assert_eq!(id.externalize(&Stored::Null, tz), Value::Null);
    }

    #[test]
    fn amounts_accept_commas_and_reject_garbage() {
        let f = FieldDef::new("OPPORTUNITY", FieldType::Double, "Amount");
        assert_eq!(
            f.internalize(&json!("1 500,50"), utc()),
            Ok(Internalized::Set(Stored::Real(1500.5)))
        );
        assert_eq!(
            f.internalize(&json!("12abc"), utc()),
            Err(InvalidValue(
                "Field \"OPPORTUNITY\" has an invalid value.".into()
            ))
        );
        // A number too large for a double is refused, not stored as infinity.
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(
            f.internalize(&json!(huge), utc()),
            Err(InvalidValue(
                "Field \"OPPORTUNITY\" has an invalid value.".into()
            ))
        );
    }
}
