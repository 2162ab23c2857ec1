//! Lists answered from a handful of records held in memory (smart processes, user field
//! definitions): equality filters, orders and pages over the answer objects themselves,
//! as the portal's list methods of these records behave.

use crate::rpc::Page;
use crm_core::field::php_string;
use crm_core::query::{PAGE_SIZE, page};
use serde_json::{Map, Value, json};
use std::cmp::Ordering;

/// Compares two values of an answer: integers (or integer text) as numbers, the rest as
/// text.
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    let number = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse::<i64>().ok()))
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => php_string(a)
            .unwrap_or_default()
            .cmp(&php_string(b).unwrap_or_default()),
    }
}

/// Keeps the rows whose keys equal the filter's values (`!key`: differ; `=key` is
/// `key`; keys a row lacks are ignored). `same` compares two texts.
pub(crate) fn filtered(
    rows: Vec<Value>,
    filter: &Map<String, Value>,
    same: impl Fn(&str, &str) -> bool,
) -> Vec<Value> {
    rows.into_iter()
        .filter(|row| {
            filter.iter().all(|(k, want)| {
                let k = k.trim();
                let (negate, key) = match k.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, k.trim_start_matches('=')),
                };
                let Some(have) = row.get(key) else {
                    return true;
                };
                let equal = match (php_string(have), php_string(want)) {
                    (Some(h), Some(w)) => same(&h, w.trim()),
                    _ => have.is_null() && want.is_null(),
                };
                equal != negate
            })
        })
        .collect()
}

/// Sorts by `order` (key → `ASC`/`DESC`, first key first); `fallback` when it is empty.
pub(crate) fn sorted(
    mut rows: Vec<Value>,
    order: &Map<String, Value>,
    fallback: &[&str],
) -> Vec<Value> {
    let mut keys: Vec<(String, bool)> = order
        .iter()
        .map(|(k, v)| {
            let desc = php_string(v).is_some_and(|d| d.trim().eq_ignore_ascii_case("desc"));
            (k.trim().to_string(), desc)
        })
        .collect();
    if keys.is_empty() {
        keys = fallback.iter().map(|k| ((*k).to_string(), false)).collect();
    }
    rows.sort_by(|a, b| {
        for (key, desc) in &keys {
            let ord = compare(&a[key.as_str()], &b[key.as_str()]);
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    rows
}

/// One page of 50 from `start` under `key` (`{key: […]}`), with `total` and `next` as
/// the list methods give them (`start: -1`: no count).
pub(crate) fn paged(rows: Vec<Value>, start: Option<i64>, key: &str) -> Page<Value> {
    let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let (offset, count) = page(start.unwrap_or(0));
    let from = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(rows.len());
    let take = usize::try_from(PAGE_SIZE).unwrap_or(50);
    let items: Vec<Value> = rows.into_iter().skip(from).take(take).collect();
    let next = offset
        .checked_add(PAGE_SIZE)
        .filter(|n| count && *n < total);
    Page {
        items: json!({ key: items }),
        next,
        total: if count { total } else { 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_filter_sort_and_page() {
        let rows: Vec<Value> = (1..=60)
            .map(|i| json!({"id": i, "name": if i % 2 == 0 { "even" } else { "odd" }}))
            .collect();
        let filter = json!({"name": "EVEN"});
        let even = filtered(rows.clone(), filter.as_object().unwrap(), |a, b| {
            a.eq_ignore_ascii_case(b)
        });
        assert_eq!(even.len(), 30);
        let not = json!({"!name": "even"});
        assert_eq!(
            filtered(rows.clone(), not.as_object().unwrap(), |a, b| a == b).len(),
            30
        );
        let order = json!({"id": "DESC"});
        let desc = sorted(rows.clone(), order.as_object().unwrap(), &["id"]);
        assert_eq!(desc[0]["id"], 60);
        assert_eq!(compare(&json!("9"), &json!("10")), Ordering::Less);
        let first = paged(desc, Some(0), "rows");
        assert_eq!((first.next, first.total), (Some(50), 60));
        let fast = paged(rows, Some(-1), "rows");
        assert_eq!((fast.next, fast.total), (None, 0));
    }
}
