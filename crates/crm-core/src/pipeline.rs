//! Reference lists and pipelines as data: the statuses of `crm.status.*` (lead stages,
//! deal stages per category, sources, types…), deal categories, and the stage lists an
//! entity's add and update are checked against.

use crate::reference::STATUSES;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One reference value (`crm.status.*` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Row id (0 for one not stored yet).
    pub id: i64,
    /// The list (`STATUS`, `SOURCE`, `DEAL_STAGE`, `DEAL_STAGE_3`, …).
    pub entity_id: String,
    /// The code (`NEW`, `C3:WON`).
    pub status_id: String,
    /// Caption.
    pub name: String,
    /// The caption it was created with, for system values; `""` otherwise.
    pub name_init: String,
    /// Position in its list.
    pub sort: i64,
    /// Created with the portal (deletable only with `FORCED`).
    pub system: bool,
    /// Display colour of a stage (`#39A8EF`).
    pub color: Option<String>,
    /// `S` or `F` for final stages, `None` for others.
    pub semantics: Option<String>,
    /// The category of a deal stage list (`None` for the default one and other lists).
    pub category_id: Option<i64>,
}

/// A deal category (pipeline). Category 0, the default, is not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Its id (> 0).
    pub id: i64,
    /// The entity type it belongs to (2 for deals).
    pub entity_type_id: i64,
    /// Its name.
    pub name: String,
    /// Position among the categories.
    pub sort: i64,
    /// When it was created (unix seconds).
    pub created: i64,
}

/// The list of stages of category `category` of a stage list (`DEAL_STAGE` for 0,
/// `DEAL_STAGE_3` for 3).
pub fn stage_entity(base: &str, category: i64) -> String {
    if category > 0 {
        format!("{base}_{category}")
    } else {
        base.to_string()
    }
}

/// The category a stage list belongs to (`DEAL_STAGE_3` → 3, `DEAL_STAGE` → 0), if it is
/// one of `base`'s.
pub fn category_of(base: &str, entity_id: &str) -> Option<i64> {
    if entity_id == base {
        return Some(0);
    }
    entity_id
        .strip_prefix(base)?
        .strip_prefix('_')?
        .parse()
        .ok()
        .filter(|n: &i64| *n > 0)
}

/// Stages a portal marks as system ones (the start and the final ones); other stages
/// are deletable without `FORCED` and have no `NAME_INIT`.
fn is_system(entity_id: &str, status_id: &str) -> bool {
    match entity_id {
        "STATUS" => matches!(status_id, "NEW" | "CONVERTED" | "JUNK"),
        "DEAL_STAGE" => matches!(status_id, "NEW" | "WON" | "LOSE"),
        _ => true,
    }
}

/// The default values of a fresh portal, as rows.
pub fn default_statuses() -> Vec<Status> {
    STATUSES
        .iter()
        .map(|s| {
            let system = is_system(s.entity_id, s.status_id);
            (s, system)
        })
        .map(|(s, system)| Status {
            id: 0,
            entity_id: s.entity_id.into(),
            status_id: s.status_id.into(),
            name: s.name.into(),
            name_init: if system { s.name.into() } else { String::new() },
            sort: s.sort,
            system,
            color: s.color.map(Into::into),
            semantics: s.semantics.filter(|m| *m != "P").map(Into::into),
            category_id: None,
        })
        .collect()
}

/// The stages a new deal category starts with: the default pipeline's, codes prefixed
/// `C<id>:`, in the list `DEAL_STAGE_<id>`.
pub fn new_category_stages(category: i64) -> Vec<Status> {
    let entity_id = stage_entity("DEAL_STAGE", category);
    default_statuses()
        .into_iter()
        .filter(|s| s.entity_id == "DEAL_STAGE")
        .map(|s| Status {
            entity_id: entity_id.clone(),
            status_id: format!("C{category}:{}", s.status_id),
            category_id: Some(category),
            ..s
        })
        .collect()
}

/// What `EXTRA.SEMANTICS` says of a stage: `process`, `success`, `failure` (the first
/// failure stage) or `apology` (later ones).
pub fn extra_semantics(status: &Status, list: &[Status]) -> &'static str {
    match status.semantics.as_deref() {
        Some("S") => "success",
        Some("F") => {
            let first = list
                .iter()
                .filter(|s| s.semantics.as_deref() == Some("F"))
                .min_by_key(|s| (s.sort, s.id));
            if first.is_none_or(|f| f.status_id == status.status_id) {
                "failure"
            } else {
                "apology"
            }
        }
        _ => "process",
    }
}

/// The stages of one entity's pipelines: category → stage codes in SORT order with their
/// semantics (`P`, `S`, `F`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stages(BTreeMap<i64, Vec<(String, &'static str)>>, i64);

impl Stages {
    /// The stage lists of `base` (`STATUS`, `DEAL_STAGE`) among `statuses`.
    pub fn from_statuses(base: &str, statuses: &[Status]) -> Self {
        let mut by: BTreeMap<i64, Vec<&Status>> = BTreeMap::new();
        for s in statuses {
            if let Some(category) = category_of(base, &s.entity_id) {
                by.entry(category).or_default().push(s);
            }
        }
        Self(
            by.into_iter()
                .map(|(category, mut list)| {
                    list.sort_by_key(|s| (s.sort, s.id));
                    let stages = list
                        .into_iter()
                        .map(|s| {
                            let semantics = match s.semantics.as_deref() {
                                Some("S") => "S",
                                Some("F") => "F",
                                _ => "P",
                            };
                            (s.status_id.clone(), semantics)
                        })
                        .collect();
                    (category, stages)
                })
                .collect(),
            0,
        )
    }

    /// The same lists, with `category` as the default one (a new entity without a known
    /// category goes there; 0 unless set).
    pub fn with_default(self, category: i64) -> Self {
        Self(self.0, category)
    }

    /// The category a new entity without a known category goes to.
    pub fn default_category(&self) -> i64 {
        self.1
    }

    /// The default stage lists of a fresh portal for `base`.
    pub fn defaults(base: &str) -> Self {
        Self::from_statuses(base, &default_statuses())
    }

    /// Whether the category exists (has a stage list).
    pub fn has_category(&self, category: i64) -> bool {
        self.0.contains_key(&category)
    }

    /// The first stage of a category.
    pub fn initial(&self, category: i64) -> Option<&str> {
        self.0
            .get(&category)
            .and_then(|l| l.first())
            .map(|(c, _)| c.as_str())
    }

    /// The semantics of `code` in any category.
    pub fn semantics_anywhere(&self, code: &str) -> Option<&'static str> {
        self.0
            .values()
            .flatten()
            .find(|(c, _)| c == code)
            .map(|(_, s)| *s)
    }

    /// The first stage of the category with the given semantics.
    pub fn first_with(&self, category: i64, semantics: &str) -> Option<&str> {
        self.0
            .get(&category)?
            .iter()
            .find(|(_, s)| *s == semantics)
            .map(|(c, _)| c.as_str())
    }

    /// The semantics of `code` in the category, if it is one of its stages.
    pub fn semantics(&self, category: i64, code: &str) -> Option<&'static str> {
        self.0
            .get(&category)?
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_have_their_own_prefixed_stages() {
        let mut all = default_statuses();
        all.extend(new_category_stages(3));
        let stages = Stages::from_statuses("DEAL_STAGE", &all);
        assert_eq!(stages.initial(0), Some("NEW"));
        assert_eq!(stages.initial(3), Some("C3:NEW"));
        assert_eq!(stages.semantics(3, "C3:WON"), Some("S"));
        assert_eq!(stages.semantics(3, "WON"), None);
        assert_eq!(stages.semantics(0, "C3:WON"), None);
        assert!(!stages.has_category(4));
        assert_eq!(category_of("DEAL_STAGE", "DEAL_STAGE_12"), Some(12));
        assert_eq!(category_of("DEAL_STAGE", "DEAL_STAGEX"), None);
        assert_eq!(category_of("STATUS", "SOURCE"), None);
        let lead = Stages::defaults("STATUS");
        assert_eq!(lead.semantics(0, "JUNK"), Some("F"));
        let list: Vec<Status> = all
            .iter()
            .filter(|s| s.entity_id == "DEAL_STAGE")
            .cloned()
            .collect();
        let sem: Vec<&str> = list.iter().map(|s| extra_semantics(s, &list)).collect();
        assert_eq!(
            sem,
            [
                "process", "process", "process", "process", "process", "success", "failure",
                "apology"
            ]
        );
        assert_eq!(list.len(), 8);
    }
}
