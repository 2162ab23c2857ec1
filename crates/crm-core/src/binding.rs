//! The generic binding engine: an owner entity (a lead) bound to many entities of another
//! type (contacts), each binding with a SORT, a ROLE_ID and a primary flag.
//!
//! Every change is planned here as a pure function from the current set to the new set;
//! the store loads the set, calls the plan inside one transaction, writes the difference
//! and mirrors the primary binding into the owner's column. New families
//! (`crm.deal.contact.*`, …) are new [`BindingKind`] values in the owner's description,
//! not new code.

use crate::field::php_int;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

pub use crate::entity::{BindingKind, LEAD_CONTACT};

/// One stored binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// Id of the bound entity.
    pub bound_id: i64,
    /// Position; lists are ordered by SORT, then bound id.
    pub sort: i64,
    /// Reserved by the portal, always 0.
    pub role_id: i64,
    /// Whether this is the owner's primary binding.
    pub is_primary: bool,
}

/// A request to add one binding, after field filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewBinding {
    /// Id of the entity to bind.
    pub bound_id: i64,
    /// Explicit SORT, if the caller gave one.
    pub sort: Option<i64>,
    /// Whether the caller asked for `IS_PRIMARY: "Y"`.
    pub primary: bool,
}

/// Why a binding's `fields` were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("The parameter 'fields' is not valid.")]
pub struct InvalidBindingFields;

/// `IS_PRIMARY` as the engine reads it: the string `Y`, case-insensitively. (The reference
/// server compares case-sensitively but stores a lower-case `y` as primary, which can
/// leave two primaries; we keep one.) A JSON `true` is not `Y`, as on a portal.
pub fn is_yes(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(s)) if s.eq_ignore_ascii_case("y"))
}

impl NewBinding {
    /// Reads `fields` of `add`/`delete`: unknown keys are ignored; the id under `key`
    /// (`CONTACT_ID`) must be a positive integer.
    pub fn from_fields(
        key: &str,
        fields: &Map<String, Value>,
    ) -> Result<Self, InvalidBindingFields> {
        let bound_id = fields.get(key).map(php_int).unwrap_or(0);
        if bound_id <= 0 {
            return Err(InvalidBindingFields);
        }
        Ok(Self {
            bound_id,
            sort: fields.get("SORT").filter(|v| !v.is_null()).map(php_int),
            primary: is_yes(fields.get("IS_PRIMARY")),
        })
    }
}

/// Orders a set the way every read returns it: SORT, then bound id.
pub fn sort_bindings(set: &mut [Binding]) {
    set.sort_by_key(|b| (b.sort, b.bound_id));
}

/// The bound id of the primary binding, if any.
pub fn primary_of(set: &[Binding]) -> Option<i64> {
    set.iter().find(|b| b.is_primary).map(|b| b.bound_id)
}

/// Sorts the set and makes sure a non-empty set has exactly one primary: the first one
/// flagged, else the first in order.
fn finish(mut set: Vec<Binding>) -> Vec<Binding> {
    sort_bindings(&mut set);
    let chosen = set.iter().position(|b| b.is_primary).unwrap_or(0);
    for (i, b) in set.iter_mut().enumerate() {
        b.is_primary = i == chosen;
    }
    set
}

/// `add`: `None` when the entity is already bound (nothing changes, result `false`).
///
/// The new binding becomes primary when asked to or when the set has no primary; its
/// SORT is the given one, else the current maximum + 10 (10 when there is none above 0).
pub fn plan_add(existing: &[Binding], new: NewBinding) -> Option<Vec<Binding>> {
    if existing.iter().any(|b| b.bound_id == new.bound_id) {
        return None;
    }
    let primary = new.primary || !existing.iter().any(|b| b.is_primary);
    let sort = new.sort.unwrap_or_else(|| {
        let max = existing.iter().map(|b| b.sort).max().unwrap_or(0);
        if max > 0 { max.saturating_add(10) } else { 10 }
    });
    let mut set: Vec<Binding> = existing
        .iter()
        .map(|b| Binding {
            is_primary: b.is_primary && !primary,
            ..*b
        })
        .collect();
    set.push(Binding {
        bound_id: new.bound_id,
        sort,
        role_id: 0,
        is_primary: primary,
    });
    Some(finish(set))
}

/// `delete`: `None` when the entity is not bound. A removed primary is replaced by the
/// first remaining binding in SORT order.
pub fn plan_remove(existing: &[Binding], bound_id: i64) -> Option<Vec<Binding>> {
    if !existing.iter().any(|b| b.bound_id == bound_id) {
        return None;
    }
    let mut set: Vec<Binding> = existing
        .iter()
        .filter(|b| b.bound_id != bound_id)
        .copied()
        .collect();
    sort_bindings(&mut set);
    Some(finish(set))
}

/// `items.set`: normalises a submitted list, reading ids under `key` (`CONTACT_ID`). Positions count every submitted entry, even
/// dropped ones; entries that are not objects or lack a positive bound id are dropped;
/// SORT missing or ≤ 0 becomes `(position + 1) * 10`; the first `IS_PRIMARY: "Y"` wins,
/// else the first kept entry is primary; a repeated id keeps its first occurrence.
/// O(n log n) in the number of items.
pub fn normalize_items<'a>(key: &str, items: impl IntoIterator<Item = &'a Value>) -> Vec<Binding> {
    let mut set: Vec<Binding> = Vec::new();
    let mut seen = HashSet::new();
    let mut has_primary = false;
    for (i, item) in items.into_iter().enumerate() {
        let Some(obj) = item.as_object() else {
            continue;
        };
        let bound_id = obj.get(key).map(php_int).unwrap_or(0);
        if bound_id <= 0 || !seen.insert(bound_id) {
            continue;
        }
        let sort = obj.get("SORT").map(php_int).filter(|s| *s > 0);
        let position = i64::try_from(i).unwrap_or(i64::MAX - 1);
        let is_primary = is_yes(obj.get("IS_PRIMARY")) && !has_primary;
        has_primary |= is_primary;
        set.push(Binding {
            bound_id,
            sort: sort.unwrap_or_else(|| position.saturating_add(1).saturating_mul(10)),
            role_id: 0,
            is_primary,
        });
    }
    if !has_primary && let Some(first) = set.first_mut() {
        first.is_primary = true;
    }
    finish(set)
}

/// `CONTACT_IDS` on lead add/update: the set becomes exactly these ids, SORT 10, 20, …,
/// the first one primary; non-positive and repeated ids are skipped. O(n log n).
pub fn plan_ids(ids: &[i64]) -> Vec<Binding> {
    let mut seen = HashSet::new();
    let mut set: Vec<Binding> = Vec::new();
    for &id in ids {
        if id > 0 && seen.insert(id) {
            let n = i64::try_from(set.len()).unwrap_or(0);
            set.push(Binding {
                bound_id: id,
                sort: n.saturating_add(1).saturating_mul(10),
                role_id: 0,
                is_primary: set.is_empty(),
            });
        }
    }
    finish(set)
}

/// What a store must write to go from `old` to `new`: ids to delete, bindings to upsert.
/// Linear in the sizes of both sets.
pub fn diff(old: &[Binding], new: &[Binding]) -> (Vec<i64>, Vec<Binding>) {
    let before: HashMap<i64, &Binding> = old.iter().map(|b| (b.bound_id, b)).collect();
    let after: HashSet<i64> = new.iter().map(|b| b.bound_id).collect();
    let removed = old
        .iter()
        .filter(|o| !after.contains(&o.bound_id))
        .map(|o| o.bound_id)
        .collect();
    let upserts = new
        .iter()
        .filter(|n| before.get(&n.bound_id).copied() != Some(n))
        .copied()
        .collect();
    (removed, upserts)
}

/// The sets of several owners, each with its owner id: what the bound side of a relation
/// edits (the company side of contact ↔ company changes its contacts' sets).
pub type Sets = Vec<(i64, Vec<Binding>)>;

/// The holders' view of `bound`: each owner holding it with that binding, ordered by
/// SORT, then owner id.
pub fn holders_of(sets: &[(i64, Vec<Binding>)], bound: i64) -> Vec<(i64, Binding)> {
    let mut rows: Vec<(i64, Binding)> = sets
        .iter()
        .filter_map(|(owner, set)| {
            set.iter()
                .find(|b| b.bound_id == bound)
                .map(|b| (*owner, *b))
        })
        .collect();
    rows.sort_by_key(|(owner, b)| (b.sort, *owner));
    rows
}

/// `owner`'s set with `bound` in it as the primary at `sort` (others demoted).
fn with_primary(set: &[Binding], bound: i64, sort: i64) -> Vec<Binding> {
    let mut out: Vec<Binding> = set
        .iter()
        .filter(|b| b.bound_id != bound)
        .map(|b| Binding {
            is_primary: false,
            ..*b
        })
        .collect();
    out.push(Binding {
        bound_id: bound,
        sort,
        role_id: 0,
        is_primary: true,
    });
    finish(out)
}

fn set_of(sets: &[(i64, Vec<Binding>)], owner: i64) -> &[Binding] {
    sets.iter()
        .find(|(o, _)| *o == owner)
        .map_or(&[], |(_, s)| s.as_slice())
}

/// `add` seen from the bound side: binds `owner` to `bound` and makes `bound` the owner's
/// primary (as a portal does for a company's contacts, whatever `IS_PRIMARY` says).
/// `None` when already bound. SORT is the given one, else the highest SORT among the
/// bound entity's holders + 10 (10 when none is above 0).
pub fn plan_holder_add(
    sets: &[(i64, Vec<Binding>)],
    bound: i64,
    owner: i64,
    sort: Option<i64>,
) -> Option<Sets> {
    let set = set_of(sets, owner);
    if set.iter().any(|b| b.bound_id == bound) {
        return None;
    }
    let sort = sort.unwrap_or_else(|| {
        let max = holders_of(sets, bound)
            .iter()
            .map(|(_, b)| b.sort)
            .max()
            .unwrap_or(0);
        if max > 0 { max.saturating_add(10) } else { 10 }
    });
    Some(vec![(owner, with_primary(set, bound, sort))])
}

/// `delete` seen from the bound side: unbinds `owner` from `bound`; the owner's primary
/// is re-elected if it was `bound`. `None` when not bound.
pub fn plan_holder_remove(sets: &[(i64, Vec<Binding>)], bound: i64, owner: i64) -> Option<Sets> {
    plan_remove(set_of(sets, owner), bound).map(|set| vec![(owner, set)])
}

/// `items.set` seen from the bound side: exactly the `items` (owner ids with SORT, as
/// [`normalize_items`] reads them) hold `bound`, each with it as primary; other holders
/// are unbound (re-electing their primaries). Returns the changed sets.
pub fn plan_holders_set(sets: &[(i64, Vec<Binding>)], bound: i64, items: &[Binding]) -> Sets {
    let wanted: HashSet<i64> = items.iter().map(|b| b.bound_id).collect();
    let mut out = Vec::new();
    for (owner, set) in sets {
        if !wanted.contains(owner)
            && let Some(new) = plan_remove(set, bound)
        {
            out.push((*owner, new));
        }
    }
    for item in items {
        let set = set_of(sets, item.bound_id);
        let new = with_primary(set, bound, item.sort);
        if new != set {
            out.push((item.bound_id, new));
        }
    }
    out
}

/// `items.delete` seen from the bound side: every holder is unbound.
pub fn plan_holders_clear(sets: &[(i64, Vec<Binding>)], bound: i64) -> Sets {
    sets.iter()
        .filter_map(|(owner, set)| plan_remove(set, bound).map(|new| (*owner, new)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b(bound_id: i64, sort: i64, is_primary: bool) -> Binding {
        Binding {
            bound_id,
            sort,
            role_id: 0,
            is_primary,
        }
    }
    fn add(id: i64, sort: Option<i64>, primary: bool) -> NewBinding {
        NewBinding {
            bound_id: id,
            sort,
            primary,
        }
    }

    #[test]
    fn add_follows_the_state_table() {
        let one = [b(5, 10, true)];
        assert_eq!(
            plan_add(&[], add(5, None, false)),
            Some(vec![b(5, 10, true)])
        );
        assert_eq!(
            plan_add(&one, add(7, None, false)),
            Some(vec![b(5, 10, true), b(7, 20, false)])
        );
        assert_eq!(
            plan_add(&one, add(7, None, true)),
            Some(vec![b(5, 10, false), b(7, 20, true)])
        );
        assert_eq!(
            plan_add(&one, add(7, Some(5), false)),
            Some(vec![b(7, 5, false), b(5, 10, true)])
        );
        assert_eq!(
            plan_add(&[b(5, 10, true), b(7, 20, false)], add(7, None, true)),
            None
        );
        assert_eq!(
            plan_add(&[b(5, 0, true)], add(7, None, false)),
            Some(vec![b(5, 0, true), b(7, 10, false)])
        );
        // The next SORT stops at the largest integer instead of overflowing.
        assert_eq!(
            plan_add(&[b(5, i64::MAX - 3, true)], add(7, None, false)),
            Some(vec![b(5, i64::MAX - 3, true), b(7, i64::MAX, false)])
        );
    }

    #[test]
    fn remove_reelects_the_first_remaining() {
        let set = [b(5, 10, true), b(7, 30, false), b(9, 20, false)];
        assert_eq!(
            plan_remove(&set, 5),
            Some(vec![b(9, 20, true), b(7, 30, false)])
        );
        assert_eq!(
            plan_remove(&set, 7),
            Some(vec![b(5, 10, true), b(9, 20, false)])
        );
        assert_eq!(plan_remove(&set, 1), None);
        assert_eq!(plan_remove(&[b(5, 10, true)], 5), Some(vec![]));
    }

    #[test]
    fn items_are_normalised() {
        let items = json!([
            {"CONTACT_ID": 3, "SORT": 0},
            "junk",
            {"CONTACT_ID": 4, "IS_PRIMARY": "Y"},
            {"CONTACT_ID": 5, "IS_PRIMARY": "Y", "SORT": "7"},
            {"CONTACT_ID": 3, "SORT": 99},
            {"SORT": 10}
        ]);
        let got = normalize_items(LEAD_CONTACT.bound_key, items.as_array().unwrap());
        assert_eq!(got, vec![b(5, 7, false), b(3, 10, false), b(4, 30, true)]);
        let none_primary = json!([{"CONTACT_ID": 8}, {"CONTACT_ID": 9}]);
        assert_eq!(
            normalize_items(LEAD_CONTACT.bound_key, none_primary.as_array().unwrap()),
            vec![b(8, 10, true), b(9, 20, false)]
        );
    }

    #[test]
    fn fields_need_a_positive_bound_id() {
        let ok = json!({"CONTACT_ID": "12", "SORT": "5", "IS_PRIMARY": "y", "X": 1});
        assert_eq!(
            NewBinding::from_fields(LEAD_CONTACT.bound_key, ok.as_object().unwrap()),
            Ok(add(12, Some(5), true))
        );
        for bad in [
            json!({}),
            json!({"CONTACT_ID": 0}),
            json!({"CONTACT_ID": "abc"}),
        ] {
            assert_eq!(
                NewBinding::from_fields(LEAD_CONTACT.bound_key, bad.as_object().unwrap()),
                Err(InvalidBindingFields),
                "{bad}"
            );
        }
        let boolean = json!({"CONTACT_ID": 1, "IS_PRIMARY": true});
        assert!(
            !NewBinding::from_fields(LEAD_CONTACT.bound_key, boolean.as_object().unwrap())
                .unwrap()
                .primary
        );
    }

    #[test]
    fn diff_lists_only_changes() {
        let old = [b(1, 10, true), b(2, 20, false)];
        let new = [b(2, 20, true), b(3, 30, false)];
        assert_eq!(
            diff(&old, &new),
            (vec![1], vec![b(2, 20, true), b(3, 30, false)])
        );
    }

    #[test]
    fn the_bound_side_makes_itself_each_holders_primary() {
        // Contact 1 holds companies 7 (primary) and 8; contact 2 holds 8 (primary).
        let sets = vec![
            (1, vec![b(7, 10, true), b(8, 20, false)]),
            (2, vec![b(8, 10, true)]),
        ];
        assert_eq!(
            holders_of(&sets, 8),
            vec![(2, b(8, 10, true)), (1, b(8, 20, false))]
        );
        // Company 8 adds contact 3 (no companies): SORT max + 10 over 8's holders.
        assert_eq!(
            plan_holder_add(&sets, 8, 3, None),
            Some(vec![(3, vec![b(8, 30, true)])])
        );
        // Company 9 adds contact 1: it becomes 1's primary, 7 demoted.
        assert_eq!(
            plan_holder_add(&sets, 9, 1, Some(5)),
            Some(vec![(
                1,
                vec![b(9, 5, true), b(7, 10, false), b(8, 20, false)]
            )])
        );
        assert_eq!(plan_holder_add(&sets, 8, 1, None), None);
        // Company 7 lets contact 1 go: 8 is re-elected.
        assert_eq!(
            plan_holder_remove(&sets, 7, 1),
            Some(vec![(1, vec![b(8, 20, true)])])
        );
        assert_eq!(plan_holder_remove(&sets, 7, 2), None);
        // Company 8 keeps only contact 1, as its primary.
        let items = [b(1, 10, false)];
        assert_eq!(
            plan_holders_set(&sets, 8, &items),
            vec![(2, vec![]), (1, vec![b(7, 10, false), b(8, 10, true)])]
        );
        assert_eq!(
            plan_holders_clear(&sets, 8),
            vec![(1, vec![b(7, 10, true)]), (2, vec![])]
        );
    }
}
