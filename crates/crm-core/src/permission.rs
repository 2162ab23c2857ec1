//! CRM access rights as a portal has them: per entity type and action a [`Level`], and
//! what a level reaches for one caller (a [`Reach`]): every item, or the items assigned to
//! some users plus, at the "open" level, those marked `OPENED = Y`.
//!
//! Levels are resolved into a reach by the server (it knows the caller's departments);
//! item checks test a loaded row's [`crate::store::Row::access`] against the reach, and list queries carry it so the
//! store counts and pages only visible rows.

use std::fmt;

/// An action a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read an item (get, list, bind it somewhere).
    Read,
    /// Create an item.
    Add,
    /// Change an item (its bindings included).
    Update,
    /// Delete an item.
    Delete,
}

impl Action {
    /// Every action, in the order roles list them.
    pub const ALL: [Self; 4] = [Self::Read, Self::Add, Self::Update, Self::Delete];

    /// The name used in role grants (`lead.read=own`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Add => "add",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }

    /// Parses a grant name (case-insensitive).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.code().eq_ignore_ascii_case(code.trim()))
    }
}

/// How far a right reaches, from nothing to everything (ordered: a higher level includes
/// what every lower one reaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Nothing.
    None,
    /// Items assigned to the caller.
    Own,
    /// … and items assigned to anyone in the caller's departments.
    Department,
    /// … and in every department below those.
    Subdepartment,
    /// … and every item marked `OPENED = Y` ("available to all").
    Open,
    /// Every item, including ids that do not exist.
    All,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Self; 6] = [
        Self::None,
        Self::Own,
        Self::Department,
        Self::Subdepartment,
        Self::Open,
        Self::All,
    ];

    /// The name used in role grants and on the command line.
    pub fn code(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Own => "own",
            Self::Department => "department",
            Self::Subdepartment => "subdepartment",
            Self::Open => "open",
            Self::All => "all",
        }
    }

    /// Parses a level name (case-insensitive).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The items one level reaches for one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every item (and every id, existing or not).
    Everything,
    /// Items whose `ASSIGNED_BY_ID` is one of `users`, and, when `opened`, every item
    /// marked `OPENED = Y`.
    Only {
        /// Users whose items are reached (sorted, no duplicates).
        users: Vec<i64>,
        /// Whether items open to all are reached too.
        opened: bool,
    },
    /// A right that differs by category (a deal's pipeline): the reach in each listed
    /// category (`None`: nothing there) and in every other one.
    ByCategory {
        /// The entity's category field (`CATEGORY_ID`).
        field: &'static str,
        /// Categories with rights of their own.
        categories: Vec<(i64, Option<Self>)>,
        /// The reach in every other category (`None`: nothing).
        other: Option<Box<Self>>,
    },
}

impl Reach {
    /// The reach within one category (`None`: nothing there); a reach that does not
    /// differ by category is the same in all.
    pub fn in_category(&self, category: i64) -> Option<&Self> {
        match self {
            Self::ByCategory {
                categories, other, ..
            } => match categories.iter().find(|(c, _)| *c == category) {
                Some((_, reach)) => reach.as_ref(),
                None => other.as_deref(),
            },
            reach => Some(reach),
        }
    }

    /// Items of the given users (and open ones when `opened`).
    pub fn only(mut users: Vec<i64>, opened: bool) -> Self {
        users.sort_unstable();
        users.dedup();
        Self::Only { users, opened }
    }

    /// Whether this reaches an item assigned to `assigned`, open to all or not. A reach
    /// by category needs the item's category: see [`crate::store::Row::reached_by`].
    pub fn covers(&self, assigned: Option<i64>, opened: bool) -> bool {
        match self {
            Self::Everything => true,
            Self::ByCategory { .. } => false,
            Self::Only {
                users,
                opened: with_open,
            } => {
                (*with_open && opened) || assigned.is_some_and(|a| users.binary_search(&a).is_ok())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_named() {
        assert!(Level::None < Level::Own && Level::Own < Level::Department);
        assert!(Level::Subdepartment < Level::Open && Level::Open < Level::All);
        for l in Level::ALL {
            assert_eq!(Level::parse(&l.code().to_uppercase()), Some(l));
        }
        assert_eq!(Level::parse("everything"), None);
        assert_eq!(Action::parse(" Update "), Some(Action::Update));
    }

    #[test]
    fn reach_covers_assigned_users_and_open_items() {
        let own = Reach::only(vec![7, 3, 7], false);
        assert_eq!(
            own,
            Reach::Only {
                users: vec![3, 7],
                opened: false
            }
        );
        assert!(own.covers(Some(7), false));
        assert!(!own.covers(Some(8), true));
        assert!(!own.covers(None, false));
        let open = Reach::only(vec![7], true);
        assert!(open.covers(Some(8), true));
        assert!(!open.covers(Some(8), false));
        assert!(Reach::Everything.covers(None, false));
    }
}
