//! The permission seam: one trait that answers a caller's access [`Level`] for an entity
//! type and action, and resolves a level into the items it [`Reach`]es. Methods never ask
//! it directly; they go through the checks on [`crate::rpc::Ctx`], which apply the answer
//! to a loaded row or hand it to a list query.

use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::identity::{User, with_subdepartments};
use crm_core::permission::{Action, Level, Reach};
use crm_core::store::{Store, StoreResult};
use std::fmt::Debug;
use std::sync::Arc;

/// Where access levels come from.
#[async_trait]
pub trait Permissions: Send + Sync + Debug {
    /// The level `user` holds for `action` on items of `entity`.
    async fn level(&self, user: &User, entity: EntityType, action: Action) -> StoreResult<Level>;

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
    async fn level(&self, user: &User, entity: EntityType, action: Action) -> StoreResult<Level> {
        if user.admin {
            return Ok(Level::All);
        }
        let grants = self.store.user_grants(user.id).await?;
        Ok(grants
            .iter()
            .filter(|g| g.action == action && g.entity == entity.code())
            .map(|g| g.level)
            .max()
            .unwrap_or(Level::None))
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
