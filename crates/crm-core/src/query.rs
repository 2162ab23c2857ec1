//! List queries: the Bitrix `filter`/`order`/`select`/`start` grammar parsed into a small
//! AST whose columns come only from the entity's field table (a whitelist). Stores turn
//! the AST into SQL with bound values.

use crate::entity::MULTIFIELD_TYPES;
use crate::field::{FieldDef, FieldType, Internalized, Storage, Stored, parse_decimal, php_string};
use crate::permission::Reach;
use crate::reference::LEAD_STAGES;
use crate::schema::Schema;
use chrono::FixedOffset;
use serde_json::{Map, Value};

/// Rows per page of every list method.
pub const PAGE_SIZE: i64 = 50;

/// Most conditions (distinct keys) one filter may hold; a list of values is one condition
/// whatever its length. Planning a query costs more than linear time in its number of
/// conditions (about 0.3 s for 3,000 in SQLite), so the bound keeps one request cheap;
/// real filters have a handful.
pub const MAX_CONDITIONS: usize = 1_000;

/// Longest LIKE pattern (in bytes) a filter value may become (SQLite refuses longer ones;
/// no real filter comes near it).
pub const MAX_PATTERN_BYTES: usize = 50_000;

/// A filter the store could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// More than [`MAX_CONDITIONS`] conditions (distinct keys).
    #[error("The filter has more than {MAX_CONDITIONS} conditions.")]
    TooManyConditions,
    /// A substring or multi-field value longer than [`MAX_PATTERN_BYTES`].
    #[error("The filter value of {0} is longer than 50000 bytes.")]
    ValueTooLong(&'static str),
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=` (also: equal to NULL or 0/"" for an empty value).
    Eq,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// SQL LIKE with the given pattern.
    Like,
}

/// One filter condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A column compared with one or more values (several values: OR; negated: none).
    Field {
        /// The column (a field of the entity's table).
        field: &'static FieldDef,
        /// Comparison.
        op: Op,
        /// Values (OR-ed).
        values: Vec<Stored>,
        /// `!` prefix.
        negate: bool,
    },
    /// Rows with a multi-field value of a type that starts with `prefix`, ignoring case
    /// (`_` in it matches any one character, as in the portal's `LIKE 'prefix%'`).
    Multi {
        /// `PHONE`, `EMAIL`, `WEB` or `IM`.
        type_id: &'static str,
        /// The value the stored one starts with (trimmed, `%` removed).
        prefix: String,
    },
    /// Rows with a PHONE or EMAIL value of the given match code
    /// ([`crate::comm::match_code`]): the duplicate search.
    Comm {
        /// `PHONE` or `EMAIL`.
        type_id: &'static str,
        /// The match code.
        code: String,
    },
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// A list request, ready for a store.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Conditions, AND-ed.
    pub filter: Vec<Condition>,
    /// Sort keys (ID ascending is always appended as the tie-breaker).
    pub order: Vec<(&'static FieldDef, Dir)>,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
    /// Whether to count all matches.
    pub count: bool,
    /// Whether to load multi-field values.
    pub with_multi: bool,
    /// The rows the caller may read: the page and the total count only these.
    pub visible: Reach,
}

impl ListQuery {
    /// A query that only counts the rows matching `filter` (one row at most is read).
    pub fn counting(filter: Vec<Condition>) -> Self {
        Self {
            filter,
            order: Vec::new(),
            offset: 0,
            limit: 1,
            count: true,
            with_multi: false,
            visible: Reach::Everything,
        }
    }
}

/// Stage order of `crm_status` fields that sort by pipeline position.
pub fn stage_order(field: &FieldDef) -> Option<&'static [(&'static str, &'static str)]> {
    (field.name == "STATUS_ID" && field.status_type == Some("STATUS")).then_some(&LEAD_STAGES[..])
}

fn split_prefix(key: &str) -> (bool, &str, &str) {
    let (negate, rest) = match key.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, key),
    };
    let rest = rest.strip_prefix('+').unwrap_or(rest);
    for op in [">=", "<=", "=%", "%=", "!=", ">", "<", "@", "%", "="] {
        if let Some(name) = rest.strip_prefix(op) {
            let negate = negate || op == "!=";
            return (negate, op, name);
        }
    }
    (negate, "", rest)
}

fn values_of(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        other => vec![other],
    }
}

/// Converts a filter value for comparison with `field`; `None` for values that cannot be
/// compared (dropped, like unparseable input).
fn filter_value(field: &FieldDef, v: &Value, tz: FixedOffset) -> Option<Stored> {
    if matches!(
        field.ty,
        FieldType::Char | FieldType::String | FieldType::CrmStatus | FieldType::CrmCurrency
    ) {
        return php_string(v).map(Stored::Text);
    }
    if field.ty == FieldType::Double
        && let Value::String(s) = v
    {
        // A bound past the range of a double is an infinite one: `>1e400` matches nothing.
        return parse_decimal(s).map(Stored::Real);
    }
    match field.internalize(v, tz) {
        Ok(Internalized::Set(s)) => Some(s),
        _ => None,
    }
}

/// Parses `filter` into conditions; unknown keys are dropped silently.
pub fn parse_filter(
    schema: &Schema,
    filter: &Map<String, Value>,
    tz: FixedOffset,
) -> Result<Vec<Condition>, FilterError> {
    if filter.len() > MAX_CONDITIONS {
        return Err(FilterError::TooManyConditions);
    }
    let mut out = Vec::new();
    for (key, value) in filter {
        let (negate, op, name) = split_prefix(key.trim());
        if let Some(type_id) = MULTIFIELD_TYPES
            .iter()
            .find(|t| **t == name && **t != "LINK")
        {
            let first = values_of(value)
                .into_iter()
                .next()
                .and_then(php_string)
                .unwrap_or_default();
            // As on a portal: only the bare key filters (a prefixed one is dropped); the
            // first value, trimmed; empty is no filter; a `%` in it is removed, and what
            // is left is a prefix.
            let value = first.trim();
            if value.len() > MAX_PATTERN_BYTES {
                return Err(FilterError::ValueTooLong(type_id));
            }
            if op.is_empty() && !negate && !value.is_empty() {
                let prefix = value.replace('%', "");
                out.push(Condition::Multi { type_id, prefix });
            }
            continue;
        }
        let Some(field) = schema.queryable(name) else {
            continue;
        };
        let user = schema.user_field(field.name);
        let likeable = matches!(
            field.ty,
            FieldType::String
                | FieldType::Char
                | FieldType::CrmCurrency
                | FieldType::Url
                | FieldType::Money
                | FieldType::Crm
        );
        let (op, in_list) = match op {
            "" | "=" | "!=" => (Op::Eq, false),
            "@" => (Op::Eq, true),
            ">" => (Op::Gt, false),
            ">=" => (Op::Ge, false),
            "<" => (Op::Lt, false),
            "<=" => (Op::Le, false),
            "%" | "=%" | "%=" if likeable => (Op::Like, false),
            _ => (Op::Eq, false),
        };
        let raw = values_of(value);
        if in_list && raw.is_empty() {
            continue;
        }
        let mut values: Vec<Stored> = Vec::new();
        for v in raw {
            let converted = if op == Op::Like {
                php_string(v).map(|s| {
                    if key.trim_start_matches(['!', '+']).starts_with('%') && !key.contains("%=") {
                        Stored::Text(format!("%{s}%"))
                    } else {
                        Stored::Text(s)
                    }
                })
            } else if let Some(user) = user {
                user.filter_value(v, tz)
            } else {
                filter_value(field, v, tz)
            };
            if let Some(c) = converted {
                if op == Op::Like && matches!(&c, Stored::Text(t) if t.len() > MAX_PATTERN_BYTES) {
                    return Err(FilterError::ValueTooLong(field.name));
                }
                values.push(c);
            }
        }
        if values.is_empty() {
            continue;
        }
        out.push(Condition::Field {
            field,
            op,
            values,
            negate,
        });
    }
    Ok(out)
}

/// Parses `order`: field → "ASC"/"DESC" (anything else ASC); unknown fields dropped, and
/// a field named again (`" TITLE"` after `"TITLE"`) adds nothing, as a repeated sort key
/// cannot change the order.
pub fn parse_order(schema: &Schema, order: &Map<String, Value>) -> Vec<(&'static FieldDef, Dir)> {
    let mut out: Vec<(&'static FieldDef, Dir)> = Vec::new();
    for (k, v) in order {
        // A list of values has no order.
        let Some(field) = schema.queryable(k.trim()).filter(|f| !f.multiple) else {
            continue;
        };
        if out.iter().any(|(f, _)| f.name == field.name) {
            continue;
        }
        let dir = match php_string(v) {
            Some(s) if s.trim().eq_ignore_ascii_case("desc") => Dir::Desc,
            _ => Dir::Asc,
        };
        out.push((field, dir));
    }
    out
}

/// Which fields a list returns: `*`/empty → every standard single-valued field; named
/// multi-fields are added (with ID); `UF_*` adds every user field, and a user field may
/// be named; unknown names are ignored.
pub fn parse_select(schema: &Schema, select: &[String]) -> Vec<&'static FieldDef> {
    let names: Vec<&str> = select.iter().map(|s| s.trim()).collect();
    let all = names.is_empty() || names.contains(&"*");
    let mut out: Vec<&'static FieldDef> = schema
        .fields()
        .filter(|f| match f.storage {
            Storage::Column | Storage::Unsupported => all || names.contains(&f.name),
            Storage::Multi => names.contains(&f.name),
            Storage::User => names.contains(&"UF_*") || names.contains(&f.name),
            Storage::WriteOnly => false,
        })
        .collect();
    if out.iter().any(|f| f.storage == Storage::Multi)
        && !out.iter().any(|f| f.name == "ID")
        && let Some(id) = schema.field("ID")
    {
        out.insert(0, id);
    }
    if out.is_empty() {
        return parse_select(schema, &[]);
    }
    out
}

/// The page addressed by `start`: `(offset, count)`. `start = -1` means "first page, no
/// count"; other values are floored to a multiple of the page size.
pub fn page(start: i64) -> (i64, bool) {
    if start == -1 {
        return (0, false);
    }
    let start = start.max(0);
    ((start / PAGE_SIZE) * PAGE_SIZE, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::EntityType;
    use serde_json::json;

    fn lead() -> Schema {
        Schema::standard(EntityType::Lead)
    }

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn prefixes_parse_in_portal_order() {
        assert_eq!(split_prefix(">=ID"), (false, ">=", "ID"));
        assert_eq!(split_prefix("!@ID"), (true, "@", "ID"));
        assert_eq!(split_prefix("!=TITLE"), (true, "=", "TITLE"));
        assert_eq!(split_prefix("!TITLE"), (true, "", "TITLE"));
        assert_eq!(split_prefix("%TITLE"), (false, "%", "TITLE"));
        assert_eq!(split_prefix("=%TITLE"), (false, "=%", "TITLE"));
        assert_eq!(split_prefix("TITLE"), (false, "", "TITLE"));
    }

    #[test]
    fn filters_drop_unknown_keys_and_type_values() {
        let f = json!({">ID": "5", "NOPE": 1, "LOGIC": "OR", "%TITLE": "ab", "@STATUS_ID": ["NEW", "JUNK"], "PHONE": ["555"]});
        let got = parse_filter(&lead(), f.as_object().unwrap(), utc()).unwrap();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(
            matches!(&got[0], Condition::Field { op: Op::Gt, values, .. } if values == &[Stored::Int(5)])
        );
        assert!(
            matches!(&got[1], Condition::Field { op: Op::Like, values, .. } if values == &[Stored::Text("%ab%".into())])
        );
        assert!(
            matches!(&got[3], Condition::Multi { type_id: "PHONE", prefix } if prefix == "555")
        );
    }

    #[test]
    fn multi_field_filters_are_bare_prefixes_without_percent_signs() {
        let f = json!({"EMAIL": [" a%nn@X.org ", "b@x.org"], "%PHONE": "1", "!WEB": "w", "IM": "  ", "=EMAIL": "e"});
        let got = parse_filter(&lead(), f.as_object().unwrap(), utc()).unwrap();
        assert_eq!(
            got,
            vec![Condition::Multi {
                type_id: "EMAIL",
                prefix: "ann@X.org".into()
            }]
        );
        let f = json!({"PHONE": "%"});
        let got = parse_filter(&lead(), f.as_object().unwrap(), utc()).unwrap();
        assert_eq!(
            got,
            vec![Condition::Multi {
                type_id: "PHONE",
                prefix: String::new()
            }]
        );
    }

    #[test]
    fn long_patterns_are_refused_and_repeated_order_keys_dropped() {
        let long = "a".repeat(MAX_PATTERN_BYTES - 1);
        let f = json!({"%TITLE": long});
        assert_eq!(
            parse_filter(&lead(), f.as_object().unwrap(), utc()),
            Err(FilterError::ValueTooLong("TITLE"))
        );
        let f = json!({"=%TITLE": long});
        assert!(parse_filter(&lead(), f.as_object().unwrap(), utc()).is_ok());
        let f = json!({"EMAIL": "e".repeat(MAX_PATTERN_BYTES + 1)});
        assert_eq!(
            parse_filter(&lead(), f.as_object().unwrap(), utc())
                .unwrap_err()
                .to_string(),
            "The filter value of EMAIL is longer than 50000 bytes."
        );
        let o = json!({"TITLE": "DESC", " TITLE": "ASC", "ID": "ASC", "  ID": "DESC"});
        let got = parse_order(&lead(), o.as_object().unwrap());
        let names: Vec<(&str, Dir)> = got.iter().map(|(f, d)| (f.name, *d)).collect();
        assert_eq!(names, [("TITLE", Dir::Desc), ("ID", Dir::Asc)]);
    }

    #[test]
    fn like_on_status_fields_becomes_equality() {
        let f = json!({"%STATUS_ID": "NEW"});
        let got = parse_filter(&lead(), f.as_object().unwrap(), utc()).unwrap();
        assert!(matches!(&got[0], Condition::Field { op: Op::Eq, .. }));
    }

    #[test]
    fn pages_are_floored_and_minus_one_skips_the_count() {
        assert_eq!(page(0), (0, true));
        assert_eq!(page(10), (0, true));
        assert_eq!(page(50), (50, true));
        assert_eq!(page(236), (200, true));
        assert_eq!(page(-1), (0, false));
        assert_eq!(page(-7), (0, true));
    }

    #[test]
    fn select_star_excludes_multi_fields_and_named_ones_add_id() {
        let all = parse_select(&lead(), &["*".into()]);
        assert!(all.iter().all(|f| f.storage != Storage::Multi));
        let some = parse_select(&lead(), &["TITLE".into(), "PHONE".into(), "X".into()]);
        let names: Vec<&str> = some.iter().map(|f| f.name).collect();
        assert_eq!(names, ["ID", "TITLE", "PHONE"]);
    }
}
