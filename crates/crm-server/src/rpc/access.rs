//! The permission seam: one trait that answers a caller's access [`Level`] for an entity
//! type and action, and resolves a level into the items it [`Reach`]es. Methods never ask
//! it directly; they go through the checks on [`crate::rpc::Ctx`], which apply the answer
//! to a loaded row or hand it to a list query.

use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::identity::{User, grant_target, with_subdepartments};
use crm_core::permission::{Action, Level, Reach};
use crm_core::store::{Store, StoreResult};
use std::fmt::Debug;
use std::sync::Arc;

/// The levels a user holds for one action on one entity type: the entity's, and those
/// of categories with rights of their own (deals of a pipeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    /// The level in general (every category without its own).
    pub default: Level,
    /// Categories with their own level.
    pub by_category: Vec<(i64, Level)>,
}

impl Levels {
    /// The same level everywhere.
    pub fn uniform(level: Level) -> Self {
        Self {
            default: level,
            by_category: Vec::new(),
        }
    }

    /// Whether some right is held somewhere.
    pub fn any(&self) -> bool {
        self.default != Level::None || self.by_category.iter().any(|(_, l)| *l != Level::None)
    }
}

/// Where access levels come from.
#[async_trait]
pub trait Permissions: Send + Sync + Debug {
    /// The levels `user` holds for `action` on items of `entity`.
    async fn level(&self, user: &User, entity: EntityType, action: Action) -> StoreResult<Levels>;

    /// The items `level` reaches for `user` (never called with [`Level::None`]).
    async fn reach(&self, user: &User, level: Level) -> StoreResult<Reach>;
}

/// Levels from the CRM roles assigned to the user (the highest grant wins); reach by the
/// user's departments from the store. Administrators hold every right.
#[derive(Debug, Clone)]
pub struct RolePermissions {
    store: Arc<dyn Store>,
}

impl RolePermissions {
    /// Permissions read from `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Permissions for RolePermissions {
    async fn level(&self, user: &User, entity: EntityType, action: Action) -> StoreResult<Levels> {
        if user.admin {
            return Ok(Levels::uniform(Level::All));
        }
        let grants = self.store.user_grants(user.id).await?;
        let mut levels = Levels::uniform(Level::None);
        for g in grants.iter().filter(|g| g.action == action) {
            match grant_target(&g.entity) {
                Some((e, None)) if e == entity => levels.default = levels.default.max(g.level),
                Some((e, Some(category))) if e == entity => {
                    match levels.by_category.iter_mut().find(|(c, _)| *c == category) {
                        Some((_, l)) => *l = (*l).max(g.level),
                        None => levels.by_category.push((category, g.level)),
                    }
                }
                _ => {}
            }
        }
        levels.by_category.sort_unstable();
        Ok(levels)
    }

    async fn reach(&self, user: &User, level: Level) -> StoreResult<Reach> {
        let departments = match level {
            Level::All => return Ok(Reach::Everything),
            Level::None | Level::Own => Vec::new(),
            Level::Department => user.departments.clone(),
            Level::Subdepartment | Level::Open => {
                let all = self.store.departments().await?;
                with_subdepartments(&all, &user.departments)
            }
        };
        let mut users = vec![user.id];
        if !departments.is_empty() {
            users.extend(self.store.department_members(departments).await?);
        }
        Ok(Reach::only(users, level == Level::Open))
    }
}
