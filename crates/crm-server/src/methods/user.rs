//! The user directory and the company structure: `user.current`, `user.get` (scopes
//! `user`, `user_basic` or `user_brief`, which decide the fields shown) and
//! `department.get` (scope `department`), in a portal's shapes.
//!
//! Users and departments are few (a portal has hundreds or thousands), so these methods
//! filter, sort and page them in memory.

use crate::rpc::{ApiError, Ctx, Registry, Reply};
use chrono::{FixedOffset, TimeZone};
use crm_core::field::{php_int, php_string};
use crm_core::identity::{Department, Scope, User};
use serde_json::{Map, Value, json};
use std::cmp::Ordering;

/// Rows per page of `user.get` and `department.get`.
const PAGE: usize = 50;

/// How much of a user a credential may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// Scope `user`: everything.
    Full,
    /// Scope `user_basic`: no personal data.
    Basic,
    /// Scope `user_brief`: names only (no e-mail).
    Brief,
}

fn view(scopes: &[Scope]) -> View {
    if scopes.contains(&Scope::User) {
        View::Full
    } else if scopes.contains(&Scope::UserBasic) {
        View::Basic
    } else {
        View::Brief
    }
}

/// A date as a portal writes it: midnight of that day in the server's zone, with offset.
fn portal_date(unix: i64, tz: FixedOffset) -> String {
    let Some(at) = tz.timestamp_opt(unix, 0).single() else {
        return String::new();
    };
    at.date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| tz.from_local_datetime(&midnight).single())
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default()
}

/// A user in the portal's key order. Values the directory does not hold are left out,
/// as a portal leaves out empty (NULL) ones.
fn user_object(u: &User, view: View, tz: FixedOffset) -> Value {
    let mut m = Map::new();
    m.insert("ID".into(), json!(u.id.to_string()));
    m.insert("ACTIVE".into(), json!(u.active));
    m.insert("NAME".into(), json!(u.name));
    m.insert("LAST_NAME".into(), json!(u.last_name));
    if view != View::Brief {
        m.insert("EMAIL".into(), json!(u.email));
    }
    m.insert(
        "DATE_REGISTER".into(),
        json!(portal_date(u.registered_at, tz)),
    );
    m.insert("IS_ONLINE".into(), json!("N"));
    m.insert("PERSONAL_GENDER".into(), json!(""));
    if view == View::Full {
        m.insert("PERSONAL_BIRTHDAY".into(), json!(""));
    }
    m.insert("WORK_POSITION".into(), json!(""));
    m.insert("UF_EMPLOYMENT_DATE".into(), json!(""));
    m.insert("UF_DEPARTMENT".into(), json!(u.departments));
    m.insert("USER_TYPE".into(), json!("employee"));
    Value::Object(m)
}

/// `user.current`: the calling user.
pub async fn current(ctx: Ctx, _: serde::de::IgnoredAny) -> Result<Value, ApiError> {
    Ok(user_object(
        &ctx.caller.user,
        view(&ctx.caller.scopes),
        ctx.services.tz,
    ))
}

/// Top-level parameter names upper-cased, as a portal reads `user.get` and
/// `department.get`.
fn upper(params: Map<String, Value>) -> Map<String, Value> {
    params
        .into_iter()
        .map(|(k, v)| (k.to_uppercase(), v))
        .collect()
}

/// The filter of `user.get`/`department.get`: `FILTER` when it is an array (it then
/// replaces the whole query, a portal's compatibility rule), else the top-level keys.
fn filter_of(query: &Map<String, Value>) -> Map<String, Value> {
    match query.get("FILTER") {
        Some(Value::Object(f)) => f.clone(),
        Some(Value::Array(a)) => crate::wire::php_array::from_list(a.clone()),
        _ => query.clone(),
    }
}

/// One condition of a user filter: an optional operator prefix and a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Not,
    Like,
    Gt,
    Ge,
    Lt,
    Le,
}

fn split_op(key: &str) -> (Op, &str) {
    for (prefix, op) in [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Not),
        ("!%", Op::Not),
        ("=%", Op::Like),
        ("%=", Op::Like),
        ("!", Op::Not),
        ("%", Op::Like),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("@", Op::Eq),
    ] {
        if let Some(rest) = key.strip_prefix(prefix) {
            return (op, rest);
        }
    }
    (Op::Eq, key)
}

fn values(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        other => vec![other],
    }
}

/// Whether `u` passes one filter condition; unknown fields pass (a portal drops them).
fn user_matches(u: &User, key: &str, value: &Value, view: View) -> bool {
    let (op, field) = split_op(key.trim());
    let text_test = |have: &str| {
        let wanted: Vec<String> = values(value).into_iter().filter_map(php_string).collect();
        let hit = wanted.iter().any(|w| match op {
            Op::Like | Op::Not if key.contains('%') => {
                have.to_lowercase().contains(&w.to_lowercase())
            }
            _ => have.eq_ignore_ascii_case(w),
        });
        if op == Op::Not { !hit } else { hit }
    };
    match field {
        "ID" => {
            let wanted: Vec<i64> = values(value).into_iter().map(php_int).collect();
            let cmp = |w: &i64| u.id.cmp(w);
            match op {
                Op::Gt => wanted.iter().any(|w| cmp(w) == Ordering::Greater),
                Op::Ge => wanted.iter().any(|w| cmp(w) != Ordering::Less),
                Op::Lt => wanted.iter().any(|w| cmp(w) == Ordering::Less),
                Op::Le => wanted.iter().any(|w| cmp(w) != Ordering::Greater),
                Op::Not => !wanted.contains(&u.id),
                Op::Eq | Op::Like => wanted.contains(&u.id),
            }
        }
        // A portal reads any value PHP holds true but "N" as active (so "false" too).
        "ACTIVE" => {
            let active = php_true(value) && php_string(value).as_deref() != Some("N");
            let hit = u.active == active;
            if op == Op::Not { !hit } else { hit }
        }
        "UF_DEPARTMENT" => {
            let wanted: Vec<i64> = values(value).into_iter().map(php_int).collect();
            let hit = u.departments.iter().any(|d| wanted.contains(d));
            if op == Op::Not { !hit } else { hit }
        }
        "EMAIL" if view != View::Brief => text_test(&u.email),
        "NAME" => text_test(&u.name),
        "LAST_NAME" => text_test(&u.last_name),
        "USER_TYPE" => text_test("employee"),
        _ => true,
    }
}

/// PHP's truthiness of a request value: empty, "0", 0, false and null are false.
fn php_true(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != "0",
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn compare_users(a: &User, b: &User, field: &str) -> Ordering {
    match field {
        "NAME" => a.name.cmp(&b.name),
        "LAST_NAME" => a.last_name.cmp(&b.last_name),
        "EMAIL" => a.email.cmp(&b.email),
        "ACTIVE" => a.active.cmp(&b.active),
        "DATE_REGISTER" => a.registered_at.cmp(&b.registered_at),
        _ => a.id.cmp(&b.id),
    }
    .then(a.id.cmp(&b.id))
}

/// `user.get`: users matching the filter, 50 from the exact offset `start`, sorted by
/// `sort`/`order` when both are given (else by id). No match: `[]` without `total`.
pub async fn get(ctx: Ctx, params: Map<String, Value>) -> Result<Reply, ApiError> {
    let query = upper(params);
    let view = view(&ctx.caller.scopes);
    let filter = filter_of(&query);
    let mut users: Vec<User> = ctx
        .store()
        .users()
        .await?
        .into_iter()
        .filter(|u| filter.iter().all(|(k, v)| user_matches(u, k, v, view)))
        .collect();
    let sort = query.get("SORT").and_then(php_string);
    let order = query.get("ORDER").and_then(php_string);
    if let (Some(field), Some(order)) = (sort, order) {
        let field = field.trim().to_uppercase();
        users.sort_by(|a, b| compare_users(a, b, &field));
        if order.trim().eq_ignore_ascii_case("desc") {
            users.reverse();
        }
    }
    let start = query.get("START").map_or(0, php_int);
    let counted = start != -1;
    let offset = usize::try_from(start.max(0)).unwrap_or(usize::MAX);
    let total = users.len();
    let page: Vec<Value> = users
        .iter()
        .skip(offset)
        .take(PAGE)
        .map(|u| user_object(u, view, ctx.services.tz))
        .collect();
    if page.is_empty() {
        return Ok(Reply {
            result: json!([]),
            next: None,
            total: None,
        });
    }
    let end = offset + page.len();
    Ok(Reply {
        result: Value::Array(page),
        next: (counted && end < total).then(|| i64::try_from(end).unwrap_or(i64::MAX)),
        total: Some(if counted {
            i64::try_from(total).unwrap_or(i64::MAX)
        } else {
            0
        }),
    })
}

/// A department in the portal's key order (`PARENT` and `UF_HEAD` only when set).
fn department_object(d: &Department) -> Value {
    let mut m = Map::new();
    m.insert("ID".into(), json!(d.id.to_string()));
    m.insert("NAME".into(), json!(d.name));
    m.insert("SORT".into(), json!(d.sort));
    if let Some(p) = d.parent {
        m.insert("PARENT".into(), json!(p.to_string()));
    }
    if let Some(h) = d.head {
        m.insert("UF_HEAD".into(), json!(h.to_string()));
    }
    Value::Object(m)
}

/// Departments in tree order (each parent before its children, siblings by sort weight
/// then id), as a portal lists them by default.
fn tree_order(all: &[Department]) -> Vec<Department> {
    fn visit(all: &[Department], parent: Option<i64>, out: &mut Vec<Department>) {
        let mut children: Vec<&Department> = all.iter().filter(|d| d.parent == parent).collect();
        children.sort_by_key(|d| (d.sort, d.id));
        for c in children {
            out.push(c.clone());
            visit(all, Some(c.id), out);
        }
    }
    let mut out = Vec::with_capacity(all.len());
    visit(all, None, &mut out);
    out
}

/// Whether `d` passes one `department.get` filter key (exact, upper-case keys only;
/// other keys pass).
fn department_matches(d: &Department, key: &str, value: &Value) -> bool {
    let ids = || values(value).into_iter().map(php_int).collect::<Vec<i64>>();
    match key {
        "ID" => ids().contains(&d.id),
        "NAME" => php_string(value).is_some_and(|n| n == d.name),
        "SORT" => php_int(value) == d.sort,
        "PARENT" => d.parent.is_some_and(|p| ids().contains(&p)),
        "UF_HEAD" => d.head.is_some_and(|h| ids().contains(&h)),
        _ => true,
    }
}

/// `department.get`: departments matching the filter, a page of 50 (`start` floored to
/// a multiple of 50), `total` always. As on a portal, filter keys are upper case only and
/// the top-level parameters are the filter, so an upper-case `SORT` naming the sort field
/// is also read as a filter on the sort weight (`sort` in lower case is not).
pub async fn department_get(ctx: Ctx, params: Map<String, Value>) -> Result<Reply, ApiError> {
    // The filter is read from the parameters as sent (its keys in upper case only), the
    // sort order and `start` from their upper-cased copy.
    let filter = match params.get("filter") {
        Some(f @ (Value::Object(_) | Value::Array(_))) if !params.contains_key("FILTER") => {
            filter_of(&Map::from_iter([("FILTER".to_string(), f.clone())]))
        }
        _ => filter_of(&params),
    };
    let query = upper(params);
    let all = ctx.store().departments().await?;
    let mut found: Vec<Department> = tree_order(&all)
        .into_iter()
        .filter(|d| filter.iter().all(|(k, v)| department_matches(d, k, v)))
        .collect();
    if let Some(field) = query.get("SORT").and_then(Value::as_str) {
        let field = field.trim().to_uppercase();
        let key = |d: &Department| -> (i64, String) {
            match field.as_str() {
                "ID" => (d.id, String::new()),
                "NAME" => (0, d.name.clone()),
                "SORT" => (d.sort, String::new()),
                "PARENT" => (d.parent.unwrap_or(0), String::new()),
                "UF_HEAD" => (d.head.unwrap_or(0), String::new()),
                _ => (0, String::new()),
            }
        };
        found.sort_by_key(key);
        if query
            .get("ORDER")
            .and_then(php_string)
            .is_some_and(|o| o.trim().eq_ignore_ascii_case("desc"))
        {
            found.reverse();
        }
    }
    let start = query.get("START").map_or(0, php_int).max(0);
    let offset = usize::try_from(start).unwrap_or(usize::MAX) / PAGE * PAGE;
    let total = found.len();
    let page: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(PAGE)
        .map(department_object)
        .collect();
    let end = offset + page.len();
    Ok(Reply {
        result: Value::Array(page),
        next: (end < total).then(|| i64::try_from(end).unwrap_or(i64::MAX)),
        total: Some(i64::try_from(total).unwrap_or(i64::MAX)),
    })
}

/// Registers the family.
pub fn register(r: &mut Registry) {
    r.method("user.current", Some(Scope::User), current)
        .reply_method("user.get", Some(Scope::User), get)
        .reply_method("department.get", Some(Scope::Department), department_get);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, name: &str, departments: Vec<i64>, active: bool) -> User {
        User {
            id,
            name: name.into(),
            last_name: "L".into(),
            email: format!("{name}@example.org"),
            admin: false,
            active,
            departments,
            registered_at: 1_700_000_000,
        }
    }

    #[test]
    fn users_have_the_portal_shape() {
        let tz = FixedOffset::east_opt(3 * 3600).unwrap();
        let v = user_object(&user(7, "Ann", vec![1, 4], true), View::Full, tz);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "ID",
                "ACTIVE",
                "NAME",
                "LAST_NAME",
                "EMAIL",
                "DATE_REGISTER",
                "IS_ONLINE",
                "PERSONAL_GENDER",
                "PERSONAL_BIRTHDAY",
                "WORK_POSITION",
                "UF_EMPLOYMENT_DATE",
                "UF_DEPARTMENT",
                "USER_TYPE"
            ]
        );
        assert_eq!(v["ID"], "7");
        assert_eq!(v["ACTIVE"], true);
        assert_eq!(v["UF_DEPARTMENT"], json!([1, 4]));
        // 2023-11-14T22:13:20Z is already the 15th at +03:00.
        assert_eq!(v["DATE_REGISTER"], "2023-11-15T00:00:00+03:00");
        let brief = user_object(&user(7, "Ann", vec![], true), View::Brief, tz);
        assert!(brief.get("EMAIL").is_none());
    }

    #[test]
    fn user_filters_follow_the_portal() {
        let ann = user(7, "Ann", vec![1, 4], true);
        let off = user(8, "Bob", vec![1], false);
        let m = |u: &User, k: &str, v: Value| user_matches(u, k, &v, View::Full);
        assert!(m(&ann, "ID", json!("7")) && !m(&off, "ID", json!([7, 9])));
        assert!(m(&off, ">ID", json!(7)) && !m(&ann, ">ID", json!(7)));
        // Any truthy value but "N" means active, the string "false" too.
        assert!(m(&ann, "ACTIVE", json!(true)) && m(&ann, "ACTIVE", json!("false")));
        assert!(m(&off, "ACTIVE", json!("N")) && m(&off, "ACTIVE", json!(false)));
        assert!(m(&ann, "UF_DEPARTMENT", json!(4)) && !m(&off, "UF_DEPARTMENT", json!(4)));
        assert!(m(&ann, "EMAIL", json!("ANN@example.org")));
        assert!(m(&ann, "%NAME", json!("nn")) && !m(&off, "%NAME", json!("nn")));
        assert!(m(&ann, "UNKNOWN", json!(1)));
        // E-mail is not a field of the brief view: its filter is dropped.
        assert!(user_matches(&off, "EMAIL", &json!("x"), View::Brief));
    }

    #[test]
    fn departments_list_in_tree_order() {
        let d = |id, parent, sort| Department {
            id,
            name: format!("D{id}"),
            sort,
            parent,
            head: None,
        };
        let all = vec![
            d(1, None, 500),
            d(2, Some(1), 500),
            d(3, Some(1), 100),
            d(4, Some(2), 1),
        ];
        let ids: Vec<i64> = tree_order(&all).iter().map(|d| d.id).collect();
        assert_eq!(ids, [1, 3, 2, 4]);
        let root = department_object(&all[0]);
        assert_eq!(root, json!({"ID": "1", "NAME": "D1", "SORT": 500}));
        assert_eq!(department_object(&all[1])["PARENT"], "1");
    }
}
